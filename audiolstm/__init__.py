"""audiolstm: train recurrent networks on a recording and dream new audio from it.

The map of the subpackages is docs/development.md. A config file written for the flat layout of
earlier versions (`from audiolstm import defaults, presets`) still loads: those two names are
forwarded to audiolstm.config, imported only when asked for.
"""
import importlib

_FORWARDED = {'defaults': 'audiolstm.config.defaults', 'presets': 'audiolstm.config.presets'}


def __getattr__(name):
  if name in _FORWARDED:
    return importlib.import_module(_FORWARDED[name])
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
