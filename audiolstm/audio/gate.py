"""The dream gate: weak spectral content of a dream is dropped, frame by frame
(`drop_weak`, `drop_weak_audio`), at a floor matched to the recording (`matched_floor`), or
block by block on a stream (`DropWeakStream`).
"""
from __future__ import annotations

import math

import numpy as np

from audiolstm.audio import spectral


def drop_weak(frames: np.ndarray, floor_db: float) -> np.ndarray:
  """Zeroes each frame's weak values (the model's low-level hash would become audible partials).

  Args:
    frames: [frames, bins] magnitudes.
    floor_db: how far below its frame's largest value a value may lie, in dB (> 0).

  Returns:
    [frames, bins] float32: `frames` with every value more than `floor_db` dB below its frame's
    largest set to 0.
  """
  frames = np.asarray(frames)
  top = np.max(frames, axis=-1, keepdims=True)
  return np.where(frames >= top * 10.0 ** (-floor_db / 20.0), frames, 0.0).astype(np.float32)


def _gate_frame(sample_rate: int) -> int:
  """The frame length of drop_weak_audio: the power of 2 nearest 46 ms."""
  return 2 ** int(round(np.log2(0.046 * sample_rate)))


def drop_weak_audio(audio: np.ndarray, floor_db, sample_rate: int) -> np.ndarray:
  """Audio with each short-time frame's weak bins removed: `drop_weak` for raw-audio dreams.

  A Hann STFT of about 46 ms frames (512 at 11025 Hz) with 75 % overlap; the bins more than
  `floor_db` dB below their frame's largest are zeroed and the rest resynthesised by overlap-add
  (scipy.signal.istft), so a model's broadband prediction error under its notes goes while the
  notes stay.

  Args:
    audio: [..., n] float32 samples (each row on its own).
    floor_db: how far below its frame's largest a bin may lie, in dB (> 0): one number, or [...]
      one per row of audio (or [K] for one row: K gated versions from one STFT).
    sample_rate: the audio's rate in Hz (sets the frame length).

  Returns:
    [..., n] float32 audio ([K, n] for one row and K floors; unchanged when shorter than one
    frame).
  """
  import scipy.signal  # pylint: disable=g-import-not-at-top  # only dreams need it
  x = np.asarray(audio, np.float32)
  n_fft = _gate_frame(sample_rate)
  if x.shape[-1] < n_fft:
    return x
  overlap = 3 * n_fft // 4
  _, _, z = scipy.signal.stft(x, nperseg=n_fft, noverlap=overlap)       # [..., bins, frames]
  floors = np.asarray(floor_db, np.float64)[..., None, None]            # [..., 1, 1]
  kept = drop_weak(np.abs(z).swapaxes(-1, -2), floors).swapaxes(-1, -2) > 0
  _, y = scipy.signal.istft(z * kept, nperseg=n_fft, noverlap=overlap)
  y = np.asarray(y[..., :x.shape[-1]], np.float32)
  return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, x.shape[-1] - y.shape[-1])])


MATCH_STEP_DB = 5.0         # matched_floor tries the floors deepest_db, deepest_db - 5, ...
MATCH_SHALLOWEST_DB = 10.0  # ... down to this one


def matched_floor(audio: np.ndarray, deepest_db: float, sample_rate: int,
                  target: float) -> tuple:
  """The deepest gate that leaves a dream no more noise-like than `target`: drop_weak_audio at
  deepest_db, deepest_db - MATCH_STEP_DB, ... down to MATCH_SHALLOWEST_DB, the first whose
  result's `flatness` is at most `target` (the shallowest when none is).

  A model's prediction error is a hiss of about the same level on every recording, while
  recordings differ in how much noise they hold themselves (a piano's hammers and dense partials,
  a guitar's clean ones): a fixed floor thins the one or leaves hiss on the other.

  Args:
    audio: [n] float32 samples (one dream).
    deepest_db: the deepest floor tried, in dB (> 0).
    sample_rate: the audio's rate in Hz.
    target: the flatness wanted (e.g. 2 x the recording's); nan: the deepest floor.

  Returns:
    (the floor chosen in dB, [n] float32 the audio gated at it).
  """
  floors = np.arange(deepest_db, MATCH_SHALLOWEST_DB - 1e-9, -MATCH_STEP_DB)
  floors = floors if len(floors) and math.isfinite(target) else np.array([deepest_db])
  x = np.asarray(audio, np.float32)
  gated = np.broadcast_to(drop_weak_audio(x, floors, sample_rate), (len(floors), len(x)))  # [K, n]
  for floor, y in zip(floors, gated):
    if not spectral.flatness(y, sample_rate) > target:  # quiet enough, or silent (nan)
      return float(floor), y
  return float(floors[-1]), gated[-1]


class DropWeakStream:
  """drop_weak_audio on audio that arrives in pieces, for S streams at once: exactly the samples
  drop_weak_audio gives on the whole, one frame (about 46 ms) later.

  Each push gates the new audio with one frame of context on both sides, on the same frame grid
  as the whole (its start is kept a multiple of the hop), and returns the samples that no later
  audio can change. Memory stays at about two frames per stream.
  """

  def __init__(self, num_streams: int, floor_db, sample_rate: int):
    """floor_db: drop_weak_audio's, one number or [num_streams] one per stream."""
    self.floor_db, self.sample_rate = floor_db, sample_rate
    self.n_fft = _gate_frame(sample_rate)
    self.hop = self.n_fft // 4
    self.buf = np.zeros((num_streams, 0), np.float32)  # [S, m] the input from sample self.start
    self.start = 0   # stream sample index of buf[:, 0]
    self.done = 0    # samples returned so far

  def push(self, x: np.ndarray) -> np.ndarray:
    """[S, n] new samples -> [S, m] gated samples that are final (m may be 0)."""
    self.buf = np.concatenate([self.buf, np.asarray(x, np.float32)], axis=1)
    end = self.start + self.buf.shape[1]
    final = end - self.n_fft        # frames reaching past `end` would change the later samples
    if final <= self.done or end < 2 * self.n_fft:
      return self.buf[:, :0]
    out = drop_weak_audio(self.buf, self.floor_db, self.sample_rate)
    out = out[:, self.done - self.start:final - self.start]
    self.done = final
    keep = max(0, (final - self.n_fft) // self.hop * self.hop)
    self.buf, self.start = self.buf[:, keep - self.start:], keep
    return out

  def flush(self) -> np.ndarray:
    """[S, m] the rest, gated as the end of the whole would be."""
    out = drop_weak_audio(self.buf, self.floor_db, self.sample_rate)[:, self.done - self.start:]
    self.done = self.start + self.buf.shape[1]
    return out
