"""Training: one pytree state, pure train/concurrent steps, and a fused many-iterations-per-dispatch loop.

`train_step` and `sampling.sample_step` are pure; `concurrent_step` does both (one training
iteration plus one dream step of every stream, reseeding finished dreams) and `run_chunk` runs up
to `chunk_size` of them in one jitted `lax.fori_loop` whose trip count is a traced argument, so
the program compiles once per run whatever the chunk lengths. The host only moves the losses and
the dream values out after each chunk.
"""
import dataclasses
import functools
import os
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from audiolstm import config as config_lib
from audiolstm import dataset as data_lib
from audiolstm import models
from audiolstm import outputs
from audiolstm import sampling
from audiolstm import slicing
from audiolstm.config import SEED_MODES


@flax.struct.dataclass
class State:
  """Everything a run carries from one iteration to the next."""
  step: jax.Array           # [] int32: iterations done
  params: dict
  opt_state: optax.OptState
  carry: jax.Array          # [L, 2, nu, hidden] carried training state
  dream_buffers: jax.Array  # [S, input_span] concurrent dreams' seed buffers
  dream_carry: jax.Array    # [S, L, 2, nu, hidden]
  dream_count: jax.Array    # [] int32: concurrent dreams started before the current one
  dream_pos: jax.Array      # [] int32: steps taken in the current dream
  same_offsets: jax.Array   # [S] int32: each stream's fixed seed offset for 'same'
  rng: jax.Array            # base key; each step folds in its step number


@flax.struct.dataclass
class DeviceData:
  """The 1-D sources on the device (arguments, not constants baked into the program)."""
  inputs: jax.Array
  labels: jax.Array
  seeds: jax.Array


@dataclasses.dataclass(frozen=True)
class Setup:
  """Static settings of training (hashable)."""
  dream: sampling.DreamSetup
  concurrent: bool
  dream_len: int            # steps per concurrent dream
  noisify: float
  reset_state: int
  regularization: bool
  reg_amount: float
  use_dropout: bool
  chunk_size: int


def make_setup(c, sources) -> Setup:
  g = config_lib.geometry(c)
  dream = sampling.DreamSetup(
      g=g, num_streams=c.num_dream_streams,
      seed_modes=tuple(SEED_MODES.index(m) for m in c.seed_advance),
      num_seed_offsets=sources.num_seed_offsets, iters_per_epoch=sources.iters_per_epoch,
      use_dropout=bool(c.use_dropout and c.dropout_while_dreaming))
  return Setup(dream=dream, concurrent=bool(c.concurrent),
               dream_len=config_lib.dream_steps(c, c.dream_seconds), noisify=float(c.noisify),
               reset_state=int(c.reset_state), regularization=bool(c.regularization),
               reg_amount=float(c.reg_amount), use_dropout=bool(c.use_dropout),
               chunk_size=int(c.chunk_size))


def _keys(rng, step):
  """Per-step keys: (train dropout, input noise, dream dropout, seeds)."""
  return jax.random.split(jax.random.fold_in(rng, step), 4)


def init_state(model, tx, setup: Setup, data: DeviceData, rng) -> State:
  """Fresh parameters, zero states and the first concurrent seeds."""
  ds, g = setup.dream, setup.dream.g
  init_rng, same_rng, seed_rng, rng = jax.random.split(rng, 4)
  carry = jnp.zeros((model.num_layers, 2, g.num_unrollings, model.hidden_size), jnp.float32)
  x = jnp.zeros((g.num_unrollings, g.seg_len), jnp.float32)
  params = model.init(init_rng, x, carry)['params']
  same = (jax.random.randint(same_rng, (ds.num_streams,), 0, ds.num_seed_offsets)
          * g.unit).astype(jnp.int32)
  offsets = sampling.seed_offsets(ds, sampling.mode_of(ds, 0), seed_rng, same, 0)
  zero = jnp.zeros((), jnp.int32)
  return State(step=zero, params=params, opt_state=tx.init(params), carry=carry,
               dream_buffers=sampling.seed_buffers(ds, data.seeds, offsets),
               dream_carry=jnp.zeros((ds.num_streams, *carry.shape), jnp.float32),
               dream_count=zero, dream_pos=zero, same_offsets=same, rng=rng)


def batch_at(setup: Setup, data: DeviceData, step):
  """(inputs [nu, seg], labels [rows, width]) of global step `step`, gathered on the device."""
  g = setup.dream.g
  cursor = slicing.cursors(g, step, setup.dream.iters_per_epoch)
  return (jnp.take(data.inputs, slicing.input_indices(g, cursor)),
          jnp.take(data.labels, slicing.label_indices(g, cursor)))


def loss_fn(model, setup: Setup, params, carry, x, y, dropout_rng):
  """(total loss, (mse, new carry)): mean squared error plus the optional L2 term."""
  out, new_carry = model.apply({'params': params}, x, carry,
                               dropout_rng if setup.use_dropout else None)
  mse = jnp.mean(jnp.square(out - y))
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


def dream_step(model, setup: Setup, state: State, data: DeviceData, step, cursor):
  """Dream step `step` of every stream with the current params; reseeds finished dreams.

  `cursor` is the training cursor of that step (for 'advance' seeds).
  Returns (state, new values [S, new_per_step]).
  """
  ds = setup.dream
  _, _, dream_rng, seed_rng = _keys(state.rng, step)
  buffers, dcarry, new = sampling.sample_step(model, ds, state.params, state.dream_buffers,
                                              state.dream_carry, dream_rng)
  pos = state.dream_pos + 1
  done = pos >= setup.dream_len
  count = state.dream_count + done.astype(jnp.int32)
  fresh = sampling.seed_buffers(ds, data.seeds, sampling.seed_offsets(
      ds, sampling.mode_of(ds, count), seed_rng, state.same_offsets, cursor))
  return state.replace(
      dream_buffers=jnp.where(done, fresh, buffers),
      dream_carry=jnp.where(done, jnp.zeros_like(dcarry), dcarry),
      dream_pos=jnp.where(done, 0, pos), dream_count=count), new


def concurrent_step(model, tx, setup: Setup, state: State, data: DeviceData):
  """The fused iteration: a train step, then a dream step of every stream with the new params.

  Returns (state, (loss, new dream values [S, new_per_step])).
  """
  step = state.step
  state, loss = train_step(model, tx, setup, state, data)
  if not setup.concurrent:
    return state, (loss, jnp.zeros((setup.dream.num_streams, setup.dream.g.new_per_step)))
  cursor = slicing.cursors(setup.dream.g, step, setup.dream.iters_per_epoch)
  state, new = dream_step(model, setup, state, data, step, cursor)
  return state, (loss, new)


def run_chunk(model, tx, setup: Setup, state: State, data: DeviceData, n):
  """Up to setup.chunk_size concurrent iterations in one dispatch; only the first `n` run.

  Returns (state, losses [chunk_size], dream values [chunk_size, S, new_per_step]); entries past
  `n` are zeros.
  """
  k, ds = setup.chunk_size, setup.dream

  def body(i, carry):
    state, losses, dreams = carry
    state, (loss, new) = concurrent_step(model, tx, setup, state, data)
    return state, losses.at[i].set(loss), dreams.at[i].set(new)

  losses = jnp.zeros((k,), jnp.float32)
  dreams = jnp.zeros((k, ds.num_streams, ds.g.new_per_step), jnp.float32)
  return jax.lax.fori_loop(0, n, body, (state, losses, dreams))


@dataclasses.dataclass
class Program:
  """A run's model, optimiser, static setup and jitted functions."""
  model: models.AudioLSTM
  tx: optax.GradientTransformation
  setup: Setup
  init: callable
  run_chunk: callable
  sequential_dream: callable


def build(c, sources) -> Program:
  """The jitted functions of a resolved config and its sources."""
  model = models.from_config(c)
  tx = optax.adam(c.lr)
  setup = make_setup(c, sources)
  seq_steps = config_lib.dream_steps(c, c.seq_dream_seconds)
  return Program(
      model=model, tx=tx, setup=setup,
      init=jax.jit(functools.partial(init_state, model, tx, setup)),
      run_chunk=jax.jit(functools.partial(run_chunk, model, tx, setup), donate_argnums=0),
      sequential_dream=jax.jit(functools.partial(
          sampling.sequential_dream, model, setup.dream, seq_steps)))


def device_data(sources) -> DeviceData:
  return DeviceData(inputs=jnp.asarray(sources.inputs), labels=jnp.asarray(sources.labels),
                    seeds=jnp.asarray(sources.seeds))


def total_steps(c, sources) -> int:
  """Iterations of the run: num_epochs passes, capped by max_steps."""
  total = c.num_epochs * sources.iters_per_epoch
  return min(total, c.max_steps) if c.max_steps else total


def next_chunk(step: int, total: int, chunk_size: int, audio_freq: int) -> int:
  """Iterations of the next chunk: never past the end or a sequential-dream boundary."""
  n = min(chunk_size, total - step)
  if audio_freq:
    n = min(n, audio_freq - step % audio_freq)
  return n


class TrainingDiverged(RuntimeError):
  """The loss became NaN or infinite; the message says where and what to try."""


def _window_records(losses: np.ndarray, first_step: int, log_every: int, elapsed: float):
  """metrics.jsonl records: one per `log_every` iterations ending in this chunk (mean loss)."""
  records = []
  for end in range(log_every - first_step % log_every, len(losses) + 1, log_every):
    window = losses[max(0, end - log_every):end]
    records.append({'step': first_step + end, 'loss': float(np.mean(window)),
                    'time': round(elapsed, 3)})
  return records


def train_and_evaluate(config, workdir=None, log=print) -> dict:
  """Train on the config's audio, dreaming as configured; write everything to `workdir`.

  Returns a summary dict (workdir, steps, final_loss, iters_per_s, dreams: list of WAV paths).
  Raises ConfigError / audio_io.AudioError for unusable settings or input (nothing written in
  that case) and TrainingDiverged for a non-finite loss (everything so far kept).
  """
  c = config_lib.resolve(config)
  config_lib.validate(c)
  sources = data_lib.load_sources(c)
  run = outputs.RunDir(workdir or outputs.default_workdir(c.approach))
  total = total_steps(c, sources)
  program = build(c, sources)
  setup = program.setup
  run.write_config(c, iters_per_epoch=sources.iters_per_epoch, total_steps=total,
                   spectral_scale=sources.scale, dream_steps=setup.dream_len)
  log(f'audiolstm: {c.approach} approach on {sources.input_seconds:.1f} s of audio; '
      f'{sources.iters_per_epoch} iterations per epoch, running {total}; '
      f'{c.num_dream_streams} dream stream(s) of {c.dream_seconds:g} s')
  log(f'work directory: {run.path}')

  data = device_data(sources)
  state = program.init(data, jax.random.key(c.seed))
  dreams = outputs.ConcurrentDreams(setup.dream_len, c.num_dream_streams,
                                    setup.dream.g.new_per_step)
  progress = outputs.Progress(total, log)
  written, steps_logged, losses_logged = [], [], []
  seq_count, step, t0 = 0, 0, time.perf_counter()

  def write(kind, mode, at_step, values, count):
    for s, stream_values in enumerate(values):
      rng = np.random.default_rng([c.seed, kind == 'sequential', count, s])
      audio = outputs.to_audio(c, stream_values, sources.scale, rng)
      name = outputs.dream_name(c.approach, kind, mode, at_step, s)
      written.append(run.write_dream(name, audio, c.sample_rate))

  def plot():
    if steps_logged:
      run.plot_loss(steps_logged, losses_logged, f'{c.approach}: {os.path.basename(run.path)}')

  last_plot = time.perf_counter()
  while step < total:
    n = next_chunk(step, total, c.chunk_size, c.audio_freq)
    state, losses, dream_values = program.run_chunk(state, data, n)
    losses = np.asarray(losses[:n])
    bad = np.flatnonzero(~np.isfinite(losses))
    good = losses[:bad[0]] if len(bad) else losses
    records = _window_records(good, step, c.log_every, time.perf_counter() - t0)
    run.append_metrics(records)
    steps_logged += [r['step'] for r in records]
    losses_logged += [r['loss'] for r in records]
    if len(bad):
      plot()
      raise TrainingDiverged(
          f'the loss became {losses[bad[0]]} at iteration {step + bad[0] + 1}: training stopped '
          f'(everything written so far is in {run.path}); try a smaller config.lr (now {c.lr:g}) '
          'or output_activation="tanh"')
    if setup.concurrent:
      for count, at, values in dreams.add(np.asarray(dream_values[:n]), step + n):
        write('concurrent', c.seed_advance[count % len(c.seed_advance)], at, values, count)
    step += n
    if c.audio_freq and step % c.audio_freq == 0:
      cursor = int(slicing.cursors(setup.dream.g, step, sources.iters_per_epoch))
      seq = program.sequential_dream(
          state.params, data.seeds, jax.random.fold_in(jax.random.key(c.seed + 1), seq_count),
          seq_count, state.same_offsets, cursor, models.zero_carry(c, (c.num_dream_streams,)))
      write('sequential', c.seed_advance[seq_count % len(c.seed_advance)], step,
            sampling.to_stream_values(np.asarray(seq)), seq_count)
      seq_count += 1
    progress.update(step, float(np.mean(losses)), len(written), force=step >= total)
    if time.perf_counter() - last_plot > 30:
      plot()
      last_plot = time.perf_counter()
  plot()
  elapsed = time.perf_counter() - t0
  summary = {'workdir': run.path, 'steps': step, 'final_loss': losses_logged[-1] if losses_logged
             else None, 'iters_per_s': step / elapsed if elapsed > 0 else 0.0, 'dreams': written,
             'seconds': elapsed}
  log(f'done: {step} iterations in {elapsed:.1f} s ({summary["iters_per_s"]:.1f} it/s), '
      f'{len(written)} dream(s) in {run.dreams_dir}')
  return summary
