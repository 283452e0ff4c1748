r"""One self-contained HTML page per run, to listen to the dreams and find the best at a glance.

  python -m audiolstm.report --workdir=RUN        # writes RUN/report.html; open it in a browser

The page links only to files inside RUN (relative links; no server, no internet, no external
JS/CSS): the resolved config (collapsible), the loss plot, the training audio's spectrogram, and a
table with one row per dream: an audio player, its spectrogram (made with plots.spectrogram_png
into RUN/spectrograms/ when missing) and its scores (evaluate.score_run, cached in RUN/scores.csv);
clicking a score's column header sorts the table by it.
"""
import datetime
import html
import json
import math
import os
import sys
import urllib.parse

from audiolstm import audio_io
from audiolstm import evaluate
from audiolstm import plots

INPUT_PREVIEW_S = 30.0   # the training audio's spectrogram shows at most this much

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
table.config td { text-align: left; font-family: monospace; }
td.media img { display: block; width: 420px; margin-top: 4px; }
audio { width: 420px; } dt { font-weight: bold; margin-top: 0.4em; }
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
  """(last logged step, its loss) from metrics.jsonl, or (None, None)."""
  try:
    with open(os.path.join(workdir, 'metrics.jsonl')) as f:
      lines = f.read().splitlines()
  except OSError:
    return None, None
  for line in reversed(lines):
    try:
      record = json.loads(line)
      return record['step'], record['loss']
    except (ValueError, KeyError, TypeError):
      continue
  return None, None


def dream_scores(workdir: str, names, reference=None, log=print) -> tuple:
  """(rows by file name, note): scores from RUN/scores.csv, scoring (and saving) missing dreams.

  `reference`: audio files to score against instead of the run's input_files. The note is '' or
  one line saying why scores are missing (e.g. the training audio has moved).
  """
  path = os.path.join(workdir, 'scores.csv')
  rows = []
  if os.path.exists(path):
    try:
      rows = evaluate.read_scores(path)
    except (OSError, ValueError, KeyError):
      rows = []
  known = {r['file']: r for r in rows if r['file'] in set(names)}
  missing = [n for n in names if n not in known]
  note = ''
  if missing:
    try:
      for row in evaluate.score_run(workdir, reference=reference, names=missing):
        known[row['file']] = row
      evaluate.write_scores(workdir, sorted(known.values(), key=lambda r: (
          r['iteration'], r['kind'], r['stream'], r['file'])))
    except (audio_io.AudioError, ValueError, OSError) as e:
      note = f'scores unavailable for {len(missing)} dream(s): {e}'
      log(f'audiolstm.report: warning: {note}')
  return known, note


def ensure_spectrogram(workdir: str, wav: str, sr: int) -> str:
  """Relative path of the dream's spectrogram PNG (made if missing or older than the WAV), or ''."""
  rel = os.path.join('spectrograms', os.path.splitext(os.path.basename(wav))[0] + '.png')
  png = os.path.join(workdir, rel)
  if os.path.exists(png) and os.path.getmtime(png) >= os.path.getmtime(wav):
    return rel
  try:
    x = evaluate.read_dream(wav, sr)
    plots.spectrogram_png(png, x, sr, title=os.path.basename(wav))
  except Exception:  # pylint: disable=broad-except  (an unreadable dream gets no picture)
    return ''
  return rel


def _input_spectrogram(workdir: str, reference=None) -> str:
  """Relative path of the training audio's spectrogram (first 30 s), or '' if unreadable."""
  rel = os.path.join('spectrograms', '_input.png')
  if os.path.exists(os.path.join(workdir, rel)):
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
  items = ''.join(term(s) for s in evaluate.SCORES)
  return ('<details><summary>What the scores mean</summary><p class="note">Objective proxies for '
          'the dissertation\'s criteria (free of artifacts, resembles the input, not a literal '
          'copy). They point at dreams worth listening to; listening remains the judge.</p>'
          f'<dl>{items}</dl></details>')


def _dream_table(workdir: str, wavs, scores: dict, sr: int) -> str:
  cols = [s for s in evaluate.SCORES if s.criterion != 'flag']
  arrow = {'lower': ' &darr;', 'higher': ' &uarr;'}
  head = ('<th class="name" data-sort="text">dream</th><th data-sort="num">iteration</th>'
          '<th class="name">listen &amp; spectrogram</th>'
          + ''.join(f'<th data-sort="num" data-score="{s.name}" title="{html.escape(s.doc)}">'
                    f'{html.escape(s.short)}{arrow.get(s.better, "")}</th>' for s in cols)
          + '<th data-sort="text" title="silent, constant, clipped, nan, unreadable">flags</th>')
  body = []
  for wav in wavs:
    name = os.path.basename(wav)
    row = scores.get(name) or {'file': name, **evaluate.parse_dream_name(name)}
    flags = [n for n in evaluate.FLAG_NAMES if row.get(n)] + (['unreadable'] if row.get('error')
                                                              else [])
    spec = ensure_spectrogram(workdir, wav, sr)
    wav_url = _url(os.path.relpath(wav, workdir))
    detail = ' &middot; '.join(html.escape(str(row.get(k))) for k in ('kind', 'seed_mode')
                               if row.get(k)) + (f' &middot; stream {row["stream"]}'
                                                 if row.get('stream', -1) >= 0 else '')
    media = f'<audio controls preload="metadata" src="{wav_url}"></audio>'
    if spec:
      media += (f'<a href="{_url(spec)}"><img src="{_url(spec)}" '
                f'alt="spectrogram of {html.escape(name)}"></a>')
    cells = [f'<td class="name" data-value="{html.escape(name)}"><a href="{wav_url}">'
             f'{html.escape(name)}</a><br><small>{detail}</small></td>',
             f'<td data-value="{_js_number(row.get("iteration", -1))}">'
             f'{_cell(row.get("iteration", ""))}</td>',
             f'<td class="media">{media}</td>']
    cells += [f'<td data-value="{_js_number(row.get(s.name))}">{_cell(row.get(s.name, math.nan))}'
              '</td>' for s in cols]
    why = f' title="{html.escape(row["error"])}"' if row.get('error') else ''
    cells.append(f'<td data-value="{" ".join(flags)}" class="flag"{why}>{" ".join(flags)}</td>')
    body.append(f'<tr{" class=flagged" if flags else ""}>{"".join(cells)}</tr>')
  return (f'<table id="dreams"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
          '</table>')


def write_report(workdir: str, reference=None, log=print) -> str:
  """Write WORKDIR/report.html (atomically) and return its path.

  Makes missing spectrograms (RUN/spectrograms/*.png) and scores (RUN/scores.csv) first.

  Args:
    workdir: a run directory (config.json, dreams/).
    reference: audio files to score against instead of the run's input_files (default: those).
    log: receives one-line warnings (e.g. scores unavailable).
  Returns:
    the path of report.html.
  Raises:
    evaluate.RunError: workdir is not a run directory.
  """
  config = evaluate.read_run_config(workdir)
  workdir = os.path.abspath(workdir)
  sr = config.get('sample_rate')
  if not isinstance(sr, int) or sr <= 0:
    raise evaluate.RunError(f'{os.path.join(workdir, "config.json")} has no valid sample_rate')
  wavs = evaluate.dream_files(workdir)
  names = [os.path.basename(w) for w in wavs]
  scores, note = dream_scores(workdir, names, reference, log=log)
  # Oldest first; the table sorts itself when a header is clicked.
  order = {n: (r['iteration'], r['kind'], r['stream']) for n, r in scores.items()}
  wavs.sort(key=lambda w: (order.get(os.path.basename(w), (math.inf, '', 0)), os.path.basename(w)))
  step, loss = _last_metrics(workdir)
  run = os.path.basename(workdir)
  summary = [f'approach {config.get("approach", "?")}', f'{sr} Hz']
  if isinstance(step, int) and isinstance(loss, (int, float)):
    summary.append(f'{step} iterations, last loss {loss:.4g}')
  summary.append(f'{len(wavs)} dream(s)')
  parts = [f'<h1>audiolstm run {html.escape(run)}</h1>',
           f'<p class="summary">{html.escape(" · ".join(summary))} &middot; report written '
           f'{datetime.datetime.now():%Y-%m-%d %H:%M}</p>', _config_table(config)]
  if os.path.exists(os.path.join(workdir, 'loss.png')):
    parts.append('<h2>Loss</h2><img src="loss.png" alt="training loss">')
  spec = _input_spectrogram(workdir, reference)
  if spec:
    parts.append(f'<h2>Training audio</h2><img src="{_url(spec)}" '
                 'alt="training audio spectrogram">')
  parts.append('<h2>Dreams</h2>')
  parts.append('<p class="note">Click a column header to sort by it (&darr; = lower is better); '
               'red rows are flagged (silent, constant, clipped, NaN or unreadable).</p>')
  if note:
    parts.append(f'<p class="note flag">{html.escape(note)}</p>')
  parts.append(_legend())
  parts.append(_dream_table(workdir, wavs, scores, sr) if wavs else
               '<p class="note">No dreams yet (RUN/dreams/ is empty).</p>')
  page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
          f'<title>audiolstm: {html.escape(run)}</title><style>{_STYLE}</style></head>\n<body>\n'
          + '\n'.join(parts) + f'\n<script>{_SORT_JS}</script>\n</body></html>\n')
  return evaluate.atomic_write_text(os.path.join(workdir, 'report.html'), page)


def fail(message: str, status: int = 2):
  """One line on stderr, then exit with `status` (no traceback)."""
  evaluate.fail(message, status, prog='audiolstm.report')


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a usage dump."""
  return evaluate.parse_flags(argv, prog='audiolstm.report')


def main(argv):
  """Write --workdir's report.html and print its path."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    fail(f'unexpected arguments: {" ".join(argv[1:])} (usage: python -m audiolstm.report '
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
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('workdir', None, 'A run directory made by python -m audiolstm.main.')
  flags.DEFINE_list('reference', [], 'Audio file(s) to score against instead of the run\'s '
                    'input_files (comma-separated).')


if __name__ == '__main__':
  from absl import app  # pylint: disable=g-import-not-at-top
  define_flags()
  app.run(main, flags_parser=parse_flags)
