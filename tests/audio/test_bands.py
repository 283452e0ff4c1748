"""Resonate's bands against plain NumPy references: the split sums back to its input whatever
the chunks, a tone lands in its band, the meter sees an onset at once, the gains are a one-pole
smoother."""
import numpy as np

from audiolstm.audio import bands

SR = 48000
EDGES = bands.band_edges(SR, 24)


def tone(f: float, n: int) -> np.ndarray:
  return np.sin(2 * np.pi * f * np.arange(n) / SR).astype(np.float32)


def centre(k: int) -> float:
  return float(np.sqrt(EDGES[k] * EDGES[k + 1]))


def test_masks_are_a_partition_of_unity_peaking_in_their_bands():
  masks = bands.band_masks(EDGES, 2048, SR)
  np.testing.assert_allclose(masks.sum(axis=0), 1.0, atol=1e-6)
  freqs = np.fft.rfftfreq(2048, 1 / SR)
  peaks = freqs[np.argmax(masks, axis=1)]
  assert np.all((peaks >= EDGES[:-1] * 0.9) & (peaks <= EDGES[1:] * 1.1) | (np.arange(24) == 0))


def test_split_sums_to_the_input_delayed_and_chunking_changes_nothing():
  x = np.random.default_rng(0).standard_normal(12000).astype(np.float32)
  whole = bands.BandSplitter(SR, EDGES)
  want = np.concatenate([whole.push(x), whole.flush()], axis=1)
  d = whole.delay
  np.testing.assert_allclose(want.sum(axis=0)[d:d + len(x)], x, atol=1e-4)
  for size in (1, 37, 1000):
    s = bands.BandSplitter(SR, EDGES)
    got = np.concatenate([s.push(x[i:i + size]) for i in range(0, len(x), size)] + [s.flush()],
                         axis=1)
    n = min(got.shape[1], want.shape[1])
    np.testing.assert_allclose(got[:, :n], want[:, :n], atol=1e-5)


def test_a_tone_lands_in_its_band():
  for k in (3, 12, 20):
    out = bands.BandSplitter(SR, EDGES).push(tone(centre(k), SR // 2))[:, 4096:]
    energy = np.sum(out.astype(np.float64) ** 2, axis=1)
    assert energy[k] > 0.9 * energy.sum()


def test_meter_sees_the_band_of_a_tone_at_once_and_nothing_in_silence():
  meter = bands.BandMeter(SR, EDGES, window=1024)
  assert np.all(meter.push(np.zeros(512, np.float32)) == 0)
  steady = bands.BandMeter(SR, EDGES, window=1024)
  full = steady.push(tone(centre(14), 4096))
  assert np.argmax(full) == 14
  first = meter.push(tone(centre(14), 64))      # the onset, in the very next block
  assert first[14] > 0.1 * full[14] * 64 / 1024 and np.argmax(first) == 14


def test_gains_are_the_one_pole_smoother_of_the_targets():
  rng = np.random.default_rng(1)
  g = bands.BandGains(SR, 3, attack_s=0.001, release_s=0.01, floor_db=-20.0)
  state, got, want = np.zeros(3), [], []
  for _ in range(6):
    energies = rng.uniform(0, 1, 3) * (rng.uniform() > 0.2)
    n = int(rng.integers(1, 40))
    got.append(g.update(energies, n))
    target = g.targets(energies)
    ref = np.zeros((3, n))
    for i in range(n):           # the plain per-sample reference
      for b in range(3):
        a = g.attack if target[b] > state[b] else g.release
        state[b] = target[b] + (state[b] - target[b]) * a
        ref[b, i] = state[b]
    want.append(ref)
  np.testing.assert_allclose(np.concatenate(got, 1), np.concatenate(want, 1), atol=1e-6)
  np.testing.assert_array_equal(g.targets(np.array([1.0, 0.005, 0.0])), [1.0, 0.0, 0.0])
  closing = g.update(np.zeros(3), 48000)
  assert np.all(closing[:, -1] < 1e-6)


def test_mix_is_the_weighted_sum():
  rng = np.random.default_rng(2)
  b, w = rng.standard_normal((5, 30)), rng.uniform(0, 1, (5, 30))
  want = [sum(b[k, i] * w[k, i] for k in range(5)) for i in range(30)]
  np.testing.assert_allclose(bands.mix(b, w), want, atol=1e-5)
