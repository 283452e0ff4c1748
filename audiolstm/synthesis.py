"""Dream values to audio: raw samples as they are, fft magnitude frames through the vocoder."""
import numpy as np

from audiolstm import spectral
from audiolstm import vocoder


def to_audio(c, values: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
  """One stream's dream values [steps * new_per_step] -> audio samples (float32).

  Raw approaches: the values are samples (scaled down if they exceed [-1, 1]; with
  spectral_floor_db, each short-time frame's bins that far below its peak are removed). fft: the
  values are normalised magnitude frames; they are rescaled and turned into audio by the vocoder
  (with spectral_floor_db, keeping only the partials within that many dB of the frame's peak).

  Args:
    c: a resolved config (use_fft, seg_len, hop_size, use_peaks, magnitude_power,
      spectral_floor_db).
    values: [steps * new_per_step] float32 dream values in source units (fft: [frames * seg_len]
      flattened normalised magnitudes).
    scale: the fft normalisation of the sources (dataset.Sources.scale; unused for raw audio).
    rng: draws the vocoder's random start phases (fft only).

  Returns:
    [n] float32 audio: n = steps * new_per_step for raw audio, (frames + 1) * hop_size for fft.
  """
  if c.use_fft:
    frames = spectral.from_source_frames(values.reshape(-1, c.seg_len), scale,
                                         c.get('magnitude_power', 1.0))
    if c.get('spectral_floor_db', 0.0) > 0:  # weak partials go, after peak picking
      picked = np.asarray(vocoder.peaks(frames)) if c.use_peaks else frames
      frames = spectral.drop_weak(picked, c.spectral_floor_db)
    phases = rng.uniform(0.0, 2 * np.pi, c.seg_len).astype(np.float32)
    audio = np.asarray(vocoder.vocode(frames, c.hop_size, phases, use_peaks=c.use_peaks))
    return 0.9 * audio
  audio = np.nan_to_num(values.astype(np.float32))
  if c.get('spectral_floor_db', 0.0) > 0:  # the prediction error's broadband hash goes
    audio = spectral.drop_weak_audio(audio, c.spectral_floor_db, c.sample_rate)
  peak = float(np.max(np.abs(audio))) if audio.size else 0.0
  return audio * (0.99 / peak) if peak > 0.99 else audio
