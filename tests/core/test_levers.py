"""The sound levers: fft magnitude compression (magnitude_power) and spectral floor, the lr decay
(lr_final), their validation and defaults for older runs, and a too-short validation split."""
import json
import math
import os

import ml_collections
import numpy as np
import pytest

from audiolstm.audio import audio_io
from audiolstm.audio import gate
from audiolstm.audio import spectral
from audiolstm.audio import synthesis
from audiolstm.audio import vocoder
from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.judge import evaluate
from audiolstm.run import rundir
from audiolstm.run import tb
from audiolstm.run import train
from tests.helpers import tiny_config

SR = 11025


def resolved(approach, **overrides):
  c = config_lib.resolve(tiny_config(approach, **overrides))
  config_lib.validate(c)
  return c


# ------------------------------------------------------------- magnitude_power and the inverse


@pytest.mark.parametrize('power', [1.0, 0.5, 0.3])
def test_from_source_frames_inverts_to_source(synth_audio, power):
  c = resolved('fft', magnitude_power=power)
  mags = spectral.magnitude_frames(synth_audio, c.window_size, c.hop_size, c.zero_padding)
  assert mags.shape[1] == c.seg_len and len(mags) > 10
  source, scale = dataset.to_source(c, synth_audio)
  # to_source: magnitudes ** power over their maximum (the scale).
  want_scale = float(np.max(mags.astype(np.float64) ** power))
  assert scale == pytest.approx(want_scale, rel=1e-5)
  assert float(np.max(source)) == pytest.approx(1.0, rel=1e-6)
  back = spectral.from_source_frames(source.reshape(-1, c.seg_len), scale, power)
  assert back.dtype == np.float32 and back.shape == mags.shape
  np.testing.assert_allclose(back, mags, rtol=1e-4, atol=1e-6 * float(np.max(mags)))


@pytest.mark.parametrize('power', [1.0, 0.5, 0.3])
def test_from_source_frames_negatives_count_as_zero(power):
  values = np.array([[-0.5, 0.25, 0.0], [1.0, -1e-3, 0.5]], np.float32)
  scale = 2.0
  want = np.zeros(values.shape)
  for i in range(values.shape[0]):
    for j in range(values.shape[1]):
      v = float(values[i, j])
      want[i, j] = (v * scale) ** (1.0 / power) if v > 0 else 0.0
  got = spectral.from_source_frames(values, scale, power)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert got[0, 0] == 0.0 and got[1, 1] == 0.0


def naive_drop_weak(frames, floor_db):
  out = np.zeros(frames.shape)
  for i, row in enumerate(frames):
    top = max(float(v) for v in row)
    threshold = top * 10.0 ** (-floor_db / 20.0)
    for j, v in enumerate(row):
      out[i, j] = float(v) if float(v) >= threshold else 0.0
  return out


@pytest.mark.parametrize('floor_db', [6.0, 30.0, 60.0])
def test_drop_weak_equals_loop(floor_db):
  rng = np.random.default_rng(3)
  # Levels spread over 80 dB, so every floor drops some values and keeps others.
  frames = (10.0 ** (-rng.uniform(0, 4, (7, 24))) * rng.uniform(0.5, 3, (7, 1))).astype(np.float32)
  frames[2] = 0.0                   # an all-zero frame stays zero
  frames[4, 5] = frames[4].max() * 4  # one frame with a single loud bin
  got = gate.drop_weak(frames, floor_db)
  want = naive_drop_weak(frames, floor_db)
  assert got.shape == frames.shape and got.dtype == np.float32
  np.testing.assert_array_equal(got, want.astype(np.float32))
  assert not np.any(got[2])
  kept = np.count_nonzero(got)
  assert 7 < kept < np.count_nonzero(frames)  # the floor bit, and each frame keeps its peak
  assert np.all(got.max(axis=1) == frames.max(axis=1))


# ------------------------------------------------------------------ the floor in to_audio (fft)


def fft_config(floor_db, use_peaks=True):
  c = resolved('fft', spectral_floor_db=floor_db, use_peaks=use_peaks)
  assert c.use_peaks == use_peaks and c.use_fft
  return c


def to_values(c, frames, scale=1.0):
  """Magnitude frames [T, seg_len] -> the model values to_audio takes (compressed, normalised)."""
  return (np.asarray(frames, np.float64) ** c.magnitude_power / scale).astype(np.float32).ravel()


def test_floor_drops_a_peak_40_db_down_but_not_with_a_lower_floor():
  base = fft_config(30.0)
  n = base.seg_len
  strong = np.zeros((3, n))
  strong[:, 4] = 1.0
  both = strong.copy()
  both[:, 10] = 0.01                 # a second peak, 40 dB below the first
  audio = {}
  for floor in (30.0, 50.0):
    c = fft_config(floor)
    for name, frames in (('strong', strong), ('both', both)):
      audio[floor, name] = synthesis.to_audio(c, to_values(c, frames, 0.7), 0.7,
                                            np.random.default_rng(5))
  for a in audio.values():
    assert np.all(np.isfinite(a)) and np.max(np.abs(a)) > 0.1
  np.testing.assert_allclose(audio[30.0, 'both'], audio[30.0, 'strong'], rtol=0, atol=1e-7)
  np.testing.assert_allclose(audio[50.0, 'strong'], audio[30.0, 'strong'], rtol=0, atol=1e-7)
  assert np.max(np.abs(audio[50.0, 'both'] - audio[50.0, 'strong'])) > 1e-3
  # Without a floor (0 = off) the weak peak is heard as well.
  off = fft_config(0.0)
  no_floor = synthesis.to_audio(off, to_values(off, both, 0.7), 0.7, np.random.default_rng(5))
  np.testing.assert_allclose(no_floor, audio[50.0, 'both'], rtol=0, atol=1e-6)


def test_floor_is_applied_after_peak_picking():
  """A frame that falls from bin 0 (never a peak) with one small bump 49 dB below bin 0: the
  bump is the frame's only peak, so the floor keeps it (before picking it would be dropped)."""
  c = fft_config(30.0)
  n = c.seg_len
  row = 10.0 ** (-np.arange(n) / 4.0)     # 5 dB per bin down from bin 0
  row[12] = 2 * row[11]                   # the one local maximum
  assert 20 * math.log10(row[0] / row[12]) > 30
  frames = np.tile(row, (3, 1))
  values = to_values(c, frames)
  got = synthesis.to_audio(c, values, 1.0, np.random.default_rng(1))
  assert np.max(np.abs(got)) > 0.5     # not silent (the vocoder normalises to 0.9)
  off = fft_config(0.0)
  want = synthesis.to_audio(off, to_values(off, frames), 1.0, np.random.default_rng(1))
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)  # the only peak is kept as it is


def test_without_peak_picking_the_floor_keeps_every_bin_within_it():
  """use_peaks off (the fft default): a partial's whole main lobe within the floor is sounded
  and the bins under it are dropped, as drop_weak does, before the vocoder (no peak picking)."""
  c = fft_config(30.0, use_peaks=False)
  n = c.seg_len
  frames = np.full((4, n), 1e-3)          # a -60 dB floor of hash under ...
  k = n // 2
  frames[:, k - 1:k + 2] = [0.5, 1.0, 0.5]  # ... one partial's main lobe (-6 dB either side)
  got = synthesis.to_audio(c, to_values(c, frames), 1.0, np.random.default_rng(3))
  kept = np.where(frames >= 10 ** (-30 / 20), frames, 0.0)
  phases = np.random.default_rng(3).uniform(0.0, 2 * np.pi, n).astype(np.float32)
  want = 0.9 * np.asarray(vocoder.vocode(kept, c.hop_size, phases, use_peaks=False))
  np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
  peaks = synthesis.to_audio(fft_config(30.0), to_values(c, frames), 1.0,
                             np.random.default_rng(3))
  assert np.max(np.abs(got - peaks)) > 1e-2     # peak picking would sound bin k alone


def test_raw_floor_removes_the_hash_under_a_note_and_keeps_the_note():
  """A 440 Hz note with white noise 50 dB under it: a 40 dB floor removes the noise (above 1 kHz,
  where only the noise is, its power falls by 30 dB) and keeps the note; a floor far below
  everything changes nothing (the STFT resynthesis is exact); audio shorter than one frame is left
  as it is."""
  # pylint: disable=unnecessary-lambda-assignment
  rng = np.random.default_rng(0)
  t = np.arange(SR) / SR
  note = 0.5 * np.sin(2 * np.pi * 440 * t)
  noise = 0.5 * 10 ** (-50 / 20) * rng.standard_normal(SR)
  x = (note + noise).astype(np.float32)
  y = gate.drop_weak_audio(x, 40.0, SR)
  assert y.shape == x.shape and y.dtype == np.float32
  spectrum = lambda a: np.abs(np.fft.rfft(a[1024:-1024] * np.hanning(SR - 2048)))  # no edges
  high = np.fft.rfftfreq(SR - 2048, 1 / SR) > 1000          # where only the noise is
  noise_before = np.sum(spectrum(x)[high] ** 2)
  assert np.sum(spectrum(y)[high] ** 2) < 1e-3 * noise_before  # more than 30 dB less hash
  assert np.corrcoef(y[1024:-1024], note[1024:-1024])[0, 1] > 0.9999  # the note stays
  np.testing.assert_allclose(gate.drop_weak_audio(x, 300.0, SR), x, atol=1e-5)
  short = x[:100]
  np.testing.assert_array_equal(gate.drop_weak_audio(short, 40.0, SR), short)


def test_raw_dreams_get_the_floor_only_when_it_is_set():
  values = (np.sin(np.arange(4000) * 0.25) + 0.01 * np.random.default_rng(1).standard_normal(
      4000)).astype(np.float32) * 0.5
  for approach in ('vector', 'column', 'transpose'):
    on = config_lib.resolve(tiny_config(approach, spectral_floor_db=40.0))
    off = config_lib.resolve(tiny_config(approach, spectral_floor_db=0.0))
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(synthesis.to_audio(off, values, 1.0, rng), values)
    np.testing.assert_allclose(synthesis.to_audio(on, values, 1.0, rng),
                               gate.drop_weak_audio(values, 40.0, SR), atol=0)


def harmonic_note(seconds=2.0, partials=12, step_db=3.0):
  """[n] a 220 Hz note whose partial k (from 0) lies k * step_db dB under the first."""
  t = np.arange(int(seconds * SR)) / SR
  return sum(0.5 * 10 ** (-step_db * k / 20) * np.sin(2 * np.pi * 220 * (k + 1) * t)
             for k in range(partials))


def reference_matched_floor(x, deepest, target):
  """matched_floor with a loop: each floor's drop_weak_audio alone, the first quiet enough."""
  floor = deepest
  while floor >= gate.MATCH_SHALLOWEST_DB:
    if spectral.flatness(gate.drop_weak_audio(x, floor, SR), SR) <= target:
      return floor
    floor -= gate.MATCH_STEP_DB
  return floor + gate.MATCH_STEP_DB


def test_matched_floor_keeps_dense_partials_and_takes_the_hiss():
  """A note with partials down to 33 dB under its first, in hiss: the gate picks the deepest
  floor that leaves it at most twice as noise-like as the clean note (a loop over
  drop_weak_audio agrees), deeper than the old fixed 25 dB, so the quietest partial stays while
  the hiss above the partials falls by over 10 dB; more hiss, a shallower floor; no target, the
  deepest floor."""
  note = harmonic_note()
  rng = np.random.default_rng(0)
  x = (note + 0.02 * rng.standard_normal(len(note))).astype(np.float32)
  target = 2 * spectral.flatness(note, SR)
  floor, y = gate.matched_floor(x, 50.0, SR, target)
  assert floor == reference_matched_floor(x, 50.0, target) and 25.0 < floor < 50.0
  np.testing.assert_array_equal(y, gate.drop_weak_audio(x, floor, SR))
  t = np.arange(len(x)) / SR
  mid = slice(SR // 2, -SR // 2)
  def partial(a, hz):  # amplitude of the component at hz
    basis = np.exp(-2j * np.pi * hz * t[mid])
    return 2 * abs(np.mean(a[mid] * basis))
  assert partial(y, 220 * 12) > 0.8 * partial(note, 220 * 12)   # 33 dB down, kept
  assert partial(gate.drop_weak_audio(x, 25.0, SR), 220 * 12) < 0.5 * partial(note, 220 * 12)
  spectrum = lambda a: np.abs(np.fft.rfft(a[mid] * np.hanning(len(a[mid])))) ** 2
  above = np.fft.rfftfreq(len(x[mid]), 1 / SR) > 2900             # only hiss up there
  assert np.sum(spectrum(y)[above]) < 0.1 * np.sum(spectrum(x)[above])
  louder = (note + 0.2 * rng.standard_normal(len(note))).astype(np.float32)
  assert gate.matched_floor(louder, 50.0, SR, target)[0] < floor
  assert gate.matched_floor(x, 50.0, SR, math.nan)[0] == 50.0


def test_drop_weak_audio_takes_one_floor_per_row():
  rng = np.random.default_rng(3)
  x = (harmonic_note(1.0) + 0.02 * rng.standard_normal((2, SR))).astype(np.float32)
  both = gate.drop_weak_audio(x, np.array([40.0, 15.0]), SR)
  np.testing.assert_array_equal(both[0], gate.drop_weak_audio(x[0], 40.0, SR))
  np.testing.assert_array_equal(both[1], gate.drop_weak_audio(x[1], 15.0, SR))


def test_matched_dreams_and_streams_use_the_recordings_flatness():
  """to_audio gates at matched_floor's floor; StreamSynth chooses each stream's floor on its
  first MATCH_SECONDS and then gives exactly drop_weak_audio of the whole at those floors."""
  c = config_lib.resolve(tiny_config('vector', spectral_floor_db=50.0, spectral_floor_match=2.0))
  note = harmonic_note(4.0)
  rng = np.random.default_rng(4)
  values = (0.8 * note + np.array([[0.01], [0.1]]) * rng.standard_normal((2, len(note)))).astype(
      np.float32)
  flat = spectral.flatness(note, SR)
  floor, want = gate.matched_floor(values[0], 50.0, SR, 2 * flat)
  np.testing.assert_array_equal(synthesis.to_audio(c, values[0], 1.0, rng, flat), want)
  synth = synthesis.StreamSynth(c, 1.0, 2, rng, flat)
  out = np.concatenate([synth.push(values[:, i:i + 3000]) for i in range(0, len(note), 3000)]
                       + [synth.flush()], axis=1)
  head = int(synthesis.StreamSynth.MATCH_SECONDS * SR)
  floors = [gate.matched_floor(v[:head + 3000 - head % 3000], 50.0, SR, 2 * flat)[0]
            for v in values]
  assert floors[0] > floors[1]          # the hissier stream is gated harder
  np.testing.assert_allclose(out, gate.drop_weak_audio(values, np.array(floors), SR),
                             atol=1e-6)


def test_sources_carry_the_recordings_flatness_for_the_matched_gate(tmp_path):
  """load_sources measures the training part's flatness when spectral_floor_match needs it, and
  DreamWriter's dreams are gated against it."""
  rng = np.random.default_rng(5)
  audio = (0.8 * harmonic_note(3.0) + 0.001 * rng.standard_normal(3 * SR)).astype(np.float32)
  path = audio_io.write_wav(str(tmp_path / 'in.wav'), audio, SR)
  c, g = config_lib.prepare(tiny_config('vector', input_files=(path,), spectral_floor_db=50.0,
                                        spectral_floor_match=2.0))
  sources = dataset.load_sources(c, g)
  train_part = audio_io.load_many([path], SR)[:len(sources.inputs)]
  assert sources.flatness == pytest.approx(spectral.flatness(train_part, SR), rel=1e-6)
  off, g_off = config_lib.prepare(tiny_config('vector', input_files=(path,),
                                              spectral_floor_match=0.0))
  assert math.isnan(dataset.load_sources(off, g_off).flatness)
  values = (0.8 * harmonic_note(2.0) + 0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
  from audiolstm.run import outputs  # pylint: disable=g-import-not-at-top
  writer = outputs.DreamWriter(c, 1.0, str(tmp_path / 'out'), flatness=sources.flatness)
  got = audio_io.load_audio(writer.write('d.wav', values, rng), SR)
  floor, want = gate.matched_floor(values, 50.0, SR, 2 * sources.flatness)
  assert floor < 50.0                                   # this dream's hiss needs a shallower gate
  np.testing.assert_allclose(got, want, atol=1.0 / 32767)   # the 16-bit WAV of the gated dream


# ---------------------------------------------------------------------------- lr_final decay


def cosine_reference(lr, alpha, total, step):
  t = min(step, total) / total
  return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)) + alpha)


def test_learning_rate_constant_and_cosine():
  c = resolved('vector', lr_final=1.0, lr=3e-3)
  assert program_lib.learning_rate(c, 100) == 3e-3
  c = resolved('vector', lr_final=0.1, lr=3e-3)
  total = 100
  schedule = program_lib.learning_rate(c, total)
  assert callable(schedule)
  assert float(schedule(0)) == pytest.approx(3e-3, rel=1e-6)
  assert float(schedule(total)) == pytest.approx(3e-4, rel=1e-5)
  assert float(schedule(total // 2)) == pytest.approx(
      3e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 2))), rel=1e-5)
  for step in (1, 10, 33, 50, 77, 99, 100, 150):
    assert float(schedule(step)) == pytest.approx(cosine_reference(3e-3, 0.1, total, step),
                                                  rel=1e-5), step
  assert float(schedule(3 * total)) == pytest.approx(3e-4, rel=1e-5)  # then held
  zero = program_lib.learning_rate(resolved('vector', lr_final=0.0, lr=3e-3), total)
  assert float(zero(total)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.slow
def test_learning_rate_scalars_decay_over_a_tiny_run(tmp_path):
  c = tiny_config('vector', lr_final=0.1, max_steps=40)
  lines = []
  summary = train.train_and_evaluate(c, str(tmp_path / 'run'), log=lines.append)
  assert summary['steps'] == 40
  events = tb.read_events(os.path.join(summary['workdir'], 'tensorboard'))
  lrs = sorted((e.step, v.simple_value) for e in events for v in e.summary.value
               if v.tag == 'learning_rate')
  steps = [s for s, _ in lrs]
  assert steps == list(range(c.log_every, 41, c.log_every))
  values = np.array([v for _, v in lrs])
  assert np.all(np.diff(values) < 0)
  want = [cosine_reference(c.lr, 0.1, 40, s) for s in steps]
  np.testing.assert_allclose(values, want, rtol=1e-5)
  assert values[-1] == pytest.approx(c.lr * 0.1, rel=1e-5)


# -------------------------------------------------------------------------------- validation


@pytest.mark.parametrize('field,bad', [
    ('lr_final', -0.1), ('lr_final', 1.5), ('lr_final', float('nan')),
    ('magnitude_power', 0.0), ('magnitude_power', -0.5), ('magnitude_power', 1.01),
    ('magnitude_power', float('nan')),
    ('spectral_floor_db', -1.0), ('spectral_floor_db', float('nan')),
    ('spectral_floor_match', -1.0), ('spectral_floor_match', float('nan')),
])
def test_bad_lever_values_raise_one_line(field, bad):
  for approach in ('vector', 'fft'):
    c = config_lib.resolve(tiny_config(approach, **{field: bad}))
    with pytest.raises(config_lib.ConfigError, match=rf'^config\.{field}=') as e:
      config_lib.validate(c)
    assert '\n' not in str(e.value)


@pytest.mark.parametrize('field,good', [
    ('lr_final', 0.0), ('lr_final', 1.0), ('lr_final', 0.5),
    ('magnitude_power', 1.0), ('magnitude_power', 0.01),
    ('spectral_floor_db', 0.0), ('spectral_floor_db', 80.0),
])
def test_good_lever_values_pass(field, good):
  c = config_lib.resolve(tiny_config('fft', **{field: good}))
  config_lib.validate(c)
  assert c[field] == good


def test_a_matched_floor_needs_raw_audio_and_a_deepest_floor():
  config_lib.validate(resolved('vector', spectral_floor_db=50.0, spectral_floor_match=2.0))
  for approach, floor in (('fft', 50.0), ('vector', 0.0)):
    c = config_lib.resolve(tiny_config(approach, spectral_floor_db=floor,
                                       spectral_floor_match=2.0))
    with pytest.raises(config_lib.ConfigError, match=r'^config\.spectral_floor_match=2.0 needs '
                       'a raw-audio approach') as e:
      config_lib.validate(c)
    assert '\n' not in str(e.value)


def test_an_old_config_resolves_to_the_old_behaviour(synth_audio):
  assert {k: config_lib.ADDED_FIELDS[k] for k in ('lr_final', 'magnitude_power',
                                                  'spectral_floor_db')} == {
      'lr_final': 1.0, 'magnitude_power': 1.0, 'spectral_floor_db': 0.0}
  for approach in ('vector', 'fft'):
    old = tiny_config(approach).to_dict()
    for k in ('lr_final', 'magnitude_power', 'spectral_floor_db', 'dream_noise',
              'spectral_floor_match'):
      del old[k]
    c = config_lib.resolve(ml_collections.ConfigDict(old))
    config_lib.validate(c)
    assert (c.lr_final, c.magnitude_power, c.spectral_floor_db) == (1.0, 1.0, 0.0)
    assert c.spectral_floor_match == 0.0
    assert program_lib.learning_rate(c, 1000) == c.lr   # constant, as before
    # A config.json saved without them resumes under the resolved config.
    prior = json.loads(json.dumps(c.to_dict(), default=list))
    for k in ('lr_final', 'magnitude_power', 'spectral_floor_db'):
      del prior[k]
    train.check_resumable(prior, c)
  # fft: linear magnitudes over their maximum, as before magnitude_power.
  mags = spectral.magnitude_frames(synth_audio, c.window_size, c.hop_size, c.zero_padding)
  source, scale = dataset.to_source(c, synth_audio)
  assert scale == pytest.approx(float(np.max(mags)), rel=1e-6)
  np.testing.assert_allclose(source, (mags / np.max(mags)).ravel(), rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------- a too-short validation split


def reference_validation_samples(c, num_samples):
  """round(num_samples * val_fraction), or 0 when that tail cannot fill one iteration."""
  n_val = int(round(num_samples * c.val_fraction))
  if not n_val:
    return 0
  if c.use_fft:  # whole frames of the tail, seg_len values each
    source_len = len(spectral.frame_indices(n_val, c.window_size, c.hop_size)) * c.seg_len
  else:
    source_len = n_val
  g = config_lib.geometry(c)
  return n_val if source_len >= g.need else 0


@pytest.mark.parametrize('approach,fraction,want', [
    ('vector', 0.0, 0), ('vector', 0.079, 0), ('vector', 0.08, 80), ('vector', 0.1, 100),
    ('fft', 0.047, 0), ('fft', 0.048, 48), ('fft', 0.1, 100),
])
def test_validation_samples_at_the_edge(approach, fraction, want):
  # Tiny geometry: vector needs 16 + 3 * 16 + 16 = 80 samples; fft 5 frames = 16 + 4 * 8 = 48.
  c = resolved(approach, val_fraction=fraction)
  assert reference_validation_samples(c, 1000) == want
  assert dataset.validation_samples(c, config_lib.geometry(c), 1000) == want
  config = json.loads(json.dumps(c.to_dict(), default=list))  # as a run's config.json holds it
  assert evaluate.held_out_samples(config, 1000) == want


def test_validation_samples_of_a_normal_and_a_too_short_split(synth_audio):
  n = len(synth_audio)
  for approach in ('vector', 'fft'):
    normal = resolved(approach, val_fraction=0.1)
    assert dataset.validation_samples(normal, config_lib.geometry(normal), n) == round(n * 0.1)
    assert evaluate.held_out_samples(json.loads(json.dumps(normal.to_dict(), default=list)),
                                     n) == round(n * 0.1)
    short = resolved(approach, val_fraction=0.001)  # 22 samples: not one iteration
    assert round(n * 0.001) > 0
    assert dataset.validation_samples(short, config_lib.geometry(short), n) == 0
    assert evaluate.held_out_samples(json.loads(json.dumps(short.to_dict(), default=list)), n) == 0
    # load_sources agrees: nothing held out, and the user is told.
    sources = dataset.load_sources(short, config_lib.geometry(short),
                                   load=lambda paths, sr: synth_audio)
    assert sources.val_inputs is None and sources.val_iters == 0
    assert any('validation is off' in note for note in sources.notes)


@pytest.mark.slow
@pytest.mark.parametrize('fraction,kind', [(0.001, 'seen tail'), (0.25, 'anchor')])
def test_score_run_marks_a_tail_that_was_trained_on(tmp_path, synth_audio, fraction, kind):
  run = tmp_path / 'run'
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), synth_audio, SR)
  c = resolved('vector', val_fraction=fraction, input_files=(wav,))
  rundir.RunDir(str(run)).write_config(c, iters_per_epoch=1)
  audio_io.write_wav(str(run / 'dreams' / 'vector_concurrent_same_it0000010_s0.wav'),
                     synth_audio[SR // 2:SR], SR)
  rows = evaluate.score_run(str(run))
  unseen = rows[0]
  assert unseen['source'] == 'unseen' and unseen['kind'] == kind
  assert [r['kind'] for r in rows[1:4]] == ['anchor'] * 3


def test_from_source_frames_of_a_diverged_dream_are_finite():
  """NaN counts as 0, +inf and huge values as MAX_SOURCE_VALUE: the vocoder gets finite frames."""
  values = np.array([[np.nan, np.inf, 1e30], [-np.inf, 0.5, spectral.MAX_SOURCE_VALUE]],
                    np.float32)
  got = spectral.from_source_frames(values, 2.0, 0.3)
  top = (spectral.MAX_SOURCE_VALUE * 2.0) ** (1 / 0.3)
  np.testing.assert_allclose(got, [[0.0, top, top], [0.0, 1.0, top]], rtol=1e-6)
