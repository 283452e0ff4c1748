"""Sweep: the dissertation's hop-size study (section 5.1.3, Audio Examples 5.8-5.12, Table 5.1).

The magnitude-spectrum approach with window_size 1024 (seg_len 1024 bins) and hop_size 1024, 512,
256, 128 and 56, everything else as in configs/fft.py's dissertation presets (100 rows, 20 epochs,
20 s dreams). Each point runs in ROOT/hop_size=N:

  python -m launch.sweep --config=configs/sweep_hop_size.py --root=runs/hop_size
  python -m launch.sweep --config=configs/sweep_hop_size.py --root=runs/hop_size --mode=print

`:quick` starts from configs/fft.py's quick default (16 rows, 30000 iterations), still with window
1024:
  python -m launch.sweep --config=configs/sweep_hop_size.py:quick --root=runs/hop_size_quick
"""
from audiolstm.config import defaults
from audiolstm.config import presets

fft = defaults.load_config_module('fft.py', relative_to=__file__)  # configs/fft.py, by path

HOP_SIZES = (1024, 512, 256, 128, 56)
WINDOW = dict(seg_len=1024, window_size=1024)  # fixed for the whole study


def get_config(arg=None):
  """The study's base config: the dissertation settings, or with arg 'quick' the quick default."""
  arg = '' if arg is None else str(arg).strip()
  if arg not in ('', 'quick'):
    raise presets.PresetError(f'configs/sweep_hop_size.py has no preset {arg!r}: use :quick (the '
                              'quick default of configs/fft.py) or no argument (the dissertation '
                              'settings)')
  if arg == 'quick':
    c = fft.get_config()
    for field, value in WINDOW.items():
      c[field] = value
    return c
  return fft.get_config(str(HOP_SIZES[0]))


def sweep(add):
  """One point per hop size, largest first (the order of the audio examples)."""
  for hop_size in HOP_SIZES:
    add(**{'config.hop_size': hop_size})
