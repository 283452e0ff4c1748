"""Dream values to audio: raw samples as they are, fft magnitude frames through the vocoder.

`to_audio` makes a whole dream's audio; `StreamSynth` makes it piece by piece, for stream mode
(whose level chain, loudness.Loudness, sets the loudness).
"""
import functools
import math

import jax
import numpy as np

from audiolstm.audio import gate
from audiolstm.audio import spectral
from audiolstm.audio import vocoder


def magnitudes(c, values: np.ndarray, scale: float) -> np.ndarray:
  """fft dream values -> the magnitude frames the vocoder gets (both to_audio and StreamSynth).

  Args:
    c: a resolved config (magnitude_power, spectral_floor_db, use_peaks).
    values: [..., frames, seg_len] normalised (compressed) magnitudes.
    scale: the sources' spectral scale.

  Returns:
    [..., frames, seg_len] float32 magnitudes; with spectral_floor_db, only the (peak-picked, with
    use_peaks) partials within that many dB of their frame's peak.
  """
  frames = spectral.from_source_frames(values, scale, c.get('magnitude_power', 1.0))
  if c.get('spectral_floor_db', 0.0) > 0:  # weak partials go, after peak picking
    picked = np.asarray(vocoder.peaks(frames)) if c.use_peaks else frames
    frames = gate.drop_weak(picked, c.spectral_floor_db)
  return frames


def to_audio(c, values: np.ndarray, scale: float, rng: np.random.Generator,
             flatness: float = math.nan) -> np.ndarray:
  """One stream's dream values [steps * new_per_step] -> audio samples (float32).

  Raw approaches: the values are samples (scaled down if they exceed [-1, 1]; with
  spectral_floor_db, each short-time frame's bins that far below its peak are removed, and with
  spectral_floor_match that floor is the deepest tried: gate_floor). fft: the
  values are normalised magnitude frames; they are rescaled and turned into audio by the vocoder
  (with spectral_floor_db, keeping only the partials within that many dB of the frame's peak).

  Args:
    c: a resolved config (use_fft, seg_len, hop_size, use_peaks, magnitude_power,
      spectral_floor_db).
    values: [steps * new_per_step] float32 dream values in source units (fft: [frames * seg_len]
      flattened normalised magnitudes).
    scale: the fft normalisation of the sources (dataset.Sources.scale; unused for raw audio).
    rng: draws the vocoder's random start phases (fft only).
    flatness: the recording's spectral flatness (dataset.Sources.flatness), the measure of
      spectral_floor_match (raw audio only).

  Returns:
    [n] float32 audio: n = steps * new_per_step for raw audio, (frames + 1) * hop_size for fft.
  """
  if c.use_fft:
    frames = magnitudes(c, values.reshape(-1, c.seg_len), scale)
    phases = rng.uniform(0.0, 2 * np.pi, c.seg_len).astype(np.float32)
    audio = np.asarray(vocoder.vocode(frames, c.hop_size, phases, use_peaks=c.use_peaks))
    return 0.9 * audio
  audio = np.nan_to_num(values.astype(np.float32))
  if c.get('spectral_floor_db', 0.0) > 0:  # the prediction error's broadband hash goes
    audio = gate_floor(c, audio, flatness)[1]
  peak = float(np.max(np.abs(audio))) if audio.size else 0.0
  return audio * (0.99 / peak) if peak > 0.99 else audio


def gate_floor(c, audio: np.ndarray, flatness: float) -> tuple:
  """A raw dream through its spectral gate: at spectral_floor_db, or with spectral_floor_match
  > 0 at the deepest floor from there that leaves it at most spectral_floor_match x the
  recording's flatness (gate.matched_floor).

  Args:
    c: a resolved config with spectral_floor_db > 0 (sample_rate, spectral_floor_match).
    audio: [n] float32 samples.
    flatness: the recording's spectral flatness (nan: unknown, the deepest floor is used).

  Returns:
    (the floor in dB, [n] float32 gated audio).
  """
  match = c.get('spectral_floor_match', 0.0)
  if match > 0:
    return gate.matched_floor(audio, c.spectral_floor_db, c.sample_rate, match * flatness)
  return c.spectral_floor_db, gate.drop_weak_audio(audio, c.spectral_floor_db, c.sample_rate)


class StreamSynth:
  """to_audio for dream values that arrive piece by piece, for S streams at once.

  Raw approaches: the samples, through gate.DropWeakStream when spectral_floor_db is set
  (then one gate frame later; with spectral_floor_match, each stream's floor is gate_floor's on
  its first MATCH_SECONDS, so the audio starts that much later). fft: each piece's magnitude
  frames are vocoded with the frame before them, unnormalised and at their sample offset, so the
  pieces join into exactly the vocoder's sum over the whole dream (before its normalisation;
  stream mode's loudness.Loudness sets the loudness).
  """

  MATCH_SECONDS = 2.0  # spectral_floor_match: the audio each stream's floor is chosen on

  def __init__(self, c, scale: float, num_streams: int, rng: np.random.Generator,
               flatness: float = math.nan):
    """c: a resolved config; scale: the sources' spectral scale; rng: the vocoder's phases;
    flatness: the recording's spectral flatness (dataset.Sources.flatness)."""
    self.c, self.scale, self.num_streams, self.flatness = c, scale, num_streams, flatness
    floor = c.get('spectral_floor_db', 0.0)
    self.gate = self.pending = None
    self.skip = 0   # primed context samples the gate still owes (preset_floor)
    if not c.use_fft and floor > 0:
      if c.get('spectral_floor_match', 0.0) > 0:
        self.pending = np.zeros((num_streams, 0), np.float32)  # [S, m] until the floors are set
      else:
        self.gate = gate.DropWeakStream(num_streams, floor, c.sample_rate)
    if c.use_fft:
      self.phases = rng.uniform(0.0, 2 * np.pi, (num_streams, c.seg_len)).astype(np.float32)
      self.last = np.zeros((num_streams, 1, c.seg_len), np.float32)  # the frame before
      self.frames_done, self.piece_frames = 0, 1
      self._vocode = _stream_vocoder(c.hop_size, bool(c.use_peaks))

  def _vocode_after(self, frames: np.ndarray) -> np.ndarray:
    """[S, k, N] frames after self.last -> [S, k * hop] audio of their k segments."""
    hop, n = self.c.hop_size, self.c.seg_len
    start = (self.frames_done - 1) * hop      # the sample where the frame before begins
    shift = np.asarray(vocoder.phases_from_offsets(np.full(n, start), n))
    phases = np.mod(self.phases + shift, 2 * np.pi).astype(np.float32)
    y = np.asarray(self._vocode(np.concatenate([self.last, frames], axis=1), phases))
    return y[:, hop:hop * (1 + frames.shape[1])]

  def preset_floor(self, floor_db, context: np.ndarray = None) -> None:
    """Raw approaches: gate at floor_db (a number or [S]) from now on, without matching (the floors
    an earlier dream of the same run matched). `context` [S, m]: the audio just before the dream
    (its seed's end): it primes the gate, so the first samples wait one gate frame, not two;
    none of it is returned."""
    self.pending = None
    self.gate = gate.DropWeakStream(self.num_streams, floor_db, self.c.sample_rate)
    self.skip = 0
    if context is not None and context.shape[1]:
      context = np.asarray(context, np.float32)[:, -2 * self.gate.n_fft:]
      self.skip = context.shape[1] - self.gate.push(context).shape[1]

  def _gated(self, values: np.ndarray) -> np.ndarray:
    """[S, n] samples through the gate, less the primed context's samples still due."""
    out = self.gate.push(values)
    cut = min(self.skip, out.shape[1])
    self.skip -= cut
    return out[:, cut:]

  def push(self, values: np.ndarray) -> np.ndarray:
    """[S, steps * new_per_step] dream values -> [S, m] audio (m may be 0 with a gate)."""
    values = np.nan_to_num(np.asarray(values, np.float32))
    if self.pending is not None:
      return self._match(values, final=False)
    if not self.c.use_fft:
      return values if self.gate is None else self._gated(values)
    frames = magnitudes(self.c, values.reshape(len(values), -1, self.c.seg_len), self.scale)
    audio = self._vocode_after(frames)
    self.last, self.frames_done = frames[:, -1:], self.frames_done + frames.shape[1]
    self.piece_frames = frames.shape[1]
    return audio

  def _match(self, values: np.ndarray, final: bool) -> np.ndarray:
    """spectral_floor_match: hold [S, n] samples until MATCH_SECONDS (or `final`), then choose
    each stream's floor on them, start the gate and return what it gives ([S, m], m may be 0)."""
    self.pending = np.concatenate([self.pending, values], axis=1)
    if self.pending.shape[1] < self.MATCH_SECONDS * self.c.sample_rate and not final:
      return self.pending[:, :0]
    floors = [gate_floor(self.c, row, self.flatness)[0] for row in self.pending]
    self.gate = gate.DropWeakStream(self.num_streams, np.asarray(floors), self.c.sample_rate)
    held, self.pending = self.pending, None
    return self.gate.push(held)

  def flush(self) -> np.ndarray:
    """[S, m] the rest: the gate's held samples, or the fft dream's fade-out segment."""
    if self.pending is not None:
      head = self._match(np.zeros((self.num_streams, 0), np.float32), final=True)
      return np.concatenate([head, self.gate.flush()], axis=1)
    if not self.c.use_fft:
      return np.zeros((self.num_streams, 0), np.float32) if self.gate is None else (
          self.gate.flush())
    silent = np.zeros((self.num_streams, self.piece_frames, self.c.seg_len), np.float32)
    return self._vocode_after(silent)[:, :self.c.hop_size]   # a piece's shape: no compilation


@functools.lru_cache(maxsize=8)
def _stream_vocoder(hop_size: int, use_peaks: bool):
  """The jitted vocoder of StreamSynth, vmapped over streams: [S, T, N] frames, [S, N] phases ->
  [S, (T + 1) * hop] unnormalised audio. One per setting, so that the StreamSynth of each re-seed
  reuses its compilation."""
  return jax.jit(jax.vmap(lambda frames, phases: vocoder.vocode(
      frames, hop_size, phases, use_peaks=use_peaks, normalise=False)))
