"""A look-ahead limiter for S streams, block by block: the output never exceeds a ceiling.

Each input sample asks for a gain (dB, <= 0): enough to bring it under the ceiling, or less
(`required_db`, e.g. loudness.Loudness's guard against sudden jumps). The gain applied is the
minimum of those asks over the look-ahead window (so it is down before the peak arrives), its
mean (as a linear gain) over one more window (a smooth attack) and a release of at most
`release_db_s` dB per
second. The audio comes out `delay` samples late; pieces join into exactly the whole signal's
output (the state between blocks is the last 2 * delay samples and the gain).
"""
import numpy as np
from scipy import ndimage

TINY = 1e-12   # |x| below this asks for no gain (log of 0)


def sliding_min(x: np.ndarray, w: int) -> np.ndarray:
  """[..., m] -> [..., m - w + 1]: the minimum of each run of w samples (the valid windows)."""
  full = ndimage.minimum_filter1d(x, w, axis=-1, mode='nearest')
  return full[..., w // 2:x.shape[-1] - (w - 1 - w // 2)]


def sliding_mean(x: np.ndarray, w: int) -> np.ndarray:
  """[..., m] -> [..., m - w + 1]: the mean of each run of w samples (float64 running sums)."""
  cs = np.cumsum(x, axis=-1, dtype=np.float64)
  cs = np.concatenate([np.zeros_like(cs[..., :1]), cs], axis=-1)
  return (cs[..., w:] - cs[..., :-w]) / w


def rising_at_most(target_db: np.ndarray, last_db: np.ndarray, step_db: float) -> np.ndarray:
  """The largest y <= target that rises at most step_db a sample: y[k] = min(target[k],
  y[k-1] + step_db), y[-1] = last (vectorised: a running minimum).

  Args:
    target_db: [S, n] the gain asked for.
    last_db: [S] the gain before the block.
    step_db: the release, dB per sample.

  Returns:
    [S, n] the gain in dB.
  """
  k = np.arange(target_db.shape[-1]) * step_db
  start = (last_db + step_db)[:, None]
  return k + np.minimum(start, np.minimum.accumulate(target_db - k, axis=-1))


class Limiter:
  """A look-ahead peak limiter of S streams; `reduction_db` is how hard it worked on the last
  block: (the largest, the mean) gain reduction in dB."""

  def __init__(self, num_streams: int, sample_rate: int, ceiling_db: float = -1.0,
               lookahead_s: float = 0.005, release_db_s: float = 60.0):
    """ceiling_db: the output's peak limit (dBFS); lookahead_s: the look-ahead, also the latency
    (`delay` samples); release_db_s: how fast the gain may come back up (dB per second)."""
    self.ceiling_db, self.delay = ceiling_db, max(1, round(lookahead_s * sample_rate))
    self.release = release_db_s / sample_rate
    self.x_hist = np.zeros((num_streams, 2 * self.delay), np.float32)    # [S, 2L] input
    self.r_hist = np.zeros((num_streams, 2 * self.delay))                 # [S, 2L] gain asked
    self.gain_db = np.zeros(num_streams)                                  # [S] the last gain
    self.skip = self.delay      # output samples still to drop: the silence before the input
    self.reduction_db = (0.0, 0.0)

  def push(self, x: np.ndarray, required_db: np.ndarray = None) -> np.ndarray:
    """[S, n] audio (and optionally [S, n] gains in dB, <= 0, that its samples ask for) ->
    [S, m] limited audio, `delay` samples late (m < n only at the start)."""
    n, w = x.shape[1], self.delay + 1
    if n == 0:
      return x[:, :0].astype(np.float32)
    peak_db = 20 * np.log10(np.maximum(np.abs(x), TINY))
    asked = np.minimum(0.0, self.ceiling_db - peak_db)
    if required_db is not None:
      asked = np.minimum(asked, required_db)
    xx = np.concatenate([self.x_hist, x.astype(np.float32)], axis=1)       # [S, 2L + n]
    rr = np.concatenate([self.r_hist, asked], axis=1)
    held = np.power(10.0, sliding_min(rr, w) / 20)       # the attack: a mean of linear gains
    smooth = 20 * np.log10(np.maximum(sliding_mean(held, w), TINY))         # [S, n] dB
    gain = rising_at_most(smooth, self.gain_db, self.release)
    out = xx[:, self.delay:self.delay + n] * np.power(10.0, gain / 20).astype(np.float32)
    self.x_hist, self.r_hist = xx[:, -2 * self.delay:], rr[:, -2 * self.delay:]
    self.gain_db = gain[:, -1]
    self.reduction_db = (float(-np.min(gain)), float(-np.mean(gain)))
    drop, self.skip = min(n, self.skip), self.skip - min(n, self.skip)
    return out[:, drop:]

  def flush(self) -> np.ndarray:
    """[S, m] the samples still held (the end of the input); the limiter is done after it."""
    return self.push(np.zeros((len(self.x_hist), self.delay), np.float32))
