r"""Command line: train on a recording and dream from it.

  python -m audiolstm.main --config=configs/fft.py [--workdir=DIR] [--config.max_steps=500]
  python -m audiolstm.main --mode=sample --workdir=RUN [--seed_files=a.wav,b.flac]
      [--num_dreams=N] [--dream_seconds=S] [--out_dir=DIR] [--seed=K] [--dream_noise=STD]
  python -m audiolstm.main --mode=watch --workdir=RUN --watch_dir=IN --out_dir=OUT

Training again with the same --workdir resumes from its newest checkpoint.

The file is kept thin: the logic lives in audiolstm.train so tests and notebooks call it directly.
Bad settings or input give one line on stderr and exit status 2; nothing earlier is touched.
"""
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audiolstm import audio_io
from audiolstm.config import ConfigError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Config file, e.g. configs/fft.py.',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'Work directory (default: a new runs/<approach>-<time>).')
flags.DEFINE_enum('mode', 'train', ['train', 'sample', 'watch'],
                  'train (resumes a workdir that has checkpoints), sample or watch.')
flags.DEFINE_list('seed_files', [], 'sample: seed the dreams from these files (default: the '
                  'training audio with the configured seed modes).')
flags.DEFINE_integer('num_dreams', 4, 'sample: how many dreams (batched in one step).')
flags.DEFINE_float('dream_seconds', None, 'sample/watch: seconds per dream (default: the config).')
flags.DEFINE_string('out_dir', None, 'sample: output folder (default WORKDIR/samples); watch: '
                    'required.')
flags.DEFINE_string('watch_dir', None, 'watch: the folder to watch for new audio files.')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (several hosts, e.g. a '
                  'TPU pod slice); also on with AUDIOLSTM_MULTIHOST=1.')
flags.DEFINE_integer('seed', None, 'sample/watch: RNG seed (default: the config\'s).')
flags.DEFINE_float('dream_noise', None, 'sample/watch: std of the Gaussian noise added to each '
                  'predicted value before it is fed back (0 = off; default: the config\'s).')


def fail(message: str, status: int = 2):
  print(f'audiolstm: error: {message}', file=sys.stderr, flush=True)
  sys.exit(status)


def _config_path(argv):
  for i, arg in enumerate(argv):
    if arg.startswith('--config='):
      return arg.split('=', 1)[1].split(':', 1)[0]
    if arg == '--config' and i + 1 < len(argv):
      return argv[i + 1].split(':', 1)[0]
  return None


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a traceback."""
  path = _config_path(argv)
  if path is not None and not os.path.isfile(path):
    fail(f'config file not found: {path} (try --config=configs/fft.py from the repository root)')
  try:
    return FLAGS(argv)
  except flags.Error as e:
    fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
  except Exception as e:  # pylint: disable=broad-except  (a config file that does not load)
    fail(f'cannot load the config: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}')


def main(argv):
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # hide jax's backend probing; --verbosity=0 shows it
  if len(argv) > 1:
    fail(f'unexpected arguments {" ".join(argv[1:])}: settings go in --config.FIELD=VALUE')
  if FLAGS.mode == 'train' and FLAGS.config is None:
    fail('no config given: add --config=configs/fft.py (or vector.py, column.py, transpose.py)')
  # pylint: disable=g-import-not-at-top  (jax is imported only after the flags are fine)
  from audiolstm import inference
  from audiolstm import sharding
  from audiolstm import train
  sharding.maybe_initialize_distributed(FLAGS.multihost)
  try:
    if FLAGS.mode == 'train':
      train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    elif FLAGS.mode == 'sample':
      inference.sample(FLAGS.workdir, FLAGS.seed_files, FLAGS.num_dreams, FLAGS.dream_seconds,
                       FLAGS.out_dir, FLAGS.seed, dream_noise=FLAGS.dream_noise)
    else:
      inference.watch(FLAGS.workdir, FLAGS.watch_dir, FLAGS.out_dir, FLAGS.dream_seconds,
                      FLAGS.seed, dream_noise=FLAGS.dream_noise)
  except (ConfigError, audio_io.AudioError) as e:
    fail(str(e))
  except train.TrainingDiverged as e:
    fail(str(e), status=1)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
