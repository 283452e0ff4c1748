"""The bundled config files, installed as the package `audiolstm.configs` (setup.py maps this
folder there), so that `--config=fft` names one from any directory.

Each file is loaded by path (ml_collections' config_flags): `path('fft')` gives it. This module
imports nothing of audiolstm, so the command line can resolve a name before anything heavy loads.
"""
import difflib
import os

FOLDER = os.path.dirname(os.path.abspath(__file__))
_NAME_CHARS = frozenset('abcdefghijklmnopqrstuvwxyz0123456789_')


def names() -> list:
  """The bundled configs' names, sorted: ['column', 'default', 'fft', ...]."""
  return sorted(f[:-3] for f in os.listdir(FOLDER)
                if f.endswith('.py') and not f.startswith('_'))


def is_name(spec: str) -> bool:
  """Whether a --config value (before any ':ARG') is a bare name rather than a path."""
  return bool(spec) and set(spec.lower()) <= _NAME_CHARS


def path(name: str) -> str:
  """The file of a bundled config.

  Args:
    name: a bundled config's name ('fft'), without '.py' or ':ARG'.

  Returns:
    The absolute path of its file.

  Raises:
    KeyError: no bundled config has that name; the message lists the known ones.
  """
  if name not in names():
    close = difflib.get_close_matches(name, names(), n=1)
    hint = f' (did you mean {close[0]}?)' if close else ''
    raise KeyError(f'unknown config {name!r}{hint}: give a config file\'s path or one of the '
                   f'bundled configs: {", ".join(names())}')
  return os.path.join(FOLDER, name + '.py')
