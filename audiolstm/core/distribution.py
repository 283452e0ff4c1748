"""The output head's distribution: a categorical over quantised levels, trained by likelihood and
dreamed by sampling with a temperature (SampleRNN, WaveNet: 256 mu-law levels).

The original regresses each value with mean squared error (`output_dist='mse'`). Its prediction is
the conditional mean, and a mean fed back to itself smooths into a fixed point: the drone a
trained model falls into when it dreams alone. With `output_dist='categorical'` the head gives
`num_levels` logits per predicted value; a dream draws each value from them, so the model keeps
choosing among the futures it has heard instead of averaging them.

With `output_dist='gaussian'` the head gives a mean and a log-scale per value instead (a
heteroscedastic Gaussian, the one-component mixture density of IMPSY's MDRNN): cheaper when the
values are many (fft's bins), unimodal where the categorical can hold several futures.

Levels: raw audio in [-1, 1] is mu-law companded (mu = num_levels - 1) and quantised uniformly,
so quiet samples get fine steps; fft values (normalised magnitudes ** magnitude_power, in [0, 1])
are quantised uniformly (the power already compresses them).
"""
import jax
import jax.numpy as jnp


def mu_law(x, mu: float):
  """x [...] in [-1, 1] -> companded [...] in [-1, 1] (ITU-T G.711 mu-law)."""
  return jnp.sign(x) * jnp.log1p(mu * jnp.abs(x)) / jnp.log1p(mu)


def inverse_mu_law(y, mu: float):
  """Companded y [...] in [-1, 1] -> x [...] in [-1, 1] (mu_law's inverse)."""
  return jnp.sign(y) * jnp.expm1(jnp.abs(y) * jnp.log1p(mu)) / mu


def encode(x, num_levels: int, use_fft: bool):
  """Values [...] -> level indices [...] int32 in [0, num_levels).

  Args:
    x: [...] float raw audio (clipped to [-1, 1]) or fft values (clipped to [0, 1]).
    num_levels: K, the number of levels.
    use_fft: uniform levels over [0, 1] (fft) instead of mu-law over [-1, 1].

  Returns:
    [...] int32 indices of the nearest level.
  """
  if use_fft:
    unit = jnp.clip(x, 0.0, 1.0)
  else:
    unit = (mu_law(jnp.clip(x, -1.0, 1.0), num_levels - 1) + 1.0) / 2.0
  return jnp.round(unit * (num_levels - 1)).astype(jnp.int32)


def decode(idx, num_levels: int, use_fft: bool):
  """Level indices [...] -> values [...] float32 (encode's inverse on the levels)."""
  unit = idx.astype(jnp.float32) / (num_levels - 1)
  if use_fft:
    return unit
  return inverse_mu_law(2.0 * unit - 1.0, num_levels - 1)


def nll(logits, y, use_fft: bool):
  """Mean negative log-likelihood (nats) of the values y under the logits.

  Args:
    logits: [..., K] float logits of each value's level.
    y: [...] float target values.
    use_fft: the values' levels (see encode).

  Returns:
    [] float32 mean cross-entropy.
  """
  k = logits.shape[-1]
  logp = jax.nn.log_softmax(logits, axis=-1)
  idx = encode(y, k, use_fft)
  return -jnp.mean(jnp.take_along_axis(logp, idx[..., None], axis=-1))


def expected(logits, use_fft: bool):
  """logits [..., K] -> [...] the distribution's mean value (for a squared error to report)."""
  k = logits.shape[-1]
  levels = decode(jnp.arange(k), k, use_fft)  # [K]
  return jnp.sum(jax.nn.softmax(logits, axis=-1) * levels, axis=-1)


def sample(logits, rng, temperature, use_fft: bool):
  """Draw each value from its logits at a temperature.

  Temperature 1 samples the model's distribution; lower is more conservative (toward the most
  likely level), higher is wilder; 0 takes the most likely level (no randomness).

  Args:
    logits: [..., K] float logits.
    rng: the key of the draw.
    temperature: [] float >= 0 (may be traced: a live knob needs no recompilation).
    use_fft: the values' levels (see encode).

  Returns:
    [...] float32 values.
  """
  k = logits.shape[-1]
  t = jnp.asarray(temperature, jnp.float32)
  gumbel = jax.random.gumbel(rng, logits.shape, logits.dtype)
  noisy = logits / jnp.maximum(t, 1e-6) + gumbel
  idx = jnp.argmax(jnp.where(t > 0, noisy, logits), axis=-1)
  return decode(idx, k, use_fft)


MIN_LOG_SCALE = -7.0  # a Gaussian head's scale is at least exp(this) (about 1e-3)


def gaussian_nll(out, y):
  """Mean Gaussian negative log-likelihood (nats, without the constant 0.5 log 2 pi).

  Args:
    out: [..., 2] float: the mean and the log-scale of each value.
    y: [...] float target values.

  Returns:
    [] float32 mean NLL.
  """
  mean, log_scale = out[..., 0], jnp.maximum(out[..., 1], MIN_LOG_SCALE)
  return jnp.mean(0.5 * jnp.square((y - mean) * jnp.exp(-log_scale)) + log_scale)


def gaussian_sample(out, rng, temperature, use_fft: bool):
  """Draw each value from its Gaussian, the scale times `temperature` (0: the mean).

  Args:
    out: [..., 2] float: the mean and the log-scale of each value.
    rng: the key of the draw.
    temperature: [] float >= 0 (may be traced).
    use_fft: the values are magnitudes: draws are clipped at 0.

  Returns:
    [...] float32 values.
  """
  mean, log_scale = out[..., 0], jnp.maximum(out[..., 1], MIN_LOG_SCALE)
  x = mean + temperature * jnp.exp(log_scale) * jax.random.normal(rng, mean.shape, mean.dtype)
  return jnp.maximum(x, 0.0) if use_fft else x


def loss(out, y, dist: str, use_fft: bool):
  """The training loss of the head's output: NLL (categorical, gaussian) or mean squared error.

  Args:
    out: [..., rows, width, K] logits (categorical), [..., rows, width, 2] mean and log-scale
      (gaussian) or [..., rows, width] values (mse).
    y: [..., rows, width] float label values.
    dist: config.output_dist.
    use_fft: the values' levels (see encode).

  Returns:
    [] float32 mean loss.
  """
  if dist == 'categorical':
    return nll(out, y, use_fft)
  if dist == 'gaussian':
    return gaussian_nll(out, y)
  return jnp.mean(jnp.square(out - y))


def draw(out, rng, temperature, dist: str, use_fft: bool):
  """Values drawn from a distributional head's output (categorical or gaussian; see loss).

  Returns:
    [...] float32 values (out without its last axis).
  """
  if dist == 'categorical':
    return sample(out, rng, temperature, use_fft)
  return gaussian_sample(out, rng, temperature, use_fft)


def head_size(c) -> int:
  """The size of the last axis of a resolved config's head output: 0 for plain values (mse)."""
  return {'categorical': c.num_levels, 'gaussian': 2}.get(c.output_dist, 0)
