"""The work directory: its config.json, metrics.jsonl, loss.png, dream WAV names and paths.

Every file is written atomically (temporary file + rename) and dream names never collide, so a
crash leaves nothing half-written and no run overwrites another's files. The work directory may
be a local path or any URL etils.epath handles (gs://bucket/run): the file operations go through
audiolstm.files, which says what is guaranteed on a bucket. Light to import (no jax): the
scoring, report and sweep tools read runs through it too.
"""
import datetime
import errno
import fcntl
import json
import os
import re
import time

from audiolstm import files
from audiolstm.config.settings import ConfigError
from audiolstm.run import plots


_DREAM_STEP = re.compile(r'_it(\d+)_s\d+(?:-\d+)?\.wav$')
LOCK_NAME = '.audiolstm.lock'  # in a work directory or an output folder: the live holder's pid


class NoSpace(RuntimeError):
  """The disk under a work directory or output folder is full; the message is one line."""


def is_disk_full(e: BaseException) -> bool:
  """Whether an exception (or one it was raised from) is a full disk: OSError ENOSPC / EDQUOT,
  or the same told in words (tensorstore, under orbax, says 'No space left on device')."""
  seen = 0
  while e is not None and seen < 20:
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
      return True
    if 'No space left on device' in str(e) or 'Disk quota exceeded' in str(e):
      return True
    e, seen = e.__cause__ or e.__context__, seen + 1
  return False


def raise_if_disk_full(e: BaseException, folder: str, resume: str) -> None:
  """NoSpace (one line: where, and `resume`, what to do after freeing space) if `e` is a full
  disk; nothing otherwise."""
  if is_disk_full(e):
    where = getattr(e, 'filename', None)
    writing = f' (writing {where})' if where else ''
    raise NoSpace(f'no space left on the device under {folder}{writing}: free space and '
                  f'{resume}') from None


def _holder_pid(fd: int, wait_s: float = 1.0) -> str:
  """The live pid in a lock file held by another process: a holder that has just taken the lock
  may not have written its pid yet (or the file still names a dead earlier holder), so read again
  for up to `wait_s`; 'unknown' if no live pid shows up."""
  deadline = time.monotonic() + wait_s
  while True:
    text = os.pread(fd, 32, 0).decode(errors='replace').strip()
    if text.isdigit() and _alive(int(text)):
      return text
    if time.monotonic() > deadline:
      return 'unknown'
    time.sleep(0.01)


def _alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's process: alive
    return True
  return True


class Lock:
  """An exclusive lock on a folder for the life of a run (or of a sample / watch session).

  FOLDER/.audiolstm.lock holds the holder's pid under an flock, which the kernel drops when the
  holder ends, however it ends: a dead run's lock file (its pid still in it) never blocks. A
  second holder is refused with ConfigError naming the live one's pid. The file stays when the
  lock is released (so the folder itself is not touched again); only the flock says who holds.

    with Lock(workdir):
      ...
  """

  def __init__(self, folder: str, flag: str = '--workdir', holder: str = 'run'):
    self.folder, self.flag, self.holder = folder, flag, holder
    self.path = os.path.join(folder, LOCK_NAME)
    self._fd = None

  def acquire(self) -> 'Lock':
    """Take the lock (ConfigError, one line, if a live process holds it). A folder on a URL has
    no lock (an flock needs a local disk): nothing is done."""
    while self._fd is None and not files.is_url(self.folder):
      fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        pid = _holder_pid(fd)
        os.close(fd)
        raise ConfigError(
            f'{self.flag}={self.folder} is in use by another {self.holder} (pid {pid}): wait for '
            f'it to end (or stop it), or use another {self.flag}') from None
      try:  # the file was removed (by hand) after we opened it: open it again
        same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
      except FileNotFoundError:
        same = False
      if not same:
        os.close(fd)
        continue
      os.ftruncate(fd, 0)
      os.write(fd, f'{os.getpid()}\n'.encode())
      self._fd = fd
    return self

  def release(self) -> None:
    if self._fd is None:
      return
    fcntl.flock(self._fd, fcntl.LOCK_UN)
    os.close(self._fd)
    self._fd = None

  def __enter__(self):
    return self.acquire()

  def __exit__(self, *exc):
    self.release()


def default_workdir(approach: str, root: str = 'runs') -> str:
  """A new directory name runs/<approach>-<timestamp> (suffixed if it exists)."""
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  return files.unique_path(os.path.join(root, f'{approach}-{stamp}'))


def read_config_file(config_path: str, derived: bool = False):
  """The resolved config saved in a run's config.json, or None if there is none. Without
  `derived`, the '_' entries (iterations per epoch, spectral scale, ...) are left out."""
  if not files.exists(config_path):
    return None
  try:
    record = json.loads(files.read_text(config_path))
  except (OSError, ValueError) as e:
    raise ConfigError(f'cannot read {config_path}: {str(e).splitlines()[0]} (it is not a run '
                      'of audiolstm; give another --workdir)') from None
  if not isinstance(record, dict):
    raise ConfigError(f'cannot read {config_path}: not a JSON object')
  return record if derived else {k: v for k, v in record.items() if not k.startswith('_')}


def read_metrics(path: str) -> list:
  """The records (dicts) of a metrics.jsonl file, or of WORKDIR/metrics.jsonl when `path` is a
  directory; [] if there is none. A torn last line (a run killed mid-write) is left out."""
  if files.isdir(path):
    path = os.path.join(path, 'metrics.jsonl')
  if not files.exists(path):
    return []
  lines = [line for line in files.read_text(path).split('\n') if line.strip()]
  records = []
  for i, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except ValueError:
      if i == len(lines) - 1:  # torn by a kill mid-write: the resume rewrites it
        break
      raise ConfigError(f'{path} line {i + 1} is not JSON: the file is damaged') from None
  return records


class RunDir:
  """A run's work directory (created if needed; an earlier run in it is resumed by the caller)."""

  def __init__(self, path: str, primary: bool = True):
    self.path = files.absolute(path)  # a local path, or a URL (gs://bucket/run)
    self.primary = primary  # only the primary process (0) writes
    try:
      if files.exists(self.path) and not files.isdir(self.path):
        raise ConfigError(f'--workdir={path} is a file, not a directory: give a directory path')
      files.makedirs(self.dreams_dir)
    except (OSError, ImportError) as e:  # ImportError: no backend for the URL (gcsfs for gs://)
      raise ConfigError(f'cannot create the work directory {path}: {files.why(e)}') from None
    self.config_path = os.path.join(self.path, 'config.json')
    self.metrics_path = os.path.join(self.path, 'metrics.jsonl')
    self.plot_path = os.path.join(self.path, 'loss.png')
    self.checkpoint_dir = os.path.join(self.path, 'checkpoints')

  def read_config(self):
    """The resolved config of an earlier run here (a dict without '_' entries), or None."""
    return read_config_file(self.config_path)

  def read_metrics(self):
    """The records of metrics.jsonl (an empty list if there is none)."""
    return read_metrics(self.metrics_path)

  def rewind(self, step: int, log_every: int) -> None:
    """Forget what was written after iteration `step` (a resume makes it again, identically):
    metrics records past it or of a partial window ending there, and dreams made after it."""
    if not self.primary:
      return
    kept = [r for r in self.read_metrics()
            if r['step'] < step or (r['step'] == step and step % log_every == 0)]
    files.write_text_atomic(self.metrics_path, ''.join(json.dumps(r) + '\n' for r in kept))
    for name in files.listdir(self.dreams_dir):
      m = _DREAM_STEP.search(name)
      if m and int(m.group(1)) > step:
        files.remove(os.path.join(self.dreams_dir, name))

  def history(self) -> tuple:
    """(metrics records, dream files) an earlier run left here: what a fresh start would lose."""
    if not files.isdir(self.dreams_dir):
      return 0, 0
    return len(self.read_metrics()), len(files.listdir(self.dreams_dir))

  def move_aside(self):
    """Move everything here but the lock into a new sibling WORKDIR.before-restart-<time>/ and
    return its path (None when there was nothing to move). Nothing is deleted."""
    names = [n for n in files.listdir(self.path) if n != LOCK_NAME]
    if not names or not self.primary:
      return None
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    aside = files.unique_path(f'{self.path}.before-restart-{stamp}')
    files.makedirs(aside)
    for name in names:
      files.rename(os.path.join(self.path, name), os.path.join(aside, name))
    files.makedirs(self.dreams_dir)
    return aside

  @property
  def dreams_dir(self) -> str:
    return os.path.join(self.path, 'dreams')

  def write_config(self, c, **extra) -> None:
    if not self.primary:
      return
    record = dict(c.to_dict(), **{'_' + k: v for k, v in extra.items()})
    files.write_text_atomic(os.path.join(self.path, 'config.json'),
                       json.dumps(record, indent=2, sort_keys=True, default=list) + '\n')

  def append_metrics(self, records) -> None:
    if not records or not self.primary:
      return
    files.append_text(self.metrics_path, ''.join(json.dumps(r) + '\n' for r in records))

  def plot_loss(self, steps, losses, title: str, val=()) -> None:
    """loss.png: see plots.loss_png."""
    if self.primary:
      plots.loss_png(self.plot_path, steps, losses, title, val)


def dream_name(approach: str, kind: str, mode: str, step: int, stream: int) -> str:
  """e.g. fft_concurrent_random_it0001200_s0.wav"""
  return f'{approach}_{kind}_{mode}_it{step:07d}_s{stream}.wav'
