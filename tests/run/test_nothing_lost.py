"""Nothing lost, whatever happens (issue 12): the work-directory lock, refusing to restart over a
run's history (--restart moves it aside), damaged checkpoints, a full disk, absurd lengths, a
torn metrics line, config.json types, constant input and sample mode without a checkpoint.

Real runs on tiny configs, real orbax checkpoints, real files; the full disk is a real tmpfs (in a
private mount namespace, where `unshare` allows it) or /dev/full.
"""
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import weakref

import jax
import ml_collections
import numpy as np
import pytest

from audiolstm.audio import audio_io
from audiolstm.config import defaults
from audiolstm.config import settings as config_lib
from audiolstm.config.settings import ConfigError
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.dream import sample as sample_mode
from audiolstm.dream import trained as trained_lib
from audiolstm.judge import report
from audiolstm.judge import measures
from audiolstm.run import checkpoint
from audiolstm.run import rundir
from audiolstm.run import signals
from audiolstm.run import train
from tests.helpers import TINY, snapshot, tiny_config, trained_tiny_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUIET = dict(log=lambda *_: None)


def run_cli(*args, prefix=(), timeout=300):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([*prefix, sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=timeout, check=False)


def one_error_line(r):
  """The one 'audiolstm: error: ...' line of a refused command (exit status 2)."""
  lines = [line for line in r.stderr.splitlines() if line.strip()]
  assert r.returncode == 2 and len(lines) == 1, r.stderr[-3000:]
  assert lines[0].startswith('audiolstm: error: '), lines
  return lines[0]


def tiny_flags(**extra):
  return [f'--config.{k}={v}' for k, v in {**TINY, **extra}.items()]


@pytest.fixture
def wav(tmp_path, synth_audio):
  return audio_io.write_wav(str(tmp_path / 'in.wav'), synth_audio, 11025)


def hold_lock(folder):
  """An exclusive lock on folder as a live run holds it (an open, flock'ed lock file)."""
  os.makedirs(folder, exist_ok=True)
  fd = os.open(os.path.join(folder, rundir.LOCK_NAME), os.O_RDWR | os.O_CREAT)
  fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  os.write(fd, f'{os.getpid()}\n'.encode())
  return fd


# ----------------------------------------------------------------------------- 1: the lock


@pytest.mark.slow
def test_a_second_run_on_a_live_work_directory_is_refused(tmp_path, wav):
  work = str(tmp_path / 'run')
  fd = hold_lock(work)
  try:
    with pytest.raises(ConfigError, match=f'in use by another run .pid {os.getpid()}') as e:
      train.train_and_evaluate(tiny_config('column', max_steps=5, input_files=(wav,)), work,
                               **QUIET)
    assert '\n' not in str(e.value) and '--workdir' in str(e.value)
    assert not snapshot(work)  # nothing written
    line = one_error_line(run_cli('--config=configs/column.py', f'--workdir={work}',
                                  *tiny_flags(max_steps=5), f'--config.input_files=("{wav}",)'))
    assert f'pid {os.getpid()}' in line
  finally:
    os.close(fd)
  # The holder is gone: its lock file (still there, naming a dead pid) does not block.
  summary = train.train_and_evaluate(tiny_config('column', max_steps=5, input_files=(wav,)), work,
                                     **QUIET)
  assert summary['steps'] == 5
  with rundir.Lock(work):  # released at the end of the run
    pass


def test_the_lock_names_its_holder_and_refuses_a_second_holder(tmp_path):
  with rundir.Lock(str(tmp_path)) as lock:
    with open(lock.path, encoding='utf-8') as f:
      assert f.read().strip() == str(os.getpid())
    with pytest.raises(ConfigError, match=f'pid {os.getpid()}'):
      rundir.Lock(str(tmp_path), flag='--out_dir').acquire()
  with rundir.Lock(str(tmp_path)):  # free again
    pass


@pytest.mark.slow
def test_two_runs_started_together_on_one_work_directory_one_is_refused(tmp_path, wav):
  work = str(tmp_path / 'run')
  args = [sys.executable, '-m', 'audiolstm.main', '--config=configs/vector.py', f'--workdir={work}',
          *tiny_flags(max_steps=10**7, lr_final=1.0), f'--config.input_files=("{wav}",)']
  env = dict(os.environ, PYTHONPATH=ROOT)
  runs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True) for _ in range(2)]
  try:
    deadline = time.time() + 120
    while all(p.poll() is None for p in runs) and time.time() < deadline:
      time.sleep(0.1)
    refused = [p for p in runs if p.poll() is not None]
    assert len(refused) == 1, 'neither run was refused'
    winner = [p for p in runs if p is not refused[0]][0]
    lines = refused[0].communicate()[1].strip().splitlines()
    assert refused[0].returncode == 2 and len(lines) == 1, lines
    assert f'in use by another run (pid {winner.pid})' in lines[0], lines
    while len(rundir.read_metrics(work)) < 3 and time.time() < deadline:  # the other trains on
      time.sleep(0.1)
    assert winner.poll() is None
  finally:
    for p in runs:
      if p.poll() is None:
        p.send_signal(signal.SIGTERM)
      p.communicate(timeout=120)
  assert winner.returncode == 0
  steps = [r['step'] for r in rundir.read_metrics(work)]
  assert steps and steps == sorted(set(steps))  # one run's records, no interleaved duplicates
  assert not [n for n in os.listdir(os.path.join(work, 'dreams')) if '-1.' in n]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A tiny trained vector run with checkpoints at iterations 4 (the first chunk's), 20 and 30."""
  return trained_tiny_run(tmp_path_factory.mktemp('trained'), 'vector', max_steps=30,
                          checkpoint_every=20)


def copy_run(trained, tmp_path):
  work = str(tmp_path / 'run')
  shutil.copytree(trained, work)
  return work


@pytest.mark.slow
def test_sample_and_watch_refuse_an_output_folder_in_use(trained, tmp_path):
  out = str(tmp_path / 'out')
  fd = hold_lock(out)
  try:
    with pytest.raises(ConfigError, match=f'--out_dir={out} is in use .* .pid {os.getpid()}'):
      sample_mode.sample(trained, num_dreams=1, dream_seconds=0.01, out_dir=out, **QUIET)
    os.makedirs(tmp_path / 'in')
    with pytest.raises(ConfigError, match=f'--out_dir={out} is in use .* .pid {os.getpid()}'):
      sample_mode.watch(trained, str(tmp_path / 'in'), out, max_files=0, **QUIET)
    assert not snapshot(out)
  finally:
    os.close(fd)
  assert len(sample_mode.sample(trained, num_dreams=1, dream_seconds=0.01, out_dir=out,
                              **QUIET)) == 1


# ----------------------------------------------------------------------------- 2: --restart


@pytest.mark.slow
def test_a_run_without_a_checkpoint_is_refused_and_restart_moves_it_aside(tmp_path, wav):
  work = str(tmp_path / 'run')
  config = tiny_config('vector', max_steps=10, input_files=(wav,))
  train.train_and_evaluate(config, work, **QUIET)
  shutil.rmtree(os.path.join(work, 'checkpoints'))
  before = snapshot(work)
  assert any(name.startswith('dreams/') for name in before)
  with pytest.raises(ConfigError, match='no checkpoint to resume from') as e:
    train.train_and_evaluate(config, work, **QUIET)
  assert '\n' not in str(e.value) and '--workdir' in str(e.value) and '--restart' in str(e.value)
  assert snapshot(work) == before  # nothing lost, nothing touched
  line = one_error_line(run_cli('--config=configs/vector.py', f'--workdir={work}',
                                *tiny_flags(max_steps=10), f'--config.input_files=("{wav}",)'))
  assert '--restart' in line
  assert snapshot(work) == before
  lines = []  # --restart (main.py passes it on as restart=True; test_restart_is_a_train_mode_flag)
  train.train_and_evaluate(config, work, log=lines.append, restart=True)
  aside = [d for d in os.listdir(tmp_path) if d.startswith('run.before-restart-')]
  assert len(aside) == 1 and any(aside[0] in line for line in lines)
  assert snapshot(str(tmp_path / aside[0])) == before  # moved, byte for byte
  assert rundir.read_metrics(work)[-1]['step'] == 10 and os.listdir(os.path.join(work, 'dreams'))


def test_restart_is_a_train_mode_flag(tmp_path):
  line = one_error_line(run_cli('--mode=sample', f'--workdir={tmp_path}', '--restart'))
  assert '--restart is a train-mode flag' in line


@pytest.mark.slow
def test_a_default_run_is_resumable_once_its_first_chunk_is_done(tmp_path, wav):
  work = str(tmp_path / 'run')
  args = ['--config=configs/column.py', f'--workdir={work}',
          *tiny_flags(max_steps=10**7, checkpoint_every=0, lr_final=1.0),
          f'--config.input_files=("{wav}",)']
  env = dict(os.environ, PYTHONPATH=ROOT)
  p = subprocess.Popen([sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpts = os.path.join(work, 'checkpoints')
  try:
    for _ in range(600):  # at most a minute
      if p.poll() is not None or (os.path.isdir(ckpts)
                                  and any(n.isdigit() for n in os.listdir(ckpts))):
        break
      time.sleep(0.1)
    assert p.poll() is None, 'the run ended'
  finally:
    p.kill()
    p.wait()
  steps = [int(n) for n in os.listdir(ckpts) if n.isdigit()]
  assert steps and max(steps) <= TINY['chunk_size']  # the first chunk's checkpoint
  r = run_cli(*args[:2], *tiny_flags(max_steps=40, checkpoint_every=0, lr_final=1.0),
              f'--config.input_files=("{wav}",)')
  assert r.returncode == 0, r.stderr[-3000:]
  assert 'resuming at iteration' in r.stdout


# ----------------------------------------------------------------------------- 3: damage


def damage(checkpoint_dir, how):
  """Damage one orbax checkpoint directory the ways a crash or a bad disk does."""
  files = sorted(os.path.join(root, n) for root, _, names in os.walk(checkpoint_dir)
                 for n in names)
  data = [f for f in files if os.sep + 'd' + os.sep in f]
  if how == 'truncated data':
    for f in data:
      os.truncate(f, os.path.getsize(f) // 3)
  elif how == 'deleted data':
    for f in data:
      os.remove(f)
  elif how == 'no _METADATA':
    os.remove(os.path.join(checkpoint_dir, 'default', '_METADATA'))
  elif how == 'random manifest':
    for f in files:
      if f.endswith('manifest.ocdbt'):
        with open(f, 'wb') as fh:
          fh.write(np.random.default_rng(0).bytes(os.path.getsize(f)))


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_an_intact_one(trained, tmp_path):
  c, g = config_lib.prepare(ml_collections.ConfigDict(rundir.read_config_file(
      os.path.join(trained, 'config.json'))))
  sources = dataset.load_sources(c, g)
  program = program_lib.build(c, sources)
  like = program.init(program_lib.device_data(sources), jax.random.key(0))
  host = checkpoint.HostState(c, program.setup).to_tree()
  for i, how in enumerate(('truncated data', 'deleted data', 'no _METADATA', 'random manifest')):
    work = str(tmp_path / f'run{i}')
    shutil.copytree(trained, work)
    damage(os.path.join(work, 'checkpoints', '30'), how)
    ckpts = checkpoint.Checkpoints(os.path.join(work, 'checkpoints'), 3)
    try:
      step, state, _, skipped = ckpts.restore_newest(like, host)
    finally:
      ckpts.close()
    assert step == 20 and int(state.step) == 20, how
    assert [s for s, _ in skipped] == [30], how
    assert os.path.isdir(os.path.join(work, 'checkpoints', '30')), how  # left in place


@pytest.mark.slow
def test_resume_and_sample_skip_a_damaged_checkpoint(trained, tmp_path):
  work = copy_run(trained, tmp_path)
  damage(os.path.join(work, 'checkpoints', '30'), 'truncated data')
  lines = []
  paths = sample_mode.sample(work, num_dreams=1, dream_seconds=0.01, out_dir=str(tmp_path / 'out'),
                           log=lines.append)
  assert len(paths) == 1
  note = [line for line in lines if 'checkpoint 30' in line]
  assert note and 'damaged' in note[0] and 'iteration 20' in note[0], lines
  assert os.path.isdir(os.path.join(work, 'checkpoints', '30'))  # left in place
  lines = []
  summary = train.train_and_evaluate(tiny_config('vector', max_steps=30, checkpoint_every=20,
                                                 input_files=(os.path.join(
                                                     os.path.dirname(trained), 'in.wav'),)),
                                     work, log=lines.append)
  assert summary['steps'] == 30 and any('resuming at iteration 20' in line for line in lines)
  note = [line for line in lines if 'checkpoint 30' in line]
  assert note and 'damaged' in note[0], lines
  kept = os.path.join(work, 'damaged-checkpoints', '30')
  assert kept in note[0] and os.path.isdir(kept)  # kept for inspection, out of orbax's way
  assert [r['step'] for r in rundir.read_metrics(work)] == [5, 10, 15, 20, 25, 30]


# ----------------------------------------------------------------------------- 5: absurd lengths


@pytest.mark.parametrize('fields', [dict(dream_seconds=1e9), dict(dream_seconds=1e5),
                                    dict(dream_seconds=2.0, num_dream_streams=100000),
                                    dict(seq_dream_seconds=1e6, audio_freq=10),
                                    dict(dream_seconds=float('inf'))])
def test_absurd_dream_lengths_are_refused_before_anything_is_written(tmp_path, fields):
  work = tmp_path / 'run'
  with pytest.raises(ConfigError) as e:
    train.train_and_evaluate(tiny_config('vector', **fields), str(work), **QUIET)
  message = str(e.value)
  assert '\n' not in message and not work.exists()
  if fields.get('dream_seconds') != float('inf'):
    assert 'GiB' in message and 'limit' in message, message


@pytest.mark.slow
def test_sample_mode_refuses_absurd_lengths_before_writing(trained, tmp_path):
  out = tmp_path / 'out'
  with pytest.raises(ConfigError, match='GiB.*limit') as e:
    sample_mode.sample(trained, num_dreams=4, dream_seconds=1e6, out_dir=str(out), **QUIET)
  assert '--dream_seconds' in str(e.value) and not out.exists()
  with pytest.raises(ConfigError, match='must be a finite number'):
    sample_mode.sample(trained, num_dreams=1, dream_seconds=float('inf'), out_dir=str(out), **QUIET)


# ----------------------------------------------------------------------------- 7: torn metrics


@pytest.mark.slow
def test_resume_rewrites_metrics_without_a_torn_last_line(trained, tmp_path):
  work = copy_run(trained, tmp_path)
  shutil.rmtree(os.path.join(work, 'checkpoints', '30'))  # killed before its final save ...
  with open(os.path.join(work, 'metrics.jsonl'), 'a', encoding='utf-8') as f:
    f.write('{"step": 35, "lo')  # ... and in the middle of an append
  assert [r['step'] for r in rundir.read_metrics(work)] == [5, 10, 15, 20, 25, 30]
  wav = os.path.join(os.path.dirname(trained), 'in.wav')
  train.train_and_evaluate(tiny_config('vector', max_steps=30, checkpoint_every=20,
                                       input_files=(wav,)), work, **QUIET)
  with open(os.path.join(work, 'metrics.jsonl'), encoding='utf-8') as f:
    lines = f.read().splitlines()
  assert [json.loads(line)['step'] for line in lines] == [5, 10, 15, 20, 25, 30]


# ----------------------------------------------------------------------------- 8: config.json


@pytest.mark.parametrize('approach', ['vector', 'column', 'transpose', 'fft'])
def test_config_json_round_trips_to_the_types_of_get_config(approach, tmp_path):
  c, _ = config_lib.prepare(tiny_config(approach))
  run = rundir.RunDir(str(tmp_path / 'run'))
  run.write_config(c, iters_per_epoch=3)
  back, _ = config_lib.prepare(ml_collections.ConfigDict(run.read_config()))
  assert back.to_dict() == c.to_dict()
  for name, value in defaults.get_config().items():
    assert type(back[name]) is type(c[name]), name  # pylint: disable=unidiomatic-typecheck
    if isinstance(value, tuple):
      assert isinstance(back[name], tuple), name


@pytest.mark.slow
@pytest.mark.parametrize('approach', ['vector', 'column', 'transpose', 'fft'])
def test_sample_and_watch_work_for_every_approach(approach, tmp_path, wav):
  work = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config(approach, max_steps=5, input_files=(wav,)), work, **QUIET)
  assert len(sample_mode.sample(work, num_dreams=2, dream_seconds=0.02,
                              out_dir=str(tmp_path / 'samples'), **QUIET)) == 2
  watch_dir = tmp_path / 'in'
  watch_dir.mkdir()
  shutil.copy(wav, watch_dir / 'seed.wav')
  count = sample_mode.watch(work, str(watch_dir), str(tmp_path / 'out'), dream_seconds=0.02,
                          poll_s=0.05, settle_s=0.0, max_files=1, **QUIET)
  assert count == 1
  assert sorted(n for n in os.listdir(tmp_path / 'out') if not n.startswith('.')) == [
      'seed_dream.png', 'seed_dream.wav']


# ----------------------------------------------------------------------------- 9: constant input


def test_constant_input_is_refused_at_start_like_silence(tmp_path):
  dc = audio_io.write_wav(str(tmp_path / 'dc.wav'), np.full(11025, 0.5, np.float32), 11025)
  work = tmp_path / 'run'
  with pytest.raises(ConfigError, match='constant') as e:
    train.train_and_evaluate(tiny_config('vector', input_files=(dc,)), str(work), **QUIET)
  assert '\n' not in str(e.value) and 'config.input_files' in str(e.value)
  assert not work.exists()


def test_the_scorer_flags_a_constant_reference_instead_of_dividing_by_zero():
  sr = 11025
  dream = (0.3 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32)
  scores = measures.score_audio(dream, np.full(2 * sr, 0.5), sr)
  assert np.isnan(scores['level_db']) and not scores['silent']
  scores = measures.score_audio(np.full(sr, 0.5), np.full(2 * sr, 0.5), sr)
  assert scores['constant']


# ----------------------------------------------------------------------------- 10: no checkpoint


@pytest.mark.slow
def test_sample_mode_without_a_usable_checkpoint_says_so_in_one_line(trained, tmp_path):
  work = copy_run(trained, tmp_path)
  steps = [n for n in os.listdir(os.path.join(work, 'checkpoints')) if n.isdigit()]
  for step in steps:
    damage(os.path.join(work, 'checkpoints', step), 'truncated data')
  line = one_error_line(run_cli('--mode=sample', f'--workdir={work}', '--num_dreams=1'))
  assert 'no checkpoint that restores' in line and 'damaged' in line
  for step in steps:
    shutil.rmtree(os.path.join(work, 'checkpoints', step))
  line = one_error_line(run_cli('--mode=sample', f'--workdir={work}', '--num_dreams=1'))
  assert 'no complete checkpoint' in line
  assert not os.path.exists(os.path.join(work, 'samples'))


# ----------------------------------------------------------------------------- 4: a full disk


def _can_mount_tmpfs(tmp_path):
  """Whether `unshare -rm` gives this user a private mount namespace where tmpfs mounts."""
  if not shutil.which('unshare'):
    return False
  target = tmp_path / 'probe'
  target.mkdir()
  r = subprocess.run(['unshare', '-rm', 'sh', '-c', f'mount -t tmpfs -o size=64k tmpfs {target}'],
                     capture_output=True, timeout=30, check=False)
  return r.returncode == 0


def run_on_a_small_disk(disk, size, args, copy_to=None):
  """The command line in a private mount namespace where `disk` is a tmpfs of `size` (a real
  file system that fills up: ENOSPC); with `copy_to`, what the disk held is copied there after."""
  env = dict(os.environ, PYTHONPATH=ROOT)
  quoted = ' '.join("'" + a.replace("'", "'\\''") + "'" for a in args)
  script = (f'mount -t tmpfs -o size={size} tmpfs {disk} || exit 99; '
            f'{sys.executable} -m audiolstm.main {quoted}; rc=$?; '
            + (f'cp -a {disk}/. {copy_to}/; ' if copy_to else '') + 'exit $rc')
  return subprocess.run(['unshare', '-rm', 'sh', '-c', script], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize('full', ['checkpoints', 'dreams', 'run'])
def test_a_full_disk_is_one_line_and_the_run_resumes(full, tmp_path, wav):
  if not _can_mount_tmpfs(tmp_path):
    pytest.skip('no private mount namespace here (unshare -rm, mount -t tmpfs)')
  disk = tmp_path / 'disk'
  disk.mkdir()
  work = tmp_path / 'run'
  if full == 'run':  # the whole work directory on a disk that fills after the first checkpoint
    work, size = disk / 'run', '700k'
  else:  # its checkpoints or its dreams on a disk too small for the first one
    work.mkdir()
    (work / full).symlink_to(disk)
    size = '50k' if full == 'checkpoints' else '100k'
  args = ['--config=configs/vector.py', f'--workdir={work}', *tiny_flags(max_steps=100),
          f'--config.input_files=("{wav}",)']
  saved = tmp_path / 'saved'
  saved.mkdir()
  r = run_on_a_small_disk(disk, size, args, copy_to=saved if full == 'run' else None)
  assert r.returncode != 99, r.stderr
  line = one_error_line(r)
  assert line.startswith(f'audiolstm: error: no space left on the device under {work}'), line
  if full == 'run':
    assert 'free space and run the same command to resume (from the checkpoint' in line, line
    # Space freed (the same run on a disk with room): it resumes, and nothing is lost.
    args[1] = f'--workdir={saved / "run"}'
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resuming at iteration' in r.stdout
    steps = [rec['step'] for rec in rundir.read_metrics(str(saved / 'run'))]
    assert steps == list(range(5, 101, 5))
  elif full == 'checkpoints':  # not even the first checkpoint fitted
    assert 'free space and run the same command with --restart' in line, line
  else:
    assert 'free space and run the same command' in line, line


# ----------------------------------------------------------------------------- 6: watch mode


@pytest.mark.slow
def test_watch_mode_waits_for_a_deleted_folder_and_follows_symlinks(trained, tmp_path, synth_audio):
  watch_dir, out = tmp_path / 'in', tmp_path / 'out'
  watch_dir.mkdir()
  lines, result = [], {}

  def watch():
    try:
      result['count'] = sample_mode.watch(trained, str(watch_dir), str(out), dream_seconds=0.02,
                                        poll_s=0.05, settle_s=0.1, max_files=1, log=lines.append)
    except BaseException as e:  # pylint: disable=broad-except
      result['error'] = e

  thread = threading.Thread(target=watch)
  thread.start()
  deadline = time.time() + 120
  while not any(line.startswith('watching') for line in lines) and time.time() < deadline:
    time.sleep(0.05)
  watch_dir.rmdir()
  while not any('is gone' in line for line in lines) and time.time() < deadline:
    time.sleep(0.05)
    if not thread.is_alive():
      break
  watch_dir.mkdir()
  # A symlink to a file elsewhere is followed (14).
  audio_io.write_wav(str(tmp_path / 'x.wav'), synth_audio[:3000], 11025)
  os.symlink(tmp_path / 'x.wav', watch_dir / 'x.wav')
  thread.join(timeout=120)
  assert 'error' not in result, result
  assert result.get('count') == 1 and os.path.exists(out / 'x_dream.wav')
  gone = [line for line in lines if 'is gone' in line]
  assert len(gone) == 1 and str(watch_dir) in gone[0], lines


# ----------------------------------------------------------------------------- 11: first chunk


@pytest.mark.slow
def test_the_first_chunks_are_a_few_iterations_whatever_the_chunk_size(tmp_path, wav):
  """A signal is answered at a chunk's end: before the speed is measured, chunks are short."""
  work = str(tmp_path / 'run')
  train.train_and_evaluate(tiny_config('column', max_steps=60, chunk_size=1000, input_files=(wav,),
                                       checkpoint_every=0), work, **QUIET)
  steps = sorted(int(n) for n in os.listdir(os.path.join(work, 'checkpoints')) if n.isdigit())
  assert steps == [train.FIRST_ITERATIONS, 60]  # the first chunk's checkpoint, and the end's


# ----------------------------------------------------------------------------- 12: two signals


def test_a_second_signal_waits_for_a_save_then_stops_at_once():
  with signals.StopSignals() as stop:
    os.kill(os.getpid(), signal.SIGINT)
    assert stop.requested == 'SIGINT'  # the first: a request, nothing raised
    with pytest.raises(signals.StopNow) as e:
      with stop.critical():  # a checkpoint save: not interrupted ...
        os.kill(os.getpid(), signal.SIGINT)
        saved = True
    assert saved and e.value.signal_name == 'SIGINT'  # ... and the stop comes right after it
  with signals.StopSignals() as stop:
    with pytest.raises(signals.StopNow):
      os.kill(os.getpid(), signal.SIGTERM)
      os.kill(os.getpid(), signal.SIGTERM)
      for _ in range(100):  # the second stops at once, wherever the main thread is
        time.sleep(0.01)


def test_a_stop_swallowed_by_a_callback_is_silent_and_raised_again(monkeypatch):
  """A second signal that lands in a weakref callback (or a __del__) cannot propagate there:
  Python hands the StopNow to sys.unraisablehook, which must not print a traceback under the
  one-line error, and the loop's next critical() raises it again."""
  reported = []
  monkeypatch.setattr(sys, 'unraisablehook', lambda info: reported.append(info.exc_value))
  hook = sys.unraisablehook

  class Thing:
    pass

  def second_signal(_):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)   # the handler runs here, inside the callback

  with signals.StopSignals() as stop:
    os.kill(os.getpid(), signal.SIGINT)
    thing = Thing()
    ref = weakref.ref(thing, second_signal)
    del thing          # the callback runs: its StopNow is swallowed
    assert ref() is None
    with pytest.raises(signals.StopNow):
      with stop.critical():
        pass
  assert sys.unraisablehook is hook and not reported


@pytest.mark.slow
def test_two_quick_signals_stop_a_run_at_once_with_its_checkpoints_intact(tmp_path, wav):
  work = str(tmp_path / 'run')
  args = ['--config=configs/column.py', f'--workdir={work}',
          *tiny_flags(max_steps=10**7, lr_final=1.0), f'--config.input_files=("{wav}",)']
  env = dict(os.environ, PYTHONPATH=ROOT)
  p = subprocess.Popen([sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  ckpts = os.path.join(work, 'checkpoints')
  for _ in range(600):
    if p.poll() is not None or (os.path.isdir(ckpts)
                                and any(n.isdigit() for n in os.listdir(ckpts))):
      break
    time.sleep(0.1)
  time.sleep(1.0)  # well into the chunks after the first checkpoint
  p.send_signal(signal.SIGINT)
  time.sleep(0.05)
  p.send_signal(signal.SIGINT)
  _, err = p.communicate(timeout=120)
  lines = [line for line in err.splitlines() if line.strip()]
  assert p.returncode == 130 and len(lines) == 1, err[-3000:]
  assert 'stopped at once by a second SIGINT' in lines[0] and 'run the same command' in lines[0]
  r = run_cli(*args[:2], *tiny_flags(max_steps=100, lr_final=1.0),
              f'--config.input_files=("{wav}",)')
  assert r.returncode == 0 and 'resuming at iteration' in r.stdout, r.stderr[-3000:]


# ----------------------------------------------------------------------------- 13: sample + SIGTERM


@pytest.mark.slow
def test_sample_mode_stopped_by_sigterm_writes_the_finished_part(trained, tmp_path):
  lines = []

  def log(line):
    lines.append(line)
    if line.startswith('dreaming'):  # the dream is about to start: stop it
      os.kill(os.getpid(), signal.SIGTERM)

  def unhandled(signum, frame):
    raise AssertionError('SIGTERM was not handled by sample mode')

  previous = signal.signal(signal.SIGTERM, unhandled)
  try:
    paths = sample_mode.sample(trained, num_dreams=2, dream_seconds=4.0,
                             out_dir=str(tmp_path / 'out'), log=log)
  finally:
    signal.signal(signal.SIGTERM, previous)
  assert len(paths) == 2
  for path in paths:
    n = len(audio_io.load_audio(path, 11025))
    assert 0 < n < 4.0 * 11025  # the finished part only
  assert any('stopped by SIGTERM' in line and 'finished part' in line for line in lines), lines


# ----------------------------------------------------------------------------- 14: smaller cases


@pytest.mark.slow
def test_relative_input_paths_are_stored_absolute(tmp_path, wav, monkeypatch):
  monkeypatch.chdir(os.path.dirname(wav))
  work = str(tmp_path / 'run')
  config = tiny_config('column', max_steps=5, input_files=(os.path.basename(wav),))
  train.train_and_evaluate(config, work, **QUIET)
  assert rundir.read_config_file(os.path.join(work, 'config.json'))['input_files'] == [wav]
  lines = []  # the same relative command resumes it
  train.train_and_evaluate(config, work, log=lines.append)
  assert any('resuming at iteration 5' in line for line in lines)


def test_a_fifo_is_named_as_one(tmp_path):
  fifo = str(tmp_path / 'pipe.wav')
  os.mkfifo(fifo)
  with pytest.raises(audio_io.AudioError, match='FIFO') as e:
    audio_io.load_audio(fifo, 11025)
  assert 'empty' not in str(e.value)


def test_an_unknown_config_field_is_named_with_the_closest_ones(tmp_path):
  line = one_error_line(run_cli('--config=configs/fft.py', '--config.seg_lenn=3',
                                f'--workdir={tmp_path / "run"}'))
  assert '--config.seg_lenn is not a field of the config: did you mean seg_len?' in line


def test_a_short_seed_tells_its_length_from_the_need():
  apart = trained_lib._seconds_apart  # pylint: disable=protected-access
  assert apart(0.0929, 0.0931) == ('0.0929', '0.0931')  # not 0.09 and 0.09
  assert apart(1.5, 2.25) == ('1.50', '2.25')


@pytest.mark.slow
def test_a_restarted_watch_does_not_dream_the_files_it_did(trained, tmp_path, synth_audio):
  watch_dir, out = tmp_path / 'in', str(tmp_path / 'out')
  watch_dir.mkdir()
  audio_io.write_wav(str(watch_dir / 'a.wav'), synth_audio[:3000], 11025)
  kw = dict(dream_seconds=0.02, poll_s=0.05, settle_s=0.0, max_files=1, **QUIET)
  assert sample_mode.watch(trained, str(watch_dir), out, **kw) == 1
  audio_io.write_wav(str(watch_dir / 'b.wav'), synth_audio[3000:6000], 11025)
  assert sample_mode.watch(trained, str(watch_dir), out, **kw) == 1  # b only
  assert sorted(n for n in os.listdir(out) if n.endswith('.wav')) == ['a_dream.wav', 'b_dream.wav']


@pytest.mark.slow
def test_the_report_scores_a_replaced_dream_again(trained, tmp_path):
  work = copy_run(trained, tmp_path)
  names = sorted(os.listdir(os.path.join(work, 'dreams')))
  name = [n for n in names if n.endswith('.wav')][0]
  before = {r['file']: r for r in report.run_scores(work, names=[name], **QUIET)[0]}[name]
  path = os.path.join(work, 'dreams', name)
  n = len(audio_io.load_audio(path, 11025))
  noise = np.random.default_rng(1).uniform(-0.9, 0.9, n).astype(np.float32)
  audio_io.write_wav(path, noise, 11025)
  after = {r['file']: r for r in report.run_scores(work, names=[name], **QUIET)[0]}[name]
  assert abs(after['level_db'] - before['level_db']) > 3  # loud noise now, not the cached score
