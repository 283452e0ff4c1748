"""The device program of training: one pytree state, pure train, dream and concurrent
steps, and `run_chunk`, many iterations per dispatch in one jitted loop.

`train_step` and `sampling.sample_step` are pure; `concurrent_step` does both (one training
iteration plus one dream step of every stream, reseeding finished dreams) and `run_chunk` runs up
to `chunk_size` of them in one jitted `lax.fori_loop` whose trip count is a traced argument, so
the program compiles once per run whatever the chunk lengths. The host loop around it is
audiolstm.run.train.
"""
import dataclasses
import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from audiolstm.config import settings as config_lib
from audiolstm.core import distribution
from audiolstm.core import models
from audiolstm.core import sampling
from audiolstm.core import sharding as sharding_lib
from audiolstm.core import slicing


@flax.struct.dataclass
class State:
  """Everything a run carries from one iteration to the next."""
  step: jax.Array           # [] int32: iterations done
  params: dict
  opt_state: optax.OptState
  carry: jax.Array          # [T, L, 2, nu, hidden] carried state of the T training streams
  dream_buffers: jax.Array  # [S, input_span] concurrent dreams' seed buffers
  dream_carry: jax.Array    # [S, L, 2, nu, hidden]
  dream_count: jax.Array    # [] int32: concurrent dreams started before the current one
  dream_pos: jax.Array      # [] int32: steps taken in the current dream
  dream_offsets: jax.Array  # [S] int32: seed offsets of the current dreams
  same_offsets: jax.Array   # [S] int32: each stream's fixed seed offset for 'same'
  rng: jax.Array            # base key; each step folds in its step number
  dream_params: Any = None  # with config.dream_ema > 0: the moving average the dreams use


@flax.struct.dataclass
class DeviceData:
  """The 1-D sources on the device (arguments, not constants baked into the program)."""
  inputs: jax.Array
  labels: jax.Array
  seeds: jax.Array
  val_inputs: jax.Array     # [0] when validation is off
  val_labels: jax.Array


@dataclasses.dataclass(frozen=True)
class Setup:
  """Static settings of training (hashable)."""
  g: config_lib.Geometry    # the geometry, resolved once (config.prepare)
  iters_per_epoch: int      # per training stream
  dream: sampling.DreamSetup
  concurrent: bool
  dream_len: int            # steps per concurrent dream
  noisify: float
  reset_state: int
  regularization: bool
  reg_amount: float
  use_dropout: bool
  chunk_size: int
  stream_starts: tuple = (0,)  # each training stream's segment start in the source
  val_iters: int = 0        # iterations per epoch of the validation split (0 = off)
  val_steps: int = 0        # iterations per validation loss
  dream_ema: float = 0.0    # decay of the dream params' moving average (0: dream with params)
  dist: str = 'mse'         # config.output_dist: the loss (distribution.loss)


def make_setup(c, sources) -> Setup:
  """The static settings of a resolved config and its sources (which carry the geometry)."""
  return Setup(g=sources.g, iters_per_epoch=sources.iters_per_epoch,
               dream=sampling.dream_setup(c, sources, c.num_dream_streams),
               concurrent=bool(c.concurrent),
               dream_len=config_lib.dream_steps(c, sources.g, c.dream_seconds),
               noisify=float(c.noisify), reset_state=int(c.reset_state),
               regularization=bool(c.regularization), reg_amount=float(c.reg_amount),
               use_dropout=bool(c.use_dropout), chunk_size=int(c.chunk_size),
               stream_starts=tuple(sources.stream_starts), val_iters=sources.val_iters,
               val_steps=min(c.eval_steps, sources.val_iters), dream_ema=float(c.dream_ema),
               dist=c.output_dist)


def _keys(rng, step):
  """Per-step keys: (train dropout, input noise, dream dropout, seeds)."""
  return jax.random.split(jax.random.fold_in(rng, step), 4)


def init_state(model, tx, setup: Setup, data: DeviceData, rng) -> State:
  """Fresh parameters, zero states and the first concurrent seeds."""
  ds, g = setup.dream, setup.g
  init_rng, same_rng, seed_rng, rng = jax.random.split(rng, 4)
  carry = jnp.zeros((len(setup.stream_starts), model.num_layers, 2, g.num_unrollings,
                     model.hidden_size), jnp.float32)
  x = jnp.zeros((g.num_unrollings, g.seg_len), jnp.float32)
  params = model.init(init_rng, x, carry[0])['params']
  same = (jax.random.randint(same_rng, (ds.num_streams,), 0, ds.num_seed_offsets)
          * g.unit).astype(jnp.int32)
  offsets = sampling.seed_offsets(ds, sampling.mode_of(ds, 0), seed_rng, same, 0)
  zero = jnp.zeros((), jnp.int32)
  return State(step=zero, params=params, opt_state=tx.init(params), carry=carry,
               dream_buffers=sampling.seed_buffers(ds, data.seeds, offsets),
               dream_carry=jnp.zeros((ds.num_streams, *carry.shape[1:]), jnp.float32),
               dream_count=zero, dream_pos=zero, dream_offsets=offsets, same_offsets=same,
               rng=rng, dream_params=params if setup.dream_ema > 0 else None)


def stream_cursors(setup: Setup, step):
  """[T] cursors of the training streams at global step `step` (each in its own segment)."""
  return (jnp.asarray(setup.stream_starts, jnp.int32)
          + slicing.cursors(setup.g, step, setup.iters_per_epoch))


def batch_at(setup: Setup, data: DeviceData, step):
  """(inputs [T, nu, seg], labels [T, rows, width]) of global step `step`, gathered on the
  device."""
  g = setup.g
  cursors = stream_cursors(setup, step)
  return (jnp.take(data.inputs, slicing.input_indices(g, cursors)),
          jnp.take(data.labels, slicing.label_indices(g, cursors)))


def loss_fn(model, setup: Setup, params, carry, x, y, dropout_rng):
  """(total loss, (data loss, new carry)): mean squared error, or a distributional head's NLL (over
  every training stream, so the gradient is the streams' average) plus the optional L2 term."""
  out, new_carry = model.apply({'params': params}, x, carry,
                               dropout_rng if setup.use_dropout else None)
  mse = distribution.loss(out, y, setup.dist, setup.dream.use_fft)
  loss = mse
  if setup.regularization:
    loss = loss + setup.reg_amount * sum(0.5 * jnp.sum(jnp.square(k))
                                         for k in models.lstm_kernels(params))
  return loss, (mse, new_carry)


def train_step(model, tx, setup: Setup, state: State, data: DeviceData):
  """One training iteration: (state with new params/opt_state/carry/step, loss)."""
  drop_rng, noise_rng, _, _ = _keys(state.rng, state.step)
  x, y = batch_at(setup, data, state.step)
  if setup.noisify > 0:
    x = x + setup.noisify * jax.random.normal(noise_rng, x.shape)
  carry = state.carry
  if setup.reset_state > 0:
    carry = jnp.where(state.step % setup.reset_state == 0, jnp.zeros_like(carry), carry)
  grad_fn = jax.value_and_grad(functools.partial(loss_fn, model, setup), has_aux=True)
  (loss, (_, new_carry)), grads = grad_fn(state.params, carry, x, y, drop_rng)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # Gradients never flow into the carried state (truncated after one step, as in the original).
  return state.replace(params=params, opt_state=opt_state, carry=jax.lax.stop_gradient(new_carry),
                       step=state.step + 1), loss


def dream_params(state: State) -> dict:
  """The params every dream uses: their moving average (config.dream_ema > 0), else the params."""
  return state.params if state.dream_params is None else state.dream_params


def average_params(setup: Setup, state: State) -> State:
  """The state with the dreams' moving average moved toward the current params (when on).

  dream_params <- dream_ema * dream_params + (1 - dream_ema) * params: a dream is made by a model
  that changes smoothly from step to step instead of jumping with every Adam update, whose
  small changes become broadband noise in a dream made one sample at a time.
  """
  if state.dream_params is None:
    return state
  return state.replace(dream_params=optax.incremental_update(
      state.params, state.dream_params, 1.0 - setup.dream_ema))


def dream_step(model, setup: Setup, state: State, data: DeviceData, step, cursor):
  """Dream step `step` of every stream with dream_params(state); reseeds finished dreams.

  `cursor` is the training cursor of that step (for 'advance' seeds).
  Returns (state, new values [S, new_per_step]).
  """
  ds = setup.dream
  _, _, dream_rng, seed_rng = _keys(state.rng, step)
  buffers, dcarry, new = sampling.sample_step(model, ds, dream_params(state), state.dream_buffers,
                                              state.dream_carry, dream_rng)
  pos = state.dream_pos + 1
  done = pos >= setup.dream_len
  count = state.dream_count + done.astype(jnp.int32)
  offsets = sampling.seed_offsets(ds, sampling.mode_of(ds, count), seed_rng, state.same_offsets,
                                  cursor)
  fresh = sampling.seed_buffers(ds, data.seeds, offsets)
  return state.replace(
      dream_buffers=jnp.where(done, fresh, buffers),
      dream_carry=jnp.where(done, jnp.zeros_like(dcarry), dcarry),
      dream_pos=jnp.where(done, 0, pos), dream_count=count,
      dream_offsets=jnp.where(done, offsets, state.dream_offsets)), new


def concurrent_step(model, tx, setup: Setup, state: State, data: DeviceData):
  """The fused iteration: a train step, then a dream step of every stream with the new params.

  Returns (state, (loss, new dream values [S, new_per_step], their dreams' seed offsets [S])).
  """
  step, offsets = state.step, state.dream_offsets
  state, loss = train_step(model, tx, setup, state, data)
  state = average_params(setup, state)
  if not setup.concurrent:
    return state, (loss, jnp.zeros((setup.dream.num_streams, setup.g.new_per_step)),
                   offsets)
  state, new = dream_step(model, setup, state, data, step, stream_cursors(setup, step)[0])
  return state, (loss, new, offsets)


def evaluate(model, setup: Setup, params, data: DeviceData):
  """Validation loss: mean squared error (or NLL) over setup.val_steps consecutive iterations of
  the validation split, from a zero state carried step to step, without dropout or updates."""
  g = setup.g

  def body(carry, step):
    cursor = slicing.cursors(g, step, setup.val_iters)
    x = jnp.take(data.val_inputs, slicing.input_indices(g, cursor))
    y = jnp.take(data.val_labels, slicing.label_indices(g, cursor))
    out, carry = model.apply({'params': params}, x, carry)
    return carry, distribution.loss(out, y, setup.dist, setup.dream.use_fft)

  carry = jnp.zeros((model.num_layers, 2, g.num_unrollings, model.hidden_size), jnp.float32)
  return jnp.mean(jax.lax.scan(body, carry, jnp.arange(setup.val_steps))[1])


def run_chunk(model, tx, setup: Setup, state: State, data: DeviceData, n):
  """Up to setup.chunk_size concurrent iterations in one dispatch; only the first `n` run.

  Returns (state, losses [chunk_size], dream values [chunk_size, S, new_per_step], their seed
  offsets [chunk_size, S]); entries past `n` are zeros.
  """
  k, ds = setup.chunk_size, setup.dream

  def body(i, carry):
    state, losses, dreams, offsets = carry
    state, (loss, new, offset) = concurrent_step(model, tx, setup, state, data)
    return state, losses.at[i].set(loss), dreams.at[i].set(new), offsets.at[i].set(offset)

  losses = jnp.zeros((k,), jnp.float32)
  dreams = jnp.zeros((k, ds.num_streams, ds.g.new_per_step), jnp.float32)
  offsets = jnp.zeros((k, ds.num_streams), jnp.int32)
  return jax.lax.fori_loop(0, n, body, (state, losses, dreams, offsets))


def learn_chunk(model, tx, setup: Setup, state: State, data: DeviceData, n, every):
  """Live learning that keeps up with real time: `n` dream steps of every stream, with a train
  step before every `every`-th one (every = 1 is run_chunk's fused iteration). The dream steps
  between train steps draw with keys of their own (step * every + j).

  Returns (state, losses [chunk_size] (nan where no train step ran), dream values
  [chunk_size, S, new_per_step]); entries past `n` are zeros.
  """
  k, ds = setup.chunk_size, setup.dream

  def train(state):
    state, loss = train_step(model, tx, setup, state, data)
    return average_params(setup, state), loss

  def body(i, carry):
    state, losses, dreams, j = carry
    state, loss = jax.lax.cond(j == 0, train, lambda s: (s, jnp.float32(jnp.nan)), state)
    key_step = (state.step - 1) * every + j
    state, new = dream_step(model, setup, state, data, key_step,
                            stream_cursors(setup, state.step - 1)[0])
    return state, losses.at[i].set(loss), dreams.at[i].set(new), (j + 1) % every

  losses = jnp.zeros((k,), jnp.float32)
  dreams = jnp.zeros((k, ds.num_streams, ds.g.new_per_step), jnp.float32)
  state, losses, dreams, _ = jax.lax.fori_loop(0, n, body, (state, losses, dreams, jnp.int32(0)))
  return state, losses, dreams


@dataclasses.dataclass
class Program:
  """A run's model, optimiser, static setup, device mesh and jitted functions."""
  model: models.AudioLSTM
  tx: optax.GradientTransformation
  setup: Setup
  mesh: jax.sharding.Mesh
  state_shardings: State
  init: callable
  run_chunk: callable
  sequential_dream: callable
  evaluate: callable
  learn_chunk: callable = None


def build(c, sources, mesh=None) -> Program:
  """The jitted functions of a resolved config and its sources, placed on `mesh` (default: all
  devices). The state's shapes come from jax.eval_shape; init and run_chunk produce it already
  sharded (training and dream streams split over the devices, the rest replicated)."""
  model = models.from_config(c)
  tx = optax.adam(learning_rate(c, total_steps(c, sources)))
  setup = make_setup(c, sources)
  seq_steps = config_lib.dream_steps(c, sources.g, c.seq_dream_seconds)
  mesh = mesh or sharding_lib.make_mesh()
  init_fn = functools.partial(init_state, model, tx, setup)
  data_shapes = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                             device_data(sources, mesh))
  shapes = jax.eval_shape(init_fn, data_shapes, jax.random.key(0))
  shardings = sharding_lib.state_shardings(mesh, shapes, len(setup.stream_starts),
                                           setup.dream.num_streams)
  return Program(
      model=model, tx=tx, setup=setup, mesh=mesh, state_shardings=shardings,
      init=jax.jit(init_fn, out_shardings=shardings),
      run_chunk=jax.jit(functools.partial(run_chunk, model, tx, setup), donate_argnums=0,
                        out_shardings=(shardings, None, None, None)),
      sequential_dream=jax.jit(functools.partial(
          sampling.sequential_dream, model, setup.dream, seq_steps)),
      evaluate=jax.jit(functools.partial(evaluate, model, setup)),
      learn_chunk=jax.jit(functools.partial(learn_chunk, model, tx, setup), donate_argnums=0,
                          out_shardings=(shardings, None, None)))


def learning_rate(c, total: int):
  """Adam's learning rate: config.lr, or with lr_final < 1 a cosine decay from lr to
  lr * lr_final over the run's `total` iterations (then held). Later dreams come from a model that
  changes less from step to step."""
  if c.lr_final >= 1:
    return c.lr
  return optax.cosine_decay_schedule(c.lr, max(1, total), alpha=c.lr_final)


def device_data(sources, mesh=None) -> DeviceData:
  """The sources on the device(s), replicated over `mesh` (default: all devices)."""
  empty = np.zeros((0,), np.float32)
  host = DeviceData(inputs=sources.inputs, labels=sources.labels, seeds=sources.seeds,
                    val_inputs=empty if sources.val_inputs is None else sources.val_inputs,
                    val_labels=empty if sources.val_labels is None else sources.val_labels)
  return jax.device_put(host, sharding_lib.replicated(mesh or sharding_lib.make_mesh()))


def total_steps(c, sources) -> int:
  """Iterations of the run: num_epochs passes, capped by max_steps."""
  total = c.num_epochs * sources.iters_per_epoch
  return min(total, c.max_steps) if c.max_steps else total


class TrainingDiverged(RuntimeError):
  """The loss became NaN or infinite; the message says where and what to try."""
