"""Training: one pytree state, pure train/concurrent steps, a fused many-iterations-per-dispatch
loop, and the host loop around it in named pieces.

`train_step` and `sampling.sample_step` are pure; `concurrent_step` does both (one training
iteration plus one dream step of every stream, reseeding finished dreams) and `run_chunk` runs up
to `chunk_size` of them in one jitted `lax.fori_loop` whose trip count is a traced argument, so
the program compiles once per run whatever the chunk lengths. The host only moves the losses and
the dream values out after each chunk.

The host loop (`train_and_evaluate`) calls named pieces, each usable on its own: `prepare_run`
(resolve, validate, load, build, restore), `chunk_length` (pure), `log_losses` (through
outputs.MetricsLog), `write_dreams` / `sequential_dream` (through outputs.DreamWriter, which
sample and watch mode use too) and `finish`.
"""
import dataclasses
import functools
import json
import os
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from audiolstm import checkpoint
from audiolstm import config as config_lib
from audiolstm import dataset as data_lib
from audiolstm import distribution
from audiolstm import models
from audiolstm import outputs
from audiolstm import rundir
from audiolstm import sampling
from audiolstm import sharding as sharding_lib
from audiolstm import signals
from audiolstm import slicing
from audiolstm import tb
from audiolstm import wander


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


class TrainingDiverged(RuntimeError):
  """The loss became NaN or infinite; the message says where and what to try."""


# Fields that may differ when a run is resumed: they change how long or how often, not what.
RUN_CONTROL_FIELDS = ('max_steps', 'num_epochs', 'chunk_size', 'checkpoint_every',
                      'keep_checkpoints', 'wander_snapshots', 'wander_hold_s', 'wander_glide')
CHUNK_SECONDS = 1.0  # target wall time of one dispatch: signals are answered within about this
FIRST_ITERATIONS = 4  # chunk length until the speed is measured (the first includes compiling)


def check_resumable(prior: dict, c) -> None:
  """Refuse to resume a run whose config differs in anything but RUN_CONTROL_FIELDS (nor in its
  length, max_steps and num_epochs, when its learning rate decays over that length)."""
  now = json.loads(json.dumps(c.to_dict(), default=list))
  prior = {**config_lib.ADDED_FIELDS, **prior}  # a run saved before a field existed
  for k in config_lib.PATH_FIELDS:  # saved as given before they were made absolute
    for record in (prior, now):
      if isinstance(record.get(k), list):
        record[k] = [os.path.abspath(os.path.expanduser(f)) for f in record[k]]
  differ = sorted(k for k in set(prior) | set(now)
                  if k not in RUN_CONTROL_FIELDS and prior.get(k) != now.get(k))
  if differ:
    main = [k for k in ('approach', 'seg_len', 'num_unrollings', 'input_files') if k in differ]
    k = (main or differ)[0]
    raise config_lib.ConfigError(
        f'the work directory already holds a run with another config ({k}={prior.get(k)!r} '
        f'there vs {now.get(k)!r} now; differs in {", ".join(differ)}): use a new --workdir (or '
        '--restart to move that run aside), or the same settings to resume it')
  length = [k for k in ('max_steps', 'num_epochs') if prior.get(k) != now.get(k)]
  if now.get('lr_final', 1.0) < 1 and length:
    k = length[0]
    raise config_lib.ConfigError(
        f'this run decays its learning rate over its length (lr_final={now["lr_final"]:g}), so '
        f'{k} cannot change on resume ({prior.get(k)!r} there vs {now.get(k)!r} now): resume with '
        f'--config.{k}={prior.get(k)!r}, or use a new --workdir')


class HostState:
  """The host side of a run that a checkpoint must hold: partial dreams, the metrics window, the
  sequential-dream count."""

  def __init__(self, c, setup: Setup):
    self.dreams = outputs.ConcurrentDreams(setup.dream_len, c.num_dream_streams,
                                           setup.g.new_per_step)
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


def next_boundary(step: int, every: int) -> int:
  """Iterations from `step` to the next multiple of `every` (a large number if every is 0)."""
  return every - step % every if every else 1 << 62


def chunk_length(step: int, total: int, c, eval_every: int, rate=None) -> int:
  """Iterations of the next chunk from `step` of `total`.

  At most config.chunk_size, never past the end or a sequential-dream (audio_freq), checkpoint,
  validation (eval_every, 0 = off) or wander snapshot (wander.every) boundary, and once the speed is known (`rate` iterations/s)
  about CHUNK_SECONDS of work, so signals are answered within about that.
  """
  n = min(c.chunk_size, total - step, next_boundary(step, c.audio_freq),
          next_boundary(step, c.checkpoint_every), next_boundary(step, eval_every),
          wander.steps_to_next(c, total, step))
  if rate:
    n = min(n, max(1, int(rate * CHUNK_SECONDS)))
  return n


@dataclasses.dataclass
class PreparedRun:
  """A training run ready for its first chunk (prepare_run makes it)."""
  c: ml_collections.ConfigDict   # resolved and validated
  sources: data_lib.Sources      # carries the geometry (sources.g)
  program: Program
  data: DeviceData
  state: State                   # restored from the newest checkpoint when resuming
  host: HostState
  ckpts: checkpoint.Checkpoints  # open: the caller closes it
  run: rundir.RunDir
  start: int                     # iteration resumed at (0 for a new run)
  total: int                     # iterations of the whole run
  primary: bool                  # process 0: the one that writes files and logs
  lock: rundir.Lock = None       # held (by process 0): the caller releases it
  notes: tuple = ()              # what the user should know (--restart, skipped checkpoints)


def prepare_run(config, workdir=None, restart=False) -> PreparedRun:
  """Resolve and validate the config, load its audio, open and lock the work directory (refusing
  another run's), build the program and restore the newest checkpoint there.

  A work directory holding an earlier run's metrics or dreams but no checkpoint to resume from is
  refused (a fresh start would lose them); with `restart`, whatever the directory holds is moved
  aside into WORKDIR.before-restart-<time>/ first (never deleted) and the run starts afresh.

  Raises ConfigError / audio_io.AudioError for unusable settings or input before anything but
  the work directory itself (and its lock file) is written. The caller releases p.lock.
  """
  c, g = config_lib.prepare(config)
  config_lib.absolute_paths(c)  # config.json then works from any directory
  sources = data_lib.load_sources(c, g)
  primary = sharding_lib.is_primary()
  run = rundir.RunDir(workdir or rundir.default_workdir(c.approach), primary=primary)
  lock = _lock(run, primary)
  try:
    notes = []
    if restart:
      aside = run.move_aside()  # by process 0 ...
      sharding_lib.all_ok(True)  # ... before the others look
      if aside:
        notes.append(f'--restart: moved the earlier run here to {aside}')
    return _open_run(c, sources, run, lock, primary, notes)
  except BaseException:
    if lock:
      lock.release()
    raise


def _lock(run: rundir.RunDir, primary: bool):
  """The work directory's lock, taken by process 0 (None on the others); a refusal is raised on
  every process."""
  lock, refused = rundir.Lock(run.path) if primary else None, None
  if lock:
    try:
      lock.acquire()
    except config_lib.ConfigError as e:
      refused = e
  if not sharding_lib.all_ok(refused is None):
    raise refused or config_lib.ConfigError(
        f'--workdir={run.path} is in use by another run (process 0 says which)')
  return lock


def _refuse_lost_history(run: rundir.RunDir, damaged=()) -> None:
  """ConfigError unless a fresh start in `run` loses nothing (no metrics records, no dreams);
  `damaged`: the steps of the checkpoints there that do not restore."""
  records, dreams = run.history()
  if records or dreams:
    why = (f'no checkpoint that restores (damaged: {", ".join(map(str, damaged))})' if damaged
           else 'no checkpoint to resume from')
    raise config_lib.ConfigError(
        f'{run.path} holds an earlier run ({records} metrics records, {dreams} dream files) but '
        f'{why}, so starting again would lose them: use a new --workdir, or add --restart to '
        'move them aside (into WORKDIR.before-restart-<time>/) and start afresh')


def _restore(ckpts: checkpoint.Checkpoints, run: rundir.RunDir, state: State, host: HostState,
             notes: list) -> tuple:
  """(step, state) of the newest checkpoint that restores (host loaded from it), or (0, state)
  for a fresh start (refused when it would lose an earlier run's outputs). Damaged newer
  checkpoints are moved into WORKDIR/damaged-checkpoints/ (out of orbax's way: it would keep
  them over new ones), with a note for each."""
  step, restored, tree, skipped = ckpts.restore_newest(state, host.to_tree())
  if step is None:
    _refuse_lost_history(run, [s for s, _ in skipped])
  else:
    state = restored
    host.load_tree(tree)
  for damaged, why in skipped:
    kept = (ckpts.set_aside(damaged, os.path.join(run.path, 'damaged-checkpoints'))
            if run.primary else os.path.join(ckpts.directory, str(damaged)))
    notes.append(f'checkpoint {damaged} is damaged ({why}): skipped, '
                 + (f'resuming from iteration {step}' if step else 'starting afresh')
                 + f'; moved it to {kept} (kept for inspection)')
  return step or 0, state


def _open_run(c, sources, run: rundir.RunDir, lock, primary: bool, notes) -> PreparedRun:
  """prepare_run's part in a locked work directory: check, build, restore, rewind."""
  prior = run.read_config()
  if prior is not None:
    check_resumable(prior, c)
  program = build(c, sources)
  data = device_data(sources, program.mesh)
  state = program.init(data, jax.random.key(c.seed))
  host = HostState(c, program.setup)
  ckpts = checkpoint.Checkpoints(run.checkpoint_dir, c.keep_checkpoints)
  try:
    start, state = _restore(ckpts, run, state, host, notes)
    total = total_steps(c, sources)
    run.rewind(start, c.log_every)
    run.write_config(c, iters_per_epoch=sources.iters_per_epoch, total_steps=total,
                     spectral_scale=sources.scale, dream_steps=program.setup.dream_len)
  except BaseException:
    ckpts.close()
    raise
  return PreparedRun(c=c, sources=sources, program=program, data=data, state=state, host=host,
                     ckpts=ckpts, run=run, start=start, total=total, primary=primary, lock=lock,
                     notes=tuple(notes))


def announce(p: PreparedRun, log) -> None:
  """The opening lines of a run: what it trains on, where it writes, on which devices."""
  c = p.c
  log(f'audiolstm: {c.approach} approach on {p.sources.input_seconds:.1f} s of audio; '
      f'{p.sources.iters_per_epoch} iterations per epoch, running {p.total}; '
      f'{c.num_dream_streams} dream stream(s) of {c.dream_seconds:g} s')
  log(f'work directory: {p.run.path}' + (f' (resuming at iteration {p.start})' if p.start else ''))
  if p.program.mesh.size > 1 or c.num_train_streams > 1:
    log(f'{p.program.mesh.size} device(s) ({jax.devices()[0].platform}); {c.num_train_streams} '
        f'training stream(s) and {c.num_dream_streams} dream stream(s) over the "data" axis')
  for note in (*p.notes, *p.sources.notes):
    log(f'note: {note}')


def log_losses(p: PreparedRun, metrics: outputs.MetricsLog, losses, step: int, eval_every: int,
               elapsed: float) -> None:
  """Log the losses [n] of the chunk after `step` (with the validation loss when one is due);
  TrainingDiverged, after logging the finite ones, if any is not finite."""
  n = len(losses)
  bad = np.flatnonzero(~np.isfinite(losses))
  good = losses[:bad[0]] if len(bad) else losses
  records = p.host.metrics.add(good, step, elapsed, final=step + n >= p.total and not len(bad))
  if eval_every and not len(bad) and (step + n) % eval_every == 0:
    # eval_every is a multiple of log_every: the last record is that step's.
    records[-1]['val_loss'] = float(p.program.evaluate(p.state.params, p.data))
  metrics.add(records)
  if len(bad):
    metrics.plot(force=True)
    raise TrainingDiverged(
        f'the loss became {losses[bad[0]]} at iteration {step + bad[0] + 1}: training stopped '
        f'(everything written so far is in {p.run.path}); try a smaller config.lr (now '
        f'{p.c.lr:g}) or output_activation="tanh"')


def write_dreams(p: PreparedRun, writer: outputs.DreamWriter, kind: str, count: int, step: int,
                 values: np.ndarray, offsets: np.ndarray) -> None:
  """Write dream number `count` of every stream: values [S, n] seeded at source offsets [S]."""
  if not p.primary:
    return
  c = p.c
  mode = c.seed_advance[count % len(c.seed_advance)]
  for s, stream_values in enumerate(values):
    lo, hi = data_lib.seed_audio_span(c, p.sources.g, int(offsets[s]))
    writer.write(rundir.dream_name(c.approach, kind, mode, step, s), stream_values,
                 np.random.default_rng([c.seed, kind == 'sequential', count, s]),
                 seed_audio=p.sources.seed_audio[lo:hi], tag=f'{kind}_s{s}', step=step)


def sequential_dream(p: PreparedRun, writer: outputs.DreamWriter, step: int) -> None:
  """Dream from a fresh seed with the dream params at `step`, without training, and write it."""
  c, host = p.c, p.host
  cursor = int(slicing.cursors(p.program.setup.g, step, p.sources.iters_per_epoch))
  values, offsets = p.program.sequential_dream(
      dream_params(p.state), p.data.seeds,
      jax.random.fold_in(jax.random.key(c.seed + 1), host.seq_count),
      host.seq_count, p.state.same_offsets, cursor, models.zero_carry(c, (c.num_dream_streams,)))
  write_dreams(p, writer, 'sequential', host.seq_count, step,
               sampling.to_stream_values(sharding_lib.to_host(values)),
               sharding_lib.to_host(offsets))
  host.seq_count += 1


def train_and_evaluate(config, workdir=None, log=print, restart=False) -> dict:
  """Train on the config's audio, dreaming as configured; write everything to `workdir`.

  Running again with the same workdir resumes from its newest checkpoint (a first one is saved
  after the first chunk); `restart` moves an earlier run there aside first (see prepare_run).
  SIGTERM/SIGINT save a checkpoint at the next chunk boundary and return; a second one raises
  signals.StopNow at once (after the save, if one is under way). Returns a summary dict (workdir,
  steps, final_loss, iters_per_s, dreams: list of WAV paths, seconds, stopped_by). Raises
  ConfigError / audio_io.AudioError for unusable settings or input (nothing written in that case),
  TrainingDiverged for a non-finite loss (everything so far kept) and rundir.NoSpace when the disk
  is full (the checkpoints saved before it kept; the message says what to run).
  """
  try:
    p = prepare_run(config, workdir, restart)
  except Exception as e:  # pylint: disable=broad-except  # a full disk is told in one line
    rundir.raise_if_disk_full(e, workdir or 'runs', 'run the same command')
    raise
  try:
    return run_prepared(p, log)
  except signals.StopNow as e:
    e.message = (f'stopped at once by a second {e.signal_name} (what was written in {p.run.path} '
                 f'is kept): {_resume_hint(p)}')
    raise
  except Exception as e:  # pylint: disable=broad-except
    rundir.raise_if_disk_full(e, p.run.path, _resume_hint(p))
    raise
  finally:
    if p.lock:
      p.lock.release()


def _resume_hint(p: PreparedRun) -> str:
  """What to run after a full disk or a stop at once: the same command (from the newest
  checkpoint), or with --restart when none was saved yet."""
  try:
    step = checkpoint.newest_complete_step(p.run.checkpoint_dir)
  except OSError:
    step = None
  if step:
    return f'run the same command to resume (from the checkpoint at iteration {step})'
  return ('run the same command with --restart (no checkpoint was saved yet; --restart moves '
          'what was written aside)')


def run_prepared(p: PreparedRun, log=print) -> dict:
  """Train a prepared run to its end or a signal (see train_and_evaluate); closes p.ckpts."""
  c, setup = p.c, p.program.setup
  log = log if p.primary else (lambda *_: None)
  announce(p, log)
  eval_every = c.eval_every if setup.val_steps else 0
  board = tb.Writer(os.path.join(p.run.path, 'tensorboard'), purge_step=p.start or None) \
      if p.primary else tb.NoWriter()
  metrics = outputs.MetricsLog(p.run, board, learning_rate(c, p.total),
                               f'{c.approach}: {os.path.basename(p.run.path)}')
  writer = outputs.DreamWriter(c, p.sources.scale, p.run.dreams_dir, board, p.sources.flatness)
  progress = outputs.Progress(p.total, log, start=p.start)
  step, t0, rate = p.start, time.perf_counter(), None
  saved = p.start or None  # the step of the newest checkpoint (a resume starts at one)
  try:
    with signals.StopSignals() as stop, board:
      while step < p.total:
        n = chunk_length(step, p.total, c, eval_every, rate or FIRST_ITERATIONS / CHUNK_SECONDS)
        n, stopping = sharding_lib.agree(n, stop.requested)  # the same on every process
        if stopping:
          stop.requested = stop.requested or 'a signal to another process'
          break
        t_chunk = time.perf_counter()
        p.state, losses, values, offsets = p.program.run_chunk(p.state, p.data, n)
        losses = sharding_lib.to_host(losses)[:n]
        if step > p.start:  # the first chunk includes compilation
          rate = n / max(time.perf_counter() - t_chunk, 1e-9)
          metrics.speed(step + n, rate)
        log_losses(p, metrics, losses, step, eval_every, time.perf_counter() - t0)
        if setup.concurrent:
          for count, at, stream_values, seeds in p.host.dreams.add(
              sharding_lib.to_host(values)[:n], sharding_lib.to_host(offsets)[:n], step + n):
            write_dreams(p, writer, 'concurrent', count, at, stream_values, seeds)
        step += n
        if c.audio_freq and step % c.audio_freq == 0:
          sequential_dream(p, writer, step)
        if p.primary and wander.due(c, p.total, step):
          wander.save(p.run.path, step, jax.device_get(dream_params(p.state)),
                      c.wander_snapshots)
        if (c.checkpoint_every and step % c.checkpoint_every == 0) or (
            saved is None and not p.start and step < p.total):  # resumable once started
          with stop.critical():  # a second signal stops right after the save, not inside it
            p.ckpts.save(step, p.state, p.host.to_tree())
          saved = step
        progress.update(step, force=step >= p.total, loss=float(np.mean(losses)),
                        dreams=len(writer.paths))
        metrics.plot()
        board.check()
      if saved != step:
        with stop.critical():
          p.ckpts.save(step, p.state, p.host.to_tree())
  finally:
    p.ckpts.close()
  metrics.plot(force=True)
  return finish(p, metrics, writer, step, time.perf_counter() - t0, stop.requested, log)


def finish(p: PreparedRun, metrics, writer, step: int, elapsed: float, stopped_by, log) -> dict:
  """The closing line of a run and its summary dict (see train_and_evaluate)."""
  done = step - p.start
  summary = {'workdir': p.run.path, 'steps': step, 'final_loss': metrics.final_loss,
             'iters_per_s': done / elapsed if elapsed > 0 else 0.0, 'dreams': writer.paths,
             'seconds': elapsed, 'stopped_by': stopped_by}
  if stopped_by:
    log(f'stopped by {stopped_by} at iteration {step}/{p.total}; checkpoint saved in '
        f'{p.run.checkpoint_dir}: run the same command to resume')
  else:
    log(f'done: {done} iterations in {elapsed:.1f} s ({summary["iters_per_s"]:.1f} it/s), '
        f'{len(writer.paths)} dream(s) in {p.run.dreams_dir}')
  return summary
