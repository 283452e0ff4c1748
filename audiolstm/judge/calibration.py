"""Verdicts: the scores of a dream turned into High/Medium/Low for artifacts, resemblance and
novelty, calibrated on anchors made from the same recording (`Calibration`), and the pass bar of
the default configs (`summarize`).
"""
import dataclasses
import math

import numpy as np

from audiolstm.judge import alive
from audiolstm.judge import anchors
from audiolstm.judge import measures
VERDICTS = ('artifacts', 'resemblance', 'novelty')   # each 'High', 'Medium' or 'Low'
LEVELS = ('Low', 'Medium', 'High')


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
  if any(row.get(f) for f in measures.FLAG_NAMES) or row.get('error'):
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
  if stasis > cal.stasis_limit + measures.STASIS_LOW:
    return 'Low'
  if stasis > cal.stasis_limit + measures.STASIS_HIGH:
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


TABLE_SCORES = ('clicks_per_s', 'flatness_ratio', 'discontinuity', 'frame_distance_db',
                'motion_excess', 'stasis', 'loop', 'row_lock', 'spectral_distance_db',
                'chroma_distance', 'max_ncc', 'copied_s', 'longest_match_s')


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
         'flagged': sum(bool(r.get('error')) or any(r.get(f) for f in measures.FLAG_NAMES)
                        for r in dreams),
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
