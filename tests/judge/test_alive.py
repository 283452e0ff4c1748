"""The alive score: plain-loop references of its features, and its verdicts on anchors of the
bundled recording whose answers are known (real playing alive; a held tone, silence, white noise
and a literal copy each failing for its own reason)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from audiolstm.audio import audio_io
from audiolstm.audio import features
from audiolstm.judge import alive
from audiolstm.judge import anchors
from audiolstm.judge import measures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SR = 11025


@pytest.fixture(scope='module')
def recording():
  """The bundled 20 s melody split 12 s (training part: the reference) + 8 s unseen tail, with
  the reference prepared and the alive score calibrated on it."""
  x = audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR).astype(np.float64)
  split = anchors.split_recording(x, 0.4)
  ref = measures.prepare_reference(split.train, SR)
  return split, ref, alive.calibrate(ref)


def held_tone(train, seconds):
  """A chord of three steady sinusoids at the RMS level of train: [seconds * SR]."""
  t = np.arange(int(seconds * SR)) / SR
  x = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((220.0, 277.2, 329.6)))
  return x * np.std(train) / np.std(x)


def letters(x, recording):
  _, ref, cal = recording
  return alive.summarize(alive.score_windows(x, ref, cal))['windows']


@pytest.mark.parametrize('seconds, expected', [
    (20, [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20)]),
    (9, [(0, 4), (4, 8)]),                      # the last 1 s is dropped
    (10, [(0, 4), (4, 8), (8, 10)]),            # a last 2 s part is kept
    (1, []),
    (3, [(0, 3)]),
])
def test_window_bounds(seconds, expected):
  got = alive.window_bounds(seconds * SR, SR)
  assert [(a / SR, b / SR) for a, b in got] == expected


def test_reference_windows_overlap_without_short_ends():
  got = alive.window_bounds(13 * SR // 2, SR, hop_s=1.0) / SR
  np.testing.assert_allclose(got, [[0, 4], [1, 5], [2, 6], [3, 6.5]], atol=1e-3)


def test_flux_equals_loops():
  rng = np.random.default_rng(0)
  frames = rng.uniform(-80, 0, size=(7, 5))
  top = frames.max()
  total = 0.0
  for t in range(1, len(frames)):
    sq = 0.0
    for b in range(frames.shape[1]):
      d = max(frames[t, b], top - alive.CLIP_DB) - max(frames[t - 1, b], top - alive.CLIP_DB)
      sq += d * d
    total += (sq / frames.shape[1]) ** 0.5
  assert alive.flux_db(frames) == pytest.approx(total / (len(frames) - 1), rel=1e-12)
  assert alive.flux_db(frames[:1]) == 0.0 and alive.flux_db(np.zeros((9, 5))) == 0.0


def test_onset_envelope_equals_loops():
  frames = np.random.default_rng(1).uniform(-80, 0, size=(6, 4))
  env = alive.onset_envelope(frames, 2)
  for t in range(len(frames)):
    rises = [max(0.0, frames[t, b] - frames[t - 2, b]) if t >= 2 else 0.0 for b in range(4)]
    assert env[t] == pytest.approx(sum(rises) / 4, rel=1e-12)
  assert not np.any(alive.onset_envelope(frames[:2], 2))


def test_plucks_are_counted_as_onsets():
  t = np.arange(3 * SR) / SR
  x = np.zeros_like(t)
  for k, at in enumerate((0.3, 0.8, 1.4, 1.9, 2.5)):   # five decaying notes
    on = t >= at
    x[on] += np.sin(2 * np.pi * (220 + 40 * k) * t[on]) * np.exp(-6 * (t[on] - at))
  env = alive.onset_envelope(features.mel_frames(x, SR)[0], alive.onset_lag(SR))
  assert alive.count_onsets(env, SR, alive.ONSET_DELTA * np.ptp(env)) == 5
  tone = alive.onset_envelope(features.mel_frames(held_tone(x, 3), SR)[0], alive.onset_lag(SR))
  assert alive.count_onsets(tone, SR, alive.ONSET_DELTA * np.ptp(env)) <= 1


def test_match_seconds_equals_each_window_alone(recording):
  split, ref, _ = recording
  x = np.concatenate([split.train[SR:5 * SR], held_tone(split.train, 4),
                      split.train[2 * SR:3 * SR], split.unseen[:3 * SR]])      # 12 s
  bounds = alive.window_bounds(len(x), SR)
  got = alive.match_seconds(x, ref, bounds)
  w, hop = int(alive.MATCH_WINDOW_S * SR), int(alive.MATCH_HOP_S * SR)
  for (a, b), value in zip(bounds, got):
    starts, ncc, _, cont = measures.best_matches(x[a:b], ref, w, hop)
    expected = measures.longest_match(starts, ncc, cont, w, alive.LITERAL_NCC)[0] / SR
    assert value == pytest.approx(expected, abs=alive.MATCH_HOP_S)
  assert got[0] == pytest.approx(4.0, abs=0.01) and got[1] == 0.0 and got[2] == pytest.approx(1.0, abs=0.2)


def test_real_playing_is_alive(recording):
  split, ref, cal = recording
  assert letters(split.unseen, recording) == 'AA'       # the unseen 8 s tail
  # The training part's own windows: nothing but copying (of themselves) holds them back.
  windows = alive.score_windows(split.train, ref, cal)
  assert [w['verdict'] for w in windows] == ['copy'] * 3
  assert all(alive.verdict({**w, 'match_s': 0.0}, cal) == 'alive' for w in windows)


@pytest.mark.parametrize('make, expected', [
    (lambda s: held_tone(s.train, 12), 'HHH'),                       # a held chord
    (lambda s: np.zeros(12 * SR), 'SSS'),                            # silence
    (lambda s: 1e-3 * s.unseen, 'SS'),                               # playing 60 dB down
    (lambda s: anchors.noise_anchor(s.train, 12 * SR), 'NNN'),       # white noise at its level
    (lambda s: s.train[:8 * SR], 'CC'),                              # a literal copy
    (lambda s: np.concatenate([s.unseen[:4 * SR], held_tone(s.train, 4),
                               anchors.noise_anchor(s.train, 4 * SR)]), 'AHN'),
])
def test_each_bad_anchor_fails_for_its_own_reason(recording, make, expected):
  assert letters(make(recording[0]), recording) == expected


def test_calibration_is_relative_to_the_recording(recording):
  split, ref, cal = recording
  louder = measures.prepare_reference(4 * split.train, SR)
  cal4 = alive.calibrate(louder)
  assert cal4.ref_level_db == pytest.approx(cal.ref_level_db + 20 * np.log10(4), abs=1e-6)
  for k in ('silent_db', 'noise_flatness', 'held_change_db', 'held_onsets'):
    assert getattr(cal4, k) == pytest.approx(getattr(cal, k), rel=0.05), k
  assert 0 < cal.held_change_db < np.inf and 0 < cal.noise_flux_db < np.inf
  assert 0 < cal.noise_flatness < 0.56       # between the recording's and white noise's


def test_summarize():
  ws = [{'verdict': v} for v in ('alive', 'held', 'held', 'noise')]
  assert alive.summarize(ws) == {'alive': 0.25, 'windows': 'AHHN',
                                 'counts': {'alive': 1, 'noise': 1, 'held': 2}}
  empty = alive.summarize([])
  assert np.isnan(empty['alive']) and empty['windows'] == '' and empty['counts'] == {}


def test_imports_no_jax_and_imports_first():
  code = 'import sys, audiolstm.judge.alive; assert "jax" not in sys.modules, "jax imported"'
  r = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True,
                     env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
  assert r.returncode == 0, r.stderr
