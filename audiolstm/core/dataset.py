"""Loading the training, label and seed audio into the 1-D sources the index functions slice.

Raw-audio approaches slice the samples directly. The magnitude-spectrum approach slices the
[frames, bins] matrix flattened to 1-D (see config.Geometry), normalised to [0, 1] by the maximum
over the training data; seed files keep that scale.
"""
import dataclasses
import math

import numpy as np

from audiolstm.audio import audio_io
from audiolstm.audio import spectral
from audiolstm.config import settings as config_lib
from audiolstm.config.settings import ConfigError
from audiolstm.core import slicing


@dataclasses.dataclass
class Sources:
  """Host-side sources; inputs, labels, seeds (and the validation pair) are 1-D float32
  (flattened normalised frames for fft)."""
  inputs: np.ndarray
  labels: np.ndarray
  seeds: np.ndarray
  scale: float            # fft normalisation (1.0 for raw audio)
  iters_per_epoch: int     # per training stream
  num_seed_offsets: int
  input_seconds: float
  stream_starts: tuple = (0,)  # where each training stream's contiguous segment starts
  seed_audio: np.ndarray = None   # the seed source as audio (for seed spectrograms)
  val_inputs: np.ndarray = None   # validation split (None when off)
  val_labels: np.ndarray = None
  val_iters: int = 0
  notes: tuple = ()               # things the user should know (e.g. validation turned off)
  g: config_lib.Geometry = None   # the geometry they were sliced for
  flatness: float = math.nan      # the training audio's spectral flatness (spectral_floor_match)


def to_source(c, audio, scale=None):
  """1-D source of a resolved config from audio; returns (source, scale).

  fft: the frames' magnitudes ** config.magnitude_power, divided by their maximum (the scale).
  """
  if not c.use_fft:
    return audio.astype(np.float32), 1.0
  frames = spectral.magnitude_frames(audio, c.window_size, c.hop_size, c.zero_padding)
  if c.magnitude_power != 1:
    frames = np.power(frames, np.float32(c.magnitude_power))
  if scale is None:
    scale = spectral.spectral_scale(frames)
  return spectral.normalise(frames, scale).reshape(-1), scale


def _describe_need(c, g):
  if c.use_fft:
    frames = g.need // g.unit
    samples = c.window_size + (frames - 1) * c.hop_size
    return f'{frames} frames ({samples / c.sample_rate:.2f} s)'
  return f'{g.need} samples ({g.need / c.sample_rate:.2f} s)'


def _read_audio(c, load) -> tuple:
  """(input file names, training audio [n], label audio [n] (the same array without
  label_files; both cut to the shorter)); ConfigError when the training audio is silent or
  constant."""
  files = audio_io.training_files(c.input_files)
  audio = load(files, c.sample_rate)
  if not np.any(audio):
    raise ConfigError(f'the training audio ({", ".join(files)}) is silent: nothing to learn from; '
                      'use a recording with sound in config.input_files')
  if np.ptp(audio) == 0:
    raise ConfigError(f'the training audio ({", ".join(files)}) is constant (a DC level of '
                      f'{float(audio[0]):g}, no sound): nothing to learn from; use a recording '
                      'with sound in config.input_files')
  if not c.label_files:
    return files, audio, audio
  label_audio = load(c.label_files, c.sample_rate)
  n = min(len(audio), len(label_audio))
  return files, audio[:n], label_audio[:n]


def load_sources(c, g: config_lib.Geometry, load=audio_io.load_many) -> Sources:
  """Read and prepare all audio of a resolved config and its geometry (config.prepare's pair).

  Raises ConfigError/AudioError for unusable audio. `load(files, sample_rate)` -> [n] samples.
  """
  files, audio, label_audio = _read_audio(c, load)
  notes = []
  n_val = validation_samples(c, g, len(audio))
  if c.val_fraction and not n_val:
    notes.append(f'validation is off: the last {c.val_fraction:g} of the audio '
                 f'({len(audio) * c.val_fraction / c.sample_rate:.2f} s) is shorter than one '
                 f'iteration needs ({_describe_need(c, g)}); raise config.val_fraction or set it '
                 'to 0')
  train_audio, train_labels = audio[:len(audio) - n_val], label_audio[:len(audio) - n_val]
  try:
    inputs, scale = to_source(c, train_audio)
    if label_audio is audio:
      labels = inputs
    else:
      raw_labels, label_scale = to_source(c, train_labels)
      labels = raw_labels * np.float32(label_scale / scale) if c.use_fft else raw_labels
  except ValueError as e:  # silent spectra
    raise ConfigError(f'cannot normalise the magnitude spectra of {", ".join(files)}: {e}') from None
  streams = c.num_train_streams
  segment = len(inputs) // streams // g.unit * g.unit  # each stream's contiguous segment
  iters = slicing.iterations_per_epoch(g, segment)
  if iters < 1:
    split = f' split into {streams} training streams' if streams > 1 else ''
    raise ConfigError(
        f'the training audio is too short: {len(train_audio) / c.sample_rate:.2f} s'
        f'{" after the validation split" if n_val else ""}{split}, but one input matrix plus its '
        f'label needs {_describe_need(c, g)}; use a longer recording or smaller seg_len / '
        f'num_unrollings{" / num_train_streams" if streams > 1 else ""}')
  val_inputs = val_labels = None
  if n_val:
    val_inputs, _ = to_source(c, audio[len(audio) - n_val:], scale)
    val_labels = (val_inputs if label_audio is audio
                  else to_source(c, label_audio[len(audio) - n_val:], scale)[0])
  if c.seed_files:
    seed_audio = load(c.seed_files, c.sample_rate)
    seeds, _ = to_source(c, seed_audio, scale)
    if slicing.num_seed_offsets(g, len(seeds)) < 1:
      raise ConfigError(
          f'the seed audio ({", ".join(c.seed_files)}) is too short: a seed must fill one input '
          f'matrix ({g.input_span // g.unit} {"frames" if c.use_fft else "samples"}); use longer '
          'seed files')
  else:
    seeds, seed_audio = inputs, train_audio
  return Sources(inputs=inputs, labels=labels, seeds=seeds, scale=float(scale),
                 iters_per_epoch=iters, num_seed_offsets=slicing.num_seed_offsets(g, len(seeds)),
                 input_seconds=len(train_audio) / c.sample_rate,
                 stream_starts=tuple(k * segment for k in range(streams)), seed_audio=seed_audio,
                 val_inputs=val_inputs, val_labels=val_labels,
                 val_iters=slicing.iterations_per_epoch(g, len(val_inputs)) if n_val else 0,
                 notes=tuple(notes), g=g, flatness=_flatness(c, train_audio))


def _flatness(c, audio: np.ndarray) -> float:
  """spectral.flatness of the training audio [n] where spectral_floor_match needs it, else nan."""
  if c.use_fft or not c.get('spectral_floor_match', 0.0) > 0:
    return math.nan
  return spectral.flatness(audio, c.sample_rate)


def validation_samples(c, g: config_lib.Geometry, num_samples: int) -> int:
  """Samples at the end of a num_samples recording held out for validation: the last
  val_fraction, or 0 when that is off or too short for one iteration (then all is trained on)."""
  n_val = int(round(num_samples * c.val_fraction))
  return n_val if n_val and slicing.iterations_per_epoch(g, _source_len(c, n_val)) >= 1 else 0


def _source_len(c, num_samples: int) -> int:
  """Length of the 1-D source made from num_samples of audio."""
  if not c.use_fft:
    return num_samples
  frames = 1 + (num_samples - c.window_size) // c.hop_size if num_samples >= c.window_size else 0
  return frames * c.seg_len


def seed_audio_span(c, g: config_lib.Geometry, offset: int) -> tuple:
  """(start, stop) samples of the seed audio that the seed buffer at source `offset` covers."""
  if not c.use_fft:
    return offset, offset + g.input_span
  first, frames = offset // g.unit, g.input_span // g.unit
  return first * c.hop_size, (first + frames - 1) * c.hop_size + c.window_size
