"""The command line end to end on tiny settings; bad settings and input refused with one clear
line (in-process for each case, and once through the command line: exit status 2)."""
import glob
import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import audio_io
from audiolstm.config.settings import ConfigError
from audiolstm.core import program as program_lib
from audiolstm.run import tb
from audiolstm.run import train
from tests.helpers import TINY, tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args, cwd=ROOT):
  env = dict(os.environ, PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, '-m', 'audiolstm.main', *args], cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300)


def tiny_flags(**extra):
  return [f'--config.{k}={v}' for k, v in {**TINY, **extra}.items()]


def check_run_dir(workdir, approach, kinds=('concurrent',)):
  config = json.load(open(os.path.join(workdir, 'config.json')))
  assert config['approach'] == approach
  records = [json.loads(line) for line in open(os.path.join(workdir, 'metrics.jsonl'))]
  assert records and all({'step', 'loss'} <= r.keys() for r in records)
  assert [r['step'] for r in records] == sorted(r['step'] for r in records)
  assert os.path.getsize(os.path.join(workdir, 'loss.png')) > 1000
  wavs = sorted(glob.glob(os.path.join(workdir, 'dreams', '*.wav')))
  for kind in kinds:
    assert any(f'_{kind}_' in os.path.basename(w) for w in wavs), kind
  for w in wavs:
    audio, sr = sf.read(w)
    assert sr == 11025 and len(audio) > 0
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) > 1e-4, w  # not silent
    assert os.path.basename(w).startswith(f'{approach}_')
  return wavs


@pytest.mark.parametrize('approach', ['vector', 'column', 'transpose', 'fft'])
@pytest.mark.slow
def test_cli_end_to_end(approach, tmp_path, synth_audio):
  workdir = str(tmp_path / 'run')
  # A synthetic input: the bundled recording opens with 50 ms of silence, and a column model
  # trained for 60 steps (60 samples of cursor movement) on it learns only silence.
  wav = audio_io.write_wav(str(tmp_path / 'in.wav'), synth_audio, 11025)
  r = run_cli(f'--config=configs/{approach}.py', f'--workdir={workdir}', *tiny_flags(),
              f'--config.input_files=("{wav}",)')
  assert r.returncode == 0, r.stderr
  assert workdir in r.stdout and 'done:' in r.stdout
  wavs = check_run_dir(workdir, approach)
  for w in wavs:  # each dream has its spectrogram (with the seed's) beside it
    assert os.path.getsize(os.path.splitext(w)[0] + '.png') > 10000
  events = tb.read_events(os.path.join(workdir, 'tensorboard'))
  values = [v for e in events for v in e.summary.value]
  losses = [v.simple_value for v in values if v.tag == 'loss']
  assert len(losses) == 60 // TINY['log_every'] and all(np.isfinite(losses))
  audio = [v.audio for v in values if v.tag.startswith('dream/concurrent')]
  assert len(audio) == len(wavs) and all(a.sample_rate == 11025 for a in audio)
  assert sum(v.tag.startswith('spectrogram/') for v in values) == len(wavs)
  # 60 steps of 2 streams; a dream is ceil(0.004 s * 11025 / samples per step) steps.
  assert len(wavs) >= 2


@pytest.mark.slow
def test_default_workdir_is_new_each_time(tmp_path):
  paths = []
  for _ in range(2):
    r = run_cli(f'--config={ROOT}/configs/column.py', *tiny_flags(max_steps=20), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    paths.append([line.split(': ', 1)[1] for line in r.stdout.splitlines()
                  if line.startswith('work directory: ')][0])
  assert paths[0] != paths[1] and all(p.startswith(str(tmp_path / 'runs')) for p in paths)


@pytest.mark.slow
def test_library_sequential_dreams_and_seed_files(tmp_path, synth_audio):
  seed_file = audio_io.write_wav(str(tmp_path / 'seed.wav'), synth_audio[::-1], 11025)
  c = tiny_config('transpose', audio_freq=25, max_steps=50, seed_files=(seed_file,))
  lines = []
  summary = train.train_and_evaluate(c, str(tmp_path / 'run'), log=lines.append)
  wavs = check_run_dir(summary['workdir'], 'transpose', kinds=('concurrent', 'sequential'))
  seq = [w for w in wavs if '_sequential_' in os.path.basename(w)]
  assert len(seq) == 2 * 2  # at steps 25 and 50, two streams each
  assert any('it0000025' in w for w in seq) and any('it0000050' in w for w in seq)
  assert summary['steps'] == 50 and any(line.startswith('step 50/50') for line in lines)


@pytest.mark.slow
def test_input_files_any_rate_stereo_and_label_files(tmp_path, synth_audio):
  stereo = np.stack([synth_audio, 0.5 * synth_audio], 1)
  sf.write(tmp_path / 'in.flac', np.repeat(stereo, 2, axis=0), 22050)  # 22050 Hz stereo FLAC
  audio_io.write_wav(str(tmp_path / 'lab.wav'), 0.5 * synth_audio, 11025)
  r = run_cli('--config=configs/vector.py', f'--workdir={tmp_path / "run"}',
              *tiny_flags(max_steps=20), f"--config.input_files=('{tmp_path / 'in.flac'}',)",
              f"--config.label_files=('{tmp_path / 'lab.wav'}',)")
  assert r.returncode == 0, r.stderr
  config = json.load(open(tmp_path / 'run' / 'config.json'))
  assert config['label_files'] == [str(tmp_path / 'lab.wav')]
  assert config['input_files'] == [str(tmp_path / 'in.flac')]


def write_silence(path, seconds=2.0):
  sf.write(path, np.zeros(int(11025 * seconds), np.float32), 11025)
  return path


def bad_files(tmp_path):
  """Audio the library must refuse: {'garbage': undecodable, 'short': 50 samples of a tone (not
  a constant, which is refused as such), 'silent'}."""
  garbage = tmp_path / 'garbage.wav'
  garbage.write_bytes(b'not audio at all' * 50)
  short = tmp_path / 'short.wav'
  sf.write(short, 0.1 * np.sin(np.arange(50, dtype=np.float32)), 11025)
  return {'garbage': str(garbage), 'short': str(short),
          'silent': str(write_silence(tmp_path / 'silent.wav'))}


# Bad settings or input: (approach, config fields, error, text of its message). The command line
# prints the message as one line, exit status 2 (test_bad_input_on_the_command_line_...).
BAD = {
    'missing file': ('column', {'input_files': ('/nonexistent/x.wav',)}, audio_io.AudioError,
                     'not found'),
    'garbage file': ('column', {'input_files': ('{garbage}',)}, audio_io.AudioError,
                     'could not decode'),
    'too short': ('column', {'input_files': ('{short}',)}, ConfigError, 'too short'),
    'silence': ('column', {'input_files': ('{silent}',)}, ConfigError, 'silent'),
    'never predicts past input': ('column', {'label_offset': 1}, ConfigError,
                                  'never predicts past its input'),
    'non-positive size': ('column', {'seg_len': 0}, ConfigError, 'seg_len'),
    'window mismatch': ('fft', {'window_size': 100}, ConfigError, 'window_size'),
    'bad seed mode': ('column', {'seed_advance': ('sometimes',)}, ConfigError, 'seed_advance'),
    'bad keep prob': ('column', {'input_keep_prob': 1.5}, ConfigError, 'KEEP'),
    'negative dream noise': ('column', {'dream_noise': -0.1}, ConfigError,
                             re.escape('config.dream_noise=-0.1')),
    'too short seed file': ('column', {'seed_files': ('{short}',)}, ConfigError, 'seed audio'),
}


@pytest.mark.parametrize('case', sorted(BAD))
def test_bad_input_raises_one_line_and_writes_nothing(case, tmp_path, monkeypatch):
  files = bad_files(tmp_path)
  approach, fields, error, needle = BAD[case]
  fields = {k: tuple(p.format(**files) for p in v) if k.endswith('_files') else v
            for k, v in fields.items()}
  monkeypatch.chdir(tmp_path)  # a default runs/ directory would appear here
  before = sorted(os.listdir(tmp_path))
  with pytest.raises(error, match=needle) as e:
    train.train_and_evaluate(tiny_config(approach, max_steps=5, **fields), str(tmp_path / 'run'),
                             log=lambda _: None)
  assert '\n' not in str(e.value)
  assert sorted(os.listdir(tmp_path)) == before  # no work directory, not even an empty one


def test_bucket_workdir_without_its_backend_is_one_line(tmp_path, monkeypatch):
  """A gs:// work directory goes to etils.epath (tests/test_files.py); without gcsfs, which epath
  needs for gs:// (not installed here), it is one line saying what to install."""
  if importlib.util.find_spec('gcsfs'):
    pytest.skip('gcsfs is installed: gs:// would reach the network')
  monkeypatch.chdir(tmp_path)
  with pytest.raises(ConfigError, match=r'cannot create the work directory gs://bucket/run: .*gcs'):
    train.train_and_evaluate(tiny_config('column', max_steps=5), 'gs://bucket/run',
                             log=lambda _: None)
  assert not os.listdir(tmp_path)  # no local gs:/bucket/run either


def test_missing_config_file_is_one_line_and_status_2(capsys):
  from audiolstm import main  # pylint: disable=g-import-not-at-top  (defines absl flags)
  with pytest.raises(SystemExit) as e:
    main.parse_flags(['audiolstm', '--config=configs/nope.py'])
  assert e.value.code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith('audiolstm: error: ') and 'nope.py' in err, err


def test_bad_input_on_the_command_line_is_one_line_and_status_2(tmp_path):
  """The one bad-input case run as a command: a --config override that parses, jax imported,
  the library's error turned into one line on stderr and exit status 2, nothing written."""
  workdir = tmp_path / 'run'
  r = run_cli('--config=configs/column.py', f'--workdir={workdir}', *tiny_flags(max_steps=5),
              f'--config.input_files=("{bad_files(tmp_path)["silent"]}",)')
  assert r.returncode == 2, (r.stdout, r.stderr)
  lines = [line for line in r.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith('audiolstm: error: '), r.stderr
  assert 'silent' in lines[0], lines[0]
  assert 'Traceback' not in r.stderr
  assert not workdir.exists()


@pytest.mark.slow
def test_existing_run_is_refused_and_kept(tmp_path):
  workdir = tmp_path / 'run'
  train.train_and_evaluate(tiny_config('column', max_steps=20), str(workdir), log=lambda _: None)
  before = {p: os.path.getmtime(p) for p in glob.glob(f'{workdir}/**', recursive=True)}
  with pytest.raises(ConfigError, match='already holds a run') as e:
    train.train_and_evaluate(tiny_config('vector', max_steps=20), str(workdir),
                             log=lambda _: None)
  assert '\n' not in str(e.value)
  assert {p: os.path.getmtime(p) for p in glob.glob(f'{workdir}/**', recursive=True)} == before


@pytest.mark.slow
def test_diverging_loss_stops_with_a_clear_message(tmp_path):
  workdir = tmp_path / 'run'
  with pytest.raises(program_lib.TrainingDiverged, match='the loss became'):
    train.train_and_evaluate(tiny_config('vector', max_steps=60, lr=1e30, log_every=1),
                             str(workdir), log=lambda _: None)
  records = [json.loads(line) for line in open(workdir / 'metrics.jsonl')]
  assert all(np.isfinite(rec['loss']) for rec in records)
  assert (workdir / 'config.json').exists()


@pytest.mark.slow
def test_validation_loss_is_logged_and_a_too_short_split_is_turned_off(tmp_path):
  summary = train.train_and_evaluate(tiny_config('vector', max_steps=40, eval_every=20),
                                     str(tmp_path / 'a'), log=lambda _: None)
  records = [json.loads(line) for line in open(os.path.join(summary['workdir'], 'metrics.jsonl'))]
  assert [r['step'] for r in records if 'val_loss' in r] == [20, 40]
  assert all(np.isfinite(r['val_loss']) for r in records if 'val_loss' in r)
  lines = []
  train.train_and_evaluate(tiny_config('vector', max_steps=10, val_fraction=0.0002),
                           str(tmp_path / 'b'), log=lines.append)
  assert any(line.startswith('note: validation is off') for line in lines)
