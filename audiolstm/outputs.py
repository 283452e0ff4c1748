"""The work directory: resolved config, metrics.jsonl, loss.png, dream WAVs, progress lines.

Every file is written atomically (temporary file + rename) and dream names never collide, so a
crash leaves nothing half-written and no run overwrites another's files.
"""
import datetime
import json
import os
import re
import time

import numpy as np

from audiolstm import audio_io
from audiolstm import spectral
from audiolstm import vocoder
from audiolstm.config import ConfigError


_DREAM_STEP = re.compile(r'_it(\d+)_s\d+(?:-\d+)?\.wav$')


def default_workdir(approach: str, root: str = 'runs') -> str:
  """A new directory name runs/<approach>-<timestamp> (suffixed if it exists)."""
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  return audio_io.unique_path(os.path.join(root, f'{approach}-{stamp}'))


def read_run_config(config_path: str, derived: bool = False):
  """The resolved config saved in a run's config.json, or None if there is none. Without
  `derived`, the '_' entries (iterations per epoch, spectral scale, ...) are left out."""
  if not os.path.exists(config_path):
    return None
  try:
    with open(config_path) as f:
      record = json.load(f)
  except (OSError, ValueError) as e:
    raise ConfigError(f'cannot read {config_path}: {str(e).splitlines()[0]} (it is not a run '
                      'of audiolstm; give another --workdir)') from None
  if not isinstance(record, dict):
    raise ConfigError(f'cannot read {config_path}: not a JSON object')
  return record if derived else {k: v for k, v in record.items() if not k.startswith('_')}


class RunDir:
  """A run's work directory (created if needed; an earlier run in it is resumed by the caller)."""

  def __init__(self, path: str, primary: bool = True):
    if re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://', path):
      raise ConfigError(f'--workdir={path} is a URL: the work directory must be on a local (or '
                        'mounted) disk; launch/*.sh keep it on the VM and sync it to the bucket')
    self.path = os.path.abspath(path)
    self.primary = primary  # only the primary process (0) writes
    if os.path.exists(self.path) and not os.path.isdir(self.path):
      raise ConfigError(f'--workdir={path} is a file, not a directory: give a directory path')
    try:
      os.makedirs(self.dreams_dir, exist_ok=True)
    except OSError as e:
      raise ConfigError(f'cannot create the work directory {path}: {e.strerror}') from None
    self.config_path = os.path.join(self.path, 'config.json')
    self.metrics_path = os.path.join(self.path, 'metrics.jsonl')
    self.plot_path = os.path.join(self.path, 'loss.png')
    self.checkpoint_dir = os.path.join(self.path, 'checkpoints')

  def read_config(self):
    """The resolved config of an earlier run here (a dict without '_' entries), or None."""
    return read_run_config(self.config_path)

  def read_metrics(self):
    """The records of metrics.jsonl (an empty list if there is none)."""
    if not os.path.exists(self.metrics_path):
      return []
    with open(self.metrics_path) as f:
      return [json.loads(line) for line in f if line.strip()]

  def rewind(self, step: int, log_every: int) -> None:
    """Forget what was written after iteration `step` (a resume makes it again, identically):
    metrics records past it or of a partial window ending there, and dreams made after it."""
    if not self.primary:
      return
    kept = [r for r in self.read_metrics()
            if r['step'] < step or (r['step'] == step and step % log_every == 0)]
    audio_io.write_text_atomic(self.metrics_path, ''.join(json.dumps(r) + '\n' for r in kept))
    for name in os.listdir(self.dreams_dir):
      m = _DREAM_STEP.search(name)
      if m and int(m.group(1)) > step:
        os.remove(os.path.join(self.dreams_dir, name))

  @property
  def dreams_dir(self) -> str:
    return os.path.join(self.path, 'dreams')

  def write_config(self, c, **extra) -> None:
    if not self.primary:
      return
    record = dict(c.to_dict(), **{'_' + k: v for k, v in extra.items()})
    audio_io.write_text_atomic(os.path.join(self.path, 'config.json'),
                       json.dumps(record, indent=2, sort_keys=True, default=list) + '\n')

  def append_metrics(self, records) -> None:
    if not records or not self.primary:
      return
    with open(self.metrics_path, 'a') as f:
      for r in records:
        f.write(json.dumps(r) + '\n')
      f.flush()

  def write_dream(self, name: str, audio: np.ndarray, sample_rate: int) -> str:
    return audio_io.write_wav(audio_io.unique_path(os.path.join(self.dreams_dir, name)),
                              audio, sample_rate)

  def plot_loss(self, steps, losses, title: str, val=()) -> None:
    """loss.png: the logged losses, their running mean and the validation losses [(step, loss)],
    on a log scale."""
    if not self.primary:
      return
    # An Agg canvas of its own: no pyplot, so a notebook's backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # pylint: disable=g-import-not-at-top
    from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top
    steps, losses = np.asarray(steps), np.asarray(losses, np.float64)
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
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
    fig.tight_layout()
    with audio_io.atomic_file(self.plot_path, suffix='.png') as tmp:
      fig.savefig(tmp)


def dream_name(approach: str, kind: str, mode: str, step: int, stream: int) -> str:
  """e.g. fft_concurrent_random_it0001200_s0.wav"""
  return f'{approach}_{kind}_{mode}_it{step:07d}_s{stream}.wav'


def to_audio(c, values: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
  """One stream's dream values [steps * new_per_step] -> audio samples (float32).

  Raw approaches: the values are samples (scaled down if they exceed [-1, 1]). fft: the values are
  normalised magnitude frames; they are rescaled and turned into audio by the vocoder.
  """
  if c.use_fft:
    frames = spectral.from_source_frames(values.reshape(-1, c.seg_len), scale,
                                         c.get('magnitude_power', 1.0))
    if c.get('spectral_floor_db', 0.0) > 0:  # weak partials go, after peak picking
      picked = np.asarray(vocoder.peaks(frames)) if c.use_peaks else frames
      frames = spectral.drop_weak(picked, c.spectral_floor_db)
    phases = rng.uniform(0.0, 2 * np.pi, c.seg_len).astype(np.float32)
    audio = np.asarray(vocoder.vocode(frames, c.hop_size, phases, use_peaks=c.use_peaks))
    return 0.9 * audio
  audio = np.nan_to_num(values.astype(np.float32))
  peak = float(np.max(np.abs(audio))) if audio.size else 0.0
  return audio * (0.99 / peak) if peak > 0.99 else audio


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
  """Progress lines while training: step, loss, iterations per second, dreams written, ETA."""

  def __init__(self, total: int, log=print, every_s: float = 2.0):
    self.total, self.log, self.every_s = total, log, every_s
    self.t0 = self.t_last = time.perf_counter()
    self.step_last = 0

  def update(self, step: int, loss: float, dreams: int, force: bool = False) -> float:
    now = time.perf_counter()
    if not force and now - self.t_last < self.every_s:
      return 0.0
    rate = (step - self.step_last) / max(now - self.t_last, 1e-9)
    eta = (self.total - step) / rate if rate > 0 else 0.0
    self.log(f'step {step}/{self.total} ({100 * step / max(self.total, 1):.0f}%)  '
             f'loss {loss:.5g}  {rate:.1f} it/s  dreams {dreams}  '
             f'elapsed {now - self.t0:.0f}s  eta {eta:.0f}s')
    self.t_last, self.step_last = now, step
    return rate
