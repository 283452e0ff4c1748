"""core/models.py: the TF1 LSTM cell and the stacked model against NumPy references of their
equations, and the carried state's shape."""
import jax
import jax.numpy as jnp
import numpy as np

from audiolstm.config import settings as config_lib
from audiolstm.core import models
from tests.helpers import tiny_config


def _sigmoid(x):
  return 1.0 / (1.0 + np.exp(-x))


def _np_cell(kernel, bias, c, h, x):
  """TF1 LSTMCell: gates i, j, f, o of [x, h] @ kernel + bias; forget bias 1.0."""
  i, j, f, o = np.split(np.concatenate([x, h], -1) @ kernel + bias, 4, axis=-1)
  new_c = _sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(j)
  return new_c, _sigmoid(o) * np.tanh(new_c)


def test_zero_carry_shapes():
  c = config_lib.resolve(tiny_config('vector', num_layers=2, hidden_size=8))
  z = models.zero_carry(c)
  assert z.shape == (2, 2, 4, 8) and z.dtype == jnp.float32 and not np.any(np.asarray(z))
  assert models.zero_carry(c, (3,)).shape == (3, 2, 2, 4, 8)
  model = models.from_config(c)
  x = jnp.zeros((3, 4, 16))
  params = model.init(jax.random.key(0), x, models.zero_carry(c, (3,)))['params']
  out, carry = model.apply({'params': params}, x, models.zero_carry(c, (3,)))
  assert out.shape == (3, 4, 16) and carry.shape == (3, 2, 2, 4, 8)


def test_tf1_cell_matches_numpy_equations():
  rng = np.random.default_rng(0)
  n_in, hidden = 3, 5
  kernel = rng.normal(0, 0.7, (n_in + hidden, 4 * hidden)).astype(np.float32)
  bias = rng.normal(0, 0.5, 4 * hidden).astype(np.float32)
  c, h = rng.normal(size=(2, 2, hidden)).astype(np.float32)  # a batch of 2
  x = rng.normal(size=(2, n_in)).astype(np.float32)
  cell = models.TF1LSTMCell(hidden)
  init = cell.init(jax.random.key(0), c, h, x)['params']
  assert init['kernel'].shape == kernel.shape and not np.any(np.asarray(init['bias']))
  new_c, new_h = cell.apply({'params': {'kernel': kernel, 'bias': bias}}, c, h, x)
  ref_c, ref_h = _np_cell(kernel.astype(np.float64), bias, c, h, x)
  np.testing.assert_allclose(np.asarray(new_c), ref_c, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(new_h), ref_h, rtol=1e-5, atol=1e-6)


def test_stacked_model_matches_numpy():
  """Two layers, each reading carry[layer, 0] as c and [layer, 1] as h, then the dense head on the
  top h; the new carry is stacked the same way."""
  model = models.AudioLSTM(num_layers=2, hidden_size=5, out_width=2)
  rng = np.random.default_rng(1)
  x = rng.normal(size=(4, 3)).astype(np.float32)                 # [nu, seg]
  carry = rng.normal(size=(2, 2, 4, 5)).astype(np.float32)       # [L, 2, nu, hidden]
  params = jax.tree.map(np.asarray, model.init(jax.random.key(0), x, carry)['params'])
  params['lstm_0']['bias'] = rng.normal(0, 0.3, 20).astype(np.float32)
  params['dense']['bias'] = rng.normal(0, 0.3, 2).astype(np.float32)
  out, new_carry = model.apply({'params': params}, x, carry)
  layer_in, ref_carry = x.astype(np.float64), []
  for layer in range(2):
    p = params[f'lstm_{layer}']
    c, h = _np_cell(p['kernel'], p['bias'], carry[layer, 0], carry[layer, 1], layer_in)
    ref_carry.append(np.stack([c, h]))
    layer_in = h
  ref_out = layer_in @ params['dense']['kernel'] + params['dense']['bias']
  np.testing.assert_allclose(np.asarray(out), ref_out, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(np.asarray(new_carry), np.stack(ref_carry), rtol=1e-5, atol=1e-6)
  assert out.shape == (4, 2)
