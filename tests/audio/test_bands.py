"""Resonate's bands against plain NumPy references: the masks are a partition of unity, the split
sums back to its input whatever the chunks and equals a frame-by-frame STFT, a tone lands in its
band, the meter measures mean power and sees an onset at once, the gains are a one-pole
smoother."""

import numpy as np
import pytest

from audiolstm.audio import bands

SR = 48000
EDGES = bands.band_edges(SR, 24)


def tone(f: float, n: int, amplitude: float = 1.0) -> np.ndarray:
  """[n] float32 a sine of f Hz."""
  return (amplitude * np.sin(2 * np.pi * f * np.arange(n) / SR)).astype(np.float32)


def centre(k: int) -> float:
  """The log centre of band k in Hz."""
  return float(np.sqrt(EDGES[k] * EDGES[k + 1]))


def test_band_edges_are_log_spaced_from_low_to_high():
  e = bands.band_edges(16000, 10, low_hz=100.0)
  assert e.shape == (11,) and e[0] == pytest.approx(100.0) and e[-1] == pytest.approx(7200.0)
  np.testing.assert_allclose(e[1:] / e[:-1], (72.0) ** (1 / 10))
  with pytest.raises(ValueError):
    bands.band_edges(16000, 10, low_hz=9000.0)


@pytest.mark.parametrize('n_fft, rate', [(2048, 48000), (512, 16000), (1000, 44100)])
def test_masks_are_a_partition_of_unity_peaking_in_their_bands(n_fft, rate):
  edges = bands.band_edges(rate, 24)
  masks = bands.band_masks(edges, n_fft, rate)
  freqs = np.fft.rfftfreq(n_fft, 1 / rate)
  assert masks.shape == (24, n_fft // 2 + 1) and masks.dtype == np.float32
  assert masks.min() >= 0.0
  np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-6)
  assert np.all(masks[0, freqs < edges[0]] == 1) and np.all(masks[-1, freqs > edges[-1]] == 1)
  # Within the edges (outside, bands 0 and B - 1 take every bin), the peak of each mask with
  # bins in its band is in its band; on a fine grid (0.5 Hz bins) each peak is 1, in its band.
  banded = (freqs >= edges[0]) & (freqs <= edges[-1])
  fine = bands.band_masks(edges, 2 * rate, rate)
  fine_freqs = np.fft.rfftfreq(2 * rate, 1 / rate)
  for b in range(24):
    inside = (freqs >= edges[b]) & (freqs <= edges[b + 1])
    assert inside.any() or n_fft != 2048  # 2048 bins at 48 kHz: every band has some
    if inside.any():
      assert masks[b, inside].max() == masks[b, banded].max()
    above = fine_freqs >= edges[0]
    peak = fine_freqs[above][np.argmax(fine[b, above])]
    assert edges[b] <= peak <= edges[b + 1] and fine[b].max() == pytest.approx(1.0, abs=1e-3)


def test_masks_cross_over_at_the_edges():
  """Log-uniform edges: each inner edge is the midpoint of a crossover, half to each band."""
  masks = bands.band_masks(EDGES, 4096, SR)
  crossover = bands.band_masks(EDGES, 2 * SR, SR)  # 0.5 Hz bins: one near every edge
  idx = np.round(EDGES[1:-1] * 2).astype(int)
  np.testing.assert_allclose(crossover[np.arange(23), idx], 0.5, atol=0.01)
  np.testing.assert_allclose(crossover[np.arange(1, 24), idx], 0.5, atol=0.01)
  assert np.count_nonzero(masks > 0, axis=0).max() <= 2  # only neighbours share a bin


def reference_split(x: np.ndarray, masks: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
  """[n] -> [B, n + n_fft - hop]: the STFT band split frame by frame (plain loops), the input
  led by n_fft - hop zeros and followed by n_fft zeros."""
  w = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft))
  w = w / np.sqrt(np.sum(w**2) / hop)
  padded = np.concatenate([np.zeros(n_fft - hop), x, np.zeros(n_fft)])
  out = np.zeros((len(masks), len(padded) + n_fft))
  for start in range(0, len(padded) - n_fft + 1, hop):
    spectrum = np.fft.rfft(padded[start : start + n_fft] * w)
    for b in range(len(masks)):
      out[b, start : start + n_fft] += np.fft.irfft(spectrum * masks[b], n_fft) * w
  return out[:, : len(x) + n_fft - hop]


def split_all(splitter: bands.BandSplitter, x: np.ndarray, size: int) -> np.ndarray:
  """[n] pushed in chunks of `size`, then flushed -> [B, m]."""
  parts = [splitter.push(x[i : i + size]) for i in range(0, len(x), size)]
  return np.concatenate(parts + [splitter.flush()], axis=1)


def test_split_sums_to_the_input_delayed_and_is_the_frame_by_frame_stft():
  x = np.random.default_rng(0).standard_normal(12000).astype(np.float32)
  splitter = bands.BandSplitter(SR, EDGES)
  got = split_all(splitter, x, len(x))
  d = splitter.delay
  assert d == 2048 - 512 and got.dtype == np.float32 and got.shape[1] >= len(x) + d
  assert np.max(np.abs(got.sum(axis=0)[d : d + len(x)] - x)) < 1e-4
  assert np.max(np.abs(got.sum(axis=0)[:d])) < 1e-4  # the delay: silence before x
  want = reference_split(x.astype(np.float64), splitter.masks.astype(np.float64), 2048, 512)
  np.testing.assert_allclose(got[:, : want.shape[1]], want, atol=1e-5)


def test_chunking_changes_nothing():
  x = np.random.default_rng(1).standard_normal(9000).astype(np.float32)
  want = split_all(bands.BandSplitter(SR, EDGES), x, len(x))
  for size in (1, 37, 1000):
    got = split_all(bands.BandSplitter(SR, EDGES), x, size)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
  splitter = bands.BandSplitter(SR, EDGES)  # after a flush, a fresh stream
  split_all(splitter, x[:500], 100)
  np.testing.assert_array_equal(split_all(splitter, x, len(x)), want)


@pytest.mark.parametrize('k', [2, 8, 15, 22])
def test_a_tone_lands_in_its_band(k):
  out = bands.BandSplitter(SR, EDGES).push(tone(centre(k), SR // 4))[:, 4096:]
  energy = np.sum(out.astype(np.float64) ** 2, axis=1)
  assert energy[k] > 0.9 * energy.sum()


def meter_reference(history: np.ndarray, window: int, masks: np.ndarray) -> np.ndarray:
  """[window] newest samples -> [B] mean power per band: the two-sided power spectrum folded."""
  taper = window // 4
  w = np.ones(window)
  w[:taper] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(taper) + 1) / (taper + 1))
  two_sided = np.abs(np.fft.fft(history * w)) ** 2 / (window * np.sum(w**2))
  one_sided = two_sided[: window // 2 + 1].copy()
  one_sided[1 : (window + 1) // 2] += two_sided[::-1][: (window - 1) // 2]
  return masks.astype(np.float64) @ one_sided


@pytest.mark.parametrize('window', [256, 255])
def test_meter_is_the_mean_power_of_the_newest_window(window):
  x = np.random.default_rng(2).standard_normal(700)
  meter = bands.BandMeter(SR, EDGES, window=window)
  masks = bands.band_masks(EDGES, window, SR)
  assert meter.push(x[:100]).shape == (24,)
  history = np.concatenate([np.zeros(window - 100), x[:100]])  # zeros before the start
  np.testing.assert_allclose(
      meter.push(np.zeros(0)), meter_reference(history, window, masks), rtol=1e-9, atol=1e-12
  )
  for a, b in ((100, 150), (150, 700)):
    got = meter.push(x[a:b])
  np.testing.assert_allclose(got, meter_reference(x[-window:], window, masks), rtol=1e-9)
  w = meter.window
  assert got.sum() == pytest.approx(np.sum((x[-window:] * w) ** 2) / np.sum(w**2))
  sine = bands.BandMeter(SR, EDGES, window=window).push(tone(centre(18), window))
  assert sine.sum() == pytest.approx(0.5, rel=0.05)


def test_meter_finds_the_band_of_a_tone_reads_silence_as_zero_and_sees_an_onset_at_once():
  for k in (12, 17, 22):
    assert np.argmax(bands.BandMeter(SR, EDGES).push(tone(centre(k), 2048))) == k
  meter = bands.BandMeter(SR, EDGES)
  for _ in range(4):
    assert np.all(meter.push(np.zeros(64, np.float32)) == 0)
  k = 17
  steady = bands.BandMeter(SR, EDGES).push(tone(centre(k), 4096))[k]
  first = meter.push(tone(centre(k), 64))  # the onset, in the very next block of 64
  assert first[k] > 0.1 * steady and np.argmax(first) == k


def reference_gains(
    energies: np.ndarray, n: int, state: np.ndarray, attack: float, release: float, floor_db: float
) -> np.ndarray:
  """[B] energies -> [B, n]: the targets and the one-pole smoother sample by sample (loops);
  `state` [B] is updated in place."""
  top = energies.max()
  target = np.zeros(len(energies))
  for b, e in enumerate(energies):
    if energies.sum() >= 1e-10 and 10 * np.log10(max(e, 1e-300) / top) >= floor_db:
      target[b] = np.sqrt(e / top)
  out = np.zeros((len(energies), n))
  for i in range(n):
    for b in range(len(energies)):
      a = attack if target[b] > state[b] else release
      state[b] = a * state[b] + (1 - a) * target[b]
      out[b, i] = state[b]
  return out


def test_gains_are_the_one_pole_smoother_of_the_targets():
  rng = np.random.default_rng(3)
  attack, release = np.exp(-1 / (0.001 * SR)), np.exp(-1 / (0.01 * SR))
  gains = bands.BandGains(SR, 4, attack_s=0.001, release_s=0.01, floor_db=-20.0)
  state, got, want = np.zeros(4), [], []
  for _ in range(8):
    energies = rng.uniform(0, 1, 4) ** 3 * (rng.uniform() > 0.25)
    n = int(rng.integers(0, 60))
    got.append(gains.update(energies, n))
    want.append(reference_gains(energies, n, state, attack, release, -20.0))
  got, want = np.concatenate(got, axis=1), np.concatenate(want, axis=1)
  assert got.dtype == np.float32 and got.min() >= 0 and got.max() <= 1
  np.testing.assert_allclose(got, want, atol=1e-6)
  np.testing.assert_allclose(gains.gains, state, atol=1e-6)


def test_silence_closes_every_gain_and_the_floor_closes_weak_bands():
  gains = bands.BandGains(SR, 3, release_s=0.05, floor_db=-20.0)
  opened = gains.update(np.array([1.0, 0.25, 0.005]), SR // 10)[:, -1]  # 0.005: -23 dB
  np.testing.assert_allclose(opened, [1.0, 0.5, 0.0], atol=1e-6)
  closing = gains.update(np.full(3, 1e-12), 2 * SR)  # silence
  assert np.all(np.diff(closing, axis=1) <= 0) and np.all(closing[:, -1] < 1e-6)
  assert np.all(gains.update(np.zeros(3), 5) < 1e-6)


def test_mix_is_the_weighted_sum():
  rng = np.random.default_rng(4)
  b, w = rng.standard_normal((5, 30)), rng.uniform(0, 1, (5, 30))
  want = [sum(b[k, i] * w[k, i] for k in range(5)) for i in range(30)]
  got = bands.mix(b, w)
  assert got.shape == (30,) and got.dtype == np.float32
  np.testing.assert_allclose(got, want, atol=1e-5)
