"""Flax modules: the TF1-style LSTM cell, the stacked cell with dropout/residual, and the heads.

The original runs ONE step of the stacked cell per iteration, with the num_unrollings rows of the
input matrix as the batch; the state is carried from one iteration to the next. Shapes below use
[...] for any leading batch axes (e.g. dream streams).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp

from audiolstm.core import distribution


class TF1LSTMCell(nn.Module):
  """The classic LSTM of TF1's LSTMCell: one fused kernel [in + hidden, 4*hidden] (gates i, j, f, o),
  zero bias, forget-gate bias 1.0 added inside, tanh, no peepholes, Glorot-uniform kernel."""
  hidden_size: int

  @nn.compact
  def __call__(self, c, h, x):
    """c, h [..., hidden], x [..., in] -> (new_c, new_h)."""
    kernel = self.param('kernel', nn.initializers.glorot_uniform(),
                        (x.shape[-1] + self.hidden_size, 4 * self.hidden_size))
    bias = self.param('bias', nn.initializers.zeros, (4 * self.hidden_size,))
    gates = jnp.concatenate([x, h], axis=-1) @ kernel + bias  # [..., 4*hidden]
    i, j, f, o = jnp.split(gates, 4, axis=-1)
    new_c = jax.nn.sigmoid(f + 1.0) * c + jax.nn.sigmoid(i) * jnp.tanh(j)
    new_h = jax.nn.sigmoid(o) * jnp.tanh(new_c)
    return new_c, new_h


def _dropout(x, keep_prob, rng):
  """TF1-style dropout with a KEEP probability (kept values scaled by 1/keep_prob)."""
  if keep_prob >= 1.0 or rng is None:
    return x
  keep = jax.random.bernoulli(rng, keep_prob, x.shape)
  return jnp.where(keep, x / keep_prob, 0.0)


class AudioLSTM(nn.Module):
  """Stacked cells (residual around dropout around each cell) and a dense or transpose head.

  __call__(x [..., nu, seg], carry [..., L, 2, nu, hidden], dropout_rng or None)
    -> (output [..., rows, width], new carry). With dropout_rng None dropout is off. With
  num_levels K > 0 the output is [..., rows, width, K]: a categorical head's logits, or a
  Gaussian's mean and log-scale (K = 2).
  """
  num_layers: int
  hidden_size: int
  out_width: int
  use_transpose: bool = False
  use_residual: bool = False
  use_dropout: bool = False
  input_keep_prob: float = 1.0
  output_keep_prob: float = 1.0
  state_keep_prob: float = 1.0
  output_activation: str = 'linear'
  weight_stddev: float = 0.05
  num_levels: int = 0           # > 0: K outputs per value, a distribution (distribution.py)

  @nn.compact
  def __call__(self, x, carry, dropout_rng=None):
    rngs = [None] * (3 * self.num_layers)
    if self.use_dropout and dropout_rng is not None:
      rngs = list(jax.random.split(dropout_rng, 3 * self.num_layers))
    new_carry = []
    layer_in = x
    for layer in range(self.num_layers):
      c, h = carry[..., layer, 0, :, :], carry[..., layer, 1, :, :]
      cell_in = _dropout(layer_in, self.input_keep_prob, rngs[3 * layer])
      new_c, new_h = TF1LSTMCell(self.hidden_size, name=f'lstm_{layer}')(c, h, cell_in)
      out = _dropout(new_h, self.output_keep_prob, rngs[3 * layer + 1])
      state_h = _dropout(new_h, self.state_keep_prob, rngs[3 * layer + 2])  # TF1 drops h only
      if self.use_residual:
        out = out + layer_in
      new_carry.append(jnp.stack([new_c, state_h], axis=-3))
      layer_in = out
    return self._head(layer_in), jnp.stack(new_carry, axis=-4)

  def _head(self, h):
    """h [..., nu, hidden] -> [..., rows, width] values, or [..., rows, width, K] logits."""
    init = nn.initializers.truncated_normal(stddev=self.weight_stddev)
    k = max(self.num_levels, 1)
    if self.use_transpose:
      per_row = nn.Dense(1, kernel_init=init, name='dense_a')(h)  # [..., nu, 1]
      y = nn.Dense(k, kernel_init=init, name='dense_b')(jnp.swapaxes(per_row, -1, -2))  # [.., 1, k]
      width = 1
    else:
      y = nn.Dense(self.out_width * k, kernel_init=init, name='dense')(h)  # [..., nu, width*k]
      width = self.out_width
    if self.num_levels:
      return y.reshape(*y.shape[:-1], width, k)
    if self.output_activation == 'tanh':
      y = jnp.tanh(y)
    return y


def from_config(c) -> AudioLSTM:
  """The model of a resolved config."""
  return AudioLSTM(
      num_layers=c.num_layers, hidden_size=c.hidden_size, out_width=c.label_shape[1],
      use_transpose=c.use_transpose, use_residual=c.use_residual, use_dropout=c.use_dropout,
      input_keep_prob=c.input_keep_prob, output_keep_prob=c.output_keep_prob,
      state_keep_prob=c.state_keep_prob, output_activation=c.output_activation,
      weight_stddev=c.weight_stddev,
      num_levels=distribution.head_size(c))


def zero_carry(c, batch_shape=()):
  """[*batch_shape, L, 2, nu, hidden] zeros: the carried state at the start or after a reset.

  Args:
    c: a resolved config (num_layers, num_unrollings, hidden_size).
    batch_shape: the leading axes, e.g. (T,) training or (S,) dream streams; () for none.

  Returns:
    [*batch_shape, L, 2, nu, hidden] float32 zeros (axis -3: the cell state c, then h).
  """
  return jnp.zeros((*batch_shape, c.num_layers, 2, c.num_unrollings, c.hidden_size), jnp.float32)


def lstm_kernels(params):
  """The LSTM kernels (what L2 regularisation penalises)."""
  return [v['kernel'] for k, v in params.items() if k.startswith('lstm_')]
