"""dream_ema: concurrent (and sequential and sample-mode) dreams use a moving average of the params
instead of the params of the step (off at 0, as the original)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from tests.helpers import build_program
from tests.helpers import check_added_field
from tests.helpers import trained_tiny_run


def test_config_field_validated_and_filled_in_for_older_runs():
  check_added_field('column', 'dream_ema', ok=(0.0, 0.5, 0.999),
                    bad=(-0.1, 1.0, 1.5, float('nan'), True),
                    message=r'^config\.dream_ema=.*: use 0 <= d < 1 [^\n]*$', other=0.9)


def test_off_keeps_no_copy_of_the_params(synth_audio):
  _, _, _, _, state = build_program('column', synth_audio, dream_ema=0.0)
  assert state.dream_params is None
  assert program_lib.dream_params(state) is state.params


@pytest.mark.slow
@pytest.mark.parametrize('approach', ['column', 'vector'])
def test_dreams_use_the_moving_average_of_the_params(approach, synth_audio):
  decay = 0.75
  _, _, program, data, state = build_program(approach, synth_audio, dream_ema=decay)
  model, tx, setup = program.model, program.tx, program.setup
  step = jax.jit(functools.partial(program_lib.concurrent_step, model, tx, setup))
  average = jax.tree.map(np.asarray, state.params)  # starts at the initial params
  for _ in range(3):
    before = jax.tree.map(jnp.array, state)
    state, (_, new, _) = step(state, data)
    # NumPy reference: average <- decay * average + (1 - decay) * the step's new params.
    average = jax.tree.map(lambda a, p: decay * a + (1 - decay) * np.asarray(p), average,
                           state.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7),
                 state.dream_params, average)
    dream_key = program_lib._keys(before.rng, before.step)[2]  # pylint: disable=protected-access
    *_, expected = sampling.sample_step(model, setup.dream, average, before.dream_buffers,
                                        before.dream_carry, dream_key)
    np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-7)
  # The average lags the params: a dream with the params themselves differs.
  assert not all(jax.tree.leaves(jax.tree.map(np.allclose, state.dream_params, state.params)))


@pytest.mark.slow
def test_checkpoint_keeps_the_average_and_sample_mode_dreams_with_it(tmp_path):
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  work = trained_tiny_run(tmp_path, 'column', dream_ema=0.9, max_steps=20)
  run = trained.load_run(work, log=lambda *_: None)
  assert run.state.dream_params is not None
  jax.tree.map(np.testing.assert_array_equal, run.params, run.state.dream_params)
  assert not all(jax.tree.leaves(jax.tree.map(np.array_equal, run.params, run.state.params)))
