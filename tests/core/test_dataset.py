"""core/dataset.py: the validation split and seed spans against hand arithmetic, and the shapes of
the sources load_sources makes from known audio."""
import numpy as np

from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from tests.helpers import tiny_config


def test_validation_samples_hold_out_the_last_fraction_only_when_it_fits():
  # vector: one iteration needs 80 samples. fft (window 16, hop 8): 5 frames = 16 + 4 * 8 samples.
  c, g = config_lib.prepare(tiny_config('vector', val_fraction=0.25))
  assert dataset.validation_samples(c, g, 1000) == 250
  assert dataset.validation_samples(c, g, 320) == 80   # exactly one iteration
  assert dataset.validation_samples(c, g, 316) == 0    # 79: too short, all is trained on
  c, g = config_lib.prepare(tiny_config('fft', val_fraction=0.25))
  assert dataset.validation_samples(c, g, 192) == 48   # 1 + (48 - 16) // 8 = 5 frames
  assert dataset.validation_samples(c, g, 188) == 0    # 47 samples: 4 frames
  c, g = config_lib.prepare(tiny_config('vector', val_fraction=0.0))
  assert dataset.validation_samples(c, g, 1000) == 0


def test_seed_audio_span_covers_the_seed_buffer():
  c, g = config_lib.prepare(tiny_config('column'))
  assert dataset.seed_audio_span(c, g, 37) == (37, 37 + 64)
  c, g = config_lib.prepare(tiny_config('fft'))  # 4 frames of 16 bins, hop 8, window 16
  for frame in (0, 2, 9):
    start, stop = dataset.seed_audio_span(c, g, frame * 16)
    assert start == frame * 8
    assert stop == (frame + 3) * 8 + 16  # the last frame's window ends here
    # the frames whose samples lie in [start, stop) are exactly the buffer's
    assert (stop - start - 16) // 8 + 1 == 4


def test_load_sources_raw_shapes_and_split(synth_audio):
  c, g = config_lib.prepare(tiny_config('vector', val_fraction=0.25))
  s = dataset.load_sources(c, g, load=lambda paths, sr: synth_audio)
  n = len(synth_audio)
  n_val = round(n * 0.25)
  train = n - n_val
  np.testing.assert_array_equal(s.inputs, synth_audio[:train])
  np.testing.assert_array_equal(s.val_inputs, synth_audio[train:])
  assert s.labels is s.inputs and s.seeds is s.inputs and s.scale == 1.0
  assert s.inputs.dtype == np.float32
  assert s.iters_per_epoch == (train - 80) // 16 + 1
  assert s.val_iters == (n_val - 80) // 16 + 1
  assert s.num_seed_offsets == train - 64 + 1
  assert s.input_seconds == train / 11025 and s.stream_starts == (0,) and s.g == g
  assert not s.notes


def test_load_sources_fft_frames_are_normalised(synth_audio):
  c, g = config_lib.prepare(tiny_config('fft', val_fraction=0.0, num_train_streams=2))
  s = dataset.load_sources(c, g, load=lambda paths, sr: synth_audio)
  frames = 1 + (len(synth_audio) - 16) // 8
  assert s.inputs.shape == (frames * 16,) and s.val_inputs is None and s.val_iters == 0
  # magnitude_power 0.3 (configs/fft.py): the reference, Blackman window, padded to 32 points
  idx = np.arange(frames)[:, None] * 8 + np.arange(16)
  mags = np.abs(np.fft.rfft(synth_audio[idx].astype(np.float64) * np.blackman(16), 32))[:, :16]
  ref = mags ** 0.3
  np.testing.assert_allclose(s.inputs.reshape(frames, 16), ref / ref.max(), atol=1e-4)
  assert np.isclose(s.inputs.max(), 1.0)
  segment = frames * 16 // 2 // 16 * 16  # each of the 2 streams' whole frames
  assert s.stream_starts == (0, segment)
  assert s.iters_per_epoch == (segment - 80) // 16 + 1
  assert s.num_seed_offsets == frames - 4 + 1
