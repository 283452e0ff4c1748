"""Spectrogram PNGs: written atomically, non-trivial, with the seed's panel when given."""
import os

import numpy as np
from PIL import Image
import pytest

from audiolstm.run import plots

SR = 11025


def test_spectrogram_png_written_atomically(tmp_path, synth_audio):
  path = str(tmp_path / 'sub' / 'dream.png')
  assert plots.spectrogram_png(path, synth_audio, SR, title='dream') == path
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert os.path.getsize(path) > 10_000
  with Image.open(path) as im:
    alone = im.size
    pixels = np.asarray(im.convert('L'), np.float64)
  assert pixels.std() > 20  # a picture, not a blank canvas
  both = str(tmp_path / 'sub' / 'with_seed.png')
  plots.spectrogram_png(both, synth_audio[:SR // 2], SR, seed_audio=synth_audio[::-1])
  with Image.open(both) as im:
    assert im.size[0] == alone[0] and im.size[1] > 1.8 * alone[1]  # seed panel above the dream
  assert sorted(os.listdir(tmp_path / 'sub')) == ['dream.png', 'with_seed.png']  # no temp files


def test_spectrogram_of_short_silent_or_nan_audio(tmp_path):
  for name, x in [('short', np.sin(np.arange(40))), ('silent', np.zeros(500)),
                  ('nan', np.array([0.1, np.nan, -0.2] * 100))]:
    plots.spectrogram_png(str(tmp_path / f'{name}.png'), x, SR)
  with pytest.raises(ValueError, match='empty'):
    plots.spectrogram_png(str(tmp_path / 'empty.png'), np.zeros(0), SR)
  assert sorted(os.listdir(tmp_path)) == ['nan.png', 'short.png', 'silent.png']
