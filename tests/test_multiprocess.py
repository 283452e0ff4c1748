"""Several JAX processes train as one: two real processes on localhost, each with 2 simulated CPU
devices (jax.distributed, gloo collectives), against one process with 4 devices; then both killed
with SIGKILL mid-run and started again, and one of them sent SIGTERM (both stop) and started
again. Everything runs through the command line."""
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from audiolstm.run import rundir
from tests.helpers import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, EVERY = 64, 16
SETTINGS = {**TINY, 'num_train_streams': 4, 'num_dream_streams': 4, 'use_dropout': True,
            'max_steps': STEPS, 'checkpoint_every': EVERY, 'dream_seconds': 0.06}
OVERRIDES = [f'--config.{k}={v}' for k, v in SETTINGS.items()]


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def start(workdir, devices: int, log: str, extra=()) -> subprocess.Popen:
  """`python -m audiolstm.main` training the tiny vector run in `workdir` on `devices` simulated
  CPU devices, its output into the file `log`."""
  env = dict(os.environ, PYTHONPATH=ROOT,
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
  with open(log, 'w') as out:
    return subprocess.Popen(
        [sys.executable, '-m', 'audiolstm.main', '--config=configs/vector.py', *OVERRIDES,
         f'--workdir={workdir}', *extra], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def start_two(workdir, tmp_path, name: str) -> list:
  """Processes 0 and 1 of a 2-process run (2 devices each) in `workdir`."""
  address = f'--coordinator_address=localhost:{free_port()}'
  return [start(workdir, 2, str(tmp_path / f'{name}{i}.log'),
                [address, '--num_processes=2', f'--process_id={i}']) for i in (0, 1)]


def wait_ok(procs, tmp_path) -> None:
  for proc in procs:
    assert proc.wait(timeout=300) == 0, '\n'.join(
        f'{f.name}:\n{f.read_text()[-3000:]}' for f in tmp_path.glob('*.log'))


def final_params(workdir) -> dict:
  """{leaf path: [..] float32} of the parameters in the run's final checkpoint (read as NumPy,
  whatever topology wrote it)."""
  folder = os.path.join(workdir, 'checkpoints', str(STEPS), 'default')
  checkpointer = ocp.StandardCheckpointer()
  meta = checkpointer.metadata(folder)
  meta = getattr(meta, 'item_metadata', meta)
  tree = checkpointer.restore(folder, jax.tree.map(lambda m: np.zeros(m.shape, m.dtype),
                                                   dict(meta)))
  return {jax.tree_util.keystr(k): np.asarray(v)
          for k, v in jax.tree_util.tree_leaves_with_path(tree['state']['params'])}


def metrics(workdir) -> list:
  """metrics.jsonl without the wall-clock 'time' of each record (a torn last line left out)."""
  return [{k: v for k, v in r.items() if k != 'time'} for r in rundir.read_metrics(workdir)]


def assert_same_run(a, b) -> None:
  """Runs a and b: parameters equal to float32 rounding, the same metrics records (losses to
  float32 rounding) and the same dream files."""
  pa, pb = final_params(a), final_params(b)
  assert set(pa) == set(pb)
  for k in pa:
    np.testing.assert_allclose(pb[k], pa[k], rtol=1e-5, atol=1e-6, err_msg=k)
  ma, mb = metrics(a), metrics(b)
  assert [r['step'] for r in ma] == [r['step'] for r in mb] and ma[-1]['step'] == STEPS
  assert [set(r) for r in ma] == [set(r) for r in mb]
  np.testing.assert_allclose([r['loss'] for r in mb], [r['loss'] for r in ma], rtol=1e-5)
  assert sorted(os.listdir(os.path.join(a, 'dreams'))) == sorted(
      os.listdir(os.path.join(b, 'dreams')))


@pytest.fixture(scope='module')
def one_process(tmp_path_factory):
  """The reference: the run trained by one process on 4 devices."""
  tmp = tmp_path_factory.mktemp('one')
  proc = start(str(tmp / 'run'), 4, str(tmp / 'one.log'))
  wait_ok([proc], tmp)
  return str(tmp / 'run')


@pytest.mark.slow
def test_two_processes_train_as_one_process_with_four_devices(one_process, tmp_path):
  work = str(tmp_path / 'run')
  wait_ok(start_two(work, tmp_path, 'p'), tmp_path)
  assert_same_run(one_process, work)
  # Only process 0 logs (and writes: the files are those of one run).
  assert 'work directory' in (tmp_path / 'p0.log').read_text()
  assert not any(w in (tmp_path / 'p1.log').read_text() for w in ('work directory', 'step ',
                                                                    'done:'))


def wait_until(done, procs) -> None:
  """Until done() (every process still running meanwhile)."""
  deadline = time.monotonic() + 300
  while not done() and time.monotonic() < deadline:
    assert all(p.poll() is None for p in procs), 'a process ended before the signal'
    time.sleep(0.05)


@pytest.mark.slow
def test_two_processes_killed_or_stopped_mid_run_resume_to_the_same_result(one_process,
                                                                           tmp_path):
  """SIGKILL to both mid-run, then SIGTERM to process 1 only (both stop at the same chunk
  boundary, with a checkpoint), then to the end: the reference's result."""
  work = str(tmp_path / 'run')
  procs = start_two(work, tmp_path, 'first')
  wait_until(lambda: os.path.isdir(os.path.join(work, 'checkpoints', str(EVERY))), procs)
  for p in procs:
    p.send_signal(signal.SIGKILL)
  assert [p.wait(timeout=60) for p in procs] == [-signal.SIGKILL] * 2
  assert metrics(work)[-1]['step'] < STEPS  # killed mid-run
  procs = start_two(work, tmp_path, 'again')
  wait_until(lambda: metrics(work)[-1]['step'] > EVERY, procs)  # resumed, well before the end
  procs[1].send_signal(signal.SIGTERM)
  wait_ok(procs, tmp_path)
  log = (tmp_path / 'again0.log').read_text()
  assert 'resuming at iteration' in log and 'stopped by a signal to another process' in log
  assert metrics(work)[-1]['step'] < STEPS  # stopped mid-run
  wait_ok(start_two(work, tmp_path, 'last'), tmp_path)
  assert 'resuming at iteration' in (tmp_path / 'last0.log').read_text()
  assert_same_run(one_process, work)


@pytest.mark.parametrize('flags,message', [
    (['--num_processes=2', '--process_id=2'], '--process_id=2 is outside 0..1'),
    (['--num_processes=0'], '--num_processes=0: give the number of processes'),
])
def test_bad_process_flags_one_line_exit_2(flags, message, tmp_path):
  r = subprocess.run([sys.executable, '-m', 'audiolstm.main', '--config=configs/vector.py',
                      f'--workdir={tmp_path / "run"}', '--coordinator_address=localhost:1',
                      *flags], cwd=ROOT, capture_output=True, text=True, timeout=120)
  lines = r.stderr.strip().splitlines()
  assert r.returncode == 2 and len(lines) == 1, r.stderr
  assert lines[0].startswith(f'audiolstm: error: {message}'), r.stderr
  assert not (tmp_path / 'run').exists()
