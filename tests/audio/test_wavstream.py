"""WavReader, the streaming counterpart of WavWriter: against libsndfile's reading of the same
bytes, through a real OS pipe, and on streams of unknown length."""
import io
import os
import struct
import threading

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
