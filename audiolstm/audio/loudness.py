"""Levels that follow the recording: a dream's loudness, stream by stream or a whole file.

The chain (`Loudness`) of S streams, block by block:
  1. follow: a slow gain toward the recording's RMS (the dream's mean square, averaged over
     about FOLLOW_S), at most MAX_GAIN_DB up, so a dream far below stays quiet, not boosted noise;
  2. guard: the followed audio's 10 ms level may not rise more than the recording's own attacks
     do (at least RISE_DB) within 100 ms, nor above the recording's loud moments (+ CAP_DB); a
     re-seed's blast comes out as a step of at most that, and the follow gain takes it down;
  3. limiter.Limiter: peaks under CEILING_DB, with the guard's gain folded in (10 ms look-ahead).
"""
import dataclasses
import math

import numpy as np
from scipy import signal as sps

from audiolstm.audio import limiter

FRAME_S, RISE_S = 0.01, 0.1    # the short-term level's frames; the span a rise is measured over
RISE_DB = 12.0                 # the guard lets the level rise at least this much in RISE_S
FLOOR_DB = 30.0                # levels this far under the recording's RMS count as quiet
CAP_DB = 3.0                   # the guard's ceiling above the recording's loud moments
MAX_GAIN_DB = 20.0
FOLLOW_S = 1.0
PRIOR_S = 0.1                  # the follower starts as if it had heard this much at the target
CEILING_DB = -1.0
RELEASE_DB_S = 150.0           # how fast the limiter's (and guard's) gain comes back up


@dataclasses.dataclass(frozen=True)
class RecordingLevel:
  """The recording's loudness (dBFS): its RMS, its loud moments (the 99th percentile of its
  10 ms levels) and its attacks (the 99th percentile of its 10 ms levels' rises in 100 ms)."""
  rms_db: float
  loud_db: float
  attack_db: float


def frame_db(x: np.ndarray, sample_rate: int, floor_db: float = -200.0) -> np.ndarray:
  """[..., n] audio -> [..., n // frame] the RMS level (dBFS) of each 10 ms frame, >= floor_db."""
  f = max(1, round(FRAME_S * sample_rate))
  k = x.shape[-1] // f
  power = np.mean(np.square(x[..., :k * f].reshape(*x.shape[:-1], k, f), dtype=np.float64), -1)
  return np.maximum(10 * np.log10(np.maximum(power, 1e-30)), floor_db)


def rises_db(levels: np.ndarray) -> np.ndarray:
  """[..., F] frame levels -> [..., F]: how far each frame is above the quietest of the frames
  in the RISE_S before it (itself included)."""
  w = round(RISE_S / FRAME_S) + 1
  padded = np.concatenate([np.repeat(levels[..., :1], w - 1, axis=-1), levels], axis=-1)
  return levels - limiter.sliding_min(padded, w)


def recording_level(audio: np.ndarray, sample_rate: int) -> RecordingLevel:
  """The RecordingLevel of [n] audio (silence: -inf RMS and no rises)."""
  audio = np.asarray(audio, np.float32)
  mean_square = float(np.mean(np.square(audio, dtype=np.float64))) if audio.size else 0.0
  if mean_square <= 0:
    return RecordingLevel(-math.inf, -math.inf, RISE_DB)
  rms_db = 10 * math.log10(mean_square)
  levels = frame_db(audio, sample_rate, rms_db - FLOOR_DB)
  if levels.size == 0:
    return RecordingLevel(rms_db, rms_db, RISE_DB)
  return RecordingLevel(rms_db, float(np.percentile(levels, 99)),
                        float(np.percentile(rises_db(levels), 99)))


def of_sources(sources, c) -> RecordingLevel:
  """The recording's level from dataset.Sources: the training audio itself for raw approaches
  (sources.inputs), the seed audio for fft (the training audio unless the run has seed_files)."""
  return recording_level(sources.seed_audio if c.use_fft else sources.inputs, c.sample_rate)


class Loudness:
  """The level chain (see the module) of S streams: push [S, n] audio, get [S, m] audio
  `delay` samples late; flush at the end. `reduction_db`: the limiter's (and guard's) largest
  and mean gain reduction over the last block."""

  def __init__(self, num_streams: int, sample_rate: int, rec: RecordingLevel,
               max_gain_db: float = MAX_GAIN_DB, follow_s: float = FOLLOW_S):
    if not math.isfinite(rec.rms_db):     # a silent recording: aim at a plain -20 dBFS
      rec = RecordingLevel(-20.0, -10.0, RISE_DB)
    self.target, self.max_gain_db = rec.rms_db, max_gain_db
    self.floor, self.cap = rec.rms_db - FLOOR_DB, min(rec.loud_db + CAP_DB, CEILING_DB)
    self.allowed = max(RISE_DB, rec.attack_db)
    self.frame = max(1, round(FRAME_S * sample_rate))
    self.span = round(RISE_S * sample_rate) + self.frame   # frames starting RISE_S apart
    self.steps = max(1, math.ceil((self.cap - self.floor) / self.allowed)) + 1
    self.alpha = 1.0 - math.exp(-1.0 / (follow_s * sample_rate))
    self.prior = round(PRIOR_S * sample_rate)    # so the first samples set no wild gain
    self.zi = np.full((num_streams, 1), (1.0 - self.alpha) * 10 ** (self.target / 10) * (
        1.0 - (1.0 - self.alpha) ** self.prior))  # the follower's mean square (lfilter state)
    self.seen = 0                                  # samples in so far
    self.p_hist = np.zeros((num_streams, self.frame - 1))                     # followed x ** 2
    self.c_tail = np.full((num_streams, self.span), self.cap)   # the guard's last span of levels
    self.low_hist = np.full((num_streams, (self.steps - 1) * self.span), self.cap)  # their minima
    self.limiter = limiter.Limiter(num_streams, sample_rate, CEILING_DB, FRAME_S, RELEASE_DB_S)
    self.delay = self.limiter.delay

  @property
  def reduction_db(self) -> tuple:
    return self.limiter.reduction_db

  def _follow(self, x: np.ndarray) -> np.ndarray:
    """[S, n] float64 audio -> [S, n] at the gain that brings its mean square to the target."""
    a, n = self.alpha, x.shape[1]
    env, self.zi = sps.lfilter([a], [1.0, a - 1.0], np.square(x), axis=1, zi=self.zi)
    weight = 1.0   # an average from the start (the prior's samples and those so far)
    if (1.0 - a) ** self.seen > 1e-12:
      weight = 1.0 - (1.0 - a) ** (self.prior + self.seen + np.arange(1, n + 1))
    env_db = 10 * np.log10(np.maximum(env / weight, 1e-30))
    return x * np.power(10.0, np.minimum(self.max_gain_db, self.target - env_db) / 20)

  def _guard(self, y: np.ndarray) -> np.ndarray:
    """[S, n] followed audio -> [S, n] the gain (dB, <= 0) its 10 ms level may have: at most
    `allowed` over its lowest in the last RISE_S (a[t] = min(c[t], min a[t-span:t] + allowed),
    solved as min over k of k * allowed + the lowest c of the k-th span back), under `cap`."""
    n, f, w = y.shape[1], self.frame, self.span
    pp = np.concatenate([self.p_hist, np.square(y)], axis=1)
    count = np.minimum(f, self.seen + np.arange(1, n + 1))               # a short first window
    e = 10 * np.log10(np.maximum(limiter.sliding_mean(pp, f) * f / count, 1e-30))   # [S, n]
    c = np.clip(e, self.floor, self.cap)
    seg = np.concatenate([self.c_tail, c], axis=1)                       # [S, span + n]
    # lowest[:, q]: the minimum of the span of levels from sample q of the last K spans and c
    lowest = np.concatenate([self.low_hist, limiter.sliding_min(seg[:, :-1], w)], axis=1)
    allowed = c
    for k in range(1, self.steps + 1):   # K spans back (K <= ~6), each all samples at once
      start = (self.steps - k) * w
      allowed = np.minimum(allowed, k * self.allowed + lowest[:, start:start + n])
    self.p_hist, self.c_tail = pp[:, pp.shape[1] - (f - 1):], seg[:, -w:]
    self.low_hist = lowest[:, lowest.shape[1] - self.low_hist.shape[1]:]
    return np.minimum(0.0, allowed - e)

  def push(self, x: np.ndarray) -> np.ndarray:
    """[S, n] audio -> [S, m] audio at the recording's level (m < n only at the start)."""
    x = np.nan_to_num(np.asarray(x, np.float64))
    if x.shape[1] == 0:
      return x.astype(np.float32)
    y = self._follow(x)
    required = self._guard(y)
    self.seen += x.shape[1]
    return self.limiter.push(y.astype(np.float32), required)

  def flush(self) -> np.ndarray:
    """[S, delay] the last samples (the chain is done after it)."""
    return self.limiter.flush()


def level_whole(audio: np.ndarray, sample_rate: int, rec: RecordingLevel) -> np.ndarray:
  """[n] a whole dream -> [n] float32 through the Loudness chain (sample mode)."""
  chain = Loudness(1, sample_rate, rec)
  return np.concatenate([chain.push(audio[None]), chain.flush()], axis=1)[0]
