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
per-window alive score of audiolstm.judge.alive), and

  python -m audiolstm.judge.evaluate --workdir=RUN [--files=A.wav,B.wav]

writes RUN/scores.csv (atomically) and prints a table. Everything is vectorized NumPy: spectra are
strided frames + one FFT, the cross-correlation of every 0.5 s window of the dream with the whole
training audio is one batched FFT product, normalised with running energy sums.
"""
import csv
import functools
import io
import math
import os
import re

import numpy as np
import soundfile as sf

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.config.settings import ConfigError
from audiolstm.judge import alive
from audiolstm.judge import anchors
from audiolstm.judge import measures
from audiolstm.judge import calibration
from audiolstm.run import rundir
ANCHOR_SECONDS = 4.0     # anchors' length when a run has no dreams yet
ROW_FIELDS = ('source', 'file', 'approach', 'kind', 'seed_mode', 'iteration', 'stream')
ALIVE_FIELDS = ('alive', 'windows')  # files over alive.LONG_S: fraction of windows alive, letters
CSV_FIELDS = ROW_FIELDS + calibration.VERDICTS + measures.SCORE_NAMES + ALIVE_FIELDS + ('error',)
KEPT_SOURCES = ('sample', 'stream', 'file')   # kept files: sample mode's, streams, --files

_NAME_RE = re.compile(r'^(?P<approach>[a-z]+)_(?P<kind>[a-z]+)_(?P<seed_mode>[a-z]+)'
                      r'_it(?P<iteration>\d+)_s(?P<stream>\d+)(?:-\d+)?\.wav$')


class RunError(ValueError):
  """A work directory that cannot be scored; the message is one line for the user."""


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
  # only for a run's held-out length
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import dataset  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top  # only for a run's held-out length
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
    # librosa loads only for chroma (a slow import)
    import librosa  # pylint: disable=g-import-not-at-top
    bad = ~np.isfinite(x)
    x = librosa.resample(np.where(bad, 0.0, x), orig_sr=file_sr, target_sr=sr)
    if np.any(bad):
      x[0] = np.nan  # keep the flag
  return x


def _unreadable(row: dict, e: Exception) -> dict:
  """The row of a file that cannot be decoded: nan / False scores and a one-line error."""
  row.update({s: (False if s in measures.FLAG_NAMES else math.nan) for s in measures.SCORE_NAMES})
  row['error'] = f'cannot read: {" ".join(str(e).split())[:160] or type(e).__name__}'
  return row


def score_anchors(workdir: str, split, sr: int, length: int, ref: measures.Reference,
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
  tail_ref = (measures.prepare_reference(split.train[:len(split.train) - len(split.unseen)], sr)
              if split.seen else ref)
  unseen = measures.score_audio(made['unseen'], tail_ref, sr, row_len=row_len)
  cal = calibration.Calibration(
      unseen=unseen, noise=measures.score_audio(made['noise'], ref, sr, row_len=row_len),
      copy=measures.score_audio(made['copy'], ref, sr, row_len=row_len))
  rows = []
  for name in anchors.ANCHOR_NAMES:
    path = audio_io.write_wav(os.path.join(workdir, 'anchors', name + '.wav'),
                              np.clip(made[name], -1, 1), sr)
    scores = measures.score_audio(made[name], tail_ref if name == 'unseen' else ref, sr,
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


def alive_columns(x: np.ndarray, ref: measures.Reference, cal) -> dict:
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
  ref = measures.prepare_reference(split.train, sr)
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
  scored = [r if isinstance(r, dict) else {**r[0], **measures.score_audio(
      r[1], ref, sr, copy_threshold=cal.copy_threshold, row_len=row_len),
      **alive_columns(r[1], ref, alive_cal), 'error': ''} for r in rows]
  scored.sort(key=lambda r: (r['source'] != 'dream', r['iteration'], r['kind'], r['stream'],
                             r['file']))
  for row in anchor_rows + scored:
    row.setdefault('alive', math.nan)
    row.setdefault('windows', '')
  return calibration.add_verdicts((anchor_rows if with_anchors else []) + scored, cal)


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
  return files.write_text_atomic(os.path.join(workdir, 'scores.csv'), rows_to_csv(rows))


def read_scores(path: str) -> list:
  """Rows of a scores.csv, typed like score_run's (floats, bools, ints)."""
  rows = list(csv.DictReader(io.StringIO(files.read_text(path, newline=''))))
  for row in rows:
    for k in ('iteration', 'stream'):
      row[k] = int(row[k]) if row.get(k, '').lstrip('-').isdigit() else -1
    for s in measures.SCORES:
      v = row.get(s.name, '')
      row[s.name] = (v == 'True') if s.criterion == 'flag' else float(v) if v else math.nan
    row['alive'] = float(row['alive']) if row.get('alive') else math.nan
    row['windows'] = row.get('windows') or ''
    row['error'] = row.get('error') or ''
    row['source'] = row.get('source') or 'dream'
  return rows


def _label(row: dict) -> str:
  """The first column of a row: the dream's file name, or the anchor's name in brackets."""
  return f'[{row["source"]}]' if row.get('source') in anchors.ANCHOR_NAMES else row['file']


def format_table(rows) -> str:
  """A fixed-width text table of score rows (anchors first, then one line per dream), verdicts
  (A/R/N: artifacts, resemblance, novelty as H/M/L) and a legend."""
  by_name = {s.name: s for s in measures.SCORES}
  cols = [by_name[n] for n in calibration.TABLE_SCORES]
  width = max([len('file')] + [len(_label(r)) for r in rows])
  head = (f'{"file":<{width}}  A R N  ' + '  '.join(f'{s.short:>8}' for s in cols) + '  flags')
  lines = [head, '-' * len(head)]
  for r in rows:
    flags = (','.join(n for n in measures.FLAG_NAMES if r.get(n))
             or ('error' if r.get('error') else '-'))
    verdict = ' '.join((r.get(v) or '?')[0] for v in calibration.VERDICTS)
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
  """`audiolstm.judge.evaluate: error: MESSAGE` on stderr, then exit with `status` (audiolstm.cli).

  Args:
    message: the error (its lines are joined into one).
    status: the exit status.

  Raises:
    SystemExit: always, with `status`.
  """
  from audiolstm import cli  # pylint: disable=g-import-not-at-top  # absl only when run
  cli.fail(message, status, prog='audiolstm.judge.evaluate')


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a usage dump (audiolstm.cli)."""
  # absl loads only for the command line
  from audiolstm import cli  # pylint: disable=g-import-not-at-top
  return cli.parse_flags(argv, prog='audiolstm.judge.evaluate')


def main(argv):
  """Score every dream of --workdir, its samples, streams and --files; write WORKDIR/scores.csv
  and print the table."""
  # absl loads only for the command line
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags_ = flags.FLAGS
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])} (usage: python -m audiolstm.judge.evaluate '
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
  kept = calibration.alive_summary(rows)
  if kept['files']:
    print(f'alive: {kept["alive"]:.0%} of the {kept["windows"]} windows of {kept["files"]} long '
          f'file(s) ({", ".join(f"{k} {n}" for k, n in kept["counts"].items())}); '
          f'{kept["stuck"]} with no window alive')
  print(f'wrote {path} ({len(rows)} dream(s))')


def define_flags():
  """The command-line flags (defined only when run as a program: never at import time)."""
  # absl loads only for the command line
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('workdir', None, 'A run directory made by python -m audiolstm.main.')
  flags.DEFINE_list('reference', [], 'Audio file(s) to compare with instead of the run\'s '
                    'input_files (comma-separated).')
  flags.DEFINE_list('files', [], 'More audio files to score (comma-separated), beside the '
                    'dreams, WORKDIR/samples and WORKDIR/streams; files over '
                    f'{alive.LONG_S:g} s also get the alive score.')


if __name__ == '__main__':
  # absl loads only for the command line
  from absl import app  # pylint: disable=g-import-not-at-top
  define_flags()
  app.run(main, flags_parser=parse_flags)
