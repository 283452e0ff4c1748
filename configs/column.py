"""Column-vector approach (dissertation 3.2.2): rows are seg_len apart, the cursor moves ONE sample
per iteration, and the model predicts the sample after each row: one new sample per dream step.

Run:  python -m audiolstm.main --config=configs/column.py      (about 50 s on a 2-core CPU)

Default: seg_len 128 x 8 unrollings, 200000 iterations (~4400 per second: most of one epoch of
the bundled 20 s recording), two 2 s dream streams. The dissertation's setting
(Audio Example 5.6 and the original preset: seg_len 2048, 10 unrollings, ext_cursor_inc 1) is
  --config.seg_len=2048 --config.num_unrollings=10 --config.max_steps=0
one epoch over 20 s of audio is about 200,000 iterations; at the ~18 iterations per second a
2-core CPU manages at that size that is about 3 hours per epoch (a GPU is the way to go there).
"""
from configs import default


def get_config():
  c = default.get_config()
  c.approach = 'column'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  return c
