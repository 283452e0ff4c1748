"""Sample mode that keeps learning: dreams made the way training makes them.

A model that has stopped learning dreams through one fixed map, and from the final checkpoint the
column and transpose defaults settle into a held tone or fade to silence within a second. The
concurrent dreams written while training do not: every dream step uses parameters one update
newer, fitted to the audio under the training cursor (the dissertation's concurrent dreaming).
`sample` continues a run that way from its newest checkpoint, with the fused train-and-dream
chunk at the learning rate where the run ended, for exactly as long as the dreams take. It
writes the dreams and nothing else: the run's checkpoints and metrics stay as they were.

  python -m audiolstm.main --mode=sample --workdir=RUN --learn [--num_dreams=4]
"""
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from audiolstm import files
from audiolstm.config.settings import ConfigError
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from audiolstm.core import sharding as sharding_lib
from audiolstm.dream import sample as sample_mode
from audiolstm.dream import trained
from audiolstm.run import outputs
from audiolstm.run import rundir
from audiolstm.run import signals


def fresh_dreams(program: program_lib.Program, state: program_lib.State,
                 data: program_lib.DeviceData, rng):
  """The state with every dream stream starting afresh from a seed (in the mode of its dream
  count, as training picks it) and a zero LSTM state; the training part is unchanged.

  Args:
    program: the run's program (its setup gives the dream settings).
    state: the restored state; state.dream_* are replaced.
    data: the sources on the device.
    rng: the key of the seeds.

  Returns:
    The new state.
  """
  setup = program.setup
  cursor = program_lib.stream_cursors(setup, state.step)[0]
  offsets = sampling.seed_offsets(setup.dream, sampling.mode_of(setup.dream, state.dream_count),
                                  rng, state.same_offsets, cursor)
  return state.replace(dream_buffers=sampling.seed_buffers(setup.dream, data.seeds, offsets),
                       dream_carry=jnp.zeros_like(state.dream_carry),
                       dream_pos=jnp.zeros_like(state.dream_pos), dream_offsets=offsets)


def learn_and_dream(program: program_lib.Program, state: program_lib.State,
                    data: program_lib.DeviceData,
                    num_steps: int, progress=None, stop=None):
  """`num_steps` fused iterations (a train step, then a dream step of every stream).

  Args:
    program: the run's program.
    state: the state to continue (its dreams freshly seeded: fresh_dreams).
    data: the sources on the device.
    num_steps: iterations to run (a whole dream: program.setup.dream_len).
    progress: optional callable(done, total).
    stop: optional signals.StopSignals; when it is requested the chunks stop early.

  Returns:
    (state, dream values [steps run, S, new_per_step], their seed offsets [S]).
  """
  pieces, done = [], 0
  offsets = np.asarray(state.dream_offsets)
  while done < num_steps and not (stop and stop.requested):
    n = min(program.setup.chunk_size, num_steps - done)
    state, losses, values, _ = program.run_chunk(state, data, n)
    losses = sharding_lib.to_host(losses)[:n]
    if not np.all(np.isfinite(losses)):
      raise program_lib.TrainingDiverged('the loss became non-finite while learning on: dream '
                                         'from the run without --learn')
    pieces.append(sharding_lib.to_host(values)[:n])
    done += n
    if progress:
      progress(done, num_steps)
  empty = np.zeros((0, program.setup.dream.num_streams, program.setup.g.new_per_step), np.float32)
  return state, np.concatenate(pieces) if pieces else empty, offsets


def _program_for(run: trained.TrainedRun, seconds: float):
  """(the run's resolved config with dream_seconds = `seconds`, its program: the run's own, or
  rebuilt when the dreams are to be of another length than its config's)."""
  c = run.config.copy_and_resolve_references()
  c.dream_seconds = float(seconds)
  if math.isclose(seconds, run.config.dream_seconds):
    return c, run.program
  return c, program_lib.build(c, run.sources, run.program.mesh)


def sample(workdir, num_dreams=4, dream_seconds=None, out_dir=None, seed=None, log=print) -> list:
  """Dream `num_dreams` outputs of `dream_seconds` from `workdir` while learning on.

  The run's config.num_dream_streams dreams are made side by side, in as many rounds as needed.

  Args:
    workdir: a trained run.
    num_dreams: how many dreams (>= 1).
    dream_seconds: seconds per dream (None: the run's config.dream_seconds).
    out_dir: where the WAV and PNG files go (default WORKDIR/samples; never over earlier files).
    seed: picks the seeds and the learning's randomness (None: the run's config.seed).
    log: called with progress lines.

  Returns:
    The WAV paths. Raises ConfigError for bad settings (nothing written).
  """
  if num_dreams < 1:
    raise ConfigError(f'--num_dreams={num_dreams} must be at least 1')
  sample_mode.check_dream_seconds(dream_seconds)
  run = trained.load_run(workdir, log)
  seed = run.config.seed if seed is None else seed
  seconds = run.config.dream_seconds if dream_seconds is None else dream_seconds
  out_dir = files.absolute(out_dir or os.path.join(run.path, 'samples'))
  files.makedirs(out_dir)
  try:
    with rundir.Lock(out_dir, '--out_dir', 'sample or watch'):
      return _sample(run, *_program_for(run, seconds), num_dreams, seconds, out_dir, seed, log)
  except OSError as e:
    rundir.raise_if_disk_full(e, out_dir, 'run the same command (the dreams written are kept)')
    raise


def _sample(run, c, program, num_dreams, seconds, out_dir, seed, log) -> list:
  """sample's rounds of dreams and files, in its locked out_dir."""
  setup = program.setup
  streams = setup.dream.num_streams
  rounds = -(-num_dreams // streams)
  data = program_lib.device_data(run.sources, program.mesh)
  state = run.state.replace(rng=jax.random.fold_in(run.state.rng, seed))
  writer = outputs.DreamWriter(c, run.sources.scale, out_dir, flatness=run.sources.flatness)
  progress = outputs.Progress(rounds * setup.dream_len, log, every_s=1.0, label='step',
                              unit='it')
  log(f'dreaming {num_dreams} x {seconds:g} s from {run.path} (iteration {run.step}), learning '
      f'on: {rounds} round(s) of {streams} stream(s), {setup.dream_len} iterations each ...')
  t0, paths = time.perf_counter(), []
  with signals.StopSignals() as stop:
    for r in range(rounds):
      state = fresh_dreams(program, state, data, jax.random.fold_in(jax.random.key(seed), r))
      mode = c.seed_advance[int(state.dream_count) % len(c.seed_advance)]
      state, values, offsets = learn_and_dream(
          program, state, data, setup.dream_len, stop=stop,
          progress=lambda done, total, r=r: progress.update(r * setup.dream_len + done))
      for s, stream_values in enumerate(sampling.to_stream_values(values)):
        if len(paths) < num_dreams and len(stream_values):
          lo, _ = dataset.seed_audio_span(c, run.sources.g, int(offsets[s]))
          paths.append(writer.write(f'{c.approach}_sample_learning_{mode}_{len(paths):03d}.wav',
                                    stream_values, np.random.default_rng([seed, 11, r, s]),
                                    seed_audio=run.sources.seed_audio[lo:]))
      if stop.requested:
        log(f'stopped by {stop.requested}: kept {len(paths)} dream(s), the last ones cut short')
        break
  dt = time.perf_counter() - t0
  log(f'wrote {len(paths)} dream(s) of {seconds:g} s to {out_dir} in {dt:.1f} s '
      f'({len(paths) * seconds / dt:.2f} s of audio per second, learning included)')
  return paths

