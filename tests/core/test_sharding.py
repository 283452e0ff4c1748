"""Data parallelism on several (simulated) CPU devices: the same numbers as one device, sharded
training and dream streams, one compilation. Each case runs in a subprocess because the device
count must be set before jax is imported."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r'''
import json, sys
import jax, numpy as np
sys.path.insert(0, sys.argv[1])
from tests.helpers import tiny_config
from audiolstm.config import settings as config_lib
from audiolstm.core import dataset
from audiolstm.core import diagnostics
from audiolstm.core import program as program_lib
from audiolstm.run import train
c, g = config_lib.prepare(tiny_config('vector', num_train_streams=4, num_dream_streams=4,
                                      use_dropout=True, chunk_size=16, dream_seconds=0.003))
sources = dataset.load_sources(c, g)
program = program_lib.build(c, sources)
data = program_lib.device_data(sources, program.mesh)
state = program.init(data, jax.random.key(0))
out = []
with diagnostics.CompileCounter() as compiles:
  for n in (16, 9, 16):
    state, losses, dreams, offsets = program.run_chunk(state, data, n)
    out.append(np.asarray(dreams)[:n])
np.savez(sys.argv[2], dreams=np.concatenate(out), losses=np.asarray(losses),
         **{'/'.join(str(k.key) for k in path): np.asarray(v)
            for path, v in jax.tree_util.tree_leaves_with_path(state.params)})
summary = train.train_and_evaluate(tiny_config('vector', num_train_streams=4,
                                               num_dream_streams=4, max_steps=30),
                                   sys.argv[2] + '.run', log=lambda _: None)
print(json.dumps({
    'devices': jax.device_count(),
    'carry': list(state.carry.sharding.spec), 'dreams': list(state.dream_buffers.sharding.spec),
    'params': list(jax.tree.leaves(state.params)[0].sharding.spec),
    'carry_shards': len(state.carry.addressable_shards),
    'compiles': compiles.count,
    'run_steps': summary['steps'], 'run_dreams': len(summary['dreams'])}))
'''


def run(devices, out):
  env = dict(os.environ, PYTHONPATH=ROOT,
             XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}')
  r = subprocess.run([sys.executable, '-c', SCRIPT, ROOT, out], env=env, capture_output=True,
                     text=True, timeout=600)
  assert r.returncode == 0, r.stderr
  return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_four_devices_match_one_device(tmp_path):
  four = run(4, str(tmp_path / 'four.npz'))
  one = run(1, str(tmp_path / 'one.npz'))
  assert four['devices'] == 4 and one['devices'] == 1
  # Training and dream streams are split over the devices; parameters are replicated.
  assert four['carry'] == ['data'] and four['carry_shards'] == 4
  assert four['dreams'] == ['data']
  assert four['params'] == []
  assert four['compiles'] == 1 and one['compiles'] == 1  # three chunk lengths, one program
  a, b = np.load(tmp_path / 'four.npz'), np.load(tmp_path / 'one.npz')
  assert set(a.files) == set(b.files)
  for k in a.files:
    np.testing.assert_allclose(a[k], b[k], rtol=2e-4, atol=2e-6, err_msg=k)
  assert four['run_steps'] == 30 and four['run_dreams'] > 0  # the whole loop runs sharded
