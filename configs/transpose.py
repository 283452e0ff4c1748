"""Transpose approach (dissertation 3.2.3): Dense(1) over each row, transpose, Dense(1): the model
predicts the ONE sample after the whole input matrix; one new sample per dream step.

Run:  python -m audiolstm.main --config=configs/transpose.py   (about 50 s on a 2-core CPU)
TODO
"""
from audiolstm import presets
from configs import default

PRESETS = {  # argument: (dissertation audio example, fields)
    '5.7': ('5.7', dict(seg_len=1024, num_unrollings=100, max_steps=0, num_epochs=8,
                        dream_seconds=20.0)),
}


def get_config(arg=None):
  """The quick default, or with `arg` ('5.7') the dissertation-sized preset."""
  c = default.get_config()
  c.approach = 'transpose'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  return presets.apply(c, PRESETS, arg, 'configs/transpose.py')
