"""The command lines' shared helpers (audiolstm.cli), the mode flags of audiolstm.main, the sweep's
value parsing (by the config field's type, as audiolstm.main) and the defaults' new home."""
import ast
import dataclasses
import inspect
import os
import subprocess
import sys

from absl import flags
from launch import sweep
from ml_collections import config_flags
import pytest

from audiolstm import cli
from audiolstm.config import defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_line(err: str) -> str:
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1, err
  return lines[0]


# ----------------------------------------------------------------------------- audiolstm.cli


def test_fail_prints_one_line_and_exits(capsys):
  with pytest.raises(SystemExit) as e:
    cli.fail('bad thing\n  on two lines', prog='audiolstm.x')
  assert e.value.code == 2
  assert capsys.readouterr().err == 'audiolstm.x: error: bad thing on two lines\n'
  with pytest.raises(SystemExit) as e:
    cli.fail('diverged', status=1)
  assert e.value.code == 1 and capsys.readouterr().err == 'audiolstm: error: diverged\n'


def test_config_path_and_overrides():
  assert cli.config_path(['--config=configs/fft.py:56', '--config.lr=1']) == 'configs/fft.py'
  assert cli.config_path(['--config', 'a.py']) == 'a.py'
  assert cli.config_path(['--config.lr=1', '--configx=b.py']) is None
  assert cli.config_overrides(['--config=a.py', '--config.lr=1', '--noconfig.use_dropout',
                               '--workdir=x']) == ['--config.lr=1', '--noconfig.use_dropout']


def parse(tmp_path, capsys, source, *args):
  """(exit status, stderr line) of cli.parse_flags on a config file with `source` (None: no
  file); status None when it parses."""
  path = tmp_path / f'conf{len(list(tmp_path.iterdir()))}.py'  # a new module each time
  if source is not None:
    path.write_text(source)
  argv = ['prog', f'--config={path}', *args]
  fv = flags.FlagValues()
  config_flags.DEFINE_config_file('config', None, 'config', flag_values=fv, sys_argv=argv)
  flags.DEFINE_integer('n', 1, 'n', flag_values=fv)
  try:
    cli.parse_flags(argv, prog='prog', flag_values=fv)
  except SystemExit as e:
    return e.code, one_line(capsys.readouterr().err)
  return None, fv


GOOD = 'import ml_collections\ndef get_config():\n  return ml_collections.ConfigDict({"lr": 0.1})\n'


def test_parse_flags_one_line_errors(tmp_path, capsys):
  status, fv = parse(tmp_path, capsys, GOOD, '--config.lr=0.5', '--n=3')
  assert status is None and fv.config.lr == 0.5 and fv.n == 3
  cases = [
      (None, [], 'prog: error: config file not found: '),
      (GOOD, ['--m=1'], "prog: error: Unknown command line flag 'm'"),
      (GOOD, ['--n=x'], 'prog: error: flag --n=x: '),
      (GOOD, ['--config.lr=fast'], 'prog: error: flag --config.lr=fast: could not convert'),
      ('def get_config():\n  raise ValueError("no good")\n', [],
       'prog: error: cannot load the config: ValueError: no good'),
      ('def get_config():\n  raise LookupError("no preset")\n', [],
       'prog: error: cannot load the config: LookupError: no preset'),
      ('def get_config():\n  return open("/nonexistent/x")\n', [],
       'prog: error: cannot load the config: FileNotFoundError: '),
      ('syntax error(\n', [], 'prog: error: cannot load the config: SyntaxError: '),
  ]
  for source, args, start in cases:
    status, line = parse(tmp_path, capsys, source, *args)
    assert status == 2 and line.startswith(start), (source, args, line)


# ----------------------------------------------------------------------------- audiolstm.main


def run_main(*args):
  return subprocess.run([sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120,
                        env=dict(os.environ, PYTHONPATH=ROOT))


def test_wrong_mode_flags_are_refused_in_one_line(tmp_path):
  r = run_main('--config=configs/column.py', f'--workdir={tmp_path / "run"}', '--num_dreams=3')
  assert r.returncode == 2 and one_line(r.stderr) == (
      'audiolstm: error: --num_dreams is a sample-mode flag: add --mode=sample, or leave it out')
  assert not (tmp_path / 'run').exists()
  r = run_main('--mode=sample', f'--workdir={tmp_path}', '--config.dream_seconds=1')
  assert r.returncode == 2 and one_line(r.stderr).startswith(
      'audiolstm: error: --config is a train-mode flag: sample mode uses the run\'s own config')


@pytest.fixture
def main_module():
  from audiolstm import main  # pylint: disable=g-import-not-at-top  (defines absl flags)
  yield main
  main.FLAGS.unparse_flags()


def refusal(main, capsys, *args):
  """The stderr line of audiolstm.main refusing `args` (parsed in this process)."""
  with pytest.raises(SystemExit) as e:
    main.main(main.parse_flags(['audiolstm', *args]))
  assert e.value.code == 2
  line = one_line(capsys.readouterr().err)
  main.FLAGS.unparse_flags()
  return line


def test_each_mode_refuses_the_others_flags(main_module, capsys):
  main = main_module
  run = '--workdir=/nonexistent/run'
  assert refusal(main, capsys, '--config=configs/fft.py', '--seed=3').endswith(
      '--seed is a sample/watch/stream/play-mode flag: add --mode=sample or --mode=watch or '
      '--mode=stream or --mode=play, or leave it out (to set the run\'s field for training, '
      'write --config.seed=...)')
  assert refusal(main, capsys, '--config=configs/fft.py', '--watch_dir=in').endswith(
      '--watch_dir is a watch/stream-mode flag: add --mode=watch or --mode=stream, or leave it '
      'out')
  assert refusal(main, capsys, '--mode=sample', run, '--osc_port=9000').endswith(
      '--osc_port is a stream/play-mode flag: use --mode=stream or --mode=play, or leave it out')
  assert refusal(main, capsys, '--mode=stream', run, '--respond=answer').endswith(
      '--respond is a play-mode flag: use --mode=play, or leave it out')
  assert refusal(main, capsys, '--mode=watch', run, '--seed_files=a.wav').endswith(
      '--seed_files is a sample-mode flag: use --mode=sample, or leave it out')
  assert refusal(main, capsys, '--mode=sample', run, '--config=configs/fft.py').startswith(
      'audiolstm: error: --config is a train-mode flag: sample mode')
  assert 'no config is given' in refusal(main, capsys, '--config.lr=1')
  assert 'holds no run' in refusal(main, capsys, '--mode=sample', run, '--num_dreams=2',
                                   '--dream_seconds=0.5', '--seed=1', '--dream_noise=0')


def test_a_negative_temperature_is_refused_in_one_line(main_module, capsys, tmp_path):
  """--temperature < 0 (sample, watch, stream) exits 2 with one line before the run is read."""
  run = '--workdir=/nonexistent/run'
  watch = ('watch', f'--watch_dir={tmp_path}', f'--out_dir={tmp_path}')
  for mode, *more in (('sample',), watch, ('stream',)):
    line = refusal(main_module, capsys, f'--mode={mode}', run, *more, '--temperature=-0.5')
    assert line.startswith('audiolstm: error: --temperature=-0.5 must be a number >= 0'), mode
  assert refusal(main_module, capsys, '--mode=sample', run, '--learn', '--temperature=0.5') == (
      'audiolstm: error: --temperature does not go with --learn (which dreams from the training '
      "audio, as training does, with the run's own settings): leave one of them out")


def test_mode_flags_are_what_inference_takes(main_module):
  """MODE_FLAGS names, for sample and watch, exactly the flags their functions are given."""
  from audiolstm.dream import sample as sample_mode  # pylint: disable=g-import-not-at-top
  from audiolstm.dream import learn  # pylint: disable=g-import-not-at-top
  flag_names = set(main_module.MODE_FLAGS) - {'learn'}  # --learn picks learn.sample
  for mode, fn in (('sample', sample_mode.sample), ('watch', sample_mode.watch)):
    params = set(inspect.signature(fn).parameters) & flag_names
    assert params == {f for f, modes in main_module.MODE_FLAGS.items()
                      if mode in modes and f != 'learn'}, mode
  from audiolstm.live import stream  # pylint: disable=g-import-not-at-top
  options = {f.name for f in dataclasses.fields(stream.StreamOptions)} - {'settle_s'}
  assert options == {f for f, modes in main_module.MODE_FLAGS.items() if 'stream' in modes}
  learning = set(inspect.signature(learn.sample).parameters) & flag_names
  assert learning == {'num_dreams', 'dream_seconds', 'out_dir', 'seed'}  # the rest is refused
  for name in ('dream_seconds', 'seed', 'seed_files', 'dream_noise', 'temperature'):  # config too
    assert name in defaults.get_config() and 'config.' in main_module.FLAGS[name].help, name


# ----------------------------------------------------------------------------- launch.sweep


def test_sweep_values_parse_by_the_field_type_like_main():
  """Every field's value, written as the sweep prints it, reads back with the field's type."""
  _, c = sweep.load_config_file('configs/fft.py')
  for field in c:
    value = sweep.parse_value(c, field, sweep.flag_value(c[field]))
    assert value == c[field] and type(value) is type(c[field]), field
  assert sweep.parse_value(c, 'hop_size', '128') == 128
  assert sweep.parse_value(c, 'lr', '3e-4') == 3e-4
  assert sweep.parse_value(c, 'seed_advance', 'random') == ('random',)  # as ml_collections does
  assert sweep.parse_value(c, 'use_dropout', 'false') is False
  with pytest.raises(sweep.SweepError, match=r"does not fit the field \(a int, now 64\)"):
    sweep.parse_value(c, 'hop_size', '1e3')


def test_sweep_add_convention(tmp_path):
  path = tmp_path / 'sw.py'
  path.write_text('from audiolstm import defaults\n'
                  'def get_config():\n  return defaults.get_config()\n'
                  'def sweep(add):\n'
                  '  for lr in (0.1, 0.01):\n'
                  "    add(**{'config.lr': lr, 'num_layers': 2})\n")
  _, points = sweep.expand(str(path))
  assert [p.name for p in points] == ['lr=0.1,num_layers=2', 'lr=0.01,num_layers=2']
  path.write_text(path.read_text().replace('def sweep(add):', 'def sweep(add):\n  return\n'))
  with pytest.raises(sweep.SweepError, match='added no point'):
    sweep.expand(str(path))
  old = tmp_path / 'old.py'  # the older form: sweep() returns the list
  old.write_text('from audiolstm import defaults\n'
                 'def get_config():\n  return defaults.get_config()\n'
                 'def sweep():\n  return [dict(seg_len=64), dict(seg_len=32)]\n')
  assert [p.name for p in sweep.expand(str(old))[1]] == ['seg_len=64', 'seg_len=32']


# ----------------------------------------------------------------------------- packaging


def test_configs_need_no_configs_package(monkeypatch):
  """Every config file loads by path with no importable `configs` package (it is not installed):
  the defaults live in audiolstm.config.defaults."""
  monkeypatch.setitem(sys.modules, 'configs', None)  # `import configs` now fails
  folder = os.path.join(ROOT, 'configs')
  for name in sorted(os.listdir(folder)):
    if name.endswith('.py') and name != '__init__.py':
      module = defaults.load_config_module(os.path.join(folder, name))
      assert 'approach' in module.get_config(), name
  default = defaults.load_config_module('default.py', relative_to=os.path.join(folder, 'x.py'))
  assert default.get_config() == defaults.get_config()


def test_setup_installs_every_subpackage_and_the_configs():
  """setup.py lists every package of audiolstm/ and maps configs/ to audiolstm.configs."""
  tree = ast.parse(open(os.path.join(ROOT, 'setup.py')).read())
  keywords = {k.arg: k.value for node in ast.walk(tree) if isinstance(node, ast.Call)
              for k in node.keywords}
  assert ast.literal_eval(keywords['package_dir']) == {'audiolstm.configs': 'configs'}
  listed = ast.unparse(keywords['packages'])
  folders = sorted(d for d in os.listdir(os.path.join(ROOT, 'audiolstm'))
                   if os.path.isfile(os.path.join(ROOT, 'audiolstm', d, '__init__.py')))
  for folder in folders + ['configs']:
    assert f"'{folder}'" in listed or f"'audiolstm.{folder}'" in listed, folder
