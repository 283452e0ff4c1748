"""The `audiolstm` console command (audiolstm/command.py): subcommands with their own flags, and
bundled configs by name from any directory. Run as real processes, from a folder outside the
checkout."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def audiolstm(tmp_path, *args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-m', 'audiolstm.command', *args], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=120)


def test_help_lists_every_subcommand_in_one_line_each(tmp_path):
  out = audiolstm(tmp_path, '--help')
  assert out.returncode == 0, out.stderr
  names = [line.split()[0] for line in out.stdout.splitlines()[2:] if line.strip()]
  assert names == ['train', 'sample', 'watch', 'stream', 'play', 'evaluate', 'report', 'bench',
                   'devset']


def test_a_subcommand_lists_only_its_own_flags(tmp_path):
  out = audiolstm(tmp_path, 'sample', '--help')
  assert out.returncode == 0, out.stderr
  assert '--num_dreams' in out.stdout and '--workdir' in out.stdout
  assert '--osc_port' not in out.stdout and '--config.FIELD' not in out.stdout
  stream = audiolstm(tmp_path, 'stream', '--help').stdout
  assert '--osc_port' in stream and '--num_dreams' not in stream


def test_refusals_are_one_line_and_exit_2(tmp_path):
  cases = {('frob',): 'unknown subcommand',
           ('train', '--config=fft', '--num_dreams=3'): 'goes with audiolstm sample',
           ('sample', '--workdir=x', '--mode=train'): '--mode is the subcommand',
           ('train', '--config=ftt'): 'did you mean fft?'}
  for args, words in cases.items():
    out = audiolstm(tmp_path, *args)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and words in lines[0], (args, out.stderr)
  assert not os.listdir(tmp_path)


def test_a_missing_config_file_suggests_the_bundled_one_by_name(tmp_path):
  out = audiolstm(tmp_path, 'train', '--config=configs/column.py')
  assert out.returncode == 2
  assert '--config=column' in out.stderr and 'bundled: column, default, fft' in out.stderr
