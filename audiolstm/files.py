"""The file operations of work directories and output folders, on any path etils.epath handles.

A local path (or a mounted disk) goes through `os` exactly as before; a URL (gs://, s3://, ...)
goes through etils.epath, imported only then. What each gives:

- local: a file is written to a hidden temporary file beside it, fsync'ed and renamed over it
  (audio_io.atomic_file), so a reader never sees half a file; appends (metrics.jsonl) add to the
  end in place.
- URL: a file is written locally first, then uploaded in one request: an object store makes the
  whole object appear at once (never half of it), and a failed upload leaves the previous one.
  An object cannot be appended to, so an append rewrites the whole object (read, add, upload:
  still all or nothing, but only one process may write it: process 0 does). Renames are a copy
  and a delete per object, so moving a folder (--restart) is not atomic on a bucket; and there
  is no lock file (an flock needs a local disk): one run at a time is up to the user.

Light to import (no jax): the scoring, report and sweep tools use it too.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile


_URL = re.compile(r'^[a-zA-Z][a-zA-Z0-9+.-]*://')


def is_url(path) -> bool:
  """Whether `path` is a URL (gs://bucket/run, s3://...) rather than a local path."""
  return bool(_URL.match(os.fspath(path)))


def _epath(path):
  from etils import epath  # pylint: disable=g-import-not-at-top  # only for URLs
  return epath.Path(path)


def why(e: BaseException) -> str:
  """One line saying why a file operation failed (ImportError: the URL's backend is missing)."""
  if isinstance(e, ImportError):
    return f'{e} (pip install -e ".[gcs]" for gs://)'
  return getattr(e, 'strerror', None) or str(e).splitlines()[0]


def absolute(path) -> str:
  """A local path made absolute (os.path.abspath); a URL as given (without a trailing '/')."""
  path = os.fspath(path)
  return path.rstrip('/') if is_url(path) else os.path.abspath(path)


def exists(path) -> bool:
  return _epath(path).exists() if is_url(path) else os.path.exists(path)


def lexists(path) -> bool:
  """Whether anything is at `path`, a broken symlink included (on a URL: exists)."""
  return _epath(path).exists() if is_url(path) else os.path.lexists(path)


def isdir(path) -> bool:
  return _epath(path).is_dir() if is_url(path) else os.path.isdir(path)


def listdir(path) -> list:
  """The names in folder `path` (not sorted)."""
  if is_url(path):
    return [p.name for p in _epath(path).iterdir()]
  return os.listdir(path)


def makedirs(path) -> None:
  """Create folder `path` and its parents (nothing if it exists; on a URL, folders are
  implicit, so nothing is created until a file is written)."""
  if is_url(path):
    _epath(path).mkdir(parents=True, exist_ok=True)
  else:
    os.makedirs(path, exist_ok=True)


def remove(path) -> None:
  if is_url(path):
    _epath(path).unlink()
  else:
    os.remove(path)


def rename(path, dest) -> None:
  """Move a file or folder (atomic on a local disk; on a URL, a copy and delete per object)."""
  if is_url(path):
    _epath(path).rename(dest)
  else:
    os.rename(path, dest)


def isfile(path) -> bool:
  if is_url(path):
    return _epath(path).is_file()
  return os.path.isfile(path)


def mtime_ns(path) -> int:
  """When file `path` was last written, in ns (OSError if it is missing)."""
  if is_url(path):
    return int(_epath(path).stat().mtime * 1e9)
  return os.stat(path).st_mtime_ns


def read_text(path, newline=None) -> str:
  """The text of file `path` (utf-8 on a URL; `newline` as open's, for a local file)."""
  if is_url(path):
    return _epath(path).read_bytes().decode()
  with open(path, newline=newline) as f:
    return f.read()


def read_bytes(path) -> bytes:
  if is_url(path):
    return _epath(path).read_bytes()
  with open(path, 'rb') as f:
    return f.read()


@contextlib.contextmanager
def local_copy(path):
  """Context manager: a local path to read file `path` from (`path` itself when it is local; a
  URL is downloaded into a temporary folder, removed afterwards, under the same name)."""
  if not is_url(path):
    yield os.fspath(path)
    return
  folder = tempfile.mkdtemp(prefix='audiolstm-download-')
  try:
    local = os.path.join(folder, os.path.basename(os.fspath(path)))
    with open(local, 'wb') as f:
      f.write(read_bytes(path))
    yield local
  finally:
    shutil.rmtree(folder, ignore_errors=True)


def upload(local_path: str, path) -> None:
  """Copy the local file `local_path` to the URL `path` in one write (the whole object at
  once)."""
  with open(local_path, 'rb') as f:
    _epath(path).write_bytes(f.read())


def append_text(path, text: str) -> None:
  """Add `text` at the end of file `path` (created if missing): in place on a local disk; on a
  URL by rewriting the whole object (see the module docstring)."""
  if is_url(path):
    before = _epath(path).read_text() if exists(path) else ''
    _epath(path).write_text(before + text)
    return
  with open(path, 'a') as f:
    f.write(text)
    f.flush()

def _current_umask() -> int:
  """The process umask (read by setting and restoring it)."""
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_file(path: str, suffix: str = '.tmp'):
  """Context manager: yields a hidden temporary path beside `path` to write the file to.

  On success the temporary file is fsync'ed and `os.replace`'d over `path` (so a reader never
  sees half a file); on failure it is removed and the exception propagates. Parent directories
  are created. A URL `path` (gs://...) is written to a local temporary file and uploaded in one
  write when it is complete (see audiolstm.files).

  Args:
    path: the final file.
    suffix: the temporary file's suffix.

  Yields:
    The temporary path (str): `.<basename>.<random><suffix>` in the same directory.
  """
  path = os.fspath(path)
  if is_url(path):
    yield from _uploaded_file(path, suffix)
    return
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix='.' + os.path.basename(path) + '.', suffix=suffix
  )
  os.close(fd)
  try:
    yield tmp
    with open(tmp, 'rb') as f:
      os.fsync(f.fileno())
    os.chmod(tmp, 0o666 & ~_current_umask())
    os.replace(tmp, path)
  except BaseException:
    try:
      os.unlink(tmp)
    except OSError:
      pass
    raise
  try:  # make the rename durable (best effort; not supported everywhere)
    dfd = os.open(directory, os.O_RDONLY)
    try:
      os.fsync(dfd)
    finally:
      os.close(dfd)
  except OSError:
    pass


def _uploaded_file(path: str, suffix: str):
  """atomic_file for a URL: the file is written to a local temporary folder, then uploaded in
  one write (an object appears whole or not at all; see audiolstm.files)."""
  folder = tempfile.mkdtemp(prefix='audiolstm-upload-')
  tmp = os.path.join(folder, os.path.basename(path) + suffix)
  try:
    yield tmp
    upload(tmp, path)
  finally:
    shutil.rmtree(folder, ignore_errors=True)


def write_text_atomic(path: str, text: str) -> str:
  """Atomically writes `text` to `path` (see `atomic_file`).

  Args:
    path: the file to write; parent directories are created.
    text: its contents.

  Returns:
    `path` (as str).
  """
  with atomic_file(path) as tmp:
    with open(tmp, 'w') as f:
      f.write(text)
  return os.fspath(path)


def unique_path(path: str) -> str:
  """`path` if nothing exists there, else the first of `stem-1.ext`, `stem-2.ext`, ... that is free.

  Args:
    path: the wanted path.

  Returns:
    A path (str) where nothing exists, not even a broken symlink.
  """
  path = os.fspath(path)
  if not lexists(path):
    return path
  stem, ext = os.path.splitext(path)
  i = 1
  while True:
    candidate = f'{stem}-{i}{ext}'
    if not lexists(candidate):
      return candidate
    i += 1
