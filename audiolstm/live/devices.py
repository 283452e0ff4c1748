"""Audio in and out for `audiolstm play`: sound cards, WAV files played in real time, WAV streams.

  --in=DEVICE   a sound-card input through PortAudio (sounddevice): JACK, ALSA, CoreAudio,
                WASAPI; a device's number or part of its name (`--list_devices`)
  --in=-        a WAV stream on standard input (arecord -t wav - | audiolstm play --in=- ...)
  --in=take.wav a file, played in real time (rehearsal, tests)
  --out=DEVICE  a sound-card output; --out=FILE.wav a new file (never over another); --out=-
                a WAV stream on standard output

Everything runs at one rate, the device rate (`--rate`, else the output or input device's own,
else the input file's), in blocks of `--block` frames, mono: an input of more channels is mixed
down (one note), an output of two channels gets the same sound on both. A device's audio moves
between its PortAudio callback and the play loop through queues; the loop never waits on the
device for longer than a block, and a device that stops delivering raises DeviceLost.
"""
import collections
import os
import queue
import sys
import threading
import time

import numpy as np

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.audio import wavstream
from audiolstm.config.settings import ConfigError

LOST_AFTER_S = 2.0     # an input silent (no callbacks) this long has gone
CLIP_LEVEL = 0.999     # an input sample this loud clips
PREFILL_BLOCKS = 3     # blocks an output holds before it starts: jitter room (adds latency)
MAX_FILL_BLOCKS = 16   # an output holding more makes its writer wait
AUDIO_SUFFIXES = ('.wav', '.flac', '.ogg', '.mp3', '.aif', '.aiff', '.m4a', '.opus')


class DeviceLost(RuntimeError):
  """A sound card stopped or disappeared while playing."""


def sounddevice():
  """The sounddevice module (ConfigError, one line, where PortAudio is missing)."""
  try:
    import sounddevice as sd  # pylint: disable=g-import-not-at-top  # only for sound cards
  except (ImportError, OSError) as e:
    raise ConfigError(f'sound cards need PortAudio and sounddevice ({e}): apt install '
                      'libportaudio2 (Debian, Ubuntu), brew install portaudio (macOS), then pip '
                      'install sounddevice') from None
  return sd


def is_file_target(spec: str) -> bool:
  """An --in/--out that names an audio file rather than a device."""
  return spec.lower().endswith(AUDIO_SUFFIXES) or os.sep in spec or os.path.isfile(spec)


def device_lines() -> list:
  """One line per PortAudio device: number, name, host API, channels in and out, default rate
  (the defaults marked)."""
  sd = sounddevice()
  apis = sd.query_hostapis()
  default_in, default_out = sd.default.device
  lines = []
  for i, d in enumerate(sd.query_devices()):
    mark = ('<' if i == default_in else ' ') + ('>' if i == default_out else ' ')
    lines.append(f'{mark}{i:3d} {d["name"]} ({apis[d["hostapi"]]["name"]}): '
                 f'{d["max_input_channels"]} in, {d["max_output_channels"]} out, '
                 f'{d["default_samplerate"]:.0f} Hz')
  return lines


def _summary(kind: str) -> str:
  """The devices of `kind` ('input' or 'output') in one line, for a refusal."""
  sd = sounddevice()
  key = f'max_{kind}_channels'
  found = [f'{i} {d["name"]!r}' for i, d in enumerate(sd.query_devices()) if d[key] > 0]
  return ', '.join(found) if found else f'none (PortAudio sees no {kind} device)'


def find_device(spec: str, kind: str) -> int:
  """The number of the `kind` ('input' or 'output') device that `spec` names: 'default', a
  number, an exact name, or part of one name (ConfigError listing the devices otherwise)."""
  sd = sounddevice()
  key = f'max_{kind}_channels'
  devices = sd.query_devices()
  if spec in ('', 'default'):
    index = sd.default.device[0 if kind == 'input' else 1]
    if index is None or index < 0:
      raise ConfigError(f'there is no default {kind} device: name one with --{kind[:-3] or "in"}'
                        f'; the {kind} devices are: {_summary(kind)}')
    return int(index)
  if spec.isdigit() and int(spec) < len(devices) and devices[int(spec)][key] > 0:
    return int(spec)
  exact = [i for i, d in enumerate(devices) if d['name'] == spec and d[key] > 0]
  part = [i for i, d in enumerate(devices) if spec.lower() in d['name'].lower() and d[key] > 0]
  if len(exact) == 1 or len(part) == 1:
    return (exact or part)[0]
  flag = '--in' if kind == 'input' else '--out'
  why = 'matches several' if len(part) > 1 else 'matches no'
  raise ConfigError(f'{flag}={spec} {why} {kind} device: give one of {_summary(kind)} (by number '
                    'or name; --list_devices shows them all)')


def default_rate(spec: str, kind: str) -> int:
  """The default sample rate of the device that `spec` names."""
  sd = sounddevice()
  return int(sd.query_devices(find_device(spec, kind))['default_samplerate'])


def _refused(e: Exception, flag: str, spec: str, rate: int) -> ConfigError:
  """The one line for a device that would not open."""
  try:
    own = f' (its own rate is {default_rate(spec, "input" if flag == "--in" else "output"):d} Hz)'
  except ConfigError:
    own = ''
  return ConfigError(f'{flag}={spec} would not open at {rate} Hz{own}: {e}; give another '
                     '--rate, or another device (--list_devices)')


class DeviceIn:
  """A sound-card input: mono blocks of `block` frames at `rate`, from PortAudio's callback."""

  live = True

  def __init__(self, spec: str, rate: int, block: int):
    sd = sounddevice()
    self.rate, self.block, self.blocks = rate, block, queue.Queue()
    self.index = find_device(spec, 'input')
    self.description = f'input device {self.index} {sd.query_devices(self.index)["name"]!r}'
    self.overflows, self.finished = 0, threading.Event()
    try:
      self.stream = sd.InputStream(device=self.index, samplerate=rate, blocksize=block,
                                   channels=1, dtype='float32', callback=self._callback,
                                   finished_callback=self.finished.set)
    except sd.PortAudioError as e:
      raise _refused(e, '--in', spec, rate) from None
    self.started = False

  def _callback(self, indata, frames, time_info, status) -> None:
    del frames, time_info
    self.overflows += bool(status.input_overflow)
    self.blocks.put(indata[:, 0].copy())

  @property
  def latency_s(self) -> float:
    return float(self.stream.latency)

  def read(self):
    """The next block [block] float32 (DeviceLost when the device stops delivering); the first
    call starts the device (so nothing piles up before the loop runs)."""
    if not self.started:
      self.started = True
      self.stream.start()
    try:
      return self.blocks.get(timeout=LOST_AFTER_S)
    except queue.Empty:
      raise DeviceLost(f'the {self.description} stopped delivering audio (gone, or its server '
                       'stopped)') from None

  def close(self) -> None:
    close_stream(self.stream)


def close_stream(stream, timeout_s: float = 2.0) -> bool:
  """Close a PortAudio stream, giving up after timeout_s (a vanished JACK server makes PortAudio
  wait for ever); True if it closed."""
  def close():
    try:
      stream.close(ignore_errors=True)
    except Exception:  # pylint: disable=broad-except  # a vanished device cannot be closed
      pass
  closer = threading.Thread(target=close, name='close-device', daemon=True)
  closer.start()
  closer.join(timeout_s)
  return not closer.is_alive()


class Paced:
  """Blocks of a finite or streamed source, handed out no faster than real time."""

  live = False
  latency_s = 0.0

  def __init__(self, rate: int, block: int):
    self.rate, self.block, self.count, self.t0 = rate, block, 0, None

  def _wait(self) -> None:
    if self.t0 is None:
      self.t0 = time.monotonic()
    due = self.t0 + self.count * self.block / self.rate
    time.sleep(max(0.0, due - time.monotonic()))
    self.count += 1

  def close(self) -> None:
    pass


class FileIn(Paced):
  """A recording played in real time, resampled to `rate` and mixed to mono."""

  def __init__(self, path: str, rate: int, block: int):
    super().__init__(rate, block)
    self.audio = audio_io.load_audio(path, rate, source='--in')
    self.description = f'{path} (played in real time)'

  def read(self):
    """The next block [block] (the last one shorter), or None at the end."""
    i = self.count * self.block
    if i >= len(self.audio):
      return None
    self._wait()
    return self.audio[i:i + self.block].astype(np.float32)


class StdinIn(Paced):
  """A WAV stream on standard input, mixed to mono and resampled to `rate` as it comes."""

  def __init__(self, rate: int, block: int, f=None):
    super().__init__(rate, block)
    try:
      self.reader = wavstream.WavReader(f or sys.stdin.buffer)
    except wavstream.WavStreamError as e:
      raise ConfigError(str(e)) from None
    r = self.reader
    self.notes = [f'standard input has {r.channels} channels: they are mixed to one'] * (
        r.channels > 1)
    self.resampler = None
    if r.sample_rate != rate:
      import soxr  # pylint: disable=g-import-not-at-top  # librosa's resampler, only when needed
      self.resampler = soxr.ResampleStream(r.sample_rate, rate, 1, dtype='float32')
    self.description = f'standard input (a WAV stream, {r.sample_rate} Hz)'
    self.pending, self.clips = np.zeros(0, np.float32), False

  def read(self):
    """The next block [block] (the last one shorter), or None when the stream has ended.
    `clips` turns True once a sample of any channel reached full scale."""
    while len(self.pending) < self.block and not self.reader.ended:
      x = self.reader.read(max(1, round(self.block * self.reader.sample_rate / self.rate)))
      self.clips = self.clips or bool(x.size and np.max(np.abs(x)) >= CLIP_LEVEL)
      x = x.mean(axis=0).astype(np.float32)
      if self.resampler is not None:
        x = self.resampler.resample_chunk(x, last=self.reader.ended)
      self.pending = np.concatenate([self.pending, x])
    if not len(self.pending):
      return None
    out, self.pending = self.pending[:self.block], self.pending[self.block:]
    self._wait()
    return out


def check_specs(inp: str, out: str) -> None:
  """ConfigError (one line) for an --in or --out that cannot work, before anything loads: a
  missing input file, an output file in a folder that cannot be made, an unknown device."""
  if inp != '-' and is_file_target(inp) and not os.path.isfile(inp):
    raise ConfigError(f'--in={inp}: no such file (give a recording, - for standard input, or '
                      'a device: --list_devices)')
  if inp != '-' and not is_file_target(inp):
    find_device(inp, 'input')
  if out != '-' and not is_file_target(out):
    find_device(out, 'output')


def open_input(spec: str, rate: int, block: int):
  """The input that --in names (see the module docstring)."""
  if spec == '-':
    return StdinIn(rate, block)
  if is_file_target(spec):
    check_specs(spec, '-')
    return FileIn(spec, rate, block)
  return DeviceIn(spec, rate, block)


class DeviceOut:
  """A sound-card output fed by `write`; it starts once PREFILL_BLOCKS are queued, and counts an
  underrun each time its callback finds too little (it plays silence for the missing part)."""

  def __init__(self, spec: str, rate: int, block: int):
    sd = sounddevice()
    self.rate, self.block = rate, block
    self.index = find_device(spec, 'output')
    info = sd.query_devices(self.index)
    self.channels = min(2, int(info['max_output_channels']))
    self.description = f'output device {self.index} {info["name"]!r}'
    self.fifo, self.held, self.lock = collections.deque(), 0, threading.Lock()
    self.underruns, self.started, self.finished = 0, False, threading.Event()
    self.closing = False
    try:
      self.stream = sd.OutputStream(device=self.index, samplerate=rate, blocksize=block,
                                    channels=self.channels, dtype='float32',
                                    callback=self._callback, finished_callback=self.finished.set)
    except sd.PortAudioError as e:
      raise _refused(e, '--out', spec, rate) from None

  @property
  def latency_s(self) -> float:
    return float(self.stream.latency) + PREFILL_BLOCKS * self.block / self.rate

  def _take(self, n: int) -> np.ndarray:
    """Up to n queued samples (fewer when the queue runs dry)."""
    out, got = [], 0
    with self.lock:
      while got < n and self.fifo:
        x = self.fifo.popleft()
        if got + len(x) > n:
          self.fifo.appendleft(x[n - got:])
          x = x[:n - got]
        out.append(x)
        got += len(x)
      self.held -= got
    return np.concatenate(out) if out else np.zeros(0, np.float32)

  def _callback(self, outdata, frames, time_info, status) -> None:
    del time_info, status
    x = self._take(frames)
    if len(x) < frames and not self.closing:   # the end of a session is no underrun
      self.underruns += 1
      x = np.concatenate([x, np.zeros(frames - len(x), np.float32)])
    outdata[:] = x[:, None]

  def write(self, x: np.ndarray) -> None:
    """Queue [n] samples (waits while the device holds MAX_FILL_BLOCKS; DeviceLost if the device
    has stopped)."""
    if self.finished.is_set():
      raise DeviceLost(f'the {self.description} stopped (gone, or its server stopped)')
    with self.lock:
      self.fifo.append(np.asarray(x, np.float32))
      self.held += len(x)
    if not self.started and self.held >= PREFILL_BLOCKS * self.block:
      self.started = True
      self.stream.start()
    deadline = time.monotonic() + LOST_AFTER_S
    while self.started and self.held > MAX_FILL_BLOCKS * self.block:
      if time.monotonic() > deadline or self.finished.is_set():
        raise DeviceLost(f'the {self.description} stopped taking audio (gone, or its server '
                         'stopped)')
      time.sleep(self.block / self.rate / 2)

  def close(self) -> None:
    self.closing = True
    if self.started and not self.finished.is_set():
      time.sleep(min(1.0, self.held / self.rate))   # let the queued sound play out
    close_stream(self.stream)


class WavOut:
  """A WAV file (new, never over another) or a WAV stream on standard output."""

  latency_s = 0.0
  underruns = 0

  def __init__(self, spec: str, rate: int):
    if spec == '-':
      self.writer = wavstream.WavWriter.pipe(sys.stdout.buffer, 1, rate)
      self.description = 'standard output'
    else:
      os.makedirs(os.path.dirname(os.path.abspath(spec)), exist_ok=True)
      self.writer = wavstream.WavWriter.create(files.unique_path(spec), 1, rate)
      self.description = self.writer.f.name

  def write(self, x: np.ndarray) -> None:
    self.writer.write(np.asarray(x)[None])

  def close(self) -> None:
    try:
      self.writer.close()
    except BrokenPipeError:
      pass


def open_output(spec: str, rate: int, block: int):
  """The output that --out names (see the module docstring)."""
  if spec == '-' or is_file_target(spec):
    return WavOut(spec, rate)
  return DeviceOut(spec, rate, block)
