"""Synthesise the bundled default recording audiolstm/data/default.wav.

A short plucked-string piece in C major (8 bars at 96 bpm = 20 s, 11025 Hz, mono, 16-bit PCM): a
melody over a I-vi-IV-V bass line, ending on a rolled C major chord. Each note is additive
synthesis of slightly inharmonic partials (string stiffness), with a pluck-position spectrum,
frequency-dependent decay (high partials die first, like a real string), a short raised-cosine
attack ramp (no clicks) and a release damping after the note's written length, so consecutive
notes overlap while they decay.

Deterministic (fixed seed), numpy + stdlib only. Run:

  python -m audiolstm.data.make_default_audio [--out PATH]
"""

from __future__ import annotations

import argparse
import os
import wave

import numpy as np

SAMPLE_RATE = 11025
DURATION_S = 20.0
TEMPO_BPM = 96.0  # 8 bars of 4/4 at 96 bpm = 20 s exactly
PEAK_DBFS = -1.0
SEED = 20240611

BEAT_S = 60.0 / TEMPO_BPM

# Melody: (start beat, length in beats, MIDI note); the velocity follows from the beat (see
# score). C major, one chord per bar: C | Am | F | G | C | Am | F G | C.
_MELODY_BARS = [
    # bar 1 (C)
    [(0, 1, 76), (1, 0.5, 79), (1.5, 0.5, 76), (2, 1, 72), (3, 0.5, 74), (3.5, 0.5, 76)],
    # bar 2 (Am)
    [(0, 1, 72), (1, 1, 69), (2, 1.5, 76), (3.5, 0.5, 74)],
    # bar 3 (F)
    [(0, 0.5, 69), (0.5, 0.5, 72), (1, 1, 77), (2, 0.5, 76), (2.5, 0.5, 74), (3, 1, 72)],
    # bar 4 (G)
    [(0, 1.5, 74), (1.5, 0.5, 71), (2, 2, 67)],
    # bar 5 (C)
    [(0, 0.5, 76), (0.5, 0.5, 77), (1, 1, 79), (2, 0.5, 79), (2.5, 0.5, 81), (3, 1, 79)],
    # bar 6 (Am)
    [(0, 1, 76), (1, 1, 72), (2, 1, 69), (3, 0.5, 72), (3.5, 0.5, 71)],
    # bar 7 (F, G)
    [(0, 1, 69), (1, 1, 77), (2, 1, 74), (3, 1, 71)],
    # bar 8 (C): final note, chord rolled in below
    [(0, 4, 72)],
]

# Bass: (bar, beat, length in beats, MIDI note)
# fmt: off
_BASS = [
    (0, 0, 2, 48), (0, 2, 2, 55),
    (1, 0, 4, 45),
    (2, 0, 2, 41), (2, 2, 2, 48),
    (3, 0, 4, 43),
    (4, 0, 2, 48), (4, 2, 2, 52),
    (5, 0, 4, 45),
    (6, 0, 2, 41), (6, 2, 2, 43),
    (7, 0, 4, 36),
]
# fmt: on


def midi_to_hz(m: float) -> float:
  """Frequency in Hz of MIDI note `m` (equal temperament, A4 = 69 = 440 Hz)."""
  return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def score() -> list[tuple[float, float, float, float, str]]:
  """The piece's notes, melody and bass, in onset order.

  Returns:
    A list of (onset_s, held_s, freq_hz, velocity, voice) float tuples, voice 'melody' or 'bass';
    onsets are in seconds from the start (the first at 50 ms), with a little deterministic
    timing and velocity jitter on the melody.
  """
  rng = np.random.default_rng(SEED)
  notes = []
  for bar, events in enumerate(_MELODY_BARS):
    for beat, length, midi in events:
      vel = 0.85 if beat == 0 else (0.75 if beat == 2 else 0.62)
      vel *= 1.0 + 0.08 * rng.uniform(-1, 1)
      jitter = 0.008 * rng.uniform(-1, 1) if (bar, beat) != (0, 0) else 0.0
      onset = (4 * bar + beat) * BEAT_S + jitter + 0.05
      notes.append((onset, length * BEAT_S, midi_to_hz(midi), vel, 'melody'))
  for bar, beat, length, midi in _BASS:
    vel = 0.7 if beat == 0 else 0.55
    onset = (4 * bar + beat) * BEAT_S + 0.05
    notes.append((onset, length * BEAT_S, midi_to_hz(midi), vel, 'bass'))
  # final rolled chord under the last melody note (E4 G4 on top of the bass C)
  end = 7 * 4 * BEAT_S + 0.05
  for i, midi in enumerate((64, 67)):
    notes.append((end + 0.035 * (i + 1), 4 * BEAT_S, midi_to_hz(midi), 0.5, 'melody'))
  notes.sort(key=lambda n: n[0])
  return notes


def pluck(
    freq: float, held_s: float, vel: float, voice: str, sr: int, rng: np.random.Generator
) -> np.ndarray:
  """One plucked note: decaying inharmonic partials, vectorised over partials x time.

  Args:
    freq: fundamental frequency in Hz.
    held_s: the note's written length in seconds (the release damping starts after it).
    vel: velocity, the note's peak gain.
    voice: 'melody' or 'bass' (stiffness, pluck position and decay differ).
    sr: sample rate in Hz.
    rng: draws the partials' start phases.

  Returns:
    [n] float64 samples, n = min(held_s + 1.2, 4) * sr: the note with its decay and fades.
  """
  inharm = 1.2e-4 if voice == 'melody' else 0.6e-4
  pluck_pos = 0.17 if voice == 'melody' else 0.23
  max_f = 0.42 * sr
  k = np.arange(1, 40, dtype=np.float64)
  fk = k * freq * np.sqrt(1.0 + inharm * k * k)
  k, fk = k[fk < max_f], fk[fk < max_f]
  amp = np.abs(np.sin(np.pi * k * pluck_pos)) / k ** (1.1 if voice == 'melody' else 1.4)
  amp /= amp.sum()
  alpha = 1.6 + 0.0045 * fk + 1.6e-6 * fk * fk  # per-partial decay rate, 1/s
  release = 7.0 if voice == 'melody' else 5.0  # extra damping after held_s

  n = int(min(held_s + 1.2, 4.0) * sr)
  t = np.arange(n) / sr
  phase = rng.uniform(0, 2 * np.pi, size=k.size)
  env = np.exp(-np.outer(alpha, t))  # (K, n)
  osc = np.sin(2 * np.pi * np.outer(fk, t) + phase[:, None])
  y = (amp[:, None] * env * osc).sum(axis=0)
  y *= np.exp(-release * np.maximum(t - held_s, 0.0))

  attack = int(0.005 * sr)  # 5 ms raised-cosine attack
  y[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
  tail = int(0.03 * sr)  # fade the (already tiny) tail
  y[-tail:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(tail) / tail)
  return vel * y


def synthesize(sr: int = SAMPLE_RATE, duration_s: float = DURATION_S) -> np.ndarray:
  """Renders the whole piece (`score`), deterministically.

  Args:
    sr: sample rate in Hz.
    duration_s: length in seconds; notes past it are cut off.

  Returns:
    [round(duration_s * sr)] float64 mono samples: no DC offset, faded in over 40 ms and out over
    the last 0.25 s, peak at PEAK_DBFS.
  """
  n_total = int(round(duration_s * sr))
  out = np.zeros(n_total, dtype=np.float64)
  rng = np.random.default_rng(SEED + 1)
  for onset, held, freq, vel, voice in score():
    y = pluck(freq, held, vel, voice, sr, rng)
    start = int(round(onset * sr))
    stop = min(start + y.size, n_total)
    if stop > start:
      out[start:stop] += y[: stop - start]
  out -= out.mean()  # no DC offset
  lead = int(0.04 * sr)  # start exactly at 0 (first note at 50 ms)
  out[:lead] *= np.linspace(0.0, 1.0, lead)
  fade = int(0.25 * sr)  # gentle fade at the very end
  out[-fade:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(fade) / fade)
  out *= 10.0 ** (PEAK_DBFS / 20.0) / np.max(np.abs(out))
  return out


def write_pcm16(path: str, audio: np.ndarray, sr: int) -> None:
  """Writes [n] float samples in [-1, 1] to `path` as a mono 16-bit PCM WAV at `sr` Hz."""
  pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype('<i2')
  d = os.path.dirname(os.path.abspath(path))
  os.makedirs(d, exist_ok=True)
  with wave.open(path, 'wb') as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(sr)
    w.writeframes(pcm.tobytes())


def main(argv: list[str] | None = None) -> str:
  """Command line: synthesises the piece and writes it to --out (default: the bundled path).

  Args:
    argv: the arguments after the program name (None: sys.argv[1:]).

  Returns:
    The path written.
  """
  default_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'default.wav')
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--out', default=default_out, help=f'output WAV path (default: {default_out})')
  args = p.parse_args(argv)
  audio = synthesize()
  write_pcm16(args.out, audio, SAMPLE_RATE)
  print(
      f'wrote {args.out}: {audio.size / SAMPLE_RATE:.1f} s, {SAMPLE_RATE} Hz, '
      f'peak {20 * np.log10(np.max(np.abs(audio))):.2f} dBFS'
  )
  return args.out


if __name__ == '__main__':
  main()
