"""Column-vector approach (dissertation 3.2.2): rows are seg_len apart, the cursor moves ONE sample
per iteration, and the model predicts the sample after each row: one new sample per dream step.

Run:  python -m audiolstm.main --config=configs/column.py      (about 50 s on a 2-core CPU)
TODO
"""
from audiolstm import presets
from configs import default

PRESETS = {  # argument: (dissertation audio example, fields)
    '5.6': ('5.6', dict(seg_len=2048, num_unrollings=10, max_steps=0, num_epochs=8,
                        dream_seconds=20.0)),
    # presets/preset.py of apfalz/audio_lstm as last committed ('multiple_dreams_2048sl_10nu').
    'original': (None, dict(seg_len=2048, num_unrollings=10, int_cursor_inc=1024, max_steps=0,
                            num_epochs=8, lr=1e-4, weight_stddev=1e-5, use_dropout=True,
                            input_keep_prob=1.0, output_keep_prob=1.0, state_keep_prob=0.5,
                            sample_rate=11025, dream_seconds=30.0, num_dream_streams=1,
                            seed_advance=('random',), audio_freq=0)),
}


def get_config(arg=None):
  """The quick default, or with `arg` ('5.6' or 'original') a dissertation-sized preset."""
  c = default.get_config()
  c.approach = 'column'
  c.seg_len = 128
  c.num_unrollings = 8
  c.max_steps = 200000
  c.dream_seconds = 2.0
  c.lr = 1e-3
  return presets.apply(c, PRESETS, arg, 'configs/column.py')
