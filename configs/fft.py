"""Magnitude-spectrum approach (dissertation 3.2.4): the model predicts the next spectrum frame;
a vocoder turns frames into audio (hop_size samples per dream step).

  audiolstm train --config=fft
  python -m audiolstm.main --config=configs/fft.py          (the same)

Training time: about 45-80 s on a 2-core CPU (12000 iterations).
Sound: dense, breathy textures of the recording's partials with note-like attacks every second
or so.

Dissertation presets, --config=fft:ARG (or configs/fft.py:ARG), ARG the hop_size or the example:

  ARG    example  time
  1024   5.8      ~4 min
  512    5.9      ~14 min
  256    5.10     ~31 min
  128    5.11     ~55 min
  56     5.12     ~4 h

Tuning history, measurements and what the dissertation heard: docs/approaches.md.
"""
from audiolstm.config import defaults
from audiolstm.config import presets

_DISSERTATION = dict(num_layers=1, seg_len=1024, window_size=1024, num_unrollings=100, max_steps=0,
                     num_epochs=20, dream_seconds=20.0, val_fraction=0.0)
PRESETS = {  # argument: (dissertation audio example, fields)
    '1024': ('5.8', dict(_DISSERTATION, hop_size=1024)),
    '512': ('5.9', dict(_DISSERTATION, hop_size=512)),
    '256': ('5.10', dict(_DISSERTATION, hop_size=256)),
    '128': ('5.11', dict(_DISSERTATION, hop_size=128)),
    '56': ('5.12', dict(_DISSERTATION, hop_size=56)),
}


def get_config(arg=None):
  """The quick default, or with `arg` (a hop_size or an example number) a dissertation preset."""
  c = defaults.get_config()
  c.approach = 'fft'
  c.seg_len = 256
  c.num_unrollings = 16
  c.hop_size = 64
  c.max_steps = 12000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 8.0
  c.lr = 1e-3
  # Tuned for sound on the development set (python -m audiolstm.tools.devset): learning
  # magnitudes ** 0.3 lets the quiet partials count in the loss (linear magnitudes gave 36 clicks/s of spurious
  # partials), a gentle lr decay steadies the later dreams, and two stacked layers keep the
  # nylon and cello dreams harmonic.
  c.magnitude_power = 0.3
  c.lr_final = 0.2
  c.num_layers = 2
  # 12000 iterations with input noise 0.03: the dreams' timbre drifts from the recording's the
  # longer a run trains (steel guitar: 12 dB frame distance at 1400 iterations, 16 dB at 30000;
  # the piano arpeggios' dreams fell into a held 3-5 kHz chord with 19 clicks/s after 13000).
  c.noisify = 0.03
  # The vocoder sounds every bin within 30 dB of its frame's peak, not only the local peaks: the
  # dreams get the recording's dense spectrum between partials (frame distance 8-13 dB, was
  # 10-31), and the floor keeps the model's low-level hash out (flatness ratio 0.4-1.5).
  c.use_peaks = False
  c.spectral_floor_db = 30.0
  return presets.apply(c, PRESETS, arg, 'configs/fft.py')
