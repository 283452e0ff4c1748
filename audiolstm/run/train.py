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
import json
import os
import re
import shlex
import sys
import time

import jax
import ml_collections
import numpy as np

from audiolstm.config import settings as config_lib
from audiolstm.core import dataset as data_lib
from audiolstm.core import models
from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from audiolstm.core import sharding as sharding_lib
from audiolstm.core import slicing
from audiolstm.run import checkpoint
from audiolstm.run import outputs
from audiolstm.run import rundir
from audiolstm.run import signals
from audiolstm.run import snapshots
from audiolstm.run import tb


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


def next_boundary(step: int, every: int) -> int:
  """Iterations from `step` to the next multiple of `every` (a large number if every is 0)."""
  return every - step % every if every else 1 << 62


def chunk_length(step: int, total: int, c, eval_every: int, rate=None) -> int:
  """Iterations of the next chunk from `step` of `total`.

  At most config.chunk_size, never past the end or a sequential-dream (audio_freq), checkpoint,
  validation (eval_every, 0 = off) or wander snapshot (snapshots.every) boundary, and once the
  speed is known (`rate` iterations/s)
  about CHUNK_SECONDS of work, so signals are answered within about that.
  """
  n = min(c.chunk_size, total - step, next_boundary(step, c.audio_freq),
          next_boundary(step, c.checkpoint_every), next_boundary(step, eval_every),
          snapshots.steps_to_next(c, total, step))
  if rate:
    n = min(n, max(1, int(rate * CHUNK_SECONDS)))
  return n


@dataclasses.dataclass
class PreparedRun:
  """A training run ready for its first chunk (prepare_run makes it)."""
  c: ml_collections.ConfigDict   # resolved and validated
  sources: data_lib.Sources      # carries the geometry (sources.g)
  program: program_lib.Program
  data: program_lib.DeviceData
  state: program_lib.State                   # restored from the newest checkpoint when resuming
  host: checkpoint.HostState
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


def _restore(ckpts: checkpoint.Checkpoints, run: rundir.RunDir, state: program_lib.State,
             host: checkpoint.HostState,
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
  program = program_lib.build(c, sources)
  data = program_lib.device_data(sources, program.mesh)
  state = program.init(data, jax.random.key(c.seed))
  host = checkpoint.HostState(c, program.setup)
  ckpts = checkpoint.Checkpoints(run.checkpoint_dir, c.keep_checkpoints)
  try:
    start, state = _restore(ckpts, run, state, host, notes)
    total = program_lib.total_steps(c, sources)
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
  for note in (*p.notes, *p.sources.notes, *dream_notes(p)):
    log(f'note: {note}')


def dream_notes(p: PreparedRun) -> list:
  """What a short run will not give: a note when it stops before its first dream is complete,
  with what to do instead (dream from it afterwards, or run longer)."""
  c, first = p.c, p.program.setup.dream_len
  periodic = c.audio_freq and p.total >= c.audio_freq
  if not c.concurrent or not c.num_dream_streams or p.total - p.start >= first or periodic:
    return []
  return [f'each {c.dream_seconds:g} s concurrent dream is complete after {first} iterations, and '
          f'this run stops at {p.total}, so it writes no dream: listen with audiolstm sample '
          f'--workdir={p.run.path} when it ends, or give --config.max_steps={first} or more']


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
    raise program_lib.TrainingDiverged(
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
    lo, _ = data_lib.seed_audio_span(c, p.sources.g, int(offsets[s]))
    writer.write(rundir.dream_name(c.approach, kind, mode, step, s), stream_values,
                 np.random.default_rng([c.seed, kind == 'sequential', count, s]),
                 seed_audio=p.sources.seed_audio[lo:], tag=f'{kind}_s{s}', step=step)


def sequential_dream(p: PreparedRun, writer: outputs.DreamWriter, step: int) -> None:
  """Dream from a fresh seed with the dream params at `step`, without training, and write it."""
  c, host = p.c, p.host
  cursor = int(slicing.cursors(p.program.setup.g, step, p.sources.iters_per_epoch))
  values, offsets = p.program.sequential_dream(
      program_lib.dream_params(p.state), p.data.seeds,
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
  """What to run after a full disk or a stop at once: the same command with this run's
  --workdir (from the newest checkpoint), or with --restart when none was saved yet."""
  try:
    step = checkpoint.newest_complete_step(p.run.checkpoint_dir)
  except OSError:
    step = None
  command = resume_command(p.run.path)
  if step:
    return f'run the same command to resume (from the checkpoint at iteration {step}): {command}'
  return ('run the same command with --restart (no checkpoint was saved yet; --restart moves '
          f'what was written aside): {command} --restart')


def resume_command(workdir: str, argv=None) -> str:
  """The command line that resumes this run: the one that started it (sys.argv), with
  --workdir=WORKDIR in place of any --workdir and without --restart.

  Args:
    workdir: the run's work directory.
    argv: the command line (default sys.argv; argv[0] is the program).

  Returns:
    A shell-quoted command: `python -m audiolstm.main ...` or `audiolstm train ...`.
  """
  argv = list(sys.argv if argv is None else argv)
  program = os.path.basename(argv[0]) if argv else ''
  head = (['audiolstm', 'train'] if program == 'audiolstm'
          else ['python', '-m', 'audiolstm.main'])
  rest = [a for a in argv[1:] if not re.match(r'^--?(no)?(workdir|restart)(=|$)', a)
          and not (program == 'audiolstm' and a == '--mode=train')]
  return shlex.join(head + rest + [f'--workdir={workdir}'])


def run_prepared(p: PreparedRun, log=print) -> dict:
  """Train a prepared run to its end or a signal (see train_and_evaluate); closes p.ckpts."""
  c, setup = p.c, p.program.setup
  log = log if p.primary else (lambda *_: None)
  announce(p, log)
  eval_every = c.eval_every if setup.val_steps else 0
  board = tb.Writer(os.path.join(p.run.path, 'tensorboard'), purge_step=p.start or None) \
      if p.primary else tb.NoWriter()
  metrics = outputs.MetricsLog(p.run, board, program_lib.learning_rate(c, p.total),
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
        if p.primary and snapshots.due(c, p.total, step):
          snapshots.save(p.run.path, step, jax.device_get(program_lib.dream_params(p.state)),
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
        f'{p.run.checkpoint_dir}: run the same command to resume: '
        f'{resume_command(p.run.path)}')
  else:
    log(f'done: {done} iterations in {elapsed:.1f} s ({summary["iters_per_s"]:.1f} it/s), '
        f'{len(writer.paths)} dream(s) in {p.run.dreams_dir}')
  return summary
