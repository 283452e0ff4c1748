"""dream_noise: Gaussian noise on each predicted value before it is fed back while dreaming (off at
0, where the step is the noise-free computation), in the config, the pure step and sample mode."""
import dataclasses
import glob
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import audio_io
from audiolstm.config import settings as config_lib
from audiolstm.core import models
from audiolstm.core import sampling
from audiolstm.core import slicing
from audiolstm.dream import sample as sample_mode
from audiolstm.run import train
from tests.helpers import build_program
from tests.helpers import check_added_field
from tests.helpers import tiny_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build(approach, audio, **overrides):
  """(config, program, device data, initial state) of a tiny run on `audio`."""
  c, _, program, data, state = build_program(approach, audio, **overrides)
  return c, program, data, state


def noise_free_step(model, ds, params, buffers, carry, rng):
  """The sample step as it was before dream_noise: (buffers, carry, new values)."""
  x = jnp.take(buffers, slicing.buffer_matrix_indices(ds.g), axis=1)
  out, carry = model.apply({'params': params}, x, carry, rng if ds.use_dropout else None)
  last = out[:, -1, :]
  return (slicing.advance_buffer(ds.g, buffers, last), carry,
          last[:, ds.g.label_width - ds.g.new_per_step:])


def test_config_field_validated_and_filled_in_for_older_runs():
  assert config_lib.resolve(tiny_config('vector')).dream_noise == 0.0
  check_added_field('vector', 'dream_noise', ok=(0.0, 0.25),
                    bad=(-0.1, float('nan'), float('inf')),
                    message=r'^config\.dream_noise=.* must be a number >= 0 [^\n]*$', other=0.1)


@pytest.mark.slow
def test_zero_noise_is_the_noise_free_step(synth_audio):
  _, program, _, state = build('vector', synth_audio, use_dropout=True)
  ds = program.setup.dream
  assert ds.dream_noise == 0.0 and ds.use_dropout
  args = (state.params, state.dream_buffers, state.dream_carry, jax.random.key(4))
  step = lambda *a: sampling.sample_step(program.model, ds, *a)
  ref = lambda *a: noise_free_step(program.model, ds, *a)
  assert str(jax.make_jaxpr(step)(*args)) == str(jax.make_jaxpr(ref)(*args))  # same program
  for got, want in zip(jax.jit(step)(*args), jax.jit(ref)(*args)):
    np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_noise_gives_each_key_its_own_dream(synth_audio):
  _, program, _, state = build('vector', synth_audio, use_dropout=False)  # deterministic
  ds = program.setup.dream
  noisy = dataclasses.replace(ds, dream_noise=0.05)

  def dream(setup, seed):
    fn = jax.jit(lambda p, b, c, k: sampling.dream_scan(program.model, setup, 6, p, b, c, k))
    return jax.tree.map(np.asarray, fn(state.params, state.dream_buffers, state.dream_carry,
                                       jax.random.key(seed)))

  np.testing.assert_array_equal(dream(ds, 0)[2], dream(ds, 1)[2])  # the problem: one dream
  (buf_a, _, a), (_, _, b), (_, _, c) = dream(noisy, 0), dream(noisy, 0), dream(noisy, 1)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c) and not np.allclose(a, dream(ds, 0)[2])
  np.testing.assert_array_equal(buf_a[:, -ds.g.new_per_step:], a[-1])  # fed back = returned


@pytest.mark.slow
def test_noise_has_the_requested_std(synth_audio):
  c, program, _, state = build('vector', synth_audio)
  ds, streams, std = program.setup.dream, 256, 0.05
  buffers = jnp.tile(state.dream_buffers[:1], (streams, 1))
  carry = models.zero_carry(c, (streams,))
  key = jax.random.key(7)
  _, _, clean = sampling.sample_step(program.model, ds, state.params, buffers, carry, key)
  out_buffers, _, new = sampling.sample_step(
      program.model, dataclasses.replace(ds, dream_noise=std), state.params, buffers, carry, key)
  diff = np.asarray(new - clean)  # [256, 16]: 4096 draws
  assert abs(np.std(diff) / std - 1) < 0.1 and abs(np.mean(diff)) < 0.1 * std
  np.testing.assert_array_equal(out_buffers[:, -ds.g.new_per_step:], new)


def test_fft_noisy_magnitudes_are_clipped_at_zero(synth_audio):
  _, program, _, state = build('fft', synth_audio, dream_noise=0.5)
  ds = program.setup.dream
  assert ds.use_fft and ds.dream_noise == 0.5
  buffers, _, new = sampling.sample_step(program.model, ds, state.params, state.dream_buffers,
                                         state.dream_carry, jax.random.key(1))
  _, _, clean = sampling.sample_step(program.model, dataclasses.replace(ds, dream_noise=0.0),
                                     state.params, state.dream_buffers, state.dream_carry,
                                     jax.random.key(1))
  new = np.asarray(new)
  assert new.min() == 0.0 and np.any(new > 0) and not np.allclose(new, clean)
  np.testing.assert_array_equal(buffers[:, -ds.g.new_per_step:], new)


@pytest.fixture(scope='module')
def run_without_dropout(tmp_path_factory):
  """A tiny trained vector run (no dropout, no wander snapshots: a model whose dreams vary only
  with the dream noise) and a seed file."""
  tmp = tmp_path_factory.mktemp('noise')
  t = np.arange(2 * 11025) / 11025
  audio = (0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
  wav = audio_io.write_wav(str(tmp / 'in.wav'), audio, 11025)
  workdir = str(tmp / 'run')
  train.train_and_evaluate(tiny_config('vector', max_steps=10, input_files=(wav,),
                                       use_dropout=False, wander_snapshots=0), workdir,
                           log=lambda _: None)
  return workdir, wav


@pytest.mark.slow
def test_sample_mode_dream_noise(run_without_dropout, tmp_path):
  workdir, seed_file = run_without_dropout

  def dreams(seed, dream_noise=None):
    paths = sample_mode.sample(workdir, [seed_file], num_dreams=2, dream_seconds=0.05,
                             out_dir=str(tmp_path / 'out'), seed=seed, log=lambda _: None,
                             dream_noise=dream_noise)
    return np.stack([sf.read(p)[0] for p in paths])

  plain = dreams(0)
  np.testing.assert_array_equal(plain, dreams(1))  # no dropout, no noise: one dream
  np.testing.assert_array_equal(plain, dreams(0, dream_noise=0.0))
  a, b, c = dreams(0, 0.05), dreams(0, 0.05), dreams(1, 0.05)
  np.testing.assert_array_equal(a, b)
  assert not np.allclose(a, c) and not np.allclose(a, plain)
  assert not np.allclose(a[0], a[1])  # two streams from the same seed file differ too
  with pytest.raises(config_lib.ConfigError, match='--dream_noise=-1'):
    sample_mode.sample(workdir, dream_noise=-1.0)
  (tmp_path / 'in').mkdir()
  with pytest.raises(config_lib.ConfigError, match='--dream_noise=nan'):
    sample_mode.watch(workdir, str(tmp_path / 'in'), str(tmp_path / 'w'), dream_noise=float('nan'))

  # A run saved before dream_noise existed still dreams.
  path = os.path.join(workdir, 'config.json')
  saved = json.load(open(path))
  json.dump({k: v for k, v in saved.items() if k != 'dream_noise'}, open(path, 'w'))
  try:
    np.testing.assert_array_equal(dreams(0, 0.05), a)
  finally:
    json.dump(saved, open(path, 'w'))


@pytest.mark.slow
def test_sample_mode_dream_noise_flag(run_without_dropout, tmp_path):
  workdir, seed_file = run_without_dropout

  def cli(*args):
    return subprocess.run([sys.executable, '-m', 'audiolstm.main', '--mode=sample',
                           f'--workdir={workdir}', *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))

  out = tmp_path / 'out'
  r = cli(f'--seed_files={seed_file}', '--num_dreams=1', '--dream_seconds=0.05',
          f'--out_dir={out}', '--dream_noise=0.05')
  assert r.returncode == 0, r.stderr
  assert 'dream_noise 0.05' in r.stdout and len(glob.glob(str(out / '*.wav'))) == 1
  # A negative --dream_noise is refused before anything is written.
  with pytest.raises(config_lib.ConfigError, match=r'^--dream_noise=-0.5 must be >= 0') as e:
    sample_mode.sample(workdir, [seed_file], out_dir=str(tmp_path / 'bad'), dream_noise=-0.5,
                     log=lambda _: None)
  assert '\n' not in str(e.value) and not (tmp_path / 'bad').exists()
