"""The model and the pure steps: TF1 LSTM equations, parameter updates, loss falling, the fused
concurrent step, the chunked loop (compiled once), reproducibility."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiolstm.core import diagnostics
from audiolstm.core import models
from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from tests.helpers import build_program


build = build_program


def np_sigmoid(x):
  return 1 / (1 + np.exp(-x))


def test_lstm_cell_matches_tf1_equations():
  cell = models.TF1LSTMCell(hidden_size=5)
  rng = np.random.default_rng(0)
  c, h, x = (rng.normal(size=(3, 5)), rng.normal(size=(3, 5)), rng.normal(size=(3, 4)))
  params = cell.init(jax.random.key(0), c, h, x)
  new_c, new_h = cell.apply(params, c, h, x)
  k, b = (np.asarray(params['params']['kernel']), np.asarray(params['params']['bias']))
  assert k.shape == (9, 20)
  gates = np.concatenate([x, h], 1) @ k + b
  i, j, f, o = np.split(gates, 4, axis=1)
  want_c = np_sigmoid(f + 1.0) * c + np_sigmoid(i) * np.tanh(j)
  np.testing.assert_allclose(new_c, want_c, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new_h, np_sigmoid(o) * np.tanh(want_c), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('approach', [pytest.param('vector', marks=pytest.mark.slow), 'column',
                                      pytest.param('transpose', marks=pytest.mark.slow),
                                      pytest.param('fft', marks=pytest.mark.slow)])
@pytest.mark.slow
def test_every_parameter_changes_after_one_step(approach, synth_audio):
  c, _, program, data, state = build(approach, synth_audio, num_layers=2)
  before = jax.tree.map(np.asarray, state.params)
  step = jax.jit(functools.partial(program_lib.train_step, program.model, program.tx,
                                   program.setup))
  after, loss = step(state, data)
  assert np.isfinite(loss)
  for b, a in zip(jax.tree_util.tree_leaves_with_path(before),
                          jax.tree.leaves(after.params)):
    assert not np.allclose(b[1], a), f'{jax.tree_util.keystr(b[0])} did not change'
  out_shape = (1, 1) if approach == 'transpose' else tuple(c.label_shape)
  y, _ = program.model.apply({'params': after.params}, jnp.zeros((c.num_unrollings, c.seg_len)),
                             after.carry[0])
  assert y.shape == out_shape


@pytest.mark.parametrize('approach', ['vector', 'column'])
@pytest.mark.slow
def test_loss_falls_on_a_short_synthetic_signal(approach, synth_audio):
  # Clean inputs and a constant rate: this checks that learning works, not the tuned defaults.
  _, _, program, data, state = build(approach, synth_audio, chunk_size=400, lr=3e-3, noisify=0.0,
                                     lr_final=1.0)
  state, losses, _, _ = program.run_chunk(state, data, 400)
  losses = np.asarray(losses)
  assert np.mean(losses[-50:]) < 0.3 * np.mean(losses[:20])


@pytest.mark.parametrize('approach', ['vector', 'transpose', 'fft'])
@pytest.mark.slow
def test_fused_step_equals_train_then_sample(approach, synth_audio):
  _, _, program, data, state = build(approach, synth_audio, use_dropout=True)
  model, tx, setup = program.model, program.tx, program.setup
  fused_state, (loss, new, _) = jax.jit(functools.partial(
      program_lib.concurrent_step, model, tx, setup))(state, data)
  # Separately: the train step, then a sample step with the dream key of that step.
  state_copy = jax.tree.map(jnp.array, state)
  trained, loss2 = program_lib.train_step(model, tx, setup, state_copy, data)
  # The dreams use the params' moving average where the default has one (transpose).
  trained = program_lib.average_params(setup, trained)
  dream_key = program_lib._keys(state.rng, state.step)[2]  # pylint: disable=protected-access
  buffers, carry, new2 = sampling.sample_step(model, setup.dream, program_lib.dream_params(trained),
                                              state.dream_buffers, state.dream_carry, dream_key)
  np.testing.assert_allclose(loss, loss2, rtol=1e-6)
  np.testing.assert_allclose(new, new2, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(fused_state.dream_buffers, buffers, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(fused_state.dream_carry, carry, rtol=1e-5, atol=1e-7)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8),
               fused_state.params,
               trained.params)


@pytest.mark.slow
def test_chunk_equals_steps_and_compiles_once(synth_audio):
  _, _, program, data, state = build('column', synth_audio, chunk_size=8, dream_seconds=0.0005)
  model, tx, setup = program.model, program.tx, program.setup
  step = jax.jit(functools.partial(program_lib.concurrent_step, model, tx, setup))
  s, losses, news = state, [], []
  for _ in range(11):
    s, (loss, new, _) = step(s, data)
    losses.append(loss)
    news.append(new)
  copy = jax.tree.map(jnp.array, state)
  with diagnostics.CompileCounter() as compiles:
    chunked, l1, d1, _ = program.run_chunk(copy, data, 8)
    chunked, l2, d2, _ = program.run_chunk(chunked, data, 3)
  np.testing.assert_allclose(np.r_[l1, l2[:3]], losses, rtol=1e-5)
  np.testing.assert_allclose(np.r_[d1, d2[:3]], np.stack(news), rtol=1e-5, atol=1e-7)
  assert int(chunked.dream_count) == int(s.dream_count) > 0  # dreams finished and reseeded
  assert compiles.count == 1  # two chunk lengths, one compiled program


@pytest.mark.slow
def test_same_seed_reproduces_and_other_seed_differs(synth_audio):
  runs = []
  for seed in (0, 0, 1):
    _, _, program, data, state = build('vector', synth_audio, seed=seed, use_dropout=True)
    state, losses, dreams, _ = program.run_chunk(state, data, 16)
    runs.append((np.asarray(losses), np.asarray(dreams)))
  np.testing.assert_array_equal(runs[0][0], runs[1][0])
  np.testing.assert_array_equal(runs[0][1], runs[1][1])
  assert not np.allclose(runs[0][1], runs[2][1])


@pytest.mark.slow
def test_dropout_while_dreaming_off_makes_streams_deterministic(synth_audio):
  # Same seed offsets ('same' mode, both streams forced to the same offset) and no dropout while
  # dreaming: both streams dream the same values; with dropout on they differ.
  outs = {}
  for flag in (False, True):
    _, _, program, data, state = build('vector', synth_audio, use_dropout=True,
                                       dropout_while_dreaming=flag, seed_advance=['same'])
    state = state.replace(same_offsets=jnp.zeros_like(state.same_offsets))
    buffers = sampling.seed_buffers(program.setup.dream, data.seeds, state.same_offsets)
    state = state.replace(dream_buffers=buffers)
    _, _, dreams, _ = program.run_chunk(state, data, 4)
    outs[flag] = np.asarray(dreams)
  np.testing.assert_array_equal(outs[False][:, 0], outs[False][:, 1])
  assert not np.allclose(outs[True][:, 0], outs[True][:, 1])


def test_regularisation_reaches_the_loss(synth_audio):
  _, _, program, data, state = build('column', synth_audio, regularization=True, reg_amount=0.5)
  x, y = program_lib.batch_at(program.setup, data, 0)
  loss, (mse, _) = program_lib.loss_fn(program.model, program.setup, state.params, state.carry,
                                       x, y, None)
  l2 = sum(0.5 * np.sum(np.square(k)) for k in models.lstm_kernels(state.params))
  np.testing.assert_allclose(loss, mse + 0.5 * l2, rtol=1e-5)


@pytest.mark.slow
def test_reset_state_zeroes_the_carry(synth_audio):
  _, _, program, data, state = build('vector', synth_audio, reset_state=1)
  s1, _ = program_lib.train_step(program.model, program.tx, program.setup, state, data)
  # With reset every step, the carry after step 2 equals a step from zero state.
  s2, _ = program_lib.train_step(program.model, program.tx, program.setup, s1, data)
  s2_fresh, _ = program_lib.train_step(program.model, program.tx, program.setup,
                                 s1.replace(carry=jnp.zeros_like(s1.carry)), data)
  np.testing.assert_allclose(s2.carry, s2_fresh.carry)
  assert np.any(np.asarray(s1.carry) != 0)


@pytest.mark.slow
def test_sequential_dream_carries_state_between_steps(synth_audio):
  c, _, program, data, state = build('column', synth_audio)
  ds = program.setup.dream
  zero = models.zero_carry(c, (c.num_dream_streams,))
  out, out_offsets = sampling.sequential_dream(program.model, ds, 5, state.params, data.seeds,
                                               jax.random.key(3), 0, state.same_offsets, 0, zero)
  # Re-run by hand, carrying buffers and state.
  seed_rng, rng = jax.random.split(jax.random.key(3))
  offsets = sampling.seed_offsets(ds, sampling.mode_of(ds, 0), seed_rng, state.same_offsets, 0)
  np.testing.assert_array_equal(out_offsets, offsets)
  buffers, carry = sampling.seed_buffers(ds, data.seeds, offsets), zero
  for i, key in enumerate(jax.random.split(rng, 5)):
    buffers, carry, new = sampling.sample_step(program.model, ds, state.params, buffers, carry,
                                               key)
    np.testing.assert_allclose(out[i], new, rtol=1e-5, atol=1e-7)
  assert out.shape == (5, c.num_dream_streams, 1)


def test_seed_modes(synth_audio):
  c, sources, program, data, state = build('vector', synth_audio)
  ds = program.setup.dream
  same = jnp.array([3, 7]) * ds.g.unit
  key = jax.random.key(0)
  np.testing.assert_array_equal(sampling.seed_offsets(ds, 0, key, same, 999), same)
  rnd = np.asarray(sampling.seed_offsets(ds, 1, key, same, 999))
  assert np.all((rnd >= 0) & (rnd < sources.num_seed_offsets))
  spacing = sources.num_seed_offsets // 2  # 'advance': stream 0 at the cursor, others spread
  np.testing.assert_array_equal(sampling.seed_offsets(ds, 2, key, same, 40), [40, 40 + spacing])
