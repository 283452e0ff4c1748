"""Short-time spectra of a mono signal (NumPy): the model's frames and the analysis spectrogram.

The model's frames (`magnitude_frames`, run once at start-up) are Blackman-windowed slices of the
signal; each frame becomes a row of magnitudes. Shapes use `num_frames` for the time axis and
`bins` for the frequency axis, so a spectrogram is [num_frames, bins].

Bin k of `bins` always has frequency k * sr / (2 * bins):

  zero_padding=True   FFT of size 2 * window_size, the first window_size bins kept
                      (bins = window_size).
  zero_padding=False  FFT of size window_size, the first window_size // 2 bins kept
                      (bins = window_size // 2).

The analysis spectrogram (`power_spectrogram`, `power_batches`: the scores of
audiolstm.judge.evaluate
and the pictures of audiolstm.run.plots and the notebooks) is the power of centred Hann-windowed
frames, with all n_fft // 2 + 1 bins (bin k at k * sr / n_fft).
"""

from __future__ import annotations

from collections.abc import Iterator
import math

import numpy as np

__all__ = [
    'frame_indices',
    'num_bins',
    'magnitude_frames',
    'centred_frames',
    'power_batches',
    'power_spectrogram',
    'normalise',
    'spectral_scale',
]


def frame_indices(num_samples: int, window_size: int, hop_size: int) -> np.ndarray:
  """Sample indices of every full frame.

  Args:
    num_samples: length of the signal.
    window_size: samples per frame (> 0).
    hop_size: samples between frame starts (> 0).

  Returns:
    [num_frames, window_size] intp indices; row f is f * hop_size + arange(window_size).
    num_frames is 1 + (num_samples - window_size) // hop_size, or 0 when
    num_samples < window_size.

  Raises:
    ValueError: `window_size` or `hop_size` is not positive.
  """
  if window_size <= 0 or hop_size <= 0:
    raise ValueError(f'window_size and hop_size must be positive, got {window_size}, {hop_size}')
  if num_samples < window_size:
    num_frames = 0
  else:
    num_frames = 1 + (num_samples - window_size) // hop_size
  starts = np.arange(num_frames, dtype=np.intp) * hop_size
  return starts[:, None] + np.arange(window_size, dtype=np.intp)[None, :]


def num_bins(window_size: int, zero_padding: bool) -> int:
  """Number of magnitude bins per frame: `window_size` with zero padding, else window_size // 2.

  Args:
    window_size: samples per analysis frame.
    zero_padding: whether each frame is zero-padded to twice its length before the FFT.

  Returns:
    Bins per frame.
  """
  return window_size if zero_padding else window_size // 2


def magnitude_frames(
    audio: np.ndarray, window_size: int, hop_size: int, zero_padding: bool
) -> np.ndarray:
  """Unnormalised magnitude spectra of Blackman-windowed frames.

  Args:
    audio: [num_samples] mono signal (any real dtype; computed in float64).
    window_size: samples per frame.
    hop_size: samples between frame starts.
    zero_padding: if True, each frame is zero-padded to 2 * window_size before the FFT and
      window_size bins are kept; otherwise the FFT has size window_size and window_size // 2
      bins are kept.

  Returns:
    [num_frames, bins] float32 magnitudes (`bins` from `num_bins`; num_frames from
    `frame_indices`, 0 rows when the signal is shorter than one window).

  Raises:
    ValueError: `audio` is not 1-D.
  """
  audio = np.asarray(audio)
  if audio.ndim != 1:
    raise ValueError(f'audio must be 1-D [num_samples], got shape {audio.shape}')
  idx = frame_indices(audio.shape[0], window_size, hop_size)  # [F, W]
  bins = num_bins(window_size, zero_padding)
  if idx.shape[0] == 0:
    return np.zeros((0, bins), dtype=np.float32)
  frames = audio[idx].astype(np.float64) * np.blackman(window_size)[None, :]  # [F, W]
  n_fft = 2 * window_size if zero_padding else window_size
  spectrum = np.fft.rfft(frames, n=n_fft, axis=-1)  # [F, n_fft // 2 + 1]
  return np.abs(spectrum[:, :bins]).astype(np.float32)



def centred_frames(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
  """Frames centred on every `hop`-th sample, as a strided view (no copy of the frames).

  Args:
    audio: [num_samples] mono signal (any num_samples >= 0; computed in float64).
    n_fft: samples per frame.
    hop: samples between frame centres.

  Returns:
    [num_frames, n_fft] float64 read-only view of the signal padded with n_fft // 2 zeros each
    side (and more at the end, to make at least one frame); frame f is centred on sample f * hop.
  """
  x = np.asarray(audio, np.float64)
  x = np.pad(x, (n_fft // 2, n_fft // 2 + max(0, n_fft - len(x) - 2 * (n_fft // 2))))
  return np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop]


def power_batches(
    audio: np.ndarray, n_fft: int, hop: int, max_frames: int = 2048
) -> Iterator[np.ndarray]:
  """`power_spectrogram`, `max_frames` frames at a time (memory bound for long signals).

  Args:
    audio: [num_samples] mono signal (any num_samples >= 0).
    n_fft: frame length (the FFT size).
    hop: samples between frame centres.
    max_frames: frames per batch (each batch is one FFT call).

  Yields:
    [<= max_frames, n_fft // 2 + 1] float64 power of consecutive frames (at least one batch).
  """
  frames = centred_frames(audio, n_fft, hop)  # [F, n_fft]
  window = np.hanning(n_fft + 2)[1:-1]  # [n_fft], no zero end points
  for b in range(0, len(frames), max_frames):
    yield np.square(np.abs(np.fft.rfft(frames[b : b + max_frames] * window, axis=-1)))


def analysis_sizes(sr: int) -> tuple:
  """(n_fft, hop) of the spectral scores: ~93 ms Hann frames (1024 at 11025 Hz), 75 % overlap."""
  n_fft = 2 ** int(round(math.log2(0.093 * sr)))
  return n_fft, n_fft // 4


def frame_flatness(power: np.ndarray, floor_db: float) -> np.ndarray:
  """Spectral flatness of each frame: geometric / arithmetic mean of its power, every bin first
  raised by a floor `floor_db` below the frame's peak (differences further down are masked).

  Args:
    power: [frames, bins] power spectra (power_batches).
    floor_db: the floor's depth below each frame's peak bin, in dB.

  Returns:
    [frames] float64 flatness in (0, 1] (1: white noise's flat spectrum).
  """
  p = power + (10 ** (-floor_db / 10) * np.max(power, axis=1, keepdims=True) + 1e-300)
  return np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)


def mean_flatness(flatness: np.ndarray, energies: np.ndarray) -> float:
  """The geometric mean of frame_flatness over the frames within 60 dB of the loudest (an
  arithmetic mean is ruled by the few most noise-like, quietest, frames); nan if none is.

  Args:
    flatness: [frames] frame_flatness.
    energies: [frames] each frame's summed power.
  """
  loud = energies > 1e-6 * np.max(energies, initial=0.0)
  return float(np.exp(np.mean(np.log(flatness[loud])))) if np.any(loud) else math.nan


FLATNESS_FLOOR_DB = 60.0  # flatness: bins are floored this far below their frame's peak


def flatness(audio: np.ndarray, sr: int) -> float:
  """How noise-like a signal is: mean_flatness of its analysis spectrogram (analysis_sizes),
  the score evaluate reports as flatness_ratio over the recording's.

  Args:
    audio: [n] samples (its mean is removed first).
    sr: the sample rate in Hz.

  Returns:
    The flatness in (0, 1]; nan for silence.
  """
  n_fft, hop = analysis_sizes(sr)
  x = np.asarray(audio, np.float64)
  x = x - np.mean(x) if len(x) else x
  flat, energies = [], []
  for power in power_batches(x, n_fft, hop):
    flat.append(frame_flatness(power, FLATNESS_FLOOR_DB))
    energies.append(np.sum(power, axis=1))
  return mean_flatness(np.concatenate(flat), np.concatenate(energies))


def power_spectrogram(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
  """|STFT|^2 of Hann-windowed frames, centred (n_fft // 2 zeros each side).

  The analysis spectrogram of the scores (audiolstm.judge.evaluate) and the pictures
  (audiolstm.run.plots,
  notebook_utils); the model's frames are `magnitude_frames`.

  Args:
    audio: [num_samples] mono signal (any num_samples >= 0; padded with zeros to at least one
      frame).
    n_fft: frame length (the FFT size).
    hop: samples between frame centres.

  Returns:
    [num_frames, n_fft // 2 + 1] float64 power; frame f is centred on sample f * hop.
  """
  return np.concatenate(list(power_batches(audio, n_fft, hop)))


def normalise(frames: np.ndarray, scale: float) -> np.ndarray:
  """Divides magnitudes by the spectral scale.

  Args:
    frames: [num_frames, bins] magnitudes.
    scale: the divisor (see `spectral_scale`).

  Returns:
    [num_frames, bins] float32 frames / scale (computed in float64).
  """
  return (np.asarray(frames, dtype=np.float64) / scale).astype(np.float32)


def spectral_scale(frames: np.ndarray) -> float:
  """Scale used by `normalise`: the largest magnitude.

  Args:
    frames: [num_frames, bins] magnitudes.

  Returns:
    The maximum of `frames`, a positive finite float.

  Raises:
    ValueError: there are no frames, or the maximum is 0 (silent input) or not finite.
  """
  frames = np.asarray(frames)
  if frames.size == 0:
    raise ValueError('cannot compute spectral scale: no frames (audio shorter than one window?)')
  scale = float(np.max(frames))
  if not np.isfinite(scale) or scale <= 0.0:
    raise ValueError(
        f'cannot compute spectral scale: maximum magnitude is {scale} '
        '(audio is silent or contains non-finite values)'
    )
  return scale


MAX_SOURCE_VALUE = 4.0   # a diverging dream's values are capped here (the training audio's are <= 1)


def from_source_frames(values: np.ndarray, scale: float, power: float = 1.0) -> np.ndarray:
  """Model values back to magnitudes: the inverse of normalise(frames ** power, scale).

  Args:
    values: [frames, bins] normalised (compressed) magnitudes; negatives and non-finite values
      count as 0 (+inf as MAX_SOURCE_VALUE), and values over MAX_SOURCE_VALUE (a dream that
      diverged) as that, so the magnitudes stay finite.
    scale: the normalisation scale.
    power: the compression exponent the model learned (1 = linear magnitudes).

  Returns:
    [frames, bins] float32 finite magnitudes (computed in float64).
  """
  values = np.clip(np.nan_to_num(np.asarray(values, np.float64), nan=0.0), 0.0, MAX_SOURCE_VALUE)
  mags = np.power(values * scale, 1.0 / power)
  return mags.astype(np.float32)
