"""The distributional heads: mu-law levels and the NLLs against NumPy, sampling at a temperature,
and a tiny run of every approach that trains by likelihood and dreams by sampling."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiolstm.config import settings as config_lib
from audiolstm.core import distribution
from audiolstm.core import sampling
from tests.helpers import build_program, check_added_field


def _mu_law_np(x, mu):
  return np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)


@pytest.mark.parametrize('use_fft', [False, True])
def test_encode_decode_against_numpy(use_fft):
  x = np.linspace(-1.2, 1.2, 101).astype(np.float32)
  k = 256
  unit = np.clip(x, 0, 1) if use_fft else (_mu_law_np(np.clip(x, -1, 1), k - 1) + 1) / 2
  want = np.round(unit * (k - 1)).astype(np.int32)
  idx = np.asarray(distribution.encode(jnp.asarray(x), k, use_fft))
  np.testing.assert_array_equal(idx, want)
  # Decoding a level and encoding it again gives the same level (the levels are fixed points).
  levels = np.asarray(distribution.decode(jnp.arange(k), k, use_fft))
  np.testing.assert_array_equal(np.asarray(distribution.encode(jnp.asarray(levels), k, use_fft)),
                                np.arange(k))
  if not use_fft:  # mu-law: steps fine near 0, coarse near full scale; symmetric
    steps = np.diff(levels)
    assert steps[k // 2] < steps[0] / 50
    np.testing.assert_allclose(levels, -levels[::-1], atol=1e-6)


def test_nll_against_numpy():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 4, 8)).astype(np.float32)
  y = rng.uniform(-1, 1, size=(3, 4)).astype(np.float32)
  idx = np.asarray(distribution.encode(jnp.asarray(y), 8, False))
  logp = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
  want = -np.mean(np.take_along_axis(logp, idx[..., None], axis=-1))
  got = float(distribution.nll(jnp.asarray(logits), jnp.asarray(y), False))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  assert float(distribution.loss(jnp.asarray(logits), jnp.asarray(y), 'categorical', False)) == got
  mse = float(distribution.loss(jnp.asarray(y), jnp.zeros_like(y), 'mse', False))
  np.testing.assert_allclose(mse, np.mean(y ** 2), rtol=1e-6)


def test_sample_follows_the_temperature():
  """Draws follow softmax(logits / T): at T=1 the frequencies match the probabilities, a lower T
  concentrates them on the likeliest level, and T=0 always takes it."""
  logits = jnp.log(jnp.asarray([0.1, 0.2, 0.3, 0.4]))
  draws = jnp.broadcast_to(logits, (20000, 4))
  levels = np.asarray(distribution.decode(jnp.arange(4), 4, True))

  def freq(t):
    v = np.asarray(distribution.sample(draws, jax.random.key(1), t, True))
    return np.array([np.mean(np.isclose(v, lv)) for lv in levels])

  np.testing.assert_allclose(freq(1.0), [0.1, 0.2, 0.3, 0.4], atol=0.015)
  p = np.array([0.1, 0.2, 0.3, 0.4]) ** 2
  np.testing.assert_allclose(freq(0.5), p / p.sum(), atol=0.015)
  np.testing.assert_array_equal(freq(0.0), [0, 0, 0, 1])
  assert freq(2.0)[0] > 0.15  # hotter: the unlikely level comes more often


def test_gaussian_nll_and_draws_against_numpy():
  rng = np.random.default_rng(1)
  out = rng.normal(size=(5, 3, 2)).astype(np.float32)
  y = rng.normal(size=(5, 3)).astype(np.float32)
  mean, log_scale = out[..., 0], np.maximum(out[..., 1], distribution.MIN_LOG_SCALE)
  want = np.mean(0.5 * ((y - mean) / np.exp(log_scale)) ** 2 + log_scale)
  got = float(distribution.loss(jnp.asarray(out), jnp.asarray(y), 'gaussian', False))
  np.testing.assert_allclose(got, want, rtol=1e-5)
  params = jnp.broadcast_to(jnp.asarray([0.3, np.log(0.1)]), (40000, 2))
  for t in (1.0, 0.5):
    v = np.asarray(distribution.draw(params, jax.random.key(2), t, 'gaussian', False))
    np.testing.assert_allclose([v.mean(), v.std()], [0.3, 0.1 * t], atol=3e-3)
  v = np.asarray(distribution.draw(params, jax.random.key(2), 0.0, 'gaussian', False))
  np.testing.assert_allclose(v, 0.3, rtol=1e-6)
  low = jnp.broadcast_to(jnp.asarray([0.0, np.log(0.1)]), (1000, 2))
  assert np.min(np.asarray(distribution.draw(low, jax.random.key(2), 1.0, 'gaussian', True))) == 0


@pytest.mark.slow
@pytest.mark.parametrize('approach', ['column', 'fft'])
def test_gaussian_head_trains_and_dreams(approach, synth_audio):
  """A gaussian run: [.., rows, width, 2] (mean, log-scale), its NLL falls, it dreams."""
  c, _, program, data, state = build_program(approach, synth_audio, output_dist='gaussian',
                                             max_steps=160)
  losses = []
  for _ in range(10):
    state, chunk, dreams, _ = program.run_chunk(state, data, c.chunk_size)
    losses.append(float(np.mean(chunk)))
  assert np.mean(losses[-3:]) < losses[0] - 0.05
  assert np.all(np.isfinite(np.asarray(dreams)))


@pytest.mark.slow
@pytest.mark.parametrize('approach', ['column', 'transpose', 'vector', 'fft'])
def test_categorical_head_trains_and_dreams(approach, synth_audio):
  """A categorical run: logits [.., rows, width, K], the loss (NLL) falls, dreams are levels."""
  c, sources, program, data, state = build_program(
      approach, synth_audio, output_dist='categorical', num_levels=16, max_steps=160)
  g = sources.g
  x = jnp.zeros((g.num_unrollings, g.seg_len))
  carry = jnp.zeros((c.num_layers, 2, g.num_unrollings, c.hidden_size))
  out, _ = program.model.apply({'params': state.params}, x, carry)
  assert out.shape == (g.label_rows, g.label_width, 16)
  losses = []
  for _ in range(10):
    state, chunk, dreams, _ = program.run_chunk(state, data, c.chunk_size)
    losses.append(float(np.mean(chunk)))
  assert np.mean(losses[-3:]) < losses[0] - 0.05  # learns (transpose: through its 4 scalars)
  levels = np.asarray(distribution.decode(jnp.arange(16), 16, c.use_fft))
  values = np.asarray(dreams).ravel()
  assert np.all(np.min(np.abs(values[:, None] - levels[None]), axis=1) < 1e-6)


@pytest.mark.slow
def test_temperature_changes_the_dream(synth_audio):
  """The same seed and key dream differently at another temperature, identically at the same."""
  c, sources, program, _, state = build_program('column', synth_audio,
                                                output_dist='categorical', num_levels=16)
  ds = sampling.dream_setup(c, sources, 2)
  buffers = jnp.tile(jnp.asarray(sources.seeds[:sources.g.input_span])[None], (2, 1))
  carry = jnp.zeros((2, c.num_layers, 2, c.num_unrollings, c.hidden_size))

  def dream(t):
    return np.asarray(sampling.dream_scan(program.model, ds, 40, state.params, buffers, carry,
                                          jax.random.key(3), temperature=jnp.float32(t))[2])

  np.testing.assert_array_equal(dream(1.0), dream(1.0))
  assert not np.array_equal(dream(1.0), dream(0.2))
  cold = dream(0.0)
  np.testing.assert_array_equal(cold[:, 0], cold[:, 1])  # T=0: no randomness between streams


def test_head_fields_validate_and_old_runs_resolve():
  check_added_field('column', 'output_dist', ['mse', 'categorical', 'gaussian'], ['gmm', 'MSE'],
                    r'config\.output_dist=', 'categorical')
  check_added_field('column', 'temperature', [0, 0.5, 2.0], [-1.0, float('nan')],
                    r'config\.temperature=', 0.5)
  c = config_lib.resolve(build_program.__globals__['tiny_config'](
      'column', output_dist='categorical', output_activation='tanh'))
  with pytest.raises(config_lib.ConfigError, match='parameters of a distribution'):
    config_lib.validate(c)
  c.output_activation, c.num_levels = 'linear', 1
  with pytest.raises(config_lib.ConfigError, match='num_levels'):
    config_lib.validate(c)
