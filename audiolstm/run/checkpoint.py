"""Checkpoints with orbax: everything a run needs to continue exactly.

A checkpoint holds the device state (params, optimiser state, carried LSTM and dream states, seed
buffers, dream counters, RNG key, step) and the host state (partial dreams, the metrics window,
sequential-dream count). Orbax writes each checkpoint to a temporary directory and renames it
when complete, so a resume never reads a half-written one; leftovers of a killed save are removed
when the manager opens. A checkpoint damaged later (a bad disk, a hand edit) is skipped for the
newest one that restores (restore_newest).
"""
import logging
import os
import sys
import warnings

import jax
import numpy as np
import orbax.checkpoint as ocp

from audiolstm import files
from audiolstm.core import program as program_lib
from audiolstm.run import outputs


def _saveable(state):
  """Typed PRNG keys are stored as their raw key data."""
  return state.replace(rng=jax.random.key_data(state.rng))


_DAMAGED = set()  # checkpoint directories restored from: late reports of failed reads dropped


class _DropDamagedReports(logging.Filter):
  """Drops asyncio's 'exception was never retrieved' reports of reads of a damaged checkpoint."""

  def filter(self, record):
    text = str(record.exc_info[1] if record.exc_info else '') + str(record.getMessage())
    return not ('never retrieved' in record.getMessage()
                and any(d in text for d in _DAMAGED))


def _quiet_damaged(directory: str) -> None:
  """After a failed restore of a checkpoint in `directory`, the reads of it still in flight end
  into orbax's event loop, closed by then, and report it on stderr at any later time: tensorstore
  as an unraisable 'RuntimeError: Event loop is closed', asyncio as 'Task exception was never
  retrieved' (through logging). Drop those reports, and only those: the note says it once."""
  if not _DAMAGED:
    previous = sys.unraisablehook

    def hook(unraisable):
      e = unraisable.exc_value
      if not (isinstance(e, RuntimeError) and str(e) == 'Event loop is closed'):
        previous(unraisable)

    sys.unraisablehook = hook
    logging.getLogger('asyncio').addFilter(_DropDamagedReports())
    # ... and the reads it never started, as a RuntimeWarning at shutdown.
    warnings.filterwarnings('ignore', r"coroutine '.*' was never awaited", RuntimeWarning)
  _DAMAGED.add(directory)


class _DropDiskFullReports(logging.Filter):
  """Drops orbax's error reports of a save that a full disk failed: the save raises the same error,
  which the caller turns into one line (rundir.NoSpace)."""

  def filter(self, record):
    text = record.getMessage()
    return not (record.levelno >= logging.ERROR and 'raised an exception' in text
                and ('No space left on device' in text or 'RESOURCE_EXHAUSTED' in text))


logging.getLogger('absl').addFilter(_DropDiskFullReports())


def newest_complete_step(directory: str):
  """The newest step directory that orbax finished (renamed from its temporary name), without
  opening a manager (which writes); None if there is none."""
  if not files.isdir(directory):
    return None
  steps = [int(n) for n in files.listdir(directory) if n.isdigit()]
  return max(steps) if steps else None


class Checkpoints:
  """The checkpoints of one work directory (WORKDIR/checkpoints/<step>/)."""

  def __init__(self, directory: str, keep: int):
    self.directory = files.absolute(directory)  # a local path or a URL: orbax takes both
    self.keep = keep
    self._open()

  def _open(self):
    self.manager = ocp.CheckpointManager(
        self.directory,
        options=ocp.CheckpointManagerOptions(max_to_keep=self.keep, create=True,
                                             enable_async_checkpointing=False,
                                             cleanup_tmp_directories=True))
    # Orbax removes a killed save's leftovers in a background thread that close() does not join:
    # a process ending soon after (a refused run, sample mode on a run without checkpoints)
    # printed its traceback at shutdown. Wait for it here.
    cleanup = getattr(self.manager, '_cleanup_tmp_directory_future', None)
    if cleanup is not None:
      cleanup.result()

  def latest_step(self):
    """The newest complete checkpoint's step, or None."""
    return self.manager.latest_step()

  def save(self, step: int, state, host: dict) -> None:
    """Save (state, host) as checkpoint `step` (replacing one of the same step)."""
    tree = {'state': _saveable(state), 'host': host}
    self.manager.save(int(step), args=ocp.args.StandardSave(tree), force=True)
    self.manager.wait_until_finished()

  def restore(self, state_like, host_like: dict, step=None):
    """(state, host) of checkpoint `step` (default newest), shaped like the given examples."""
    step = self.latest_step() if step is None else step
    target = {'state': _saveable(state_like), 'host': host_like}
    tree = self.manager.restore(step, args=ocp.args.StandardRestore(target))
    state = tree['state']
    state = state.replace(rng=jax.random.wrap_key_data(state.rng))
    return state, jax.tree.map(np.asarray, tree['host'])

  def restore_newest(self, state_like, host_like: dict):
    """The newest checkpoint that restores: (step, state, host, skipped), with skipped the newer
    ones that did not [(step, 'Error: first line')], left in place; (None, None, None, skipped)
    when none restores (or there is none)."""
    skipped = []
    _quiet_damaged(self.directory)  # reports may come before the restore raises
    for step in sorted(self.manager.all_steps(), reverse=True):
      try:
        state, host = self.restore(state_like, host_like, step)
      except Exception as e:  # pylint: disable=broad-except  # orbax raises many kinds on damage
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        why = f'{type(e).__name__}: {lines[0] if lines else "no message"}'
        skipped.append((step, why if len(why) <= 80 else why[:77] + '...'))
        continue
      return step, state, host, skipped
    return None, None, None, skipped

  def set_aside(self, step: int, folder: str) -> str:
    """Move checkpoint `step` out of the manager's sight into `folder` (never over an earlier
    one) and return its new path; the manager forgets it."""
    files.makedirs(folder)
    dest = files.unique_path(os.path.join(folder, str(step)))
    self.manager.close()
    files.rename(os.path.join(self.directory, str(step)), dest)
    self._open()
    return dest

  def close(self):
    self.manager.close()


class HostState:
  """The host side of a run that a checkpoint must hold: partial dreams, the metrics window, the
  sequential-dream count."""

  def __init__(self, c, setup: program_lib.Setup):
    self.dreams = outputs.ConcurrentDreams(setup.dream_len, c.num_dream_streams,
                                           setup.g.new_per_step)
    self.metrics = outputs.MetricsWindow(c.log_every)
    self.seq_count = 0

  def to_tree(self) -> dict:
    pending, pending_offsets, pending_len, count = self.dreams.to_arrays()
    window, window_len = self.metrics.to_arrays()
    tree = {'pending': pending, 'pending_offsets': pending_offsets, 'pending_len': pending_len,
            'dream_count': count, 'window': window, 'window_len': window_len,
            'seq_count': self.seq_count}
    return {k: np.asarray(v, np.float32 if k in ('pending', 'window') else np.int32)
            for k, v in tree.items()}

  def load_tree(self, tree: dict) -> None:
    self.dreams.load_arrays(tree['pending'], tree['pending_offsets'], tree['pending_len'],
                            tree['dream_count'])
    self.metrics.load_arrays(tree['window'], tree['window_len'])
    self.seq_count = int(tree['seq_count'])
