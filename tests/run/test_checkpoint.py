"""run/checkpoint.py: HostState through its tree and back, and a run's state saved and restored
with Checkpoints."""
import jax
import numpy as np
import pytest

from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.run import checkpoint
from tests.helpers import build_program, tiny_config


def _host(c, setup):
  """A HostState part way through a dream and a metrics window."""
  host = checkpoint.HostState(c, setup)
  rng = np.random.default_rng(0)
  s, new = c.num_dream_streams, setup.g.new_per_step
  n = setup.dream_len + 2  # one whole dream and 2 steps of the next
  values = rng.normal(size=(n, s, new)).astype(np.float32)
  finished = list(host.dreams.add(values, np.arange(n * s, dtype=np.int32).reshape(n, s), n))
  assert len(finished) == 1
  assert host.metrics.add([0.5, 0.25, 0.125], 0, 1.0) == []  # log_every 5: a partial window
  host.seq_count = 4
  return host, values[-2:]


def test_host_state_round_trip(synth_audio):
  c, g = config_lib.prepare(tiny_config('vector'))
  setup = program_lib.make_setup(c, dataset.load_sources(c, g, load=lambda p, sr: synth_audio))
  host, pending = _host(c, setup)
  tree = host.to_tree()
  assert tree['pending'].shape == (setup.dream_len, 2, 16) and tree['pending'].dtype == np.float32
  assert int(tree['pending_len']) == 2 and int(tree['dream_count']) == 1
  again = checkpoint.HostState(c, setup)
  again.load_tree(tree)
  np.testing.assert_array_equal(again.dreams.pending, pending)
  np.testing.assert_array_equal(again.dreams.pending_offsets, host.dreams.pending_offsets)
  assert again.dreams.count == 1 and again.seq_count == 4
  assert again.metrics.pending == [0.5, 0.25, 0.125]
  for k, v in again.to_tree().items():
    np.testing.assert_array_equal(v, tree[k], err_msg=k)


@pytest.mark.slow
def test_checkpoints_save_and_restore(tmp_path, synth_audio):
  c, _, program, _, state = build_program('vector', synth_audio)
  host, _ = _host(c, program.setup)
  state = state.replace(step=state.step + 7)
  ckpts = checkpoint.Checkpoints(str(tmp_path / 'checkpoints'), keep=2)
  try:
    assert ckpts.latest_step() is None
    ckpts.save(7, state, host.to_tree())
    ckpts.save(9, state.replace(step=state.step + 2), host.to_tree())
    assert ckpts.latest_step() == 9
    assert checkpoint.newest_complete_step(str(tmp_path / 'checkpoints')) == 9
    like = jax.tree.map(np.zeros_like, host.to_tree())
    state_like = state.replace(params=jax.tree.map(np.zeros_like, state.params),
                               dream_buffers=np.zeros_like(state.dream_buffers))
    restored, tree = ckpts.restore(state_like, like, step=7)
  finally:
    ckpts.close()
  assert int(restored.step) == int(state.step)
  np.testing.assert_array_equal(jax.random.key_data(restored.rng), jax.random.key_data(state.rng))
  for a, b in zip(jax.tree.leaves(restored.params), jax.tree.leaves(state.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  np.testing.assert_array_equal(np.asarray(restored.dream_buffers),
                                np.asarray(state.dream_buffers))
  for k, v in host.to_tree().items():
    np.testing.assert_array_equal(tree[k], v, err_msg=k)
