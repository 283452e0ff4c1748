"""Column-vector approach (dissertation 3.2.2): the model predicts the sample after each row; one
new sample per dream step.

  audiolstm train --config=column
  python -m audiolstm.main --config=configs/column.py       (the same)

Training time: about 90-105 s on a 2-core CPU (200,000 iterations).
Sound: separate, harmonic notes with onsets and decays, close to the instrument's timbre.

Presets, --config=column:ARG (or configs/column.py:ARG):

  ARG        example                             time
  5.6        Audio Example 5.6                   ~41 h
  original   presets/preset.py of the original   ~61 h

Tuning history, measurements and what the dissertation heard: docs/approaches.md.
"""
from audiolstm.config import defaults
from audiolstm.config import presets

PRESETS = {  # argument: (dissertation audio example, fields)
    '5.6': ('5.6', dict(seg_len=2048, num_unrollings=10, max_steps=0, num_epochs=8,
                        dream_seconds=20.0, val_fraction=0.0)),
    # The current presets/preset.py of apfalz/audio_lstm ('multiple_dreams_2048sl_10nu').
    'original': (None, dict(seg_len=2048, num_unrollings=10, int_cursor_inc=1024, max_steps=0,
                            num_epochs=8, lr=1e-4, weight_stddev=1e-5, use_dropout=True,
                            input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=0.5,
                            sample_rate=11025, dream_seconds=30.0, num_dream_streams=1,
                            seed_advance=('random',), audio_freq=0, val_fraction=0.0)),
}


def get_config(arg=None):
  """The quick default, or with `arg` ('5.6' or 'original') a dissertation-sized preset."""
  c = defaults.get_config()
  c.approach = 'column'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  # Tuned for sound on the development set (python -m audiolstm.tools.devset): input noise makes the
  # model correct its own small errors instead of feeding them back, and the decaying learning
  # rate keeps the later concurrent dreams from being remade by a jittering model at every step
  # (to 0.15 x lr: lower froze the model and the trumpet's late dreams thinned to quiet blips).
  c.noisify = 0.01
  c.lr_final = 0.15
  # Free-running dreams head for a new wander snapshot every 0.25 s: a sample-level model sounds
  # an event at some of the moves only (0.5 s left 2-4 of 10 windows of the bundled recording's
  # 20 s dreams held; 0.25 s none).
  c.wander_hold_s = 0.25
  return presets.apply(c, PRESETS, arg, 'configs/column.py')
