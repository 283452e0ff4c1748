"""A trained run loaded once (`load_run`: its config, newest params, snapshots and
recording), its seeds, `Stepper` (the one way its dreams are stepped: one jitted scan per piece)
and `Dreamer` (a dream of fixed length, piece by piece, for sample and watch; stream's
LiveDreamer keeps one piece ahead).
"""
import dataclasses
import functools
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from audiolstm import files
from audiolstm.config import settings as config_lib
from audiolstm.config.settings import ConfigError
from audiolstm.core import dataset
from audiolstm.core import models
from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from audiolstm.core import slicing
from audiolstm.core import wander
from audiolstm.run import checkpoint
from audiolstm.run import rundir
from audiolstm.run import snapshots

PIECE_STEPS = 1024  # dream steps per dispatch (progress is reported between pieces)


@dataclasses.dataclass
class TrainedRun:
  """A trained run ready to dream: its config, sources, model and parameters."""
  path: str
  config: ml_collections.ConfigDict
  sources: dataset.Sources    # carries the geometry (sources.g)
  model: models.AudioLSTM
  params: dict
  same_offsets: np.ndarray   # [S] the run's fixed 'same' seed offsets
  cursor: int                # training cursor at the checkpoint (for 'advance')
  step: int
  program: program_lib.Program = None   # the run's jitted functions (built for its config)
  state: program_lib.State = None       # the whole restored state (learning_sample continues it)
  snapshots: Any = None           # snapshots.load: params with a leading [K] axis, or None


def load_run(workdir: str, log=print) -> TrainedRun:
  """Load the config and newest checkpoint that restores of a work directory (ConfigError if it
  has none; a note for each damaged newer one, which is skipped and left in place)."""
  if not workdir:
    raise ConfigError('--workdir is required: the work directory of a trained run')
  path = files.absolute(workdir)  # a local path or a URL (gs://bucket/run)
  try:
    found = files.exists(os.path.join(path, 'config.json'))
  except (OSError, ImportError) as e:  # ImportError: no backend for the URL (gcsfs for gs://)
    raise ConfigError(f'cannot read {workdir}: {files.why(e)}') from None
  if not found:
    raise ConfigError(f'{workdir} holds no run (no config.json): train one first with '
                      f'python -m audiolstm.main --config=configs/fft.py --workdir={workdir}')
  prior = rundir.read_config_file(os.path.join(path, 'config.json'))
  c, g = config_lib.prepare(ml_collections.ConfigDict(prior))
  ckpt_dir = os.path.join(path, 'checkpoints')
  if not files.isdir(ckpt_dir):
    raise ConfigError(f'{workdir} has no checkpoints yet: let training save one (it does at the '
                      'end, on Ctrl-C, and every config.checkpoint_every iterations)')
  sources = dataset.load_sources(c, g)
  program = program_lib.build(c, sources)
  state_like = program.init(program_lib.device_data(sources), jax.random.key(c.seed))
  ckpts = checkpoint.Checkpoints(ckpt_dir, c.keep_checkpoints)
  try:
    step, state, _, skipped = ckpts.restore_newest(
        state_like, checkpoint.HostState(c, program.setup).to_tree())
  finally:
    ckpts.close()
  if step is None and skipped:
    raise ConfigError(f'{workdir} has no checkpoint that restores: every one is damaged '
                      f'({", ".join(f"{s}: {why}" for s, why in skipped)}); train it again, in a '
                      'new --workdir or with --restart')
  if step is None:
    raise ConfigError(f'{workdir} has no complete checkpoint: train it (longer) first')
  for damaged, why in skipped:
    log(f'note: checkpoint {damaged} of {workdir} is damaged ({why}): dreaming from iteration '
        f'{step} instead (the damaged one is left in place)')
  return TrainedRun(path=path, config=c, sources=sources, model=program.model,
                    params=program_lib.dream_params(state),
                    same_offsets=np.asarray(state.same_offsets),
                    cursor=int(slicing.cursors(g, step, sources.iters_per_epoch)), step=step,
                    program=program, state=state,
                    snapshots=snapshots.load(path, params_like=program_lib.dream_params(state))
                    if c.wander_snapshots else None)


def _seconds_apart(a: float, b: float) -> tuple:
  """Two lengths in seconds as strings, with the decimals (2 to 6) that tell them apart."""
  for digits in range(2, 7):
    if f'{a:.{digits}f}' != f'{b:.{digits}f}':
      break
  return f'{a:.{digits}f}', f'{b:.{digits}f}'


def seed_from_audio(run: TrainedRun, audio: np.ndarray, name: str) -> np.ndarray:
  """A seed buffer [input_span] from the start of a recording (ConfigError if too short)."""
  c, g = run.config, run.sources.g
  source, _ = dataset.to_source(c, audio, run.sources.scale)
  if len(source) < g.input_span:
    if c.use_fft:
      need = c.window_size + (g.input_span // g.unit - 1) * c.hop_size
    else:
      need = g.input_span
    have, need = _seconds_apart(len(audio) / c.sample_rate, need / c.sample_rate)
    raise ConfigError(f'{name} is too short to seed a dream: {have} s, but a seed must fill one '
                      f'input matrix ({need} s)')
  return source[slicing.seed_indices(g, 0)]


def training_seeds(run: TrainedRun, num: int, seed: int):
  """Seeds from the training audio for `num` dreams, dream i in seed mode seed_advance[i % len],
  as training picks them (sampling.seed_offsets): 'same', the run's fixed offsets (cycled);
  'random'; 'advance', spread over the audio from the checkpoint's training cursor.

  Returns (buffers [num, input_span], mode names [num], source offsets [num]).
  """
  c = run.config
  ds = sampling.dream_setup(c, run.sources, num)
  same = np.resize(run.same_offsets, num)
  by_mode = np.stack([sampling.seed_offsets(ds, m, jax.random.key(seed), same, run.cursor)
                      for m in range(len(config_lib.SEED_MODES))])          # [modes, num]
  modes = [c.seed_advance[i % len(c.seed_advance)] for i in range(num)]
  offsets = by_mode[[config_lib.SEED_MODES.index(m) for m in modes], np.arange(num)]
  return run.sources.seeds[slicing.seed_indices(run.sources.g, offsets)], modes, offsets


class Stepper:
  """The one way a trained run's dreams are stepped (sample, watch and stream): S streams,
  `steps` dream steps per jitted dispatch (compiled once), wandering among the run's snapshots
  when it has them (core/wander.py), else with its final params. Piece i of a dream started with
  key `rng` draws with fold_in(rng, i); its wander path with fold_in(rng, 2**30), one for the
  whole dream, so pieces join seamlessly."""

  def __init__(self, run: TrainedRun, num_streams: int, steps: int, dream_noise=None,
               temperature=None):
    """`dream_noise` (None: the run's config.dream_noise) is the std of the noise added to each
    predicted value, `temperature` (None: config.temperature) a distributional head's sampling
    temperature; both may also be given to `dispatch` as traced values (live knobs)."""
    c = run.config
    self.run, self.num_streams, self.steps = run, num_streams, steps
    self.ds = sampling.dream_setup(c, run.sources, num_streams, dream_noise, temperature)
    self.ws = wander.setup_of(c, run.sources.g, run.snapshots)
    self.params = run.params if self.ws is None else run.snapshots
    self._scan = jax.jit(functools.partial(wander.piece, run.model, self.ds, self.ws, steps))

  def start(self, buffers: np.ndarray, rng) -> None:
    """Start a dream from seed buffers [S, input_span] (zero LSTM state) with key `rng`."""
    self.state = (jnp.asarray(buffers, jnp.float32),
                  models.zero_carry(self.run.config, (self.num_streams,)))
    self.rng, self.count = rng, 0

  def dispatch(self, *knobs):
    """Dispatch the next piece; returns its [steps, S, new_per_step] values (a device array,
    still being computed). `knobs`: () or (noise, temperature) as traced float32 scalars."""
    buffers, carry, out = self._scan(self.params, *self.state,
                                     jax.random.fold_in(self.rng, self.count),
                                     jax.random.fold_in(self.rng, 1 << 30),
                                     jnp.int32(self.count * self.steps), *knobs)
    self.state, self.count = (buffers, carry), self.count + 1
    return out


class Dreamer:
  """A dream of a fixed batch size and length, in pieces of at most PIECE_STEPS (a Stepper:
  compiled once, reused for every call), with progress and a stop between pieces."""

  def __init__(self, run: TrainedRun, num_streams: int, seconds: float, dream_noise=None,
               temperature=None):
    """A dreamer of `num_streams` streams and `seconds` each (see Stepper for the knobs)."""
    self.run, self.seconds = run, seconds
    self.num_steps = config_lib.dream_steps(run.config, run.sources.g, seconds)
    self.piece = min(self.num_steps, PIECE_STEPS)
    self.stepper = Stepper(run, num_streams, self.piece, dream_noise, temperature)
    self.ds, self.ws = self.stepper.ds, self.stepper.ws

  def __call__(self, buffers: np.ndarray, rng, progress=None, stop=None) -> np.ndarray:
    """buffers [S, input_span] -> dream values [S, num_steps * new_per_step], or fewer steps
    (whole pieces, at least one) when `stop` (a signals.StopSignals) was requested."""
    self.stepper.start(buffers, rng)
    pieces = []
    for i in range(-(-self.num_steps // self.piece)):
      if i and stop is not None and stop.requested:
        break
      pieces.append(np.asarray(self.stepper.dispatch()))
      if progress:
        progress(min((i + 1) * self.piece, self.num_steps), self.num_steps)
    values = np.concatenate(pieces)[:self.num_steps]
    return sampling.to_stream_values(values)
