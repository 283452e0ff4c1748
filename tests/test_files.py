"""A work directory on a bucket (gs://): everything a run writes and reads back goes through
audiolstm.files and etils.epath. There is no Google Cloud Storage here, so epath's gs:// backend
is pointed at a local folder (etils.epath.testing.mock_epath, every call passed on to the real
file system): the code under test runs its URL branch unchanged, on real files."""
import json
import os
import shutil

from etils.epath import testing as epath_testing
import numpy as np
import pytest

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.config import settings as config_lib
from audiolstm.run import outputs
from audiolstm.run import rundir
from audiolstm.run import tb
from tests.helpers import tiny_config
from tests.helpers import trained_tiny_run

_CALLS = ('copy', 'exists', 'glob', 'isdir', 'listdir', 'makedirs', 'mkdir', 'remove', 'rename',
          'replace', 'rmtree', 'stat', 'walk')


@pytest.fixture
def bucket(tmp_path, monkeypatch):
  """gs://bucket/... is the local folder tmp_path/bucket/... for the test's length; returns that
  folder. The working directory is tmp_path/cwd, to show nothing is written at a literal 'gs:'."""
  root = tmp_path / 'bucket'
  root.mkdir()
  (tmp_path / 'cwd').mkdir()
  monkeypatch.chdir(tmp_path / 'cwd')

  def local(path):
    path = os.fspath(path)
    return str(root / path[len('gs://bucket/'):]) if path.startswith('gs://bucket/') else path

  def passed_on(fn, path, *args, **kwargs):
    return fn(local(path), *(local(a) if isinstance(a, str) else a for a in args), **kwargs)

  def opened(fn, path, mode):  # an object store has no folders to create first
    if 'w' in mode:
      os.makedirs(os.path.dirname(local(path)), exist_ok=True)
    return passed_on(fn, path, mode)

  with epath_testing.mock_epath(**{name: passed_on for name in _CALLS}, open=opened):
    yield root
  assert os.listdir(tmp_path / 'cwd') == []  # nothing went to a local 'gs:' folder


def test_files_on_a_url(bucket):
  url = 'gs://bucket/a/b.txt'
  assert files.is_url(url) and not files.is_url('runs/x') and not files.is_url('/tmp/x')
  assert files.absolute('gs://bucket/a/') == 'gs://bucket/a'
  assert not files.exists(url)
  files.write_text_atomic(url, 'one\n')
  files.append_text(url, 'two\n')
  assert (bucket / 'a' / 'b.txt').read_text() == 'one\ntwo\n' == files.read_text(url)
  assert files.isdir('gs://bucket/a') and files.listdir('gs://bucket/a') == ['b.txt']
  assert files.unique_path(url) == 'gs://bucket/a/b-1.txt'
  files.rename(url, 'gs://bucket/a/c.txt')
  assert files.listdir('gs://bucket/a') == ['c.txt']
  files.remove('gs://bucket/a/c.txt')
  assert files.listdir('gs://bucket/a') == []


def test_a_run_directory_on_a_bucket(bucket):
  run = rundir.RunDir('gs://bucket/run')
  assert run.path == 'gs://bucket/run' and (bucket / 'run' / 'dreams').is_dir()
  with rundir.Lock(run.path):  # no lock file on a bucket
    pass
  c, _ = config_lib.prepare(tiny_config('vector'))
  run.write_config(c, total_steps=60)
  assert run.read_config() == json.loads(json.dumps(c.to_dict(), default=list))
  assert rundir.read_config_file(run.config_path, derived=True)['_total_steps'] == 60
  board = tb.Writer(os.path.join(run.path, 'tensorboard'))
  metrics = outputs.MetricsLog(run, board, 0.01, 'test')
  metrics.add([{'step': 5, 'loss': 0.5, 'time': 1.0}, {'step': 10, 'loss': 0.4, 'time': 2.0}])
  metrics.add([{'step': 15, 'loss': 0.3, 'time': 3.0}])
  metrics.plot(force=True)
  assert [r['step'] for r in rundir.read_metrics(run.path)] == [5, 10, 15]
  writer = outputs.DreamWriter(c, 1.0, run.dreams_dir, board)
  values = (0.1 * np.sin(np.arange(400) / 5)).astype(np.float32)
  for step in (10, 20):
    writer.write(rundir.dream_name('vector', 'concurrent', 'random', step, 0), values,
                 np.random.default_rng(0), tag='s0', step=step)
  board.close()
  names = sorted(os.listdir(bucket / 'run' / 'dreams'))
  assert names == ['vector_concurrent_random_it0000010_s0.png',
                   'vector_concurrent_random_it0000010_s0.wav',
                   'vector_concurrent_random_it0000020_s0.png',
                   'vector_concurrent_random_it0000020_s0.wav']
  wav = audio_io.load_audio(str(bucket / 'run' / 'dreams' / names[1]), c.sample_rate)
  np.testing.assert_allclose(wav, values, atol=1e-4)
  assert (bucket / 'run' / 'loss.png').read_bytes().startswith(b'\x89PNG')
  tags = {v.tag for e in tb.read_events('gs://bucket/run/tensorboard') for v in e.summary.value}
  assert {'loss', 'dream/s0', 'spectrogram/s0'} <= tags
  assert run.history() == (3, 4)
  run.rewind(10, 5)  # a resume from iteration 10 forgets what came after it
  assert [r['step'] for r in run.read_metrics()] == [5, 10]
  assert 'vector_concurrent_random_it0000020_s0.wav' not in files.listdir(run.dreams_dir)
  aside = run.move_aside()
  assert aside.startswith('gs://bucket/run.before-restart-')
  assert sorted(files.listdir(aside)) == ['config.json', 'dreams', 'loss.png', 'metrics.jsonl',
                                          'tensorboard']
  assert run.history() == (0, 0)


@pytest.mark.slow
def test_evaluate_and_report_read_a_run_on_a_bucket(tmp_path, bucket):
  """A trained run copied to the bucket: its scores and report are made there, in place."""
  from audiolstm.judge import evaluate  # pylint: disable=g-import-not-at-top
  from audiolstm.judge import report  # pylint: disable=g-import-not-at-top
  shutil.copytree(trained_tiny_run(tmp_path, 'vector'), bucket / 'run')
  rows = evaluate.score_run('gs://bucket/run')
  assert rows and all(not r['error'] for r in rows)
  path = report.write_report('gs://bucket/run', log=lambda *_: None)
  assert path == 'gs://bucket/run/report.html'
  html = (bucket / 'run' / 'report.html').read_text()
  assert 'loss.png' in html and 'vector_concurrent' in html
  assert (bucket / 'run' / 'scores.csv').exists()
  assert any(n.endswith('.png') for n in os.listdir(bucket / 'run' / 'spectrograms'))
