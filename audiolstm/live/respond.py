"""The three responses of `audiolstm play`: each turns a block of the player's sound into a block of
output, at the device rate, with the dream computed ahead by a feed (live/feed.py).

  answer    call and response (dissertation 6.2.4, made live): when a phrase ends the model
            dreams on from what the player just played; when the player starts again the answer
            fades under them and stops.
  resonate  sympathetic strings (6.2.2): a dream runs on, split into bands; the bands the player
            sounds open, the others close, so the dream swells where the player's notes are.
  learn     the concurrent algorithm, live: the model trains on what the player plays while it
            dreams, and the dream is what it has learned so far.
"""
import time

import numpy as np

from audiolstm.dream import trained
from audiolstm.live import control

RESPONSES = control.RESPONSES
DUCK_S = 0.2        # an answer fades under the player over this
FADE_IN_S = 0.01    # and fades in over this
RING_S = 10.0       # the player's sound kept at the model rate (the answer's seeds)
METER_WINDOW = 1024   # the resonate meter's window at the device rate (21 ms at 48 kHz)


def level_db(x: np.ndarray) -> float:
  """[n] -> the block's RMS level in dBFS (-120 for silence)."""
  return 10.0 * float(np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12))


class Phrases:
  """When the player plays, from the level of each block: 'start' when it rises above
  threshold_db, 'end' when it has stayed under threshold_db - HYSTERESIS_DB for pause_s after
  at least MIN_PHRASE_S of playing."""

  HYSTERESIS_DB, MIN_PHRASE_S = 6.0, 0.1

  def __init__(self, rate: int, threshold_db: float, pause_s: float):
    self.rate, self.threshold_db, self.pause_s = rate, threshold_db, pause_s
    self.playing, self.loud, self.quiet = False, 0, 0

  def push(self, x: np.ndarray):
    """[n] a block -> 'start', 'end' or None."""
    level = level_db(x)
    if level > self.threshold_db - (self.HYSTERESIS_DB if self.playing else 0.0):
      self.quiet = 0
      started = not self.playing
      self.playing, self.loud = True, (0 if started else self.loud) + len(x)
      return 'start' if started else None
    if not self.playing:
      return None
    self.quiet += len(x)
    if self.quiet < self.pause_s * self.rate:
      return None
    self.playing = False
    return 'end' if self.loud >= self.MIN_PHRASE_S * self.rate else None


class ModelRateRing:
  """The player's newest RING_S at the model rate (resampled as it comes)."""

  def __init__(self, rate: int, model_rate: int, seconds: float = RING_S):
    import soxr  # pylint: disable=g-import-not-at-top  # librosa's resampler
    self.resampler = soxr.ResampleStream(rate, model_rate, 1, dtype='float32')
    self.audio = np.zeros(round(seconds * model_rate), np.float32)
    self.model_rate = model_rate

  def push(self, x: np.ndarray) -> np.ndarray:
    """[n] at the device rate in; the [m] new samples at the model rate out."""
    y = self.resampler.resample_chunk(np.ascontiguousarray(x, np.float32))
    if len(y):
      self.audio = np.concatenate([self.audio[len(y):], y[-len(self.audio):]])
    return y

  def newest(self, skip_s: float = 0.0) -> np.ndarray:
    """[m] the ring up to skip_s before its end."""
    return self.audio[:len(self.audio) - round(skip_s * self.model_rate)]


def ramp(start: float, end: float, n: int) -> np.ndarray:
  """[n] a linear gain ramp from just after `start` to `end`."""
  return start + (end - start) * (np.arange(1, n + 1, dtype=np.float32) / n)


class Answer:
  """Call and response: silent while the player plays; a dream seeded with their phrase when it
  ends. `latencies` holds, for each answer, the seconds from the phrase's detected end to its
  first sample leaving the loop."""

  name = 'answer'

  def __init__(self, feed, run, rate: int, threshold_db: float, pause_s: float):
    self.feed, self.run, self.rate = feed, run, rate
    self.phrases = Phrases(rate, threshold_db, pause_s)
    self.ring = ModelRateRing(rate, run.config.sample_rate)
    self.state, self.gain, self.want, self.asked_at = 'listening', 0.0, None, None
    self.answers, self.latencies = 0, []
    feed.pause()

  def _seed(self) -> np.ndarray:
    """[1, input_span] the player's phrase, up to where its pause began."""
    audio = self.ring.newest(self.phrases.pause_s)
    return trained.seed_from_audio(self.run, audio, 'the phrase')[None]

  def _event(self, event) -> None:
    if event == 'end':
      self.want, self.asked_at = self.feed.seed(self._seed()), time.monotonic()
      self.state, self.answers = 'answering', self.answers + 1
    elif event == 'start' and self.state == 'answering':
      self.state = 'ducking'

  def process(self, x: np.ndarray) -> np.ndarray:
    """[n] the player's block -> [n] the output block."""
    self.ring.push(x)
    self._event(self.phrases.push(x))
    y, got, generation = self.feed.take(len(x))
    if generation != self.want or self.state == 'listening':
      return np.zeros(len(x), np.float32)
    if self.asked_at is not None and got:
      self.latencies.append(time.monotonic() - self.asked_at)
      self.asked_at = None
    step = len(x) / self.rate / (FADE_IN_S if self.state == 'answering' else -DUCK_S)
    end = min(1.0, max(0.0, self.gain + step))
    gains, self.gain = ramp(self.gain, end, len(x)), end
    if self.state == 'ducking' and end == 0.0:
      self.state = 'listening'
      self.feed.pause()
    return y * gains

  @property
  def doing(self) -> str:
    return self.state


class Resonate:
  """Sympathetic resonance: the dream's bands, each at the gain the player's sound gives it."""

  name = 'resonate'

  def __init__(self, feed, rate: int):
    from audiolstm.audio import bands  # pylint: disable=g-import-not-at-top  # resonate only
    self.feed, self.bands = feed, bands
    self.meter = bands.BandMeter(rate, feed.edges, window=METER_WINDOW)
    self.gains = bands.BandGains(rate, len(feed.edges) - 1)
    self.doing = 'resonating'

  def process(self, x: np.ndarray) -> np.ndarray:
    split, _, _ = self.feed.take(len(x))                     # [B, n]
    gains = self.gains.update(self.meter.push(x), len(x))    # [B, n]
    return self.bands.mix(split, gains)



class Learn:
  """The dream of a model that keeps training on what the player plays."""

  name = 'learn'

  def __init__(self, feed, run, rate: int):
    self.feed, self.ring = feed, ModelRateRing(rate, run.config.sample_rate, seconds=1.0)
    self.doing = 'learning'

  def process(self, x: np.ndarray) -> np.ndarray:
    self.feed.engine.hear(self.ring.push(x))
    y, _, _ = self.feed.take(len(x))
    return y
