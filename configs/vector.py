"""Vector approach (dissertation 3.2.1): each row is seg_len samples; the model predicts the next row.

Run:  python -m audiolstm.main --config=configs/vector.py      (about 25 s on a 2-core CPU)
TODO
"""
from audiolstm import presets
from configs import default

_DISSERTATION = dict(num_unrollings=100, max_steps=0, num_epochs=100, dream_seconds=20.0)
PRESETS = {  # argument: (dissertation audio example, fields)
    '1024': ('5.2', dict(_DISSERTATION, seg_len=1024)),
    '512': ('5.3', dict(_DISSERTATION, seg_len=512)),
    '256': ('5.4', dict(_DISSERTATION, seg_len=256)),
    '128': ('5.5', dict(_DISSERTATION, seg_len=128)),
}


def get_config(arg=None):
  """The quick default, or with `arg` (a seg_len or an example number) a dissertation preset."""
  c = default.get_config()
  c.approach = 'vector'
  c.seg_len = 256
  c.num_unrollings = 16
  c.max_steps = 15000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 10.0
  c.num_dream_streams = 1
  c.lr = 1e-3
  return presets.apply(c, PRESETS, arg, 'configs/vector.py')
