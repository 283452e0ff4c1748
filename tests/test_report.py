"""The HTML report of a tiny real run, opened in headless Chromium: every player and image loads."""
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

from audiolstm import audio_io
from audiolstm import evaluate
from audiolstm import report
from audiolstm import train
from conftest import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTALL = ('headless Chromium is needed to check the report: install it with '
           '`apt-get install -y chromium` (Debian, as root), or set CHROMIUM=/path/to/chromium')

# Appended to a copy of the page: waits until every <audio> and <img> has loaded (or failed),
# clicks the max_ncc header twice, and writes what it saw as JSON into <pre id="load-check">.
CHECK_JS = """
<script>
window.addEventListener('load', function () {
  var tries = 0;
  function column(name) {
    var th = document.querySelector('th[data-score="' + name + '"]');
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
      up: column('max_ncc'), down: column('max_ncc')};
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
  assert page.count('<audio controls') == len(dreams)
  for name in dreams:
    stem = os.path.splitext(name)[0]
    assert f'src="dreams/{name}"' in page
    assert os.path.getsize(os.path.join(workdir, 'spectrograms', stem + '.png')) > 5000
  assert '<details><summary>Resolved config' in page and 'src="loss.png"' in page
  rows = evaluate.read_scores(os.path.join(workdir, 'scores.csv'))  # scored on the way
  assert sorted(r['file'] for r in rows) == sorted(dreams)
  assert not [n for n in os.listdir(workdir) if n.startswith('.')]
  # A second report reuses the spectrograms and the scores.
  stamps = {n: os.path.getmtime(os.path.join(workdir, 'spectrograms', n))
            for n in os.listdir(os.path.join(workdir, 'spectrograms'))}
  report.write_report(workdir, log=lambda *a: None)
  assert stamps == {n: os.path.getmtime(os.path.join(workdir, 'spectrograms', n))
                    for n in os.listdir(os.path.join(workdir, 'spectrograms'))}


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
  assert sorted(a['src'] for a in seen['audio']) == dreams
  for a in seen['audio']:
    assert a['error'] == 0 and a['ready'] >= 1, a  # metadata (at least) loaded
  assert len(seen['img']) == 2 + len(dreams)  # loss, training audio, one per dream
  for i in seen['img']:
    assert i['w'] > 100, i
  up, down = [[float(v) for v in seen[k]] for k in ('up', 'down')]
  assert up == sorted(up) and down == sorted(up, reverse=True)


def test_cli_writes_report_and_bad_workdir_exits_2(run_dir, tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT)
  cmd = [sys.executable, '-m', 'audiolstm.report']
  r = subprocess.run(cmd + [f'--workdir={run_dir["workdir"]}'], cwd=ROOT, env=env,
                     capture_output=True, text=True, timeout=120)
  assert r.returncode == 0, r.stderr
  assert os.path.join(run_dir['workdir'], 'report.html') in r.stdout
  for args, message in [([f'--workdir={tmp_path / "missing"}'], 'not found'),
                        ([f'--workdir={tmp_path}'], 'no config.json'), ([], 'no work directory')]:
    r = subprocess.run(cmd + args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert message in r.stderr and 'Traceback' not in r.stderr
