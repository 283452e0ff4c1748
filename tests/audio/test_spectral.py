"""Tests for audiolstm.audio.spectral: frames and magnitudes against naive NumPy loops."""

import numpy as np
import pytest

from audiolstm.audio import spectral


def _naive_frame_indices(num_samples, window, hop):
  rows = []
  start = 0
  while start + window <= num_samples:
    rows.append([start + i for i in range(window)])
    start += hop
  return np.array(rows, dtype=np.int64).reshape(len(rows), window)


def test_frame_indices_matches_naive_loop():
  rng = np.random.default_rng(0)
  cases = [(0, 4, 1), (3, 4, 2), (4, 4, 3), (5, 4, 1), (10, 10, 7), (11, 3, 11)]
  for _ in range(200):
    window = int(rng.integers(1, 40))
    hop = int(rng.integers(1, 50))
    num_samples = int(rng.integers(0, 200))
    cases.append((num_samples, window, hop))
  saw_empty = False
  for num_samples, window, hop in cases:
    got = spectral.frame_indices(num_samples, window, hop)
    want = _naive_frame_indices(num_samples, window, hop)
    assert got.shape == want.shape, (num_samples, window, hop)
    assert np.issubdtype(got.dtype, np.integer)
    np.testing.assert_array_equal(got, want)
    if num_samples < window:
      assert got.shape == (0, window)
      saw_empty = True
  assert saw_empty


def test_num_bins():
  assert spectral.num_bins(64, True) == 64
  assert spectral.num_bins(64, False) == 32
  assert spectral.num_bins(7, False) == 3


def _naive_magnitudes(audio, window, hop, zero_padding):
  win = np.blackman(window)
  out = []
  start = 0
  while start + window <= len(audio):
    frame = audio[start : start + window].astype(np.float64) * win
    if zero_padding:
      mags = np.abs(np.fft.fft(np.concatenate([frame, np.zeros(window)])))[:window]
    else:
      mags = np.abs(np.fft.fft(frame))[: window // 2]
    out.append(mags)
    start += hop
  bins = window if zero_padding else window // 2
  return np.array(out).reshape(len(out), bins)


@pytest.mark.parametrize('zero_padding', [True, False])
@pytest.mark.parametrize(
    'window,hop,num_samples', [(16, 4, 100), (33, 10, 200), (64, 64, 64), (8, 3, 5)]
)
def test_magnitude_frames_matches_loop(zero_padding, window, hop, num_samples):
  rng = np.random.default_rng(window * 1000 + hop)
  audio = rng.standard_normal(num_samples).astype(np.float32)
  got = spectral.magnitude_frames(audio, window, hop, zero_padding)
  want = _naive_magnitudes(audio, window, hop, zero_padding)
  assert got.dtype == np.float32
  assert (
      got.shape
      == want.shape
      == (
          spectral.frame_indices(num_samples, window, hop).shape[0],
          spectral.num_bins(window, zero_padding),
      )
  )
  if want.size:
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * want.max())


def test_normalise_and_scale():
  frames = np.array([[0.0, 2.0], [1.0, 4.0]], dtype=np.float32)
  scale = spectral.spectral_scale(frames)
  assert scale == 4.0
  out = spectral.normalise(frames, scale)
  assert out.dtype == np.float32
  np.testing.assert_allclose(out, frames / 4.0)


def test_spectral_scale_raises_on_silence():
  silent = spectral.magnitude_frames(np.zeros(256, np.float32), 32, 8, True)
  with pytest.raises(ValueError, match='silent'):
    spectral.spectral_scale(silent)
  with pytest.raises(ValueError):
    spectral.spectral_scale(np.array([[np.nan, 1.0]]))
  with pytest.raises(ValueError):
    spectral.spectral_scale(np.array([[np.inf, 1.0]]))
  with pytest.raises(ValueError):
    spectral.spectral_scale(np.zeros((0, 4)))


def _naive_power_spectrogram(audio, n_fft, hop):
  """|DFT|^2 of each Hann-windowed frame centred on f * hop (zeros outside the signal)."""
  window = np.array([0.5 - 0.5 * np.cos(2 * np.pi * (i + 1) / (n_fft + 1)) for i in range(n_fft)])
  num_frames = max(1, 1 + (len(audio) + 2 * (n_fft // 2) - n_fft) // hop)
  k = np.arange(n_fft // 2 + 1)[:, None] * np.arange(n_fft)[None, :]
  rows = []
  for f in range(num_frames):
    frame = [audio[j] if 0 <= j < len(audio) else 0.0
             for j in range(f * hop - n_fft // 2, f * hop - n_fft // 2 + n_fft)]
    rows.append(np.abs(np.exp(-2j * np.pi * k / n_fft) @ (np.array(frame) * window)) ** 2)
  return np.array(rows)


@pytest.mark.parametrize('num_samples, n_fft, hop', [(100, 16, 4), (37, 16, 5), (3, 16, 4),
                                                     (0, 8, 2), (64, 32, 32)])
def test_power_spectrogram_matches_naive_dft(num_samples, n_fft, hop):
  audio = np.random.default_rng(num_samples).standard_normal(num_samples)
  got = spectral.power_spectrogram(audio, n_fft, hop)
  want = _naive_power_spectrogram(audio, n_fft, hop)
  assert got.shape == want.shape and got.dtype == np.float64
  np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
  batches = list(spectral.power_batches(audio, n_fft, hop, max_frames=3))
  assert all(len(b) <= 3 for b in batches)
  np.testing.assert_array_equal(np.concatenate(batches), got)
