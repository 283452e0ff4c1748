"""Magnitude-spectrum approach (dissertation 3.2.4): rows are Blackman-windowed, zero-padded
magnitude spectra normalised to [0, 1]; the model predicts the next frame, and the channel vocoder
turns predicted frames into audio (hop_size samples per dream step).

Run:  python -m audiolstm.main --config=configs/fft.py         (about 50 s on a 2-core CPU)
TODO
"""
from audiolstm import presets
from configs import default

_DISSERTATION = dict(seg_len=1024, window_size=1024, num_unrollings=100, max_steps=0,
                     num_epochs=20, dream_seconds=20.0)
PRESETS = {  # argument: (dissertation audio example, fields)
    '1024': ('5.8', dict(_DISSERTATION, hop_size=1024)),
    '512': ('5.9', dict(_DISSERTATION, hop_size=512)),
    '256': ('5.10', dict(_DISSERTATION, hop_size=256)),
    '128': ('5.11', dict(_DISSERTATION, hop_size=128)),
    '56': ('5.12', dict(_DISSERTATION, hop_size=56)),
}


def get_config(arg=None):
  """The quick default, or with `arg` (a hop_size or an example number) a dissertation preset."""
  c = default.get_config()
  c.approach = 'fft'
  c.seg_len = 256
  c.num_unrollings = 16
  c.hop_size = 64
  c.max_steps = 30000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 8.0
  c.lr = 1e-3
  return presets.apply(c, PRESETS, arg, 'configs/fft.py')
