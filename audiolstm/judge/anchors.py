"""Anchors: reference signals made from a run's own recording, scored beside its dreams.

A score means little alone: a few seconds of real music lie 8-12 dB from the whole recording's
average spectrum, and players repeat themselves. So every run is judged against four anchors cut
or made from the same recording, whose verdicts are known in advance:

  unseen  the recording's validation split (its last val_fraction), never trained on: what a
          perfect dream, resembling the input without copying it, scores. Without a validation
          split, the last 10 % (then marked as seen in training).
  copy    a literal excerpt of the training part: novelty Low.
  grains  0.1 s grains of the training part in random order, 10 ms fades: timbre without the
          input's motion; never High on all three criteria.
  noise   white noise at the training part's level: Low on artifacts.

All are deterministic (fixed RNG seed) and vectorized NumPy.
"""
import dataclasses

import numpy as np

ANCHOR_NAMES = ('unseen', 'copy', 'grains', 'noise')
GRAIN_S = 0.1
FADE_S = 0.01
DEFAULT_TAIL = 0.1       # the unseen tail when a run has no validation split
MIN_COPY_S = 4.0         # the copy anchor is at least this long (or the whole training part)
SEED = 1234


@dataclasses.dataclass(frozen=True)
class Split:
  """A recording split into the training part and the unseen tail."""
  train: np.ndarray    # [N] the audio the model was trained on (the dreams' reference)
  unseen: np.ndarray   # [M] the tail
  seen: bool           # True when the tail was part of the training audio (no validation split)


def split_recording(audio: np.ndarray, val_fraction: float = 0.0, n_val=None) -> Split:
  """Split audio [n] as training does: the last n_val samples (default round(n * val_fraction))
  are unseen.

  With none held out the training part is the whole recording and the tail is its last 10 %,
  marked `seen`.

  Args:
    audio: [n] samples of the whole recording.
    val_fraction: the share held out at the end (config.val_fraction); used when n_val is None.
    n_val: samples held out at the end (overrides val_fraction), e.g. what training held out.

  Returns:
    The Split: train [n - n_val] and unseen [n_val], or with nothing held out train [n] and
    unseen [max(1, round(0.1 * n))] with seen True.
  """
  n = len(audio)
  n_val = int(round(n * val_fraction)) if n_val is None else int(n_val)
  if n_val > 0:
    return Split(train=audio[:n - n_val], unseen=audio[n - n_val:], seen=False)
  tail = max(1, int(round(n * DEFAULT_TAIL)))
  return Split(train=audio, unseen=audio[n - tail:], seen=True)


def copy_anchor(train: np.ndarray, length: int) -> np.ndarray:
  """A literal excerpt [min(length, N)] of the training audio, from its middle.

  Args:
    train: [N] training audio.
    length: samples wanted.

  Returns:
    [min(length, N)] a copy of the middle of train (its dtype).
  """
  length = min(length, len(train))
  start = (len(train) - length) // 2
  return train[start:start + length].copy()


def grains_anchor(train: np.ndarray, length: int, sr: int, seed: int = SEED) -> np.ndarray:
  """[length] of GRAIN_S grains of train [N] in random order, overlap-added with FADE_S fades.

  Grain k starts at k * (grain - fade) and fades in and out over `fade` samples (raised cosine),
  so neighbouring fades sum to one: the grain boundaries themselves add no level change.

  Args:
    train: [N] training audio (N >= 1).
    length: samples wanted.
    sr: sample rate in Hz (sets the grain and fade lengths).
    seed: seed of the NumPy generator that picks the grains.

  Returns:
    [length] float64 audio.
  """
  grain, fade = int(round(GRAIN_S * sr)), int(round(FADE_S * sr))
  grain = min(grain, len(train))
  fade = min(fade, grain // 2)
  step = grain - fade
  count = max(1, -(-(length - fade) // step))
  rng = np.random.default_rng(seed)
  starts = rng.integers(0, len(train) - grain + 1, size=count)
  grains = train[starts[:, None] + np.arange(grain)[None, :]]          # [count, grain]
  env = np.ones(grain)
  if fade:
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
    env[:fade], env[grain - fade:] = ramp, ramp[::-1]
  out = np.zeros(step * (count - 1) + grain)
  idx = (np.arange(count)[:, None] * step + np.arange(grain)[None, :]).reshape(-1)
  np.add.at(out, idx, (grains * env).reshape(-1))
  return out[:length]


def noise_anchor(train: np.ndarray, length: int, seed: int = SEED) -> np.ndarray:
  """White Gaussian noise [length] at the RMS level of train (DC removed).

  Args:
    train: [N] training audio.
    length: samples wanted.
    seed: seed of the NumPy generator.

  Returns:
    [length] float64 noise.
  """
  rms = float(np.sqrt(np.mean(np.square(train - np.mean(train)))))
  return np.random.default_rng(seed).standard_normal(length) * rms


def make_anchors(split: Split, length: int, sr: int) -> dict:
  """{name: audio [n]} of the four anchors; copy, grains and noise are `length` samples long
  (copy at least MIN_COPY_S), unseen is the split's tail.

  Args:
    split: the recording's Split (split_recording).
    length: samples of the made anchors (clipped to 1 .. len(split.train)).
    sr: sample rate in Hz.

  Returns:
    {'unseen': [M] float64 the tail, 'copy': [min(max(length, MIN_COPY_S * sr), N)],
    'grains': [length] float64, 'noise': [length] float64}, in ANCHOR_NAMES order.
  """
  length = max(1, min(length, len(split.train)))
  return {
      'unseen': np.asarray(split.unseen, np.float64),
      'copy': copy_anchor(split.train, max(length, int(MIN_COPY_S * sr))),
      'grains': grains_anchor(split.train, length, sr),
      'noise': noise_anchor(split.train, length),
  }
