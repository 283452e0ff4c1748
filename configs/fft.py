"""Magnitude-spectrum approach (dissertation 3.2.4): rows are Blackman-windowed, zero-padded
magnitude spectra normalised to [0, 1]; the model predicts the next frame, and the channel vocoder
turns predicted frames into audio (hop_size samples per dream step).

Run:  python -m audiolstm.main --config=configs/fft.py         (about 50 s on a 2-core CPU)

Default: 256 bins (window 256, zero padded), hop 64, 16 frames per input matrix, 30000
iterations (about 9 epochs of the bundled 20 s recording), two 8 s dream streams.
The dissertation's setting (Audio Examples 5.8-5.12: window 1024, hop 1024/512/256/128/56, 100
frames) is
  --config.seg_len=1024 --config.num_unrollings=100 --config.hop_size=256 --config.max_steps=0
  --config.num_epochs=20
about 18 iterations per second on a 2-core CPU (two dream streams); 20 s of audio at hop 256 is
758 iterations per epoch, so 20 epochs take about 14 minutes.
"""
from configs import default


def get_config():
  c = default.get_config()
  c.approach = 'fft'
  c.seg_len = 256
  c.num_unrollings = 16
  c.hop_size = 64
  c.max_steps = 30000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 8.0
  c.lr = 1e-3
  return c
