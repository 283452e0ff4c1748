"""Quality scores on constructed cases with known answers, and the scoring command end to end."""
import csv
import json
import math
import os
import subprocess
import sys

import librosa
import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import audio_io
from audiolstm.audio import features
from audiolstm.audio import spectral
from audiolstm.judge import anchors
from audiolstm.judge import evaluate
from audiolstm.judge import measures
from audiolstm.judge import calibration
from audiolstm.run import train
from tests.helpers import fake_fft_run
from tests.helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SR = 11025


@pytest.fixture(scope='module')
def melody():
  """The first 10 s of the bundled plucked-string melody (float64) and its prepared Reference."""
  x = audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[:10 * SR].astype(np.float64)
  return x, measures.prepare_reference(x, SR)


@pytest.fixture(scope='module')
def noise_scores(melody):
  return measures.score_audio(0.1 * np.random.default_rng(0).standard_normal(4 * SR), melody[1],
                              SR)


def shift(x, semitones):
  """x played back `semitones` higher (by resampling: shorter too)."""
  return librosa.resample(x, orig_sr=SR, target_sr=int(round(SR * 2 ** (-semitones / 12))))


def reorder(x, block_s, seed, fade_s=0.01):
  """x cut into block_s blocks, shuffled (no block followed by its successor), crossfaded."""
  rng = np.random.default_rng(seed)
  block, fade = int(block_s * SR), int(fade_s * SR)
  nb = (len(x) - fade) // block
  perm = rng.permutation(nb)
  while np.any(np.diff(perm) == 1):
    perm = rng.permutation(nb)
  ramp = np.concatenate([np.linspace(0, 1, fade), np.ones(block - fade), np.linspace(1, 0, fade)])
  blocks = x[perm[:, None] * block + np.arange(block + fade)] * ramp          # [nb, block + fade]
  out = np.zeros((nb + 1, block))
  out[:nb] += blocks[:, :block]
  out[1:, :fade] += blocks[:, block:]
  return out.reshape(-1)


def no_flags(s):
  return not any(s[f] for f in measures.FLAG_NAMES)


def test_score_names_and_types(melody):
  s = measures.score_audio(melody[0][:SR], melody[0], SR)  # a plain array as the reference
  assert tuple(s) == measures.SCORE_NAMES
  assert all(isinstance(s[k], bool) for k in measures.FLAG_NAMES)
  assert all(isinstance(v, float) for k, v in s.items() if k not in measures.FLAG_NAMES)
  assert all(d.doc and d.criterion for d in measures.SCORES)


def test_verbatim_copy_scores_as_copy(melody):
  x, ref = melody
  s = measures.score_audio(x[2 * SR:6 * SR], ref, SR)
  assert s['max_ncc'] > 0.999
  assert s['longest_match_s'] == pytest.approx(4.0, abs=1e-6)
  assert s['match_at_s'] == pytest.approx(2.0, abs=1e-3)
  # ... and is free of artifacts, like the input.
  assert 0.7 < s['discontinuity'] < 1.5 and s['clicks_per_s'] == 0
  assert 0.5 < s['flatness_ratio'] < 2 and no_flags(s)
  whole = measures.score_audio(x, ref, SR)
  assert whole['spectral_distance_db'] < 1e-6 and whole['chroma_distance'] < 1e-6
  assert whole['longest_match_s'] == pytest.approx(10.0)


def test_longest_match_measures_the_copied_stretch(melody):
  """A 2 s literal copy between two novel seconds: found, at the right place, about 2 s long."""
  x, ref = melody
  dream = np.concatenate([shift(x[:SR], 0.5), x[3 * SR:5 * SR], x[6 * SR:7 * SR][::-1]])
  s = measures.score_audio(dream, ref, SR)
  assert s['max_ncc'] > 0.999
  # Windows start every 0.125 s, so the measured stretch is at most one hop short.
  assert 2.0 - 0.125 - 1e-6 <= s['longest_match_s'] <= 2.0 + 1e-6
  assert abs(s['match_at_s'] - 3.0) <= 0.125


def test_white_noise_is_noise_like_and_unlike_the_input(noise_scores):
  s = noise_scores
  assert s['flatness_ratio'] > 100 and s['discontinuity'] > 5
  assert s['spectral_distance_db'] > 15
  assert s['max_ncc'] < 0.2 and s['longest_match_s'] == 0
  assert no_flags(s)


def test_reordered_short_blocks_are_similar_but_novel(melody, noise_scores):
  """0.1 s blocks: every block is literal, but no 0.5 s window of the dream is in the input."""
  x, ref = melody
  s = measures.score_audio(reorder(x, 0.1, seed=0), ref, SR)
  assert s['spectral_distance_db'] < 2 and s['chroma_distance'] < 0.05
  assert s['spectral_distance_db'] < noise_scores['spectral_distance_db'] / 10
  assert s['max_ncc'] < 0.9 and s['longest_match_s'] == 0
  assert 0.8 < s['discontinuity'] < 1.25 and s['clicks_per_s'] == 0 and no_flags(s)


def test_pitch_shifted_is_similar_but_novel(melody, noise_scores):
  x, ref = melody
  s = measures.score_audio(shift(x, 0.5), ref, SR)  # a quarter tone up
  assert s['spectral_distance_db'] < min(8, noise_scores['spectral_distance_db'] / 2)
  assert s['max_ncc'] < 0.8 and s['longest_match_s'] == 0
  assert s['flatness_ratio'] < 2 and no_flags(s)


def test_clicks_are_counted(melody):
  x, ref = melody
  dream = x[2 * SR:5 * SR].copy()
  dream[(np.arange(5) * 0.55 * SR + 1000).astype(int)] += 0.8  # five one-sample spikes in 3 s
  s = measures.score_audio(dream, ref, SR)
  assert s['clicks_per_s'] == pytest.approx(5 / 3)
  assert s['discontinuity'] > measures.score_audio(x[2 * SR:5 * SR], ref, SR)['discontinuity']


@pytest.mark.parametrize('case, expected', [
    ('zeros', {'silent', 'constant'}),
    ('dc', {'constant'}),
    ('stuck', {'constant'}),
    ('clipped', {'clipped'}),
    ('nan', {'nan'}),
    ('fine', set()),
])
def test_flags(melody, case, expected):
  x, ref = melody
  fine = x[2 * SR:3 * SR].copy()
  dream = {'zeros': np.zeros(SR), 'dc': np.full(SR, 0.3),
           'stuck': np.concatenate([fine[:SR // 20], np.full(SR, 0.2)]),
           'clipped': np.clip(3 * fine, -1, 1), 'nan': np.where(np.arange(SR) == 100, np.nan, fine),
           'fine': fine}[case]
  s = measures.score_audio(dream, ref, SR)
  assert {f for f in measures.FLAG_NAMES if s[f]} == expected
  if case == 'zeros':
    assert math.isnan(s['spectral_distance_db']) and s['max_ncc'] == 0 and s['clicks_per_s'] == 0
  if case == 'nan':  # the other scores are computed with the NaN as 0
    assert s['max_ncc'] > 0.99 and all(math.isfinite(s[k]) for k in ('discontinuity',
                                                                        'spectral_distance_db'))


def test_best_matches_equals_brute_force():
  rng = np.random.default_rng(1)
  ref_audio = rng.standard_normal(900)
  ref_audio[300:400] = 0  # silent stretches have no correlation
  dream = rng.standard_normal(200)
  dream[50:150] = 0.5 * ref_audio[600:700] + 0.1
  ref = measures.prepare_reference(ref_audio, 1000)
  starts, ncc, lags, cont = measures.best_matches(dream, ref, 60, 25, max_elements=1000)
  assert list(starts) == [0, 25, 50, 75, 100, 125, 140]
  for k, s in enumerate(starts):  # the naive definition: Pearson correlation at every lag
    w = dream[s:s + 60]
    r = np.array([abs(np.corrcoef(w, ref_audio[l:l + 60])[0, 1]) if np.std(ref_audio[l:l + 60])
                  else 0.0 for l in range(len(ref_audio) - 59)])
    assert ncc[k] == pytest.approx(r.max(), abs=1e-9) and lags[k] == np.argmax(r)
  assert ncc[2] == pytest.approx(1.0) and lags[2] == 600 and lags[3] == 625
  assert cont[3] == pytest.approx(1.0) and cont[0] == 0


def test_longest_match_chains():
  starts = np.arange(6) * 10
  ncc = np.array([0.95, 0.95, 0.95, 0.2, 0.95, 0.95])
  cont = np.array([0.0, 0.95, 0.95, 0.1, 0.2, 0.95])  # window 4 does not continue window 3
  assert measures.longest_match(starts, ncc, cont, 20, 0.9) == (40, 0)  # windows 0..2
  assert measures.longest_match(starts, np.full(6, 0.5), cont, 20, 0.9) == (0, -1)
  single = np.array([0.1, 0.1, 0.95, 0.1, 0.1, 0.1])
  assert measures.longest_match(starts, single, cont, 20, 0.9) == (20, 2)


def test_parse_dream_name():
  assert evaluate.parse_dream_name('fft_concurrent_random_it0001200_s0.wav') == {
      'approach': 'fft', 'kind': 'concurrent', 'seed_mode': 'random', 'iteration': 1200,
      'stream': 0}
  name = 'dreams/column_sequential_same_it0000050_s3-1.wav'  # with a collision suffix
  assert evaluate.parse_dream_name(name)['stream'] == 3
  assert evaluate.parse_dream_name('mine.wav')['iteration'] == -1


def test_score_run_reads_nan_files_and_survives_bad_ones(tmp_path, synth_audio):
  run = tmp_path / 'run'
  (run / 'dreams').mkdir(parents=True)
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), synth_audio, SR)
  (run / 'config.json').write_text(json.dumps({'approach': 'vector', 'sample_rate': SR,
                                               'input_files': [wav]}))
  audio_io.write_wav(str(run / 'dreams' / 'vector_concurrent_same_it0000020_s1.wav'),
                     synth_audio[:SR], SR)
  bad = synth_audio[:SR].copy()
  bad[10] = np.nan
  sf.write(str(run / 'dreams' / 'vector_concurrent_random_it0000010_s0.wav'), bad, SR,
           subtype='FLOAT')
  (run / 'dreams' / 'vector_concurrent_advance_it0000030_s0.wav').write_bytes(b'not audio')
  # The anchors come first (they calibrate the verdicts); the dreams follow.
  rows = [r for r in evaluate.score_run(str(run)) if r['source'] == 'dream']
  assert [r['iteration'] for r in rows] == [10, 20, 30]  # oldest first
  assert rows[0]['nan'] and rows[0]['max_ncc'] > 0.99 and rows[0]['seed_mode'] == 'random'
  assert not rows[1]['nan'] and rows[1]['longest_match_s'] == pytest.approx(1.0)
  assert rows[2]['error'].startswith('cannot read') and math.isnan(rows[2]['max_ncc'])
  path = evaluate.write_scores(str(run), rows)
  back = evaluate.read_scores(path)
  assert [r['file'] for r in back] == [r['file'] for r in rows]
  assert back[0]['nan'] is True and back[1]['max_ncc'] == pytest.approx(rows[1]['max_ncc'])
  # No temp files (anchors/ holds the anchors' WAVs).
  assert sorted(os.listdir(run)) == ['anchors', 'config.json', 'dreams', 'scores.csv']
  assert len(evaluate.score_run(str(run), names=[rows[1]['file']], with_anchors=False)) == 1


def run_evaluate(*args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-m', 'audiolstm.judge.evaluate', *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_scores_a_tiny_run(tmp_path, synth_audio):
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), synth_audio, SR)
  c = tiny_config('fft', input_files=(wav,), dream_seconds=0.05, max_steps=140)
  summary = train.train_and_evaluate(c, str(tmp_path / 'run'), log=lambda *a: None)
  assert len(summary['dreams']) >= 2
  r = run_evaluate(f'--workdir={summary["workdir"]}')
  assert r.returncode == 0, r.stderr
  path = os.path.join(summary['workdir'], 'scores.csv')
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  assert [row['source'] for row in rows[:4]] == list(anchors.ANCHOR_NAMES)
  assert [row['file'] for row in rows[:4]] == [f'anchors/{n}.wav' for n in anchors.ANCHOR_NAMES]
  rows = rows[4:]
  assert {row['source'] for row in rows} == {'dream'}
  assert sorted(row['file'] for row in rows) == sorted(os.path.basename(d)
                                                      for d in summary['dreams'])
  assert set(evaluate.CSV_FIELDS) == set(rows[0])
  assert all(row['approach'] == 'fft' and row['kind'] == 'concurrent' for row in rows)
  assert all(0 <= float(row['max_ncc']) <= 1 and row['error'] == '' for row in rows)
  assert all(os.path.basename(d) in r.stdout for d in summary['dreams'])
  assert not [n for n in os.listdir(summary['workdir'])  # no temporary files (the lock stays)
              if n.startswith('.') and n != '.audiolstm.lock']


@pytest.mark.parametrize('make, message', [
    (lambda p: [f'--workdir={p / "missing"}'], 'not found'),
    (lambda p: [f'--workdir={p}'], 'no config.json'),
    (lambda p: [], 'no work directory given'),
    (lambda p: ['--nonsense=1'], 'nonsense'),
])
def test_cli_bad_workdir_exits_2(tmp_path, make, message):
  r = run_evaluate(*make(tmp_path))
  assert r.returncode == 2
  assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr, r.stderr
  assert 'Traceback' not in r.stderr


# ----------------------------------------------------------------------------- new scores vs loops


def naive_flatness(x, sr):
  """Geometric mean over the non-silent frames of each frame's spectral flatness, with loops."""
  n_fft, hop = spectral.analysis_sizes(sr)
  x = np.asarray(x, np.float64) - np.mean(x)
  half = n_fft // 2
  padded = np.concatenate([np.zeros(half), x, np.zeros(half + max(0, n_fft - len(x) - 2 * half))])
  window = np.array([0.5 - 0.5 * math.cos(2 * math.pi * (i + 1) / (n_fft + 1))
                     for i in range(n_fft)])
  flat, energy = [], []
  for start in range(0, len(padded) - n_fft + 1, hop):
    p = np.abs(np.fft.rfft(padded[start:start + n_fft] * window)) ** 2
    energy.append(p.sum())
    p = p + 10 ** (-features.FLATNESS_FLOOR_DB / 10) * p.max() + 1e-300
    flat.append(math.exp(np.mean(np.log(p))) / np.mean(p))
  energy = np.array(energy)
  logs = [math.log(f) for f, e in zip(flat, energy) if e > 1e-6 * energy.max()]
  return math.exp(sum(logs) / len(logs))


def test_flatness_ratio_is_a_ratio_of_geometric_means_over_frames(melody):
  x, _ = melody
  ref_audio = x[:3 * SR]
  # Half a note, then a second of near silence with a little noise: the quiet frames do not rule.
  dream = np.concatenate([x[4 * SR:4 * SR + SR // 2],
                          1e-3 * np.random.default_rng(0).standard_normal(SR)])
  s = measures.score_audio(dream, ref_audio, SR)
  want = naive_flatness(dream, SR) / naive_flatness(ref_audio, SR)
  assert s['flatness_ratio'] == pytest.approx(want, rel=1e-9)
  # spectral.flatness (the dream gate's measure, spectral_floor_match) is the same number.
  assert spectral.flatness(dream, SR) == pytest.approx(naive_flatness(dream, SR), rel=1e-9)
  assert math.isnan(spectral.flatness(np.zeros(SR), SR))


def naive_motion(frames, hop, sr, pair_frames):
  """motion_curve with loops: per lag, mean RMS difference of frames that far apart over the mean
  RMS difference of all ordered pairs of (at most pair_frames evenly spaced) frames."""
  rms = lambda a, b: math.sqrt(np.mean(np.square(a - b)))
  some = (range(len(frames)) if len(frames) <= pair_frames
          else np.linspace(0, len(frames) - 1, pair_frames).astype(int))
  overall = np.mean([rms(frames[i], frames[j]) for i in some for j in some])
  out = []
  for lag_s in measures.MOTION_LAGS_S:
    k = max(1, int(round(lag_s * sr / hop)))
    if len(frames) <= k or overall == 0:
      out.append(math.nan)
      continue
    out.append(np.mean([rms(frames[t + k], frames[t]) for t in range(len(frames) - k)]) / overall)
  return np.array(out)


def naive_motion_excess(motion, reference):
  terms = [max(0.0, math.log(m / r)) for m, r in zip(motion, reference)
           if math.isfinite(m) and math.isfinite(r) and m > 0 and r > 0]
  return sum(terms) / len(terms) if terms else math.nan


@pytest.mark.parametrize('count, pair_frames', [(40, 1500), (13, 1500), (14, 1500), (40, 9)])
def test_motion_curve_equals_loops(monkeypatch, count, pair_frames):
  monkeypatch.setattr(measures, 'MOTION_PAIR_FRAMES', pair_frames)
  frames = np.random.default_rng(count).uniform(-80, 0, (count, 8))
  got = measures.motion_curve(frames, 256, SR)      # lags of 2, 4, 9, 13 and 22 frames
  want = naive_motion(frames, 256, SR, pair_frames)
  np.testing.assert_allclose(got, want, rtol=1e-9, equal_nan=True)
  # A lag of k frames needs more than k frames: 13 frames are too few for 13 and 22.
  assert np.isnan(got).sum() == {13: 2, 14: 1}.get(count, 0)


def test_motion_excess_compares_with_excerpts_of_the_dreams_length(melody):
  """The reference's curve is the mean curve of MOTION_EXCERPTS evenly spaced excerpts of the
  dream's length (in frames), so a short dream meets equally short stretches of the input."""
  x, _ = melody
  ref_audio, dream = x[:3 * SR], x[5 * SR:5 * SR + SR // 2]
  ref = measures.prepare_reference(ref_audio, SR)
  hop = spectral.analysis_sizes(SR)[1]
  ref_frames, _ = features.mel_frames(ref_audio - np.mean(ref_audio), SR)   # DC removed first
  dream_frames, _ = features.mel_frames(dream - np.mean(dream), SR)
  n = len(dream_frames)
  starts = sorted({int(a) for a in np.linspace(0, len(ref_frames) - n, measures.MOTION_EXCERPTS)})
  curves = np.array([naive_motion(ref_frames[a:a + n], hop, SR, measures.MOTION_PAIR_FRAMES)
                     for a in starts])
  want = np.array([np.mean(c[np.isfinite(c)]) if np.any(np.isfinite(c)) else math.nan
                   for c in curves.T])
  np.testing.assert_allclose(ref.motion(n), want, rtol=1e-9, equal_nan=True)
  assert np.isnan(want[-1]) and np.all(np.isfinite(want[:-1]))   # 0.5 s: too short for 0.5 s
  dream_curve = naive_motion(dream_frames, hop, SR, measures.MOTION_PAIR_FRAMES)
  assert measures.score_audio(dream, ref, SR)['motion_excess'] == pytest.approx(
      naive_motion_excess(dream_curve, want), rel=1e-9, abs=1e-12)


def test_motion_curve_of_still_and_of_changing_frames():
  held = np.repeat(np.random.default_rng(0).uniform(-80, 0, (4, 8)), 30, axis=0)  # 4 long notes
  curve = measures.motion_curve(held, 256, SR)
  assert np.all(np.diff(curve) >= 0) and curve[0] < 0.3   # the further apart, the more unlike
  assert np.all(np.isnan(measures.motion_curve(np.zeros((40, 8)), 256, SR)))  # no change at all


def test_motion_excess_equals_loops():
  rng = np.random.default_rng(1)
  for _ in range(20):
    motion, reference = rng.uniform(0.05, 1.5, (2, 5))
    motion[rng.random(5) < 0.2] = math.nan
    reference[rng.random(5) < 0.2] = math.nan
    want = naive_motion_excess(motion, reference)
    got = measures.motion_excess(motion, reference)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-12)
  assert measures.motion_excess(np.array([0.5, 0.2]), np.array([1.0, 0.1])) == pytest.approx(
      math.log(2) / 2)   # only a faster change counts
  assert math.isnan(measures.motion_excess(np.full(5, math.nan), np.ones(5)))


def naive_frame_distance(frames, loud, reference, nearest):
  ref = (reference if len(reference) <= nearest
         else reference[np.linspace(0, len(reference) - 1, nearest).astype(int)])
  if not np.any(loud):
    return math.nan
  best = [min(math.sqrt(np.mean((f - r) ** 2)) for r in ref) for f, l in zip(frames, loud) if l]
  return float(np.mean(best))


@pytest.mark.parametrize('nearest', [6000, 17])
def test_frame_distance_equals_brute_force(monkeypatch, nearest):
  monkeypatch.setattr(measures, 'NEAREST_FRAMES', nearest)
  rng = np.random.default_rng(2)
  reference = rng.uniform(-80, 0, (60, 8))
  frames = rng.uniform(-80, 0, (600, 8))         # more than one batch of 512
  frames[::7] = reference[rng.integers(0, 60, size=len(frames[::7]))] + 0.5   # some near ones
  loud = rng.random(600) < 0.8
  got = measures.frame_distance(frames, loud, reference)
  assert got == pytest.approx(naive_frame_distance(frames, loud, reference, nearest), rel=1e-9)
  if nearest >= len(reference):  # every frame of the reference itself is at distance 0
    assert measures.frame_distance(reference, np.ones(60, bool), reference) == pytest.approx(
        0.0, abs=1e-4)
  assert math.isnan(measures.frame_distance(frames, np.zeros(600, bool), reference))


def test_shuffled_grains_move_faster_than_the_music(melody):
  """0.1 s grains in random order: the timbre of the input without its notes' holding and moving;
  a later excerpt of the same music changes as the input does."""
  x, ref = melody
  grains = measures.score_audio(anchors.grains_anchor(x, 4 * SR, SR), ref, SR)
  later = measures.score_audio(audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[12 * SR:16 * SR],
                               ref, SR)
  assert later['motion_excess'] < 0.15
  assert grains['motion_excess'] > later['motion_excess'] + 0.2
  assert grains['motion_excess'] > 2.5 * later['motion_excess']


def loop_by_loops(x, sr):
  """loop_score with a Python loop over the windows and np.correlate (the reference)."""
  lag, w = int(round(measures.LOOP_LAG_S * sr)), int(round(measures.LOOP_WINDOW_S * sr))
  s, hop = int(round(measures.LOOP_SEARCH_S * sr)), int(round(measures.LOOP_HOP_S * sr))
  best, energy = [], []
  for t in range(s, len(x) - lag - w - s + 1, hop):
    a, b = x[t:t + w], x[t + lag - s:t + lag + w + s]
    corr = np.correlate(b, a, 'valid')                                  # [2s + 1]
    energy_b = np.convolve(b * b, np.ones(w), 'valid')
    best.append(min(1.0, np.max(np.abs(corr) / np.sqrt(np.dot(a, a) * energy_b))))
    energy.append(np.dot(a, a))
  energy = np.array(energy)
  return float(np.median(np.array(best)[energy > energy.max() * 10 ** (-measures.LOOP_QUIET_DB
                                                                       / 10)]))


@pytest.mark.parametrize('max_windows', [128, 3])
def test_loop_score_equals_loops(melody, max_windows):
  x = melody[0][:5 * SR]
  quiet_start = np.concatenate([1e-4 * x[:SR], x[SR:]])   # quiet windows do not count
  for signal in (x, quiet_start):
    assert measures.loop_score(signal, SR, max_windows) == pytest.approx(
        loop_by_loops(signal, SR), abs=1e-9)
  assert math.isnan(measures.loop_score(x[:SR], SR))      # too short for a window and its later
  assert math.isnan(measures.loop_score(np.zeros(4 * SR), SR))


def test_a_repeated_row_buzzes_and_music_does_not(melody):
  """A dream that repeats one 128-sample row (a vector model's fixed point) loops; the music, its
  grains and noise do not."""
  x, ref = melody
  rng = np.random.default_rng(1)
  row = x[3 * SR:3 * SR + 128]
  buzz = np.tile(row, 4 * SR // 128) * np.linspace(1, 0.6, 4 * SR // 128 * 128)  # fading
  scores = {name: measures.score_audio(sig, ref, SR)['loop'] for name, sig in (
      ('buzz', buzz), ('music', audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[12 * SR:16 * SR]),
      ('grains', anchors.grains_anchor(x, 4 * SR, SR)), ('noise', rng.standard_normal(4 * SR)))}
  assert scores['buzz'] > 0.99, scores
  assert max(scores['grains'], scores['noise']) < 0.3, scores
  assert scores['music'] < 0.8, scores


def row_lock_by_loops(x, sr, row_len):
  """row_lock_curve with a Python loop over windows and row lags and np.dot (the reference)."""
  w = int(round(measures.ROW_LOCK_WINDOW_S * sr))
  span = measures.ROW_LOCK_ROWS * row_len
  best, energy = [], []
  for t in range(0, len(x) - w - span + 1, w // 2):
    a = x[t:t + w]
    nccs = [np.dot(a, x[t + k * row_len:t + k * row_len + w])
            / np.sqrt(np.dot(a, a) * np.sum(np.square(x[t + k * row_len:t + k * row_len + w])))
            for k in range(1, measures.ROW_LOCK_ROWS + 1)]
    best.append(min(1.0, max(nccs)))
    energy.append(np.dot(a, a))
  energy = np.array(energy)
  quiet = energy <= energy.max() * 10 ** (-measures.LOOP_QUIET_DB / 10)
  return np.array(best)[~quiet]


def test_row_lock_curve_equals_loops(melody):
  x = melody[0][:3 * SR]
  quiet_start = np.concatenate([1e-4 * x[:SR], x[SR:]])   # quiet windows do not count
  for signal in (x, quiet_start):
    for row_len in (128, 100):
      np.testing.assert_allclose(measures.row_lock_curve(signal, SR, row_len),
                                 row_lock_by_loops(signal, SR, row_len), atol=1e-9)
  assert len(measures.row_lock_curve(np.zeros(2 * SR), SR, 128)) == 0
  assert math.isnan(measures.row_lock(x, SR, 0))          # no rows: not a vector run
  assert math.isnan(measures.row_lock(x[:1000], SR, 128))  # too short for one window


def test_a_locked_row_is_flagged_and_music_is_not(melody):
  """A dream that settles into one 128-sample row, or a cycle of two, repeated (a vector model's
  fixed point) is locked; the music, its grains, noise and a pure tone are not, nor is the same
  buzz judged without rows (not a vector run)."""
  x, ref = melody
  row = x[3 * SR:3 * SR + 256]
  n = 4 * SR // 256 * 256
  settles = np.concatenate([x[5 * SR:6 * SR], np.tile(row[:128], 3 * SR // 128)])  # after 1 s
  cycle = np.tile(row, n // 256) * np.linspace(1, 0.6, n)           # two rows, fading
  t = np.arange(4 * SR) / SR
  signals = {'settles': settles, 'cycle': cycle,
             'music': audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[12 * SR:16 * SR],
             'grains': anchors.grains_anchor(x, 4 * SR, SR),
             'noise': np.random.default_rng(1).standard_normal(4 * SR),
             'tone': 0.5 * np.sin(2 * np.pi * 440.0 * t)}
  s = {k: measures.score_audio(v, ref, SR, row_len=128) for k, v in signals.items()}
  assert 0.6 < s['settles']['row_lock'] < 0.85 and s['cycle']['row_lock'] == 1.0, s
  assert s['settles']['locked'] and s['cycle']['locked']
  for k in ('music', 'grains', 'noise', 'tone'):
    assert s[k]['row_lock'] == 0.0 and not s[k]['locked'], (k, s[k]['row_lock'])
  without_rows = measures.score_audio(cycle, ref, SR)
  assert math.isnan(without_rows['row_lock']) and not without_rows['locked']
  cal = calibration.Calibration(unseen=s['music'], noise=s['noise'])
  assert calibration.artifacts_level({**s['cycle'], 'error': ''}, cal) == 'Low'


def test_dream_row_length_is_seg_len_for_vector_runs_only():
  assert evaluate.dream_row_length({'approach': 'vector', 'seg_len': 128}) == 128
  assert evaluate.dream_row_length({'approach': 'fft', 'seg_len': 256}) == 0
  assert evaluate.dream_row_length({'approach': 'column', 'seg_len': 128}) == 0
  assert evaluate.dream_row_length({'approach': 'vector'}) == 0   # an odd config.json


# ----------------------------------------------------------------------------- verdicts


@pytest.fixture(scope='module')
def anchor_rows():
  """{name: scored row with verdicts} of the anchors of the bundled recording (validation 0.1)."""
  audio = audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR).astype(np.float64)
  split = anchors.split_recording(audio, 0.1)
  ref = measures.prepare_reference(split.train, SR)
  made = anchors.make_anchors(split, 4 * SR, SR)
  cal = calibration.Calibration(unseen=measures.score_audio(made['unseen'], ref, SR),
                             noise=measures.score_audio(made['noise'], ref, SR))
  rows = [dict(measures.score_audio(made[n], ref, SR, copy_threshold=cal.copy_threshold),
               source=n) for n in anchors.ANCHOR_NAMES]
  return {r['source']: r for r in calibration.add_verdicts(rows, cal)}


def test_verdicts_of_the_anchors(anchor_rows):
  levels = {n: tuple(r[v] for v in calibration.VERDICTS) for n, r in anchor_rows.items()}
  assert all(v in calibration.LEVELS for lv in levels.values() for v in lv), levels
  assert anchor_rows['copy']['novelty'] == 'Low', levels
  assert 'Low' in (anchor_rows['noise']['artifacts'], anchor_rows['noise']['resemblance']), levels
  assert anchor_rows['unseen']['resemblance'] == 'High', levels
  assert anchor_rows['unseen']['novelty'] != 'Low', levels
  assert levels['grains'] != ('High', 'High', 'High'), levels
  # Grains keep the timbre but not the motion: their resemblance is not High either.
  assert anchor_rows['grains']['resemblance'] != 'High', levels


def test_verdict_rules_on_constructed_rows(anchor_rows):
  cal = calibration.Calibration(unseen=anchor_rows['unseen'], noise=anchor_rows['noise'])
  good = dict(anchor_rows['unseen'])
  assert calibration.artifacts_level(good, cal) == 'High'
  assert calibration.artifacts_level(dict(good, clipped=True), cal) == 'Low'         # any flag
  assert calibration.artifacts_level(dict(good, error='cannot read: x'), cal) == 'Low'
  assert calibration.artifacts_level(dict(good, clicks_per_s=2.5), cal) == 'Medium'   # <= 3 / s
  assert calibration.artifacts_level(dict(good, clicks_per_s=3.5), cal) == 'Low'
  assert calibration.resemblance_level(dict(good, frame_distance_db=math.nan), cal) == 'Low'
  # The loop score is reported, not a verdict rule: a buzz-like 0.99 leaves resemblance High.
  for loop in (0.99, math.nan):
    assert calibration.resemblance_level(dict(good, loop=loop), cal) == 'High'
  assert calibration.novelty_level(dict(good, copied_s=1.0), cal) == 'Low'
  assert calibration.novelty_level(dict(good, copied_s=0.5), cal) == 'Medium'
  assert calibration.novelty_level(dict(good, copied_s=0.0, longest_match_s=0.0), cal) == 'High'


# ----------------------------------------------------------------------------- a run end to end


def test_score_run_anchors_csv_and_summary(tmp_path, melody):
  """A fake run: 10 s of input with a 0.25 validation split, two dreams: an early literal copy of
  the training part and a late one that is the unseen tail itself (real new playing)."""
  x, _ = melody
  run = tmp_path / 'run'
  (run / 'dreams').mkdir(parents=True)
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), x, SR)
  (run / 'config.json').write_text(json.dumps({'approach': 'vector', 'sample_rate': SR,
                                               'input_files': [wav], 'val_fraction': 0.25}))
  audio = audio_io.load_audio(wav, SR).astype(np.float64)          # as the run reads it
  split = anchors.split_recording(audio, 0.25)
  tail = len(split.unseen)
  copy_name = 'vector_concurrent_random_it0000010_s0.wav'
  tail_name = 'vector_concurrent_random_it0000040_s1.wav'
  audio_io.write_wav(str(run / 'dreams' / copy_name), split.train[SR:SR + tail], SR)
  audio_io.write_wav(str(run / 'dreams' / tail_name), split.unseen, SR)

  rows = evaluate.score_run(str(run))
  assert [r['source'] for r in rows] == list(anchors.ANCHOR_NAMES) + ['dream', 'dream']
  assert [r['file'] for r in rows] == ([f'anchors/{n}.wav' for n in anchors.ANCHOR_NAMES]
                                       + [copy_name, tail_name])
  assert all(r[v] in calibration.LEVELS for r in rows for v in calibration.VERDICTS)
  # The anchors' WAVs are the anchors of the training part, as long as the dreams (copy: 4 s).
  made = anchors.make_anchors(split, tail, SR)
  for name in anchors.ANCHOR_NAMES:
    back = audio_io.load_audio(str(run / 'anchors' / f'{name}.wav'), SR)
    np.testing.assert_allclose(back, np.clip(made[name], -1, 1), rtol=0, atol=2 / 32768)
  assert len(made['copy']) == int(anchors.MIN_COPY_S * SR) and len(made['grains']) == tail
  by_file = {r['file']: r for r in rows}
  assert by_file[copy_name]['novelty'] == 'Low'
  assert by_file[tail_name]['novelty'] != 'Low' and by_file[tail_name]['resemblance'] == 'High'
  assert by_file['anchors/copy.wav']['novelty'] == 'Low'
  assert evaluate.score_run(str(run), with_anchors=False) == rows[4:]

  path = evaluate.write_scores(str(run), rows)
  assert path == str(run / 'scores.csv')
  back = evaluate.read_scores(path)
  assert len(back) == len(rows)
  for r, b in zip(rows, back):
    for k in evaluate.ROW_FIELDS + calibration.VERDICTS + ('error',):
      assert b[k] == r[k], (k, b[k], r[k])
    for k in measures.SCORE_NAMES:
      if isinstance(r[k], bool):
        assert b[k] is r[k]
      elif math.isnan(r[k]):
        assert math.isnan(b[k])
      else:
        assert b[k] == pytest.approx(r[k], rel=1e-5, abs=1e-9), k

  # The second half of training: only the late dream, which passes; all of them: it copies.
  for rs in (rows, back):
    late = calibration.summarize(rs)
    assert late['dreams'] == 1 and late['flagged'] == 0
    assert late['passes'] is True and late['fails'] == ''
    assert late['novelty'] == by_file[tail_name]['novelty']
    assert late['clicks_per_s'] == pytest.approx(by_file[tail_name]['clicks_per_s'], rel=1e-5)
    assert sorted(late['anchors']) == sorted(anchors.ANCHOR_NAMES)
    everything = calibration.summarize(rs, second_half=False)
    assert everything['dreams'] == 2 and everything['passes'] is False
    assert everything['novelty'] == 'Low' and 'copies' in everything['fails']


def test_score_run_without_a_validation_split_judges_the_seen_tail_by_the_audio_before_it(
    tmp_path, melody):
  x, _ = melody
  run = tmp_path / 'run'
  (run / 'dreams').mkdir(parents=True)
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), x[:6 * SR], SR)
  (run / 'config.json').write_text(json.dumps({'approach': 'fft', 'sample_rate': SR,
                                               'input_files': [wav]}))   # no val_fraction: 0
  audio = audio_io.load_audio(wav, SR).astype(np.float64)
  audio_io.write_wav(str(run / 'dreams' / 'fft_concurrent_same_it0000005_s0.wav'),
                     audio[SR:2 * SR], SR)
  rows = evaluate.score_run(str(run))
  unseen = rows[0]
  assert unseen['source'] == 'unseen' and unseen['kind'] == 'seen tail'
  assert [r['kind'] for r in rows[1:4]] == ['anchor'] * 3
  tail = int(round(len(audio) * anchors.DEFAULT_TAIL))
  want = measures.score_audio(audio[-tail:], audio[:-tail], SR)
  # Against the whole training audio the tail would be a literal copy (max_ncc 1).
  assert unseen['max_ncc'] == pytest.approx(want['max_ncc'], abs=1e-9) and want['max_ncc'] < 0.99
  assert unseen['frame_distance_db'] == pytest.approx(want['frame_distance_db'], rel=1e-9)
  assert unseen['novelty'] != 'Low' and rows[4]['novelty'] == 'Low'


# ----------------------------------------------------------------------------- kept files, alive


def kept_run(tmp_path, melody):
  """A fake run on the melody's first 10 s (val 0.25): one 2 s dream, a 12 s sample that is the
  training part's copy then a held tone, a silent 30 s sample and a 9 s stream of the tail."""
  x, _ = melody
  run = fake_fft_run(tmp_path, x, SR, ('dreams', 'samples', 'streams/day1'))
  t = np.arange(8 * SR) / SR
  tone = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 330 * t)
  audio_io.write_wav(str(run / 'samples' / 'fft_sample_a_000.wav'),
                     np.concatenate([x[SR:5 * SR], tone]), SR)
  audio_io.write_wav(str(run / 'samples' / 'fft_sample_b_001.wav'), np.zeros(30 * SR), SR)
  audio_io.write_wav(str(run / 'streams' / 'day1' / 'fft_stream.wav'), x[-9 * SR:] * 0 + tone[
      np.arange(9 * SR) % len(tone)], SR)
  return run


def test_score_run_scores_kept_files_with_the_alive_score(tmp_path, melody):
  run = kept_run(tmp_path, melody)
  kept = evaluate.kept_files(str(run))
  assert [(s, os.path.relpath(p, run)) for s, p in kept] == [
      ('sample', 'samples/fft_sample_a_000.wav'), ('sample', 'samples/fft_sample_b_001.wav'),
      ('stream', 'streams/day1/fft_stream.wav')]
  rows = evaluate.score_run(str(run), kept=kept, with_anchors=False)
  by_file = {r['file']: r for r in rows}
  assert [r['source'] for r in rows] == ['dream', 'sample', 'sample', 'stream']
  short = by_file['fft_concurrent_random_it0000010_s0.wav']
  assert math.isnan(short['alive']) and short['windows'] == ''      # 2 s: no alive score
  sample = by_file['samples/fft_sample_a_000.wav']
  assert sample['windows'] == 'CHH' and sample['alive'] == 0.0 and sample['kind'] == 'sample'
  silent = by_file['samples/fft_sample_b_001.wav']
  assert silent['windows'] == 'S' * 8 and silent['silent'] and silent['artifacts'] == 'Low'
  assert by_file['streams/day1/fft_stream.wav']['windows'] == 'HH'
  back = evaluate.read_scores(evaluate.write_scores(str(run), rows))
  assert [(r['windows'], r['source']) for r in back] == [(r['windows'], r['source'])
                                                         for r in rows]
  assert back[1]['alive'] == 0.0 and math.isnan(back[0]['alive'])
  s = calibration.alive_summary(back)
  assert s == {'files': 3, 'windows': 13, 'alive': 0.0, 'stuck': 3,
               'counts': {'silent': 8, 'held': 4, 'copy': 1}}
  assert calibration.summarize(back)['dreams'] == 1      # the pass bar counts training dreams only
  assert 'alive 0.00 CHH' in evaluate.format_table(back)


@pytest.mark.slow
def test_cli_scores_files_and_refuses_bad_ones(tmp_path, melody):
  run = kept_run(tmp_path, melody)
  later = audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[10 * SR:19 * SR]  # never trained on
  extra = audio_io.write_wav(str(tmp_path / 'mine.wav'), later, SR)
  r = run_evaluate(f'--workdir={run}', f'--files={extra}')
  assert r.returncode == 0, r.stderr
  rows = evaluate.read_scores(str(run / 'scores.csv'))
  mine = [row for row in rows if row['source'] == 'file']
  assert [row['file'] for row in mine] == [extra] and len(rows) == 4 + 5
  assert mine[0]['windows'] == 'AA', mine[0]    # real new playing
  assert 'alive:' in r.stdout and 'CHH' in r.stdout
  (tmp_path / 'bad.wav').write_bytes(b'not audio')
  for bad, message in ((tmp_path / 'missing.wav', 'no such file'),
                       (tmp_path / 'bad.wav', 'not an audio file')):
    r = run_evaluate(f'--workdir={run}', f'--files={bad}')
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and 'Traceback' not in r.stderr
