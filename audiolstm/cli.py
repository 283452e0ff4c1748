"""What every command line of the package shares: one-line errors and absl flag parsing.

  cli.fail('no config given: ...', prog='audiolstm')     # 'audiolstm: error: ...', exit 2
  app.run(main, flags_parser=lambda argv: cli.parse_flags(argv, prog='audiolstm'))

Bad input gives ONE line on stderr, `PROG: error: MESSAGE`, and exit status 2 (a run that failed
in its own right uses another status): no usage dump, no traceback. The module imports only absl
(no jax), so an entry point can refuse its flags before it pays for importing jax.
"""
import argparse
import difflib
import importlib.util
import os
import re
import sys

from absl import flags

from audiolstm import configs

PROG = 'audiolstm'


def error(message: str, prog: str = PROG) -> None:
  """Print `PROG: error: MESSAGE` as one line on stderr (the lines of a message joined).

  Args:
    message: the error (any object; its non-empty lines are stripped and joined with spaces;
      'failed' if it has none).
    prog: the program's name at the start of the line.
  """
  text = ' '.join(line.strip() for line in str(message).splitlines() if line.strip()) or 'failed'
  print(f'{prog}: error: {text}', file=sys.stderr, flush=True)


def fail(message: str, status: int = 2, prog: str = PROG):
  """Print `PROG: error: MESSAGE` as one line on stderr and exit with `status`.

  Args:
    message: the error (its lines are joined into one, as for `error`).
    status: the exit status.
    prog: the program's name at the start of the line.

  Raises:
    SystemExit: always, with `status`.
  """
  error(message, prog)
  sys.exit(status)


class ArgumentParser(argparse.ArgumentParser):
  """argparse for the argparse-based tools, with the same one-line errors (exit 2) as the rest.

  Its `prog` is the command ('python -m audiolstm.tools.devset'); error lines start with the module
  ('audiolstm.tools.devset: error: ...') and point at --help instead of printing the usage.
  """

  def error(self, message):
    """Exit with status 2 after one line `MODULE: error: MESSAGE (see PROG --help)` on stderr.

    Args:
      message: argparse's error message.

    Raises:
      SystemExit: always, with status 2.
    """
    name = self.prog[len('python -m '):] if self.prog.startswith('python -m ') else self.prog
    fail(f'{message} (see {self.prog} --help)', prog=name)


def first_line(e: BaseException) -> str:
  """The first non-empty line of an exception's message (its type's name if it has none)."""
  lines = [line.strip() for line in str(e).splitlines() if line.strip()]
  return lines[0] if lines else type(e).__name__


def config_path(argv, name: str = 'config'):
  """The file of `--NAME=FILE[:ARG]` (or `--NAME FILE[:ARG]`) in argv; None if not given.

  Args:
    argv: the command line (argv[0] is the program).
    name: the config-file flag's name, without the dashes.

  Returns:
    FILE (the text before any ':ARG') of the first such flag, or None.
  """
  pattern = re.compile(rf'^--?{re.escape(name)}(=|$)')
  for i, arg in enumerate(argv):
    m = pattern.match(arg)
    if m and m.group(1) == '=':
      return arg.split('=', 1)[1].split(':', 1)[0]
    if m and i + 1 < len(argv):
      return argv[i + 1].split(':', 1)[0]
  return None


def bundled_configs(argv, prog: str = PROG) -> list:
  """argv with a bundled config's name (`--config=fft[:ARG]`) replaced by its file, so that a
  name works from any directory; a bare name that is neither a file here nor a bundled config is
  refused in one line that lists the bundled ones.

  Args:
    argv: the command line (argv[0] is the program).
    prog: the program's name at the start of an error line.

  Returns:
    The command line, with the first --config value resolved.
  """
  spec = config_path(argv)
  if spec is None or os.path.exists(spec) or not configs.is_name(spec):
    return list(argv)
  try:
    file = configs.path(spec)
  except KeyError as e:
    fail(e.args[0], prog=prog)
  out, pattern = list(argv), re.compile(r'^--?config(=|$)')
  i = next(i for i, arg in enumerate(out) if pattern.match(arg))  # config_path found one
  at = i if '=' in out[i] else i + 1
  flag, eq, value = out[at].partition('=') if at == i else ('', '', out[at])
  out[at] = flag + eq + file + value[len(spec):]
  return out


def _missing_config_hint(path: str) -> str:
  """The hint after 'config file not found': the bundled config closest to the file's name."""
  stem = os.path.splitext(os.path.basename(path))[0]
  close = difflib.get_close_matches(stem, configs.names(), n=1, cutoff=0.5)
  return (f'give a config file\'s path, or a bundled config by name: --config='
          f'{close[0] if close else "fft"} (bundled: {", ".join(configs.names())})')


def config_overrides(argv, name: str = 'config') -> list:
  """The `--NAME.FIELD[=VALUE]` (and `--noNAME.FIELD`) arguments of argv, as written.

  Args:
    argv: the command line (argv[0] is the program).
    name: the config-file flag's name, without the dashes.

  Returns:
    [str] those arguments, in argv's order.
  """
  pattern = re.compile(rf'^--?(no)?{re.escape(name)}\.')
  return [arg for arg in argv if pattern.match(arg)]


def _config_error(e: Exception) -> str:
  """One line for an exception raised while a config file was loaded."""
  if isinstance(e, OSError) and e.__cause__ is not None:  # ml_collections' deferred load error
    e = e.__cause__
  text = str(e)
  if 'Error whilst parsing config file' in text:  # ml_collections puts the traceback in it
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1]  # the traceback's last line: 'ValueError: ...'
  return f'{type(e).__name__}: {first_line(e)}'


def _fail_unknown_field(argv, prog: str) -> None:
  """Refuse (one line) the first --config.FIELD override whose FIELD the loaded config lacks,
  naming the closest valid fields; nothing if the config did not load or every field exists."""
  spec = [a.split('=', 1)[1] for a in argv[1:] if re.match(r'^--?config=', a)]
  try:  # the config file alone (ml_collections' own loader would apply the overrides again)
    file, _, arg = spec[0].partition(':')
    loader = importlib.util.spec_from_file_location('_audiolstm_config_fields', file)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    fields = list((module.get_config(arg) if arg else module.get_config()).keys())
  except Exception:  # pylint: disable=broad-except  # it does not load: the caller says why
    return
  for arg in config_overrides(argv):
    field = re.sub(r'^--?(no)?config\.', '', arg).split('=', 1)[0].split('.', 1)[0]
    if field not in fields:
      close = difflib.get_close_matches(field, fields, n=3, cutoff=0.7)
      hint = f': did you mean {" or ".join(close)}?' if close else ''
      fail(f'--config.{field} is not a field of the config{hint} (python -m audiolstm.tools.docs '
           'lists them all)', prog=prog)


def parse_flags(argv, prog: str = PROG, flag_values=None):
  """absl flag parsing with one-line errors (exit 2) instead of a usage dump or a traceback.

  When a config-file flag `--config` is defined (ml_collections.config_flags), a file that does
  not exist or does not load is refused in one line as well: `config file not found: PATH`,
  `cannot load the config: TYPE: MESSAGE`.

  Args:
    argv: the full command line (argv[0] is the program).
    prog: the program's name at the start of an error line.
    flag_values: the absl FlagValues to parse into (default: absl.flags.FLAGS).

  Returns:
    The arguments absl left over (argv[0] first), as absl's own parser does.
  """
  fv = flags.FLAGS if flag_values is None else flag_values
  has_config = 'config' in fv
  argv = bundled_configs(argv, prog) if has_config else argv
  path = config_path(argv) if has_config else None
  if path is not None and not os.path.isfile(path):
    fail(f'config file not found: {path} ({_missing_config_hint(path)})', prog=prog)
  try:
    rest = fv(argv)
  except flags.Error as e:
    message = str(e)
    if has_config:
      _fail_unknown_field(argv, prog)
    if has_config and 'Error whilst parsing config file' in message:
      fail(f'cannot load the config: {_config_error(e)}', prog=prog)
    fail(first_line(e), prog=prog)
  except Exception as e:  # pylint: disable=broad-except  # anything a config file may raise
    if has_config:
      _fail_unknown_field(argv, prog)
    fail(f'cannot load the config: {_config_error(e)}', prog=prog)
  if has_config and fv['config'].present:
    try:  # ml_collections defers an IOError of the file to the config's first use
      getattr(fv['config'].value, '_audiolstm_probe', None)
    except Exception as e:  # pylint: disable=broad-except
      _fail_unknown_field(argv, prog)
      fail(f'cannot load the config: {_config_error(e)}', prog=prog)
  return rest
