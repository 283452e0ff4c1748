"""The look-ahead limiter (audiolstm.audio.limiter) against a plain per-sample loop."""
import numpy as np
import pytest

from audiolstm.audio import limiter


def limit_loop(x, ceiling_db, delay, release_db, required_db=None):
  """The limiter, one sample at a time: [S, n] -> [S, n] (delayed by `delay`, zeros before)."""
  s, n = x.shape
  xx = np.concatenate([np.zeros((s, 2 * delay)), x, np.zeros((s, delay))], axis=1)
  asked = np.zeros_like(xx)
  for i in range(s):
    for t in range(2 * delay, 2 * delay + n):
      peak = 20 * np.log10(max(abs(xx[i, t]), limiter.TINY))
      asked[i, t] = min(0.0, ceiling_db - peak)
      if required_db is not None:
        asked[i, t] = min(asked[i, t], required_db[i, t - 2 * delay])
  out = np.zeros((s, n + delay))
  for i in range(s):
    gain = 0.0
    for k in range(n + delay):
      t = 2 * delay + k
      held = [min(asked[i, p - delay:p + 1]) for p in range(t - delay, t + 1)]
      gain = min(20 * np.log10(np.mean(10 ** (np.array(held) / 20))), gain + release_db)
      out[i, k] = xx[i, t - delay] * 10 ** (gain / 20)
  return out[:, delay:]


def test_sliding_min_and_mean_are_the_valid_windows():
  x = np.random.default_rng(0).standard_normal((2, 50))
  for w in (1, 2, 5, 8):
    view = np.lib.stride_tricks.sliding_window_view(x, w, axis=-1)
    np.testing.assert_array_equal(limiter.sliding_min(x, w), view.min(axis=-1))
    np.testing.assert_allclose(limiter.sliding_mean(x, w), view.mean(axis=-1), atol=1e-12)


@pytest.mark.parametrize('delay', [1, 4, 7])
def test_limiter_matches_the_per_sample_loop_and_keeps_under_the_ceiling(delay):
  rng = np.random.default_rng(delay)
  x = (rng.standard_normal((2, 120)) * np.linspace(0.1, 3.0, 120)).astype(np.float32)
  required = np.minimum(0.0, rng.normal(-1.0, 3.0, (2, 120)))
  for req in (None, required):
    lim = limiter.Limiter(2, 1000, ceiling_db=-3.0, lookahead_s=delay / 1000, release_db_s=500.0)
    out = np.concatenate([lim.push(x, req), lim.flush()], axis=1)
    want = limit_loop(x.astype(np.float64), -3.0, delay, 0.5, req)
    assert out.shape == x.shape
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert np.max(np.abs(out)) <= 10 ** (-3.0 / 20) * (1 + 1e-5)


def test_limiter_in_blocks_is_the_limiter_on_the_whole():
  rng = np.random.default_rng(3)
  x = (rng.standard_normal((3, 3000)) * np.repeat(rng.uniform(0.05, 4.0, 30), 100)).astype(
      np.float32)
  whole = limiter.Limiter(3, 8000)
  want = np.concatenate([whole.push(x), whole.flush()], axis=1)
  parts = limiter.Limiter(3, 8000)
  cuts = [0, 1, 17, 18, 500, 1333, 2999, 3000]
  got = np.concatenate([parts.push(x[:, a:b]) for a, b in zip(cuts, cuts[1:])] + [parts.flush()],
                       axis=1)
  assert got.shape == x.shape
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_limiter_reports_its_gain_reduction_and_leaves_quiet_audio_alone():
  lim = limiter.Limiter(1, 8000, ceiling_db=-1.0)
  quiet = 0.5 * np.sin(np.arange(4000) / 7.0)[None]
  out = np.concatenate([lim.push(quiet), lim.flush()], axis=1)
  np.testing.assert_allclose(out, quiet, atol=1e-6)
  assert lim.reduction_db[0] == pytest.approx(0.0, abs=1e-9)
  lim.push(4.0 * quiet)                      # 4 x 0.5 = +6 dBFS: about 7 dB to take off
  assert 6.5 < lim.reduction_db[0] < 7.5 and 0 < lim.reduction_db[1] <= lim.reduction_db[0]
