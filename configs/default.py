"""The defaults shared by every approach (audiolstm/defaults.py) as a config file.

Run:  python -m audiolstm.main --config=configs/default.py   (the column-vector approach)

The fields, their defaults and meanings are in audiolstm/defaults.py (installed with the package);
the approach configs (configs/column.py, fft.py, transpose.py, vector.py) start from them too.
"""
from audiolstm.config import defaults


def get_config():
  """Every field at its default (audiolstm.config.defaults.get_config)."""
  return defaults.get_config()
