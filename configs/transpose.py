"""Transpose approach (dissertation 3.2.3): the model predicts the ONE sample after the whole
input matrix; one new sample per dream step.

  audiolstm train --config=transpose
  python -m audiolstm.main --config=configs/transpose.py    (the same)

Training time: about 95-160 s on a 2-core CPU (200,000 iterations).
Sound: harmonic notes that swell and hold, nothing copied; good for chordal and held material.

Preset, --config=transpose:ARG (or configs/transpose.py:ARG):

  ARG   example  time
  5.7   5.7      ~35 h

Tuning history, measurements and what the dissertation heard: docs/approaches.md.
"""
from audiolstm.config import defaults
from audiolstm.config import presets

PRESETS = {  # argument: (dissertation audio example, fields)
    '5.7': ('5.7', dict(seg_len=1024, num_unrollings=100, max_steps=0, num_epochs=8,
                        dream_seconds=20.0, val_fraction=0.0)),
}


def get_config(arg=None):
  """The quick default, or with `arg` ('5.7') the dissertation-sized preset."""
  c = defaults.get_config()
  c.approach = 'transpose'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  # Tuned for sound on the development set (python -m audiolstm.tools.devset): input noise (the
  # model learns to correct small errors in what it is fed, its own predictions included) and a
  # decaying learning rate took the bundled recording's flatness ratio from 7.5 to 1.7.
  c.noisify = 0.04
  c.spectral_floor_db = 50.0    # each dream frame keeps the bins within 50 dB of its peak
  c.lr_final = 0.05
  c.dream_ema = 0.999           # dreams use a moving average of the params: no update jitter
  # Free-running dreams head for a new wander snapshot every 0.25 s: a sample-level model sounds
  # an event at some of the moves only (0.5 s left 2-4 of 10 windows of the bundled recording's
  # 20 s dreams held; 0.25 s none).
  c.wander_hold_s = 0.25
  return presets.apply(c, PRESETS, arg, 'configs/transpose.py')
