"""core/sampling.py: the stream reshaping, seed offsets and buffers, seed-mode cycling and the
dream noise against NumPy references."""
import jax
import numpy as np

from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from audiolstm.core import sampling
from tests.helpers import tiny_config


def _setup(approach, audio, streams=3, **overrides):
  c, g = config_lib.prepare(tiny_config(approach, **overrides))
  sources = dataset.load_sources(c, g, load=lambda paths, sr: audio)
  return c, sources, sampling.dream_setup(c, sources, streams)


def test_to_stream_values_orders_each_streams_steps():
  dreams = np.arange(5 * 3 * 4, dtype=np.float32).reshape(5, 3, 4)  # [steps, S, new]
  out = sampling.to_stream_values(dreams)
  ref = np.stack([np.concatenate([dreams[t, s] for t in range(5)]) for s in range(3)])
  np.testing.assert_array_equal(out, ref)
  assert out.shape == (3, 20)


def test_seed_offsets_and_buffers(synth_audio):
  c, sources, ds = _setup('fft', synth_audio, seed_advance=('same', 'random', 'advance'))
  n, unit = ds.num_seed_offsets, ds.g.unit
  assert unit == 16 and n == len(sources.seeds) // 16 - 4 + 1
  same = np.array([0, 16, 48], np.int32)
  key, cursor = jax.random.key(3), 7 * 16 + 5  # a cursor off the frame grid
  got = {m: np.asarray(sampling.seed_offsets(ds, m, key, same, cursor))
         for m in range(len(config_lib.SEED_MODES))}
  np.testing.assert_array_equal(got[config_lib.SEED_MODES.index('same')], same)
  random = got[config_lib.SEED_MODES.index('random')]
  assert np.all(random % unit == 0) and np.all((0 <= random) & (random < n * unit))
  advance = (cursor // unit + np.arange(3) * (n // 3)) % n * unit
  np.testing.assert_array_equal(got[config_lib.SEED_MODES.index('advance')], advance)
  buffers = np.asarray(sampling.seed_buffers(ds, sources.seeds, advance))
  ref = np.stack([sources.seeds[o:o + ds.g.input_span] for o in advance])
  np.testing.assert_array_equal(buffers, ref)
  modes = [int(sampling.mode_of(ds, k)) for k in range(7)]
  assert modes == [config_lib.SEED_MODES.index(('same', 'random', 'advance')[k % 3])
                   for k in range(7)]


def test_dream_noise_is_clipped_at_zero_for_magnitudes_only(synth_audio):
  last = np.full((3, 16), 0.01, np.float32)
  key = jax.random.key(0)
  noise = 0.5 * np.asarray(jax.random.normal(key, last.shape, last.dtype))
  _, _, raw = _setup('vector', synth_audio, dream_noise=0.5)
  np.testing.assert_allclose(np.asarray(sampling.add_dream_noise(raw, last, key)), last + noise,
                             rtol=1e-6)
  _, _, fft = _setup('fft', synth_audio, dream_noise=0.5)
  got = np.asarray(sampling.add_dream_noise(fft, last, key))
  np.testing.assert_allclose(got, np.maximum(last + noise, 0.0), rtol=1e-6)
  assert np.any(last + noise < 0)  # the clip mattered
