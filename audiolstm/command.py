"""The `audiolstm` command: one subcommand per job, each taking only its own flags.

  audiolstm train --config=fft [--workdir=RUN] [--config.max_steps=500]
  audiolstm sample --workdir=RUN [--num_dreams=2] [--dream_seconds=20]
  audiolstm stream --workdir=RUN --out=live.wav --seconds=40
  audiolstm evaluate --workdir=RUN
  audiolstm --help                    (the subcommands, one line each)
  audiolstm SUBCOMMAND --help         (its flags)

train, sample, watch and stream are `python -m audiolstm.main --mode=...` (the design's entry
point, which keeps working as before); evaluate, report, bench and devset are the modules'
own command lines.
"""
import sys
import textwrap

from audiolstm import cli

MODES = ('train', 'sample', 'watch', 'stream', 'play')
SUBCOMMANDS = {  # name: (module, one line)
    'train': ('audiolstm.main', 'train a model on a recording: --config=fft (or column, '
              'transpose, vector, a file)'),
    'sample': ('audiolstm.main', 'dream files from a trained run (--workdir=RUN)'),
    'watch': ('audiolstm.main', 'dream from each audio file dropped into a folder'),
    'stream': ('audiolstm.main', 'dream without end to a WAV file, stdout or a folder, with '
               'live controls (stdin, OSC)'),
    'play': ('audiolstm.main', 'play with a musician: answer, resonate with or learn from a '
             'live player (sound card, stdin or a file)'),
    'evaluate': ('audiolstm.judge.evaluate', 'score a run\'s dreams against its recording '
                 '(RUN/scores.csv)'),
    'report': ('audiolstm.judge.report', 'an HTML report of one or more runs'),
    'bench': ('audiolstm.tools.bench', 'time training and dreaming on this machine'),
    'devset': ('audiolstm.tools.devset', 'render the development set, train and judge every '
               'default on it'),
}
COMMON = ('workdir', 'multihost', 'coordinator_address', 'num_processes', 'process_id')


def usage() -> str:
  """`audiolstm --help`: the subcommands, one line each."""
  lines = ['usage: audiolstm SUBCOMMAND [flags]   (audiolstm SUBCOMMAND --help: its flags)', '']
  lines += [f'  {name:9s} {line}' for name, (_, line) in SUBCOMMANDS.items()]
  return '\n'.join(lines)


def mode_help(mode: str) -> str:
  """`audiolstm MODE --help` for train, sample, watch and stream: the flags that mode takes."""
  from audiolstm import main as main_lib  # pylint: disable=g-import-not-at-top  # defines the flags
  names = [f for f, modes in main_lib.MODE_FLAGS.items() if mode in modes] + list(COMMON)
  lines = [f'usage: audiolstm {mode} [flags]', '', SUBCOMMANDS[mode][1], '']
  if mode == 'train':
    lines += ['  --config.FIELD=VALUE', '      overrides one field of the config (python -m '
              'audiolstm.tools.docs lists them)']
  for name in names:
    flag = main_lib.FLAGS[name]
    lines.append(f'  --{name}' + (f' (default: {flag.default})' if flag.default not in
                                  (None, [], False) else ''))
    lines += textwrap.wrap(flag.help, 92, initial_indent='      ', subsequent_indent='      ')
  return '\n'.join(lines)


def _run_mode(mode: str, rest: list) -> int:
  """train, sample, watch or stream: audiolstm.main with --mode=MODE."""
  if any(a.split('=', 1)[0] in ('--mode', '-mode') for a in rest):
    cli.fail(f'--mode is the subcommand: write audiolstm {mode} without it')
  from absl import app  # pylint: disable=g-import-not-at-top  # absl and the flags only now
  from audiolstm import main as main_lib  # pylint: disable=g-import-not-at-top
  main_lib.SUBCOMMAND = True
  sys.argv = ['audiolstm', f'--mode={mode}'] + rest
  app.run(main_lib.main, flags_parser=main_lib.parse_flags)
  return 0


def _run_module(name: str, rest: list) -> int:
  """evaluate and report (absl programs), bench and devset (argparse, main(argv))."""
  # the subcommand's module loads only when it runs
  import importlib  # pylint: disable=g-import-not-at-top
  module = importlib.import_module(SUBCOMMANDS[name][0])
  if name in ('evaluate', 'report'):
    from absl import app  # pylint: disable=g-import-not-at-top  # absl only for these two
    module.define_flags()
    sys.argv = [f'audiolstm {name}'] + rest
    app.run(module.main, flags_parser=module.parse_flags)
    return 0
  return module.main(rest) or 0


def main(argv=None) -> int:
  """The console script: dispatch to a subcommand. Returns the exit status."""
  argv = sys.argv[1:] if argv is None else list(argv)
  if not argv or argv[0] in ('-h', '--help', 'help'):
    print(usage())
    return 0
  name, rest = argv[0], argv[1:]
  if name not in SUBCOMMANDS:
    cli.error(f'unknown subcommand {name!r}: use one of {", ".join(SUBCOMMANDS)} '
              '(audiolstm --help)')
    return 2
  if name in MODES and any(a in ('-h', '--help', '--helpshort', 'help') for a in rest):
    print(mode_help(name))
    return 0
  return _run_mode(name, rest) if name in MODES else _run_module(name, rest)


if __name__ == '__main__':
  sys.exit(main())
