"""Placement on JAX's own multi-device, multi-host runtime: one data-parallel mesh.

The training-stream axis of the carried state and the dream-stream axis are sharded over the
devices of a 1-D mesh ('data'); parameters, optimiser state and the audio sources are replicated.
Parameters are born placed: the state's shapes come from `jax.eval_shape`, then a jitted init
with these output shardings. On one device every sharding is trivial and nothing changes.
"""
import os

import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from audiolstm.config.settings import ConfigError

AXIS = 'data'


def maybe_initialize_distributed(flag: bool = False, coordinator_address: str = None,
                                 num_processes: int = None, process_id: int = None) -> None:
  """jax.distributed.initialize when running as several processes; nothing on one.

  With any of coordinator_address ('host:port' of process 0), num_processes and process_id
  (the --coordinator_address, --num_processes, --process_id flags) they are passed on, the rest
  auto-detected; without them, `flag` (--multihost) or AUDIOLSTM_MULTIHOST=1 auto-detects all
  (a TPU slice, SLURM). On CPU the processes' collectives go through gloo. ConfigError (one line)
  for a process_id outside [0, num_processes).
  """
  explicit = (coordinator_address, num_processes, process_id) != (None, None, None)
  if not (explicit or flag or os.environ.get('AUDIOLSTM_MULTIHOST') == '1'):
    return
  if num_processes is not None and num_processes < 1:
    raise ConfigError(f'--num_processes={num_processes}: give the number of processes (>= 1)')
  if process_id is not None and not 0 <= process_id < (num_processes or process_id + 1):
    raise ConfigError(f'--process_id={process_id} is outside 0..{num_processes - 1} '
                      f'(--num_processes={num_processes}): number the processes from 0')
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address, num_processes, process_id)


def make_mesh() -> Mesh:
  """A 1-D mesh over every device of every process."""
  return Mesh(np.array(jax.devices()), (AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def along_streams(mesh: Mesh, num_streams: int) -> NamedSharding:
  """Axis 0 split over the devices when the streams divide evenly, else replicated.

  Args:
    mesh: the 1-D 'data' mesh (make_mesh).
    num_streams: the length of axis 0 (T training or S dream streams).

  Returns:
    The NamedSharding.
  """
  return NamedSharding(mesh, P(AXIS) if num_streams % mesh.size == 0 else P())


def state_shardings(mesh: Mesh, state_shapes, num_train_streams: int, num_dream_streams: int):
  """Shardings of a train.State (given its shapes): stream axes split, the rest replicated.

  Args:
    mesh: the 1-D 'data' mesh (make_mesh).
    state_shapes: the train.State of jax.ShapeDtypeStructs (jax.eval_shape of the init).
    num_train_streams: T, axis 0 of carry [T, L, 2, nu, hidden].
    num_dream_streams: S, axis 0 of dream_buffers [S, input_span], dream_carry
      [S, L, 2, nu, hidden], dream_offsets [S] and same_offsets [S].

  Returns:
    A train.State of NamedShardings, one per leaf.
  """
  rep = replicated(mesh)
  shardings = jax.tree.map(lambda _: rep, state_shapes)
  train_axis = along_streams(mesh, num_train_streams)
  dream_axis = along_streams(mesh, num_dream_streams)
  return shardings.replace(carry=train_axis, dream_buffers=dream_axis, dream_carry=dream_axis,
                           dream_offsets=dream_axis, same_offsets=dream_axis)


def to_host(x) -> np.ndarray:
  """A (possibly multi-process) array as one NumPy array on this host."""
  if getattr(x, 'is_fully_addressable', True):
    return np.asarray(x)
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def is_primary() -> bool:
  """Only process 0 writes files and logs."""
  return jax.process_index() == 0


def agree(n: int, stop_requested) -> tuple:
  """(process 0's chunk length `n`, whether any process was asked to stop): every process runs
  the same chunks (their lengths come from each one's measured speed) and stops at the same
  boundary, whichever got the signal. On one process: (n, bool(stop_requested)), no collective."""
  if jax.process_count() == 1:
    return n, bool(stop_requested)
  both = multihost_utils.process_allgather(np.array([n, bool(stop_requested)], np.int32))
  return int(both[0, 0]), bool(np.any(both[:, 1]))


def all_ok(ok: bool) -> bool:
  """Whether `ok` holds on every process (a barrier too); `ok` itself on one process."""
  if jax.process_count() == 1:
    return bool(ok)
  return bool(np.all(multihost_utils.process_allgather(np.array([bool(ok)], np.int32))))
