"""Checkpoints, resume (also after SIGKILL), SIGTERM, and dreaming from a trained run (sample and
watch modes), with real subprocesses, real orbax checkpoints and real audio files."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import audio_io
from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.dream import sample as sample_mode
from audiolstm.run import checkpoint
from audiolstm.run import train
from tests.helpers import TINY, tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli(*args, **kwargs):
  env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED='1')
  return subprocess.Popen([sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def run_cli(*args, timeout=300):
  p = cli(*args)
  out, err = p.communicate(timeout=timeout)
  return p.returncode, out, err


def flags(**extra):
  return [f'--config.{k}={v}' for k, v in {**TINY, **extra}.items()]


def final_params(workdir, config):
  """Parameters of the newest checkpoint of a run made with `config`."""
  c, g = config_lib.prepare(config)
  sources = dataset.load_sources(c, g)
  program = program_lib.build(c, sources)
  like = program.init(program_lib.device_data(sources), jax.random.key(0))
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, 'checkpoints'), 3)
  state, host = ckpts.restore(like, checkpoint.HostState(c, program.setup).to_tree())
  step = ckpts.latest_step()
  ckpts.close()
  return step, state, host


def complete_checkpoints(workdir):
  d = os.path.join(workdir, 'checkpoints')
  return [int(n) for n in os.listdir(d) if n.isdigit()] if os.path.isdir(d) else []


def metrics(workdir):
  return [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]


def dream_names(workdir):
  return sorted(os.path.basename(p) for p in glob.glob(os.path.join(workdir, 'dreams', '*.wav')))


def assert_same_run(a, b, config):
  step_a, state_a, host_a = final_params(a, config)
  step_b, state_b, host_b = final_params(b, config)
  assert step_a == step_b
  jax.tree.map(lambda x, y: np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6),
               state_a.params, state_b.params)
  np.testing.assert_allclose(state_a.dream_buffers, state_b.dream_buffers, rtol=1e-5, atol=1e-6)
  ma, mb = metrics(a), metrics(b)
  assert [r['step'] for r in ma] == [r['step'] for r in mb]  # no gap, no repeat
  np.testing.assert_allclose([r['loss'] for r in ma], [r['loss'] for r in mb], rtol=1e-4)
  assert [r.get('val_loss') is None for r in ma] == [r.get('val_loss') is None for r in mb]
  assert dream_names(a) == dream_names(b)


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
  config = tiny_config('vector', max_steps=80, log_every=7, checkpoint_every=30, eval_every=35,
                       lr_final=1.0)  # a constant rate: the run's length may change on resume
  train.train_and_evaluate(config, str(tmp_path / 'straight'), log=lambda _: None)
  config.max_steps = 45  # stop part way (between checkpoints and log windows) ...
  summary = train.train_and_evaluate(config, str(tmp_path / 'resumed'), log=lambda _: None)
  assert summary['steps'] == 45
  config.max_steps = 80  # ... and resume to the end
  lines = []
  train.train_and_evaluate(config, str(tmp_path / 'resumed'), log=lines.append)
  assert any('resuming at iteration 45' in line for line in lines)
  assert_same_run(str(tmp_path / 'straight'), str(tmp_path / 'resumed'), config)


@pytest.mark.slow
def test_a_decaying_rate_keeps_the_run_length(tmp_path):
  config = tiny_config('vector', max_steps=20, lr_final=0.1)
  train.train_and_evaluate(config, str(tmp_path / 'run'), log=lambda _: None)
  config.max_steps = 40
  with pytest.raises(config_lib.ConfigError, match='max_steps cannot change on resume') as e:
    train.train_and_evaluate(config, str(tmp_path / 'run'), log=lambda _: None)
  assert '\n' not in str(e.value) and '--config.max_steps=20' in str(e.value)


def test_conflicting_config_is_refused(tmp_path):
  config = tiny_config('column', max_steps=10)
  train.train_and_evaluate(config, str(tmp_path / 'run'), log=lambda _: None)
  config.seg_len = 32
  with pytest.raises(config_lib.ConfigError, match='seg_len=16 there vs 32 now'):
    train.train_and_evaluate(config, str(tmp_path / 'run'), log=lambda _: None)


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
  extra = dict(max_steps=1500, checkpoint_every=100, log_every=10)
  straight, killed = str(tmp_path / 'straight'), str(tmp_path / 'killed')
  code, _, err = run_cli('--config=configs/column.py', f'--workdir={straight}', *flags(**extra))
  assert code == 0, err
  p = cli('--config=configs/column.py', f'--workdir={killed}', *flags(**extra))
  deadline = time.time() + 120
  while not complete_checkpoints(killed) and time.time() < deadline:
    time.sleep(0.01)
  alive = p.poll() is None
  p.send_signal(signal.SIGKILL)
  p.communicate()
  assert alive, 'the run ended before it could be killed'
  # A save that was under way may have left a temporary directory: resume must ignore it.
  assert complete_checkpoints(killed) and max(complete_checkpoints(killed)) < 1500
  code, out, err = run_cli('--config=configs/column.py', f'--workdir={killed}', *flags(**extra))
  assert code == 0, err
  assert 'resuming at iteration' in out
  assert_same_run(straight, killed, tiny_config('column', **extra))


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path):
  workdir = str(tmp_path / 'run')
  p = cli('--config=configs/column.py', f'--workdir={workdir}', *flags(max_steps=10**7))
  deadline = time.time() + 120
  while time.time() < deadline:
    if os.path.exists(os.path.join(workdir, 'metrics.jsonl')) and metrics(workdir):
      break
    time.sleep(0.05)
  t0 = time.time()
  p.send_signal(signal.SIGTERM)
  out, err = p.communicate(timeout=60)
  assert p.returncode == 0, err
  assert time.time() - t0 < 15
  assert 'stopped by SIGTERM' in out
  step, state, _ = final_params(workdir, tiny_config('column', max_steps=10**7))
  assert 0 < step < 10**7 and int(state.step) == step
  assert not glob.glob(os.path.join(workdir, '**', '*.tmp*'), recursive=True)


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp('trained') / 'run')
  config = tiny_config('vector', max_steps=30, use_dropout=True)
  train.train_and_evaluate(config, workdir, log=lambda _: None)
  return workdir


@pytest.mark.slow
def test_sample_mode_writes_requested_dreams_reproducibly(trained_run, tmp_path):
  a = sample_mode.sample(trained_run, num_dreams=3, dream_seconds=0.05, out_dir=str(tmp_path / 'a'),
                       seed=5, log=lambda _: None)
  b = sample_mode.sample(trained_run, num_dreams=3, dream_seconds=0.05, out_dir=str(tmp_path / 'a'),
                       seed=5, log=lambda _: None)
  c = sample_mode.sample(trained_run, num_dreams=3, dream_seconds=0.05, out_dir=str(tmp_path / 'c'),
                       seed=6, log=lambda _: None)
  assert len(a) == len(set(a + b)) - 3 == 3  # never over earlier files
  for pa, pb, pc in zip(a, b, c):
    xa, sr = sf.read(pa)
    xb, _ = sf.read(pb)
    xc, _ = sf.read(pc)
    assert sr == 11025 and len(xa) >= 0.05 * sr and len(xa) < 0.05 * sr + 16
    np.testing.assert_array_equal(xa, xb)
    assert np.max(np.abs(xa)) > 0
  assert any(not np.array_equal(sf.read(pa)[0], sf.read(pc)[0]) for pa, pc in zip(a, c))


@pytest.mark.slow
def test_sample_mode_cli_with_seed_files(trained_run, tmp_path, synth_audio):
  seed = audio_io.write_wav(str(tmp_path / 'melody.wav'), synth_audio[:4000], 11025)
  short = audio_io.write_wav(str(tmp_path / 'short.wav'), synth_audio[:10], 11025)
  out = tmp_path / 'out'
  code, stdout, err = run_cli('--mode=sample', f'--workdir={trained_run}', f'--seed_files={seed}',
                              '--num_dreams=2', '--dream_seconds=0.1', f'--out_dir={out}')
  assert code == 0, err
  wavs = sorted(glob.glob(str(out / '*.wav')))
  assert [os.path.basename(w) for w in wavs] == ['vector_sample_melody_000.wav',
                                                 'vector_sample_melody_001.wav']
  # Bad input is refused in one line (the command line prints it, exit status 2: test_cli.py).
  before = sorted(os.listdir(trained_run))
  with pytest.raises(config_lib.ConfigError, match='too short to seed a dream') as e:
    sample_mode.sample(trained_run, seed_files=[short], log=lambda _: None)
  assert '\n' not in str(e.value) and sorted(os.listdir(trained_run)) == before
  with pytest.raises(config_lib.ConfigError, match='holds no run') as e:
    sample_mode.sample(str(tmp_path / 'nothing'), log=lambda _: None)
  assert '\n' not in str(e.value) and not (tmp_path / 'nothing').exists()


@pytest.mark.slow
def test_watch_mode_survives_bad_files(trained_run, tmp_path, synth_audio):
  watch_dir, out_dir = tmp_path / 'in', tmp_path / 'out'
  watch_dir.mkdir()
  p = cli('--mode=watch', f'--workdir={trained_run}', f'--watch_dir={watch_dir}',
          f'--out_dir={out_dir}', '--dream_seconds=0.05')
  try:
    audio_io.write_wav(str(tmp_path / 'good.wav'), synth_audio[:3000], 11025)
    os.replace(tmp_path / 'good.wav', watch_dir / 'good1.wav')
    (watch_dir / 'garbage.wav').write_bytes(b'this is not audio' * 100)
    (watch_dir / 'empty.wav').write_bytes(b'')
    (watch_dir / 'subdir').mkdir()
    # A file written slowly: half of it, a pause longer than a poll, then the rest.
    data = open(audio_io.write_wav(str(tmp_path / 'slow.wav'), synth_audio[3000:9000], 11025),
                'rb').read()
    with open(watch_dir / 'slow.wav', 'wb') as f:
      f.write(data[:len(data) // 2])
      f.flush()
      time.sleep(0.6)
      f.write(data[len(data) // 2:])
    deadline = time.time() + 90
    while time.time() < deadline and len(glob.glob(str(out_dir / '*.wav'))) < 2:
      time.sleep(0.1)
    time.sleep(1.5)  # time to (wrongly) process something twice
    assert p.poll() is None, p.communicate()
    outs = sorted(os.path.basename(w) for w in glob.glob(str(out_dir / '*.wav')))
    assert outs == ['good1_dream.wav', 'slow_dream.wav']
  finally:
    p.send_signal(signal.SIGINT)
    stdout, err = p.communicate(timeout=30)
  assert p.returncode == 0, err
  assert 'skipped garbage.wav' in stdout and 'skipped empty.wav' in stdout
  assert 'stopped watching: 2 dream(s) written' in stdout
