"""config/settings.py: derived fields and geometry against hand arithmetic, validation errors, and
the dream-step arithmetic."""
import math

import ml_collections
import pytest

from audiolstm.config import settings as config_lib
from tests.helpers import tiny_config


def test_raw_approaches_resolve_to_hand_computed_geometry():
  # seg_len 16, num_unrollings 4: rows 16 apart, input_span 3 * 16 + 16 = 64.
  for approach, ext_inc, label_offset, shape in (('vector', 16, 16, (4, 16)),
                                                 ('column', 1, 16, (4, 1)),
                                                 ('transpose', 1, 4 * 16, (1, 1))):
    config = tiny_config(approach)
    c, g = config_lib.prepare(config)
    assert config.label_shape == () and config.label_offset == 0  # the argument is not filled
    assert (c.int_cursor_inc, c.ext_cursor_inc, c.label_offset) == (16, ext_inc, label_offset)
    assert c.label_shape == shape and c.hidden_size == 16 and not c.use_fft
    assert c.use_transpose == (approach == 'transpose')
    assert g.unit == 1 and g.input_span == 64
    rows, width = shape
    assert g.label_span == label_offset + (rows - 1) * 16 + width
    assert g.need == max(64, g.label_span) and g.new_per_step == g.label_span - 64
  assert config_lib.geometry(config_lib.resolve(tiny_config('vector'))).new_per_step == 16


def test_fft_geometry_is_in_flattened_frame_values():
  c, g = config_lib.prepare(tiny_config('fft'))  # seg_len 16 bins, hop 8, zero padding
  assert c.use_fft and c.window_size == 16  # zero_padding: window = seg_len
  assert (c.int_cursor_inc, c.ext_cursor_inc, c.label_offset) == (1, 1, 1)  # in frames
  assert (g.unit, g.int_inc, g.ext_inc, g.label_offset) == (16, 16, 16, 16)  # in values
  assert g.input_span == 4 * 16 and g.label_span == 16 + 3 * 16 + 16 and g.new_per_step == 16
  c2, _ = config_lib.prepare(tiny_config('fft', zero_padding=False))
  assert c2.window_size == 32  # no padding: 2 * seg_len gives seg_len bins
  raw = tiny_config('fft').to_dict()
  raw['seed_advance'] = ['same']  # as a run's config.json holds it
  assert config_lib.resolve(ml_collections.ConfigDict(raw)).seed_advance == ('same',)


def test_resolve_makes_a_single_file_name_a_tuple():
  raw = tiny_config('vector').to_dict()
  raw['input_files'] = 'a.wav'  # a hand-written config.json
  assert config_lib.resolve(ml_collections.ConfigDict(raw)).input_files == ('a.wav',)


def test_validate_names_the_bad_field():
  cases = {'val_fraction': 1.5, 'lr': -1.0, 'num_layers': 0, 'wander_snapshots': 1}
  for field, value in cases.items():
    c = config_lib.resolve(tiny_config('vector'))
    c[field] = value
    with pytest.raises(config_lib.ConfigError, match=rf'config\.{field}='):
      config_lib.validate(c)
  config = tiny_config('vector')
  config.approach = 'wavelet'
  with pytest.raises(config_lib.ConfigError, match='approach'):
    config_lib.resolve(config)
  c = config_lib.resolve(tiny_config('fft'))
  c.window_size = 20  # 20 bins but seg_len 16
  with pytest.raises(config_lib.ConfigError, match='window_size=20'):
    config_lib.validate(c)


def test_dream_steps_and_samples_per_step():
  c, g = config_lib.prepare(tiny_config('vector'))
  assert config_lib.samples_per_dream_step(c, g) == 16
  assert config_lib.dream_steps(c, g, 0.004) == math.ceil(0.004 * 11025 / 16) == 3
  assert config_lib.dream_steps(c, g, 1e-9) == 1  # at least one step
  c, g = config_lib.prepare(tiny_config('fft'))
  assert config_lib.samples_per_dream_step(c, g) == 8  # one frame = one hop
  assert config_lib.dream_steps(c, g, 1.0) == math.ceil(11025 / 8)
  c, g = config_lib.prepare(tiny_config('column'))
  assert config_lib.dream_steps(c, g, 0.01) == math.ceil(0.01 * 11025)
