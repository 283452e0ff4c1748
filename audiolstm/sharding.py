"""Placement on JAX's own multi-device, multi-host runtime: one data-parallel mesh.

The training-stream axis of the carried state and the dream-stream axis are sharded over the
devices of a 1-D mesh ('data'); parameters, optimiser state and the audio sources are replicated.
Parameters are born placed: the state's shapes come from `jax.eval_shape`, then a jitted init
with these output shardings. On one device every sharding is trivial and nothing changes.
"""
import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

AXIS = 'data'


def maybe_initialize_distributed(flag: bool = False) -> None:
  """jax.distributed.initialize() when running on several hosts (flag or AUDIOLSTM_MULTIHOST=1)."""
  if flag or os.environ.get('AUDIOLSTM_MULTIHOST') == '1':
    jax.distributed.initialize()


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
