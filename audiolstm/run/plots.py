"""Pictures of a run: dream spectrograms and the loss curve (PNG, written atomically).

The spectrograms go to the report and TensorBoard, loss.png to the work directory; `draw_loss`
draws the same loss curve on any axes (the notebooks'). Matplotlib's object API with the Agg canvas
is used directly (no pyplot, no global backend switch), so this is safe to call from any thread or
program.
"""
import numpy as np

from audiolstm import files
from audiolstm.audio import spectral

DB_RANGE = 80.0  # colour range below the loudest bin shown, in dB


def log_spectrogram(audio: np.ndarray, sr: int):
  """Log-magnitude spectrogram for display.

  Args:
    audio: [n] samples (n >= 1; non-finite values count as 0).
    sr: sample rate in Hz.

  Returns:
    (db [bins, frames] power in dB (unreferenced), duration in seconds). ~46 ms Hann frames
    (512 at 11025 Hz) with 75 % overlap; shorter for audio shorter than one frame.
  """
  x = np.nan_to_num(np.asarray(audio, np.float64).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
  n_fft = 2 ** int(round(np.log2(0.046 * sr)))
  n_fft = int(max(16, min(n_fft, 2 ** int(np.floor(np.log2(max(len(x), 16)))))))
  power = spectral.power_spectrogram(x, n_fft, max(1, n_fft // 4))         # [frames, bins]
  return 10 * np.log10(np.maximum(power.T, 1e-20)), len(x) / sr


def spectrogram_png(path: str, audio: np.ndarray, sr: int, seed_audio=None, title=None,
                    figsize=(8.0, 3.2), dpi: int = 100, seed_label: str = 'seed') -> str:
  """Write a PNG of the dream's spectrogram (and the seed's above it, when given).

  Log-magnitude (dB below the loudest bin, 80 dB range, one colour scale for both panels so they
  compare), time in seconds, frequency in Hz up to sr / 2. The image goes to a hidden temporary
  file in the same directory and is os.replace'd over `path`, so a reader never sees half a PNG.

  Args:
    path: the PNG to write (parent directories are created).
    audio: [n] dream samples (n >= 1).
    sr: sample rate in Hz.
    seed_audio: optional [m] samples of the seed (or any audio to compare with), drawn above,
      on the dream's time axis.
    title: optional figure title.
    figsize: (width, height) in inches of one panel's row.
    dpi: resolution.
    seed_label: the upper panel's name.

  Returns:
    path.
  """
  # matplotlib loads only when a plot is drawn
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  panels = [('dream', audio)] if seed_audio is None else [(seed_label, seed_audio),
                                                           ('dream', audio)]
  for label, x in panels:
    if np.asarray(x).size == 0:
      raise ValueError(f'cannot draw the spectrogram of {path}: the {label} audio is empty')
  specs = [(label, *log_spectrogram(x, sr)) for label, x in panels]
  top = max(float(np.max(db)) for _, db, _ in specs)
  top = top if top > -150 else 0.0  # all silent (the floor is -200 dB): draw black
  fig = Figure(figsize=(figsize[0], figsize[1] * len(specs)), dpi=dpi, layout='constrained')
  FigureCanvasAgg(fig)
  axes = fig.subplots(len(specs), 1, squeeze=False)[:, 0]
  for ax, (label, db, seconds) in zip(axes, specs):
    image = ax.imshow(db - top, origin='lower', aspect='auto', cmap='magma',
                      interpolation='nearest', extent=(0.0, seconds, 0.0, sr / 2),
                      vmin=-DB_RANGE, vmax=0.0)
    if np.max(db) < -150:  # all zeros (the floor is -200 dB)
      ax.text(0.5, 0.5, 'silent', transform=ax.transAxes, ha='center', va='center', color='w')
    ax.set_ylabel('frequency (Hz)')
    ax.set_xlabel('time (s)')
    ax.set_xlim(0.0, max(s for _, _, s in specs))  # one time axis: the panels line up
    ax.set_title(label if len(specs) > 1 else (title or label), fontsize=9, loc='left')
  fig.colorbar(image, ax=list(axes), label='dB below the loudest bin', pad=0.01)
  if title and len(specs) > 1:
    fig.suptitle(title, fontsize=10)
  with files.atomic_file(path, suffix='.png') as tmp:
    fig.savefig(tmp, format='png')
  return path


LOSS_CAPTION = ('Each iteration learns a different passage of the recording, so the loss rises and '
                'falls with the material (a busy passage costs more than a quiet one), and a '
                'running mean may rise in a healthy run. It is learning when the validation loss '
                'falls, and when the dreams sound like the recording.')


def draw_loss(ax, steps, losses, val=(), title: str = ''):
  """Draw a run's loss curve on matplotlib axes, on a log scale when every loss is positive.

  Args:
    ax: the matplotlib Axes to draw on.
    steps: [n] logged iterations.
    losses: [n] their losses (the mean per log interval); a running mean is drawn over them
      when n >= 5.
    val: optional [(step, validation loss)] pairs, [m, 2].
    title: the axes title.

  Returns:
    ax.
  """
  steps, losses = np.asarray(steps), np.asarray(losses, np.float64)
  ax.plot(steps, losses, lw=0.8, alpha=0.5, label='loss (mean per log interval)')
  if len(losses) >= 5:
    w = max(2, len(losses) // 20)
    ax.plot(steps[w - 1:], np.convolve(losses, np.ones(w) / w, mode='valid'), lw=1.8,
            label=f'running mean ({w} points)')
  if len(val):
    val = np.asarray(val, np.float64)
    ax.plot(val[:, 0], val[:, 1], 'o-', ms=3, lw=1.2, label='validation loss')
  if np.all(losses[np.isfinite(losses)] > 0) and len(losses):
    ax.set_yscale('log')
  ax.set_xlabel('iteration')
  ax.set_ylabel('loss')
  ax.set_title(title)
  ax.grid(alpha=0.3)
  ax.legend()
  return ax


def loss_png(path: str, steps, losses, title: str, val=()) -> str:
  """Write a PNG of a run's loss curve (draw_loss), atomically as spectrogram_png.

  Args:
    path: the PNG to write.
    steps: [n] logged iterations.
    losses: [n] their losses (the mean per log interval).
    title: the figure title.
    val: optional [(step, validation loss)] pairs.

  Returns:
    path.
  """
  # An Agg canvas of its own: no pyplot, so a notebook's backend is left alone.
  from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
  fig = Figure(figsize=(7, 4.6), dpi=100)
  FigureCanvasAgg(fig)
  draw_loss(fig.subplots(), steps, losses, val, title)
  fig.text(0.01, 0.01, LOSS_CAPTION, fontsize=7, va='bottom', wrap=True)
  fig.tight_layout(rect=(0, 0.09, 1, 1))
  with files.atomic_file(path, suffix='.png') as tmp:
    fig.savefig(tmp)
  return path
