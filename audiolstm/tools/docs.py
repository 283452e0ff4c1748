r"""Documentation generated from the code, so it cannot drift: the table of config fields.

  python -m audiolstm.tools.docs           # print the table
  python -m audiolstm.tools.docs --write   # replace the block between the markers in docs/config.md
  python -m audiolstm.tools.docs --check   # exit 1 if docs/config.md's block is out of date

`--write FILE` and `--check FILE` take another file with the same markers instead of
docs/config.md (TARGET, relative to the checkout).

Every field of audiolstm/config/defaults.py's `get_config()` (the defaults every configs/*.py
starts from) is a row: its name, its default (from calling `get_config()`) and its meaning, which
is the comment on the line that sets it. The source is read with `ast` (to find the
`c.FIELD = ...` statements) and `tokenize` (to find the comments); nothing in it is executed
beyond importing the config module.
"""
import argparse
import ast
import inspect
import io
import os
import sys
import tokenize

START = '<!-- config-fields:start -->'
END = '<!-- config-fields:end -->'
TARGET = os.path.join('docs', 'config.md')  # where the table lives, relative to the checkout
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class DocsError(ValueError):
  """The config source or the target file (docs/config.md) cannot be documented; one line."""


def _comments_by_line(source: str) -> dict:
  """{line number: comment text without the leading '#'} for every comment in `source`."""
  comments = {}
  for tok in tokenize.generate_tokens(io.StringIO(source).readline):
    if tok.type == tokenize.COMMENT:
      comments[tok.start[0]] = tok.string.lstrip('#').strip()
  return comments


def _sections(source: str) -> dict:
  """{line number: title} of the `# --- title (note) ---` comment lines (the note dropped)."""
  sections = {}
  for tok in tokenize.generate_tokens(io.StringIO(source).readline):
    if tok.type == tokenize.COMMENT and tok.line.strip() == tok.string.strip():
      text = tok.string.lstrip('#').strip()
      if text.startswith('---'):
        sections[tok.start[0]] = text.strip('- ').split(' (')[0].strip()
  return sections


def field_comments(source: str, var: str = 'c') -> list:
  """(field, section, comment) for each `var.FIELD = ...` statement of the module in order
  (get_config's and those of the helpers it calls).

  The comment is the one on the statement's last line (empty if it has none); the section is the
  nearest `# --- title ---` comment line above it ('' before the first).

  Args:
    source: the config module's source text.
    var: the name the config is bound to in it (`c` in audiolstm/config/defaults.py).

  Returns:
    [(field, section, comment)] of str, in source order (a field set twice appears twice).

  Raises:
    DocsError: the source has no get_config() function.
  """
  tree = ast.parse(source)
  funcs = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == 'get_config']
  if not funcs:
    raise DocsError('the config module has no get_config() function')
  comments, sections = _comments_by_line(source), _sections(source)
  out = []
  for node in ast.walk(tree):
    if not isinstance(node, ast.Assign):
      continue
    for target in node.targets:
      if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
          and target.value.id == var):
        above = [line for line in sections if line < node.lineno]
        section = sections[max(above)] if above else ''
        out.append((node.lineno, target.attr, section, comments.get(node.end_lineno, '')))
  return [row[1:] for row in sorted(out)]


def _cell(text: str) -> str:
  """Markdown table cell text: pipes escaped, whitespace collapsed."""
  return ' '.join(str(text).split()).replace('|', '\\|')


def _default_text(value) -> str:
  if isinstance(value, float):
    return repr(value)
  return repr(tuple(value) if isinstance(value, list) else value)


def config_fields_markdown(module=None) -> str:
  """The markdown table of every field of a config module (default: audiolstm/config/defaults.py).

  Args:
    module: a config module with `get_config()`; None for `audiolstm.config.defaults`.

  Returns:
    A one-paragraph note, then the table (one row per field in source order), ending in a
    newline.

  Raises:
    DocsError: a field of `get_config()` is not set by a `c.FIELD = ...` line with a comment.
  """
  if module is None:
    # read only when the table is made
    from audiolstm.config import defaults as module  # pylint: disable=g-import-not-at-top
  config = module.get_config()
  rows = field_comments(inspect.getsource(module))
  documented = [name for name, _, _ in rows]
  missing = [k for k in config.keys() if k not in documented]
  if missing:
    raise DocsError(f'fields {", ".join(missing)} are not set by a c.FIELD = ... line of '
                    f'{inspect.getsourcefile(module)}: set each there with a comment')
  uncommented = [name for name, _, comment in rows if not comment]
  if uncommented:
    raise DocsError(f'fields {", ".join(uncommented)} have no comment on their line in '
                    f'{inspect.getsourcefile(module)}: add one saying what the field means')
  lines = ['Generated from the comments in `audiolstm/config/defaults.py` by',
           '`python -m audiolstm.tools.docs --write`. Geometry fields left at 0 / () are',
           'derived from `approach` (audiolstm/config/settings.py: `resolve`); every run writes',
           'the resolved values to `WORKDIR/config.json`.', '',
           '| field | section | default | meaning |', '| --- | --- | --- | --- |']
  seen = set()
  for name, section, comment in rows:
    if name in seen or name not in config:
      continue
    seen.add(name)
    lines.append(f'| `{name}` | {_cell(section)} | `{_cell(_default_text(config[name]))}` '
                 f'| {_cell(comment)} |')
  return '\n'.join(lines) + '\n'


def replace_block(text: str, table: str) -> str:
  """`text` with everything between the START and END markers replaced by `table`.

  Args:
    text: the file's text (e.g. docs/config.md), with one START line and one END line after it.
    table: the new block (config_fields_markdown), ending in a newline.

  Returns:
    The new text: START, a newline, table, then END and the rest as before.

  Raises:
    DocsError: the markers are missing, repeated or in the wrong order.
  """
  start, end = text.find(START), text.find(END)
  if start < 0 or end < 0 or end < start or text.count(START) != 1 or text.count(END) != 1:
    raise DocsError(f'the file needs exactly one {START} line followed by one {END} line')
  return text[:start + len(START)] + '\n' + table + text[end:]


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m audiolstm.tools.docs', description=__doc__.split(
      '\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
  group = parser.add_mutually_exclusive_group()
  default = os.path.join(ROOT, TARGET)
  group.add_argument('--write', metavar='FILE', nargs='?', const=default,
                     help=f'replace the config-fields block of FILE (default: {TARGET})')
  group.add_argument('--check', metavar='FILE', nargs='?', const=default,
                     help=f'exit 1 if FILE\'s block is out of date (default: {TARGET})')
  args = parser.parse_args(argv)
  try:
    table = config_fields_markdown()
    if not (args.write or args.check):
      sys.stdout.write(table)
      return 0
    path = args.write or args.check
    try:
      with open(path) as f:
        text = f.read()
    except OSError as e:
      raise DocsError(f'cannot read {path}: {e.strerror}') from None
    new = replace_block(text, table)
    if args.check:
      if new != text:
        print(f'{path}: the config-field table is out of date: run '
              f'python -m audiolstm.tools.docs --write {path}', file=sys.stderr)
        return 1
      return 0
    if new != text:
      with open(path, 'w') as f:
        f.write(new)
    print(f'{path}: config-field table {"updated" if new != text else "already up to date"}')
    return 0
  except DocsError as e:
    print(f'audiolstm.tools.docs: error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
