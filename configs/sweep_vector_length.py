"""Sweep: the dissertation's vector-length study (section 5.1, Audio Examples 5.2-5.5).

The vector approach with vectors (seg_len) of 1024, 512, 256 and 128 samples, everything else as
in configs/vector.py's dissertation presets (100 rows, 100 epochs, 20 s dreams). Each point runs
in ROOT/seg_len=N:

  python -m launch.sweep --config=configs/sweep_vector_length.py --root=runs/vector_length
  python -m launch.sweep --config=configs/sweep_vector_length.py --root=runs/vl --mode=print

`:quick` starts from configs/vector.py's quick default instead (16 rows, 15000 iterations):
  python -m launch.sweep --config=configs/sweep_vector_length.py:quick --root=runs/vl_quick
The file is also a plain config (`python -m audiolstm.main --config=configs/sweep_vector_length.py`
trains the first point's base, seg_len=1024).
"""
from audiolstm.config import defaults
from audiolstm.config import presets

vector = defaults.load_config_module('vector.py', relative_to=__file__)  # configs/vector.py

VECTOR_LENGTHS = (1024, 512, 256, 128)


def get_config(arg=None):
  """The study's base config: the dissertation settings, or with arg 'quick' the quick default."""
  arg = '' if arg is None else str(arg).strip()
  if arg not in ('', 'quick'):
    raise presets.PresetError(f'configs/sweep_vector_length.py has no preset {arg!r}: use :quick '
                              '(the quick default of configs/vector.py) or no argument (the '
                              'dissertation settings)')
  if arg == 'quick':
    return vector.get_config()
  return vector.get_config(str(VECTOR_LENGTHS[0]))


def sweep(add):
  """One point per vector length, longest first (the order of the audio examples)."""
  for seg_len in VECTOR_LENGTHS:
    add(**{'config.seg_len': seg_len})
