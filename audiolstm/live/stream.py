r"""Stream mode: dream endlessly and live, written as it is dreamed, re-seeded while it plays.

  python -m audiolstm.main --mode=stream --workdir=RUN [--out=dream.wav | --out=- | --out=DIR/]
      [--seconds=0] [--seed_file=melody.wav] [--watch_dir=IN] [--osc_port=9000]
      [--dream_noise=0.0] [--streams=1] [--seed=K] [--reseed=auto|off|SECONDS]

The dream runs in pieces of about PIECE_S seconds of audio (one jitted scan each, the next one
always computing while the last is written), through the same audio as sample mode's dreams
(synthesis.StreamSynth: the raw samples and their spectral floor, or the vocoder), a crossfade
that holds back FADE_S seconds for re-seeds and the level chain (loudness.Loudness: the
recording's loudness, a guard against jumps, a look-ahead limiter; 10 ms late). Memory stays
flat: nothing but those pieces is kept.

A fixed model's dream settles within seconds (a note that fades out, or one held sound): with
--reseed=auto (the default) `Stillness` notices and the stream is re-seeded from a random place of
the training audio, crossfaded, as training re-seeds its dreams; --reseed=SECONDS re-seeds that
often, --reseed=off never.

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

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.audio import loudness
from audiolstm.audio import synthesis
from audiolstm.audio import wavstream
from audiolstm.config import settings as config_lib
from audiolstm.config.settings import ConfigError
from audiolstm.core import sampling
from audiolstm.dream import sample as sample_mode
from audiolstm.dream import trained
from audiolstm.live import control as live_control
from audiolstm.run import rundir
from audiolstm.run import signals

PIECE_S = 0.1          # seconds of audio per dispatch: how soon a control is heard
FADE_S = 0.05          # the crossfade of a re-seed (and the fade-out at a --seconds end)
STATUS_EVERY_S = 1.0   # the status line's period
LIMITING_DB = 6.0      # the status line tells a gain reduction above this
MAX_STREAMS = 64
SEED_SOURCE = '--seed_file, the /audiolstm/seed message or the watched folder'


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
  temperature: float = None   # a distributional head's sampling temperature (None: the config's)
  streams: int = 1
  seed: int = None
  reseed: str = 'auto'        # 'auto' (when the dream settles), 'off', or every SECONDS
  settle_s: float = 1.0       # a watched file is taken once unchanged this long


def parse_reseed(text: str) -> tuple:
  """--reseed: (auto, every_s): 'auto' -> (True, 0), 'off' -> (False, 0), 'S' -> (False, S)
  (ConfigError, one line, for anything else)."""
  text = str(text).strip().lower()
  if text in ('auto', 'off'):
    return text == 'auto', 0.0
  try:
    every = float(text)
  except ValueError:
    every = math.nan
  if not (math.isfinite(every) and every > 0):
    raise ConfigError(f'--reseed={text} must be auto (re-seed from the training audio when the '
                      'dream has settled), off, or a number of seconds > 0 (re-seed that often)')
  return False, every


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
  sample_mode.check_dream_noise(o.dream_noise)
  sample_mode.check_temperature(o.temperature)
  parse_reseed(o.reseed)


class Stillness:
  """Tells when a dream has settled, as a fixed model's dreams do within seconds (a note that
  fades out, or one held sound), calibrated on the training audio itself.

  Silent: the last SILENT_S of a stream is SILENT_DB under the training audio's level. Still:
  its last WINDOW_S barely changes: the two halves' average log-mel spectra (the top CLIP_DB of
  the window) differ by less than half of what the training audio's own windows differ by at
  their 10th percentile (real recordings: 1-2 dB there; a held tone 0.02-0.3 dB, even under a
  noise floor). Looked at every CHECK_S of audio; `reset` at each seed.
  """

  WINDOW_S, CHECK_S, SILENT_S = 1.0, 0.25, 0.5
  SILENT_DB, CLIP_DB = -30.0, 30.0

  def __init__(self, audio: np.ndarray, sample_rate: int, num_streams: int):
    """audio: [N] the training audio."""
    # librosa: slow import
    from audiolstm.audio import features  # pylint: disable=g-import-not-at-top
    from audiolstm.audio import spectral
    self.mel_frames, self.sr = features.mel_frames, sample_rate
    self.mean_square = float(np.mean(np.square(audio))) or 1.0
    frames, _ = features.mel_frames(np.asarray(audio, np.float64), sample_rate)   # [F, 64]
    per = max(2, round(self.WINDOW_S * sample_rate / spectral.analysis_sizes(sample_rate)[1]))
    changes = [self.change(frames[a:a + per])
               for a in range(0, len(frames) - per + 1, max(1, per // 4))]
    self.limit = 0.5 * float(np.percentile(changes, 10)) if changes else 0.5
    self.buf = np.zeros((num_streams, 0), np.float32)
    self.unchecked = 0

  @classmethod
  def change(cls, frames_db: np.ndarray) -> float:
    """How much a window's sound changes: [F, 64] log-mel frames (dB) -> the RMS dB difference
    of its halves' mean spectra, in the top CLIP_DB of the window."""
    f = np.maximum(frames_db - np.max(frames_db), -cls.CLIP_DB)
    h = len(f) // 2
    return float(np.sqrt(np.mean(np.square(f[:h].mean(axis=0) - f[h:].mean(axis=0)))))

  def reset(self) -> None:
    self.buf, self.unchecked = self.buf[:, :0], 0

  def push(self, audio: np.ndarray):
    """[S, n] the stream's audio -> 'silent', 'still' or None (not settled, or not looked at)."""
    w = round(self.WINDOW_S * self.sr)
    self.buf = np.concatenate([self.buf, audio], axis=1)[:, -w:]
    self.unchecked += audio.shape[1]
    quiet = round(self.SILENT_S * self.sr)
    if self.unchecked < self.CHECK_S * self.sr or self.buf.shape[1] < quiet:
      return None
    self.unchecked = 0
    level = np.mean(np.square(self.buf[:, -quiet:]), axis=1) / self.mean_square
    if np.any(level < 10 ** (self.SILENT_DB / 10)):
      return 'silent'
    if self.buf.shape[1] == w and min(
        self.change(self.mel_frames(x.astype(np.float64), self.sr)[0]) for x in self.buf
    ) < self.limit:
      return 'still'
    return None


def random_training_seed(run: trained.TrainedRun, num_streams: int, key) -> np.ndarray:
  """[S, input_span] seeds at random places of the training audio (seed mode 'random')."""
  ds = sampling.dream_setup(run.config, run.sources, num_streams)
  same = jnp.asarray(np.resize(run.same_offsets, num_streams))
  offsets = sampling.seed_offsets(ds, config_lib.SEED_MODES.index('random'), key, same,
                                  run.cursor)
  return np.asarray(sampling.seed_buffers(ds, jnp.asarray(run.sources.seeds), offsets))


class LiveDreamer:
  """The dream of S streams in pieces of `steps` dream steps (about PIECE_S of audio), with the
  dream noise and temperature traced arguments (live knobs: no recompilation) and one piece
  always dispatched ahead, so that the device computes it while the last one is turned into
  audio. A run with wander snapshots wanders among them (wander.py), the path continuing from
  piece to piece and starting anew at each seed."""

  def __init__(self, run: trained.TrainedRun, num_streams: int, seed: int):
    self.run, self.num_streams = run, num_streams
    self.steps = self.steps_for(run)
    self.stepper = trained.Stepper(run, num_streams, self.steps)
    self.key, self.seeds_taken = jax.random.key(seed), 0

  @staticmethod
  def steps_for(run: trained.TrainedRun) -> int:
    """Dream steps of one piece: about PIECE_S of audio."""
    c = run.config
    return max(1, round(PIECE_S * c.sample_rate / config_lib.samples_per_dream_step(
        c, run.sources.g)))

  def seed(self, buffers: np.ndarray) -> None:
    """Start again from seed buffers [S, input_span] (zero LSTM state; a piece ahead is dropped)."""
    self.stepper.start(buffers, jax.random.fold_in(self.key, self.seeds_taken))
    self.seeds_taken, self.ahead = self.seeds_taken + 1, None

  def _dispatch(self, noise: float, temperature: float):
    return self.stepper.dispatch(jnp.float32(noise), jnp.float32(temperature))

  def next(self, noise: float, temperature: float = None) -> np.ndarray:
    """[S, steps * new_per_step] the next piece's dream values (noise: the std, temperature: a
    distributional head's (None: the config's), for the piece dispatched now, which is the one
    after this)."""
    temperature = self.run.config.temperature if temperature is None else temperature
    out = self.ahead if self.ahead is not None else self._dispatch(noise, temperature)
    self.ahead = self._dispatch(noise, temperature)
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
      return wavstream.WavWriter.create(files.unique_path(path), channels, sample_rate)
    except FileExistsError:   # taken between the look and the open: the next name
      continue


def open_outputs(run: trained.TrainedRun, o: StreamOptions, label: str) -> Outputs:
  """The writers of --out (default: a new file in RUN/streams/)."""
  c, sr, n = run.config, run.config.sample_rate, o.streams
  name = f'{c.approach}_stream_{label}_it{run.step:07d}'
  if o.out and wavstream.is_pipe_target(o.out):
    return Outputs([(wavstream.WavWriter.pipe(sys.stdout.buffer, n, sr), slice(None))],
                   'standard output')
  if files.is_url(o.out or run.path):
    raise ConfigError(f'a stream grows a WAV in place, which {o.out or run.path} (a URL) cannot '
                      'do: give --out=FILE.wav on a local disk, or --out=- for stdout')
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
  """Dream values -> the stream's audio: StreamSynth (a new one per seed), Crossfade,
  loudness.Loudness and the outputs. `written` counts the samples of each stream written (those
  the level chain still holds, its `delay`, included: `finish` writes them)."""

  def __init__(self, run: trained.TrainedRun, num_streams: int, outputs: Outputs, seed: int):
    c = run.config
    self.run, self.num_streams, self.outputs = run, num_streams, outputs
    self.rng = np.random.default_rng([seed, 11])      # the vocoder's phases of each seed
    self.synth = None
    self.fade = Crossfade(num_streams, round(FADE_S * c.sample_rate))
    self.level = loudness.Loudness(num_streams, c.sample_rate,
                                   loudness.of_sources(run.sources, c))
    self.written, self.target = 0, None   # target: the samples to write (None: until stopped)
    self.stillness, self.settled, self.seeded_at = None, None, 0   # Stillness: see new_seed

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
      self.written += audio.shape[1]
      self._write(self.level.push(audio))

  def _write(self, audio: np.ndarray) -> None:
    """[S, n] audio at its level to the outputs (and to `stillness`)."""
    self.outputs.write(audio)
    if self.stillness is not None and self.settled is None and audio.shape[1]:
      self.settled = self.stillness.push(audio)

  def new_seed(self) -> int:
    """Begin a new dream (the old one's rest is faded out under it); returns the sample where
    the crossfade begins. `settled` (what `stillness` says of the new dream) starts at None."""
    if self.synth is not None:
      self._emit(self.fade.push(self.synth.flush()))
      self.fade.reseed()
    if self.stillness is not None:
      self.stillness.reset()
    self.settled, self.seeded_at = None, self.written
    self.synth = synthesis.StreamSynth(self.run.config, self.run.sources.scale, self.num_streams,
                                       self.rng, self.run.sources.flatness)
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
    self._write(self.level.flush())


class Status:
  """The status line on stderr, once every `every_s`: seconds dreamed, the real-time factor of
  each stream since the last line, the level chain's largest gain reduction when it exceeded
  LIMITING_DB, and a warning below 1x (a live player would run dry). On a terminal the line is
  redrawn in place."""

  def __init__(self, sample_rate: int, num_streams: int, every_s: float = STATUS_EVERY_S,
               stream=None):
    self.sample_rate, self.num_streams, self.every_s = sample_rate, num_streams, every_s
    self.stream = stream or sys.stderr
    self.tty = self.stream.isatty()
    self.t_last, self.done_last, self.showing = None, 0, False
    self.limiting_db = 0.0   # the largest gain reduction since the last line

  def line(self, done: int, rate: float, noise: float, reseeds: int = 0,
           limiting_db: float = 0.0) -> str:
    streams = f' per stream ({self.num_streams} streams)' if self.num_streams > 1 else ''
    warn = '  WARNING: below real time, a live player would run dry' if rate < 1 else ''
    limiting = f', limiting {limiting_db:.0f} dB' if limiting_db > LIMITING_DB else ''
    return (f'streaming: {done / self.sample_rate:.1f} s dreamed, {rate:.2f}x real time'
            f'{streams}, dream noise {noise:g}, {reseeds} re-seeds{limiting}{warn}')

  def update(self, done: int, noise: float, reseeds: int = 0, limiting_db: float = 0.0) -> None:
    """`done` samples of each stream written so far (the first call starts the clock, after the
    compilation); `limiting_db`: the level chain's gain reduction on the last piece."""
    self.limiting_db = max(self.limiting_db, limiting_db)
    now = time.perf_counter()
    if self.t_last is None:
      self.t_last, self.done_last = now, done
    if now - self.t_last < self.every_s:
      return
    rate = (done - self.done_last) / self.sample_rate / (now - self.t_last)
    text = self.line(done, rate, noise, reseeds, self.limiting_db)
    self.limiting_db = 0.0
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


def file_seed(run: trained.TrainedRun, path: str, num_streams: int) -> np.ndarray:
  """[S, input_span] every stream's seed: the start of the audio file `path` (AudioError or
  ConfigError, one line, if it cannot be read or is too short)."""
  audio = audio_io.load_audio(path, run.config.sample_rate, source=SEED_SOURCE)
  buffer = trained.seed_from_audio(run, audio, os.path.basename(path))
  return np.repeat(buffer[None], num_streams, axis=0)


def first_seed(run: trained.TrainedRun, o: StreamOptions, seed: int):
  """(buffers [S, input_span], label): --seed_file's start, or the training audio at the run's
  seed modes (as sample mode)."""
  if o.seed_file:
    label = os.path.splitext(os.path.basename(o.seed_file))[0]
    return file_seed(run, o.seed_file, o.streams), label
  return trained.training_seeds(run, o.streams, seed)[0], 'training'


def stream(workdir, o: StreamOptions = None, log=stderr_log) -> float:
  """Stream a dream of the newest checkpoint of `workdir` as `o` says (StreamOptions); returns
  the seconds of each stream written. ConfigError / AudioError (one line) for bad flags or
  input; StopNow on a second stop signal (the file is closed valid first)."""
  o = o or StreamOptions()
  check_options(o)
  run = trained.load_run(workdir, log)
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
  temperature: float = 1.0
  stop: str = None       # why a control stopped the stream
  reseeds: int = 0       # re-seeds so far (controls and --reseed)
  settled: int = 0       # of them, --reseed=auto's (the dream had settled)


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
    live.reseeds += 1
    log(f're-seeded from {path} ({via}) at {at / sr:.2f} s (sample {at}), crossfading over '
        f'{FADE_S * 1000:.0f} ms')
  elif kind == 'noise':
    live.noise = event[1]
    log(f'dream noise set to {event[1]:g} (OSC)')
  elif kind == 'temperature':
    live.temperature = event[1]
    log(f'temperature set to {event[1]:g} (OSC)' + (
        '' if run.config.output_dist != 'mse' else
        ': it changes nothing here (the run\'s head is mse: it draws nothing)'))
  elif kind == 'stop':
    live.stop = event[1]
  elif kind in ('respond', 'gain'):
    log(f'warning: the OSC {kind} message is for audiolstm play; a stream ignores it')
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
  live = _Live(noise=run.config.dream_noise if o.dream_noise is None else o.dream_noise,
               temperature=run.config.temperature if o.temperature is None else o.temperature)
  chain.target = target = round(o.seconds * sr) if o.seconds else None
  auto, every = parse_reseed(o.reseed)
  if auto:
    chain.stillness = Stillness(run.sources.seed_audio, sr, o.streams)
  dreamer.seed(buffers)
  chain.new_seed()
  length = f'{o.seconds:g} s' if target else 'endless'
  say(f'streaming {o.streams} {length} dream(s) of {run.path} (iteration {run.step}) to '
      f'{outputs.description}{controls.description}; Ctrl-C stops')
  with signals.StopSignals() as stop:
    try:
      while not (stop.requested or live.stop) and (
          target is None or chain.written + chain.held < target):
        chain.push(dreamer.next(live.noise, live.temperature))
        status.update(chain.written, live.noise, live.reseeds, chain.level.reduction_db[0])
        if chain.settled or (every and chain.written - chain.seeded_at >= every * sr):
          dreamer.seed(random_training_seed(
              run, o.streams, jax.random.fold_in(jax.random.key(seed), live.reseeds)))
          live.settled += bool(chain.settled)
          chain.new_seed()
          live.reseeds += 1
        for event in controls.poll():
          _control(event, run, o, dreamer, chain, live, say)
      chain.finish()
    except BrokenPipeError:
      live.stop = 'the reader of standard output closing the pipe'
      _quiet_stdout()
  why = stop.requested or live.stop
  say(f'streamed {chain.written / sr:.2f} s to {outputs.description}, {live.reseeds} re-seeds '
      f'({live.settled} when the dream had settled)' + (f' (stopped by {why})' if why else ''))
  return chain.written / sr
