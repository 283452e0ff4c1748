"""The wander snapshots of a run: copies of its dream params written while it trains
(WORKDIR/snapshots/params_<step>.npz, atomically, the newest K kept) and read back to dream.

How a dream wanders among them is audiolstm.core.wander.
"""
import io
import os
import re

import jax
import jax.numpy as jnp
import numpy as np

from audiolstm import files

SNAPSHOT_DIR = 'snapshots'
_NAME = re.compile(r'^params_(\d+)\.npz$')


def every(c, total: int) -> int:
  """Iterations between snapshots: `wander_snapshots` of them spread over the run's second half
  (0 when off)."""
  k = c.wander_snapshots
  return max(1, total // (2 * k)) if k else 0


def due(c, total: int, step: int) -> bool:
  """Whether a snapshot is taken after iteration `step` (a multiple of `every`, in the last
  wander_snapshots of them)."""
  e = every(c, total)
  return bool(e) and step % e == 0 and step > total - c.wander_snapshots * e


def steps_to_next(c, total: int, step: int) -> int:
  """Iterations from `step` to the next snapshot (a large number when none is left), so that a
  chunk of the host loop ends there and nowhere else on its account."""
  e = every(c, total)
  if not e:
    return 1 << 62
  first = (total - c.wander_snapshots * e) // e * e + e        # the first multiple past the window
  nxt = max(first, (step // e + 1) * e)
  return nxt - step if nxt <= total else 1 << 62


def _flat(params) -> dict:
  """{'path/of/leaf': array} of a params pytree."""
  leaves = jax.tree_util.tree_flatten_with_path(params)[0]
  return {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}


def save(run_path: str, step: int, params, keep: int) -> str:
  """Write the params of iteration `step` to WORKDIR/snapshots/params_<step>.npz (atomically),
  then remove all but the newest `keep`. Returns the path."""
  folder = os.path.join(run_path, SNAPSHOT_DIR)
  files.makedirs(folder)
  buf = io.BytesIO()
  np.savez(buf, **_flat(params))
  path = os.path.join(folder, f'params_{step:09d}.npz')
  with files.atomic_file(path) as tmp:
    with open(tmp, 'wb') as f:
      f.write(buf.getvalue())
  for old in snapshot_files(run_path)[:-keep]:
    files.remove(old)
  return path


def snapshot_files(run_path: str) -> list:
  """The run's snapshot files, oldest first ([] when none)."""
  folder = os.path.join(run_path, SNAPSHOT_DIR)
  if not files.isdir(folder):
    return []
  names = sorted(n for n in files.listdir(folder) if _NAME.match(n))
  return [os.path.join(folder, n) for n in names]


def load(run_path: str, params_like):
  """The run's snapshots stacked: a params pytree with a leading [K] axis, or None when it has
  fewer than two (a run trained without them, or stopped early). A file that does not match
  params_like's structure is skipped."""
  leaves = jax.tree_util.tree_flatten_with_path(params_like)[0]
  stacked = []
  for path in snapshot_files(run_path):
    try:
      with np.load(io.BytesIO(files.read_bytes(path))) as z:
        arrays = [np.asarray(z[jax.tree_util.keystr(p)], np.float32) for p, _ in leaves]
    except (OSError, KeyError, ValueError):
      continue
    if all(a.shape == np.shape(l) for a, (_, l) in zip(arrays, leaves)):
      stacked.append(arrays)
  if len(stacked) < 2:
    return None
  columns = [jnp.asarray(np.stack(col)) for col in zip(*stacked)]
  return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params_like), columns)
