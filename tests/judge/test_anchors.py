"""Anchors cut or made from a recording: compared with plain loop reimplementations."""
import math

import numpy as np
import pytest

from audiolstm.judge import anchors

SR = 11025


def naive_grains(train, length, sr, seed):
  """grains_anchor written out with loops, drawing the grain starts from the same RNG.

  Returns:
    (audio [length], grain starts in train [count], grain, fade, step).
  """
  grain = min(int(round(anchors.GRAIN_S * sr)), len(train))
  fade = min(int(round(anchors.FADE_S * sr)), grain // 2)
  step = grain - fade
  count = max(1, math.ceil((length - fade) / step))
  starts = np.random.default_rng(seed).integers(0, len(train) - grain + 1, size=count)
  out = np.zeros(step * (count - 1) + grain)
  for k in range(count):
    for j in range(grain):
      if j < fade:
        gain = 0.5 - 0.5 * math.cos(math.pi * (j + 0.5) / fade)
      elif j >= grain - fade:
        gain = 0.5 - 0.5 * math.cos(math.pi * (grain - 1 - j + 0.5) / fade)
      else:
        gain = 1.0
      out[k * step + j] += train[starts[k] + j] * gain
  return out[:length], starts, grain, fade, step


@pytest.fixture
def recording():
  return np.random.default_rng(3).standard_normal(2000)


def test_split_with_a_validation_split(recording):
  s = anchors.split_recording(recording, 0.1)
  assert not s.seen
  assert len(s.train) == 1800 and len(s.unseen) == 200
  np.testing.assert_array_equal(s.train, recording[:1800])
  np.testing.assert_array_equal(s.unseen, recording[-200:])   # the tail is the end
  # The same rounding as training's split (dataset.load_sources): round(n * val_fraction).
  s = anchors.split_recording(recording[:1005], 0.1)
  assert len(s.unseen) == int(round(1005 * 0.1)) and len(s.train) + len(s.unseen) == 1005


def test_split_without_a_validation_split(recording):
  s = anchors.split_recording(recording, 0.0)
  assert s.seen
  np.testing.assert_array_equal(s.train, recording)             # trained on all of it
  assert len(s.unseen) == round(len(recording) * anchors.DEFAULT_TAIL)
  np.testing.assert_array_equal(s.unseen, recording[-200:])
  # A validation split that rounds to no sample is none; the tail is still at least 1 sample.
  s = anchors.split_recording(recording[:4], 0.1)
  assert s.seen and len(s.train) == 4 and list(s.unseen) == [recording[3]]


def test_copy_anchor_is_a_literal_slice_from_the_middle(recording):
  c = anchors.copy_anchor(recording, 500)
  np.testing.assert_array_equal(c, recording[750:1250])
  c[:] = 0
  assert np.all(recording[750:1250] != 0)                        # a copy, not a view
  np.testing.assert_array_equal(anchors.copy_anchor(recording, 5000), recording)
  np.testing.assert_array_equal(anchors.copy_anchor(recording, 1999), recording[:1999])


@pytest.mark.parametrize('length', [1, 97, 1103, 4 * SR + 13])
def test_grains_anchor_equals_a_naive_overlap_add(length):
  train = np.random.default_rng(5).standard_normal(3 * SR)
  got = anchors.grains_anchor(train, length, SR, seed=7)
  want, starts, grain, fade, step = naive_grains(train, length, SR, seed=7)
  assert got.shape == (length,)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
  # Between the fades every grain is a literal stretch of the input.
  for k, s in enumerate(starts):
    a, b = k * step + fade, min(k * step + grain - fade, length)
    if a < b:
      np.testing.assert_array_equal(got[a:b], train[s + fade:s + fade + b - a])


def test_grains_anchor_is_deterministic_and_seeded():
  train = np.random.default_rng(5).standard_normal(2 * SR)
  a = anchors.grains_anchor(train, SR, SR)
  np.testing.assert_array_equal(a, anchors.grains_anchor(train, SR, SR))
  np.testing.assert_array_equal(a, anchors.grains_anchor(train, SR, SR, seed=anchors.SEED))
  assert not np.allclose(a, anchors.grains_anchor(train, SR, SR, seed=anchors.SEED + 1))


def test_grains_of_a_constant_are_constant_between_the_ends():
  """The raised-cosine fade-out of one grain and fade-in of the next sum to one."""
  length = 2 * SR
  out = anchors.grains_anchor(np.full(SR, 0.25), length, SR)
  fade = int(round(anchors.FADE_S * SR))
  np.testing.assert_allclose(out[fade:length - fade], 0.25, rtol=0, atol=1e-12)
  ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
  np.testing.assert_allclose(out[:fade], 0.25 * ramp, rtol=0, atol=1e-12)   # the first fade-in


def test_grains_of_a_short_recording():
  """Training audio shorter than a grain: the grain is the whole recording, fades halve at most."""
  train = np.random.default_rng(2).standard_normal(300)
  got = anchors.grains_anchor(train, 1000, SR, seed=1)
  want, starts, grain, fade, _ = naive_grains(train, 1000, SR, seed=1)
  assert grain == 300 and fade == min(110, 150) and np.all(starts == 0)
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_noise_anchor_has_the_training_rms():
  train = 0.3 + 0.05 * np.random.default_rng(4).standard_normal(3 * SR)   # DC does not count
  rms = float(np.sqrt(np.mean(np.square(train - train.mean()))))
  n = anchors.noise_anchor(train, 4 * SR)
  assert n.shape == (4 * SR,)
  assert float(np.sqrt(np.mean(np.square(n)))) == pytest.approx(rms, rel=0.02)
  assert abs(float(np.mean(n))) < 0.05 * rms                              # white, zero-mean
  assert abs(np.corrcoef(n[1:], n[:-1])[0, 1]) < 0.03                      # uncorrelated samples
  np.testing.assert_array_equal(n, anchors.noise_anchor(train, 4 * SR))   # deterministic


def test_make_anchors_lengths_and_contents():
  rec = np.random.default_rng(6).standard_normal(10 * SR)
  split = anchors.split_recording(rec, 0.1)
  made = anchors.make_anchors(split, 2 * SR, SR)
  assert tuple(made) == anchors.ANCHOR_NAMES
  np.testing.assert_array_equal(made['unseen'], rec[9 * SR:])
  # copy: at least MIN_COPY_S; grains and noise: the asked length.
  np.testing.assert_array_equal(made['copy'],
                                anchors.copy_anchor(split.train, int(anchors.MIN_COPY_S * SR)))
  np.testing.assert_array_equal(made['grains'], anchors.grains_anchor(split.train, 2 * SR, SR))
  np.testing.assert_array_equal(made['noise'], anchors.noise_anchor(split.train, 2 * SR))
  # Longer than the training part: cut to it.
  made = anchors.make_anchors(split, 20 * SR, SR)
  assert len(made['grains']) == len(made['noise']) == len(made['copy']) == 9 * SR
