"""What a training run writes as it goes: whole dreams from per-step values, metrics records,
progress lines."""
import math
import os
import time

import numpy as np

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.audio import loudness
from audiolstm.audio import synthesis
from audiolstm.run import plots


class ConcurrentDreams:
  """Collects the per-iteration dream values of every stream into whole dreams.

  All streams start together at step 0 and reseed every `dream_len` steps (as the device does),
  so dream number d of every stream spans steps [d * dream_len, (d + 1) * dream_len).
  """

  def __init__(self, dream_len: int, num_streams: int, new_per_step: int):
    self.dream_len = dream_len
    self.pending = np.zeros((0, num_streams, new_per_step), np.float32)
    self.pending_offsets = np.zeros((0, num_streams), np.int32)
    self.count = 0

  def to_arrays(self):
    """(pending [dream_len, S, new] and their seed offsets [dream_len, S], zero-padded; the
    number of pending steps; the dream count)."""
    buf = np.zeros((self.dream_len, *self.pending.shape[1:]), np.float32)
    buf[:len(self.pending)] = self.pending
    offsets = np.zeros((self.dream_len, self.pending.shape[1]), np.int32)
    offsets[:len(self.pending)] = self.pending_offsets
    return buf, offsets, np.int32(len(self.pending)), np.int32(self.count)

  def load_arrays(self, buf, offsets, length, count):
    self.pending = np.asarray(buf)[:int(length)].astype(np.float32)
    self.pending_offsets = np.asarray(offsets)[:int(length)].astype(np.int32)
    self.count = int(count)

  def add(self, values: np.ndarray, offsets: np.ndarray, last_step: int):
    """values [n, S, new] and seed offsets [n, S] of the steps ending at `last_step` (exclusive)
    -> finished dreams.

    Yields (dream number, step at which it finished, [S, dream_len * new], seed offsets [S]).
    """
    self.pending = np.concatenate([self.pending, values])
    self.pending_offsets = np.concatenate([self.pending_offsets, offsets])
    first = last_step - len(self.pending)
    while len(self.pending) >= self.dream_len:
      done, self.pending = self.pending[:self.dream_len], self.pending[self.dream_len:]
      seed = self.pending_offsets[0]
      self.pending_offsets = self.pending_offsets[self.dream_len:]
      first += self.dream_len
      yield (self.count, first, np.transpose(done, (1, 0, 2)).reshape(done.shape[1], -1), seed)
      self.count += 1


class MetricsWindow:
  """Turns per-iteration losses into metrics.jsonl records, one per `log_every` iterations (the
  mean loss of the window), carrying a partial window across chunks and checkpoints."""

  def __init__(self, log_every: int):
    self.log_every = log_every
    self.pending = []

  def add(self, losses, first_step: int, elapsed: float, final: bool = False):
    """Losses of steps first_step+1 ... -> records of the windows they complete."""
    records = []
    for i, loss in enumerate(np.asarray(losses, np.float64)):
      self.pending.append(float(loss))
      step = first_step + i + 1
      if step % self.log_every == 0 or (final and i == len(losses) - 1):
        records.append({'step': step, 'loss': float(np.mean(self.pending)),
                        'time': round(elapsed, 3)})
        if step % self.log_every == 0:
          self.pending = []  # a final partial window stays pending: a resume completes it
    return records

  def to_arrays(self):
    window = np.zeros(self.log_every, np.float32)
    window[:len(self.pending)] = self.pending
    return window, np.int32(len(self.pending))

  def load_arrays(self, window, length):
    self.pending = [float(v) for v in np.asarray(window)[:int(length)]]


class Progress:
  """Progress lines of long work (training, sample mode): done/total, any fields, the rate,
  elapsed time and ETA, at most every `every_s` seconds."""

  def __init__(self, total: int, log=print, every_s: float = 2.0, start: int = 0,
               label: str = 'step', unit: str = 'it'):
    self.total, self.log, self.every_s = total, log, every_s
    self.label, self.unit = label, unit
    self.t0 = self.t_last = time.perf_counter()
    self.step_last = start
    self.measured = False  # the first interval includes compiling: no ETA from it

  def update(self, done: int, force: bool = False, **fields) -> float:
    """Log a line (unless one was logged less than every_s ago and not `force`): `fields` are
    shown as 'name value' in order. Returns the rate since the last line (0.0 if none logged)."""
    now = time.perf_counter()
    if not force and now - self.t_last < self.every_s:
      return 0.0
    rate = (done - self.step_last) / max(now - self.t_last, 1e-9)
    eta = f'{(self.total - done) / rate:.0f}s' if rate > 0 and self.measured else '(measuring)'
    eta = '0s' if done >= self.total else eta
    shown = ''.join(f'  {k} {v:.5g}' if isinstance(v, float) else f'  {k} {v}'
                    for k, v in fields.items())
    self.log(f'{self.label} {done}/{self.total} ({100 * done / max(self.total, 1):.0f}%){shown}  '
             f'{rate:.1f} {self.unit}/s  elapsed {now - self.t0:.0f}s  eta {eta}')
    self.t_last, self.step_last, self.measured = now, done, True
    return rate


class MetricsLog:
  """A training run's metrics: appends metrics.jsonl, writes the TensorBoard scalars (loss, its
  running mean, learning rate, validation loss, iterations per second) and draws loss.png."""

  RUNNING_MEAN = 10        # logged points in the running mean
  PLOT_EVERY_S = 30.0      # loss.png is redrawn at most this often (and at the end)

  def __init__(self, run, board, lr, title: str):
    """run: a rundir.RunDir (its metrics.jsonl so far is the history); board: a tb.Writer or
    tb.NoWriter; lr: the learning rate (a number or an optax schedule of the step)."""
    history = run.read_metrics()
    self.run, self.board, self.title = run, board, title
    self.lr_at = lr if callable(lr) else (lambda _: lr)
    self.steps = [r['step'] for r in history]
    self.losses = [r['loss'] for r in history]
    self.val = [(r['step'], r['val_loss']) for r in history if 'val_loss' in r]
    self._last_plot = None

  def add(self, records) -> None:
    """Log metrics records ({'step', 'loss', 'time'[, 'val_loss']}), in step order."""
    self.run.append_metrics(records)
    for r in records:
      self.steps.append(r['step'])
      self.losses.append(r['loss'])
      scalars = {'loss': r['loss'],  # the running mean of the points up to this one
                 'loss_running_mean': float(np.mean(self.losses[-self.RUNNING_MEAN:])),
                 'learning_rate': float(self.lr_at(r['step']))}
      if 'val_loss' in r:
        scalars['val_loss'] = r['val_loss']
        self.val.append((r['step'], r['val_loss']))
      self.board.scalars(r['step'], scalars)

  def speed(self, step: int, iters_per_s: float) -> None:
    self.board.scalars(step, {'iters_per_s': iters_per_s})

  def plot(self, force: bool = False) -> None:
    """Redraw loss.png: the first time, then at most every PLOT_EVERY_S unless `force`."""
    now = time.perf_counter()
    if self.steps and (force or self._last_plot is None
                       or now - self._last_plot > self.PLOT_EVERY_S):
      self.run.plot_loss(self.steps, self.losses, self.title, val=self.val)
      self._last_plot = now

  @property
  def final_loss(self):
    return self.losses[-1] if self.losses else None


class DreamWriter:
  """Writes dreams into a folder: the WAV (never over an earlier file), its spectrogram PNG with
  the seed's above it, and, given a TensorBoard writer, the audio and the picture there too."""

  def __init__(self, c, scale: float, out_dir: str, board=None, flatness: float = math.nan,
               level: 'loudness.RecordingLevel' = None):
    """c: the run's resolved config; scale: its spectral scale (dataset.Sources.scale);
    flatness: its recording's spectral flatness (dataset.Sources.flatness); level: its
    recording's loudness (loudness.of_sources): each dream goes through loudness.level_whole
    (None: to_audio's normalisation only)."""
    self.c, self.scale, self.out_dir, self.board = c, scale, out_dir, board
    self.flatness, self.level = flatness, level
    self.paths = []

  def write(self, name: str, values: np.ndarray, rng: np.random.Generator, seed_audio=None,
            tag=None, step: int = 0) -> str:
    """Write one dream and return its WAV path.

    Args:
      name: the file name wanted (a suffix is added if it exists).
      values: [steps * new_per_step] one stream's dream values (synthesis.to_audio).
      rng: the generator of the vocoder's phases (fft).
      seed_audio: optional [m] samples of the recording from the seed on (the seed first): as
        much of it as the dream lasts is drawn above the dream, on the same time axis.
      tag: TensorBoard tag (dream/TAG, spectrogram/TAG); none written without it.
      step: TensorBoard step.
    """
    sr = self.c.sample_rate
    audio = synthesis.to_audio(self.c, values, self.scale, rng, self.flatness)
    if self.level is not None:
      audio = loudness.level_whole(audio, sr, self.level)
    files.makedirs(self.out_dir)
    path = audio_io.write_wav(files.unique_path(os.path.join(self.out_dir, name)), audio, sr)
    above = None if seed_audio is None else np.asarray(seed_audio)[:max(len(audio), 1)]
    title = os.path.basename(path) + ('' if above is None else
                                      ' (above: the recording from its seed on)')
    png = plots.spectrogram_png(os.path.splitext(path)[0] + '.png', audio, sr, seed_audio=above,
                                title=title, seed_label='recording from the seed on')
    if self.board is not None and tag:
      self.board.audio(f'dream/{tag}', step, audio, sr)
      self.board.image(f'spectrogram/{tag}', step, png)
    self.paths.append(path)
    return path
