"""The package's layering, read from its source: subpackages follow the data's path and import
only downward, with no loops; judging loads no jax; dreaming and live play never load the host
training loop; an import inside a function says why it is there.

The map is docs/development.md."""
import ast
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = os.path.join(ROOT, 'audiolstm')
# Lower ranks are imported by higher ones, never the other way round. Modules at the package's
# top level: files and cli are shared helpers (rank 0); main, command and bench are entry points.
RANKS = {'files': 0, 'cli': 0, 'configs': 0, 'data': 0, 'audio': 1, 'config': 2, 'core': 3,
         'run': 4, 'dream': 5, 'live': 6, 'judge': 7, 'tools': 8, 'main': 9, 'command': 9,
         'bench': 9}
_PYLINT = re.compile(r'pylint:\s*disable=[\w,-]+')


def modules() -> dict:
  """{dotted name: file} of every module of the package (configs included, as installed)."""
  out = {}
  for folder, _, names in os.walk(PKG):
    for name in names:
      if name.endswith('.py'):
        rel = os.path.relpath(os.path.join(folder, name), ROOT)[:-3].replace(os.sep, '.')
        out[rel.removesuffix('.__init__')] = os.path.join(folder, name)
  for name in os.listdir(os.path.join(ROOT, 'configs')):
    if name.endswith('.py'):
      out['audiolstm.configs.' + name[:-3]] = os.path.join(ROOT, 'configs', name)
  return out


def imports(path: str, known) -> list:
  """[(ast node, dotted module imported)] of one file's imports of the package's modules."""
  out = []
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('audiolstm'):
      for alias in node.names:
        sub = f'{node.module}.{alias.name}'
        out.append((node, sub if sub in known else node.module))
    elif isinstance(node, ast.Import):
      out += [(node, a.name) for a in node.names if a.name.startswith('audiolstm')]
  return out


def rank(module: str) -> int:
  parts = module.split('.')
  return RANKS[parts[1]] if len(parts) > 1 else 0


def graph() -> dict:
  known = modules()
  return {m: {t for _, t in imports(p, known) if t != m} for m, p in known.items()}


def test_every_subpackage_has_a_rank():
  assert {m.split('.')[1] for m in modules() if '.' in m} <= set(RANKS)


def test_nothing_imports_upward():
  upward = [(m, t) for m, targets in graph().items() for t in targets
            if rank(t) > rank(m) and not m.startswith('audiolstm.configs')]
  assert not upward, upward


def test_no_import_loops():
  g = graph()
  index, low, stack, on, loops = {}, {}, [], set(), []

  def visit(v):  # Tarjan's strongly connected components
    index[v] = low[v] = len(index)
    stack.append(v)
    on.add(v)
    for w in g.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on.discard(w)
        comp.append(w)
        if w == v:
          break
      if len(comp) > 1:
        loops.append(sorted(comp))

  for v in sorted(g):
    if v not in index:
      visit(v)
  assert not loops, loops


def reachable(start: str, g: dict) -> set:
  seen, todo = set(), [start]
  while todo:
    for w in g.get(todo.pop(), ()):
      if w not in seen:
        seen.add(w)
        todo.append(w)
  return seen


def test_dreaming_and_live_play_never_import_the_training_loop():
  g = graph()
  for m in g:
    if m.startswith(('audiolstm.dream', 'audiolstm.live')):
      assert 'audiolstm.run.train' not in reachable(m, g), m


def test_judging_imports_no_jax():
  judge = sorted(m for m in modules() if m.startswith('audiolstm.judge.'))
  code = ''.join(f'import {m}\n' for m in judge) + 'import sys\nprint("jax" in sys.modules)'
  out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT,
                       check=True).stdout
  assert out.strip() == 'False', judge


def _reason(lines: list, i: int) -> bool:
  """Whether the import at line i (0-based), or a comment in the imports and comments just above
  it, says why (a comment with words besides a pylint directive)."""
  while i >= 0:
    line = lines[i]
    comment = line.split('#', 1)[1] if '#' in line else ''
    if re.search(r'[a-z]{3,}', _PYLINT.sub('', comment)):
      return True
    stripped = line.strip()
    if not stripped.startswith(('import ', 'from ', '#')):
      return False
    i -= 1
  return False


def test_an_import_inside_a_function_says_why():
  bare = []
  for m, path in modules().items():
    lines = open(path).read().splitlines()
    for node in ast.walk(ast.parse('\n'.join(lines))):
      if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0 \
          and not _reason(lines, node.lineno - 1):
        bare.append(f'{m}:{node.lineno}')
  assert not bare, bare
