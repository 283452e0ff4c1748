"""Refactors keep the sound: a fixed-seed tiny run of each default, trained and sampled through the
command line, writes the same WAVs, bit for bit, as the code did before the layout rebuild
(commit 25cfb25, hashes in tests/data/same_dreams.json).

XLA's CPU code depends on the library versions and the processor, so the hashes are compared
only where the platform is the one they were recorded on; elsewhere the test says so and skips.
Update the file (`python tests/test_same_dreams.py --write`) only for a change that is meant to
change the dreams, and say so in its commit.
"""
import glob
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, 'tests', 'data', 'same_dreams.json')
APPROACHES = ('vector', 'column', 'transpose', 'fft')
TINY = ['--config.seg_len=16', '--config.num_unrollings=4', '--config.hop_size=8',
        '--config.max_steps=30', '--config.chunk_size=16', '--config.dream_seconds=0.004',
        '--config.seq_dream_seconds=0.004', '--config.log_every=5',
        '--config.num_dream_streams=2', '--config.hidden_size=16', '--config.wander_snapshots=2']


def platform_signature() -> dict:
  """What XLA's CPU code depends on: the versions of the libraries and the processor."""
  import jax  # pylint: disable=g-import-not-at-top  # only for the signature
  import jaxlib  # pylint: disable=g-import-not-at-top
  import numpy  # pylint: disable=g-import-not-at-top
  cpu = ''
  if os.path.exists('/proc/cpuinfo'):
    lines = [l for l in open('/proc/cpuinfo') if l.startswith(('model name', 'flags'))]
    cpu = hashlib.sha256(''.join(sorted(set(lines))).encode()).hexdigest()[:16]
  return {'jax': jax.__version__, 'jaxlib': jaxlib.__version__, 'numpy': numpy.__version__,
          'python': platform.python_version(), 'machine': platform.machine(), 'cpu': cpu}


def dream_hash(approach: str, root: str) -> str:
  """sha256 of the WAVs (names and bytes) of a fixed-seed tiny run of configs/APPROACH.py and of
  one 0.02 s sample dream from it, made through `python -m audiolstm.main`."""
  env = dict(os.environ, PYTHONPATH=ROOT)
  run = os.path.join(root, approach)
  for args in ([f'--config=configs/{approach}.py', f'--workdir={run}', *TINY],
               ['--mode=sample', f'--workdir={run}', '--num_dreams=1', '--dream_seconds=0.02',
                '--seed=1']):
    subprocess.run([sys.executable, '-m', 'audiolstm.main', *args], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
  h = hashlib.sha256()
  for f in sorted(glob.glob(f'{run}/dreams/*.wav') + glob.glob(f'{run}/samples/*.wav')):
    h.update(os.path.basename(f).encode())
    h.update(open(f, 'rb').read())
  return h.hexdigest()


@pytest.mark.slow
def test_a_fixed_seed_run_of_each_default_writes_the_same_dreams(tmp_path):
  golden = json.load(open(GOLDEN))
  if golden['platform'] != platform_signature():
    pytest.skip(f'recorded on another platform ({golden["platform"]}): bit-for-bit hashes do not '
                'carry over')
  got = {a: dream_hash(a, str(tmp_path)) for a in APPROACHES}
  assert got == golden['hashes']


if __name__ == '__main__' and sys.argv[1:] == ['--write']:
  with tempfile.TemporaryDirectory() as folder:
    hashes = {a: dream_hash(a, folder) for a in APPROACHES}
  with open(GOLDEN, 'w') as f:
    json.dump({'recorded': 'see the commit that wrote it', 'platform': platform_signature(),
               'hashes': hashes}, f, indent=1)
    f.write('\n')
