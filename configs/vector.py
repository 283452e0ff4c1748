"""Vector approach (dissertation 3.2.1): each row is seg_len samples; the model predicts the next row.

Run:  python -m audiolstm.main --config=configs/vector.py      (about 25 s on a 2-core CPU)

Each dream step produces seg_len samples. Default: seg_len 256 x 16 unrollings, 15000 iterations
(about 18 epochs of the bundled 20 s recording), one 10 s dream stream.
Scale up to the dissertation's settings (Audio Examples 5.2-5.5: seg_len 1024/512/256/128,
100 unrollings) with
  --config.seg_len=1024 --config.num_unrollings=100 --config.max_steps=0 --config.num_epochs=100
about 22 iterations per second on a 2-core CPU; 20 s of audio is 115 iterations per epoch, so
100 epochs take about 9 minutes.
"""
from configs import default


def get_config():
  c = default.get_config()
  c.approach = 'vector'
  c.seg_len = 256
  c.num_unrollings = 16
  c.max_steps = 15000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 10.0
  c.num_dream_streams = 1
  c.lr = 1e-3
  return c
