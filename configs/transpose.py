"""Transpose approach (dissertation 3.2.3): Dense(1) over each row, transpose, Dense(1): the model
predicts the ONE sample after the whole input matrix; one new sample per dream step.

Run:  python -m audiolstm.main --config=configs/transpose.py   (about 50 s on a 2-core CPU)

Default: seg_len 128 x 8 unrollings, 200000 iterations (~4400 per second), two 2 s dream
streams. The dissertation's setting
(Audio Example 5.7: seg_len 1024, 100 unrollings) is
  --config.seg_len=1024 --config.num_unrollings=100 --config.max_steps=0
118,100 iterations per epoch over 20 s of audio at ~21 iterations per second on a 2-core CPU:
about 1.6 hours per epoch.
"""
from configs import default


def get_config():
  c = default.get_config()
  c.approach = 'transpose'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  return c
