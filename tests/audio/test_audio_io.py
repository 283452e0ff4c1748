"""Tests for audiolstm.audio.audio_io and the bundled default recording (real files, no mocks)."""

import os

import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio.audio_io import AudioError
from audiolstm.audio.audio_io import DEFAULT_AUDIO
from audiolstm.audio.audio_io import load_audio
from audiolstm.audio.audio_io import load_many
from audiolstm.audio.audio_io import training_files
from audiolstm.audio.audio_io import write_wav
from audiolstm.files import unique_path

SR = 11025


# ---------------------------------------------------------------- bundled default.wav


@pytest.fixture(scope='module')
def default_audio():
  return load_audio(DEFAULT_AUDIO, SR)


def test_default_audio_is_bundled_and_well_formed(default_audio):
  assert os.path.isabs(DEFAULT_AUDIO) and os.path.isfile(DEFAULT_AUDIO)
  assert os.path.getsize(DEFAULT_AUDIO) < 600 * 1024
  info = sf.info(DEFAULT_AUDIO)
  assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, 'PCM_16', 'WAV')
  y = default_audio
  assert y.dtype == np.float32 and y.ndim == 1
  assert 10.0 <= y.size / SR <= 30.0
  assert np.all(np.isfinite(y))
  peak = float(np.max(np.abs(y)))
  assert 0.5 < peak <= 1.0
  assert float(np.sqrt(np.mean(y**2))) > 0.02  # not silent
  assert abs(float(np.mean(y))) < 1e-3  # no DC offset


def test_default_audio_has_notes_and_pitch(default_audio):
  import librosa

  y = default_audio
  onsets = librosa.onset.onset_detect(y=y, sr=SR, units='time')
  assert len(onsets) >= 8
  assert onsets[-1] - onsets[0] > 10.0  # notes spread over the whole piece

  # clear pitched content: strong, narrow spectral peaks (tonal, not noise)
  spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=512)) ** 2
  flatness = librosa.feature.spectral_flatness(S=spec, power=1.0)[0]
  loud = spec.sum(axis=0) > 0.01 * spec.sum(axis=0).max()
  assert np.median(flatness[loud]) < 0.01

  # a tune in C major: the C-major pitch classes carry most of the chroma energy
  chroma = librosa.feature.chroma_stft(S=spec, sr=SR).mean(axis=1)
  c_major = [0, 2, 4, 5, 7, 9, 11]
  assert chroma[c_major].sum() / chroma.sum() > 0.7
  assert int(np.argmax(chroma)) == 0  # tonic C is the strongest


def test_default_audio_generator_is_deterministic(tmp_path):
  from audiolstm.data import make_default_audio

  out = str(tmp_path / 'regen.wav')
  make_default_audio.main(['--out', out])
  assert np.array_equal(sf.read(out, dtype='int16')[0], sf.read(DEFAULT_AUDIO, dtype='int16')[0])


# ---------------------------------------------------------------- round trips / resampling


def test_write_then_load_round_trip(tmp_path):
  rng = np.random.default_rng(0)
  t = np.arange(SR * 2) / SR
  x = (0.6 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
  path = str(tmp_path / 'rt.wav')
  assert write_wav(path, x, SR) == path
  info = sf.info(path)
  assert (info.samplerate, info.channels, info.subtype) == (SR, 1, 'PCM_16')
  y = load_audio(path, SR)
  assert y.dtype == np.float32 and y.shape == x.shape
  assert np.max(np.abs(y - x)) < 2.0 / 32768


def test_write_wav_clips_and_rejects_non_finite(tmp_path):
  path = str(tmp_path / 'nested' / 'dir' / 'clip.wav')  # parent directories are created
  write_wav(path, np.array([2.0, -3.0, 0.5, 0.0]), SR)
  y = load_audio(path, SR)
  assert y.max() <= 1.0 and y.min() >= -1.0
  np.testing.assert_allclose(y, [1.0, -1.0, 0.5, 0.0], atol=1e-4)
  bad = str(tmp_path / 'bad.wav')
  with pytest.raises(ValueError):
    write_wav(bad, np.array([0.0, np.nan, 0.1]), SR)
  with pytest.raises(ValueError):
    write_wav(bad, np.array([0.0, np.inf]), SR)
  assert not os.path.exists(bad)
  assert os.listdir(tmp_path) == ['nested']  # no temp files left behind


def test_load_resamples_stereo_flac(tmp_path):
  sr_in, freq, dur = 22050, 660.0, 1.5
  t = np.arange(int(sr_in * dur)) / sr_in
  left = 0.5 * np.sin(2 * np.pi * freq * t)
  stereo = np.stack([left, 0.8 * left], axis=1)
  path = str(tmp_path / 'tone.flac')
  sf.write(path, stereo, sr_in, format='FLAC')
  y = load_audio(path, SR)
  assert y.dtype == np.float32 and y.ndim == 1
  assert abs(y.size - dur * SR) <= 0.01 * dur * SR
  spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
  peak_hz = np.fft.rfftfreq(y.size, 1.0 / SR)[np.argmax(spectrum)]
  assert abs(peak_hz - freq) < 2.0
  assert abs(np.max(np.abs(y)) - 0.45) < 0.03  # mono = mean of the channels


def test_load_many_concatenates(tmp_path):
  a, b = str(tmp_path / 'a.wav'), str(tmp_path / 'b.wav')
  write_wav(a, np.full(100, 0.25), SR)
  write_wav(b, np.full(50, -0.5), SR)
  y = load_many([a, b], SR)
  assert y.dtype == np.float32 and y.shape == (150,)
  np.testing.assert_allclose(y[:100], 0.25, atol=1e-4)
  np.testing.assert_allclose(y[100:], -0.5, atol=1e-4)
  with pytest.raises(AudioError):
    load_many([a, str(tmp_path / 'missing.wav')], SR)


def test_training_files_fall_back_to_the_bundled_recording():
  assert training_files(()) == training_files(None) == [DEFAULT_AUDIO]
  assert training_files(('a.wav', 'b.wav')) == ['a.wav', 'b.wav']
  assert training_files('a.wav') == ['a.wav']


# ---------------------------------------------------------------- errors


def _assert_one_line_error(path, match):
  with pytest.raises(AudioError) as info:
    load_audio(path, SR)
  msg = str(info.value)
  assert path in msg
  assert '\n' not in msg and 'Traceback' not in msg
  assert match in msg
  assert isinstance(info.value, ValueError)
  return msg


def test_missing_file(tmp_path):
  path = str(tmp_path / 'nope.wav')
  msg = _assert_one_line_error(path, 'not found')
  assert 'input_files' in msg


def test_empty_file(tmp_path):
  path = tmp_path / 'empty.wav'
  path.write_bytes(b'')
  _assert_one_line_error(str(path), 'empty')


def test_garbage_file(tmp_path, recwarn):
  path = tmp_path / 'garbage.mp3'
  path.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
  _assert_one_line_error(str(path), 'could not decode')
  truncated = tmp_path / 'truncated.wav'
  truncated.write_bytes(b'RIFF\x00\x00')
  _assert_one_line_error(str(truncated), 'could not decode')
  assert not [
      w for w in recwarn.list if 'audioread' in str(w.message) or 'PySoundFile' in str(w.message)
  ]


def test_directory(tmp_path):
  _assert_one_line_error(str(tmp_path), 'could not decode')


def test_non_finite_and_zero_sample_files(tmp_path):
  nan_path = tmp_path / 'nan.wav'
  sf.write(str(nan_path), np.array([0.1, np.nan, 0.2] * 50, dtype=np.float32), SR, subtype='FLOAT')
  _assert_one_line_error(str(nan_path), 'non-finite')
  zero = tmp_path / 'zero.wav'
  sf.write(str(zero), np.zeros(0, dtype=np.float32), SR)
  _assert_one_line_error(str(zero), 'no samples')


# ---------------------------------------------------------------- atomic write / unique_path


def test_write_wav_atomic_overwrite_leaves_no_temp_files(tmp_path):
  path = str(tmp_path / 'out.wav')
  write_wav(path, np.zeros(10), SR)
  write_wav(path, np.full(20, 0.5), SR)  # replaces in one step
  assert sorted(os.listdir(tmp_path)) == ['out.wav']
  assert not any(n.startswith('.') or n.endswith('.tmp') for n in os.listdir(tmp_path))
  assert load_audio(path, SR).shape == (20,)


def test_unique_path_never_returns_existing(tmp_path):
  path = str(tmp_path / 'take.wav')
  assert unique_path(path) == path
  seen = set()
  for _ in range(4):
    p = unique_path(path)
    assert not os.path.exists(p) and p not in seen
    seen.add(p)
    write_wav(p, np.zeros(4), SR)
  assert seen == {
      path,
      str(tmp_path / 'take-1.wav'),
      str(tmp_path / 'take-2.wav'),
      str(tmp_path / 'take-3.wav'),
  }
  noext = tmp_path / 'noext'
  noext.mkdir()
  assert unique_path(str(noext)) == str(noext) + '-1'


def test_a_missing_file_is_told_with_where_its_path_came_from(tmp_path):
  missing = str(tmp_path / 'nope.wav')
  with pytest.raises(AudioError, match=r'config\.input_files'):
    load_audio(missing, 11025)
  with pytest.raises(AudioError) as e:
    load_audio(missing, 11025, source='the /audiolstm/seed message')
  assert 'the /audiolstm/seed message' in str(e.value) and 'input_files' not in str(e.value)
