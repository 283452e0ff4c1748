"""docs/config.md's config-field table is generated from configs/default.py and up to date."""
import os
import subprocess
import sys

import pytest

from audiolstm.tools import docs
from configs import default

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG_DOC = os.path.join(ROOT, docs.TARGET)


def config_doc_block():
  text = open(CONFIG_DOC).read()
  start, end = text.index(docs.START) + len(docs.START), text.index(docs.END)
  return text[start:end].strip('\n') + '\n'


def test_config_doc_block_is_the_generated_table():
  assert docs.TARGET == os.path.join('docs', 'config.md')
  assert config_doc_block() == docs.config_fields_markdown(), (
      'docs/config.md is out of date: run python -m audiolstm.tools.docs --write')


def test_readme_holds_no_copy_of_the_table():
  readme = open(os.path.join(ROOT, 'README.md')).read()
  assert docs.START not in readme and docs.END not in readme
  assert 'docs/config.md' in readme


def test_every_field_has_a_row_with_its_default_and_a_meaning():
  table = docs.config_fields_markdown()
  rows = {line.split('|')[1].strip().strip('`'): line for line in table.splitlines()
          if line.startswith('| `')}
  config = default.get_config()
  assert set(rows) == set(config.keys())
  for name, line in rows.items():
    cells = [cell.strip() for cell in line.strip().strip('|').split(' | ')]
    assert cells[2] == f'`{docs._default_text(config[name])}`'.replace('|', '\\|'), name
    assert len(cells[3]) > 3, f'{name} has no meaning'


def test_meaning_comes_from_the_comment_on_the_fields_line():
  source = '''
def get_config():
  c = ml_collections.ConfigDict()
  # --- data (a note) ---
  c.rate = 8000     # samples | second
  c.files = (       # not this line
      'a.wav',)     # the file list
  return c
'''
  assert docs.field_comments(source) == [('rate', 'data', 'samples | second'),
                                         ('files', 'data', 'the file list')]
  assert docs._cell('samples | second') == 'samples \\| second'


def test_replace_block_keeps_everything_else():
  text = f'intro\n{docs.START}\nold\n{docs.END}\nrest\n'
  assert docs.replace_block(text, 'new\n') == f'intro\n{docs.START}\nnew\n{docs.END}\nrest\n'
  with pytest.raises(docs.DocsError):
    docs.replace_block('no markers', 'new\n')


def test_write_and_check_commands(tmp_path):
  path = tmp_path / 'README.md'
  path.write_text(f'# x\n{docs.START}\n{docs.END}\nend\n')
  run = lambda *a: subprocess.run([sys.executable, '-m', 'audiolstm.tools.docs', *a], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
  assert run('--check', str(path)).returncode == 1
  assert run('--write', str(path)).returncode == 0
  assert run('--check', str(path)).returncode == 0
  assert docs.config_fields_markdown() in path.read_text() and path.read_text().endswith('end\n')


def test_write_and_check_default_to_docs_config_md():
  run = lambda *a: subprocess.run([sys.executable, '-m', 'audiolstm.tools.docs', *a], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
  result = run('--check')
  assert result.returncode == 0, result.stderr
  assert 'docs/config.md' in run('--help').stdout
