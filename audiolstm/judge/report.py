r"""One self-contained HTML page per run, to listen to the dreams and find the best at a glance.

  python -m audiolstm.judge.report --workdir=RUN        # writes RUN/report.html; open it in a
  browser

The page links only to files inside RUN (relative links; no server, no internet, no external
JS/CSS): the resolved config (collapsible), the loss plot, the training audio's spectrogram, and a
table with one row per anchor (audiolstm.judge.anchors: the recording's unseen tail, a literal copy,
shuffled grains and noise, so that each verdict can be heard) and then one per dream: an audio
player, its spectrogram (made with plots.spectrogram_png into RUN/spectrograms/ when missing), its
verdicts (artifacts, resemblance, novelty: High, Medium or Low, calibrated on the anchors) and its
scores (evaluate.score_run, cached in RUN/scores.csv); clicking a column header sorts the table by
it.
"""
import csv
import datetime
import html
import io
import json
import math
import os
import sys
import urllib.parse

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.config.settings import ConfigError
from audiolstm.judge import alive
from audiolstm.judge import anchors
from audiolstm.judge import evaluate
from audiolstm.judge import measures
from audiolstm.judge import calibration
from audiolstm.run import plots
from audiolstm.run import rundir

INPUT_PREVIEW_S = 30.0   # the spectrograms of the training audio and anchors show at most this
VERDICT_CLASS = {'High': 'v-high', 'Medium': 'v-medium', 'Low': 'v-low'}
VERDICT_DOCS = {
    'artifacts': 'High = as free of clicks, noise and jumps as the recording\'s unseen tail; '
                 'Medium = some more; Low = much more, or a flagged / unreadable file.',
    'resemblance': 'High = timbre and motion (how notes hold and move) as close to the input as '
                   'its unseen tail; Medium = nearer that than noise; Low = like noise.',
    'novelty': 'High = copies the input no more closely than its unseen tail does; Medium = '
               'some copying; Low = copies a second or more literally.',
}
ALIVE_DOC = (f'Files over {alive.LONG_S:g} s (samples, streams): the fraction of their '
             f'{alive.WINDOW_S:g} s windows that keep changing like the recording, and one letter '
             'per window: A alive, S silent, N noise, H held (a drone: flux and onsets far below '
             'the recording\'s), C copy (a literal match of 3 s). Calibrated on the recording\'s '
             'own windows and white noise at its level.')
ANCHOR_DOCS = {
    'unseen': 'The recording\'s validation split, never trained on: real new playing, what a '
              'good dream scores.',
    'seen tail': 'The last 10 % of the recording (no validation split: it was trained on), '
                 'judged against the audio before it: stands in for real new playing.',
    'copy': 'A literal excerpt of the training audio: what copying scores (novelty Low).',
    'grains': 'The training audio cut into 0.1 s grains in random order: its timbre without its '
              'motion (never High on all three).',
    'noise': 'White noise at the input\'s level: what noise scores (artifacts Low).',
}

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; } h2 { font-size: 1.15em; margin-top: 1.5em; }
.summary, .note { color: #555; }
table { border-collapse: collapse; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: right; vertical-align: top; }
td.name, th.name, td.media { text-align: left; }
th { position: sticky; top: 0; background: #f4f4f4; white-space: nowrap; }
th[data-sort] { cursor: pointer; } th[data-sort]:hover { background: #e4e4f4; }
th[aria-sort=ascending]::after { content: " \\25B2"; }
th[aria-sort=descending]::after { content: " \\25BC"; }
tr.flagged td { background: #fff0f0; } .flag { color: #b00; font-weight: bold; }
tr.anchor td { background: #eef2fa; } tr.anchor td.name { border-left: 4px solid #5b7bb5; }
td.verdict { text-align: center; font-weight: bold; }
.verdict.v-high { background: #d4f4d4; color: #125c12; }
.verdict.v-medium { background: #fff0b8; color: #6e5200; }
.verdict.v-low { background: #ffd6d6; color: #a00; }
span.verdict { padding: 0 4px; border-radius: 3px; font-weight: bold; }
table.config td { text-align: left; font-family: monospace; }
td.media img { display: block; width: 420px; margin-top: 4px; }
audio { width: 420px; } dt { font-weight: bold; margin-top: 0.4em; }
small.about { display: block; max-width: 16em; color: #445; }
"""

_SORT_JS = """
(function () {
  var table = document.getElementById('dreams');
  if (!table) return;
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    if (!th.dataset.sort) return;
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0], num = th.dataset.sort === 'num';
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        if (num) {
          x = parseFloat(x); y = parseFloat(y);
          if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);  /* missing values last */
          return asc ? x - y : y - x;
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""


def _url(relpath: str) -> str:
  """A relative URL (percent-encoded, '/'-separated) of a path inside the run directory."""
  return urllib.parse.quote(relpath.replace(os.sep, '/'))


def _js_number(value) -> str:
  """A number as JavaScript's parseFloat reads it ('Infinity', 'NaN', ...)."""
  if isinstance(value, bool):
    return str(int(value))
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return 'NaN'
  if isinstance(value, float) and math.isinf(value):
    return 'Infinity' if value > 0 else '-Infinity'
  return repr(value)


def _cell(value) -> str:
  if isinstance(value, float):
    return '&ndash;' if math.isnan(value) else html.escape(f'{value:.3g}')
  return html.escape(str(value))


def _last_metrics(workdir: str):
  """(last logged step, its loss) from metrics.jsonl, or (None, None) (none, or damaged)."""
  try:
    records = rundir.read_metrics(os.path.join(workdir, 'metrics.jsonl'))
  except (OSError, ConfigError):
    return None, None
  for record in reversed(records):
    if isinstance(record, dict) and 'step' in record and 'loss' in record:
      return record['step'], record['loss']
  return None, None


def _read_cache(path: str) -> list:
  """Rows of a scores.csv with every column of evaluate.CSV_FIELDS, else [] (missing, unreadable,
  or written by an older version: its dreams are simply scored again)."""
  try:
    header = next(csv.reader(io.StringIO(files.read_text(path, newline=''))), [])
    if not set(evaluate.CSV_FIELDS) <= set(header):
      return []
    return evaluate.read_scores(path)
  except (OSError, ValueError, KeyError, csv.Error):
    return []


def _changed_since(path: str, cache: str) -> bool:
  """Whether the file at `path` was written after `cache` (its cached scores are stale: a dream
  replaced under the same name)."""
  try:
    return files.mtime_ns(path) > files.mtime_ns(cache)
  except OSError:
    return False


def _dream_order(row: dict) -> tuple:
  """Training dreams first, oldest first; then the kept files (samples, streams)."""
  return (row.get('source', 'dream') != 'dream', row['iteration'], row['kind'], row['stream'],
          row['file'])


def run_scores(workdir: str, names=None, reference=None, log=print, kept=None) -> tuple:
  """(rows, note): the anchors', the dreams' and the kept files' scores, from RUN/scores.csv
  where it has them.

  The files missing there, or written after it (replaced under the same name), are scored
  (evaluate.score_run(names=missing, kept=missing)) and the cache saved;
  the anchors are scored again with them, since they calibrate the verdicts (and whenever one of
  them or its RUN/anchors/<name>.wav is missing).

  Args:
    workdir: the run directory.
    names: the dream file names wanted (default: every WAV in RUN/dreams/).
    reference: audio files to score against instead of the run's input_files.
    log: receives the one-line warning when scores are missing.
    kept: [(source, path)] of the kept files wanted (default: evaluate.kept_files: RUN/samples/
      and RUN/streams/).

  Returns:
    (rows: the anchors in anchors.ANCHOR_NAMES order, then the dreams among `names` that have
    scores, oldest first, then the kept files; note: '' or one line saying why scores are
    missing, e.g. the training audio has moved).
  """
  if names is None:
    names = [os.path.basename(p) for p in evaluate.dream_files(workdir)]
  kept = evaluate.kept_files(workdir) if kept is None else list(kept)
  paths = {**{n: os.path.join(workdir, 'dreams', n) for n in names},
           **{evaluate.kept_name(workdir, p): p for _, p in kept}}
  cache = os.path.join(workdir, 'scores.csv')
  cached = _read_cache(cache)
  dreams = {r['file']: r for r in cached if r['source'] not in anchors.ANCHOR_NAMES
            and r['file'] in paths and not _changed_since(paths[r['file']], cache)}
  found = {r['source']: r for r in cached if r['source'] in anchors.ANCHOR_NAMES}
  missing = [n for n in names if n not in dreams]
  missing_kept = [(s, p) for s, p in kept if evaluate.kept_name(workdir, p) not in dreams]
  anchors_ok = all(a in found and files.isfile(os.path.join(workdir, found[a]['file']))
                   for a in anchors.ANCHOR_NAMES)
  note = ''
  if missing or missing_kept or not anchors_ok:
    try:
      fresh = evaluate.score_run(workdir, reference=reference, names=missing, kept=missing_kept)
      found = {r['source']: r for r in fresh if r['source'] in anchors.ANCHOR_NAMES}
      dreams.update((r['file'], r) for r in fresh if r['source'] not in anchors.ANCHOR_NAMES)
      evaluate.write_scores(workdir, _ordered(found, dreams))
    except (audio_io.AudioError, ValueError, OSError) as e:
      note = (f'scores unavailable for {len(missing) + len(missing_kept)} file(s): {e}'
              if missing or missing_kept else
              f'anchors unavailable: {e}')
      log(f'audiolstm.judge.report: warning: {note}')
  return _ordered(found, dreams), note


def _ordered(found: dict, dreams: dict) -> list:
  """Anchor rows {source: row} in anchors.ANCHOR_NAMES order (others after), then dream rows."""
  order = {a: i for i, a in enumerate(anchors.ANCHOR_NAMES)}
  return (sorted(found.values(), key=lambda r: (order.get(r['source'], len(order)), r['source']))
          + sorted(dreams.values(), key=_dream_order))


def ensure_spectrogram(workdir: str, wav: str, sr: int, stem=None, max_seconds=None,
                       title=None) -> str:
  """Relative path of a WAV's spectrogram PNG (made if missing or older than the WAV), or ''.

  Args:
    workdir: the run directory.
    wav: the audio file (a dream, an anchor).
    sr: the run's sample rate.
    stem: the PNG's name in RUN/spectrograms/ without '.png' (default: the WAV's).
    max_seconds: draw at most this much of the start (default: all of it).
    title: the picture's title (default: the WAV's file name).
  """
  stem = stem or os.path.splitext(os.path.basename(wav))[0]
  rel = os.path.join('spectrograms', stem + '.png')
  png = os.path.join(workdir, rel)
  try:
    if files.exists(png) and files.mtime_ns(png) >= files.mtime_ns(wav):
      return rel
    x = evaluate.read_dream(wav, sr)
    if max_seconds is not None:
      x = x[:int(max_seconds * sr)]
    plots.spectrogram_png(png, x, sr, title=title or os.path.basename(wav))
  except Exception:  # pylint: disable=broad-except  # an unreadable dream gets no picture
    return ''
  return rel


def _input_spectrogram(workdir: str, reference=None) -> str:
  """Relative path of the training audio's spectrogram (first 30 s), or '' if unreadable."""
  rel = os.path.join('spectrograms', '_input.png')
  if files.exists(os.path.join(workdir, rel)):
    return rel
  try:
    audio, sr = evaluate.run_reference(workdir, reference)
  except (audio_io.AudioError, ValueError):
    return ''
  n = int(INPUT_PREVIEW_S * sr)
  title = 'training audio' + (f' (first {INPUT_PREVIEW_S:g} s)' if len(audio) > n else '')
  plots.spectrogram_png(os.path.join(workdir, rel), audio[:n], sr, title=title)
  return rel


def _config_table(config: dict) -> str:
  rows = ''.join(f'<tr><td>{html.escape(k)}</td><td>{html.escape(json.dumps(v))}</td></tr>'
                 for k, v in sorted(config.items()))
  return ('<details><summary>Resolved config (config.json)</summary>'
          f'<table class="config">{rows}</table></details>')


def _legend() -> str:
  def term(s):
    better = f', {s.better} is better' if s.better in ('lower', 'higher') else ''
    return f'<dt>{html.escape(s.name)} ({s.criterion}{better})</dt><dd>{html.escape(s.doc)}</dd>'
  verdicts = ''.join(f'<dt>{v}</dt><dd>{html.escape(VERDICT_DOCS[v])}</dd>'
                     for v in calibration.VERDICTS if v in VERDICT_DOCS)
  items = ''.join(term(s) for s in measures.SCORES)
  return ('<details><summary>What the verdicts and scores mean</summary><p class="note">Objective '
          'proxies for the dissertation\'s criteria (free of artifacts, resembles the input, not a '
          'literal copy). They point at dreams worth listening to; listening remains the judge.</p>'
          '<p class="note">Each verdict is ' + _badge('High') + ' (good), ' + _badge('Medium')
          + ' or ' + _badge('Low') + ', calibrated on the anchors: signals made from this same '
          'recording (the rows in brackets; listen to them) whose scores say what real new '
          'playing, a copy, shuffled grains and noise score here. A number alone means little: '
          'a few seconds of real music already lie several dB from the whole recording.</p>'
          f'<dl>{verdicts}</dl><dl>{items}</dl></details>')


def _badge(level: str) -> str:
  """A verdict as a coloured word."""
  return f'<span class="verdict {VERDICT_CLASS.get(level, "")}">{html.escape(level)}</span>'


def _score_row(workdir: str, row: dict, wav: str, sr: int, anchor: bool) -> str:
  """One <tr> of the table: a dream's, or an anchor's (wav: its file; may be missing)."""
  cols = [s for s in measures.SCORES if s.criterion != 'flag']
  name = os.path.basename(wav)
  flags = [n for n in measures.FLAG_NAMES if row.get(n)] + (['unreadable'] if row.get('error')
                                                            else [])
  exists = files.isfile(wav)
  if anchor:
    source = row['source']
    label = f'[{source}]'
    about = ANCHOR_DOCS.get('seen tail' if row.get('kind') == 'seen tail' else source, '')
    detail = f'<small class="about">{html.escape(about)}</small>'
    spec = exists and ensure_spectrogram(workdir, wav, sr, stem=f'_anchor_{source}',
                                         max_seconds=INPUT_PREVIEW_S, title=f'anchor: {source}')
  else:
    label = name
    detail = '<small>' + ' &middot; '.join(
        html.escape(str(row.get(k))) for k in ('kind', 'seed_mode') if row.get(k)) + (
            f' &middot; stream {row["stream"]}' if row.get('stream', -1) >= 0 else '') + '</small>'
    spec = (ensure_spectrogram(workdir, wav, sr) if row.get('source', 'dream') == 'dream' else
            ensure_spectrogram(workdir, wav, sr, max_seconds=INPUT_PREVIEW_S))
  wav_url = _url(os.path.relpath(wav, workdir))
  title = f'<a href="{wav_url}">{html.escape(label)}</a>' if exists else html.escape(label)
  media = f'<audio controls preload="metadata" src="{wav_url}"></audio>' if exists else ''
  if spec:
    media += (f'<a href="{_url(spec)}"><img src="{_url(spec)}" '
              f'alt="spectrogram of {html.escape(label)}"></a>')
  iteration = row.get('iteration', -1)
  cells = [f'<td class="name" data-value="{html.escape(label)}">{title}<br>{detail}</td>',
           f'<td data-value="{_js_number(iteration)}">'
           f'{_cell(iteration) if iteration >= 0 else "&ndash;"}</td>',
           f'<td class="media">{media}</td>']
  for v in calibration.VERDICTS:
    level = row.get(v) or ''
    rank = calibration.LEVELS.index(level) if level in calibration.LEVELS else math.nan
    cells.append(f'<td class="verdict {VERDICT_CLASS.get(level, "")}" data-value="'
                 f'{_js_number(rank)}">{html.escape(level) or "&ndash;"}</td>')
  cells.append(_alive_cell(row))
  cells += [f'<td data-value="{_js_number(row.get(s.name))}">{_cell(row.get(s.name, math.nan))}'
            '</td>' for s in cols]
  why = f' title="{html.escape(row["error"])}"' if row.get('error') else ''
  cells.append(f'<td data-value="{" ".join(flags)}" class="flag"{why}>{" ".join(flags)}</td>')
  css = ' '.join((['anchor'] if anchor else []) + (['flagged'] if flags else []))
  css = f' class="{css}"' if css else ''
  return f'<tr{css}>{"".join(cells)}</tr>'


def _alive_cell(row: dict) -> str:
  """The alive column's cell: the fraction of windows alive and their letters (files over
  alive.LONG_S; else a dash)."""
  value = row.get('alive', math.nan)
  letters = html.escape(row.get('windows') or '')
  css = ' class="flag"' if letters and value < 0.5 else ''
  text = f'{_cell(value)}<br><code>{letters}</code>' if letters else '&ndash;'
  return f'<td data-value="{_js_number(value)}"{css}>{text}</td>'


def _score_table(workdir: str, anchor_rows, wavs, scores: dict, sr: int) -> str:
  """The table: the anchors' rows first, then one row per dream or kept file (wavs: [(its
  'file' key, path)], in that order)."""
  cols = [s for s in measures.SCORES if s.criterion != 'flag']
  arrow = {'lower': ' &darr;', 'higher': ' &uarr;'}
  head = ('<th class="name" data-sort="text">dream</th><th data-sort="num">iteration</th>'
          '<th class="name">listen &amp; spectrogram</th>'
          + ''.join(f'<th data-sort="num" data-verdict="{v}" title="'
                    f'{html.escape(VERDICT_DOCS.get(v, ""))}">{v} &uarr;</th>'
                    for v in calibration.VERDICTS)
          + f'<th data-sort="num" data-score="alive" title="{html.escape(ALIVE_DOC)}">alive '
          '&uarr;</th>'
          + ''.join(f'<th data-sort="num" data-score="{s.name}" title="{html.escape(s.doc)}">'
                    f'{html.escape(s.short)}{arrow.get(s.better, "")}</th>' for s in cols)
          + '<th data-sort="text" title="silent, constant, clipped, nan, unreadable">flags</th>')
  body = [_score_row(workdir, row, os.path.join(workdir, row['file']), sr, anchor=True)
          for row in anchor_rows]
  for name, wav in wavs:
    row = scores.get(name) or {'file': name, **evaluate.parse_dream_name(name)}
    body.append(_score_row(workdir, row, wav, sr, anchor=False))
  return (f'<table id="dreams"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
          '</table>')


def _verdict_summary(rows) -> str:
  """One line: the median verdicts of the second half's dreams, and whether the run passes."""
  try:
    s, kept = calibration.summarize(rows), calibration.alive_summary(rows)
  except (KeyError, TypeError, ValueError):
    return ''
  line = ''
  if kept['files']:
    counts = ', '.join(f'{k} {n}' for k, n in kept['counts'].items())
    line = (f'<p class="summary">Alive: {kept["alive"]:.0%} of the {kept["windows"]} '
            f'{alive.WINDOW_S:g} s windows of the {kept["files"]} file(s) over {alive.LONG_S:g} s '
            f'({html.escape(counts)}); {kept["stuck"]} with no window alive.</p>')
  if not s.get('dreams'):
    return line
  verdicts = ', '.join(f'{v} {_badge(s[v])}' for v in calibration.VERDICTS if s.get(v))
  passes = ('passes the default configs\' bar' if s.get('passes') else
            f'does not pass the default configs\' bar ({html.escape(s.get("fails", ""))})')
  return (f'<p class="summary">Median verdicts of the {s["dreams"]} dream(s) of the second half '
          f'of training: {verdicts}; {passes}.</p>' + line)


def _page_head(workdir: str, config: dict, sr: int, num_dreams: int) -> list:
  """The page's first HTML parts: title, one-line summary, config table and loss plot."""
  step, loss = _last_metrics(workdir)
  summary = [f'approach {config.get("approach", "?")}', f'{sr} Hz']
  if isinstance(step, int) and isinstance(loss, (int, float)):
    summary.append(f'{step} iterations, last loss {loss:.4g}')
  summary.append(f'{num_dreams} dream(s)')
  parts = [f'<h1>audiolstm run {html.escape(os.path.basename(workdir))}</h1>',
           f'<p class="summary">{html.escape(" · ".join(summary))} &middot; report written '
           f'{datetime.datetime.now():%Y-%m-%d %H:%M}</p>', _config_table(config)]
  if files.exists(os.path.join(workdir, 'loss.png')):
    parts.append('<h2>Loss</h2><img src="loss.png" alt="training loss">')
  return parts


def write_report(workdir: str, reference=None, log=print) -> str:
  """Write WORKDIR/report.html (atomically) and return its path.

  Makes missing spectrograms (RUN/spectrograms/*.png), anchors (RUN/anchors/*.wav) and scores
  (RUN/scores.csv) first.

  Args:
    workdir: a run directory (config.json, dreams/).
    reference: audio files to score against instead of the run's input_files (default: those).
    log: receives one-line warnings (e.g. scores unavailable).
  Returns:
    the path of report.html.
  Raises:
    evaluate.RunError: workdir is not a run directory.
  """
  config = evaluate.load_run_config(workdir)
  workdir = files.absolute(workdir)
  sr = config.get('sample_rate')
  if not isinstance(sr, int) or sr <= 0:
    raise evaluate.RunError(f'{os.path.join(workdir, "config.json")} has no valid sample_rate')
  kept = evaluate.kept_files(workdir)
  dreams = [(os.path.basename(w), w) for w in evaluate.dream_files(workdir)]
  wavs = dreams + [(evaluate.kept_name(workdir, p), p) for _, p in kept]
  rows, note = run_scores(workdir, [n for n, _ in dreams], reference, log=log, kept=kept)
  anchor_rows = [r for r in rows if r['source'] in anchors.ANCHOR_NAMES]
  scores = {r['file']: r for r in rows if r['source'] not in anchors.ANCHOR_NAMES}
  # Oldest first, then the kept files; the table sorts itself when a header is clicked.
  order = {n: _dream_order(r)[:-1] for n, r in scores.items()}
  wavs.sort(key=lambda w: (order.get(w[0], (True, math.inf, '', 0)), w[0]))
  run = os.path.basename(workdir)
  parts = _page_head(workdir, config, sr, len(wavs))
  spec = _input_spectrogram(workdir, reference)
  if spec:
    parts.append(f'<h2>Training audio</h2><img src="{_url(spec)}" '
                 'alt="training audio spectrogram">')
  parts.append('<h2>Dreams</h2>')
  parts.append('<p class="note">'
               + ('The first rows, in [brackets] and blue, are the anchors: made from this '
                  'recording, they show what each verdict sounds like. ' if anchor_rows else '')
               + 'Dreams longer than the training dreams, such as RUN/samples/ and RUN/streams/, '
               'follow them. Click a column header to sort by it (&darr; = lower is better, &uarr; = '
               'higher); red rows are flagged (silent, constant, clipped, NaN or unreadable).</p>')
  if note:
    parts.append(f'<p class="note flag">{html.escape(note)}</p>')
  parts.append(_verdict_summary(rows))
  parts.append(_legend())
  if not wavs:
    parts.append('<p class="note">No dreams yet (RUN/dreams/ is empty).</p>')
  if wavs or anchor_rows:
    parts.append(_score_table(workdir, anchor_rows, wavs, scores, sr))
  page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<title>audiolstm: {html.escape(run)}</title><style>{_STYLE}</style></head>\n<body>\n'
          + '\n'.join(parts) + f'\n<script>{_SORT_JS}</script>\n</body></html>\n')
  return files.write_text_atomic(os.path.join(workdir, 'report.html'), page)


def fail(message: str, status: int = 2):
  """`audiolstm.judge.report: error: MESSAGE` on stderr, then exit with `status` (audiolstm.cli)."""
  from audiolstm import cli  # pylint: disable=g-import-not-at-top  # absl only when run
  cli.fail(message, status, prog='audiolstm.judge.report')


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a usage dump (audiolstm.cli)."""
  # absl loads only for the command line
  from audiolstm import cli  # pylint: disable=g-import-not-at-top
  return cli.parse_flags(argv, prog='audiolstm.judge.report')


def main(argv):
  """Write --workdir's report.html and print its path."""
  # absl loads only for the command line
  from absl import flags  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])} (usage: python -m audiolstm.judge.report '
         '--workdir=RUN)')
  try:
    path = write_report(flags.FLAGS.workdir, reference=flags.FLAGS.reference or None,
                        log=lambda line: print(line, file=sys.stderr, flush=True))
  except evaluate.RunError as e:
    fail(str(e))
  except OSError as e:
    fail(f'cannot write the report: {e.strerror or e}')
  print(f'wrote {path}')


def define_flags():
  """The command-line flags (defined only when run as a program: never at import time)."""
  # absl loads only for the command line
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('workdir', None, 'A run directory made by python -m audiolstm.main.')
  flags.DEFINE_list('reference', [], 'Audio file(s) to score against instead of the run\'s '
                    'input_files (comma-separated).')


if __name__ == '__main__':
  # absl loads only for the command line
  from absl import app  # pylint: disable=g-import-not-at-top
  define_flags()
  app.run(main, flags_parser=parse_flags)
