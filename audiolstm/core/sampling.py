"""Dreaming: seed buffers, the pure sample step, seed modes, and sequential dreams as one scan.

A seed buffer is a 1-D stretch of the seed source [input_span] (flattened frames for fft); the
model's input matrix is built from it with the same strided index function used in training. Each
step appends the part of the last predicted row beyond the buffer and drops as much from the front.
With `dream_noise` > 0 Gaussian noise of that std is added to the predicted row first, so that a
model without dropout dreams something else from the same seed with another key (what enters
the buffer is what is heard).
"""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from audiolstm.config.settings import Geometry, SEED_MODES
from audiolstm.core import distribution
from audiolstm.core import slicing


@dataclasses.dataclass(frozen=True)
class DreamSetup:
  """Static settings of dreaming (hashable: bound into jitted functions)."""
  g: Geometry
  num_streams: int
  seed_modes: tuple          # indices into config.SEED_MODES, cycled dream after dream
  num_seed_offsets: int      # valid seed starts (in units of g.unit)
  iters_per_epoch: int
  use_dropout: bool          # dropout while dreaming
  dream_noise: float = 0.0   # std of Gaussian noise added to each predicted value (0 = off)
  use_fft: bool = False      # values are magnitudes: noisy ones are clipped at 0
  dist: str = 'mse'          # config.output_dist: other than 'mse', each value is drawn
  temperature: float = 1.0   # of the draw (a live knob passes its own, traced)


def dream_setup(c, sources, num_streams: int, dream_noise=None, temperature=None) -> DreamSetup:
  """The dream settings of a resolved config and its sources (dataset.Sources, which carry the
  geometry), for `num_streams` streams; `dream_noise` and `temperature` None mean the config's.

  Args:
    c: a resolved config (seed_advance, use_dropout, dropout_while_dreaming, dream_noise, use_fft).
    sources: the run's dataset.Sources (its geometry g, num_seed_offsets and iters_per_epoch).
    num_streams: S, the number of dream streams.
    dream_noise: std of the noise added to each predicted value; None for config.dream_noise.
    temperature: a distributional head's sampling temperature; None for config.temperature.

  Returns:
    The DreamSetup (hashable, to bind into jitted functions).
  """
  return DreamSetup(
      g=sources.g, num_streams=int(num_streams),
      seed_modes=tuple(SEED_MODES.index(m) for m in c.seed_advance),
      num_seed_offsets=sources.num_seed_offsets, iters_per_epoch=sources.iters_per_epoch,
      use_dropout=bool(c.use_dropout and c.dropout_while_dreaming),
      dream_noise=float(c.dream_noise if dream_noise is None else dream_noise),
      use_fft=bool(c.use_fft), dist=c.output_dist,
      temperature=float(c.temperature if temperature is None else temperature))


def seed_offsets(ds: DreamSetup, mode, rng, same_offsets, cursor):
  """[S] source offsets of fresh seeds for seed mode index `mode` (into ds.seed_modes' values).

  'same': each stream's fixed offset; 'random': uniform over the seed source; 'advance': stream 0
  at the training cursor (wrapped into the seed source), the other streams spread evenly from
  there, so that streams without dropout do not dream the same thing.

  Args:
    ds: the dream setup.
    mode: [] int32 index into config.SEED_MODES (e.g. mode_of(ds, count)).
    rng: the key of the 'random' offsets.
    same_offsets: [S] int32 each stream's fixed offset for 'same'.
    cursor: [] int training cursor in source units (for 'advance').

  Returns:
    [S] int32 seed offsets in source units, multiples of ds.g.unit.
  """
  random = jax.random.randint(rng, (ds.num_streams,), 0, ds.num_seed_offsets) * ds.g.unit
  spread = jnp.arange(ds.num_streams) * (ds.num_seed_offsets // ds.num_streams)
  advance = (cursor // ds.g.unit + spread) % ds.num_seed_offsets * ds.g.unit
  return jnp.select([mode == SEED_MODES.index('same'), mode == SEED_MODES.index('random')],
                    [same_offsets, random], advance).astype(jnp.int32)


def seed_buffers(ds: DreamSetup, seeds, offsets):
  """Gather seed buffers from the seed source.

  Args:
    ds: the dream setup.
    seeds: [N] float32 seed source (flattened frames for fft).
    offsets: [S] int32 seed offsets in source units (seed_offsets).

  Returns:
    [S, input_span] float32 seed buffers.
  """
  return jnp.take(seeds, slicing.seed_indices(ds.g, offsets))


def mode_of(ds: DreamSetup, count):
  """Seed mode index of dream number `count` (cycled through config.seed_advance).

  Args:
    ds: the dream setup.
    count: [] int dreams started before this one.

  Returns:
    [] int32 index into config.SEED_MODES.
  """
  return jnp.asarray(ds.seed_modes, jnp.int32)[count % len(ds.seed_modes)]


def add_dream_noise(ds: DreamSetup, last, rng, std=None):
  """The predicted rows with Gaussian noise of std `std` (None: ds.dream_noise) added.

  For fft the values are normalised magnitudes, so the noisy ones are clipped at 0: the vocoder
  clips negative magnitudes anyway, and clipping here keeps the buffer (the model's next input)
  equal to what is heard. Note that this lifts near-zero bins by about 0.4 * dream_noise on
  average.

  Args:
    ds: the dream setup (dream_noise > 0).
    last: [S, label_width] predicted rows.
    rng: the key of the noise.
    std: [] the noise's std (a traced value for a live knob), or None for ds.dream_noise.

  Returns:
    [S, label_width] noisy rows.
  """
  std = ds.dream_noise if std is None else std
  noisy = last + std * jax.random.normal(rng, last.shape, last.dtype)
  if not ds.use_fft:
    return noisy
  return jnp.where(std > 0, jnp.maximum(noisy, 0.0), noisy)  # a live knob at 0 changes nothing


def predicted_row(ds: DreamSetup, out, rng, temperature=None):
  """The last predicted row of every stream: the values (mse head) or a draw from the logits.

  Args:
    ds: the dream setup.
    out: [S, rows, width] values or [S, rows, width, K] a distribution's (ds.dist).
    rng: the key of the draw (unused for an mse head).
    temperature: optional [] float32 traced temperature (None: ds.temperature).

  Returns:
    [S, width] float32 values.
  """
  if ds.dist == 'mse':
    return out[:, -1, :]
  t = ds.temperature if temperature is None else temperature
  return distribution.draw(out[:, -1], rng, t, ds.dist, ds.use_fft)


def sample_step(model, ds: DreamSetup, params, buffers, carry, rng, noise=None, temperature=None):
  """One dream step of every stream.

  With ds.dream_noise > 0 the noise (see add_dream_noise) uses a key split off `rng` and the new
  values are the noisy ones; with 0 the step is exactly the noise-free computation (the check is
  at trace time, so the compiled program is unchanged). A `noise` given (stream mode's live knob)
  replaces ds.dream_noise and is always added, so that changing it needs no recompilation. A
  distributional head draws the new values at ds.temperature, or at `temperature` if given (traced).

  Args:
    model: the AudioLSTM.
    ds: the dream setup.
    params: the model's parameters.
    buffers: [S, input_span] float32 seed buffers.
    carry: [S, L, 2, nu, hidden] float32 carried LSTM state.
    rng: the key of dropout (if ds.use_dropout), of the draw and of the dream noise.
    noise: optional [] float32 std of the dream noise, a traced value (None: ds.dream_noise).
    temperature: optional [] float32 temperature, a traced value (None: ds.temperature).

  Returns:
    (buffers [S, input_span] advanced by one step, carry [S, L, 2, nu, hidden],
    new values [S, new_per_step]).
  """
  noisy = noise is not None or ds.dream_noise
  if noisy:
    rng, noise_rng = jax.random.split(rng)
  draw_rng = None
  if ds.dist != 'mse':
    rng, draw_rng = jax.random.split(rng)
  x = jnp.take(buffers, slicing.buffer_matrix_indices(ds.g), axis=1)  # [S, nu, seg]
  out, carry = model.apply({'params': params}, x, carry, rng if ds.use_dropout else None)
  last = predicted_row(ds, out, draw_rng, temperature)  # [S, width]
  if noisy:
    last = add_dream_noise(ds, last, noise_rng, noise)
  new = last[:, ds.g.label_width - ds.g.new_per_step:]
  return slicing.advance_buffer(ds.g, buffers, last), carry, new


def dream_scan(model, ds: DreamSetup, num_steps: int, params, buffers, carry, rng, noise=None,
               temperature=None):
  """`num_steps` dream steps of every stream, carrying buffers and state (one lax.scan).

  Args:
    model: the AudioLSTM.
    ds: the dream setup.
    num_steps: steps to take (static).
    params: the model's parameters.
    buffers: [S, input_span] float32 seed buffers.
    carry: [S, L, 2, nu, hidden] float32 carried LSTM state.
    rng: split into one key per step.
    noise: optional [] float32 std of the dream noise, traced (sample_step; None: ds.dream_noise).
    temperature: optional [] float32 temperature, traced (sample_step; None: ds.temperature).

  Returns:
    (buffers [S, input_span], carry [S, L, 2, nu, hidden], values [num_steps, S, new_per_step])
    after the last step.
  """
  def body(state, key):
    buffers, carry = state
    buffers, carry, new = sample_step(model, ds, params, buffers, carry, key, noise, temperature)
    return (buffers, carry), new

  (buffers, carry), out = jax.lax.scan(body, (buffers, carry), jax.random.split(rng, num_steps))
  return buffers, carry, out


def sequential_dream(model, ds: DreamSetup, num_steps: int, params, seeds, rng, count,
                     same_offsets, cursor, carry0):
  """A dream from a fresh seed and the given start state, carried step to step (one scan).

  Args:
    model: the AudioLSTM.
    ds: the dream setup.
    num_steps: steps of the dream (static).
    params: the model's parameters.
    seeds: [N] float32 seed source.
    rng: the key of the seed offsets and of the steps.
    count: [] int dream number, which picks the seed mode (mode_of).
    same_offsets: [S] int32 each stream's fixed offset for 'same'.
    cursor: [] int training cursor in source units (for 'advance').
    carry0: [S, L, 2, nu, hidden] float32 start state (zeros for a fresh dream).

  Returns:
    (values [num_steps, S, new_per_step], seed offsets [S] int32).
  """
  seed_rng, rng = jax.random.split(rng)
  offsets = seed_offsets(ds, mode_of(ds, count), seed_rng, same_offsets, cursor)
  buffers = seed_buffers(ds, seeds, offsets)
  return dream_scan(model, ds, num_steps, params, buffers, carry0, rng)[2], offsets


def to_stream_values(dreams: np.ndarray) -> np.ndarray:
  """[steps, S, new] -> [S, steps * new]: each stream's values in order."""
  steps, streams, new = dreams.shape
  return np.transpose(dreams, (1, 0, 2)).reshape(streams, steps * new)
