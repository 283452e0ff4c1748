r"""Sweeps: one training run per point of a grid of config overrides, each in its own workdir.

  python -m launch.sweep --config=configs/sweep_hop_size.py --root=runs/hop_size
  python -m launch.sweep --config=configs/fft.py --root=runs/lr --sweep=lr=1e-3,3e-4 \
      --sweep=num_layers=1,2 [--config.max_steps=2000 ...] [--mode=local|print|summary]

The points come from the config file's `sweep(add)` function, which calls
`add(**{'config.FIELD': value, ...})` once per point (the convention of ml_collections sweep
files, as in Flax's examples), and/or from `--sweep=FIELD=V1,V2,...` flags, whose Cartesian
product is taken in the order given (the first flag varies slowest); with both, every point of
`sweep(add)` is combined with every point of the product. A --sweep list is split at the commas
outside brackets and quotes; each value, like that of a `--config.FIELD=VALUE` flag (which sets a
field for every point), is read exactly as audiolstm.main reads `--config.FIELD=VALUE` (absl and
ml_collections.config_flags, by the type of the field: 1e-3 for a float, True or true for a bool,
('a.wav',) for a tuple, tanh for a string; nothing is evaluated). Each point runs in
ROOT/<point>, named after its overrides (e.g. ROOT/seg_len=512,hop_size=256), so running the same
sweep again resumes every unfinished point.

Modes:
  local    (default) the runs one after another in this process (audiolstm.run.train); a point that
           fails is reported and the sweep goes on.
  print    (or --dry-run) print one `python -m audiolstm.main ...` command per point, for a
           cluster or a queue; nothing is run.
  summary  no training: the table of the work directories already under ROOT.

At the end (local, summary) a table of every point: final training loss, final validation loss
(when metrics.jsonl has one), the median verdicts (A R N: artifacts, resemblance, novelty, each
High, Medium or Low) of its dreams of the second half of training and whether it passes the default
configs' bar (audiolstm.judge.calibration.summarize), the medians over those dreams of its main
scores
(clicks_per_s, flatness_ratio, frame_distance_db, motion_excess, max_ncc, spectral_distance_db;
lower is better for all), and its status; under each point, its anchors [unseen], [grains] and
[noise] (audiolstm.judge.anchors: made from its own recording) with their verdicts and key scores,
so
that the numbers read against what real new playing, shuffled grains and noise score. The same
in ROOT/summary.csv (one row per point, the anchors' key scores as columns unseen_flatness_ratio,
...), and each point's scores in ROOT/<point>/scores.csv (a cache: only new dreams are scored).

Bad input (unknown field, malformed --sweep, value of the wrong type, missing config) gives one
line on stderr and exit status 2 before anything runs; exit status 1 if a point failed.
"""
import argparse
import copy
import csv
import dataclasses
import difflib
import hashlib
import inspect
import io
import itertools
import json
import math
import os
import re
import shlex
import sys
import time

from absl import flags
from ml_collections import config_flags

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # `python launch/sweep.py` from a checkout: config files and this
  sys.path.insert(0, REPO_ROOT)  # file import `audiolstm` (found without an install)

PROG = 'launch.sweep'
MODES = ('local', 'print', 'summary')
SCORES = ('max_ncc', 'spectral_distance_db', 'flatness_ratio')  # the dreams' main scores
VERDICTS = ('artifacts', 'resemblance', 'novelty')               # as in audiolstm.judge.evaluate
MEDIANS = SCORES + ('clicks_per_s', 'frame_distance_db', 'motion_excess', 'copied_s')
ANCHORS = ('unseen', 'grains', 'noise')                           # shown under each point
ANCHOR_SCORES = ('frame_distance_db', 'motion_excess', 'flatness_ratio')
ANCHOR_COLUMNS = tuple(f'{a}_{s}' for a in ANCHORS for s in ANCHOR_SCORES)
RESULTS = (('final_loss', 'val_loss') + VERDICTS + ('passes', 'fails') + MEDIANS
           + ('dreams', 'steps', 'status', 'seconds') + ANCHOR_COLUMNS)
_OVERRIDE = re.compile(r'^--config\.([A-Za-z_]\w*)=(.*)$', re.S)
_FIELD = re.compile(r'^(?:config\.)?([A-Za-z_]\w*)$')
_MAX_NAME = 120


class SweepError(ValueError):
  """Bad sweep input; the message is one line for the user."""


@dataclasses.dataclass
class Point:
  """One run of a sweep: its overrides, its directory name, and its config (base + overrides)."""
  overrides: dict
  name: str
  config: object = None


# ----------------------------------------------------------------------------- parsing values


def split_top_level(text: str) -> list:
  """`text` split at the commas outside brackets and quotes: '1,(2,3),"a,b"' -> 3 items."""
  items, depth, quote, start, i = [], 0, None, 0, 0
  while i < len(text):
    ch = text[i]
    if quote:
      if ch == '\\':
        i += 1
      elif ch == quote:
        quote = None
    elif ch in '\'"':
      quote = ch
    elif ch in '([{':
      depth += 1
    elif ch in ')]}':
      depth -= 1
      if depth < 0:
        raise SweepError(f'unbalanced {ch!r} in {text!r}')
    elif ch == ',' and depth == 0:
      items.append(text[start:i])
      start = i + 1
    i += 1
  if quote or depth:
    raise SweepError(f'unclosed {"quote" if quote else "bracket"} in {text!r}')
  items.append(text[start:])
  return [item.strip() for item in items]


def parse_value(config, field: str, text: str):
  """`text` read as audiolstm.main reads `--config.FIELD=text`: by absl and
  ml_collections.config_flags, with the parser of the type of the field's current value (float:
  1e-3, 1; int: 512; bool: True, true, 1; tuple: ('a.wav',), ['a.wav'], a.wav; str: the text as
  written). Nothing is evaluated; `config` is not changed.

  Raises:
    SweepError: the text does not parse as the field's type (the reason in one line).
  """
  scratch = copy.deepcopy(config)
  argv = [PROG, f'--config.{field}={text}']
  flag_values = flags.FlagValues()
  try:
    config_flags.DEFINE_config_dict('config', scratch, flag_values=flag_values,
                                    lock_config=False, sys_argv=argv)
    flag_values(argv)
  except flags.Error as e:
    reason = ' '.join(str(e).split(': ', 1)[-1].split())  # absl: 'flag --config.F=V: REASON'
    raise SweepError(f'{field}={text!r} does not fit the field (a {type(config[field]).__name__}'
                     f', now {config[field]!r}): {reason}') from None
  return scratch[field]


def parse_sweep_flag(arg: str):
  """'FIELD=V1,V2,...' -> (FIELD, [raw texts]): one axis of the product."""
  field, sep, values = arg.partition('=')
  m = _FIELD.match(field.strip())
  if not sep or not m or not values.strip():
    raise SweepError(f'--sweep={arg}: write --sweep=FIELD=VALUE1,VALUE2,... (e.g. '
                     '--sweep=hop_size=512,256)')
  texts = split_top_level(values)
  if any(not t for t in texts):
    raise SweepError(f'--sweep={arg}: empty value in the list')
  return m.group(1), texts


def product(axes) -> list:
  """Cartesian product of [(field, [values])] as dicts, the first axis varying slowest."""
  fields = [f for f, _ in axes]
  if len(set(fields)) != len(fields):
    dup = next(f for f in fields if fields.count(f) > 1)
    raise SweepError(f'--sweep gives field {dup!r} twice: list all its values in one flag')
  return [dict(zip(fields, combo)) for combo in itertools.product(*[v for _, v in axes])]


# ----------------------------------------------------------------------------- config files


def load_config_file(spec: str):
  """(module, base ConfigDict) of 'path/to/config.py[:ARG]' (get_config(ARG) if ARG given)."""
  path, _, arg = spec.partition(':')
  if not path:
    raise SweepError('no config given: add --config=configs/fft.py (or a sweep file, e.g. '
                     'configs/sweep_hop_size.py)')
  if not os.path.isfile(path):
    raise SweepError(f'config file not found: {path} (try --config=configs/sweep_hop_size.py '
                     'from the repository root)')
  from audiolstm.config import defaults  # pylint: disable=g-import-not-at-top  # no jax
  try:
    module = defaults.load_config_module(path)
    config = module.get_config(arg) if arg else module.get_config()
  except SweepError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # anything a config file may raise
    message = str(e).splitlines()[0] if str(e) else ''
    raise SweepError(f'cannot load the config {spec}: {type(e).__name__}: {message}') from None
  return module, config


def _point_field(key: str, spec: str) -> str:
  """The field of a sweep() key: 'config.hop_size' (or 'hop_size') -> 'hop_size'."""
  m = _FIELD.match(str(key))
  if not m:
    raise SweepError(f'{spec}: sweep() added {key!r}: keys are config fields, e.g. '
                     "add(**{'config.hop_size': 512})")
  return m.group(1)


def file_points(module, spec: str) -> list:
  """The overrides of the config file's `sweep(add)` (an empty list if it has none).

  `sweep(add)` calls `add(**{'config.FIELD': value, ...})` once per point (the convention of
  ml_collections sweep files; `add(FIELD=value)` works too). The older `sweep()` that returns the
  list of {field: value} dicts is still read.
  """
  sweep_fn = getattr(module, 'sweep', None)
  if sweep_fn is None:
    return []
  points = []
  try:
    if inspect.signature(sweep_fn).parameters:
      sweep_fn(lambda **overrides: points.append(overrides))
    else:
      returned = sweep_fn()
      if isinstance(returned, (list, tuple)) and all(isinstance(p, dict) for p in returned):
        points = list(returned)
      else:
        raise SweepError(f'{spec}: sweep() must return a list of {{field: value}} dicts, or '
                         "take add and call add(**{'config.FIELD': value}) once per point")
  except SweepError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise SweepError(f'{spec}: sweep() failed: {type(e).__name__}: {e}') from None
  if not points:
    raise SweepError(f"{spec}: sweep() added no point: call add(**{{'config.FIELD': value}}) "
                     'once per point')
  return [{_point_field(k, spec): v for k, v in p.items()} for p in points]


def check_field(config, field: str, source: str) -> None:
  """SweepError naming `source` unless `field` is a field of the config."""
  if field not in config:
    close = difflib.get_close_matches(field, list(config.keys()), n=1)
    hint = f' (did you mean {close[0]}?)' if close else ''
    raise SweepError(f'{source}: unknown config field {field!r}{hint}')


def set_field(config, field: str, value, source: str) -> None:
  """config[field] = value, or SweepError naming `source` (unknown field, wrong type)."""
  check_field(config, field, source)
  try:
    config[field] = value
  except (TypeError, ValueError) as e:
    raise SweepError(f'{source}: {field}={value!r} does not fit the field (a '
                     f'{type(config[field]).__name__}, now {config[field]!r})') from None


# ----------------------------------------------------------------------------- points


def value_slug(value) -> str:
  """A value as text for a directory name: 0.001, True, tanh, a.wav+b.wav."""
  if isinstance(value, (tuple, list)):
    return '+'.join(value_slug(v) for v in value) or 'none'
  text = os.path.basename(value) if isinstance(value, str) and '/' in value else str(value)
  return re.sub(r'[^A-Za-z0-9._+-]+', '_', text).strip('_') or '_'


def point_name(overrides: dict) -> str:
  """The directory name of a point: 'seg_len=512,hop_size=256' ('base' for no overrides)."""
  name = ','.join(f'{k}={value_slug(v)}' for k, v in overrides.items()) or 'base'
  if len(name) > _MAX_NAME:
    digest = hashlib.sha1(repr(sorted(overrides.items())).encode()).hexdigest()[:8]
    name = f'{name[:_MAX_NAME - 9]}-{digest}'
  return name


def _apply_overrides(base, override_flags) -> dict:
  """Apply '--config.FIELD=VALUE' texts to `base` (in place); returns {field: value as stored}."""
  base_overrides = {}
  for flag in override_flags:
    m = _OVERRIDE.match(flag)
    if not m:
      raise SweepError(f'{flag}: write overrides as --config.FIELD=VALUE')
    field = m.group(1)
    check_field(base, field, flag)
    try:
      value = parse_value(base, field, m.group(2))
    except SweepError as e:
      raise SweepError(f'{flag}: {e}') from None
    set_field(base, field, value, flag)
    base_overrides[field] = base[field]
  return base_overrides


def _points(base, combos, axes, config_spec) -> list:
  """[Point] of each combination of overrides, uniquely named and validated."""
  # no jax
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  points, names = [], set()
  for overrides in combos:
    config = copy.deepcopy(base)
    for field, value in overrides.items():
      source = '--sweep' if any(f == field for f, _ in axes) else f'{config_spec} sweep()'
      set_field(config, field, value, source)
    overrides = {k: config[k] for k in overrides}  # as stored (e.g. int -> float fields)
    name = point_name(overrides)
    unique, n = name, 2
    while unique in names:
      unique, n = f'{name}-{n}', n + 1
    names.add(unique)
    try:
      config_lib.prepare(config)
    except config_lib.ConfigError as e:
      raise SweepError(f'point {unique}: {e}') from None
    points.append(Point(overrides, unique, config))
  return points


def expand(config_spec: str, sweep_flags=(), override_flags=()):
  """The sweep's points, each with its config, checked before anything runs.

  Args:
    config_spec: 'path/to/config.py[:ARG]'.
    sweep_flags: texts 'FIELD=V1,V2,...' (product, first slowest), combined with the file's sweep().
    override_flags: texts '--config.FIELD=VALUE' applied to every point.

  Returns:
    (base overrides {field: value}, [Point]) in run order.

  Raises:
    SweepError: anything wrong with the input, in one line.
  """
  module, base = load_config_file(config_spec)
  base_overrides = _apply_overrides(base, override_flags)
  from_file = file_points(module, config_spec)
  axes = []
  for flag in sweep_flags:
    field, texts = parse_sweep_flag(flag)
    check_field(base, field, f'--sweep={flag}')
    try:
      axes.append((field, [parse_value(base, field, t) for t in texts]))
    except SweepError as e:
      raise SweepError(f'--sweep={flag}: {e}') from None
  from_flags = product(axes) if axes else []
  if not from_file and not from_flags:
    raise SweepError(f'nothing to sweep: {config_spec.partition(":")[0]} has no sweep() '
                     'function; add --sweep=FIELD=VALUE1,VALUE2,...')
  overlap = set().union(*from_file) & set(f for f, _ in axes) if from_file else set()
  if overlap:
    raise SweepError(f'--sweep sets {sorted(overlap)[0]!r}, which the sweep() of {config_spec} '
                     'already varies')
  combos = [{**a, **b} for a in (from_file or [{}]) for b in (from_flags or [{}])]
  return base_overrides, _points(base, combos, axes, config_spec)


# ----------------------------------------------------------------------------- commands


def flag_value(value) -> str:
  """A value as ml_collections reads it back from --config.FIELD=VALUE (strings in tuples in
  double quotes, so that the shell-quoted flag stays readable)."""
  if isinstance(value, str):
    return value
  if isinstance(value, (tuple, list)):
    items = [json.dumps(v, ensure_ascii=False) if isinstance(v, str) else flag_value(v)
             for v in value]
    return '(' + ', '.join(items) + (',)' if len(items) == 1 else ')')
  return repr(value)


def command_line(config_spec: str, workdir: str, overrides: dict, python='python') -> str:
  """The shell command that trains one point."""
  args = [python, '-m', 'audiolstm.main', f'--config={config_spec}', f'--workdir={workdir}']
  args += [f'--config.{k}={flag_value(v)}' for k, v in overrides.items()]
  return ' '.join(shlex.quote(a) for a in args)


# ----------------------------------------------------------------------------- results


def read_results(workdir: str) -> dict:
  """Final loss, final val_loss, steps and total steps from a run's metrics.jsonl/config.json."""
  from audiolstm.run import rundir  # pylint: disable=g-import-not-at-top  # no jax
  from audiolstm.config.settings import ConfigError  # pylint: disable=g-import-not-at-top
  out = {'final_loss': None, 'val_loss': None, 'steps': 0, 'total': None}
  try:
    records = rundir.read_metrics(workdir)  # a last line torn by a kill is left out
  except ConfigError:  # damaged before its last line: no results
    records = []
  if records:
    out['final_loss'] = records[-1].get('loss')
    out['steps'] = records[-1].get('step', 0)
  vals = [r['val_loss'] for r in records if 'val_loss' in r]
  out['val_loss'] = vals[-1] if vals else None
  try:
    config = rundir.read_config_file(os.path.join(workdir, 'config.json'), derived=True)
  except ConfigError:  # not JSON: no total
    config = None
  out['total'] = config.get('_total_steps') if config else None
  return out


def _first_line(e: Exception) -> str:
  return f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}'


def score_summary(workdir: str) -> dict:
  """A run's verdicts and scores for the summary (audiolstm.judge.calibration.summarize of its
  rows).

  The rows come from audiolstm.judge.report.run_scores: RUN/scores.csv, scoring (and saving) the
  dreams
  missing there, with the anchors.

  Returns:
    {verdict: median level, 'passes': bool, 'fails': reasons, <MEDIANS>: median over the dreams of
    the second half of training, 'dreams': count of all dreams scored, <ANCHOR_COLUMNS>: the
    anchors' key scores, '_anchors': {name: row}}, with 'score_error' (one line) when scores are
    missing (then the scores are nan and 'passes' None if none could be had).
  """
  unscored = {**{v: '' for v in VERDICTS}, 'passes': None, 'fails': '',
              **{s: math.nan for s in MEDIANS}, 'dreams': 0,
              **{c: math.nan for c in ANCHOR_COLUMNS}, '_anchors': {}}
  try:
    # pylint: disable=g-import-not-at-top  # the judging modules load only when scores are read
    from audiolstm.judge import calibration
    from audiolstm.judge import report
    rows, note = report.run_scores(workdir, log=lambda line: None)
    dreams = [r for r in rows if r['source'] == 'dream']
    if note and not dreams:
      return {**unscored, 'score_error': note}
    summary = calibration.summarize(rows)
  except Exception as e:  # pylint: disable=broad-except  # scores are a bonus, not the run
    return {**unscored, 'score_error': _first_line(e)}
  out = {**{v: summary.get(v, '') for v in VERDICTS}, 'passes': bool(summary.get('passes')),
         'fails': summary.get('fails', ''), **{s: summary.get(s, math.nan) for s in MEDIANS},
         'dreams': len(dreams), '_anchors': summary.get('anchors', {})}
  for a in ANCHORS:
    row = out['_anchors'].get(a, {})
    out.update({f'{a}_{s}': row.get(s, math.nan) for s in ANCHOR_SCORES})
  if note:
    out['score_error'] = note
  return out


def summarize(point: Point, workdir: str, status=None, seconds=None) -> dict:
  """One summary row: the point, its results and its status."""
  from audiolstm import files  # pylint: disable=g-import-not-at-top  # no jax
  row = {'point': point.name, **point.overrides}
  if not files.isdir(workdir):
    return {**row, 'status': status or 'missing', 'dreams': 0, 'steps': 0, 'workdir': workdir}
  results = read_results(workdir)
  row.update(final_loss=results['final_loss'], val_loss=results['val_loss'],
             steps=results['steps'], seconds=seconds)
  row.update(score_summary(workdir))
  if status is None:
    total = results['total']
    if results['final_loss'] is None:
      status = 'not started'
    elif total and results['steps'] < total:
      status = f'partial {results["steps"]}/{total}'
    else:
      status = 'done'
  if row.pop('score_error', None):
    status += '; dreams not scored'
  row['status'] = status
  row['workdir'] = workdir
  return row


def _cell(value) -> str:
  if value is None or value == '':
    return '-'
  if isinstance(value, bool):
    return 'yes' if value else 'no'
  if isinstance(value, float):
    return 'nan' if math.isnan(value) else f'{value:.4g}'
  return str(value)


def _letters(row: dict) -> str:
  """'H M L': the verdicts' initials, or '' when there are none."""
  levels = [row.get(v) or '' for v in VERDICTS]
  return ' '.join((v or '?')[0] for v in levels) if any(levels) else ''


# (key, header, right-aligned): the summary table's columns
_TABLE = (('point', 'point', False), ('final_loss', 'loss', True), ('val_loss', 'val_loss', True),
          ('_arn', 'A R N', False), ('passes', 'pass', False), ('clicks_per_s', 'clicks/s', True),
          ('flatness_ratio', 'flat', True), ('frame_distance_db', 'frame dB', True),
          ('motion_excess', 'motion', True), ('max_ncc', 'ncc', True),
          ('spectral_distance_db', 'spec dB', True), ('dreams', 'dreams', True),
          ('status', 'status', False), ('fails', 'fails', False))


def format_table(rows) -> str:
  """The summary as fixed-width text: one line per point, and one per anchor under it."""
  lines = []
  for r in rows:
    lines.append([(r.get('fails') or '') if k == 'fails' else
                  _cell(_letters(r) if k == '_arn' else r.get(k)) for k, _, _ in _TABLE])
    for name in ANCHORS:
      a = (r.get('_anchors') or {}).get(name)
      if a:
        shown = {'point': f'  [{name}]', '_arn': _letters(a),
                 **{s: _cell(a.get(s)) for s in ANCHOR_SCORES}}
        lines.append([shown.get(k, '') for k, _, _ in _TABLE])
  widths = [max([len(h)] + [len(c[i]) for c in lines]) for i, (_, h, _) in enumerate(_TABLE)]

  def line(values):
    return '  '.join(f'{v:>{w}}' if right else f'{v:<{w}}'
                     for v, w, (_, _, right) in zip(values, widths, _TABLE)).rstrip()
  head = line([h for _, h, _ in _TABLE])
  out = [head, '-' * len(head)] + [line(c) for c in lines]
  out += ['A R N: median verdicts (artifacts, resemblance, novelty: H high = good, M medium, '
          'L low) of the dreams of the second half of training; pass: the default configs\' bar',
          '(fails: why not); the numbers are medians over the same dreams, lower is better (see '
          'audiolstm.judge.evaluate).',
          'Under each point its [anchors], made from its own recording, calibrate the verdicts: '
          '[unseen] = real new playing, [grains] = shuffled 0.1 s grains, [noise] = white noise.',
          'Listening is the judge.']
  return '\n'.join(out)


def write_summary(root: str, rows) -> str:
  """ROOT/summary.csv of the rows (atomically); returns its path."""
  fields = ['point']
  for r in rows:  # the swept fields
    fields += [k for k in r if k not in fields and k not in RESULTS and k != 'workdir'
               and not k.startswith('_')]
  fields += list(RESULTS) + ['workdir']
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=fields, extrasaction='ignore', lineterminator='\n')
  writer.writeheader()
  for r in rows:
    writer.writerow({k: '' if r.get(k) is None else
                     (flag_value(r[k]) if isinstance(r[k], (tuple, list)) else r[k])
                     for k in fields})
  from audiolstm import files  # pylint: disable=g-import-not-at-top  # no jax
  return files.write_text_atomic(os.path.join(root, 'summary.csv'), out.getvalue())


# ----------------------------------------------------------------------------- running


def run_local(points, root: str, log=print) -> list:
  """Train every point in turn (in this process); a failed point is recorded and the next runs.

  Returns:
    The summary rows. A run stopped by SIGINT/SIGTERM (its checkpoint saved) ends the sweep.
  """
  from audiolstm.run import train  # pylint: disable=g-import-not-at-top  # jax only when training
  rows = []
  try:
    for i, point in enumerate(points):
      workdir = os.path.join(root, point.name)
      tag = f'[{i + 1}/{len(points)} {point.name}]'
      log(f'{PROG}: {tag} training in {workdir}')
      t0 = time.perf_counter()
      status = None
      stopped = False
      try:
        summary = train.train_and_evaluate(point.config, workdir,
                                           log=lambda m, tag=tag: log(f'{tag} {m}'))
        if summary.get('stopped_by'):
          status, stopped = f'stopped by {summary["stopped_by"]}', True
      except Exception as e:  # pylint: disable=broad-except  # one point failing ends nothing
        message = ' '.join(str(e).split())[:300]
        status = f'failed: {type(e).__name__}: {message}'
        log(f'{PROG}: {tag} {status}')
      rows.append(summarize(point, workdir, status=status or 'done',
                            seconds=time.perf_counter() - t0))
      write_summary(root, rows)
      if stopped:
        log(f'{PROG}: stopped; run the same command to resume the sweep')
        break
  except KeyboardInterrupt:
    if rows:
      write_summary(root, rows)
    raise
  return rows


class _Parser(argparse.ArgumentParser):
  """argparse with one-line errors (exit 2)."""

  def error(self, message):
    raise SweepError(f'{message} (usage: python -m {PROG} --config=FILE[:ARG] --root=DIR '
                     '[--sweep=FIELD=V1,V2,...] [--config.FIELD=VALUE ...] '
                     '[--mode=local|print|summary] [--dry-run])')


def parse_args(argv):
  """(namespace, override flags) of the command line; SweepError for anything wrong."""
  parser = _Parser(prog=f'python -m {PROG}', allow_abbrev=False,
                   description='Expand a sweep into one run per point: run them here one after '
                               'another, or print their commands.')
  parser.add_argument('--config', required=True,
                      help='config file[:ARG], e.g. configs/sweep_hop_size.py or configs/fft.py')
  parser.add_argument('--root', required=True, help='one work directory per point goes here')
  parser.add_argument('--sweep', action='append', default=[], metavar='FIELD=V1,V2,...',
                      help='one axis of the product (repeat the flag for more)')
  parser.add_argument('--mode', choices=MODES, default='local',
                      help='local: run here; print: print the commands; summary: table only')
  parser.add_argument('--dry-run', action='store_true', help='same as --mode=print')
  parser.add_argument('--python', default='python', help='the interpreter in printed commands')
  args, rest = parser.parse_known_args(argv)
  for arg in rest:
    if not _OVERRIDE.match(arg):
      raise SweepError(f'unknown argument {arg!r}: settings for every point are written '
                       '--config.FIELD=VALUE')
  if args.dry_run:
    if args.mode not in ('local', 'print'):
      raise SweepError(f'--dry-run prints the commands: it cannot go with --mode={args.mode}')
    args.mode = 'print'
  return args, rest


def main(argv=None) -> int:
  """The command line; returns the exit status (0 all fine, 1 a point failed, 2 bad input)."""
  from audiolstm import cli  # pylint: disable=g-import-not-at-top  # no jax
  argv = sys.argv[1:] if argv is None else argv
  try:
    args, override_flags = parse_args(argv)
    base_overrides, points = expand(args.config, args.sweep, override_flags)
  except SweepError as e:
    cli.error(str(e), prog=PROG)
    return 2

  if args.mode == 'print':
    for p in points:
      print(command_line(args.config, os.path.join(args.root, p.name),
                         {**base_overrides, **p.overrides}, python=args.python))
    return 0

  if args.mode == 'summary':
    rows = [summarize(p, os.path.join(args.root, p.name)) for p in points]
  else:
    print(f'{PROG}: {len(points)} run(s) under {args.root}: '
          + ', '.join(p.name for p in points), flush=True)
    rows = run_local(points, args.root, log=lambda m: print(m, flush=True))
  path = write_summary(args.root, rows)
  print()
  print(format_table(rows))
  print(f'summary: {path}')
  if args.mode == 'local':
    all_done = len(rows) == len(points) and all(r['status'].startswith('done') for r in rows)
    return 0 if all_done else 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
