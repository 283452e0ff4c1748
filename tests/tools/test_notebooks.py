"""The notebooks run headless in quick mode without an error, and are committed without outputs."""
import glob
import importlib
import json
import os

import jax.numpy as jnp
from nbclient import NotebookClient
import nbformat
import numpy as np
import pytest

from audiolstm.audio import vocoder
from audiolstm.config import settings as config_lib
from audiolstm.tools import notebook_utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Every notebook, and the three the README names even if one went missing (its tests then fail).
NOTEBOOKS = sorted(set(glob.glob(os.path.join(ROOT, 'notebooks', '*.ipynb')))
                   | {os.path.join(ROOT, 'notebooks', n)
                      for n in ('quickstart.ipynb', 'approaches.ipynb', 'vocoder.ipynb')})


@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_committed_without_outputs(path):
  nb = nbformat.read(path, as_version=4)
  nbformat.validate(nb)
  for cell in nb.cells:
    if cell.cell_type == 'code':
      assert cell.outputs == [] and cell.execution_count is None, (
          f'{os.path.basename(path)} holds outputs: clear them before committing '
          '(jupyter nbconvert --clear-output --inplace notebooks/*.ipynb)')


@pytest.mark.slow
@pytest.mark.parametrize('path', NOTEBOOKS, ids=os.path.basename)
def test_runs_headless_in_quick_mode(path, tmp_path, monkeypatch):
  monkeypatch.setenv(notebook_utils.QUICK_ENV, '1')
  monkeypatch.setenv('PYTHONPATH', ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
  nb = nbformat.read(path, as_version=4)
  # Runs go to tmp_path (the kernel's working directory), not next to the notebook.
  NotebookClient(nb, timeout=300, kernel_name='python3',
                 resources={'metadata': {'path': str(tmp_path)}}).execute()
  outputs = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs]
  assert not [o for o in outputs if o.output_type == 'error']
  assert any(o.output_type == 'display_data' and 'image/png' in o.get('data', {})
             for o in outputs), 'no plot was shown'
  assert any('text/html' in o.get('data', {}) and '<audio' in o['data']['text/html']
             for o in outputs), 'no audio player was shown'
  # Quick mode reached every run: each one the notebook trained was shrunk (notebook_utils.shrink).
  runs = glob.glob(str(tmp_path / 'runs' / '*' / 'config.json'))
  if any('train_and_evaluate' in c.source for c in nb.cells if c.cell_type == 'code'):
    assert runs, 'the notebook trained no run in its working directory'
  for run in runs:
    assert json.load(open(run))['max_steps'] <= 120, run


def test_envelopes_are_the_vocoders():
  """Summing sines under notebook_utils.envelopes reproduces vocoder.vocode_direct."""
  rng = np.random.default_rng(0)
  frames, hop = rng.uniform(0, 1, (5, 8)).astype(np.float32), 4
  phases = rng.uniform(0, 2 * np.pi, 8).astype(np.float32)
  amps = np.asarray(vocoder.peaks(frames))
  env = notebook_utils.envelopes(amps, hop)                       # [(T + 1) * hop, N]
  n, k = np.arange(len(env))[:, None], np.arange(8)[None, :]
  y = np.sum(env * np.sin(np.pi * k * n / 8 + phases), axis=1)
  y /= np.max(np.abs(y))
  np.testing.assert_allclose(y, vocoder.vocode_direct(jnp.asarray(frames), hop, phases),
                             atol=1e-5)


@pytest.mark.parametrize('name', ['vector', 'column', 'transpose', 'fft'])
def test_shrink_dreams_within_the_run(name):
  c = notebook_utils.shrink(importlib.import_module(f'configs.{name}').get_config(), 120)
  r, g = config_lib.prepare(c)
  assert 1 <= config_lib.dream_steps(r, g, r.dream_seconds) <= 60 and r.max_steps == 120


def test_load_metrics_and_plot_loss(tmp_path):
  lines = [f'{{"step": {s}, "loss": {1.0 / s}}}' for s in range(5, 105, 5)]
  lines[9] = '{"step": 50, "loss": 0.02, "val_loss": 0.05}'
  (tmp_path / 'metrics.jsonl').write_text('\n'.join(lines) + '\n')
  steps, losses = notebook_utils.load_metrics(str(tmp_path))
  assert len(steps) == 20 and losses[9] == 0.02
  val_steps, val_losses = notebook_utils.load_metrics(str(tmp_path), 'val_loss')
  assert list(val_steps) == [50] and list(val_losses) == [0.05]
  ax = notebook_utils.plot_loss(str(tmp_path))
  assert len(ax.lines) == 3  # per interval, running mean, validation
  notebook_utils.pyplot().close('all')
