"""audio/synthesis.py: raw dream values to audio against NumPy, the fft magnitudes the vocoder
gets, and the fft audio's length and level."""
import numpy as np

from audiolstm.audio import synthesis
from audiolstm.config import settings as config_lib
from tests.helpers import tiny_config


def test_raw_values_pass_through_or_are_scaled_to_099():
  c = config_lib.resolve(tiny_config('column'))  # no spectral floor: the samples as they are
  assert not c.spectral_floor_db
  rng = np.random.default_rng(0)
  quiet = rng.uniform(-0.9, 0.9, 100).astype(np.float32)
  out = synthesis.to_audio(c, quiet, 1.0, rng)
  assert out.dtype == np.float32 and out.shape == (100,)
  np.testing.assert_array_equal(out, quiet)
  loud = quiet * 3
  loud[10] = np.nan
  ref = np.nan_to_num(loud) * (0.99 / np.max(np.abs(np.nan_to_num(loud))))
  out = synthesis.to_audio(c, loud, 1.0, rng)
  np.testing.assert_allclose(out, ref, rtol=1e-6)
  assert out[10] == 0 and np.isclose(np.max(np.abs(out)), 0.99)


def test_fft_magnitudes_undo_the_normalisation_and_drop_weak_bins():
  c = config_lib.resolve(tiny_config('fft'))  # magnitude_power 0.3, floor 30 dB, no peaks
  assert c.magnitude_power == 0.3 and c.spectral_floor_db == 30 and not c.use_peaks
  rng = np.random.default_rng(1)
  values = rng.uniform(-0.1, 1.0, (6, 16)).astype(np.float32)
  values[2, 3] = 0.002  # far below its frame's peak
  mags = (np.clip(values.astype(np.float64), 0, None) * 2.5) ** (1 / 0.3)
  ref = np.where(mags >= mags.max(axis=1, keepdims=True) * 10 ** (-30 / 20), mags, 0.0)
  got = synthesis.magnitudes(c, values, 2.5)
  np.testing.assert_allclose(got, ref, rtol=1e-5)
  assert got[2, 3] == 0 and got.dtype == np.float32


def test_fft_audio_length_dtype_and_level():
  c = config_lib.resolve(tiny_config('fft'))  # 16 bins, hop 8
  values = np.random.default_rng(2).uniform(0, 1, 10 * 16).astype(np.float32)
  out = synthesis.to_audio(c, values, 1.0, np.random.default_rng(3))
  assert out.dtype == np.float32 and out.shape == ((10 + 1) * 8,)
  assert np.isclose(np.max(np.abs(out)), 0.9, atol=1e-6)  # the vocoder's peak 1, times 0.9
  again = synthesis.to_audio(c, values, 1.0, np.random.default_rng(3))
  np.testing.assert_array_equal(out, again)  # the phases come from rng alone


def test_a_preset_floor_primed_with_context_gates_as_the_whole_would_one_frame_later():
  from audiolstm.audio import gate  # pylint: disable=g-import-not-at-top
  c = config_lib.resolve(tiny_config('column', spectral_floor_db=30.0))
  rng = np.random.default_rng(3)
  context = rng.uniform(-0.5, 0.5, (1, 3000)).astype(np.float32)
  dream = rng.uniform(-0.5, 0.5, (1, 6000)).astype(np.float32)
  synth = synthesis.StreamSynth(c, 1.0, 1, rng)
  synth.preset_floor(30.0, context)
  got = np.concatenate([synth.push(dream[:, i:i + 700]) for i in range(0, 6000, 700)] +
                       [synth.flush()], axis=1)
  kept = context[:, -2 * gate.DropWeakStream(1, 30.0, c.sample_rate).n_fft:]
  whole = gate.drop_weak_audio(np.concatenate([kept, dream], axis=1), 30.0, c.sample_rate)
  np.testing.assert_allclose(got, whole[:, kept.shape[1]:], atol=1e-5)
