"""run/rundir.py: dream file names, unique work directories, reading config.json and metrics, and
rewinding a work directory."""
import datetime
import json
import os

import ml_collections
import pytest

from audiolstm.config import settings as config_lib
from audiolstm.run import rundir
from tests.helpers import tiny_config


def test_dream_name_and_default_workdir(tmp_path):
  assert rundir.dream_name('fft', 'concurrent', 'random', 1200, 0) == (
      'fft_concurrent_random_it0001200_s0.wav')
  assert rundir.dream_name('vector', 'seq', 'same', 12345678, 3) == (
      'vector_seq_same_it12345678_s3.wav')  # more than 7 digits: not cut
  now = datetime.datetime.now()
  taken = set()
  for s in range(4):  # the names of this second and the next 3 are taken
    stamp = (now + datetime.timedelta(seconds=s)).strftime('%Y%m%d-%H%M%S')
    os.makedirs(tmp_path / f'fft-{stamp}')
    taken.add(f'fft-{stamp}')
  path = rundir.default_workdir('fft', root=str(tmp_path))
  assert os.path.dirname(path) == str(tmp_path) and not os.path.exists(path)
  name = os.path.basename(path)
  assert name.endswith('-1') and name[:-2] in taken


def test_read_config_file(tmp_path):
  path = tmp_path / 'config.json'
  assert rundir.read_config_file(str(path)) is None  # no run here
  path.write_text('{"approach": "fft", "seg_len": 16, "_scale": 2.5}')
  assert rundir.read_config_file(str(path)) == {'approach': 'fft', 'seg_len': 16}
  assert rundir.read_config_file(str(path), derived=True)['_scale'] == 2.5
  path.write_text('{"approach": ')
  with pytest.raises(config_lib.ConfigError, match='cannot read .*config.json'):
    rundir.read_config_file(str(path))
  path.write_text('[1, 2]')
  with pytest.raises(config_lib.ConfigError, match='not a JSON object'):
    rundir.read_config_file(str(path))


def test_write_config_round_trip_and_rewind(tmp_path):
  run = rundir.RunDir(str(tmp_path / 'run'))
  c = config_lib.resolve(tiny_config('vector'))
  run.write_config(c, iters_per_epoch=7)
  saved = run.read_config()
  assert config_lib.resolve(ml_collections.ConfigDict(saved)) == c
  assert rundir.read_config_file(run.config_path, derived=True)['_iters_per_epoch'] == 7
  run.append_metrics([{'step': s, 'loss': 1.0 / s} for s in (5, 10, 15, 17)])
  for step in (10, 15, 20):
    (tmp_path / 'run' / 'dreams' / rundir.dream_name('vector', 'concurrent', 'same', step, 0)
     ).write_bytes(b'')
  run.rewind(15, log_every=5)
  assert [r['step'] for r in run.read_metrics()] == [5, 10, 15]  # 17: a partial window
  assert sorted(os.listdir(run.dreams_dir)) == [
      rundir.dream_name('vector', 'concurrent', 'same', s, 0) for s in (10, 15)]


def test_read_metrics_skips_only_a_torn_last_line(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text(json.dumps({'step': 5}) + '\n' + '{"step": 1')
  assert rundir.read_metrics(str(tmp_path)) == [{'step': 5}]
  path.write_text('{"step": 1\n' + json.dumps({'step': 5}) + '\n')
  with pytest.raises(config_lib.ConfigError, match='line 1 is not JSON'):
    rundir.read_metrics(str(path))
