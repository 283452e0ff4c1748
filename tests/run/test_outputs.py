"""What a user reads while a run trains and after it stops: the progress line's ETA and the
exact command that resumes a run."""
import shlex

from audiolstm.run import outputs
from audiolstm.run import train


def test_the_first_progress_line_gives_no_eta_from_the_compiling_interval():
  lines = []
  progress = outputs.Progress(1000, log=lines.append, every_s=0.0)
  progress.update(4, force=True)       # the first chunk: compiling included
  progress.update(504, force=True)
  assert lines[0].endswith('eta (measuring)'), lines[0]
  eta = lines[1].rsplit('eta ', 1)[1]
  assert eta.endswith('s') and float(eta[:-1]) >= 0, lines[1]
  progress = outputs.Progress(10, log=lines.append, every_s=0.0)
  progress.update(10, force=True)     # done in one interval: nothing left to estimate
  assert lines[-1].endswith('eta 0s'), lines[-1]


def test_resume_command_names_the_workdir_and_drops_restart():
  argv = ['/x/audiolstm/main.py', '--config=fft', '--workdir=old', '--restart',
          '--config.max_steps=500']
  command = train.resume_command('/runs/fft-1 a', argv)
  assert shlex.split(command) == ['python', '-m', 'audiolstm.main', '--config=fft',
                                  '--config.max_steps=500', '--workdir=/runs/fft-1 a']
  console = train.resume_command('/r', ['/usr/bin/audiolstm', '--mode=train', '--config=fft'])
  assert console == 'audiolstm train --config=fft --workdir=/r'


def test_a_run_too_short_for_its_first_dream_says_so_and_what_to_do(tmp_path):
  from tests.helpers import tiny_config  # pylint: disable=g-import-not-at-top  # test data only
  c = tiny_config('fft', max_steps=2)
  p = train.prepare_run(c, str(tmp_path / 'run'))
  try:
    notes = train.dream_notes(p)
  finally:
    if p.lock:
      p.lock.release()
  first = p.program.setup.dream_len
  assert first > 2 and len(notes) == 1, notes
  assert f'after {first} iterations' in notes[0] and '--workdir=' in notes[0], notes
  assert f'--config.max_steps={first}' in notes[0]
