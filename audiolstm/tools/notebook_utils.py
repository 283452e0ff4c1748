"""Small display helpers shared by the notebooks in notebooks/ (plots, players, quick mode).

The notebooks hold no logic of their own: they edit a config, call the library and show what
comes back with these helpers. `quick_mode()` reads AUDIOLSTM_NOTEBOOK_QUICK (set by the tests)
and `shrink` turns any config into one that trains and dreams in a few seconds.
"""
import os
import sys

import numpy as np

from audiolstm.audio import spectral
from audiolstm.config import settings as config_lib
from audiolstm.run import plots
from audiolstm.run import rundir

QUICK_ENV = 'AUDIOLSTM_NOTEBOOK_QUICK'


def quick_mode() -> bool:
  """True when AUDIOLSTM_NOTEBOOK_QUICK is set to anything but '', '0' or 'false'."""
  return os.environ.get(QUICK_ENV, '').strip().lower() not in ('', '0', 'false', 'no')


def shrink(c, max_steps: int = 120):
  """`c` (changed in place and returned) shrunk to a run of a few seconds that still dreams.

  Tiny geometry (seg_len 16 x 4 rows, hop 8), `max_steps` iterations, and dreams of half that
  many steps, so every stream writes at least two dreams.

  Args:
    c: a ConfigDict, resolved or not (the derived geometry fields are reset to 0 / ()).
    max_steps: training iterations of the shrunk run.

  Returns:
    c, with the small geometry, max_steps, chunk_size, log_every, lr and dream lengths set.
  """
  c.seg_len, c.num_unrollings, c.hop_size, c.window_size = 16, 4, 8, 0
  c.int_cursor_inc = c.ext_cursor_inc = c.label_offset = 0
  c.label_shape = ()
  c.hidden_size = 0
  c.max_steps, c.num_epochs = max_steps, max(c.num_epochs, 1000)
  c.chunk_size, c.log_every = max(1, max_steps // 4), 5
  c.lr = 1e-2
  per_step = config_lib.samples_per_dream_step(*config_lib.prepare(c))
  c.dream_seconds = (max_steps // 2) * per_step / c.sample_rate
  c.seq_dream_seconds = c.dream_seconds
  return c


def player(audio: np.ndarray, sample_rate: int):
  """An inline audio player (IPython.display.Audio), peak-normalised unless silent.

  Args:
    audio: [num_samples] mono signal (played as float32).
    sample_rate: its rate in Hz.

  Returns:
    The IPython.display.Audio object (shown when it is a cell's value).
  """
  from IPython import display  # pylint: disable=g-import-not-at-top  # only inside a notebook
  audio = np.asarray(audio, np.float32)
  return display.Audio(audio, rate=sample_rate, normalize=bool(np.any(audio)))


def load_metrics(workdir: str, key: str = 'loss'):
  """(steps [n], values [n]) of `key` ('loss' or 'val_loss') in WORKDIR/metrics.jsonl.

  Records without `key` are skipped; no file gives empty arrays (rundir.read_metrics: a last line
  torn by a kill is left out).

  Args:
    workdir: the run's work directory.
    key: the metric, e.g. 'loss' or 'val_loss'.

  Returns:
    (steps [n] int, values [n] float64) of the records that have `key`, in file order.
  """
  records = [r for r in rundir.read_metrics(workdir) if key in r]
  return (np.array([r['step'] for r in records], int),
          np.array([r[key] for r in records], np.float64))


def latest_dreams(summary: dict) -> list:
  """The last dream written of each stream (the most trained): paths sorted by stream."""
  last = {}
  for path in summary['dreams']:  # written in order of iteration
    name = os.path.splitext(os.path.basename(path))[0]
    last[name.rsplit('_s', 1)[-1]] = path
  return [last[k] for k in sorted(last)]


def pyplot():
  """matplotlib.pyplot, on the notebook's inline backend when run in a notebook.

  The library itself never touches pyplot's backend (its PNGs are drawn on Agg canvases of their
  own). If something else left pyplot on Agg (MPLBACKEND=Agg, matplotlib.use('Agg')), which would
  silence every later plt.show(), inside a Jupyter kernel it is switched back to the inline
  backend, so figures made through these helpers show.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top  # only inside a notebook
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top  # only inside a notebook
  if 'ipykernel' in sys.modules and matplotlib.get_backend().lower() == 'agg':
    try:
      plt.switch_backend('module://matplotlib_inline.backend_inline')
    except ImportError:
      pass
  return plt


def _axes(ax):
  if ax is None:
    _, ax = pyplot().subplots(figsize=(7, 3))
  return ax


def plot_loss(workdir: str, ax=None, title: str = None):
  """A run's loss per log interval, its running mean and any validation loss (plots.draw_loss).

  Args:
    workdir: the run's work directory (its metrics.jsonl is read).
    ax: the Axes to draw on (None: a new figure's).
    title: the axes title (None: the work directory's name).

  Returns:
    The Axes.
  """
  val_steps, val_losses = load_metrics(workdir, 'val_loss')
  return plots.draw_loss(_axes(ax), *load_metrics(workdir),
                         val=np.stack([val_steps, val_losses], axis=-1),
                         title=title or os.path.basename(os.path.normpath(workdir)))


def plot_losses(workdirs: dict, width: float = 16.0):
  """The loss curves of several runs side by side: {title: workdir} -> Figure.

  Args:
    workdirs: {title: work directory}, drawn left to right in order (plot_loss each).
    width: figure width in inches (the height is 3).

  Returns:
    The matplotlib Figure.
  """
  fig, axes = pyplot().subplots(1, len(workdirs), figsize=(width, 3), squeeze=False)
  for ax, (title, workdir) in zip(axes[0], workdirs.items()):
    plot_loss(workdir, ax, title)
  fig.tight_layout()
  return fig


def plot_waveform(audio: np.ndarray, sample_rate: int, ax=None, title: str = ''):
  """The waveform against time in seconds.

  Args:
    audio: [num_samples] mono signal (drawn on a -1.05 .. 1.05 scale).
    sample_rate: its rate in Hz.
    ax: the Axes to draw on (None: a new figure's).
    title: the axes title.

  Returns:
    The Axes.
  """
  ax = _axes(ax)
  audio = np.asarray(audio)
  ax.plot(np.arange(len(audio)) / sample_rate, audio, lw=0.4)
  ax.set_xlim(0, max(len(audio), 1) / sample_rate)
  ax.set_ylim(-1.05, 1.05)
  ax.set_xlabel('time (s)')
  ax.set_title(title)
  return ax


def spectrogram_db(audio: np.ndarray, window_size: int = 512, hop_size: int = 128,
                   floor_db: float = -80.0) -> np.ndarray:
  """Power in dB relative to the peak, floored at `floor_db` (spectral.power_spectrogram).

  The spectrogram of the report's and TensorBoard's pictures (audiolstm.run.plots): centred Hann
  frames; the window shrinks (halving, down to 8) to fit audio shorter than `window_size`.

  Args:
    audio: [num_samples] mono signal.
    window_size: frame length (the FFT size).
    hop_size: samples between frames (at most a quarter of the window used).
    floor_db: the lowest value returned.

  Returns:
    [num_frames, window // 2 + 1] float32 dB (0 at the peak; all `floor_db` if silent).
  """
  audio = np.asarray(audio, np.float64)
  while window_size > len(audio) and window_size > 8:
    window_size //= 2
  hop_size = max(1, min(hop_size, window_size // 4))
  power = spectral.power_spectrogram(audio, window_size, hop_size)  # [frames, window // 2 + 1]
  peak = float(power.max())
  if peak <= 0:
    return np.full(power.shape, floor_db, np.float32)
  return np.maximum(10 * np.log10(np.maximum(power / peak, 1e-24)), floor_db).astype(np.float32)


def plot_spectrogram(audio: np.ndarray, sample_rate: int, ax=None, title: str = '',
                     window_size: int = 512, hop_size: int = 128):
  """A spectrogram (dB, 80 dB range) against time in seconds and frequency in Hz.

  Args:
    audio: [num_samples] mono signal.
    sample_rate: its rate in Hz.
    ax: the Axes to draw on (None: a new figure's).
    title: the axes title.
    window_size: frame length (the FFT size; see spectrogram_db).
    hop_size: samples between frames.

  Returns:
    The Axes.
  """
  ax = _axes(ax)
  db = spectrogram_db(audio, window_size, hop_size)
  seconds = max(len(audio), 1) / sample_rate
  ax.imshow(db.T, origin='lower', aspect='auto', cmap='magma', vmin=-80, vmax=0,
            extent=(0, seconds, 0, sample_rate / 2))
  ax.set_xlabel('time (s)')
  ax.set_ylabel('Hz')
  ax.set_title(title)
  return ax


def plot_frames(frames: np.ndarray, sample_rate: int, hop_size: int, ax=None, title: str = ''):
  """Magnitude frames [T, N] (bin k at k * sr / (2N) Hz) as an image in dB re their peak.

  Args:
    frames: [T, N] magnitudes (negative values count as 0), e.g. spectral.magnitude_frames.
    sample_rate: the audio's rate in Hz.
    hop_size: samples between frames.
    ax: the Axes to draw on (None: a new figure's).
    title: the axes title.

  Returns:
    The Axes.
  """
  ax = _axes(ax)
  frames = np.maximum(np.asarray(frames, np.float64), 0.0)
  peak = frames.max() if frames.size else 0.0
  db = 20 * np.log10(np.maximum(frames / peak, 1e-12)) if peak > 0 else np.zeros(frames.shape)
  ax.imshow(np.maximum(db, -80).T, origin='lower', aspect='auto', cmap='magma', vmin=-80, vmax=0,
            interpolation='nearest',
            extent=(0, max(len(frames), 1) * hop_size / sample_rate, 0, sample_rate / 2))
  ax.set_xlabel('time (s)')
  ax.set_ylabel('Hz')
  ax.set_title(title)
  return ax


def compare(audios: dict, sample_rate: int, seconds: float = None, width: float = 12.0):
  """One row per named audio: its waveform (left) and spectrogram (right), side by side.

  Args:
    audios: {title: [num_samples] audio}, shown top to bottom in order.
    sample_rate: of every audio.
    seconds: show only the first `seconds` of each (None: all).
    width: figure width in inches.

  Returns:
    The matplotlib Figure.
  """
  fig, axes = pyplot().subplots(len(audios), 2, figsize=(width, 2.4 * len(audios)),
                               squeeze=False)
  for row, (title, audio) in zip(axes, audios.items()):
    audio = np.asarray(audio)
    if seconds is not None:
      audio = audio[:int(seconds * sample_rate)]
    plot_waveform(audio, sample_rate, row[0], f'{title}: waveform')
    plot_spectrogram(audio, sample_rate, row[1], f'{title}: spectrogram')
  fig.tight_layout()
  return fig


def envelopes(amps: np.ndarray, hop_size: int) -> np.ndarray:
  """The vocoder's per-bin amplitude envelopes at the sample rate (audiolstm.audio.vocoder, step 2).

  Args:
    amps: [T, N] frame amplitudes (after vocoder.peaks, or clipped at 0).
    hop_size: samples per segment.

  Returns:
    [(T + 1) * hop_size, N]: segment s ramps linearly from P_s to P_{s+1}, both ends included,
    where P = [0, amps_0, ..., amps_{T-1}, 0].
  """
  amps = np.asarray(amps, np.float32)
  p = np.pad(amps, ((1, 1), (0, 0)))                                         # [T + 2, N]
  w = (np.arange(hop_size, dtype=np.float32) / (hop_size - 1) if hop_size > 1
       else np.zeros(1, np.float32))                                         # [hop]
  env = (1 - w)[None, :, None] * p[:-1, None, :] + w[None, :, None] * p[1:, None, :]
  return env.reshape(-1, amps.shape[1])                                      # [(T + 1) * hop, N]
