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

from audiolstm import audio_io
from audiolstm import evaluate
from audiolstm import train
from conftest import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 11025


@pytest.fixture(scope='module')
def melody():
  """The first 10 s of the bundled plucked-string melody (float64) and its prepared Reference."""
  x = audio_io.load_audio(audio_io.DEFAULT_AUDIO, SR)[:10 * SR].astype(np.float64)
  return x, evaluate.prepare_reference(x, SR)


@pytest.fixture(scope='module')
def noise_scores(melody):
  return evaluate.score_audio(0.1 * np.random.default_rng(0).standard_normal(4 * SR), melody[1],
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
  return not any(s[f] for f in evaluate.FLAG_NAMES)


def test_score_names_and_types(melody):
  s = evaluate.score_audio(melody[0][:SR], melody[0], SR)  # a plain array as the reference
  assert tuple(s) == evaluate.SCORE_NAMES
  assert all(isinstance(s[k], bool) for k in evaluate.FLAG_NAMES)
  assert all(isinstance(v, float) for k, v in s.items() if k not in evaluate.FLAG_NAMES)
  assert all(d.doc and d.criterion for d in evaluate.SCORES)


def test_verbatim_copy_scores_as_copy(melody):
  x, ref = melody
  s = evaluate.score_audio(x[2 * SR:6 * SR], ref, SR)
  assert s['max_ncc'] > 0.999
  assert s['longest_match_s'] == pytest.approx(4.0, abs=1e-6)
  assert s['match_at_s'] == pytest.approx(2.0, abs=1e-3)
  # ... and is free of artifacts, like the input.
  assert 0.7 < s['discontinuity'] < 1.5 and s['clicks_per_s'] == 0
  assert 0.5 < s['flatness_ratio'] < 2 and no_flags(s)
  whole = evaluate.score_audio(x, ref, SR)
  assert whole['spectral_distance_db'] < 1e-6 and whole['chroma_distance'] < 1e-6
  assert whole['longest_match_s'] == pytest.approx(10.0)


def test_longest_match_measures_the_copied_stretch(melody):
  """A 2 s literal copy between two novel seconds: found, at the right place, about 2 s long."""
  x, ref = melody
  dream = np.concatenate([shift(x[:SR], 0.5), x[3 * SR:5 * SR], x[6 * SR:7 * SR][::-1]])
  s = evaluate.score_audio(dream, ref, SR)
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
  s = evaluate.score_audio(reorder(x, 0.1, seed=0), ref, SR)
  assert s['spectral_distance_db'] < 2 and s['chroma_distance'] < 0.05
  assert s['spectral_distance_db'] < noise_scores['spectral_distance_db'] / 10
  assert s['max_ncc'] < 0.9 and s['longest_match_s'] == 0
  assert 0.8 < s['discontinuity'] < 1.25 and s['clicks_per_s'] == 0 and no_flags(s)


def test_pitch_shifted_is_similar_but_novel(melody, noise_scores):
  x, ref = melody
  s = evaluate.score_audio(shift(x, 0.5), ref, SR)  # a quarter tone up
  assert s['spectral_distance_db'] < min(8, noise_scores['spectral_distance_db'] / 2)
  assert s['max_ncc'] < 0.8 and s['longest_match_s'] == 0
  assert s['flatness_ratio'] < 2 and no_flags(s)


def test_clicks_are_counted(melody):
  x, ref = melody
  dream = x[2 * SR:5 * SR].copy()
  dream[(np.arange(5) * 0.55 * SR + 1000).astype(int)] += 0.8  # five one-sample spikes in 3 s
  s = evaluate.score_audio(dream, ref, SR)
  assert s['clicks_per_s'] == pytest.approx(5 / 3)
  assert s['discontinuity'] > evaluate.score_audio(x[2 * SR:5 * SR], ref, SR)['discontinuity']


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
  s = evaluate.score_audio(dream, ref, SR)
  assert {f for f in evaluate.FLAG_NAMES if s[f]} == expected
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
  ref = evaluate.prepare_reference(ref_audio, 1000)
  starts, ncc, lags, cont = evaluate.best_matches(dream, ref, 60, 25, max_elements=1000)
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
  assert evaluate.longest_match(starts, ncc, cont, 20, 0.9) == (40, 0)  # windows 0..2
  assert evaluate.longest_match(starts, np.full(6, 0.5), cont, 20, 0.9) == (0, -1)
  single = np.array([0.1, 0.1, 0.95, 0.1, 0.1, 0.1])
  assert evaluate.longest_match(starts, single, cont, 20, 0.9) == (20, 2)


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
  rows = evaluate.score_run(str(run))
  assert [r['iteration'] for r in rows] == [10, 20, 30]  # oldest first
  assert rows[0]['nan'] and rows[0]['max_ncc'] > 0.99 and rows[0]['seed_mode'] == 'random'
  assert not rows[1]['nan'] and rows[1]['longest_match_s'] == pytest.approx(1.0)
  assert rows[2]['error'].startswith('cannot read') and math.isnan(rows[2]['max_ncc'])
  path = evaluate.write_scores(str(run), rows)
  back = evaluate.read_scores(path)
  assert [r['file'] for r in back] == [r['file'] for r in rows]
  assert back[0]['nan'] is True and back[1]['max_ncc'] == pytest.approx(rows[1]['max_ncc'])
  assert sorted(os.listdir(run)) == ['config.json', 'dreams', 'scores.csv']  # no temp files
  assert len(evaluate.score_run(str(run), names=[rows[1]['file']])) == 1


def run_evaluate(*args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-m', 'audiolstm.evaluate', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)


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
  assert sorted(row['file'] for row in rows) == sorted(os.path.basename(d)
                                                      for d in summary['dreams'])
  assert set(evaluate.CSV_FIELDS) == set(rows[0])
  assert all(row['approach'] == 'fft' and row['kind'] == 'concurrent' for row in rows)
  assert all(0 <= float(row['max_ncc']) <= 1 and row['error'] == '' for row in rows)
  assert all(os.path.basename(d) in r.stdout for d in summary['dreams'])
  assert not [n for n in os.listdir(summary['workdir']) if n.startswith('.')]


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
