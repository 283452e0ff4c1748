"""TensorBoard events written with tb.Writer, read back from the event files."""
import io

import numpy as np
from PIL import Image
import soundfile as sf

from audiolstm.run import plots
from audiolstm.run import tb

SR = 11025


def test_scalars_audio_images_round_trip(tmp_path, synth_audio):
  png = plots.spectrogram_png(str(tmp_path / 'spec.png'), synth_audio, SR)
  rgb = np.zeros((12, 20, 3), np.float32)
  rgb[:, :10, 0] = 1.0
  logdir = str(tmp_path / 'tb')
  with tb.Writer(logdir) as w:
    w.scalars(10, {'loss': 0.25, 'scores/max_ncc': np.float32(0.5)})
    w.scalars(20, {'loss': 0.125})
    w.audio('dreams/s0', 20, synth_audio[:SR], SR)
    w.image('spectrograms/s0', 20, png)
    w.image('array', 30, rgb)
  values = {}
  for event in tb.read_events(logdir):
    for v in event.summary.value:
      values[(v.tag, event.step)] = v
  assert values[('loss', 10)].simple_value == 0.25 and values[('loss', 20)].simple_value == 0.125
  assert values[('scores/max_ncc', 10)].simple_value == 0.5
  audio = values[('dreams/s0', 20)].audio
  assert audio.sample_rate == SR and audio.length_frames == SR and audio.num_channels == 1
  decoded, sr = sf.read(io.BytesIO(audio.encoded_audio_string))
  assert sr == SR and np.max(np.abs(decoded - synth_audio[:SR])) < 1e-3
  with Image.open(png) as im:
    size = im.size
  image = values[('spectrograms/s0', 20)].image
  assert (image.width, image.height) == size and image.encoded_image_string[:4] == b'\x89PNG'
  small = values[('array', 30)].image
  with Image.open(io.BytesIO(small.encoded_image_string)) as im:
    pixels = np.asarray(im.convert('RGB'))
  assert pixels.shape == (12, 20, 3) and pixels[0, 0].tolist() == [255, 0, 0]
  assert pixels[0, 15].tolist() == [0, 0, 0]
