"""Config files with arguments (`--config=configs/fft.py:56`): the dissertation's audio examples."""
import importlib
import os

import pytest

from audiolstm.config import presets
from audiolstm.config import settings as config_lib
from audiolstm.run import train

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ('vector', 'column', 'transpose', 'fft')
ALL = [(f, arg) for f in FILES for arg in importlib.import_module(f'configs.{f}').PRESETS]

# (file, argument): (audio example, seg_len, num_unrollings, hop_size or None)
EXPECTED = {
    ('vector', '1024'): ('5.2', 1024, 100, None), ('vector', '512'): ('5.3', 512, 100, None),
    ('vector', '256'): ('5.4', 256, 100, None), ('vector', '128'): ('5.5', 128, 100, None),
    ('column', '5.6'): ('5.6', 2048, 10, None), ('column', 'original'): (None, 2048, 10, None),
    ('transpose', '5.7'): ('5.7', 1024, 100, None),
    ('fft', '1024'): ('5.8', 1024, 100, 1024), ('fft', '512'): ('5.9', 1024, 100, 512),
    ('fft', '256'): ('5.10', 1024, 100, 256), ('fft', '128'): ('5.11', 1024, 100, 128),
    ('fft', '56'): ('5.12', 1024, 100, 56),
}


def get(name, arg=None):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def test_every_preset_is_expected():
  assert sorted(ALL) == sorted(EXPECTED)


@pytest.mark.parametrize('name,arg', sorted(EXPECTED))
def test_arguments_map_to_the_dissertation_geometry(name, arg):
  example, seg_len, num_unrollings, hop = EXPECTED[(name, arg)]
  for given in [arg] + ([example] if example else []):
    c = config_lib.resolve(get(name, given))
    config_lib.validate(c)
    assert (c.seg_len, c.num_unrollings) == (seg_len, num_unrollings), given
    assert c.max_steps == 0 and c.num_epochs >= 1  # full-length runs, not the quick cap
    if hop is not None:
      assert (c.hop_size, c.window_size, c.zero_padding) == (hop, 1024, True)
  assert presets.lookup(importlib.import_module(f'configs.{name}').PRESETS, example or arg) == arg


def test_integer_arguments_work_from_python():
  assert get('vector', 512).seg_len == 512
  assert get('fft', 56).hop_size == 56


def test_original_preset_matches_the_original_implementation():
  c = config_lib.resolve(get('column', 'original'))
  config_lib.validate(c)
  assert (c.approach, c.sample_rate, c.int_cursor_inc, c.ext_cursor_inc) == ('column', 11025,
                                                                             1024, 1)
  assert c.label_shape == (10, 1) and c.label_offset == 2048  # the sample after each row
  assert (c.lr, c.weight_stddev, c.num_epochs) == (1e-4, 1e-5, 8)
  assert c.use_dropout and (c.input_keep_prob, c.output_keep_prob, c.state_keep_prob) == (
      1.0, 1.0, 0.5)
  assert c.seed_advance == ('random',) and c.dream_seconds == 30.0


# The quick defaults (no argument) are tuned for sound on the development set and to finish in
# under 3 minutes: they change only with a measured reason (see each config's docstring).
QUICK_DEFAULTS = {
    'vector': dict(seg_len=128, num_unrollings=32, hidden_size=256, max_steps=15000,
                   dream_seconds=10.0, num_dream_streams=1, lr_final=0.05, noisify=0.01,
                   spectral_floor_db=50.0, spectral_floor_match=2.0, use_dropout=True,
                   input_keep_prob=1.0,
                   output_keep_prob=0.98),
    'column': dict(seg_len=128, num_unrollings=8, max_steps=200000, dream_seconds=2.0,
                   noisify=0.01, lr_final=0.15),
    'transpose': dict(seg_len=128, num_unrollings=8, max_steps=200000, dream_seconds=2.0,
                      noisify=0.04, lr_final=0.05, spectral_floor_db=50.0,
                      dream_ema=0.999),
    'fft': dict(seg_len=256, num_unrollings=16, hop_size=64, max_steps=12000, dream_seconds=8.0,
                magnitude_power=0.3, lr_final=0.2, spectral_floor_db=30.0, num_layers=2,
                noisify=0.03, use_peaks=False),
}


@pytest.mark.parametrize('name', FILES)
def test_presets_keep_the_dissertations_settings(name):
  module = importlib.import_module(f'configs.{name}')
  for arg in module.PRESETS:
    c = module.get_config(arg)
    for field, value in presets.ORIGINAL_SETTINGS.items():
      if field not in module.PRESETS[arg][1]:
        assert c[field] == value, (arg, field)


@pytest.mark.parametrize('name', FILES)
def test_no_argument_keeps_the_quick_default(name):
  c = get(name)
  assert c.to_dict() == get(name, '').to_dict()
  assert c.approach == name
  for field, value in QUICK_DEFAULTS[name].items():
    assert c[field] == value, field
  assert c.lr == 1e-3


@pytest.mark.parametrize('name', FILES)
def test_unknown_argument_names_the_valid_ones(name):
  module = importlib.import_module(f'configs.{name}')
  with pytest.raises(presets.PresetError) as e:
    module.get_config('no-such-preset')
  message = str(e.value)
  assert '\n' not in message and 'no-such-preset' in message and f'configs/{name}.py' in message
  for arg in presets.valid_arguments(module.PRESETS):
    assert arg in message


def test_cli_unknown_argument_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
  from audiolstm import main  # pylint: disable=g-import-not-at-top  (defines absl flags)
  monkeypatch.chdir(ROOT)
  try:
    with pytest.raises(SystemExit) as e:
      main.parse_flags(['audiolstm', '--config=configs/fft.py:57', f'--workdir={tmp_path / "run"}'])
  finally:
    main.FLAGS.unparse_flags()
  assert e.value.code == 2
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith('audiolstm: error: '), lines
  assert '57' in lines[0] and '1024, 512, 256, 128, 56' in lines[0], lines
  assert not (tmp_path / 'run').exists()


@pytest.mark.parametrize('name,arg', sorted(EXPECTED))
@pytest.mark.slow
def test_preset_trains_and_dreams(name, arg, tmp_path):
  """Every preset at its full size, for 2 iterations with 1-step dreams."""
  c = get(name, arg)
  c.max_steps, c.chunk_size, c.log_every = 2, 2, 1
  c.num_dream_streams = 1
  c.dream_seconds = 1e-4  # one dream step
  summary = train.train_and_evaluate(c, str(tmp_path / 'run'), log=lambda *_: None)
  assert summary['steps'] == 2
  assert summary['dreams'] and all(os.path.exists(p) for p in summary['dreams'])
