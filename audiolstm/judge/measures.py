"""The scores of one dream against its recording: artifacts, resemblance, novelty and flags
(`score_audio`), each a vectorized NumPy feature of the signal (see audiolstm.judge.evaluate for
the table of what each measures).
"""
import dataclasses
import math
import warnings

import numpy as np
import scipy.fft

from audiolstm.audio import features
from audiolstm.audio import spectral

SILENT_PEAK = 1e-4       # peak |x| below this (about -80 dBFS, 3 LSB of 16 bits): silent
FROZEN_STEP = 1e-5       # |first difference| below this: the waveform does not move
CONSTANT_FRACTION = 0.9  # ... for this fraction of the samples: constant
CLIP_LEVEL = 0.999       # |x| at or above this is full scale ...
CLIP_RUN = 3             # ... and this many full-scale samples in a row: clipped
CLICK_GAP_S = 0.005      # threshold crossings closer than this are one click
MOTION_LAGS_S = (0.05, 0.1, 0.2, 0.3, 0.5)   # lags of the motion curve
STASIS_HIGH = 0.1        # stasis this far over real playing's: resemblance at most Medium
STASIS_LOW = 0.4         # ... this far: Low (a drone)
LOOP_LAG_S = 1.0         # loop: each window is compared with the dream this much later ...
LOOP_WINDOW_S = 0.5      # ... in windows this long, every LOOP_HOP_S ...
LOOP_HOP_S = 0.25
LOOP_SEARCH_S = 0.025    # ... at the best shift within this either way (any waveform's phase)
LOOP_QUIET_DB = 40.0     # windows this far under the dream's loudest do not count
ROW_LOCK_WINDOW_S = 0.25  # row lock: windows this long (every half window) ...
ROW_LOCK_ROWS = 4         # ... against the audio 1 to this many rows later:
ROW_LOCK_NCC = 0.98       # a window that repeats at least this closely is locked ...
LOCKED_FRACTION = 0.5     # ... and a dream with at least this fraction of them is flagged
MOTION_EXCERPTS = 8      # reference excerpts of a dream's length for its motion curve
MOTION_PAIR_FRAMES = 1500  # frames used for the mean distance of any two frames
NEAREST_FRAMES = 6000    # reference frames searched for the nearest (about 2 min at 11025 Hz)


@dataclasses.dataclass(frozen=True)
class Score:
  """One column of the score table: name, criterion, better direction, meaning."""
  name: str
  criterion: str   # 'artifacts' | 'resemblance' | 'novelty' | 'info' | 'flag'
  better: str      # 'lower' | 'higher' | '' (information only) | 'false' (flags)
  short: str       # column header of the printed table
  doc: str


SCORES = (
    Score('duration_s', 'info', '', 'dur s', 'Length of the dream in seconds.'),
    Score('level_db', 'info', '', 'level', 'RMS level (DC removed) of the dream relative to the '
          'input, in dB (0 = as loud; very negative = nearly silent; -inf = no sound at all).'),
    Score('discontinuity', 'artifacts', 'lower', 'discont',
          'Discontinuity energy: mean squared first difference over mean square (level-'
          'independent), dream / input. ~1 = as smooth as the input; well above 1 = jumps, '
          'crackle or hiss; lower is better (far below 1 = muffled).'),
    Score('clicks_per_s', 'artifacts', 'lower', 'clicks/s',
          'Clicks per second: sample-to-sample jumps larger than 2 x the 99.9th percentile of '
          'the input\'s |first difference|, crossings within 5 ms counted as one event. Lower is '
          'better; 0 = no jump the input would not make.'),
    Score('flatness_ratio', 'artifacts', 'lower', 'flat',
          'Spectral flatness (geometric / arithmetic mean of the power spectrum, mean over '
          'non-silent frames), dream / input. ~1 = as tonal as the input; well above 1 = '
          'noise-like (white noise: ~0.56 / the input\'s flatness). Lower is better.'),
    Score('spectral_distance_db', 'resemblance', 'lower', 'spec dB',
          'RMS difference in dB between the level-normalised average mel spectra (64 bands) of '
          'dream and input. Lower = the dream sounds more like the input (timbre, register); '
          'a few dB is close, 20+ dB is a different sound.'),
    Score('chroma_distance', 'resemblance', 'lower', 'chroma',
          'Total-variation distance (0..1) between the energy-weighted 12-pitch-class histograms '
          '(chroma) of dream and input. Lower = same notes / key; 0 = identical distribution.'),
    Score('frame_distance_db', 'resemblance', 'lower', 'frame dB',
          'Timbre: mean over the dream\'s frames (93 ms, within 50 dB of its loudest) of the RMS '
          'dB distance of its log-mel spectrum to the nearest frame of the input, each signal '
          'relative to its own loudest bin. Length-independent; the unseen tail of the recording '
          'shows what real new playing scores; noise scores 20 dB and more.'),
    Score('motion_excess', 'resemblance', 'lower', 'motion',
          'Temporal structure: how much faster the dream\'s sound changes than the input\'s, '
          'over 0.05-0.5 s: the mean over those lags of max(0, ln(r_dream / r_input)), r being '
          'the mean log-mel distance of frames that far apart over that of any two frames. 0 = '
          'notes hold and move like the input\'s; shuffled 0.1 s grains score ~0.3-0.8, noise '
          'more.'),
    Score('stasis', 'resemblance', 'lower', 'stasis',
          'Temporal structure, the other way: how much slower the dream\'s sound changes than '
          'the input\'s over 0.05-0.5 s (mean of max(0, ln(r_input / r_dream)) over the lags). '
          '0 = it moves as much as the input; a drone that holds one sound scores 0.3 and more. '
          'Judged against the unseen tail\'s and a literal excerpt\'s own stasis.'),
    Score('loop', 'resemblance', 'lower', 'loop',
          'Waveform repetition: the median over the dream\'s 0.5 s windows (every 0.25 s) of the '
          'best |normalised cross-correlation| with the dream 1 s later, at any shift within '
          '25 ms. Near 0 = a second later the waveform is new, as in playing; near 1 = one '
          'waveform repeats (a held buzz, such as a vector dream that repeats its last row). '
          'Compare it with the unseen tail\'s and the excerpt\'s own loop (not a verdict rule).'),
    Score('row_lock', 'artifacts', 'lower', 'lock',
          'Vector runs only (nan for the other approaches): the fraction of the dream\'s loud '
          f'0.25 s windows that repeat themselves (NCC >= {ROW_LOCK_NCC:g}) one to '
          f'{ROW_LOCK_ROWS} rows of seg_len samples later: a dream settled into one row, or a '
          'short cycle of rows, played over and over, a buzz at sample_rate / seg_len Hz and its '
          'harmonics whatever the recording\'s notes. Real playing scores about 0 (the anchors of '
          'fourteen recordings: at most 0.013); 0 is best.'),
    Score('max_ncc', 'novelty', 'lower', 'ncc',
          'Best |normalised cross-correlation| (0..1) between any 0.5 s window of the dream and '
          'any stretch of the training audio. ~1 = that window is a literal copy; lower = more '
          'novel (but near 0 together with a large spectral distance is simply unrelated).'),
    Score('longest_match_s', 'novelty', 'lower', 'match s',
          'Longest stretch (seconds) of the dream that copies the input: consecutive 0.5 s '
          'windows (hop 0.125 s) with NCC > 0.9 that continue at the same offset in the input. '
          '0 = no literal match of 0.5 s or longer; lower is better.'),
    Score('copied_s', 'novelty', 'lower', 'copied s',
          'Calibrated copying: the longest stretch (seconds) matching the training audio at one '
          'offset more closely (NCC) than the recording\'s own unseen tail ever does (with no '
          'unseen tail: than 0.9). 0 = no window copies more closely than real new playing.'),
    Score('match_at_s', 'info', '', 'at s',
          'Where in the training audio (seconds) the dream matches best: the start of the '
          'longest literal match if there is one, else of the best-matching window.'),
    Score('silent', 'flag', 'false', 'silent', f'Peak |sample| below {SILENT_PEAK:g} (-80 dBFS).'),
    Score('constant', 'flag', 'false', 'constant',
          f'The waveform does not move (|first difference| < {FROZEN_STEP:g}) for at least '
          f'{CONSTANT_FRACTION:.0%} of the samples: a DC offset, silence or a stuck dream.'),
    Score('clipped', 'flag', 'false', 'clipped',
          f'{CLIP_RUN} or more samples in a row at full scale (|x| >= {CLIP_LEVEL:g}).'),
    Score('locked', 'flag', 'false', 'locked',
          f'row_lock >= {LOCKED_FRACTION:g}: at least half of the dream is one row (or a cycle '
          f'of up to {ROW_LOCK_ROWS}) repeated, a buzz at the row rate (vector runs only).'),
    Score('nan', 'flag', 'false', 'nan', 'Non-finite samples (NaN/inf) in the file or after '
          'decoding (the other scores are computed with them set to 0).'),
)
SCORE_NAMES = tuple(s.name for s in SCORES)
FLAG_NAMES = tuple(s.name for s in SCORES if s.criterion == 'flag')


@dataclasses.dataclass(frozen=True)
class _Features:
  """Level-independent summary statistics of one signal."""
  mean_square: float        # [] of the signal
  rough: float              # [] mean squared first difference / mean square (nan if silent)
  flatness: float           # [] mean spectral flatness of the non-silent frames (nan if none)
  mel_db: np.ndarray        # [64] average mel power spectrum, normalised to sum 1, in dB
  chroma: np.ndarray        # [12] energy-weighted chroma histogram (sums to 1; zeros if silent)
  frames_db: np.ndarray     # [F, 64] log-mel frames in dB below the loudest bin, floored
  loud: np.ndarray          # [F] bool: frames within LOUD_DB of the loudest frame
  motion: np.ndarray        # [len(MOTION_LAGS_S)] frame change at each lag / mean pair distance


def _features(x: np.ndarray, sr: int) -> _Features:
  """Summary statistics of a finite signal x [n] at sample rate sr."""
  n_fft, hop = spectral.analysis_sizes(sr)
  x = x - np.mean(x) if len(x) else x
  ms = float(np.mean(np.square(x))) if len(x) else 0.0
  rough = float(np.mean(np.square(np.diff(x))) / ms) if ms > 0 and len(x) > 1 else math.nan
  mel_fb, chroma_fb = features.filterbanks(sr, n_fft)
  mean_power, energy, frame_flatness, mel_power = features.spectral_stats(x, n_fft, hop,
                                                                          mel_fb=mel_fb)
  flatness = spectral.mean_flatness(frame_flatness, energy)  # over the loud frames
  mel = mel_fb @ mean_power                                    # [64]
  if np.sum(mel) > 0:
    mel = mel / np.sum(mel)
    mel_db = 10 * np.log10(np.maximum(mel, 1e-8 * np.max(mel)))
  else:
    mel_db = np.full_like(mel, math.nan)
  chroma = chroma_fb @ mean_power                              # [12]
  chroma = chroma / np.sum(chroma) if np.sum(chroma) > 0 else np.zeros_like(chroma)
  frames_db, loud = features.relative_db(mel_power)
  return _Features(mean_square=ms, rough=rough, flatness=flatness, mel_db=mel_db, chroma=chroma,
                   frames_db=frames_db, loud=loud, motion=motion_curve(frames_db, hop, sr))


def _sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[A, B] mean squared difference per band between the rows of a [A, D] and b [B, D]."""
  d2 = np.sum(np.square(a), 1)[:, None] + np.sum(np.square(b), 1)[None, :] - 2.0 * (a @ b.T)
  return np.maximum(d2, 0.0) / a.shape[1]


def _subsample(frames: np.ndarray, n: int) -> np.ndarray:
  """At most n rows of frames, evenly spaced (deterministic)."""
  return frames if len(frames) <= n else frames[np.linspace(0, len(frames) - 1, n).astype(int)]


def motion_curve(frames_db: np.ndarray, hop: int, sr: int) -> np.ndarray:
  """How fast the sound changes: at each lag of MOTION_LAGS_S, the mean RMS dB difference of
  frames that far apart, over the mean difference of any two frames of the signal.

  Args:
    frames_db: [F, 64] log-mel frames (mel_frames).
    hop, sr: their hop and the sample rate.

  Returns:
    [len(MOTION_LAGS_S)]: ~1 = frames that far apart are as unrelated as any two (noise, shuffled
    grains); small = the sound holds (notes sustain); nan where the signal is too short.
  """
  some = _subsample(frames_db, MOTION_PAIR_FRAMES)
  overall = float(np.mean(np.sqrt(_sq_distances(some, some))))
  out = np.full(len(MOTION_LAGS_S), math.nan)
  for i, lag_s in enumerate(MOTION_LAGS_S):  # a handful of lags, each vectorized over frames
    k = max(1, int(round(lag_s * sr / hop)))
    if len(frames_db) > k and overall > 0:
      diff = np.sqrt(np.mean(np.square(frames_db[k:] - frames_db[:-k]), axis=1))
      out[i] = float(np.mean(diff)) / overall
  return out


def motion_excess(motion: np.ndarray, reference: np.ndarray, sign: float = 1.0) -> float:
  """Mean over the lags of max(0, ln(motion / reference motion)): 0 = the dream's sound changes
  no faster than the input's at 0.05-0.5 s; ~0.4 and more = like shuffled grains or noise.
  With sign -1, the deficit instead: mean of max(0, ln(reference / motion)), 0 = it changes no
  slower (a drone that never moves scores high).

  Args:
    motion: [len(MOTION_LAGS_S)] the dream's motion curve (motion_curve).
    reference: [len(MOTION_LAGS_S)] the reference's at the dream's length (Reference.motion).
    sign: 1.0 for the excess (motion_excess), -1.0 for the deficit (stasis).

  Returns:
    The mean (>= 0) over the lags where both curves are finite and positive; nan when none is.
  """
  ok = np.isfinite(motion) & np.isfinite(reference) & (reference > 0) & (motion > 0)
  if not np.any(ok):
    return math.nan
  return float(np.mean(np.maximum(0.0, sign * np.log(motion[ok] / reference[ok]))))


def frame_distance(frames_db: np.ndarray, loud: np.ndarray, reference: np.ndarray) -> float:
  """Mean over the dream's loud frames of the RMS dB distance to the nearest reference frame
  (all [F, 64] log-mel, mel_frames); nan when no frame is loud.

  Args:
    frames_db: [F, 64] the dream's log-mel frames in dB (mel_frames).
    loud: [F] bool: the frames that count (mel_frames).
    reference: [R, 64] the reference's log-mel frames (NEAREST_FRAMES of them, evenly spaced,
      are searched when R is larger).

  Returns:
    The mean distance in dB; nan when no frame is loud.
  """
  if not np.any(loud):
    return math.nan
  ref = _subsample(reference, NEAREST_FRAMES)
  frames = frames_db[loud]
  best = np.concatenate([np.min(_sq_distances(frames[b:b + 512], ref), axis=1)
                         for b in range(0, len(frames), 512)])
  return float(np.mean(np.sqrt(best)))


# ----------------------------------------------------------------------------- the reference


@dataclasses.dataclass
class Reference:
  """The training audio and everything about it that scoring many dreams reuses.

  Make it once with `prepare_reference` and pass it to `score_audio` in place of the array.
  """
  audio: np.ndarray          # [N] float64, finite
  sr: int
  features: _Features
  click_threshold: float     # |first difference| above this is a click
  _cumsum: np.ndarray        # [N + 1] running sum of audio
  _cumsum2: np.ndarray       # [N + 1] running sum of audio^2
  _spectra: dict = dataclasses.field(default_factory=dict)   # FFT size -> rfft of audio
  _motions: dict = dataclasses.field(default_factory=dict)   # frames -> motion curve

  def motion(self, num_frames: int) -> np.ndarray:
    """The reference's motion curve at a signal length of num_frames frames (cached): the mean
    curve of MOTION_EXCERPTS evenly spaced excerpts that long, so that a short dream is compared
    with equally short stretches of the input (a short stretch holds fewer different sounds,
    which raises its curve).

    Args:
      num_frames: the dream's frame count F (clipped to 2 .. the reference's frames).

    Returns:
      [len(MOTION_LAGS_S)] float64 mean motion curve (nan at lags no excerpt is long enough for).
    """
    frames = self.features.frames_db
    n = int(min(max(num_frames, 2), len(frames)))
    if n not in self._motions:
      starts = np.unique(np.linspace(0, len(frames) - n, MOTION_EXCERPTS).astype(int))
      hop = spectral.analysis_sizes(self.sr)[1]
      curves = np.stack([motion_curve(frames[a:a + n], hop, self.sr) for a in starts])
      with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)   # all-nan lags stay nan
        self._motions[n] = np.nanmean(curves, axis=0)
    return self._motions[n]

  def spectrum(self, n: int) -> np.ndarray:
    """rfft of the audio zero-padded to n (cached): [n // 2 + 1] complex.

    Args:
      n: the FFT size (>= N).

    Returns:
      [n // 2 + 1] complex128 spectrum of the audio.
    """
    if n not in self._spectra:
      self._spectra[n] = scipy.fft.rfft(self.audio, n)
    return self._spectra[n]

  def segment_stats(self, w: int):
    """(sums [N - w + 1], centred energies [N - w + 1]) of every length-w stretch.

    Args:
      w: the stretch length in samples (1 <= w <= N).

    Returns:
      (sums [N - w + 1] float64 of the samples of the stretch starting at each offset, energies
      [N - w + 1] float64: their sum of squares about the stretch's mean, >= 0).
    """
    s = self._cumsum[w:] - self._cumsum[:-w]
    e = self._cumsum2[w:] - self._cumsum2[:-w] - np.square(s) / w
    return s, np.maximum(e, 0.0)


def prepare_reference(reference: np.ndarray, sr: int, click_k: float = 2.0) -> Reference:
  """A Reference of the training audio reference [N] (non-finite samples count as 0).

  Args:
    reference: [N] training audio (flattened if it has more axes).
    sr: its sample rate in Hz.
    click_k: the click threshold is click_k x the 99.9th percentile of |first difference|.

  Returns:
    The Reference (audio [N] float64, its features and running sums).

  Raises:
    ValueError: the audio is empty or silent.
  """
  r = np.nan_to_num(np.asarray(reference, np.float64).reshape(-1), nan=0.0, posinf=0.0,
                    neginf=0.0)
  if len(r) == 0 or not np.any(r):
    raise ValueError('the reference (training) audio is empty or silent: nothing to compare with')
  diffs = np.abs(np.diff(r))
  threshold = click_k * float(np.percentile(diffs, 99.9)) if len(diffs) else math.inf
  zero = np.zeros(1)
  return Reference(audio=r, sr=int(sr), features=_features(r, sr),
                   click_threshold=threshold if threshold > 0 else math.inf,
                   _cumsum=np.concatenate([zero, np.cumsum(r)]),
                   _cumsum2=np.concatenate([zero, np.cumsum(np.square(r))]))


# ----------------------------------------------------------------------------- scores


def _clicks(x: np.ndarray, threshold: float, sr: int) -> int:
  """Number of click events in x [n]: runs of |first difference| > threshold (merged < 5 ms)."""
  hits = np.flatnonzero(np.abs(np.diff(x)) > threshold)
  if len(hits) == 0:
    return 0
  return 1 + int(np.count_nonzero(np.diff(hits) > CLICK_GAP_S * sr))


def _flags(raw: np.ndarray, x: np.ndarray, row_lock: float = math.nan) -> dict:
  """The boolean flags of a dream: raw [n] as read (may hold NaN), x [n] its finite version,
  row_lock its row_lock score (nan: not a vector run)."""
  full = np.concatenate([np.abs(x) >= CLIP_LEVEL, np.zeros(CLIP_RUN, bool)]).astype(np.int32)
  runs = np.convolve(full, np.ones(CLIP_RUN, np.int32), mode='valid')     # [n + 1]
  still = np.abs(np.diff(x)) < FROZEN_STEP
  return {
      'silent': bool(len(x) == 0 or np.max(np.abs(x)) < SILENT_PEAK),
      'constant': bool(len(x) < 2 or np.mean(still) >= CONSTANT_FRACTION),
      'clipped': bool(np.max(runs) >= CLIP_RUN),
      'locked': bool(row_lock >= LOCKED_FRACTION),
      'nan': bool(not np.all(np.isfinite(raw))),
  }


def loop_score(x: np.ndarray, sr: int, max_windows: int = 128) -> float:
  """The loop score of x (see SCORES): how alike each window and the audio LOOP_LAG_S later are.

  Windows of LOOP_WINDOW_S every LOOP_HOP_S; each is cross-correlated (one batched FFT product)
  with the stretch LOOP_LAG_S later, LOOP_SEARCH_S longer on both sides, and normalised with
  running energy sums; windows LOOP_QUIET_DB under the loudest do not count.

  Args:
    x: [n] finite signal.
    sr: its sample rate in Hz.
    max_windows: windows transformed at a time (memory bound only).

  Returns:
    The median best |NCC| (0..1); nan when x is too short for one window pair, or silent.
  """
  lag, w = int(round(LOOP_LAG_S * sr)), int(round(LOOP_WINDOW_S * sr))
  s, hop = int(round(LOOP_SEARCH_S * sr)), max(1, int(round(LOOP_HOP_S * sr)))
  starts = np.arange(s, len(x) - lag - w - s + 1, hop)
  if len(starts) == 0:
    return math.nan
  a_idx = starts[:, None] + np.arange(w)                         # [W, w]
  b_idx = starts[:, None] + (lag - s) + np.arange(w + 2 * s)     # [W, w + 2s]
  energy_a = np.sum(np.square(x[a_idx]), axis=1)                 # [W]
  if not np.max(energy_a) > 0:
    return math.nan
  n_fft = scipy.fft.next_fast_len(2 * w + 2 * s)
  best = []
  for c0 in range(0, len(starts), max_windows):
    a, b = x[a_idx[c0:c0 + max_windows]], x[b_idx[c0:c0 + max_windows]]
    corr = scipy.fft.irfft(scipy.fft.rfft(b, n_fft) * np.conj(scipy.fft.rfft(a, n_fft)),
                           n_fft)[:, :2 * s + 1]                 # [W', 2s + 1]: sum b[k+i] a[i]
    cum = np.concatenate([np.zeros((len(b), 1)), np.cumsum(np.square(b), axis=1)], axis=1)
    energy_b = cum[:, w:w + 2 * s + 1] - cum[:, :2 * s + 1]      # [W', 2s + 1]
    norm = np.sqrt(energy_a[c0:c0 + max_windows, None] * energy_b)
    best.append(np.max(np.abs(corr) / np.maximum(norm, 1e-30), axis=1))
  loud = energy_a > np.max(energy_a) * 10 ** (-LOOP_QUIET_DB / 10)
  return float(np.median(np.minimum(np.concatenate(best), 1.0)[loud]))


def row_lock_curve(x: np.ndarray, sr: int, row_len: int) -> np.ndarray:
  """How exactly each 0.25 s window of x repeats itself 1-4 rows of row_len samples later.

  A vector dream that settles into one row (or a cycle of up to four rows) repeats it exactly,
  a buzz at sr / row_len Hz whatever the recording's pitches; real playing changes from one
  window to the next. Windows of ROW_LOCK_WINDOW_S every half window; windows LOOP_QUIET_DB
  under the loudest are left out.

  Args:
    x: [n] finite signal.
    sr: its sample rate in Hz.
    row_len: samples per dream row (> 0).

  Returns:
    [W] for each loud window the largest NCC (signed, -1..1) with x k * row_len samples later,
    k = 1..ROW_LOCK_ROWS; empty when x is too short or silent.
  """
  w = int(round(ROW_LOCK_WINDOW_S * sr))
  span = ROW_LOCK_ROWS * row_len
  starts = np.arange(0, len(x) - w - span + 1, max(1, w // 2))
  if len(starts) == 0:
    return np.zeros(0)
  cum_sq = np.concatenate([[0.0], np.cumsum(np.square(x))])
  energy = lambda first: cum_sq[first + w] - cum_sq[first]       # [W] windowed sums
  e = energy(starts)
  if not np.max(e) > 0:
    return np.zeros(0)
  best = np.full(len(starts), -1.0)
  for k in range(1, ROW_LOCK_ROWS + 1):
    lag = k * row_len
    cum = np.concatenate([[0.0], np.cumsum(x[:-lag] * x[lag:])])
    dot = cum[starts + w] - cum[starts]
    best = np.maximum(best, dot / np.maximum(np.sqrt(e * energy(starts + lag)), 1e-30))
  return np.minimum(best, 1.0)[e > np.max(e) * 10 ** (-LOOP_QUIET_DB / 10)]


def row_lock(x: np.ndarray, sr: int, row_len: int) -> float:
  """The row_lock score (see SCORES): the fraction of row_lock_curve's windows at or over
  ROW_LOCK_NCC; nan without rows (row_len 0) or loud windows."""
  curve = row_lock_curve(x, sr, row_len) if row_len > 0 else np.zeros(0)
  return float(np.mean(curve >= ROW_LOCK_NCC)) if len(curve) else math.nan


def window_starts(n: int, w: int, hop: int) -> np.ndarray:
  """Starts [K] of the length-w windows of an n-sample signal: every hop, and one at the end.

  Args:
    n: samples in the signal (n >= w).
    w: window length in samples.
    hop: samples between window starts.

  Returns:
    [K] int sorted, unique window starts; the last is n - w.
  """
  starts = np.arange(0, n - w + 1, hop)
  return np.unique(np.append(starts, n - w))


def best_matches(dream: np.ndarray, ref: Reference, w: int, hop: int,
                 max_elements: int = 1 << 21):
  """Best normalised cross-correlation of each window of the dream with the reference.

  Pearson correlation of the window with every length-w stretch of the reference, for all lags at
  once: the numerator is one FFT product per window (batched, at most `max_elements` spectrum
  values in memory at a time), the reference energies come from running sums.

  Args:
    dream: [n] finite signal, n >= w.
    ref: the prepared reference, N >= w samples.
    w: window length in samples.
    hop: samples between window starts.
    max_elements: memory bound of one batch of spectra.

  Returns:
    (starts [K] window starts, ncc [K] best |NCC| in [0, 1], lags [K] reference offset of each,
    cont [K] |NCC| of window k at the lag continuing window k-1's match (0 for k = 0)).
  """
  n_ref = len(ref.audio)
  starts = window_starts(len(dream), w, hop)
  windows = np.lib.stride_tricks.sliding_window_view(dream, w)[starts]       # [K, w]
  windows = windows - np.mean(windows, axis=1, keepdims=True)
  wnorm = np.sqrt(np.sum(np.square(windows), axis=1))                         # [K]
  _, energy = ref.segment_stats(w)                                            # [N - w + 1]
  rnorm = np.sqrt(energy)
  audible = energy > 1e-10 * w
  n = scipy.fft.next_fast_len(n_ref, real=True)
  spectrum = ref.spectrum(n)
  batch = max(1, max_elements // (n // 2 + 1))
  ncc, lags = np.zeros(len(starts)), np.zeros(len(starts), np.int64)
  for b in range(0, len(starts), batch):  # memory bound only: each batch is one vectorized FFT
    part = windows[b:b + batch]
    # c[k, l] = sum_j part[k, j] * ref[l + j]; lags l <= N - w never wrap around.
    corr = scipy.fft.irfft(np.conj(scipy.fft.rfft(part, n, axis=1)) * spectrum, n, axis=1)
    corr = np.abs(corr[:, :n_ref - w + 1])
    denom = wnorm[b:b + batch, None] * rnorm[None, :]
    r = np.where(audible[None, :] & (denom > 0), corr / np.where(denom > 0, denom, 1.0), 0.0)
    lags[b:b + batch] = np.argmax(r, axis=1)
    ncc[b:b + batch] = np.take_along_axis(r, lags[b:b + batch, None], axis=1)[:, 0]
  # Does window k continue, at the same offset, the best match of window k-1?
  nxt = lags[:-1] + np.diff(starts)                                           # [K - 1]
  ok = nxt <= n_ref - w
  at = np.where(ok, nxt, 0)
  segs = np.lib.stride_tricks.sliding_window_view(ref.audio, w)[at]           # [K - 1, w]
  dots = np.abs(np.sum(windows[1:] * segs, axis=1))
  denom = wnorm[1:] * rnorm[at]
  cont = np.where(ok & audible[at] & (denom > 0), dots / np.where(denom > 0, denom, 1.0), 0.0)
  return (starts, np.minimum(ncc, 1.0), lags,
          np.concatenate([[0.0], np.minimum(cont, 1.0)]))


def longest_match(starts: np.ndarray, ncc: np.ndarray, cont: np.ndarray, w: int,
                  threshold: float) -> tuple:
  """The longest chain of windows matching the reference at one consistent offset.

  Window k-1 matches (ncc > threshold) and window k continues it at the same offset (cont >
  threshold), link after link; a single matching window is a chain of one.

  Args:
    starts: [K] window starts.
    ncc: [K] best |NCC| of each window.
    cont: [K] |NCC| of window k at the offset continuing window k-1's best match.
    w: window length in samples.
    threshold: |NCC| above which a window matches.

  Returns:
    (samples from the start of the chain's first window to the end of its last (0 when no window
    matches), index of its first window (-1 when none)).
  """
  good = ncc > threshold
  if not np.any(good):
    return 0, -1
  link = np.concatenate([[False], good[:-1] & (cont[1:] > threshold)])       # [K]
  edges = np.diff(np.concatenate([[0], link.astype(np.int8), [0]]))
  first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1  # runs of links
  if len(first) == 0:
    return w, int(np.argmax(ncc))
  spans = starts[last] + w - starts[first - 1]
  best = int(np.argmax(spans))
  return int(spans[best]), int(first[best] - 1)


def score_audio(dream: np.ndarray, reference, sr: int, *, window_s: float = 0.5,
                hop_s: float = 0.125, ncc_threshold: float = 0.9,
                copy_threshold: float = 0.9, row_len: int = 0) -> dict:
  """Objective proxies of a dream's quality (see SCORES for each score's meaning and direction).

  Args:
    dream: [n] dream samples (NaN/inf allowed: flagged, then counted as 0).
    reference: [N] training audio at the same rate, or a Reference from prepare_reference (faster
      when scoring many dreams).
    sr: sample rate of both.
    window_s: window of the novelty scores (shortened to the dream or reference if longer).
    hop_s: hop between those windows.
    ncc_threshold: |NCC| above which a window counts as a literal match (longest_match_s).
    copy_threshold: |NCC| above which a window copies (copied_s): calibrate_copying gives it.
    row_len: samples per dream row of a vector run (row_lock, the locked flag); 0: no rows.

  Returns:
    {score name: float or bool} in the order of SCORE_NAMES; scores that are undefined (e.g. the
    spectral scores of a silent dream) are nan.
  """
  ref = reference if isinstance(reference, Reference) else prepare_reference(reference, sr)
  if ref.sr != sr:
    raise ValueError(f'the reference was prepared at {ref.sr} Hz, the dream is at {sr} Hz')
  raw = np.asarray(dream).reshape(-1)
  x = np.nan_to_num(raw.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
  f, rf = _features(x, sr), ref.features
  out = {'duration_s': len(x) / sr}
  if rf.mean_square <= 0:  # a constant (DC) reference: no level to compare with (flag: nan)
    out['level_db'] = math.nan
  else:
    out['level_db'] = (10 * math.log10(f.mean_square / rf.mean_square) if f.mean_square > 0
                       else -math.inf)
  out['discontinuity'] = f.rough / rf.rough
  out['clicks_per_s'] = _clicks(x, ref.click_threshold, sr) / max(len(x) / sr, 1e-12)
  out['flatness_ratio'] = f.flatness / rf.flatness
  out['spectral_distance_db'] = float(np.sqrt(np.mean(np.square(f.mel_db - rf.mel_db))))
  out['chroma_distance'] = (0.5 * float(np.sum(np.abs(f.chroma - rf.chroma)))
                            if np.sum(f.chroma) > 0 else math.nan)
  out['frame_distance_db'] = frame_distance(f.frames_db, f.loud, rf.frames_db)
  ref_motion = ref.motion(len(f.frames_db))
  out['motion_excess'] = motion_excess(f.motion, ref_motion) if np.any(f.loud) else math.nan
  out['stasis'] = motion_excess(f.motion, ref_motion, -1.0) if np.any(f.loud) else math.nan
  out['loop'] = loop_score(x, sr)
  out['row_lock'] = row_lock(x, sr, row_len)
  w = min(int(round(window_s * sr)), len(x), len(ref.audio))
  if w >= 2 and np.any(x):
    hop = max(1, int(round(hop_s * sr)))
    starts, ncc, lags, cont = best_matches(x, ref, w, hop)
    best = int(np.argmax(ncc))
    out['max_ncc'] = float(ncc[best])
    length, first = longest_match(starts, ncc, cont, w, ncc_threshold)
    out['longest_match_s'] = length / sr
    out['copied_s'] = longest_match(starts, ncc, cont, w, copy_threshold)[0] / sr
    out['match_at_s'] = (float(lags[first if first >= 0 else best]) / sr if ncc[best] > 0
                         else math.nan)
  else:
    out.update(max_ncc=0.0, longest_match_s=0.0, copied_s=0.0, match_at_s=math.nan)
  out.update(_flags(raw, x, out['row_lock']))
  return {k: (v if isinstance(v, bool) else float(v)) for k, v in
          ((name, out[name]) for name in SCORE_NAMES)}
