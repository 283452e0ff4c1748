"""Tests for audiolstm.spectral: frames and magnitudes against naive NumPy loops."""

import numpy as np
import pytest

from audiolstm import spectral


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
