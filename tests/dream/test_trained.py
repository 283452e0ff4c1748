"""dream/trained.py: a dream made in pieces by Dreamer is the one a Stepper steps piece by piece
from the same key (one tiny trained run, shared by the module)."""
import jax
import numpy as np
import pytest

from audiolstm.core import sampling
from audiolstm.dream import trained
from audiolstm.run import signals
from tests.helpers import trained_tiny_run

pytestmark = pytest.mark.slow  # trains a tiny run (about 30 s on a busy 2-core machine)

PIECE = 8  # dream steps per piece here (trained.PIECE_STEPS, 1024, would make long dreams)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  path = trained_tiny_run(tmp_path_factory.mktemp('trained'), 'vector', max_steps=16)
  return trained.load_run(path, log=lambda *a: None)


@pytest.fixture(scope='module')
def dreamer(run):
  """2 streams of 0.02 s: 14 steps of 16 samples, in pieces of 8 (the last one cut)."""
  with pytest.MonkeyPatch.context() as patch:  # Dreamer reads it when made
    patch.setattr(trained, 'PIECE_STEPS', PIECE)
    d = trained.Dreamer(run, 2, 0.02)
  assert d.num_steps == 14 and d.piece == PIECE
  return d


@pytest.fixture(scope='module')
def stepper(run):
  """A Stepper of its own (compiled once for the module), beside the Dreamer's."""
  return trained.Stepper(run, 2, PIECE)


def _stepped(stepper, buffers, key, pieces):
  stepper.start(buffers, key)
  return [np.asarray(stepper.dispatch()) for _ in range(pieces)]


def test_dreamer_equals_stepper_piece_by_piece(run, dreamer, stepper):
  assert run.snapshots is not None  # the pieces share one wander path
  buffers, _, _ = trained.training_seeds(run, 2, seed=5)
  key = jax.random.key(11)
  done = []
  dream = dreamer(buffers, key, progress=lambda i, n: done.append((i, n)))
  assert dream.shape == (2, 14 * 16) and done == [(8, 14), (14, 14)]
  pieces = _stepped(stepper, buffers, key, 2)
  assert pieces[0].shape == (PIECE, 2, 16)
  np.testing.assert_array_equal(
      dream, sampling.to_stream_values(np.concatenate(pieces)[:14]))
  # dropout draws from the key: another key dreams something else
  assert not np.array_equal(dreamer(buffers, jax.random.key(12)), dream)


def test_a_stopped_dream_is_its_first_piece(run, dreamer, stepper):
  buffers, _, _ = trained.training_seeds(run, 2, seed=6)
  stop = signals.StopSignals()  # not installed: only its flag is used
  stop.requested = 'SIGTERM'
  dream = dreamer(buffers, jax.random.key(3), stop=stop)
  first = _stepped(stepper, buffers, jax.random.key(3), 1)[0]
  np.testing.assert_array_equal(dream, sampling.to_stream_values(first))
