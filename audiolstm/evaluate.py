r"""Objective proxies for the three quality criteria of a dream (dissertation, section 1.4.2).

A good dream is (1) relatively free from artifacts, (2) obviously resembles the input and (3) does
not match the input literally. Listening stays the judge; these numbers only help to find the
dreams worth listening to, and the broken ones, at a glance:

  artifacts    discontinuity, clicks_per_s, flatness_ratio,  (lower is better; ~1 = like input)
               row_lock (vector runs)
  resemblance  spectral_distance_db, chroma_distance, frame_distance_db, motion_excess, stasis,
               loop                                         (lower = resembles the input more)
  novelty      max_ncc, longest_match_s                     (lower = less literal copying)
  flags        silent, constant, clipped, nan, locked       (True = broken dream)

`score_audio(dream, reference, sr)` scores one signal against the training audio;
`score_run(workdir)` scores every WAV in WORKDIR/dreams against the run's input (and, given
`kept_files`, sample mode's WAVs, streams and other files; those over alive.LONG_S also get the
per-window alive score of audiolstm.alive), and

  python -m audiolstm.evaluate --workdir=RUN [--files=A.wav,B.wav]

writes RUN/scores.csv (atomically) and prints a table. Everything is vectorized NumPy: spectra are
strided frames + one FFT, the cross-correlation of every 0.5 s window of the dream with the whole
training audio is one batched FFT product, normalised with running energy sums.
"""
import csv
import dataclasses
import functools
import io
import math
import os
import re
import warnings

import numpy as np
import scipy.fft
import soundfile as sf

from audiolstm import alive
from audiolstm import anchors
from audiolstm import audio_io
from audiolstm import files
from audiolstm import rundir
from audiolstm import spectral
from audiolstm.config import ConfigError

SILENT_PEAK = 1e-4       # peak |x| below this (about -80 dBFS, 3 LSB of 16 bits): silent
FROZEN_STEP = 1e-5       # |first difference| below this: the waveform does not move
CONSTANT_FRACTION = 0.9  # ... for this fraction of the samples: constant
CLIP_LEVEL = 0.999       # |x| at or above this is full scale ...
CLIP_RUN = 3             # ... and this many full-scale samples in a row: clipped
ANCHOR_SECONDS = 4.0     # anchors' length when a run has no dreams yet
CLICK_GAP_S = 0.005      # threshold crossings closer than this are one click
FLATNESS_FLOOR_DB = spectral.FLATNESS_FLOOR_DB  # flatness: bins are floored this far below
                         # their frame's peak (differences further down are masked, inaudible)
FLOOR_DB = 80.0          # log-mel frames are floored this far below the loudest bin
LOUD_DB = 50.0           # frames within this of the loudest bin count in the frame distance
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
ROW_FIELDS = ('source', 'file', 'approach', 'kind', 'seed_mode', 'iteration', 'stream')
VERDICTS = ('artifacts', 'resemblance', 'novelty')   # each 'High', 'Medium' or 'Low'
ALIVE_FIELDS = ('alive', 'windows')  # files over alive.LONG_S: fraction of windows alive, letters
CSV_FIELDS = ROW_FIELDS + VERDICTS + SCORE_NAMES + ALIVE_FIELDS + ('error',)
KEPT_SOURCES = ('sample', 'stream', 'file')   # kept files: sample mode's, streams, --files
LEVELS = ('Low', 'Medium', 'High')

_NAME_RE = re.compile(r'^(?P<approach>[a-z]+)_(?P<kind>[a-z]+)_(?P<seed_mode>[a-z]+)'
                      r'_it(?P<iteration>\d+)_s(?P<stream>\d+)(?:-\d+)?\.wav$')


class RunError(ValueError):
  """A work directory that cannot be scored; the message is one line for the user."""


# ----------------------------------------------------------------------------- spectra


analysis_sizes = spectral.analysis_sizes


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


@functools.lru_cache(maxsize=8)
def _filterbanks(sr: int, n_fft: int):
  """(mel [64, bins], chroma [12, bins]) filterbanks of librosa (imported lazily: slow)."""
  import librosa  # pylint: disable=g-import-not-at-top
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    mel = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=64)
    chroma = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0)
  # float64 like the spectra they multiply: a float32 x float64 matmul misses BLAS (300x slower)
  return mel.astype(np.float64), chroma.astype(np.float64)


def _features(x: np.ndarray, sr: int) -> _Features:
  """Summary statistics of a finite signal x [n] at sample rate sr."""
  n_fft, hop = analysis_sizes(sr)
  x = x - np.mean(x) if len(x) else x
  ms = float(np.mean(np.square(x))) if len(x) else 0.0
  rough = float(np.mean(np.square(np.diff(x))) / ms) if ms > 0 and len(x) > 1 else math.nan
  mel_fb, chroma_fb = _filterbanks(sr, n_fft)
  mean_power, energy, frame_flatness, mel_power = spectral_stats(x, n_fft, hop, mel_fb=mel_fb)
  flatness = spectral.mean_flatness(frame_flatness, energy)  # over the loud frames
  mel = mel_fb @ mean_power                                    # [64]
  if np.sum(mel) > 0:
    mel = mel / np.sum(mel)
    mel_db = 10 * np.log10(np.maximum(mel, 1e-8 * np.max(mel)))
  else:
    mel_db = np.full_like(mel, math.nan)
  chroma = chroma_fb @ mean_power                              # [12]
  chroma = chroma / np.sum(chroma) if np.sum(chroma) > 0 else np.zeros_like(chroma)
  frames_db, loud = _relative_db(mel_power)
  return _Features(mean_square=ms, rough=rough, flatness=flatness, mel_db=mel_db, chroma=chroma,
                   frames_db=frames_db, loud=loud, motion=motion_curve(frames_db, hop, sr))


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
  n_fft, hop = analysis_sizes(sr)
  mel_fb, _ = _filterbanks(sr, n_fft)
  bands = [power @ mel_fb.T for power in spectral.power_batches(x, n_fft, hop, max_frames)]
  return _relative_db(np.concatenate(bands))   # spectral_stats' band powers, without the rest


def _relative_db(mel: np.ndarray) -> tuple:
  """mel_frames of band powers mel [F, 64]: (dB relative to the loudest bin, loud [F])."""
  if not np.max(mel, initial=0.0) > 0:
    return np.full(mel.shape, -FLOOR_DB), np.zeros(len(mel), bool)
  db = 10 * np.log10(np.maximum(mel, 1e-30))
  top = float(np.max(db))
  db = np.maximum(db - top, -FLOOR_DB)
  return db, np.max(db, axis=1) > -LOUD_DB


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
      hop = analysis_sizes(self.sr)[1]
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


# ----------------------------------------------------------------------------- verdicts


@dataclasses.dataclass(frozen=True)
class Calibration:
  """Thresholds of the verdicts, all taken from anchors of the same recording.

  unseen: the scores of its unseen tail (real new playing); noise: of white noise at its level.
  """
  unseen: dict
  noise: dict
  copy: dict = None     # a literal excerpt of the training part (for the stasis limit)

  @property
  def stasis_limit(self) -> float:
    """The stasis of real playing: the larger of the unseen tail's and the excerpt's (0 when
    neither is finite)."""
    values = [d.get('stasis', math.nan) for d in (self.unseen, self.copy or {})]
    values = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    return max(values) if values else 0.0

  @property
  def copy_threshold(self) -> float:
    """|NCC| above which a window copies: closer than the unseen tail ever comes."""
    ncc = self.unseen.get('max_ncc', math.nan)
    return float(min(max(ncc, 0.5), 0.99)) if math.isfinite(ncc) else 0.9


def _ratio_limit(value: float, factor: float) -> float:
  """factor x max(1, value): a ratio limit that widens where the recording's own tail is high."""
  return factor * max(1.0, value if math.isfinite(value) else 1.0)


def artifacts_level(row: dict, cal: Calibration) -> str:
  """'High' (free of artifacts), 'Medium' or 'Low'; any flag or unreadable file is 'Low'.

  Args:
    row: one score row (score_audio's scores, FLAG_NAMES flags and 'error').
    cal: the recording's Calibration (its unseen tail's scores set the limits).

  Returns:
    'High', 'Medium' or 'Low'.
  """
  if any(row.get(f) for f in FLAG_NAMES) or row.get('error'):
    return 'Low'
  u = cal.unseen
  flat, disc, clicks = row['flatness_ratio'], row['discontinuity'], row['clicks_per_s']
  if not (math.isfinite(flat) and math.isfinite(disc)):
    return 'Low'
  limit = max(1.0, u.get('clicks_per_s', 0.0) or 0.0)
  if clicks <= limit and flat <= _ratio_limit(u['flatness_ratio'], 2) and disc <= _ratio_limit(
      u['discontinuity'], 2):
    return 'High'
  if clicks <= 3 * limit and flat <= _ratio_limit(u['flatness_ratio'], 5) and disc <= _ratio_limit(
      u['discontinuity'], 5):
    return 'Medium'
  return 'Low'


def toward_noise(value: float, unseen: float, noise: float) -> float:
  """Where value lies from the unseen tail's score (0) to noise's (1); inf when undefined.

  Args:
    value: the dream's score.
    unseen: the unseen tail's score of the same name.
    noise: the noise anchor's score of the same name.

  Returns:
    (value - unseen) / (noise - unseen) (the denominator at least 1e-9); inf when any of the three
    is not finite.
  """
  if not (math.isfinite(value) and math.isfinite(unseen) and math.isfinite(noise)):
    return math.inf
  return (value - unseen) / max(noise - unseen, 1e-9)


def resemblance_level(row: dict, cal: Calibration) -> str:
  """'High' when both timbre (frame_distance_db) and motion (motion_excess) lie within the first
  third of the way from the unseen tail's scores to noise's, 'Medium' within two thirds, else
  'Low'; at most 'Medium' for a dream that moves less than real playing (stasis over its limit
  + STASIS_HIGH) and 'Low' for a drone (over the limit + STASIS_LOW). The loop score is reported
  but not a rule: the fft default's held textures score 0.6-0.8 on five of fourteen pieces.

  Args:
    row: one score row (frame_distance_db, motion_excess and stasis).
    cal: the recording's Calibration.

  Returns:
    'High', 'Medium' or 'Low'.
  """
  worst = max(toward_noise(row[k], cal.unseen[k], cal.noise[k])
              for k in ('frame_distance_db', 'motion_excess'))
  stasis = row.get('stasis', 0.0)
  stasis = stasis if math.isfinite(stasis) else math.inf
  level = 'High' if worst <= 1 / 3 else 'Medium' if worst <= 2 / 3 else 'Low'
  if stasis > cal.stasis_limit + STASIS_LOW:
    return 'Low'
  if stasis > cal.stasis_limit + STASIS_HIGH:
    return 'Medium' if level == 'High' else level
  return level


def novelty_level(row: dict, cal: Calibration) -> str:
  """'Low' (copies: 1 s or more closer than the unseen tail comes, or a literal match 1 s longer
  than the tail's), 'Medium' (some of that, shorter) or 'High'.

  Args:
    row: one score row (copied_s and longest_match_s).
    cal: the recording's Calibration (the unseen tail's longest_match_s).

  Returns:
    'High', 'Medium' or 'Low'.
  """
  u_long = cal.unseen.get('longest_match_s', 0.0) or 0.0
  copied, longest = row['copied_s'], row['longest_match_s']
  if copied >= 1.0 or longest >= u_long + 1.0:
    return 'Low'
  if copied > 0 or longest > u_long:
    return 'Medium'
  return 'High'


def add_verdicts(rows, cal: Calibration) -> list:
  """The rows with 'artifacts', 'resemblance' and 'novelty' set (in place; returned).

  Args:
    rows: score rows (score_audio's scores with the ROW_FIELDS and 'error').
    cal: the recording's Calibration.

  Returns:
    rows, each with the three verdicts ('High', 'Medium' or 'Low') set.
  """
  for row in rows:
    row.update(artifacts=artifacts_level(row, cal), resemblance=resemblance_level(row, cal),
               novelty=novelty_level(row, cal))
  return rows


PASS_CLICKS_PER_S = 1.0       # the default configs' bar (issue 10): at most this many clicks/s,
PASS_FLATNESS = {'vector': 3.0}  # a flatness ratio at most this (2 for the other approaches),
PASS_FLATNESS_DEFAULT = 2.0      # no flag, no copying (novelty not Low), resemblance High/Medium


def _median_level(levels) -> str:
  """The median of 'Low' / 'Medium' / 'High' values (the lower middle one for an even count)."""
  ranks = sorted(LEVELS.index(v) for v in levels if v in LEVELS)
  return LEVELS[ranks[(len(ranks) - 1) // 2]] if ranks else ''


def summarize(rows, second_half: bool = True) -> dict:
  """One run's summary: medians over its dreams, and whether it passes the default configs' bar.

  Args:
    rows: score_run's rows (anchors and dreams).
    second_half: only the dreams of the second half of training (iteration >= half the last
      dream's); sample-mode dreams (iteration -1) are all kept.

  Returns:
    {'dreams': count, 'flagged': dreams with a flag or error, <score>: median for TABLE_SCORES,
    <verdict>: median level for VERDICTS, 'passes': bool, 'fails': '; '-joined reasons,
    'anchors': {name: row}}.
  """
  dreams = [r for r in rows if r.get('source', 'dream') == 'dream']
  if second_half and dreams:
    half = max(r['iteration'] for r in dreams) / 2
    dreams = [r for r in dreams if r['iteration'] >= half or r['iteration'] < 0]
  out = {'dreams': len(dreams),
         'flagged': sum(bool(r.get('error')) or any(r.get(f) for f in FLAG_NAMES) for r in dreams),
         'anchors': {r['source']: r for r in rows if r.get('source') in anchors.ANCHOR_NAMES}}
  for name in TABLE_SCORES:
    values = [r[name] for r in dreams if isinstance(r.get(name), float) and math.isfinite(r[name])]
    out[name] = float(np.median(values)) if values else math.nan
  for v in VERDICTS:
    out[v] = _median_level(r.get(v) for r in dreams)
  approach = next((r['approach'] for r in dreams if r.get('approach')), '')
  limit = PASS_FLATNESS.get(approach, PASS_FLATNESS_DEFAULT)
  fails = [reason for bad, reason in (
      (not dreams, 'no dreams'),
      (out['flagged'] > 0, f'{out["flagged"]} flagged'),
      (not out['clicks_per_s'] <= PASS_CLICKS_PER_S, f'clicks/s {out["clicks_per_s"]:.2g}'),
      (not out['flatness_ratio'] <= limit, f'flatness {out["flatness_ratio"]:.2g} > {limit:g}'),
      (out['novelty'] == 'Low', 'copies'),
      (out['resemblance'] not in ('High', 'Medium'), f'resemblance {out["resemblance"]}'),
  ) if bad]
  out.update(passes=not fails, fails='; '.join(fails))
  return out


def alive_summary(rows) -> dict:
  """The alive score over every scored window of the rows' long files (their 'windows').

  Args:
    rows: score rows (score_run's, read_scores').

  Returns:
    {'files': files with windows, 'windows': their windows, 'alive': fraction of them alive
    (nan without any), 'counts': {verdict: windows} in alive.LETTERS order, 'stuck': files with
    no window alive}.
  """
  letters = [r.get('windows') or '' for r in rows]
  letters = [w for w in letters if w]
  every = ''.join(letters)
  return {'files': len(letters), 'windows': len(every),
          'alive': every.count(alive.LETTERS['alive']) / len(every) if every else math.nan,
          'counts': {k: every.count(v) for k, v in alive.LETTERS.items() if v in every},
          'stuck': sum(alive.LETTERS['alive'] not in w for w in letters)}


# ----------------------------------------------------------------------------- runs


def parse_dream_name(name: str) -> dict:
  """{'approach', 'kind', 'seed_mode', 'iteration', 'stream'} of a dream file name.

  e.g. 'fft_concurrent_random_it0001200_s0.wav' (or with a '-1' collision suffix); fields of a
  name that does not follow the pattern are '' (strings) or -1 (numbers).
  """
  m = _NAME_RE.match(os.path.basename(name))
  if not m:
    return {'approach': '', 'kind': '', 'seed_mode': '', 'iteration': -1, 'stream': -1}
  return {'approach': m['approach'], 'kind': m['kind'], 'seed_mode': m['seed_mode'],
          'iteration': int(m['iteration']), 'stream': int(m['stream'])}


def load_run_config(workdir: str) -> dict:
  """The resolved config of a run (config.json); RunError with one line if there is none."""
  if not workdir:
    raise RunError('no work directory given: add --workdir=RUN (a directory made by '
                   'python -m audiolstm.main)')
  if not files.isdir(workdir):
    raise RunError(f'work directory not found: {workdir} (give a directory made by '
                   'python -m audiolstm.main)')
  try:
    config = rundir.read_config_file(os.path.join(workdir, 'config.json'), derived=True)
  except ConfigError as e:
    raise RunError(str(e)) from None
  if config is None:
    raise RunError(f'{workdir} is not a run directory: it has no config.json')
  return config


def dream_row_length(config: dict) -> int:
  """Samples per dream row of a run's config (row_lock): seg_len for the vector approach, whose
  dreams are rows of raw samples; 0 for the others (one sample per step, or vocoded frames)."""
  try:
    return int(config['seg_len']) if config.get('approach') == 'vector' else 0
  except (KeyError, TypeError, ValueError):
    return 0


def dream_files(workdir: str) -> list:
  """Paths of the run's dreams (WORKDIR/dreams/*.wav), in name order."""
  d = os.path.join(workdir, 'dreams')
  if not files.isdir(d):
    return []
  return [os.path.join(d, n) for n in sorted(files.listdir(d))
          if n.lower().endswith('.wav') and not n.startswith('.')]


def _wavs_under(d: str, recursive: bool) -> list:
  """Paths of the WAVs in folder d (and its subfolders when recursive), in name order."""
  if not files.isdir(d):
    return []
  out = []
  for n in sorted(files.listdir(d)):
    path = os.path.join(d, n)
    if n.startswith('.'):
      continue
    if n.lower().endswith('.wav') and not files.isdir(path):
      out.append(path)
    elif recursive and files.isdir(path):
      out += _wavs_under(path, recursive)
  return out


def kept_files(workdir: str, paths=()) -> list:
  """The audio a user keeps, beside the training dreams: [(source, path)] of sample mode's
  WAVs (WORKDIR/samples, source 'sample'), every WAV under WORKDIR/streams ('stream') and the
  given paths ('file').

  Args:
    workdir: the run directory.
    paths: more audio files (--files).

  Raises:
    RunError: a given path is not a readable audio file (one line).
  """
  for path in paths:
    if not files.isfile(path):
      raise RunError(f'--files: no such file: {path}')
    try:
      with files.local_copy(path) as local:
        sf.info(local)
    except Exception as e:  # pylint: disable=broad-except  # any undecodable file: one line
      raise RunError(f'--files: not an audio file: {path} ({" ".join(str(e).split())[:120]})'
                     ) from None
  return ([('sample', p) for p in _wavs_under(os.path.join(workdir, 'samples'), False)]
          + [('stream', p) for p in _wavs_under(os.path.join(workdir, 'streams'), True)]
          + [('file', p) for p in paths])


def kept_name(workdir: str, path: str) -> str:
  """A kept file's 'file' column: its path relative to workdir when inside it, else as given."""
  rel = os.path.relpath(path, workdir)
  return path if rel.startswith('..') or os.path.isabs(rel) else rel


def run_reference(workdir: str, files=None) -> tuple:
  """(recording [N], sample rate) of a run: its input files (training part + validation split),
  or `files` in their place (AudioError if bad).

  Args:
    workdir: the run directory (its config.json is read).
    files: audio files to use instead of the run's input_files (None or empty: those).

  Returns:
    (recording [N] float32 in [-1, 1] at the run's sample rate, that sample rate in Hz).

  Raises:
    RunError: not a run directory, or its config.json has no valid sample_rate.
    audio_io.AudioError: the audio files cannot be read.
  """
  config = load_run_config(workdir)
  sr = config.get('sample_rate')
  if not isinstance(sr, int) or sr <= 0:
    raise RunError(f'{os.path.join(workdir, "config.json")} has no valid sample_rate')
  if files:
    return audio_io.load_many(list(files), sr), sr
  try:
    return audio_io.load_many(audio_io.training_files(config.get('input_files')), sr), sr
  except audio_io.AudioError as e:
    raise audio_io.AudioError(f'the run\'s training audio cannot be read: {e}; give it with '
                              '--reference=FILE[,FILE...]') from None


def held_out_samples(config: dict, num_samples: int) -> int:
  """Samples at the end of the recording that training held out (0 when validation was off,
  also when its split was too short for one iteration).

  Args:
    config: the run's config.json as a dict (load_run_config).
    num_samples: N, samples of the whole recording.

  Returns:
    The samples held out at the end (0 when none were).
  """
  if not config.get('val_fraction'):
    return 0
  from audiolstm import config as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm import dataset  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  try:
    c = config_lib.resolve(ml_collections.ConfigDict(config))
    return dataset.validation_samples(c, config_lib.geometry(c), num_samples)
  except (KeyError, AttributeError, TypeError, ValueError, ConfigError):  # an odd config.json
    return int(round(num_samples * float(config['val_fraction'])))


def read_dream(path: str, sr: int) -> np.ndarray:
  """[n] samples of a dream file as stored (non-finite values kept), resampled to sr if needed.

  Args:
    path: the audio file (channels are averaged).
    sr: the sample rate wanted, in Hz.

  Returns:
    [n] float32 samples at sr.

  Raises:
    soundfile.LibsndfileError: the file cannot be opened or decoded.
  """
  with files.local_copy(path) as local:  # a dream on a bucket is read from a local copy
    data, file_sr = sf.read(local, dtype='float32', always_2d=True)
  x = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
  if file_sr != sr and len(x):
    import librosa  # pylint: disable=g-import-not-at-top
    bad = ~np.isfinite(x)
    x = librosa.resample(np.where(bad, 0.0, x), orig_sr=file_sr, target_sr=sr)
    if np.any(bad):
      x[0] = np.nan  # keep the flag
  return x


def _unreadable(row: dict, e: Exception) -> dict:
  """The row of a file that cannot be decoded: nan / False scores and a one-line error."""
  row.update({s: (False if s in FLAG_NAMES else math.nan) for s in SCORE_NAMES})
  row['error'] = f'cannot read: {" ".join(str(e).split())[:160] or type(e).__name__}'
  return row


def score_anchors(workdir: str, split, sr: int, length: int, ref: Reference,
                  row_len: int = 0) -> tuple:
  """Score the four anchors of a recording and write them to WORKDIR/anchors/<name>.wav.

  Args:
    workdir: the run directory.
    split: anchors.Split of the recording.
    sr: sample rate.
    length: samples of the made anchors (the dreams' typical length).
    ref: the prepared training part.
    row_len: the run's dream row length (row_lock; 0: not a vector run).

  Returns:
    (anchor rows in anchors.ANCHOR_NAMES order, their Calibration).
  """
  made = anchors.make_anchors(split, length, sr)
  # A tail that was trained on is judged against the audio before it, as if it were unseen.
  tail_ref = (prepare_reference(split.train[:len(split.train) - len(split.unseen)], sr)
              if split.seen else ref)
  unseen = score_audio(made['unseen'], tail_ref, sr, row_len=row_len)
  cal = Calibration(unseen=unseen, noise=score_audio(made['noise'], ref, sr, row_len=row_len),
                    copy=score_audio(made['copy'], ref, sr, row_len=row_len))
  rows = []
  for name in anchors.ANCHOR_NAMES:
    path = audio_io.write_wav(os.path.join(workdir, 'anchors', name + '.wav'),
                              np.clip(made[name], -1, 1), sr)
    scores = score_audio(made[name], tail_ref if name == 'unseen' else ref, sr,
                         copy_threshold=cal.copy_threshold, row_len=row_len)
    rows.append({'source': name, 'file': os.path.relpath(path, workdir), 'approach': '',
                 'kind': 'seen tail' if name == 'unseen' and split.seen else 'anchor',
                 'seed_mode': '', 'iteration': -1, 'stream': -1, **scores, 'error': ''})
  return rows, cal


def _read_all(entries, sr: int) -> tuple:
  """[(row, samples [n]) or an unreadable row] of entries [(row, path)], and the lengths read."""
  out, lengths = [], []
  for row, path in entries:  # one row per file: the work inside score_audio is vectorized
    try:
      x = read_dream(path, sr)
    except Exception as e:  # pylint: disable=broad-except  # any undecodable file is one row
      out.append(_unreadable(row, e))
      continue
    out.append((row, x))
    lengths.append(len(x) if row['source'] == 'dream' else 0)
  return out, [n for n in lengths if n]


def alive_columns(x: np.ndarray, ref: Reference, cal) -> dict:
  """{'alive': fraction of windows alive, 'windows': their letters} of a file over
  alive.LONG_S (else nan and ''); cal: a zero-argument function giving alive.calibrate(ref).

  Args:
    x: [n] samples as read (non-finite values count as 0).
    ref: the prepared training part.
    cal: returns the alive.Calibration (called only for a long file).
  """
  if len(x) <= alive.LONG_S * ref.sr:
    return {'alive': math.nan, 'windows': ''}
  x = np.nan_to_num(np.asarray(x, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
  summary = alive.summarize(alive.score_windows(x, ref, cal()))
  return {'alive': summary['alive'], 'windows': summary['windows']}


def score_run(workdir: str, reference=None, names=None, with_anchors: bool = True,
              kept=()) -> list:
  """Scores and verdicts of the anchors, of every dream of a run, and of kept files.

  Dreams are compared with the training part of the recording (the run's validation split, its
  last val_fraction, is the unseen anchor); the verdicts are calibrated on the anchors. Files over
  alive.LONG_S also get the alive score (ALIVE_FIELDS; others nan and '').

  Args:
    workdir: a run directory (config.json, dreams/).
    reference: audio files to compare with instead of the run's input_files (default: those).
    names: only these dream file names (default: all).
    with_anchors: include the anchor rows (they are always scored: they calibrate the verdicts).
    kept: [(source, path)] more files to score (kept_files: samples, streams, --files).

  Returns:
    [{source, file, approach, kind, seed_mode, iteration, stream, artifacts, resemblance,
    novelty, <scores>, alive, windows, error}]: anchors first (source 'unseen', 'copy', 'grains',
    'noise'; file 'anchors/<name>.wav'), then the dreams (source 'dream'), oldest iteration
    first, then the kept files (source and kind 'sample', 'stream' or 'file'; file: the path
    relative to workdir, or as given outside it); 'error' is '' or a one-line reason a file could
    not be read (its scores are then nan / False).
  Raises:
    RunError: not a run directory; audio_io.AudioError: the training audio cannot be read.
  """
  audio, sr = run_reference(workdir, reference)
  config = load_run_config(workdir)
  split = anchors.split_recording(np.asarray(audio, np.float64),
                                  n_val=held_out_samples(config, len(audio)))
  ref = prepare_reference(split.train, sr)
  paths = dream_files(workdir)
  if names is not None:
    wanted = set(names)
    paths = [p for p in paths if os.path.basename(p) in wanted]
  entries = [({'source': 'dream', 'file': os.path.basename(p), **parse_dream_name(p)}, p)
             for p in paths]
  entries += [({'source': source, 'file': kept_name(workdir, p), 'approach':
                str(config.get('approach', '')), 'kind': source, 'seed_mode': '',
                'iteration': -1, 'stream': -1}, p) for source, p in kept]
  rows, lengths = _read_all(entries, sr)
  length = int(np.median(lengths)) if lengths else int(ANCHOR_SECONDS * sr)
  row_len = dream_row_length(config)
  anchor_rows, cal = score_anchors(workdir, split, sr, length, ref, row_len)
  alive_cal = functools.lru_cache(maxsize=1)(lambda: alive.calibrate(ref))
  scored = [r if isinstance(r, dict) else {**r[0], **score_audio(
      r[1], ref, sr, copy_threshold=cal.copy_threshold, row_len=row_len),
      **alive_columns(r[1], ref, alive_cal), 'error': ''} for r in rows]
  scored.sort(key=lambda r: (r['source'] != 'dream', r['iteration'], r['kind'], r['stream'],
                             r['file']))
  for row in anchor_rows + scored:
    row.setdefault('alive', math.nan)
    row.setdefault('windows', '')
  return add_verdicts((anchor_rows if with_anchors else []) + scored, cal)


def _format(value) -> str:
  if isinstance(value, bool):
    return str(value)
  if isinstance(value, float):
    return f'{value:.6g}'
  return str(value)


def rows_to_csv(rows) -> str:
  """CSV text (header CSV_FIELDS) of score rows."""
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction='ignore', lineterminator='\n')
  writer.writeheader()
  for row in rows:
    writer.writerow({k: _format(row.get(k, '')) for k in CSV_FIELDS})
  return out.getvalue()


def write_scores(workdir: str, rows) -> str:
  """WORKDIR/scores.csv of the rows (atomically); returns its path.

  Args:
    workdir: the run directory.
    rows: score rows (score_run), written in the CSV_FIELDS columns.

  Returns:
    The path of scores.csv.
  """
  return audio_io.write_text_atomic(os.path.join(workdir, 'scores.csv'), rows_to_csv(rows))


def read_scores(path: str) -> list:
  """Rows of a scores.csv, typed like score_run's (floats, bools, ints)."""
  rows = list(csv.DictReader(io.StringIO(files.read_text(path, newline=''))))
  for row in rows:
    for k in ('iteration', 'stream'):
      row[k] = int(row[k]) if row.get(k, '').lstrip('-').isdigit() else -1
    for s in SCORES:
      v = row.get(s.name, '')
      row[s.name] = (v == 'True') if s.criterion == 'flag' else float(v) if v else math.nan
    row['alive'] = float(row['alive']) if row.get('alive') else math.nan
    row['windows'] = row.get('windows') or ''
    row['error'] = row.get('error') or ''
    row['source'] = row.get('source') or 'dream'
  return rows


TABLE_SCORES = ('clicks_per_s', 'flatness_ratio', 'discontinuity', 'frame_distance_db',
                'motion_excess', 'stasis', 'loop', 'row_lock', 'spectral_distance_db',
                'chroma_distance', 'max_ncc', 'copied_s', 'longest_match_s')


def _label(row: dict) -> str:
  """The first column of a row: the dream's file name, or the anchor's name in brackets."""
  return f'[{row["source"]}]' if row.get('source') in anchors.ANCHOR_NAMES else row['file']


def format_table(rows) -> str:
  """A fixed-width text table of score rows (anchors first, then one line per dream), verdicts
  (A/R/N: artifacts, resemblance, novelty as H/M/L) and a legend."""
  by_name = {s.name: s for s in SCORES}
  cols = [by_name[n] for n in TABLE_SCORES]
  width = max([len('file')] + [len(_label(r)) for r in rows])
  head = (f'{"file":<{width}}  A R N  ' + '  '.join(f'{s.short:>8}' for s in cols) + '  flags')
  lines = [head, '-' * len(head)]
  for r in rows:
    flags = ','.join(n for n in FLAG_NAMES if r.get(n)) or ('error' if r.get('error') else '-')
    verdict = ' '.join((r.get(v) or '?')[0] for v in VERDICTS)
    lines.append(f'{_label(r):<{width}}  {verdict}  '
                 + '  '.join(f'{r[s.name]:>8.3g}' for s in cols) + f'  {flags}'
                 + (f'  alive {r["alive"]:.2f} {r["windows"]}' if r.get('windows') else ''))
  lines.append('A R N: artifacts, resemblance, novelty (H high = good, M medium, L low), calibrated '
               'on the [anchors] of the same recording; lower is better for every number; '
               f'files over {alive.LONG_S:g} s: alive = the fraction of their '
               f'{alive.WINDOW_S:g} s windows alive, one letter each (A alive, S silent, N noise, '
               'H held, C copy)')
  return '\n'.join(lines)


# ----------------------------------------------------------------------------- command line


def fail(message: str, status: int = 2):
  """`audiolstm.evaluate: error: MESSAGE` on stderr, then exit with `status` (audiolstm.cli).

  Args:
    message: the error (its lines are joined into one).
    status: the exit status.

  Raises:
    SystemExit: always, with `status`.
  """
  from audiolstm import cli  # pylint: disable=g-import-not-at-top  # absl only when run
  cli.fail(message, status, prog='audiolstm.evaluate')


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a usage dump (audiolstm.cli)."""
  from audiolstm import cli  # pylint: disable=g-import-not-at-top
  return cli.parse_flags(argv, prog='audiolstm.evaluate')


def main(argv):
  """Score every dream of --workdir, its samples, streams and --files; write WORKDIR/scores.csv
  and print the table."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags_ = flags.FLAGS
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])} (usage: python -m audiolstm.evaluate '
         '--workdir=RUN [--files=A.wav,B.wav])')
  try:
    load_run_config(flags_.workdir)
    kept = kept_files(flags_.workdir, flags_.files)
    rows = score_run(flags_.workdir, reference=flags_.reference or None, kept=kept)
  except (RunError, audio_io.AudioError, ValueError) as e:
    fail(str(e))
  try:
    path = write_scores(flags_.workdir, rows)
  except OSError as e:
    fail(f'cannot write {os.path.join(flags_.workdir, "scores.csv")}: {e.strerror or e}')
  if rows:
    print(format_table(rows))
  else:
    print(f'no dreams yet in {os.path.join(flags_.workdir, "dreams")}')
  kept = alive_summary(rows)
  if kept['files']:
    print(f'alive: {kept["alive"]:.0%} of the {kept["windows"]} windows of {kept["files"]} long '
          f'file(s) ({", ".join(f"{k} {n}" for k, n in kept["counts"].items())}); '
          f'{kept["stuck"]} with no window alive')
  print(f'wrote {path} ({len(rows)} dream(s))')


def define_flags():
  """The command-line flags (defined only when run as a program: never at import time)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('workdir', None, 'A run directory made by python -m audiolstm.main.')
  flags.DEFINE_list('reference', [], 'Audio file(s) to compare with instead of the run\'s '
                    'input_files (comma-separated).')
  flags.DEFINE_list('files', [], 'More audio files to score (comma-separated), beside the '
                    'dreams, WORKDIR/samples and WORKDIR/streams; files over '
                    f'{alive.LONG_S:g} s also get the alive score.')


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  define_flags()
  app.run(main, flags_parser=parse_flags)
