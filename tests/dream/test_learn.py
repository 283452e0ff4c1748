"""Sample mode that keeps learning (--learn): dreams made the way training makes them, the run
left as it was."""
import glob
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from audiolstm.audio import audio_io
from audiolstm.core import program as program_lib
from audiolstm.dream import learn
from audiolstm.dream import trained
from tests.helpers import snapshot
from tests.helpers import trained_tiny_run

pytestmark = pytest.mark.slow  # trains a run first (about 25 s on 2 cores)


@pytest.fixture(scope='module')
def column_run(tmp_path_factory):
  """A tiny trained column run (constant learning rate)."""
  return trained_tiny_run(tmp_path_factory.mktemp('learn'), 'column', max_steps=40, lr_final=1.0)


def test_each_dream_step_follows_a_training_step(column_run):
  run = trained.load_run(column_run, log=lambda _: None)
  program = run.program
  data = program_lib.device_data(run.sources, program.mesh)
  state = learn.fresh_dreams(program, run.state, data, jax.random.key(3))
  assert int(state.dream_pos) == 0 and not np.any(np.asarray(state.dream_carry))
  # One fused iteration by hand: a training step, then a dream step with the new parameters.
  _, (_, want, _) = program_lib.concurrent_step(program.model, program.tx, program.setup, state,
                                                data)
  params_before = jax.tree.map(np.asarray, state.params)
  state, values, _ = learn.learn_and_dream(program, state, data, 3)
  assert values.shape == (3, program.setup.dream.num_streams, program.setup.g.new_per_step)
  np.testing.assert_allclose(values[0], np.asarray(want), rtol=1e-5, atol=1e-6)
  changed = jax.tree.map(lambda a, b: not np.array_equal(a, np.asarray(b)), params_before,
                         state.params)
  assert all(jax.tree.leaves(changed))  # the model learned on while it dreamed
  assert int(state.step) == run.step + 3


def test_learning_sample_writes_dreams_and_leaves_the_run_alone(column_run, tmp_path):
  before = snapshot(column_run)
  out = tmp_path / 'out'
  paths = learn.sample(column_run, num_dreams=3, dream_seconds=0.003, out_dir=str(out),
                                 seed=1, log=lambda _: None)
  assert len(paths) == 3 and len(set(paths)) == 3
  for p in paths:
    x = audio_io.load_audio(p, 11025)
    assert len(x) >= 0.003 * 11025 and np.all(np.isfinite(x))
    assert os.path.exists(os.path.splitext(p)[0] + '.png')
  assert snapshot(column_run) == before  # checkpoints, metrics and dreams untouched
  again = learn.sample(column_run, num_dreams=3, dream_seconds=0.003,
                                 out_dir=str(out), seed=1, log=lambda _: None)
  assert not set(again) & set(paths)  # never over earlier files
  np.testing.assert_array_equal(audio_io.load_audio(again[0], 11025),
                                audio_io.load_audio(paths[0], 11025))  # same seed, same dream


def test_learn_refuses_the_flags_it_does_not_take(column_run):
  r = subprocess.run([sys.executable, '-m', 'audiolstm.main', '--mode=sample',
                      f'--workdir={column_run}', '--learn', '--dream_noise=0.1'],
                     capture_output=True, text=True, check=False)
  assert r.returncode == 2 and 'Traceback' not in r.stderr
  assert r.stderr.strip().splitlines() == [
      'audiolstm: error: --dream_noise does not go with --learn (which dreams from the training '
      "audio, as training does, with the run's own settings): leave one of them out"]
  assert not glob.glob(os.path.join(column_run, 'samples', '*'))
