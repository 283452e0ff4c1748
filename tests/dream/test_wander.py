"""Wandering free-running dreams: snapshot timing, files, the blend, and dreams that use them."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiolstm.config import settings as config_lib
from audiolstm.core import models
from audiolstm.core import sampling
from audiolstm.core import wander
from audiolstm.dream import sample as sample_mode
from audiolstm.dream import trained
from audiolstm.run import snapshots
from tests.helpers import build_program, tiny_config, trained_tiny_run


def test_snapshot_steps_spread_over_the_second_half():
  c = config_lib.resolve(tiny_config('column', wander_snapshots=4))
  assert snapshots.every(c, 100) == 12
  due = [s for s in range(1, 101) if snapshots.due(c, 100, s)]
  assert due == [60, 72, 84, 96]
  # The host loop's chunks end at those steps only.
  assert ([snapshots.steps_to_next(c, 100, s) for s in (0, 59, 60, 95, 96)]
          == [60, 1, 12, 1, 1 << 62])
  c.wander_snapshots = 0
  assert snapshots.every(c, 100) == 0 and not any(snapshots.due(c, 100, s) for s in range(101))


def test_save_keeps_the_newest_and_load_stacks_them(tmp_path):
  params = {'a': np.zeros((2, 3), np.float32), 'b': {'c': np.zeros(4, np.float32)}}
  for step in range(5):
    snapshots.save(str(tmp_path), step, jax.tree.map(lambda x, s=step: x + s, params), keep=3)
  names = sorted(os.listdir(tmp_path / 'snapshots'))
  assert names == ['params_000000002.npz', 'params_000000003.npz', 'params_000000004.npz']
  stacked = snapshots.load(str(tmp_path), params)
  np.testing.assert_array_equal(stacked['b']['c'][:, 0], [2, 3, 4])
  assert stacked['a'].shape == (3, 2, 3)
  (tmp_path / 'snapshots' / 'params_000000009.npz').write_bytes(b'not npz')   # skipped
  assert snapshots.load(str(tmp_path), params)['a'].shape == (3, 2, 3)
  assert snapshots.load(str(tmp_path), {'other': np.zeros(1)}) is None           # none match
  assert snapshots.load(str(tmp_path / 'none'), params) is None


def test_params_at_blends_then_holds():
  """Over the first `glide` of hold h the params go linearly from hold h-1's snapshot to hold
  h's, then stay there: continuous across holds."""
  stacked = {'w': jnp.arange(5, dtype=jnp.float32)[:, None] * jnp.ones((5, 2))}
  ws = wander.WanderSetup(num_snapshots=5, hold_steps=10, glide=0.4, block_steps=1)
  key = jax.random.key(0)
  values = np.array([float(wander.params_at(ws, stacked, key, jnp.int32(t))['w'][0])
                     for t in range(60)])
  targets = [int(wander.target(ws, key, h)) for h in range(-1, 6)]
  for h in range(6):
    a, b = targets[h], targets[h + 1]
    want = [a + min(1.0, (i / 10) / 0.4) * (b - a) for i in range(10)]
    np.testing.assert_allclose(values[10 * h:10 * h + 10], want, rtol=1e-6)
  assert len(set(targets)) > 2   # it goes somewhere


@pytest.mark.slow
def test_wander_scan_in_pieces_equals_whole_and_equal_snapshots_equal_plain(synth_audio):
  c, sources, program, _, state = build_program('column', synth_audio)
  ds = sampling.dream_setup(c, sources, 2)
  buffers = jnp.tile(jnp.asarray(sources.seeds[:sources.g.input_span])[None], (2, 1))
  carry = models.zero_carry(c, (2,))
  noise = lambda p, s: jax.tree.map(lambda x: x + 0.05 * s * jnp.sin(jnp.arange(x.size)
                                                                   .reshape(x.shape) + s), p)
  stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *[noise(state.params, s) for s in range(3)])
  ws = wander.WanderSetup(num_snapshots=3, hold_steps=7, glide=0.5, block_steps=4)
  rng, key = jax.random.key(1), jax.random.key(2)
  whole = wander.wander_scan(program.model, ds, ws, 40, stacked, buffers, carry, rng, key, 0)[2]
  b, k, first = wander.wander_scan(program.model, ds, ws, 16, stacked, buffers, carry, rng, key, 0)
  rest = wander.wander_scan(program.model, ds, ws, 24, stacked, b, k, rng, key, 16)[2]
  np.testing.assert_allclose(np.asarray(first), np.asarray(whole[:16]), rtol=1e-6, atol=1e-7)
  np.testing.assert_allclose(np.asarray(rest), np.asarray(whole[16:]), rtol=1e-5, atol=1e-6)
  same = jax.tree.map(lambda x: jnp.stack([x, x, x]), state.params)
  plain = sampling.dream_scan(program.model, ds, 40, state.params, buffers, carry, rng)[2]
  np.testing.assert_allclose(
      np.asarray(wander.wander_scan(program.model, ds, ws, 40, same, buffers, carry, rng, key,
                                    0)[2]), np.asarray(plain), rtol=1e-5, atol=1e-6)
  assert not np.allclose(np.asarray(whole), np.asarray(plain))
  # The two streams start from the same seed but wander on paths of their own.
  assert not np.allclose(np.asarray(whole)[:, 0], np.asarray(whole)[:, 1])


def test_block_length_divides_the_piece():
  assert [wander.block_length(n, 8) for n in (40, 17, 12, 3, 1)] == [8, 1, 6, 3, 1]


@pytest.mark.slow
def test_a_trained_run_keeps_snapshots_and_samples_wander(tmp_path):
  work = trained_tiny_run(tmp_path, 'column', wander_snapshots=3, max_steps=96)
  files = sorted(os.listdir(os.path.join(work, 'snapshots')))
  assert files == ['params_000000064.npz', 'params_000000080.npz', 'params_000000096.npz']
  run = trained.load_run(work, log=lambda *_: None)
  assert jax.tree.leaves(run.snapshots)[0].shape[0] == 3
  lines = []
  paths = sample_mode.sample(work, num_dreams=1, dream_seconds=0.05, log=lines.append)
  assert len(paths) == 1 and any('wandering among 3 snapshots' in line for line in lines)


@pytest.mark.parametrize('field,bad', [('wander_snapshots', 1), ('wander_snapshots', -2),
                                       ('wander_hold_s', 0.0), ('wander_glide', 1.5)])
def test_wander_fields_are_validated(field, bad):
  c = config_lib.resolve(tiny_config('column'))
  c[field] = bad
  with pytest.raises(config_lib.ConfigError, match=f'config.{field}='):
    config_lib.validate(c)
