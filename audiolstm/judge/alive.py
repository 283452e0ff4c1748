r"""The free-running "alive" score: does a long dream keep changing the way the recording does?

A fixed model left to dream on its own often settles within a second: one steady tone or chord (a
drone), silence, or noise. The dream's scores in audiolstm.judge.evaluate are averages over a whole
file
and say little about a 20 s dream that plays for one second and then holds. This score looks at a
long dream window by window instead: WINDOW_S windows every HOP_S (a last partial window under
MIN_PART_S is dropped), each with

  flux_db       spectral flux: the mean over consecutive log-mel frames (~93 ms, hop ~23 ms) of
                the RMS dB change per band, bands floored CLIP_DB under the window's loudest
  change_db     slow change: the mean over consecutive BLOCK_S blocks of the RMS dB change per
                band of the block's mean log-mel spectrum (floored as flux_db): notes that come
                and go; frame-to-frame flicker (beating, a vocoder's phases, hiss) averages out
  onsets_per_s  note onsets per second: peaks of the onset strength (the mean rise in dB of the
                log-mel bands over ONSET_LAG_S, as librosa's) that rise ONSET_DELTA of the
                recording's whole onset-strength range above their surroundings
  flatness      spectral flatness (spectral.mean_flatness: 1 = white noise)
  level_db      RMS level relative to the recording's median window, in dB
  match_s       the longest literal match with the recording (measures.longest_match, NCC > 0.9)

and one verdict, 'alive' or the first reason it is not:

  silent  level_db more than SILENT_DB under the recording's 10th-percentile window
  noise   flatness or flux past the geometric midpoint between the recording's largest window
          value and white noise's at the recording's level (the noise anchor)
  held    change under HELD_CHANGE x the recording's 10th-percentile window change AND at most
          max(HELD_ONSETS x its 10th-percentile onset rate, one onset per window): a drone (a
          steady chord can flicker frame to frame, so flux alone does not tell it)
  copy    a literal match of COPY_S or more with the recording

Every threshold comes from the recording itself (`calibrate`): its own 4 s windows (every
REF_HOP_S) and a white-noise anchor at its level. NumPy and SciPy on evaluate's analyses; no JAX.
"""
from __future__ import annotations  # evaluate imports this module: its names resolve later

import dataclasses
import math

import numpy as np
import scipy.signal

from audiolstm.audio import features
from audiolstm.audio import spectral
from audiolstm.judge import anchors
from audiolstm.judge import measures

WINDOW_S = 4.0        # window length ...
HOP_S = 4.0           # ... and hop of a dream's windows
MIN_PART_S = 2.0      # a last partial window shorter than this is dropped
REF_HOP_S = 1.0       # the recording's own windows (its distribution) every this
LONG_S = 8.0          # files longer than this get the alive score (evaluate)
CLIP_DB = 30.0        # flux: bands floored this far under the window's loudest bin
SILENT_DB = 30.0      # silent: this far under the recording's 10th-percentile window level
BLOCK_S = 0.25        # change_db's blocks
HELD_CHANGE = 0.5     # held: change under this x the recording's 10th-percentile window change ...
HELD_ONSETS = 0.25    # ... and at most this x its 10th-percentile onset rate (or 1 per window)
COPY_S = 3.0          # copy: a literal match this long
LITERAL_NCC = 0.9     # |NCC| of a literal match (evaluate's longest_match_s)
MATCH_WINDOW_S = 0.5  # the copy machinery's windows ...
MATCH_HOP_S = 0.125   # ... and hop (as measures.score_audio's)
ONSET_DELTA = 0.07    # an onset's prominence: this x the recording's onset envelope's range
ONSET_GAP_S = 0.05    # onsets at least this far apart
ONSET_LAG_S = 0.05    # the onset strength is the rise over this time
REASONS = ('silent', 'noise', 'held', 'copy')
LETTERS = {'alive': 'A', 'silent': 'S', 'noise': 'N', 'held': 'H', 'copy': 'C'}
FEATURES = ('flux_db', 'change_db', 'onsets_per_s', 'flatness', 'level_db', 'match_s')


@dataclasses.dataclass(frozen=True)
class Calibration:
  """The thresholds of the window verdicts, all from one recording (`calibrate`)."""
  ref_level_db: float   # the recording's median window level, dBFS (level_db is relative to it)
  onset_delta: float    # the onset picker's absolute threshold (onset strength units)
  silent_db: float      # level_db (relative) under this: silent
  noise_flatness: float  # flatness over this: noise
  noise_flux_db: float  # flux over this: noise
  held_change_db: float  # change under this ...
  held_onsets: float    # ... with at most this many onsets per second: held
  copy_s: float = COPY_S  # a literal match this long: copy


def window_bounds(n: int, sr: int, hop_s: float = HOP_S) -> np.ndarray:
  """[W, 2] (start, end) samples of the WINDOW_S windows of an n-sample signal, every hop_s; the
  last may be partial, and is dropped when it is shorter than MIN_PART_S."""
  w, hop = int(round(WINDOW_S * sr)), max(1, int(round(hop_s * sr)))
  starts = np.arange(0, max(n, 0), hop)
  ends = np.minimum(starts + w, n)
  full = ends - starts >= w
  first_partial = ~full & ((starts == 0) | (starts - hop + w < n))   # not inside the one before
  keep = full | (first_partial & (ends - starts >= MIN_PART_S * sr))
  return np.stack([starts[keep], ends[keep]], axis=1).reshape(-1, 2)


def frame_span(start: int, end: int, hop: int) -> slice:
  """The analysis frames (centred on every hop-th sample) whose centres lie in [start, end)."""
  return slice(-(-start // hop), -(-end // hop))


def flux_db(frames_db: np.ndarray) -> float:
  """Spectral flux of a window: the mean over consecutive frames of the RMS (over bands) change
  in dB, bands floored CLIP_DB under the window's loudest bin.

  Args:
    frames_db: [F, bands] log-mel frames in dB (features.mel_frames).

  Returns:
    The flux in dB (>= 0); 0 for fewer than two frames.
  """
  if len(frames_db) < 2:
    return 0.0
  f = np.maximum(frames_db, np.max(frames_db) - CLIP_DB)
  return float(np.mean(np.sqrt(np.mean(np.square(np.diff(f, axis=0)), axis=1))))


def change_db(frames_db: np.ndarray, block: int) -> float:
  """Slow spectral change of a window: flux_db of the means of consecutive `block`-frame blocks
  (a last partial block dropped), bands floored CLIP_DB under the window's loudest bin first.

  Args:
    frames_db: [F, bands] log-mel frames in dB (features.mel_frames).
    block: frames per block (>= 1).

  Returns:
    The change in dB (>= 0); 0 for fewer than two blocks.
  """
  n = len(frames_db) // block
  if n < 2:
    return 0.0
  f = np.maximum(frames_db, np.max(frames_db) - CLIP_DB)[:n * block]
  return flux_db(f.reshape(n, block, -1).mean(axis=1))


def onset_envelope(frames_db: np.ndarray, lag: int) -> np.ndarray:
  """Onset strength (spectral flux onset function, as librosa.onset.onset_strength): the mean
  over bands of each band's rise in dB since `lag` frames before.

  Args:
    frames_db: [F, bands] log-mel frames in dB of a whole signal (features.mel_frames: 80 dB deep).
    lag: frames back (>= 1).

  Returns:
    [F] float64 onset strength in dB (>= 0); 0 for the first lag frames.
  """
  rise = np.maximum(frames_db[lag:] - frames_db[:-lag], 0.0) if len(frames_db) > lag else None
  env = np.zeros(len(frames_db))
  if rise is not None:
    env[lag:] = np.mean(rise, axis=1)
  return env


def onset_lag(sr: int) -> int:
  """The onset envelope's lag in analysis frames: ONSET_LAG_S (at least one frame)."""
  return max(1, int(round(ONSET_LAG_S * sr / spectral.analysis_sizes(sr)[1])))


def count_onsets(envelope: np.ndarray, sr: int, delta: float) -> int:
  """Onsets in an onset_envelope [F]: its peaks at least ONSET_GAP_S apart that rise at least
  delta above their surroundings (scipy.signal.find_peaks' prominence)."""
  gap = max(1, int(round(ONSET_GAP_S * sr / spectral.analysis_sizes(sr)[1])))
  return len(scipy.signal.find_peaks(envelope, prominence=float(delta), distance=gap)[0])


def match_seconds(x: np.ndarray, ref: measures.Reference, bounds: np.ndarray) -> np.ndarray:
  """[W] the longest literal match (|NCC| > LITERAL_NCC at one offset) of each window with the
  recording, in seconds: measures.best_matches over all of x once, measures.longest_match per
  window.

  Args:
    x: [n] finite signal.
    ref: the prepared recording (at x's rate).
    bounds: [W, 2] window_bounds of x.
  """
  sr = ref.sr
  w = min(int(round(MATCH_WINDOW_S * sr)), len(x), len(ref.audio))
  out = np.zeros(len(bounds))
  if w < 2 or not np.any(x):
    return out
  starts, ncc, _, cont = measures.best_matches(x, ref, w, max(1, int(round(MATCH_HOP_S * sr))))
  for i, (a, b) in enumerate(bounds):
    k = np.flatnonzero((starts >= a) & (starts + w <= b))
    if len(k):
      c = cont[k].copy()
      c[0] = 0.0                      # a chain starts inside the window
      out[i] = measures.longest_match(starts[k], ncc[k], c, w, LITERAL_NCC)[0] / sr
  return out


def window_features(x: np.ndarray, sr: int, bounds: np.ndarray, onset_delta: float) -> dict:
  """The signal features of each window (every FEATURES name but match_s).

  Args:
    x: [n] finite signal.
    sr: its sample rate in Hz.
    bounds: [W, 2] window_bounds of x.
    onset_delta: the onset picker's absolute threshold (Calibration.onset_delta).

  Returns:
    {'flux_db', 'change_db', 'onsets_per_s', 'flatness', 'level_db' (dBFS, -inf for silence)}:
    each [W].
  """
  x = np.asarray(x, np.float64)
  n_fft, hop = spectral.analysis_sizes(sr)
  frames, _ = features.mel_frames(x, sr)                                    # [F, 64]
  _, energy, flat = features.spectral_stats(x, n_fft, hop)                  # [F], [F]
  env = onset_envelope(frames, onset_lag(sr))                               # [F]
  block = max(1, int(round(BLOCK_S * sr / hop)))
  out = {k: np.zeros(len(bounds)) for k in FEATURES[:5]}
  for i, (a, b) in enumerate(bounds):
    span = frame_span(a, b, hop)
    out['flux_db'][i] = flux_db(frames[span])
    out['change_db'][i] = change_db(frames[span], block)
    out['onsets_per_s'][i] = count_onsets(env[span], sr, onset_delta) * sr / (b - a)
    out['flatness'][i] = spectral.mean_flatness(flat[span], energy[span])
    part = x[a:b] - np.mean(x[a:b])
    ms = float(np.mean(np.square(part)))
    out['level_db'][i] = 10 * math.log10(ms) if ms > 0 else -math.inf
  return out


def _midpoint(recording: float, noise: float) -> float:
  """The geometric midpoint of a recording's largest window value and noise's; inf when noise
  does not lie above it (the feature cannot tell noise from the recording)."""
  if not (math.isfinite(recording) and math.isfinite(noise) and noise > recording > 0):
    return math.inf
  return math.sqrt(recording * noise)


def calibrate(ref: measures.Reference) -> Calibration:
  """The verdicts' thresholds from the recording's own WINDOW_S windows (every REF_HOP_S) and a
  white-noise anchor at its level (anchors.noise_anchor, one window long).

  Args:
    ref: the prepared recording (the dreams' reference, measures.prepare_reference).

  Returns:
    The Calibration (see the module docstring for the rules).
  """
  x, sr = ref.audio, ref.sr
  env = onset_envelope(ref.features.frames_db, onset_lag(sr))
  delta = ONSET_DELTA * float(np.max(env) - np.min(env))
  bounds = window_bounds(len(x), sr, REF_HOP_S)
  if not len(bounds):                          # a recording shorter than MIN_PART_S: one window
    bounds = np.array([[0, len(x)]])
  own = window_features(x, sr, bounds, delta)
  noise = anchors.noise_anchor(x, int(round(WINDOW_S * sr)))
  wild = window_features(noise, sr, window_bounds(len(noise), sr), delta)
  finite = lambda v: v[np.isfinite(v)] if np.any(np.isfinite(v)) else np.array([math.nan])
  levels = finite(own['level_db'])
  level = float(np.median(levels))
  return Calibration(
      ref_level_db=level, onset_delta=delta,
      silent_db=float(np.percentile(levels, 10)) - level - SILENT_DB,
      noise_flatness=_midpoint(float(np.max(finite(own['flatness']))), wild['flatness'][0]),
      noise_flux_db=_midpoint(float(np.max(own['flux_db'])), wild['flux_db'][0]),
      held_change_db=HELD_CHANGE * float(np.percentile(own['change_db'], 10)),
      held_onsets=max(HELD_ONSETS * float(np.percentile(own['onsets_per_s'], 10)),
                      1.0 / WINDOW_S))


def verdict(window: dict, cal: Calibration) -> str:
  """'alive', or the first of REASONS that a window fails: window holds one value of each
  FEATURES name, level_db relative to the recording's (score_windows)."""
  if not window['level_db'] >= cal.silent_db:
    return 'silent'
  if window['flatness'] > cal.noise_flatness or window['flux_db'] > cal.noise_flux_db:
    return 'noise'
  if window['change_db'] < cal.held_change_db and window['onsets_per_s'] <= cal.held_onsets:
    return 'held'
  if window['match_s'] >= cal.copy_s:
    return 'copy'
  return 'alive'


def score_windows(x: np.ndarray, ref: measures.Reference, cal: Calibration) -> list:
  """The windows of a dream, each with its features and verdict.

  Args:
    x: [n] finite dream samples at ref.sr.
    ref: the prepared recording it is compared with (copying).
    cal: calibrate(ref).

  Returns:
    [{'start_s', 'end_s', <FEATURES> (level_db relative to the recording's), 'verdict'}], one per
    window_bounds window (empty when x is shorter than MIN_PART_S).
  """
  x = np.asarray(x, np.float64)
  sr = ref.sr
  bounds = window_bounds(len(x), sr)
  feats = window_features(x, sr, bounds, cal.onset_delta)
  feats['match_s'] = match_seconds(x, ref, bounds)
  out = []
  for i, (a, b) in enumerate(bounds):
    row = {'start_s': a / sr, 'end_s': b / sr, **{k: float(feats[k][i]) for k in FEATURES}}
    row['level_db'] -= cal.ref_level_db
    row['verdict'] = verdict(row, cal)
    out.append(row)
  return out


def summarize(windows) -> dict:
  """{'alive': the fraction of windows alive (nan without windows), 'windows': one LETTERS
  letter per window (e.g. 'AAHHN'), 'counts': {verdict: windows}}."""
  verdicts = [w['verdict'] for w in windows]
  return {'alive': verdicts.count('alive') / len(verdicts) if verdicts else math.nan,
          'windows': ''.join(LETTERS[v] for v in verdicts),
          'counts': {v: verdicts.count(v) for v in ('alive',) + REASONS if v in verdicts}}
