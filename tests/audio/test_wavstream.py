"""WavReader, the streaming counterpart of WavWriter: against libsndfile's reading of the same
bytes, through a real OS pipe, and on streams of unknown length."""
import io
import os
import struct
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import wavstream


def read_all(reader: wavstream.WavReader, block: int = 700) -> np.ndarray:
  parts = []
  while True:
    x = reader.read(block)
    if not x.shape[1]:
      return np.concatenate(parts, axis=1) if parts else x
    parts.append(x)


def wav_bytes(x: np.ndarray, subtype: str, rate: int = 48000) -> bytes:
  buf = io.BytesIO()
  sf.write(buf, x, rate, subtype=subtype, format='WAV')
  return buf.getvalue()


@pytest.mark.parametrize('subtype', ['PCM_16', 'PCM_24', 'PCM_32', 'FLOAT', 'PCM_U8'])
def test_reads_what_libsndfile_reads(subtype):
  x = np.random.default_rng(0).uniform(-0.9, 0.9, (2501, 2)).astype(np.float32)
  data = wav_bytes(x, subtype)
  want, rate = sf.read(io.BytesIO(data), dtype='float32')
  reader = wavstream.WavReader(io.BytesIO(data))
  assert (reader.sample_rate, reader.channels) == (rate, 2)
  np.testing.assert_allclose(read_all(reader).T, want, atol=1.5 / 2 ** 15)
  assert reader.ended


def test_a_pipe_stream_of_unknown_length_through_an_os_pipe_reads_whole():
  x = np.random.default_rng(1).uniform(-0.9, 0.9, (1, 9000)).astype(np.float32)
  sink = io.BytesIO()
  writer = wavstream.WavWriter.pipe(sink, 1, 11025)
  writer.write(x)
  writer.close()
  data = sink.getvalue()
  r, w = os.pipe()

  def feed():
    with os.fdopen(w, 'wb') as f:
      for i in range(0, len(data), 333):   # odd-sized pieces
        f.write(data[i:i + 333])
        f.flush()

  thread = threading.Thread(target=feed)
  thread.start()
  with os.fdopen(r, 'rb') as f:
    reader = wavstream.WavReader(f)
    assert reader.remaining is None
    got = read_all(reader, block=256)
  thread.join()
  np.testing.assert_allclose(got, np.round(x * 32767) / 32768, atol=1e-6)


def test_chunks_before_the_data_are_skipped():
  data = wav_bytes(np.zeros((10, 1), np.float32) + 0.5, 'PCM_16')
  i = data.index(b'data')
  info = b'LIST' + struct.pack('<I', 5) + b'INFOx' + b'\0'     # an odd size, padded
  patched = data[:i] + info + data[i:]
  got = read_all(wavstream.WavReader(io.BytesIO(patched)))
  np.testing.assert_allclose(got, 0.5, atol=1e-4)


@pytest.mark.parametrize('data,message', [
    (b'hello world, this is not audio', 'not a WAV stream'),
    (b'ID3\x03\x00\x00\x00\x00\x00\x00\xff\xfb', 'not a WAV stream'),
    (b'RIFF\x00\x00\x00\x00WAVEfmt ', 'ended inside'),
    (b'RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00' + struct.pack('<HHIIHH', 2, 1, 8000, 4000,
                                                                    2, 4) + b'data\0\0\0\0',
     'format tag 2'),
])
def test_bad_streams_are_refused_in_one_line(data, message):
  with pytest.raises(wavstream.WavStreamError, match=message) as e:
    wavstream.WavReader(io.BytesIO(data))
  assert '\n' not in str(e.value)


def pipe_reader(data: bytes, piece: int = 333, pause_s: float = 0.0):
  """(the read end of an OS pipe as a binary file, the thread writing `data` into it in pieces)."""
  r, w = os.pipe()

  def feed():
    with os.fdopen(w, 'wb') as f:
      try:
        for i in range(0, len(data), piece):
          f.write(data[i:i + piece])
          f.flush()
          time.sleep(pause_s)
      except BrokenPipeError:   # the reader stopped early
        pass

  thread = threading.Thread(target=feed, daemon=True)
  thread.start()
  return os.fdopen(r, 'rb'), thread


def set_chunk_size(data: bytes, kind: bytes, size: int) -> bytes:
  i = data.index(kind) + 4
  return data[:i] + struct.pack('<I', size) + data[i + 4:]


@pytest.mark.parametrize('fmt,subtype,channels,width,lsb', [
    ('WAV', 'PCM_U8', 1, 1, 2.0 ** -7),
    ('WAV', 'PCM_16', 1, 2, 2.0 ** -15),
    ('WAV', 'PCM_24', 2, 3, 2.0 ** -23),
    ('WAV', 'PCM_32', 2, 4, 2.0 ** -24),   # float32's own resolution near full scale
    ('WAV', 'FLOAT', 3, 4, 0.0),
    ('WAVEX', 'PCM_16', 1, 2, 2.0 ** -15),
    ('WAVEX', 'PCM_24', 3, 3, 2.0 ** -23),
    ('WAVEX', 'PCM_32', 2, 4, 2.0 ** -24),
    ('WAVEX', 'FLOAT', 2, 4, 0.0),
])
def test_every_encoding_is_within_one_lsb_of_libsndfile(fmt, subtype, channels, width, lsb):
  rng = np.random.default_rng(2)
  x = rng.uniform(-1.0, 1.0, (3001, channels)).astype(np.float32)
  x[:4] = [[-1.0], [1.0], [0.0], [-0.5]]   # full scale both ways, silence
  buf = io.BytesIO()
  sf.write(buf, x, 44100, subtype=subtype, format=fmt)
  data = buf.getvalue()
  tag = struct.unpack('<H', data[data.index(b'fmt ') + 8:][:2])[0]
  assert tag == (0xFFFE if fmt == 'WAVEX' else 3 if subtype == 'FLOAT' else 1)
  assert (b'fact' in data[:data.index(b'data')]) == (fmt == 'WAVEX' or subtype == 'FLOAT')
  want, _ = sf.read(io.BytesIO(data), dtype='float64', always_2d=True)
  reader = wavstream.WavReader(io.BytesIO(data))
  assert (reader.sample_rate, reader.channels, reader.sample_width) == (44100, channels, width)
  assert reader.remaining == 3001 * channels * width
  got = read_all(reader, block=1000)
  assert got.dtype == np.float32 and got.shape == (channels, 3001)
  assert np.max(np.abs(got.T - want)) <= lsb
  assert np.max(np.abs(got)) <= 1.0
  assert reader.ended and reader.remaining == 0


def test_reads_wait_for_whole_blocks_from_a_slow_pipe_and_stop_at_the_data_size():
  x = np.random.default_rng(3).uniform(-0.9, 0.9, (4000, 2)).astype(np.float32)
  data = wav_bytes(x, 'PCM_24')
  want, _ = sf.read(io.BytesIO(data), dtype='float32')
  f, thread = pipe_reader(data + b'LIST\x04\0\0\0INFO', piece=1001, pause_s=0.0005)
  with f:
    reader = wavstream.WavReader(f)
    blocks = []
    while not reader.ended:
      blocks.append(reader.read(300))
      assert reader.ended or blocks[-1].shape == (2, 300)   # never short before the end
    assert [b.shape[1] for b in blocks] == [300] * 13 + [100]
    assert f.read() == b'LIST\x04\0\0\0INFO'   # nothing read past the data chunk
  thread.join()
  np.testing.assert_allclose(np.concatenate(blocks, axis=1).T, want, atol=2.0 ** -23)
  assert reader.read(300).shape == (2, 0)


def test_a_partial_frame_at_the_end_is_dropped_and_the_end_stays_the_end():
  x = np.random.default_rng(4).uniform(-0.9, 0.9, (2, 10)).astype(np.float32)
  sink = io.BytesIO()
  wavstream.WavWriter.pipe(sink, 2, 8000).write(x)
  reader = wavstream.WavReader(io.BytesIO(sink.getvalue()[:-3]))   # 9 frames and 1 byte
  assert reader.remaining is None and not reader.ended
  got = reader.read(100)
  assert reader.ended
  np.testing.assert_allclose(got, np.round(x[:, :9] * 32767) / 32768, atol=1e-6)
  for _ in range(2):
    assert reader.read(100).shape == (2, 0)
  with pytest.raises(ValueError):
    reader.read(0)


def test_a_data_size_of_zero_on_a_stream_means_unknown():
  x = np.full((500, 1), 0.25, np.float32)
  data = set_chunk_size(set_chunk_size(wav_bytes(x, 'PCM_16'), b'RIFF', 0), b'data', 0)
  reader = wavstream.WavReader(io.BytesIO(data))
  assert reader.remaining is None
  np.testing.assert_allclose(read_all(reader, block=64), 0.25, atol=2.0 ** -15)


def test_big_and_odd_chunks_before_the_data_are_skipped_through_a_pipe():
  x = np.random.default_rng(5).uniform(-0.9, 0.9, (700, 1)).astype(np.float32)
  data = wav_bytes(x, 'FLOAT')
  i = data.index(b'data')
  junk = b'JUNK' + struct.pack('<I', 200_001) + bytes(200_002)   # > a pipe's buffer, padded
  patched = data[:i] + junk + b'LIST\x03\0\0\0abc\0' + data[i:]
  f, thread = pipe_reader(patched, piece=4099)
  with f:
    got = read_all(wavstream.WavReader(f), block=128)
  thread.join()
  np.testing.assert_array_equal(got[0], x[:, 0])


def test_float_samples_are_clipped_to_full_scale_and_nan_is_silence():
  x = np.array([[2.0], [-3.0], [np.nan], [0.5], [np.inf]], np.float32)
  reader = wavstream.WavReader(io.BytesIO(wav_bytes(x, 'FLOAT')))
  np.testing.assert_array_equal(reader.read(10), [[1.0, -1.0, 0.0, 0.5, 1.0]])


def fmt_chunk(tag: int, channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
  align = channels * bits // 8
  return b'fmt \x10\0\0\0' + struct.pack('<HHIIHH', tag, channels, rate, rate * align, align, bits)


def wavex_with_subformat(subformat: int) -> bytes:
  buf = io.BytesIO()
  sf.write(buf, np.zeros((4, 1), np.float32), 8000, subtype='PCM_16', format='WAVEX')
  data = buf.getvalue()
  i = data.index(b'fmt ') + 8 + 24
  return data[:i] + struct.pack('<H', subformat) + data[i + 2:]


def double_wav() -> bytes:
  return wav_bytes(np.zeros((4, 1)), 'DOUBLE')


@pytest.mark.parametrize('data,message', [
    (b'hello world, this is not audio', r"starts with b'hello world,'\): pipe a WAV, e.g. arecord"),
    (b'RIFF\0\0\0\0AVI LIST', 'not a WAV stream'),
    (b'RIFF\0\0', 'ended inside its header'),
    (b'RIFF\0\0\0\0WAVE' + b'LIST\x40\0\0\0INFO', r"ended inside its b'LIST' chunk"),
    (b'RIFF\0\0\0\0WAVE' + b'JUNK\xf0\xff\xff\xff' + bytes(10), r"ended inside its b'JUNK'"),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(1)[:20], r"ended inside its b'fmt ' chunk"),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(1), 'ended inside its header'),
    (b'RIFF\0\0\0\0WAVEfmt \x08\0\0\0' + bytes(8) + b'data\0\0\0\0', 'fmt chunk of 8 bytes'),
    (b'RIFF\0\0\0\0WAVE' + b'data\0\0\0\0', 'no fmt chunk'),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(1, bits=12) + b'data\0\0\0\0', '12-bit'),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(1, channels=0) + b'data\0\0\0\0', '0 channels'),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(1, rate=0) + b'data\0\0\0\0', 'at 0 Hz'),
    (b'RIFF\0\0\0\0WAVE' + fmt_chunk(0x55) + b'data\0\0\0\0', 'format tag 85'),
    (wavex_with_subformat(2), 'format tag 2 with 16-bit'),
    (double_wav(), 'format tag 3 with 64-bit'),
])
def test_more_bad_streams_are_refused_in_one_line_that_says_what_works(data, message):
  with pytest.raises(wavstream.WavStreamError, match=message) as e:
    wavstream.WavReader(io.BytesIO(data))
  assert '\n' not in str(e.value)
  assert 'arecord' in str(e.value)
  if 'format tag' in message:
    assert 'PCM (tag 1) 8/16/24/32-bit or IEEE float (tag 3) 32-bit' in str(e.value)


class Asked:
  """A binary file that remembers the largest read asked of it."""

  def __init__(self, f):
    self.f, self.most = f, 0

  def read(self, n):
    self.most = max(self.most, n)
    return self.f.read(n)


def test_a_huge_claimed_chunk_on_a_pipe_is_refused_without_a_huge_read():
  r, w = os.pipe()
  os.write(w, b'RIFF\xff\xff\xff\xffWAVE' + b'JUNK\xf0\xff\xff\xff' + bytes(1000))
  os.close(w)
  with os.fdopen(r, 'rb') as f:
    asked = Asked(f)
    with pytest.raises(wavstream.WavStreamError, match="ended inside its b'JUNK' chunk"):
      wavstream.WavReader(asked)
  assert asked.most <= 1 << 16   # a buffered read allocates what it is asked for, up front
