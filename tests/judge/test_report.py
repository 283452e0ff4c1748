"""The HTML report of a tiny real run, opened in headless Chromium: every player and image loads."""
import csv
import html
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

import numpy as np
import pytest

from audiolstm.audio import audio_io
from audiolstm.judge import anchors
from audiolstm.judge import evaluate
from audiolstm.judge import report
from audiolstm.judge import calibration
from audiolstm.run import train
from tests.helpers import fake_fft_run
from tests.helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL = ('headless Chromium is needed to check the report: install it with '
           '`apt-get install -y chromium` (Debian, as root), or set CHROMIUM=/path/to/chromium')

# Appended to a copy of the page: waits until every <audio> and <img> has loaded (or failed),
# clicks the max_ncc header twice (then the novelty one twice), notes the colour of each verdict
# cell, and writes what it saw as JSON into <pre id="load-check">.
CHECK_JS = """
<script>
window.addEventListener('load', function () {
  var tries = 0;
  function column(selector) {
    var th = document.querySelector(selector);
    var col = Array.prototype.indexOf.call(th.parentNode.cells, th);
    th.click();
    return Array.prototype.map.call(document.querySelectorAll('#dreams tbody tr'),
                                    function (r) { return r.cells[col].dataset.value; });
  }
  function check() {
    var audios = Array.prototype.slice.call(document.querySelectorAll('audio'));
    var imgs = Array.prototype.slice.call(document.querySelectorAll('img'));
    var pending = audios.some(function (a) { return a.readyState < 1 && !a.error; }) ||
                  imgs.some(function (i) { return !i.complete; });
    if (pending && tries++ < 100) { setTimeout(check, 50); return; }
    var out = {
      audio: audios.map(function (a) { return {src: a.getAttribute('src'), ready: a.readyState,
                                               error: a.error ? a.error.code : 0}; }),
      img: imgs.map(function (i) { return {src: i.getAttribute('src'), w: i.naturalWidth}; }),
      verdicts: Array.prototype.map.call(document.querySelectorAll('td.verdict'), function (td) {
        return [td.textContent, getComputedStyle(td).backgroundColor]; }),
      up: column('th[data-score="max_ncc"]'), down: column('th[data-score="max_ncc"]'),
      vup: column('th[data-verdict="novelty"]'), vdown: column('th[data-verdict="novelty"]')};
    var pre = document.createElement('pre');
    pre.id = 'load-check';
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  check();
});
</script>
"""


def chromium():
  """Path of a Chromium binary; FAILS (not skips) when there is none."""
  for name in [os.environ.get('CHROMIUM', ''), 'chromium', 'chromium-browser', 'google-chrome']:
    path = shutil.which(name) if name else None
    if path:
      return path
  pytest.fail(INSTALL)


class Links(html.parser.HTMLParser):
  """Every src/href of a page."""

  def __init__(self):
    super().__init__()
    self.urls, self.tags = [], []

  def handle_starttag(self, tag, attrs):
    self.tags.append(tag)
    self.urls += [v for k, v in attrs if k in ('src', 'href')]


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
  """A tiny fft run (4 dreams of 0.05 s) on 2 s of two decaying tones."""
  tmp = tmp_path_factory.mktemp('report')
  t = np.arange(2 * 11025) / 11025
  x = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 330 * t)
  wav = audio_io.write_wav(str(tmp / 'in.wav'), x, 11025)
  c = tiny_config('fft', input_files=(wav,), dream_seconds=0.05, max_steps=140)
  return train.train_and_evaluate(c, str(tmp / 'run'), log=lambda *a: None)


@pytest.mark.slow
def test_report_is_self_contained_and_complete(run_dir):
  workdir = run_dir['workdir']
  path = report.write_report(workdir, log=lambda *a: None)
  assert path == os.path.join(workdir, 'report.html')
  page = open(path).read()
  parser = Links()
  parser.feed(page)
  assert parser.urls
  for url in parser.urls:  # relative links to files inside the run only
    parts = urllib.parse.urlsplit(url)
    assert not parts.scheme and not parts.netloc and not url.startswith('/'), url
    target = os.path.normpath(os.path.join(workdir, urllib.parse.unquote(parts.path)))
    assert target.startswith(workdir + os.sep) and os.path.isfile(target), url
  assert 'link' not in parser.tags and '<script src' not in page  # no external CSS / JS
  dreams = [os.path.basename(d) for d in run_dir['dreams']]
  assert page.count('<audio controls') == len(anchors.ANCHOR_NAMES) + len(dreams)
  for name in dreams:
    stem = os.path.splitext(name)[0]
    assert f'src="dreams/{name}"' in page
    assert os.path.getsize(os.path.join(workdir, 'spectrograms', stem + '.png')) > 5000
  # The anchors are the first rows, playable, with a spectrogram and what they are.
  body = page[page.index('<tbody>'):]
  starts = [body.index(f'<audio controls preload="metadata" src="anchors/{a}.wav">')
            for a in anchors.ANCHOR_NAMES]
  assert starts == sorted(starts) and starts[-1] < body.index('src="dreams/')
  for a in anchors.ANCHOR_NAMES:
    assert os.path.getsize(os.path.join(workdir, 'anchors', a + '.wav')) > 1000
    assert os.path.getsize(os.path.join(workdir, 'spectrograms', f'_anchor_{a}.png')) > 5000
    assert f'>[{a}]</a>' in body
  assert 'validation split' in body and 'white noise' in body.lower()
  # Verdict columns, one High/Medium/Low cell per criterion and row, explained in the legend.
  for v in calibration.VERDICTS:
    assert f'data-verdict="{v}"' in page and f'<dt>{v}</dt>' in page
  cells = re.findall(r'<td class="verdict v-(high|medium|low)" data-value="[012]">'
                     r'(High|Medium|Low)</td>', body)
  assert len(cells) == 3 * (len(anchors.ANCHOR_NAMES) + len(dreams))
  assert all(css == level.lower() for css, level in cells)
  assert 'calibrated on the anchors' in page and 'Median verdicts of the' in page
  assert '<details><summary>Resolved config' in page and 'src="loss.png"' in page
  rows = evaluate.read_scores(os.path.join(workdir, 'scores.csv'))  # scored on the way
  assert [r['source'] for r in rows[:4]] == list(anchors.ANCHOR_NAMES)
  assert sorted(r['file'] for r in rows if r['source'] == 'dream') == sorted(dreams)
  assert all(r[v] in ('High', 'Medium', 'Low') for r in rows for v in calibration.VERDICTS)
  # No temporary files left (the run's lock file, .audiolstm.lock, stays: it holds the last pid).
  assert not [n for n in os.listdir(workdir) if n.startswith('.') and n != '.audiolstm.lock']
  # A second report reuses the spectrograms, the anchors and the scores.
  def stamps():
    return {os.path.join(d, n): os.path.getmtime(os.path.join(workdir, d, n))
            for d in ('spectrograms', 'anchors', '.') for n in os.listdir(os.path.join(workdir, d))
            if d != '.' or n == 'scores.csv'}
  before = stamps()
  report.write_report(workdir, log=lambda *a: None)
  assert stamps() == before


@pytest.mark.slow
def test_old_scores_csv_is_scored_again(run_dir, tmp_path):
  """A scores.csv of an older version (no source nor verdict columns) is re-scored, not read."""
  workdir = str(tmp_path / 'run')
  shutil.copytree(run_dir['workdir'], workdir)
  path = os.path.join(workdir, 'scores.csv')
  if not os.path.exists(path):
    report.write_report(workdir, log=lambda *a: None)
  old = [r for r in csv.DictReader(open(path, newline='')) if r['source'] == 'dream']
  fields = [k for k in evaluate.CSV_FIELDS if k not in ('source',) + calibration.VERDICTS
            + ('frame_distance_db', 'motion_excess', 'copied_s')]
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(old)
  shutil.rmtree(os.path.join(workdir, 'anchors'))
  page = open(report.write_report(workdir, log=lambda *a: None)).read()
  rows = evaluate.read_scores(path)
  assert [r['source'] for r in rows[:4]] == list(anchors.ANCHOR_NAMES)
  assert sorted(r['file'] for r in rows[4:]) == sorted(r['file'] for r in old)
  assert all(r['novelty'] in ('High', 'Medium', 'Low') for r in rows)
  for a in anchors.ANCHOR_NAMES:
    assert f'src="anchors/{a}.wav"' in page
    assert os.path.isfile(os.path.join(workdir, 'anchors', a + '.wav'))


@pytest.mark.slow
def test_report_loads_in_headless_chromium(run_dir, tmp_path):
  browser = chromium()
  workdir = run_dir['workdir']
  page = open(report.write_report(workdir, log=lambda *a: None)).read()
  check = os.path.join(workdir, '_check.html')  # beside the report: same relative links
  with open(check, 'w') as f:
    f.write(page.replace('</body>', CHECK_JS + '</body>'))
  try:
    r = subprocess.run(
        [browser, '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--mute-audio',
         f'--user-data-dir={tmp_path / "profile"}', '--virtual-time-budget=5000',
         '--allow-file-access-from-files', '--dump-dom', 'file://' + check],
        capture_output=True, text=True, timeout=120)
  finally:
    os.unlink(check)
  m = re.search(r'<pre id="load-check">(.*?)</pre>', r.stdout, re.S)
  assert m, f'the check script did not finish (exit {r.returncode}): {r.stderr[-2000:]}'
  seen = json.loads(html.unescape(m.group(1)))
  dreams = sorted(f'dreams/{os.path.basename(d)}' for d in run_dir['dreams'])
  heard = [f'anchors/{a}.wav' for a in anchors.ANCHOR_NAMES]
  assert sorted(a['src'] for a in seen['audio']) == sorted(heard + dreams)
  for a in seen['audio']:
    assert a['error'] == 0 and a['ready'] >= 1, a  # metadata (at least) loaded
  # loss, training audio, one per anchor and per dream
  assert len(seen['img']) == 2 + len(heard) + len(dreams)
  for i in seen['img']:
    assert i['w'] > 100, i
  up, down = [[float(v) for v in seen[k]] for k in ('up', 'down')]
  assert up == sorted(up) and down == sorted(up, reverse=True)
  vup, vdown = [[float(v) for v in seen[k]] for k in ('vup', 'vdown')]
  assert vup == sorted(vup) and vdown == sorted(vup, reverse=True)
  # The three levels read at a glance: one background colour each.
  colours = {}
  for level, colour in seen['verdicts']:
    colours.setdefault(level, set()).add(colour)
  assert set(colours) <= {'High', 'Medium', 'Low'} and len(seen['verdicts']) == 3 * (
      len(heard) + len(dreams))
  assert all(len(c) == 1 for c in colours.values()), colours
  assert len(set().union(*colours.values())) == len(colours), colours


@pytest.mark.slow
def test_cli_writes_report_and_bad_workdir_exits_2(run_dir, tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT)
  cmd = [sys.executable, '-m', 'audiolstm.judge.report']
  r = subprocess.run(cmd + [f'--workdir={run_dir["workdir"]}'], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr
  assert os.path.join(run_dir['workdir'], 'report.html') in r.stdout
  for args, message in [([f'--workdir={tmp_path / "missing"}'], 'not found'),
                        ([f'--workdir={tmp_path}'], 'no config.json'), ([], 'no work directory')]:
    r = subprocess.run(cmd + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr and 'Traceback' not in r.stderr


def test_report_scores_samples_and_streams_with_the_alive_score(tmp_path):
  """A fake run (no training): the report lists its sample mode WAVs and streams after the
  dreams, each with its alive cell, and a silent 30 s sample is flagged."""
  sr = 11025
  x = audio_io.load_audio(audio_io.DEFAULT_AUDIO, sr)[:10 * sr]
  run = fake_fft_run(tmp_path, x, sr)
  audio_io.write_wav(str(run / 'samples' / 'fft_sample_b_001.wav'), np.zeros(30 * sr), sr)
  t = np.arange(9 * sr) / sr
  audio_io.write_wav(str(run / 'streams' / 'fft_stream.wav'), 0.1 * np.sin(2 * np.pi * 220 * t),
                     sr)
  page = open(report.write_report(str(run), log=lambda *a: None)).read()
  body = page[page.index('<tbody>'):]
  order = [body.index(f'src="{f}"') for f in ('dreams/fft_concurrent_random_it0000010_s0.wav',
                                              'samples/fft_sample_b_001.wav',
                                              'streams/fft_stream.wav')]
  assert order == sorted(order)
  assert '<code>SSSSSSSS</code>' in body and '<code>HH</code>' in body
  assert 'data-score="alive"' in page
  assert 'Alive: 0% of the 10 4 s windows of the 2 file(s) over 8 s (silent 8, held 2)' in page
  rows = evaluate.read_scores(str(run / 'scores.csv'))
  by_file = {r['file']: r for r in rows}
  assert by_file['samples/fft_sample_b_001.wav']['silent'] is True
  assert by_file['samples/fft_sample_b_001.wav']['windows'] == 'S' * 8
  # A second report reads everything from the cache.
  stamp = os.path.getmtime(run / 'scores.csv')
  report.write_report(str(run), log=lambda *a: None)
  assert os.path.getmtime(run / 'scores.csv') == stamp
