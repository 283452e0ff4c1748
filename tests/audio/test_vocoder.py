"""Tests for audiolstm.audio.vocoder: both paths against a float64 loop over the direct sum."""

import jax
import numpy as np
import pytest

from audiolstm.audio import vocoder

# --------------------------------------------------------------------------
# Plain NumPy references (loops allowed here)
# --------------------------------------------------------------------------


def _peaks_ref(frames):
  frames = np.asarray(frames, dtype=np.float64)
  t, n = frames.shape
  out = np.zeros_like(frames)
  for i in range(t):
    row = np.maximum(frames[i], 0.0)
    for k in range(1, n - 1):
      if row[k] > row[k - 1] and row[k] > row[k + 1]:
        out[i, k] = row[k]
  return out


def _envelope_ref(amps, hop):
  """Piecewise-linear envelope of one bin: amps [T] -> [(T + 1) * hop] float64."""
  p = np.concatenate([[0.0], amps, [0.0]])
  segs = []
  for s in range(len(p) - 1):
    if hop == 1:
      segs.append(np.array([p[s]]))
    else:
      segs.append(np.linspace(p[s], p[s + 1], hop))
  return np.concatenate(segs)


def _vocode_ref(frames, hop, phases=None, offsets=None, use_peaks=True, normalise=True):
  frames = np.asarray(frames, dtype=np.float64)
  t, n = frames.shape
  amps = _peaks_ref(frames) if use_peaks else np.maximum(frames, 0.0)
  idx = np.arange((t + 1) * hop, dtype=np.float64)
  y = np.zeros((t + 1) * hop)
  for k in range(n):
    env = _envelope_ref(amps[:, k], hop)
    if offsets is None:
      y += env * np.sin(np.pi * k * idx / n + phases[k])
    else:
      y += env * np.sin((offsets[k] + idx) * np.pi * k / n)
  if normalise:
    peak = np.max(np.abs(y))
    if peak > 0:
      y = y / peak
  return y


def _phases(n, seed):
  return np.random.default_rng(seed).uniform(0, 2 * np.pi, n).astype(np.float32)


def _frames(t, n, seed, negative=True):
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((t, n)) if negative else rng.random((t, n))
  return x.astype(np.float32)


# --------------------------------------------------------------------------
# peaks
# --------------------------------------------------------------------------


@pytest.mark.parametrize('t,n', [(1, 1), (2, 2), (1, 3), (5, 8), (17, 64)])
def test_peaks_matches_loop(t, n):
  frames = _frames(t, n, seed=t * 100 + n)
  got = np.asarray(vocoder.peaks(frames))
  assert got.shape == (t, n)
  np.testing.assert_array_equal(got, _peaks_ref(frames).astype(np.float32))


def test_peaks_plateaus_and_negatives():
  frames = np.array([[5.0, 1.0, 1.0, 0.5, -1.0, -3.0, -2.0, 2.0, 9.0]], np.float32)
  # bins 0 and N-1 are always dropped; plateaus are not peaks; the -2 bin is
  # a local max of the raw values but clipped to 0 first.
  want = np.zeros_like(frames)
  np.testing.assert_array_equal(np.asarray(vocoder.peaks(frames)), want)
  frames = np.array([[0.0, 3.0, -1.0, 2.0, 1.0, 4.0, 0.0]], np.float32)
  want = np.array([[0.0, 3.0, 0.0, 2.0, 0.0, 4.0, 0.0]], np.float32)
  np.testing.assert_array_equal(np.asarray(vocoder.peaks(frames)), want)


# --------------------------------------------------------------------------
# vocode vs reference
# --------------------------------------------------------------------------

# (T, N, hop, block_frames); hop == 2N is the largest the FFT path handles.
_CASES = [
    (1, 8, 1, 1),
    (1, 8, 16, 3),
    (3, 8, 4, 3),
    (3, 16, 32, 5),
    (3, 64, 16, 2),
    (17, 8, 16, 4),
    (17, 16, 1, 5),
    (17, 16, 4, 7),
    (17, 64, 128, 5),
    (17, 64, 4, 64),
]


@pytest.mark.parametrize('use_peaks', [True, False])
@pytest.mark.parametrize('t,n,hop,block', _CASES)
def test_vocode_matches_reference(t, n, hop, block, use_peaks):
  frames = _frames(t, n, seed=t * 7 + n * 3 + hop)
  phases = _phases(n, seed=n + hop)
  want = _vocode_ref(frames, hop, phases, use_peaks=use_peaks)
  direct = np.asarray(
      vocoder.vocode_direct(frames, hop, phases, use_peaks=use_peaks, block_frames=block)
  )
  fft = np.asarray(vocoder.vocode(frames, hop, phases, use_peaks=use_peaks, block_frames=block))
  assert direct.shape == fft.shape == ((t + 1) * hop,)
  assert direct.dtype == fft.dtype == np.float32
  if np.max(np.abs(want)) > 0:
    assert np.isclose(np.max(np.abs(fft)), 1.0, atol=1e-6)
  np.testing.assert_allclose(direct, want, rtol=0, atol=1e-4)
  np.testing.assert_allclose(fft, want, rtol=0, atol=1e-4)


@pytest.mark.parametrize('t,n,hop,block', [(3, 8, 40, 2), (5, 4, 9, 256)])
def test_vocode_fft_falls_back_when_hop_exceeds_2n(t, n, hop, block):
  frames = _frames(t, n, seed=1, negative=False)
  phases = _phases(n, seed=2)
  want = _vocode_ref(frames, hop, phases, use_peaks=False)
  got = np.asarray(vocoder.vocode(frames, hop, phases, use_peaks=False, block_frames=block))
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_vocode_method_direct_and_bad_method():
  frames = _frames(5, 16, seed=3)
  phases = _phases(16, seed=4)
  want = _vocode_ref(frames, 8, phases, use_peaks=False)
  got = np.asarray(
      vocoder.vocode(frames, 8, phases, use_peaks=False, method='direct', block_frames=4)
  )
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
  with pytest.raises(ValueError):
    vocoder.vocode(frames, 8, phases, method='nope')


def test_vocode_silent_is_zero():
  frames = -np.ones((4, 8), np.float32)  # everything clipped away
  phases = _phases(8, seed=0)
  for method in ('fft', 'direct'):
    got = np.asarray(vocoder.vocode(frames, 4, phases, use_peaks=False, method=method))
    assert got.shape == (20,)
    assert np.all(got == 0) and np.all(np.isfinite(got))


def test_vocode_under_outer_jit():
  frames = _frames(6, 16, seed=5)
  phases = _phases(16, seed=6)
  f = jax.jit(lambda a, p: vocoder.vocode(a, 8, p, block_frames=4))
  np.testing.assert_allclose(
      np.asarray(f(frames, phases)), _vocode_ref(frames, 8, phases), rtol=0, atol=1e-4
  )


# --------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------


def test_random_phases_range():
  phi = np.asarray(vocoder.random_phases(jax.random.PRNGKey(0), 1000))
  assert phi.shape == (1000,) and phi.dtype == np.float32
  assert np.all(phi >= 0) and np.all(phi < 2 * np.pi)
  assert phi.std() > 1.0


@pytest.mark.parametrize('n,hop,t', [(8, 4, 3), (16, 16, 17)])
def test_phases_from_offsets_match_sample_offsets(n, hop, t):
  rng = np.random.default_rng(n)
  # Up to 10 minutes at 44.1 kHz and beyond; small enough that the float64
  # reference sin((offset + n) * pi * k / N) is itself accurate.
  offsets = rng.integers(-(10**8), 10**8, size=n)
  offsets[:2] = [0, 44100 * 600]
  phases = vocoder.phases_from_offsets(offsets, n)
  assert np.asarray(phases).dtype == np.float32
  assert np.all((np.asarray(phases) >= 0) & (np.asarray(phases) < 2 * np.pi))
  frames = _frames(t, n, seed=hop, negative=False)
  want = _vocode_ref(frames, hop, offsets=offsets, use_peaks=False)
  for method in ('fft', 'direct'):
    got = np.asarray(vocoder.vocode(frames, hop, phases, use_peaks=False, method=method))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
  # Same result when the offsets already live in a jax array.
  small = np.mod(offsets, 2 * n).astype(np.int32)
  np.testing.assert_array_equal(
      np.asarray(vocoder.phases_from_offsets(jax.numpy.asarray(small), n)),
      np.asarray(phases),
  )


def test_phases_from_offsets_exact_for_huge_offsets():
  n = 16
  rng = np.random.default_rng(1)
  offsets = rng.integers(-(10**15), 10**15, size=n)  # far beyond int32
  got = np.asarray(vocoder.phases_from_offsets(offsets, n))
  want = np.array([np.pi * ((k * int(o)) % (2 * n)) / n for k, o in enumerate(offsets)])
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
  np.testing.assert_array_equal(
      got, np.asarray(vocoder.phases_from_offsets(np.mod(offsets, 2 * n), n))
  )


# --------------------------------------------------------------------------
# long output: integer phase rotation keeps float32 accurate
# --------------------------------------------------------------------------


def test_long_output_fft_matches_direct():
  t, n, hop = 2000, 32, 8
  frames = _frames(t, n, seed=11, negative=False)
  phases = _phases(n, seed=12)
  fft = np.asarray(vocoder.vocode(frames, hop, phases, use_peaks=False, block_frames=256))
  direct = np.asarray(vocoder.vocode_direct(frames, hop, phases, use_peaks=False, block_frames=128))
  assert fft.shape == direct.shape == ((t + 1) * hop,)
  np.testing.assert_allclose(fft, direct, rtol=0, atol=1e-4)
  # The tail (largest sample indices) also matches the float64 reference.
  want = _vocode_ref(frames, hop, phases, use_peaks=False)
  np.testing.assert_allclose(fft[-2000:], want[-2000:], rtol=0, atol=1e-4)
