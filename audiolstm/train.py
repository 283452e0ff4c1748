"""Training: one pytree state, pure train/concurrent steps, and a fused many-iterations-per-dispatch loop.

`train_step` and `sampling.sample_step` are pure; `concurrent_step` does both (one training
iteration plus one dream step of every stream, reseeding finished dreams) and `run_chunk` runs up
to `chunk_size` of them in one jitted `lax.fori_loop` whose trip count is a traced argument, so
the program compiles once per run whatever the chunk lengths. The host only moves the losses and
the dream values out after each chunk.
"""
import dataclasses
import functools
import json
import os
import signal
import threading
import time

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from audiolstm import checkpoint
from audiolstm import config as config_lib
from audiolstm import dataset as data_lib
from audiolstm import models
from audiolstm import outputs
from audiolstm import plots
from audiolstm import sampling
from audiolstm import sharding as sharding_lib
from audiolstm import slicing
from audiolstm import tb
from audiolstm.config import SEED_MODES


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


def make_setup(c, sources) -> Setup:
  g = config_lib.geometry(c)
  dream = sampling.DreamSetup(
      g=g, num_streams=c.num_dream_streams,
      seed_modes=tuple(SEED_MODES.index(m) for m in c.seed_advance),
      num_seed_offsets=sources.num_seed_offsets, iters_per_epoch=sources.iters_per_epoch,
      use_dropout=bool(c.use_dropout and c.dropout_while_dreaming),
      dream_noise=float(c.dream_noise), use_fft=bool(c.use_fft))
  return Setup(dream=dream, concurrent=bool(c.concurrent),
               dream_len=config_lib.dream_steps(c, c.dream_seconds), noisify=float(c.noisify),
               reset_state=int(c.reset_state), regularization=bool(c.regularization),
               reg_amount=float(c.reg_amount), use_dropout=bool(c.use_dropout),
               chunk_size=int(c.chunk_size), stream_starts=tuple(sources.stream_starts),
               val_iters=sources.val_iters,
               val_steps=min(c.eval_steps, sources.val_iters))


def _keys(rng, step):
  """Per-step keys: (train dropout, input noise, dream dropout, seeds)."""
  return jax.random.split(jax.random.fold_in(rng, step), 4)


def init_state(model, tx, setup: Setup, data: DeviceData, rng) -> State:
  """Fresh parameters, zero states and the first concurrent seeds."""
  ds, g = setup.dream, setup.dream.g
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
               rng=rng)


def stream_cursors(setup: Setup, step):
  """[T] cursors of the training streams at global step `step` (each in its own segment)."""
  return (jnp.asarray(setup.stream_starts, jnp.int32)
          + slicing.cursors(setup.dream.g, step, setup.dream.iters_per_epoch))


def batch_at(setup: Setup, data: DeviceData, step):
  """(inputs [T, nu, seg], labels [T, rows, width]) of global step `step`, gathered on the
  device."""
  g = setup.dream.g
  cursors = stream_cursors(setup, step)
  return (jnp.take(data.inputs, slicing.input_indices(g, cursors)),
          jnp.take(data.labels, slicing.label_indices(g, cursors)))


def loss_fn(model, setup: Setup, params, carry, x, y, dropout_rng):
  """(total loss, (mse, new carry)): mean squared error (over every training stream, so the
  gradient is the streams' average) plus the optional L2 term."""
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
  if not setup.concurrent:
    return state, (loss, jnp.zeros((setup.dream.num_streams, setup.dream.g.new_per_step)),
                   offsets)
  state, new = dream_step(model, setup, state, data, step, stream_cursors(setup, step)[0])
  return state, (loss, new, offsets)


def evaluate(model, setup: Setup, params, data: DeviceData):
  """Validation loss: mean squared error over setup.val_steps consecutive iterations of the
  validation split, from a zero state carried step to step, without dropout or updates."""
  g = setup.dream.g

  def body(carry, step):
    cursor = slicing.cursors(g, step, setup.val_iters)
    x = jnp.take(data.val_inputs, slicing.input_indices(g, cursor))
    y = jnp.take(data.val_labels, slicing.label_indices(g, cursor))
    out, carry = model.apply({'params': params}, x, carry)
    return carry, jnp.mean(jnp.square(out - y))

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


def build(c, sources, mesh=None) -> Program:
  """The jitted functions of a resolved config and its sources, placed on `mesh` (default: all
  devices). The state's shapes come from jax.eval_shape; init and run_chunk produce it already
  sharded (training and dream streams split over the devices, the rest replicated)."""
  model = models.from_config(c)
  tx = optax.adam(learning_rate(c, total_steps(c, sources)))
  setup = make_setup(c, sources)
  seq_steps = config_lib.dream_steps(c, c.seq_dream_seconds)
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
      evaluate=jax.jit(functools.partial(evaluate, model, setup)))


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


def next_chunk(step: int, total: int, chunk_size: int, audio_freq: int) -> int:
  """Iterations of the next chunk: never past the end or a sequential-dream boundary."""
  n = min(chunk_size, total - step)
  if audio_freq:
    n = min(n, audio_freq - step % audio_freq)
  return n


class TrainingDiverged(RuntimeError):
  """The loss became NaN or infinite; the message says where and what to try."""


# Fields that may differ when a run is resumed: they change how long or how often, not what.
RUN_CONTROL_FIELDS = ('max_steps', 'num_epochs', 'chunk_size', 'checkpoint_every',
                      'keep_checkpoints')
CHUNK_SECONDS = 1.0  # target wall time of one dispatch: signals are answered within about this


def check_resumable(prior: dict, c) -> None:
  """Refuse to resume a run whose config differs in anything but RUN_CONTROL_FIELDS (nor in its
  length, max_steps and num_epochs, when its learning rate decays over that length)."""
  now = json.loads(json.dumps(c.to_dict(), default=list))
  prior = {**config_lib.ADDED_FIELDS, **prior}  # a run saved before a field existed
  differ = sorted(k for k in set(prior) | set(now)
                  if k not in RUN_CONTROL_FIELDS and prior.get(k) != now.get(k))
  if differ:
    main = [k for k in ('approach', 'seg_len', 'num_unrollings', 'input_files') if k in differ]
    k = (main or differ)[0]
    raise config_lib.ConfigError(
        f'the work directory already holds a run with another config ({k}={prior.get(k)!r} '
        f'there vs {now.get(k)!r} now; differs in {", ".join(differ)}): use a new --workdir, or '
        'the same settings to resume it')
  length = [k for k in ('max_steps', 'num_epochs') if prior.get(k) != now.get(k)]
  if now.get('lr_final', 1.0) < 1 and length:
    k = length[0]
    raise config_lib.ConfigError(
        f'this run decays its learning rate over its length (lr_final={now["lr_final"]:g}), so '
        f'{k} cannot change on resume ({prior.get(k)!r} there vs {now.get(k)!r} now): resume with '
        f'--config.{k}={prior.get(k)!r}, or use a new --workdir')


class StopSignals:
  """SIGTERM/SIGINT set a flag that the loop checks between chunks (a second one kills)."""

  def __init__(self):
    self.requested = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.requested = signal.Signals(signum).name
    for sig, handler in self._previous.items():  # a second signal acts at once
      signal.signal(sig, handler)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


class HostState:
  """The host side of a run that a checkpoint must hold: partial dreams, the metrics window, the
  sequential-dream count."""

  def __init__(self, c, setup: Setup):
    self.dreams = outputs.ConcurrentDreams(setup.dream_len, c.num_dream_streams,
                                           setup.dream.g.new_per_step)
    self.metrics = outputs.MetricsWindow(c.log_every)
    self.seq_count = 0

  def to_tree(self) -> dict:
    pending, pending_offsets, pending_len, count = self.dreams.to_arrays()
    window, window_len = self.metrics.to_arrays()
    tree = {'pending': pending, 'pending_offsets': pending_offsets, 'pending_len': pending_len,
            'dream_count': count, 'window': window, 'window_len': window_len,
            'seq_count': self.seq_count}
    return {k: np.asarray(v, np.float32 if k in ('pending', 'window') else np.int32)
            for k, v in tree.items()}

  def load_tree(self, tree: dict) -> None:
    self.dreams.load_arrays(tree['pending'], tree['pending_offsets'], tree['pending_len'],
                            tree['dream_count'])
    self.metrics.load_arrays(tree['window'], tree['window_len'])
    self.seq_count = int(tree['seq_count'])


class _NoBoard:
  """Stands in for the TensorBoard writer on processes other than 0."""

  def __getattr__(self, name):
    return lambda *args, **kwargs: None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return None


def next_boundary(step: int, every: int) -> int:
  """Iterations from `step` to the next multiple of `every` (a large number if every is 0)."""
  return every - step % every if every else 1 << 62


def train_and_evaluate(config, workdir=None, log=print) -> dict:
  """Train on the config's audio, dreaming as configured; write everything to `workdir`.

  Running again with the same workdir resumes from its newest checkpoint. SIGTERM/SIGINT save a
  checkpoint at the next chunk boundary and return. Returns a summary dict (workdir, steps,
  final_loss, iters_per_s, dreams: list of WAV paths, seconds, stopped_by). Raises ConfigError /
  audio_io.AudioError for unusable settings or input (nothing written in that case) and
  TrainingDiverged for a non-finite loss (everything so far kept).
  """
  c = config_lib.resolve(config)
  config_lib.validate(c)
  sources = data_lib.load_sources(c)
  primary = sharding_lib.is_primary()  # only process 0 writes files and logs
  if not primary:
    log = lambda *_: None  # pylint: disable=unnecessary-lambda-assignment
  run = outputs.RunDir(workdir or outputs.default_workdir(c.approach), primary=primary)
  prior = run.read_config()
  if prior is not None:
    check_resumable(prior, c)
  total = total_steps(c, sources)
  program = build(c, sources)
  setup = program.setup
  data = device_data(sources, program.mesh)
  state = program.init(data, jax.random.key(c.seed))
  host = HostState(c, setup)
  ckpts = checkpoint.Checkpoints(run.checkpoint_dir, c.keep_checkpoints)
  start = ckpts.latest_step() or 0
  if start:
    state, tree = ckpts.restore(state, host.to_tree())
    host.load_tree(tree)
  run.rewind(start, c.log_every)
  run.write_config(c, iters_per_epoch=sources.iters_per_epoch, total_steps=total,
                   spectral_scale=sources.scale, dream_steps=setup.dream_len)
  log(f'audiolstm: {c.approach} approach on {sources.input_seconds:.1f} s of audio; '
      f'{sources.iters_per_epoch} iterations per epoch, running {total}; '
      f'{c.num_dream_streams} dream stream(s) of {c.dream_seconds:g} s')
  log(f'work directory: {run.path}' + (f' (resuming at iteration {start})' if start else ''))
  if program.mesh.size > 1 or c.num_train_streams > 1:
    log(f'{program.mesh.size} device(s) ({jax.devices()[0].platform}); {c.num_train_streams} '
        f'training stream(s) and {c.num_dream_streams} dream stream(s) over the "data" axis')
  for note in sources.notes:
    log(f'note: {note}')
  eval_every = c.eval_every if setup.val_steps else 0
  schedule = learning_rate(c, total)
  lr_at = schedule if callable(schedule) else (lambda _: schedule)

  history = run.read_metrics()
  steps_logged = [r['step'] for r in history]
  losses_logged = [r['loss'] for r in history]
  val_logged = [(r['step'], r['val_loss']) for r in history if 'val_loss' in r]
  progress = outputs.Progress(total, log)
  progress.step_last = start
  written = []
  step, t0 = start, time.perf_counter()
  last_plot = last_ckpt_step = None
  rate = None

  def write(kind, mode, at_step, values, count, offsets):
    if not primary:
      return
    for s, stream_values in enumerate(values):
      rng = np.random.default_rng([c.seed, kind == 'sequential', count, s])
      audio = outputs.to_audio(c, stream_values, sources.scale, rng)
      name = outputs.dream_name(c.approach, kind, mode, at_step, s)
      path = run.write_dream(name, audio, c.sample_rate)
      written.append(path)
      lo, hi = data_lib.seed_audio_span(c, int(offsets[s]))
      png = plots.spectrogram_png(os.path.splitext(path)[0] + '.png', audio, c.sample_rate,
                                  seed_audio=sources.seed_audio[lo:hi],
                                  title=f'{os.path.basename(path)} (seed above)')
      board.audio(f'dream/{kind}_s{s}', at_step, audio, c.sample_rate)
      board.image(f'spectrogram/{kind}_s{s}', at_step, png)

  def plot():
    if steps_logged:
      run.plot_loss(steps_logged, losses_logged, f'{c.approach}: {os.path.basename(run.path)}',
                    val=val_logged)

  def save():
    ckpts.save(step, state, host.to_tree())

  board = tb.Writer(os.path.join(run.path, 'tensorboard')) if primary else _NoBoard()
  with StopSignals() as stop, board:
    while step < total and not stop.requested:
      n = min(c.chunk_size, total - step, next_boundary(step, c.audio_freq),
              next_boundary(step, c.checkpoint_every), next_boundary(step, eval_every))
      if rate:
        n = min(n, max(1, int(rate * CHUNK_SECONDS)))
      t_chunk = time.perf_counter()
      state, losses, dream_values, dream_offsets = program.run_chunk(state, data, n)
      losses = sharding_lib.to_host(losses)[:n]
      if last_plot is not None:  # the first chunk includes compilation
        rate = n / max(time.perf_counter() - t_chunk, 1e-9)
      bad = np.flatnonzero(~np.isfinite(losses))
      good = losses[:bad[0]] if len(bad) else losses
      records = host.metrics.add(good, step, time.perf_counter() - t0,
                                 final=step + n >= total and not len(bad))
      if eval_every and not len(bad) and (step + n) % eval_every == 0:
        val_loss = float(program.evaluate(state.params, data))
        records[-1]['val_loss'] = val_loss  # eval_every is a multiple of log_every
        val_logged.append((step + n, val_loss))
      run.append_metrics(records)
      steps_logged += [r['step'] for r in records]
      losses_logged += [r['loss'] for r in records]
      for r in records:
        scalars = {'loss': r['loss'], 'loss_running_mean': np.mean(losses_logged[-10:]),
                   'learning_rate': float(lr_at(r['step']))}
        if 'val_loss' in r:
          scalars['val_loss'] = r['val_loss']
        board.scalars(r['step'], scalars)
      if rate:
        board.scalars(step + n, {'iters_per_s': rate})
      if len(bad):
        plot()
        raise TrainingDiverged(
            f'the loss became {losses[bad[0]]} at iteration {step + bad[0] + 1}: training stopped '
            f'(everything written so far is in {run.path}); try a smaller config.lr (now '
            f'{c.lr:g}) or output_activation="tanh"')
      if setup.concurrent:
        for count, at, values, offsets in host.dreams.add(
            sharding_lib.to_host(dream_values)[:n], sharding_lib.to_host(dream_offsets)[:n],
            step + n):
          write('concurrent', c.seed_advance[count % len(c.seed_advance)], at, values, count,
                offsets)
      step += n
      if c.audio_freq and step % c.audio_freq == 0:
        cursor = int(slicing.cursors(setup.dream.g, step, sources.iters_per_epoch))
        seq, seq_offsets = program.sequential_dream(
            state.params, data.seeds,
            jax.random.fold_in(jax.random.key(c.seed + 1), host.seq_count), host.seq_count,
            state.same_offsets, cursor, models.zero_carry(c, (c.num_dream_streams,)))
        write('sequential', c.seed_advance[host.seq_count % len(c.seed_advance)], step,
              sampling.to_stream_values(sharding_lib.to_host(seq)), host.seq_count,
              sharding_lib.to_host(seq_offsets))
        host.seq_count += 1
      if c.checkpoint_every and step % c.checkpoint_every == 0:
        save()
        last_ckpt_step = step
      progress.update(step, float(np.mean(losses)), len(written), force=step >= total)
      if last_plot is None or time.perf_counter() - last_plot > 30:
        plot()
        last_plot = time.perf_counter()
    if last_ckpt_step != step:
      save()
  ckpts.close()
  plot()
  elapsed = time.perf_counter() - t0
  done = step - start
  summary = {'workdir': run.path, 'steps': step, 'final_loss': losses_logged[-1] if losses_logged
             else None, 'iters_per_s': done / elapsed if elapsed > 0 else 0.0, 'dreams': written,
             'seconds': elapsed, 'stopped_by': stop.requested}
  if stop.requested:
    log(f'stopped by {stop.requested} at iteration {step}/{total}; checkpoint saved in '
        f'{run.checkpoint_dir}: run the same command to resume')
  else:
    log(f'done: {done} iterations in {elapsed:.1f} s ({summary["iters_per_s"]:.1f} it/s), '
        f'{len(written)} dream(s) in {run.dreams_dir}')
  return summary
