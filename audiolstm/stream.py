r"""Stream mode: dream endlessly and live, written as it is dreamed, re-seeded while it plays.

  python -m audiolstm.main --mode=stream --workdir=RUN [--out=dream.wav | --out=- | --out=DIR/]
      [--seconds=0] [--seed_file=melody.wav] [--watch_dir=IN] [--osc_port=9000]
      [--dream_noise=0.0] [--streams=1] [--seed=K]

The dream runs in pieces of about PIECE_S seconds of audio (one jitted scan each, the next one
always computing while the last is written), through the same audio as sample mode's dreams
(synthesis.StreamSynth: the raw samples and their spectral floor, or the vocoder), a causal
loudness (synthesis.Level) and a crossfade that holds back FADE_S seconds for re-seeds. Memory
stays flat: nothing but those pieces is kept.

Controls are read between pieces: a file that appears in --watch_dir (once its size has settled,
as in watch mode) and the OSC messages on 127.0.0.1:--osc_port (live_control) re-seed every
stream from that file's start; /audiolstm/noise sets the dream noise; /audiolstm/stop, Ctrl-C or
SIGTERM stop, closing a valid file. Log and status lines go to stderr (stdout may be the audio).
"""
import dataclasses
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from audiolstm import audio_io
from audiolstm import config as config_lib
from audiolstm import inference
from audiolstm import live_control
from audiolstm import models
from audiolstm import rundir
from audiolstm import sampling
from audiolstm import signals
from audiolstm import synthesis
from audiolstm import wavstream
from audiolstm.config import ConfigError

PIECE_S = 0.1          # seconds of audio per dispatch: how soon a control is heard
FADE_S = 0.05          # the crossfade of a re-seed (and the fade-out at a --seconds end)
STATUS_EVERY_S = 1.0   # the status line's period
MAX_STREAMS = 64


def stderr_log(line: str) -> None:
  print(line, file=sys.stderr, flush=True)


@dataclasses.dataclass
class StreamOptions:
  """The stream mode flags (None: the run's config for dream_noise and seed)."""
  out: str = None             # a WAV path, '-' (stdout) or DIR/ (a file per stream)
  seconds: float = 0.0        # 0: until stopped
  seed_file: str = None       # the first seed (default: the training audio)
  watch_dir: str = None
  osc_port: int = None
  dream_noise: float = None
  streams: int = 1
  seed: int = None
  settle_s: float = 1.0       # a watched file is taken once unchanged this long


def check_options(o: StreamOptions) -> None:
  """ConfigError (one line) for a flag that cannot work."""
  if not (math.isfinite(o.seconds) and o.seconds >= 0):
    raise ConfigError(f'--seconds={o.seconds} must be a finite number >= 0 (0 streams until '
                      'Ctrl-C, SIGTERM or /audiolstm/stop)')
  if not 1 <= o.streams <= MAX_STREAMS:
    raise ConfigError(f'--streams={o.streams} must be between 1 and {MAX_STREAMS}')
  if o.osc_port is not None and not 1 <= o.osc_port <= 65535:
    raise ConfigError(f'--osc_port={o.osc_port} must be a UDP port between 1 and 65535')
  if o.watch_dir is not None and not os.path.isdir(o.watch_dir):
    raise ConfigError(f'--watch_dir={o.watch_dir!r} is not a directory: create it or give another')
  inference.check_dream_noise(o.dream_noise)


class LiveDreamer:
  """The dream of S streams in pieces of `steps` dream steps (about PIECE_S of audio), with the
  dream noise a traced argument (a live knob: no recompilation) and one piece always dispatched
  ahead, so that the device computes it while the last one is turned into audio."""

  def __init__(self, run: inference.TrainedRun, num_streams: int, seed: int):
    c, g = run.config, run.sources.g
    self.run, self.num_streams = run, num_streams
    self.steps = max(1, round(PIECE_S * c.sample_rate / config_lib.samples_per_dream_step(c, g)))
    ds = sampling.dream_setup(c, run.sources, num_streams)
    self._scan = jax.jit(lambda params, buffers, carry, rng, noise: sampling.dream_scan(
        run.model, ds, self.steps, params, buffers, carry, rng, noise))
    self.key, self.seeds_taken = jax.random.key(seed), 0

  def seed(self, buffers: np.ndarray) -> None:
    """Start again from seed buffers [S, input_span] (zero LSTM state; a piece ahead is dropped)."""
    self.state = (jnp.asarray(buffers, jnp.float32),
                  models.zero_carry(self.run.config, (self.num_streams,)))
    self.rng = jax.random.fold_in(self.key, self.seeds_taken)
    self.seeds_taken, self.count, self.ahead = self.seeds_taken + 1, 0, None

  def _dispatch(self, noise: float):
    buffers, carry, out = self._scan(self.run.params, *self.state,
                                     jax.random.fold_in(self.rng, self.count), jnp.float32(noise))
    self.state, self.count = (buffers, carry), self.count + 1
    return out

  def next(self, noise: float) -> np.ndarray:
    """[S, steps * new_per_step] the next piece's dream values (noise: the std for the piece
    dispatched now, which is the one after this)."""
    out = self.ahead if self.ahead is not None else self._dispatch(noise)
    self.ahead = self._dispatch(noise)
    return sampling.to_stream_values(np.asarray(out))


class Crossfade:
  """Holds back each stream's last `n` samples, so that after a re-seed the new dream fades in
  over the end of the old one. The fade is linear, so that no step of the mix is larger than
  the larger of the two sounds' own steps (plus at most 2 / n): no click at the seam."""

  def __init__(self, num_streams: int, n: int):
    self.n, self.pending = n, False
    self.tail = np.zeros((num_streams, 0), np.float32)   # [S, <= n] held back

  def reseed(self) -> None:
    """The next samples pushed begin a new dream."""
    self.pending = True

  def push(self, x: np.ndarray) -> np.ndarray:
    """[S, k] new samples -> [S, m] samples that are final."""
    if self.pending and x.shape[1]:
      k = min(self.tail.shape[1], x.shape[1])
      t = self.tail.shape[1] - k
      fade = (np.arange(k) + 0.5) / max(k, 1)
      mixed = self.tail[:, t:] * (1.0 - fade) + x[:, :k] * fade
      joined = np.concatenate([self.tail[:, :t], mixed, x[:, k:]], axis=1)
      self.pending = False
    else:
      joined = np.concatenate([self.tail, x], axis=1)
    cut = max(0, joined.shape[1] - self.n)
    self.tail = joined[:, cut:]
    return joined[:, :cut]

  def flush(self) -> np.ndarray:
    """[S, <= n] the samples held back."""
    out, self.tail = self.tail, self.tail[:, :0]
    return out


class Outputs:
  """Where a stream's audio goes: one WAV of S channels (a file or stdout), or S mono files."""

  def __init__(self, writers: list, description: str):
    self.writers, self.description = writers, description   # [(WavWriter, channel slice)]

  def write(self, audio: np.ndarray) -> None:
    """[S, n] audio."""
    for writer, channels in self.writers:
      writer.write(audio[channels])

  def close(self) -> None:
    for writer, _ in self.writers:
      try:
        writer.close()
      except BrokenPipeError:
        pass


def _create(path: str, channels: int, sample_rate: int) -> wavstream.WavWriter:
  """A new WAV at `path` or the first free `stem-N.wav` beside it (never over a file)."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  while True:
    try:
      return wavstream.WavWriter.create(audio_io.unique_path(path), channels, sample_rate)
    except FileExistsError:   # taken between the look and the open: the next name
      continue


def open_outputs(run: inference.TrainedRun, o: StreamOptions, label: str) -> Outputs:
  """The writers of --out (default: a new file in RUN/streams/)."""
  c, sr, n = run.config, run.config.sample_rate, o.streams
  name = f'{c.approach}_stream_{label}_it{run.step:07d}'
  if o.out and wavstream.is_pipe_target(o.out):
    return Outputs([(wavstream.WavWriter.pipe(sys.stdout.buffer, n, sr), slice(None))],
                   'standard output')
  try:
    if o.out and wavstream.is_dir_target(o.out):
      writers = [(_create(os.path.join(o.out, f'{name}_s{i}.wav'), 1, sr), slice(i, i + 1))
                 for i in range(n)]
      return Outputs(writers, ', '.join(w.f.name for w, _ in writers))
    writer = _create(o.out or os.path.join(run.path, 'streams', f'{name}.wav'), n, sr)
  except OSError as e:
    rundir.raise_if_disk_full(e, os.path.dirname(os.path.abspath(o.out or run.path)), 'try again')
    where = o.out or run.path
    raise ConfigError(f'cannot write the stream to {where}: {e.strerror or e}') from None
  return Outputs([(writer, slice(None))], writer.f.name)


class Chain:
  """Dream values -> the stream's audio: StreamSynth (a new one per seed), Crossfade, Level, and
  the outputs. `written` counts the samples of each stream written."""

  def __init__(self, run: inference.TrainedRun, num_streams: int, outputs: Outputs, seed: int):
    c = run.config
    self.run, self.num_streams, self.outputs = run, num_streams, outputs
    self.rng = np.random.default_rng([seed, 11])      # the vocoder's phases of each seed
    self.synth = None
    self.fade = Crossfade(num_streams, round(FADE_S * c.sample_rate))
    self.level = synthesis.Level.of(c, num_streams)
    self.written, self.target = 0, None   # target: the samples to write (None: until stopped)

  @property
  def held(self) -> int:
    return self.fade.tail.shape[1]

  def _emit(self, audio: np.ndarray) -> None:
    """Write [S, n] audio: with a target, cut there and faded out over its last FADE_S."""
    if self.target is not None:
      audio = audio[:, :max(0, self.target - self.written)]
      to_end = self.target - self.written - np.arange(audio.shape[1])     # [n] 1 at the end
      n = self.fade.n
      audio = audio * np.where(to_end <= n, np.cos(0.5 * np.pi * (n - to_end + 0.5) / n), 1.0)
    if audio.shape[1]:
      self.outputs.write(self.level(audio))
      self.written += audio.shape[1]

  def new_seed(self) -> int:
    """Begin a new dream (the old one's rest is faded out under it); returns the sample where
    the crossfade begins."""
    if self.synth is not None:
      self._emit(self.fade.push(self.synth.flush()))
      self.fade.reseed()
    self.synth = synthesis.StreamSynth(self.run.config, self.run.sources.scale, self.num_streams,
                                       self.rng)
    return self.written

  def push(self, values: np.ndarray) -> None:
    """[S, steps * new_per_step] dream values in; the audio that is final out."""
    self._emit(self.fade.push(self.synth.push(values)))

  def finish(self) -> None:
    """Write the rest, faded out over FADE_S (at the target, if there is one)."""
    rest = np.concatenate([self.fade.push(self.synth.flush()), self.fade.flush()], axis=1)
    if self.target is None:
      k = min(rest.shape[1], self.fade.n)
      rest[:, rest.shape[1] - k:] *= np.cos(0.5 * np.pi * (np.arange(k) + 0.5) / max(k, 1))
    self._emit(rest)


class Status:
  """The status line on stderr, once every `every_s`: seconds dreamed, the real-time factor of
  each stream since the last line, and a warning below 1x (a live player would run dry). On a
  terminal the line is redrawn in place."""

  def __init__(self, sample_rate: int, num_streams: int, every_s: float = STATUS_EVERY_S,
               stream=None):
    self.sample_rate, self.num_streams, self.every_s = sample_rate, num_streams, every_s
    self.stream = stream or sys.stderr
    self.tty = self.stream.isatty()
    self.t_last, self.done_last, self.showing = None, 0, False

  def line(self, done: int, rate: float, noise: float) -> str:
    streams = f' per stream ({self.num_streams} streams)' if self.num_streams > 1 else ''
    warn = '  WARNING: below real time, a live player would run dry' if rate < 1 else ''
    return (f'streaming: {done / self.sample_rate:.1f} s dreamed, {rate:.2f}x real time'
            f'{streams}, dream noise {noise:g}{warn}')

  def update(self, done: int, noise: float) -> None:
    """`done` samples of each stream written so far (the first call starts the clock, after the
    compilation)."""
    now = time.perf_counter()
    if self.t_last is None:
      self.t_last, self.done_last = now, done
    if now - self.t_last < self.every_s:
      return
    rate = (done - self.done_last) / self.sample_rate / (now - self.t_last)
    text = self.line(done, rate, noise)
    self.stream.write(f'\r{text}\x1b[K' if self.tty else text + '\n')
    self.stream.flush()
    self.t_last, self.done_last, self.showing = now, done, self.tty

  def log(self, line: str) -> None:
    """A log line that does not run into the status line."""
    if self.showing:
      self.stream.write('\n')
      self.showing = False
    self.stream.write(line + '\n')
    self.stream.flush()


def file_seed(run: inference.TrainedRun, path: str, num_streams: int) -> np.ndarray:
  """[S, input_span] every stream's seed: the start of the audio file `path` (AudioError or
  ConfigError, one line, if it cannot be read or is too short)."""
  audio = audio_io.load_audio(path, run.config.sample_rate)
  buffer = inference.seed_from_audio(run, audio, os.path.basename(path))
  return np.repeat(buffer[None], num_streams, axis=0)


def first_seed(run: inference.TrainedRun, o: StreamOptions, seed: int):
  """(buffers [S, input_span], label): --seed_file's start, or the training audio at the run's
  seed modes (as sample mode)."""
  if o.seed_file:
    label = os.path.splitext(os.path.basename(o.seed_file))[0]
    return file_seed(run, o.seed_file, o.streams), label
  return inference.training_seeds(run, o.streams, seed)[0], 'training'


def stream(workdir, o: StreamOptions = None, log=stderr_log) -> float:
  """Stream a dream of the newest checkpoint of `workdir` as `o` says (StreamOptions); returns
  the seconds of each stream written. ConfigError / AudioError (one line) for bad flags or
  input; StopNow on a second stop signal (the file is closed valid first)."""
  o = o or StreamOptions()
  check_options(o)
  run = inference.load_run(workdir, log)
  seed = run.config.seed if o.seed is None else o.seed
  buffers, label = first_seed(run, o, seed)
  controls = live_control.Controls(o.watch_dir, o.osc_port, o.settle_s)
  try:
    outputs = open_outputs(run, o, label)
    try:
      return _stream(run, o, buffers, seed, outputs, controls, log)
    finally:
      outputs.close()
  except OSError as e:
    rundir.raise_if_disk_full(e, o.out or run.path, 'run the same command (what was streamed is '
                              'kept)')
    raise
  finally:
    controls.close()


@dataclasses.dataclass
class _Live:
  """What the controls change while a stream runs."""
  noise: float
  stop: str = None       # why a control stopped the stream


def _control(event: tuple, run, o: StreamOptions, dreamer: LiveDreamer, chain: Chain,
             live: _Live, log) -> None:
  """Apply one live_control event: ('seed', path, via), ('noise', std), ('stop', why) or
  ('warn', message). A file that cannot seed gets one warning line; the stream goes on."""
  kind, sr = event[0], run.config.sample_rate
  if kind == 'seed':
    _, path, via = event
    try:
      buffers = file_seed(run, path, o.streams)
    except (audio_io.AudioError, ConfigError) as e:
      log(f'warning: not re-seeded from {path} ({via}): {e}')
      return
    dreamer.seed(buffers)
    at = chain.new_seed()
    log(f're-seeded from {path} ({via}) at {at / sr:.2f} s (sample {at}), crossfading over '
        f'{FADE_S * 1000:.0f} ms')
  elif kind == 'noise':
    live.noise = event[1]
    log(f'dream noise set to {event[1]:g} (OSC)')
  elif kind == 'stop':
    live.stop = event[1]
  else:
    log(f'warning: {event[1]}')


def _quiet_stdout() -> None:
  """Point stdout at /dev/null once its reader has gone (no BrokenPipeError at exit)."""
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, sys.stdout.fileno())


def _stream(run, o: StreamOptions, buffers, seed: int, outputs: Outputs,
            controls: 'live_control.Controls', log) -> float:
  """stream's loop: dream a piece, write what is final, show the status, apply the controls."""
  sr = run.config.sample_rate
  status = Status(sr, o.streams)
  say = status.log if log is stderr_log else log
  dreamer, chain = LiveDreamer(run, o.streams, seed), Chain(run, o.streams, outputs, seed)
  live = _Live(noise=run.config.dream_noise if o.dream_noise is None else o.dream_noise)
  chain.target = target = round(o.seconds * sr) if o.seconds else None
  dreamer.seed(buffers)
  chain.new_seed()
  length = f'{o.seconds:g} s' if target else 'endless'
  say(f'streaming {o.streams} {length} dream(s) of {run.path} (iteration {run.step}) to '
      f'{outputs.description}{controls.description}; Ctrl-C stops')
  with signals.StopSignals() as stop:
    try:
      while not (stop.requested or live.stop) and (
          target is None or chain.written + chain.held < target):
        chain.push(dreamer.next(live.noise))
        status.update(chain.written, live.noise)
        for event in controls.poll():
          _control(event, run, o, dreamer, chain, live, say)
      chain.finish()
    except BrokenPipeError:
      live.stop = 'the reader of standard output closing the pipe'
      _quiet_stdout()
  why = stop.requested or live.stop
  say(f'streamed {chain.written / sr:.2f} s to {outputs.description}'
      + (f' (stopped by {why})' if why else ''))
  return chain.written / sr
