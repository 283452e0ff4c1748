"""WAV files written while they grow, and WAV streams on pipes (stream mode's outputs).

16-bit PCM, the format every player, DAW and pipe tool reads. A file's header is rewritten with
the length so far at least every `header_every_s` seconds of wall time (and at the end), so it is
a valid WAV of everything up to then even while it grows, or after the writer is killed. A pipe
cannot seek back: its header gives the unknown length 0xFFFFFFFF in the RIFF and data sizes, the
convention of WAV on pipes, meant for players that read WAV from a pipe (aplay, ffplay, sox) as
"until the stream ends"; libsndfile reads such a stream whole.
"""
import os
import struct
import time

import numpy as np

UNKNOWN = 0xFFFFFFFF
HEADER_BYTES = 44


def header(channels: int, sample_rate: int, data_bytes: int = UNKNOWN) -> bytes:
  """The 44-byte header of a 16-bit PCM WAV of `data_bytes` (UNKNOWN: a stream)."""
  riff = UNKNOWN if data_bytes == UNKNOWN else min(UNKNOWN, 36 + data_bytes)
  return (b'RIFF' + struct.pack('<I', riff) + b'WAVEfmt ' +
          struct.pack('<IHHIIHH', 16, 1, channels, sample_rate, sample_rate * channels * 2,
                      channels * 2, 16) +
          b'data' + struct.pack('<I', min(data_bytes, UNKNOWN)))


def to_pcm16(audio: np.ndarray) -> bytes:
  """[C, n] float audio in [-1, 1] -> interleaved little-endian int16 bytes (clipped)."""
  x = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
  return np.round(x.T * 32767.0).astype('<i2').tobytes()


class WavWriter:
  """A 16-bit PCM WAV of `channels` channels written as it grows, to a file or a pipe.

    with WavWriter.create(path, 2, 11025) as w:   # a new file (never over another)
      w.write(audio)                               # [2, n] float
  """

  def __init__(self, f, channels: int, sample_rate: int, seekable: bool,
               header_every_s: float = 1.0, owns_file: bool = True):
    self.f, self.channels, self.sample_rate = f, channels, sample_rate
    self.seekable, self.header_every_s, self.owns_file = seekable, header_every_s, owns_file
    self.frames = 0
    self._header_at = time.monotonic()
    self.f.write(header(channels, sample_rate, 0 if seekable else UNKNOWN))
    self.f.flush()

  @classmethod
  def create(cls, path: str, channels: int, sample_rate: int, **kw) -> 'WavWriter':
    """A new file at `path` (FileExistsError if something is there: nothing is overwritten)."""
    f = open(path, 'xb')  # pylint: disable=consider-using-with  # closed by close()
    return cls(f, channels, sample_rate, seekable=True, **kw)

  @classmethod
  def pipe(cls, f, channels: int, sample_rate: int) -> 'WavWriter':
    """A stream on the binary file `f` (e.g. sys.stdout.buffer), left open at the end."""
    return cls(f, channels, sample_rate, seekable=False, owns_file=False)

  @property
  def seconds(self) -> float:
    return self.frames / self.sample_rate

  def write(self, audio: np.ndarray) -> None:
    """Append [channels, n] float audio (BrokenPipeError if a pipe's reader has gone)."""
    audio = np.asarray(audio)
    if audio.shape[0] != self.channels:
      raise ValueError(f'audio has {audio.shape[0]} channels, the file {self.channels}')
    if audio.shape[1] == 0:
      return
    self.f.write(to_pcm16(audio))
    self.frames += audio.shape[1]
    if not self.seekable:
      self.f.flush()
    elif time.monotonic() - self._header_at >= self.header_every_s:
      self.update_header()

  def update_header(self) -> None:
    """Write the length so far into a file's header (and flush), so that it is valid as it is."""
    if not self.seekable:
      return
    end = self.f.tell()
    self.f.seek(0)
    self.f.write(header(self.channels, self.sample_rate, self.frames * self.channels * 2))
    self.f.seek(end)
    self.f.flush()
    self._header_at = time.monotonic()

  def close(self) -> None:
    """The final header, then close (a pipe is flushed and left open)."""
    if self.f.closed:
      return
    try:
      self.update_header()
      self.f.flush()
    finally:
      if self.owns_file:
        self.f.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


def is_pipe_target(out: str) -> bool:
  """--out=- means standard output."""
  return out == '-'


def is_dir_target(out: str) -> bool:
  """--out=DIR/ (a trailing slash, or an existing folder) means one file per stream."""
  return out.endswith(os.sep) or os.path.isdir(out)


class WavStreamError(ValueError):
  """A WAV stream that cannot be read (one line: what is wrong, what to do)."""


_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_FMT_MAX = 1024        # fmt chunk bytes kept (40 with WAVE_FORMAT_EXTENSIBLE); the rest skipped
_SKIP_PIECE = 1 << 16  # other chunks are skipped in reads of at most this many bytes
_PIPE_HINT = 'pipe a WAV, e.g. arecord -f S16_LE -r 48000 -c 1 -t wav - | audiolstm play --in=-'


class WavReader:
  """A WAV stream read as it arrives, without seeking (a pipe): PCM 8/16/24/32-bit or float32,
  any channels; an unknown length (0xFFFFFFFF, or 0 on a stream) reads to the end.

    r = WavReader(sys.stdin.buffer)
    block = r.read(256)     # [channels, n <= 256] float32 in [-1, 1]; n == 0 at the end
  """

  def __init__(self, f, name: str = 'standard input'):
    self.f, self.name, self._ended = f, name, False
    head = self._exact(12, 'its header')
    if head[:4] != b'RIFF' or head[8:12] != b'WAVE':
      raise WavStreamError(f'{name} is not a WAV stream (it starts with {head[:12]!r}): '
                           f'{_PIPE_HINT}')
    fmt = None
    while True:
      chunk = self._exact(8, 'its header')
      kind, size = chunk[:4], struct.unpack('<I', chunk[4:])[0]
      if kind == b'data':
        break
      what, kept = f'its {kind!r} chunk', b''
      if kind == b'fmt ':
        fmt = kept = self._exact(min(size, _FMT_MAX), what)
      self._skip(size + (size & 1) - len(kept), what)
    if fmt is None:
      raise WavStreamError(f'{name} has no fmt chunk before its data: {_PIPE_HINT}')
    self._format(fmt)
    self.remaining = None if size in (0, UNKNOWN) else size
    self.frame_bytes = self.channels * self.sample_width
    self.leftover = b''

  def _exact(self, n: int, what: str) -> bytes:
    data = b''
    while len(data) < n:
      more = self.f.read(n - len(data))
      if not more:
        raise WavStreamError(f'{self.name} ended inside {what}: {_PIPE_HINT}')
      data += more
    return data

  def _skip(self, n: int, what: str) -> None:
    """Reads past n bytes (an unknown chunk) in bounded pieces, whatever size it claims."""
    while n > 0:
      n -= len(self._exact(min(n, _SKIP_PIECE), what))

  @property
  def ended(self) -> bool:
    """True once the stream ended (EOF, or the data chunk's known size was read)."""
    return self._ended

  def _format(self, fmt: bytes) -> None:
    if len(fmt) < 16:
      raise WavStreamError(f'{self.name} has a fmt chunk of {len(fmt)} bytes (a WAV has 16 or '
                           f'more): {_PIPE_HINT}')
    tag, channels, rate = struct.unpack('<HHI', fmt[:8])
    bits = struct.unpack('<H', fmt[14:16])[0]
    if tag == _EXTENSIBLE and len(fmt) >= 26:
      tag = struct.unpack('<H', fmt[24:26])[0]
    ok = (tag == _PCM and bits in (8, 16, 24, 32)) or (tag == _FLOAT and bits == 32)
    if not ok or channels < 1 or rate < 1:
      raise WavStreamError(f'{self.name} is a WAV of format tag {tag} with {bits}-bit samples, '
                           f'{channels} channels at {rate} Hz: play reads PCM (tag 1) '
                           '8/16/24/32-bit or IEEE float (tag 3) 32-bit, also as '
                           'WAVE_FORMAT_EXTENSIBLE, 1 or more channels (e.g. arecord -f S16_LE)')
    self.tag, self.channels, self.sample_rate, self.sample_width = tag, channels, rate, bits // 8

  def _decode(self, data: bytes) -> np.ndarray:
    """Whole frames of bytes -> [channels, n] float32."""
    w = self.sample_width
    if self.tag == _FLOAT:   # clipped to full scale, NaN read as silence
      x = np.clip(np.nan_to_num(np.frombuffer(data, '<f4'), nan=0.0), -1.0, 1.0)
    elif w == 1:
      x = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif w == 3:
      b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
      x = ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8) / 8388608.0
    else:
      x = np.frombuffer(data, f'<i{w}') / float(2 ** (8 * w - 1))
    return np.asarray(x, np.float32).reshape(-1, self.channels).T

  def read(self, frames: int) -> np.ndarray:
    """[channels, n] the next n <= frames frames (waits for them; n == 0 only at the end).
    A partial frame at the end of the stream is dropped."""
    if frames < 1:
      raise ValueError(f'read {frames} frames: give 1 or more')
    want = frames * self.frame_bytes
    if self.remaining is not None:
      want = min(want, self.remaining - self.remaining % self.frame_bytes)
    data = self.leftover
    while len(data) < want and not self._ended:
      more = self.f.read(want - len(data))
      if not more:
        self._ended = True
      data += more
    whole = len(data) // self.frame_bytes * self.frame_bytes
    data, self.leftover = data[:whole], data[whole:want] if not self._ended else b''
    if self.remaining is not None:
      self.remaining -= whole
      self._ended = self._ended or self.remaining < self.frame_bytes
    return self._decode(data)
