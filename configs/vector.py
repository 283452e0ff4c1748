"""Vector approach (dissertation 3.2.1): each row is seg_len samples; the model predicts the next
row, seg_len samples per dream step.

  audiolstm train --config=vector
  python -m audiolstm.main --config=configs/vector.py       (the same)

Training time: about 25 s to a minute on a 2-core CPU (15000 iterations).
Sound: held, breathy chords of the instrument's partials, some changing every 2-4 s.

Dissertation presets, --config=vector:ARG (or configs/vector.py:ARG), ARG the seg_len or the
example:

  ARG    example  time
  1024   5.2      ~8 min
  512    5.3      ~6 min
  256    5.4      ~7 min
  128    5.5      ~4 min

Tuning history, measurements and what the dissertation heard: docs/approaches.md.
"""
from audiolstm.config import defaults
from audiolstm.config import presets

_DISSERTATION = dict(num_unrollings=100, max_steps=0, num_epochs=100, dream_seconds=20.0,
                     val_fraction=0.0)
PRESETS = {  # argument: (dissertation audio example, fields)
    '1024': ('5.2', dict(_DISSERTATION, seg_len=1024)),
    '512': ('5.3', dict(_DISSERTATION, seg_len=512)),
    '256': ('5.4', dict(_DISSERTATION, seg_len=256)),
    '128': ('5.5', dict(_DISSERTATION, seg_len=128)),
}


def get_config(arg=None):
  """The quick default, or with `arg` (a seg_len or an example number) a dissertation preset."""
  c = defaults.get_config()
  c.approach = 'vector'
  c.seg_len = 128              # tuned for sound (python -m audiolstm.tools.devset): shorter vectors
  c.num_unrollings = 32        # are predicted with less noise (flatness 9.8 -> 2.6 at 256 -> 128)
  c.hidden_size = 256          # a wider cell than the vector
  c.max_steps = 15000
  c.num_epochs = 1000          # capped by max_steps
  c.dream_seconds = 10.0
  c.num_dream_streams = 1
  c.lr = 1e-3
  c.lr_final = 0.05            # decaying lr: later dreams are not remade by a jittering model
  c.noisify = 0.01             # input noise: the model learns to correct small errors it is fed
  c.use_dropout = True         # dropout on the cell's output, 2 %, in training and dreaming: a
  c.input_keep_prob = 1.0      # dream that settles into one row repeated (a buzz at 86 Hz) is
  c.output_keep_prob = 0.98    # kept moving (row_lock 0.44-0.95 -> 0-0.33 on the development set)
  c.spectral_floor_db = 50.0   # each dream frame keeps the bins within a floor of its peak: the
  c.spectral_floor_match = 2.0  # deepest of 50, 45, ... 10 dB leaving the dream at most 2x as
                               # noise-like as the recording (the dropout's hiss goes, a piano's
                               # dense partials stay: a fixed 25 dB thinned them)
  return presets.apply(c, PRESETS, arg, 'configs/vector.py')
