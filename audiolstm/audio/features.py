"""Features of audio shared by live play and judging: spectral statistics and log-mel
frames on the analysis grid of audiolstm.audio.spectral.analysis_sizes (no jax).
"""
import functools
import warnings

import numpy as np

from audiolstm.audio import spectral

FLATNESS_FLOOR_DB = spectral.FLATNESS_FLOOR_DB  # flatness: bins are floored this far below
                         # their frame's peak (differences further down are masked, inaudible)
LOUD_DB = 50.0           # frames within this of the loudest bin count in the frame distance
FLOOR_DB = 80.0          # log-mel frames are floored this far below the loudest bin


def spectral_stats(audio: np.ndarray, n_fft: int, hop: int, max_frames: int = 2048,
                   mel_fb=None):
  """Frame-wise reductions of the power spectrogram, without holding all of it in memory.

  Args:
    audio: [n] signal.
    n_fft, hop: as for spectral.power_spectrogram (centred Hann frames).
    max_frames: frames transformed at a time (memory bound only: each batch is one FFT).
    mel_fb: optional [bands, n_fft // 2 + 1] filterbank: also return each frame's band powers.

  Returns:
    (mean power [n_fft // 2 + 1], frame energies [frames], frame spectral flatness [frames]:
    geometric / arithmetic mean of the frame's power, with a floor FLATNESS_FLOOR_DB below its
    peak bin), and with mel_fb the band powers [frames, bands] as a fourth element.
  """
  total, energies, flatness, bands = np.zeros(n_fft // 2 + 1), [], [], []
  for power in spectral.power_batches(audio, n_fft, hop, max_frames):  # [<= max_frames, bins]
    if mel_fb is not None:
      bands.append(power @ mel_fb.T)
    total += np.sum(power, axis=0)
    energies.append(np.sum(power, axis=1))
    flatness.append(spectral.frame_flatness(power, FLATNESS_FLOOR_DB))
  energies = np.concatenate(energies)
  out = (total / len(energies), energies, np.concatenate(flatness))
  return out + (np.concatenate(bands),) if mel_fb is not None else out


@functools.lru_cache(maxsize=8)
def filterbanks(sr: int, n_fft: int):
  """(mel [64, bins], chroma [12, bins]) filterbanks of librosa (imported lazily: slow)."""
  # librosa loads only for the filterbanks (a slow import)
  import librosa  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=64)
    chroma = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0)
  # float64 like the spectra they multiply: a float32 x float64 matmul misses BLAS (300x slower)
  return mel.astype(np.float64), chroma.astype(np.float64)


def mel_frames(x: np.ndarray, sr: int, max_frames: int = 2048) -> tuple:
  """Log-mel frames of x [n], relative to their own loudest bin.

  Args:
    x: [n] finite signal.
    sr: sample rate in Hz (the frames are analysis_sizes(sr): ~93 ms, 75 % overlap).
    max_frames: frames transformed at a time (memory bound only).

  Returns:
    (frames [F, 64] in dB, 0 at the loudest bin, floored at -FLOOR_DB; loud [F] bool: frames
    whose loudest band is within LOUD_DB of it). Level-independent: a gain changes nothing.
  """
  n_fft, hop = spectral.analysis_sizes(sr)
  mel_fb, _ = filterbanks(sr, n_fft)
  bands = [power @ mel_fb.T for power in spectral.power_batches(x, n_fft, hop, max_frames)]
  return relative_db(np.concatenate(bands))   # spectral_stats' band powers, without the rest


def relative_db(mel: np.ndarray) -> tuple:
  """mel_frames of band powers mel [F, 64]: (dB relative to the loudest bin, loud [F])."""
  if not np.max(mel, initial=0.0) > 0:
    return np.full(mel.shape, -FLOOR_DB), np.zeros(len(mel), bool)
  db = 10 * np.log10(np.maximum(mel, 1e-30))
  top = float(np.max(db))
  db = np.maximum(db - top, -FLOOR_DB)
  return db, np.max(db, axis=1) > -LOUD_DB
