"""Free-running dreams that wander among the model's own recent selves (`wander_snapshots`).

A fixed model left to dream on its own falls into an attractor within a second: one held tone or
chord. While it trains it does not, because every iteration moves its parameters, and the model
of iteration t leans toward the part of the recording it has just learned. So the run keeps
`wander_snapshots` copies of its (dream) parameters from the second half of training, evenly
spaced (WORKDIR/snapshots/params_<step>.npz), and a free-running dream (sample, watch, stream)
glides from one snapshot to another, drawn at random, every `wander_hold_s` seconds, spending the
first `wander_glide` of each hold on a linear blend; dreams side by side each take a path of
their own. The dream moves from one note or chord of
the recording to another as its parameters move, without training and without re-seeding.

The snapshot to head for in hold i is a pure function of the dream's key and i
(`jax.random.fold_in`), so a dream is reproducible and pieces of a stream join seamlessly. The
blend is computed once per block of about BLOCK_S of audio (an outer scan over blocks), not at
every step: a column dream takes one step per sample.
"""
import dataclasses

import jax
import jax.numpy as jnp

from audiolstm.config import settings as config_lib
from audiolstm.core import sampling
BLOCK_S = 0.01   # the blend is recomputed this often (seconds of dream audio)


@dataclasses.dataclass(frozen=True)
class WanderSetup:
  """Static settings of a wandering dream (hashable)."""
  num_snapshots: int   # K
  hold_steps: int      # dream steps per hold
  glide: float         # fraction of a hold spent blending into the next snapshot
  block_steps: int     # dream steps between blend updates


def wander_setup(c, g: config_lib.Geometry, num_snapshots: int) -> WanderSetup:
  """The wander settings of a resolved config, its geometry and its K snapshots."""
  per_step = config_lib.samples_per_dream_step(c, g) / c.sample_rate   # seconds per dream step
  hold = max(1, int(round(c.wander_hold_s / per_step)))
  return WanderSetup(num_snapshots=int(num_snapshots), hold_steps=hold,
                     glide=float(c.wander_glide),
                     block_steps=max(1, min(hold, int(round(BLOCK_S / per_step)))))


def target(ws: WanderSetup, key, hold):
  """[] int32 the snapshot heading hold number `hold` ([] int >= -1) of a dream with key `key`
  (hold -1: where the dream starts)."""
  return jax.random.randint(jax.random.fold_in(key, hold + 1), (), 0, ws.num_snapshots)


def params_at(ws: WanderSetup, stacked, key, t):
  """The params of dream step `t` ([] int): a blend of the snapshot of its hold and the one
  before, the weight rising linearly over the first `glide` of the hold.

  Args:
    ws: the wander setup.
    stacked: the snapshots, a params pytree with leaves [K, ...].
    key: the dream's wander key.
    t: [] int dream step (from the seed on).

  Returns:
    A params pytree (leaves without the K axis).
  """
  hold = t // ws.hold_steps
  frac = (t % ws.hold_steps).astype(jnp.float32) / ws.hold_steps
  w = jnp.clip(frac / max(ws.glide, 1e-6), 0.0, 1.0)
  a, b = target(ws, key, hold - 1), target(ws, key, hold)
  return jax.tree.map(lambda s: s[a] + w * (s[b] - s[a]), stacked)


def stream_params(ws: WanderSetup, stacked, key, t, num_streams: int):
  """params_at for each of S streams, each on a path of its own (key folded with the stream's
  number): leaves [S, ...]."""
  keys = jax.vmap(lambda s: jax.random.fold_in(key, s))(jnp.arange(num_streams))
  return jax.vmap(lambda k: params_at(ws, stacked, k, t))(keys)


def _step_each(model, ds: sampling.DreamSetup, params, buffers, carry, rng, noise, temperature):
  """sampling.sample_step with params of its own for each stream (leaves [S, ...])."""
  one = dataclasses.replace(ds, num_streams=1)

  def step(p, b, c, k):
    b, c, new = sampling.sample_step(model, one, p, b[None], c[None], k, noise, temperature)
    return b[0], c[0], new[0]

  return jax.vmap(step)(params, buffers, carry, jax.random.split(rng, ds.num_streams))


def block_length(num_steps: int, block_steps: int) -> int:
  """The largest divisor of num_steps that is at most block_steps: the steps that share one
  blend in a piece of num_steps."""
  return next(d for d in range(max(1, min(block_steps, num_steps)), 0, -1) if num_steps % d == 0)


def wander_scan(model, ds: sampling.DreamSetup, ws: WanderSetup, num_steps: int, stacked,
                buffers, carry, rng, key, t0, noise=None, temperature=None):
  """`num_steps` dream steps of every stream (as sampling.dream_scan), each stream's params
  wandering among the snapshots on a path of its own (stream_params), blended anew at the start
  of every block of block_length(num_steps, ws.block_steps) steps: an outer scan over blocks, an
  inner one over their steps, so that the params are not copied at every step.

  Args:
    model, ds: as sampling.dream_scan.
    ws: the wander setup.
    num_steps: steps to take (static).
    stacked: the snapshots, leaves [K, ...].
    buffers: [S, input_span] float32 seed buffers.
    carry: [S, L, 2, nu, hidden] float32 carried LSTM state.
    rng: split into one key per step (dropout, draws, noise).
    key: the dream's wander key (the same for every piece of one dream).
    t0: [] int32 dream steps taken before this piece (since the seed).
    noise, temperature: optional traced knobs (sampling.sample_step).

  Returns:
    (buffers [S, input_span], carry [S, L, 2, nu, hidden], values [num_steps, S, new_per_step]).
  """
  t0 = jnp.asarray(t0, jnp.int32)
  inner = block_length(num_steps, ws.block_steps)
  keys = jax.random.split(rng, num_steps).reshape(num_steps // inner, inner)

  def block(state, xs):
    j, block_keys = xs
    params = stream_params(ws, stacked, key, t0 + j * inner, ds.num_streams)

    def step(state, k):
      buffers, carry, new = _step_each(model, ds, params, *state, k, noise, temperature)
      return (buffers, carry), new

    return jax.lax.scan(step, state, block_keys)

  (buffers, carry), out = jax.lax.scan(
      block, (buffers, carry), (jnp.arange(num_steps // inner, dtype=jnp.int32), keys))
  return buffers, carry, out.reshape(num_steps, *out.shape[2:])


def setup_of(c, g: config_lib.Geometry, snapshots):
  """The WanderSetup of a run's loaded snapshots (load), or None when it has none."""
  if snapshots is None:
    return None
  return wander_setup(c, g, jax.tree.leaves(snapshots)[0].shape[0])


def piece(model, ds: sampling.DreamSetup, ws, num_steps: int, params, buffers, carry, rng, key,
          t0, noise=None, temperature=None):
  """One piece of a dream: wander_scan with a wander setup (params: the stacked snapshots), else
  sampling.dream_scan with the final params (key and t0 unused). Sample, watch and stream mode
  dream through this one function."""
  if ws is None:
    return sampling.dream_scan(model, ds, num_steps, params, buffers, carry, rng, noise,
                               temperature)
  return wander_scan(model, ds, ws, num_steps, params, buffers, carry, rng, key, t0, noise,
                     temperature)


def describe(ws: WanderSetup, c) -> str:
  """A few words for the logs: how many snapshots and how often the dream moves."""
  return (f'wandering among {ws.num_snapshots} snapshots, a new one every '
          f'{c.wander_hold_s:g} s')
