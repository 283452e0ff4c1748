r"""Command line: train on a recording and dream from it.

  python -m audiolstm.main --config=configs/fft.py [--workdir=DIR] [--config.max_steps=500]
  python -m audiolstm.main --mode=sample --workdir=RUN [--seed_files=a.wav,b.flac]
      [--num_dreams=N] [--dream_seconds=S] [--out_dir=DIR] [--seed=K] [--dream_noise=STD]
  python -m audiolstm.main --mode=sample --workdir=RUN --learn [--num_dreams=N] [--dream_seconds=S]
  python -m audiolstm.main --mode=watch --workdir=RUN --watch_dir=IN --out_dir=OUT
      [--dream_seconds=S] [--seed=K] [--dream_noise=STD]
  python -m audiolstm.main --mode=stream --workdir=RUN [--out=FILE.wav | --out=- | --out=DIR/]
      [--seconds=0] [--seed_file=melody.wav] [--watch_dir=IN] [--osc_port=9000]
      [--dream_noise=STD] [--streams=1] [--seed=K] [--reseed=auto|off|SECONDS]

Training again with the same --workdir resumes from its newest checkpoint; --restart starts
afresh there, moving the earlier run aside into WORKDIR.before-restart-<time>/ (never deleted).

Each mode takes only its own flags; any other is refused (one line, exit 2) rather than ignored:
  train   --config (and its --config.FIELD=VALUE overrides), --workdir, --restart, --multihost
  sample  --workdir, --seed_files, --num_dreams, --dream_seconds, --out_dir, --seed, --dream_noise,
          --learn, --multihost
  watch   --workdir, --watch_dir, --out_dir, --dream_seconds, --seed, --dream_noise, --multihost
  stream  --workdir, --out, --seconds, --seed_file, --watch_dir, --osc_port, --dream_noise,
          --streams, --seed, --reseed
Sample, watch and stream take the run's own config (RUN/config.json), so --config is a
train-mode flag.

Three sample/watch flags share their names with config fields but are not those fields: they
apply to that sampling only, and the run's field is their default:
  --dream_seconds  length of each sampled dream (default: the run's config.dream_seconds, which
                   in training is the length of each concurrent dream)
  --seed           RNG seed of the sampling: seed offsets, dropout, --dream_noise (default: the
                   run's config.seed, which in training seeds the whole run)
  --seed_files     dream i starts from the beginning of file i (cycled) (default: the run's seed
                   audio, config.seed_files or else the training audio, at offsets chosen by the
                   seed modes config.seed_advance; in training config.seed_files seeds the
                   concurrent dreams that way)
--dream_noise likewise defaults to the run's config.dream_noise. To change those fields for a
training run, write --config.dream_seconds=..., --config.seed=..., --config.seed_files=(...).

The file is kept thin: the logic lives in audiolstm.run.train so tests and notebooks call it
directly.
Bad settings or input give one line on stderr and exit status 2; nothing earlier is touched.
"""
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from audiolstm import cli
from audiolstm.audio import audio_io
from audiolstm.config.settings import ConfigError

PROG = 'audiolstm'
SUBCOMMAND = False  # set by the `audiolstm` command: refusals name subcommands, not --mode
FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'train: config file, e.g. configs/fft.py (sample '
                                'and watch use the run\'s own config.json).', lock_config=True)
flags.DEFINE_string('workdir', None, 'Work directory (train: default a new '
                    'runs/<approach>-<time>; sample/watch: the trained run).')
flags.DEFINE_enum('mode', 'train', ['train', 'sample', 'watch', 'stream', 'play'],
                  'train (resumes a workdir that has checkpoints), sample, watch or stream '
                  '(endless live dreaming).')
flags.DEFINE_list('seed_files', [], 'sample: dream i starts from the beginning of file i '
                  '(cycled) (default: the run\'s seed audio, config.seed_files or else the '
                  'training audio, at offsets chosen by the run\'s config.seed_advance).')
flags.DEFINE_integer('num_dreams', 4, 'sample: how many dreams (batched in one step).')
flags.DEFINE_float('dream_seconds', None, 'sample/watch: length of each sampled dream in seconds '
                   '(default: the run\'s config.dream_seconds).')
flags.DEFINE_string('out_dir', None, 'sample: output folder (default WORKDIR/samples); watch: '
                    'required.')
flags.DEFINE_string('watch_dir', None, 'watch: the folder to watch for new audio files; '
                    'stream: a file dropped there re-seeds the stream.')
flags.DEFINE_string('out', None, 'stream: a WAV file that grows as it is dreamed, - for a WAV '
                    'stream on stdout (| aplay, | ffplay -), or DIR/ for one file per stream '
                    '(default: a new file in WORKDIR/streams/).')
flags.DEFINE_float('seconds', 0.0, 'stream: seconds to dream (0: until Ctrl-C, SIGTERM or '
                   '/audiolstm/stop).')
flags.DEFINE_string('seed_file', None, 'stream: start from this audio file (default: the '
                    'training audio, as sample mode).')
flags.DEFINE_integer('osc_port', None, 'stream: listen for OSC on 127.0.0.1:PORT '
                     '(/audiolstm/seed <path>, /audiolstm/noise <float>, /audiolstm/stop).')
flags.DEFINE_integer('streams', 1, 'stream: dreams side by side (channels of one WAV, or files '
                     'with --out=DIR/).')
flags.DEFINE_string('reseed', 'auto', 'stream: re-seed from the training audio (crossfaded) when '
                    'the dream has settled into silence or one held sound (auto), never (off), or '
                    'every SECONDS.')
flags.DEFINE_bool('restart', False, 'train: start afresh in a --workdir that holds an earlier '
                  'run, moving its outputs aside into WORKDIR.before-restart-<time>/ (never '
                  'deleted).')
flags.DEFINE_bool('multihost', False, 'Call jax.distributed.initialize() (several hosts, e.g. a '
                  'TPU pod slice); also on with AUDIOLSTM_MULTIHOST=1.')
flags.DEFINE_string('coordinator_address', None, 'Several processes: HOST:PORT of process 0, '
                    'for jax.distributed.initialize (with --num_processes and --process_id; '
                    'without them --multihost auto-detects).')
flags.DEFINE_integer('num_processes', None, 'Several processes: how many take part.')
flags.DEFINE_integer('process_id', None, 'Several processes: this one\'s number, 0 .. '
                     '--num_processes - 1 (0 writes the files and logs).')
flags.DEFINE_integer('seed', None, 'sample/watch/stream: RNG seed of the sampling (default: '
                     'the run\'s config.seed).')
flags.DEFINE_bool('learn', False, 'sample: dream as training does, the model learning on from '
                  'the training audio while it dreams (the run itself is not changed); livelier '
                  'than a fixed model, whose dreams settle into a held tone, but slower.')
flags.DEFINE_float('dream_noise', None, 'sample/watch/stream: std of the Gaussian noise added '
                   'to each predicted value before it is fed back (0 = off; default: the run\'s '
                   'config.dream_noise; stream: also set live over OSC).')
flags.DEFINE_float('temperature', None, 'sample/watch/stream: sampling temperature of a '
                   'distributional head (config.output_dist): 1 = the model\'s distribution, lower '
                   '= tamer, 0 = no randomness (default: the run\'s '
                   'config.temperature; stream: also set live over OSC).')

flags.DEFINE_string('in', 'default', 'play: the player\'s sound: a sound-card input (its number '
                    'or part of its name; --list_devices), - for a WAV stream on stdin, or a '
                    'recording played in real time.')
flags.DEFINE_enum('respond', 'answer', ['answer', 'resonate', 'learn'], 'play: answer (dream on '
                  'from each phrase when it ends, fade under the player when they start again), '
                  'resonate (the dream swells in the bands the player sounds) or learn (the model '
                  'trains on the player while it dreams; with --config, from scratch).')
flags.DEFINE_bool('list_devices', False, 'play: list the sound cards and exit.')
flags.DEFINE_integer('rate', None, 'play: the sample rate of the devices and the recordings '
                     '(default: the devices\' own, or the input file\'s).')
flags.DEFINE_integer('block', 256, 'play: frames per block (256 at 48 kHz: 5.3 ms).')
flags.DEFINE_float('gain_db', 0.0, 'play: output gain in dB (also set live over OSC).')
flags.DEFINE_float('threshold_db', -40.0, 'play, answer: the player is playing above this level '
                   '(dBFS).')
flags.DEFINE_float('pause', 0.4, 'play, answer: seconds under the threshold that end a phrase.')
flags.DEFINE_integer('learn_every', 0, 'play, learn: a train step every N dream steps (1: the '
                     'concurrent algorithm\'s one per step; 0: as often as real time allows).')

# The modes that use each mode-specific flag (--workdir, --multihost, --coordinator_address,
# --num_processes and --process_id serve every mode).
MODE_FLAGS = {
    'config': ('train', 'play'),
    'restart': ('train',),
    'seed_files': ('sample',),
    'num_dreams': ('sample',),
    'dream_seconds': ('sample', 'watch'),
    'out_dir': ('sample', 'watch'),
    'watch_dir': ('watch', 'stream'),
    'seed': ('sample', 'watch', 'stream', 'play'),
    'dream_noise': ('sample', 'watch', 'stream', 'play'),
    'temperature': ('sample', 'watch', 'stream', 'play'),
    'learn': ('sample',),
    'out': ('stream', 'play'),
    'seconds': ('stream', 'play'),
    'seed_file': ('stream',),
    'osc_port': ('stream', 'play'),
    'in': ('play',),
    'respond': ('play',),
    'list_devices': ('play',),
    'rate': ('play',),
    'block': ('play',),
    'gain_db': ('play',),
    'threshold_db': ('play',),
    'pause': ('play',),
    'learn_every': ('play',),
    'streams': ('stream',),
    'reseed': ('stream',),
}
_CONFIG_FIELDS = ('seed_files', 'dream_seconds', 'seed', 'dream_noise', 'temperature')  # also config fields


def fail(message: str, status: int = 2):
  """One line `audiolstm: error: MESSAGE` on stderr, then exit with `status`."""
  cli.fail(message, status, prog=PROG)


def wrong_mode(flag: str, mode: str, mode_given: bool = False) -> str:
  """The refusal of --FLAG in `mode` (`mode_given`: by a --mode flag): which mode takes it, and
  what to do instead."""
  if flag == 'config' and mode != 'play':
    return (f'--config is a train-mode flag: {mode} mode uses the run\'s own config '
            '(WORKDIR/config.json); leave --config and --config.FIELD=VALUE out')
  if SUBCOMMAND and flag == 'mode':
    return '--mode is the subcommand: leave it out'
  modes = MODE_FLAGS[flag]
  which = '/'.join(modes)
  if SUBCOMMAND:
    return (f'--{flag} is not a flag of audiolstm {mode}: it goes with '
            + ' or '.join(f'audiolstm {m}' for m in modes))
  add = ('use ' if mode_given else 'add ') + ' or '.join(f'--mode={m}' for m in modes)
  hint = ''
  if mode == 'train' and flag in _CONFIG_FIELDS:
    hint = f' (to set the run\'s field for training, write --config.{flag}=...)'
  return f'--{flag} is a {which}-mode flag: {add}, or leave it out{hint}'


def check_mode_flags(mode: str, flag_values=FLAGS) -> None:
  """Refuse (one line, exit 2) the first flag given that `mode` does not use."""
  for flag, modes in MODE_FLAGS.items():
    if mode not in modes and flag_values[flag].present:
      fail(wrong_mode(flag, mode, flag_values['mode'].present))


def check_learn_flags(flag_values=FLAGS) -> None:
  """Refuse (one line, exit 2) the sample flags that --learn does not take."""
  for flag in ('seed_files', 'dream_noise', 'temperature'):
    if flag_values[flag].present:
      fail(f'--{flag} does not go with --learn (which dreams from the training audio, as '
           f'training does, with the run\'s own settings): leave one of them out')


def parse_flags(argv):
  """absl flag parsing with one-line errors (exit 2) instead of a traceback.

  A --config.FIELD override without --config cannot parse (its flag is made from the config), so
  the rest is parsed first to name the mistake: --config missing (train) or a train-mode flag
  (sample, watch).
  """
  overrides = cli.config_overrides(argv[1:])
  if overrides and cli.config_path(argv[1:]) is None:
    rest = [a for a in argv if a not in overrides]
    cli.parse_flags(rest, prog=PROG)
    if FLAGS.mode != 'train':
      fail(wrong_mode('config', FLAGS.mode))
    fail(f'{overrides[0].split("=", 1)[0]} overrides a field of the config, but no config is '
         'given: add --config=fft (or vector, column, transpose, or a config file) before it')
  return cli.parse_flags(argv, prog=PROG)


def main(argv):
  if not FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # hide jax's backend probing; --verbosity=0 shows it
  if len(argv) > 1:
    fail(f'unexpected arguments {" ".join(argv[1:])}: settings go in --config.FIELD=VALUE')
  check_mode_flags(FLAGS.mode)
  if FLAGS.mode == 'play':
    return _play()
  if FLAGS.mode == 'train' and FLAGS.config is None:
    fail('no config given: add --config=fft (or vector, column, transpose, or a config file)')
  # pylint: disable=g-import-not-at-top  # jax is imported only after the flags are fine
  from audiolstm.core import program as program_lib
  from audiolstm.core import sharding
  from audiolstm.dream import learn
  from audiolstm.dream import sample as sample_mode
  from audiolstm.live import stream
  from audiolstm.run import rundir
  from audiolstm.run import signals
  from audiolstm.run import train
  try:
    sharding.maybe_initialize_distributed(FLAGS.multihost, FLAGS.coordinator_address,
                                          FLAGS.num_processes, FLAGS.process_id)
    if FLAGS.mode == 'train':
      train.train_and_evaluate(FLAGS.config, FLAGS.workdir, restart=FLAGS.restart)
    elif FLAGS.mode == 'sample' and FLAGS.learn:
      check_learn_flags()
      learn.sample(FLAGS.workdir, FLAGS.num_dreams, FLAGS.dream_seconds, FLAGS.out_dir,
                   FLAGS.seed)
    elif FLAGS.mode == 'sample':
      sample_mode.sample(FLAGS.workdir, FLAGS.seed_files, FLAGS.num_dreams,
                         FLAGS.dream_seconds, FLAGS.out_dir, FLAGS.seed,
                         dream_noise=FLAGS.dream_noise, temperature=FLAGS.temperature)
    elif FLAGS.mode == 'stream':
      stream.stream(FLAGS.workdir, stream.StreamOptions(
          out=FLAGS.out, seconds=FLAGS.seconds, seed_file=FLAGS.seed_file,
          watch_dir=FLAGS.watch_dir, osc_port=FLAGS.osc_port, dream_noise=FLAGS.dream_noise,
          streams=FLAGS.streams, seed=FLAGS.seed, reseed=FLAGS.reseed,
          temperature=FLAGS.temperature))
    else:
      sample_mode.watch(FLAGS.workdir, FLAGS.watch_dir, FLAGS.out_dir, FLAGS.dream_seconds,
                        FLAGS.seed, dream_noise=FLAGS.dream_noise,
                        temperature=FLAGS.temperature)
  except (ConfigError, audio_io.AudioError, rundir.NoSpace) as e:
    fail(str(e))
  except program_lib.TrainingDiverged as e:
    fail(str(e), status=1)
  except signals.StopNow as e:
    fail(e.message, status=e.status)


def _play() -> None:
  """Play mode (its own imports: sound cards, no training loop)."""
  # jax and the sound cards load only after the flags are fine
  from audiolstm.core import program as program_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.live import devices  # pylint: disable=g-import-not-at-top
  from audiolstm.live import play  # pylint: disable=g-import-not-at-top
  from audiolstm.run import signals  # pylint: disable=g-import-not-at-top
  options = play.PlayOptions(
      inp=FLAGS['in'].value, out=FLAGS.out or 'default', respond=FLAGS.respond,
      osc_port=FLAGS.osc_port, seconds=FLAGS.seconds, rate=FLAGS.rate, block=FLAGS.block,
      gain_db=FLAGS.gain_db, threshold_db=FLAGS.threshold_db, pause=FLAGS.pause,
      learn_every=FLAGS.learn_every,
      dream_noise=FLAGS.dream_noise, temperature=FLAGS.temperature, seed=FLAGS.seed,
      list_devices=FLAGS.list_devices)
  try:
    play.play(FLAGS.workdir, options, config=FLAGS.config)
  except (ConfigError, audio_io.AudioError) as e:
    fail(str(e))
  except devices.DeviceLost as e:
    cli.error(f'{e} (what was played is recorded)', prog=PROG)
    sys.stderr.flush()
    os._exit(1)  # pylint: disable=protected-access  # PortAudio's exit would wait on the lost card
  except program_lib.TrainingDiverged as e:
    fail(f'{e} (what was played is recorded)', status=1)
  except signals.StopNow as e:
    fail(e.message, status=e.status)


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
