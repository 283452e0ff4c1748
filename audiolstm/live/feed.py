"""The dream of `audiolstm play`, computed ahead in its own thread at the device rate.

A `DreamFeed` keeps up to AHEAD_S of dream audio ready for the play loop, which takes a block of
it for each block of input and never waits for the model. Its engine is a trained run's dream
(`DreamEngine`: stream mode's LiveDreamer, the knobs live) or the concurrent algorithm fed by the
player (`LearnEngine`: a train step and a dream step per iteration, on a window of the newest
audio). Their values become sound as stream mode's do (stream.Chain: synthesis, crossfade, the
recording's loudness, a look-ahead limiter), then are resampled to the device rate and, for
`resonate`, split into bands (audio/bands.py). The split and the resampler delay only the dream,
which is ahead anyway: what the player hears first of it waits on one piece of the model.
"""
import math
import threading
import time

import jax
import jax.numpy as jnp
import numpy as np

from audiolstm.config.settings import ConfigError
from audiolstm.core import dataset
from audiolstm.core import program as program_lib
from audiolstm.core import sampling
from audiolstm.core import sharding as sharding_lib
from audiolstm.live import stream

AHEAD_S = 0.25          # dream audio kept ready (at most; one piece more while it arrives)
START_S = 0.05          # a fresh dream is heard once this much is ready (no gap after its start)
KEEP_UP = 1.5           # learn: the real-time factor its automatic training rate aims above
RESAMPLE_QUALITY = 'MQ'  # soxr: 36 ms of delay from 11025 to 48000 Hz (HQ: 64 ms)


class DreamEngine:
  """A trained run's dream: pieces of about stream.PIECE_S, re-seedable."""

  learns = False

  def __init__(self, run, seed: int):
    self.run, self.dreamer = run, stream.LiveDreamer(run, 1, seed)
    self.loss = None

  def seed(self, buffers: np.ndarray) -> None:
    """Start from seed buffers [1, input_span]."""
    self.dreamer.seed(buffers)

  def next(self, noise: float, temperature: float) -> np.ndarray:
    """[1, k] the next piece's dream values."""
    return self.dreamer.next(noise, temperature)


class LearnEngine:
  """The concurrent algorithm on the player's sound: the run's training state continues on a
  window of the newest audio at the model rate (as long as its recording: the recording at
  first, then the player's audio scrolling in), one train step and one dream step per
  iteration, about stream.PIECE_S of dream per dispatch. The dreams re-seed from that window
  as training's do."""

  learns = True

  def __init__(self, run, state, seed: int, every: int = 0):
    """every: a train step before every `every`-th dream step (0: as often as real time
    allows, adjusted as it plays: `keep_up`)."""
    c, sources = run.config, run.sources
    self.every, self.auto = max(1, every), every == 0
    if c.label_files:
      raise ConfigError('--respond=learn needs a run that predicts its own recording; this one '
                        'was trained on config.label_files')
    self.run, self.program = run, run.program
    self.window = np.asarray(sources.seed_audio, np.float32).copy()       # [N] model rate
    if len(dataset.to_source(c, self.window, sources.scale)[0]) != len(sources.inputs):
      raise ConfigError('--respond=learn needs a run trained on one recording without a '
                        'validation split (config.val_fraction=0) or seed_files')
    self.data = program_lib.device_data(sources, self.program.mesh)
    self.source = np.asarray(sources.inputs)
    self.frames = self.source.reshape(-1, sources.g.unit)   # fft: [F, bins]
    self.pending = np.zeros(0, np.float32)      # heard, not yet a whole hop
    self.state = state.replace(rng=jax.random.fold_in(state.rng, seed))
    self.steps = max(1, min(self.program.setup.chunk_size, stream.LiveDreamer.steps_for(run)))
    self.fresh, self.lock, self.loss, self.iterations = [], threading.Lock(), None, 0

  def seed(self, buffers: np.ndarray) -> None:
    del buffers   # the dreams re-seed from the window, as training's do

  def hear(self, audio: np.ndarray) -> None:
    """Add [n] audio at the model rate (from the play loop's thread)."""
    with self.lock:
      self.fresh.append(np.asarray(audio, np.float32))

  def _scroll(self, chunk: np.ndarray) -> None:
    """Scroll [m] audio into the window and its source: raw audio as it is; fft only the new
    frames (m a whole number of hops), computed from the window's tail."""
    c, sources = self.run.config, self.run.sources
    self.window = np.concatenate([self.window[len(chunk):], chunk])
    if not c.use_fft:
      self.source = self.window
      return
    bins = self.frames.shape[1]
    k = len(chunk) // c.hop_size
    tail = self.window[(len(self.frames) - k) * c.hop_size:]
    new = dataset.to_source(c, tail, sources.scale)[0].reshape(-1, bins)[:k]
    self.frames = np.concatenate([self.frames[k:], new])
    self.source = self.frames.reshape(-1)

  def _update_data(self) -> None:
    """Scroll the audio heard since the last call (fft: whole hops of it) into the window and
    put the new source on the device."""
    with self.lock:
      pending = np.concatenate([self.pending] + self.fresh)
      self.fresh = []
    unit = self.run.config.hop_size if self.run.config.use_fft else 1
    take = len(pending) // unit * unit
    chunk, self.pending = pending[:take], pending[take:]
    chunk = chunk[max(0, take - len(self.window) // unit * unit):]   # at most a window's worth
    if not len(chunk):
      return
    self._scroll(chunk)
    source = jax.device_put(self.source, sharding_lib.replicated(self.program.mesh))
    self.data = self.data.replace(inputs=source, labels=source, seeds=source)  # shapes as built

  def next(self, noise: float, temperature: float) -> np.ndarray:
    """[1, k] the dream values of the next dream steps, a train step before every `every`-th
    (the knobs are the run's own here)."""
    del noise, temperature
    self._update_data()
    self.state, losses, values = self.program.learn_chunk(self.state, self.data, self.steps,
                                                          jnp.int32(self.every))
    losses = sharding_lib.to_host(losses)[:self.steps]
    trained = losses[~np.isnan(losses)]
    if not np.all(np.isfinite(trained)):
      raise program_lib.TrainingDiverged('the loss became non-finite while learning from the '
                                         'player: play with --respond=answer or resonate')
    if len(trained):
      self.loss, self.iterations = float(np.mean(trained)), self.iterations + len(trained)
    values = sharding_lib.to_host(values)[:self.steps, :1]
    return sampling.to_stream_values(values)

  def keep_up(self, realtime: float, guess: bool = False) -> None:
    """Auto `every` (--learn_every=0): train less often while the dream is slower than
    KEEP_UP x real time, more often again when it is well ahead (guess: jump to the rate that
    `realtime`, measured at this `every`, suggests)."""
    if self.auto and guess and realtime < KEEP_UP:
      self.every = max(1, math.ceil(self.every * KEEP_UP / max(realtime, 1e-3)))
    elif self.auto and realtime < KEEP_UP:
      self.every += 1
    elif self.auto and realtime > 2 * KEEP_UP * self.every / (self.every + 1) and self.every > 1:
      self.every -= 1


class _Ready:
  """What the Chain writes: the dream at the model rate -> device rate (-> bands), kept ready."""

  def __init__(self, model_rate: int, rate: int, splitter=None):
    import soxr  # pylint: disable=g-import-not-at-top  # librosa's resampler
    self.resampler = soxr.ResampleStream(model_rate, rate, 1, dtype='float32',
                                         quality=RESAMPLE_QUALITY)
    self.splitter, self.parts, self.held = splitter, [], 0
    self.lock, self.started = threading.Lock(), False

  def write(self, audio: np.ndarray) -> None:
    """[1, n] level-matched dream audio at the model rate."""
    x = self.resampler.resample_chunk(np.ascontiguousarray(audio[0], np.float32))
    if self.splitter is not None:
      x = self.splitter.push(x)                   # [B, m]
    if x.shape[-1]:
      with self.lock:
        self.parts.append(x)
        self.held += x.shape[-1]

  def take(self, n: int):
    """Up to n samples ([m] or [B, m], m <= n) from the front (None: nothing there)."""
    with self.lock:
      if not self.parts:
        return None
      x = np.concatenate(self.parts, axis=-1) if len(self.parts) > 1 else self.parts[0]
      out, rest = x[..., :n], x[..., n:]
      self.parts, self.held = ([rest] if rest.shape[-1] else []), rest.shape[-1]
    self.started = True
    return out


class DreamFeed:
  """An engine's dream kept AHEAD_S ready at the device rate by a thread of its own.

    feed = DreamFeed(run, DreamEngine(run, seed), 48000, noise=0.0, temperature=1.0, seed=seed)
    feed.start()                         # compiles: the first piece is dreamed here
    x, got, generation = feed.take(256)  # [256] (or [B, 256] with band edges), zero-padded
    feed.seed(buffers)                   # a fresh dream (a new generation) from [1, input_span]
  """

  def __init__(self, run, engine, rate: int, noise: float, temperature: float, seed: int,
               edges=None, stillness: bool = False):
    self.run, self.engine, self.rate, self.edges = run, engine, rate, edges
    self.noise, self.temperature, self.seed_value = noise, temperature, seed
    self.stillness = stillness
    self.cv, self.requests, self.paused, self.closed = threading.Condition(), [], False, False
    self.asked_generation = 0
    self.generation, self.reseeds, self.starved, self.error = 0, 0, 0, None
    self.dreamed, self.compute_s = 0, 0.0      # model-rate samples dreamed, seconds spent
    self.recent = (0.0, 0)                     # (seconds, samples) since the last keep_up
    self.ready = self.chain = self.floor_db = None
    self._new_chain()
    self.thread = threading.Thread(target=self._run, name='dream', daemon=True)

  def _preset(self, chain, buffers) -> None:
    """Raw approaches with a matched gate: the floors the warm-up matched, primed with the end of
    the seed buffers [1, input_span] (no 2 s of matching before a re-seeded dream is heard)."""
    if self.floor_db is not None:
      chain.synth.preset_floor(self.floor_db, None if buffers is None else buffers)

  def _new_chain(self, generation: int = 0, buffers=None) -> None:
    """A fresh path from dream values to ready audio (no crossfade with what came before), and
    its generation, swapped in together."""
    run, sr, splitter = self.run, self.run.config.sample_rate, None
    if self.edges is not None:
      from audiolstm.audio import bands  # pylint: disable=g-import-not-at-top  # resonate only
      splitter = bands.BandSplitter(self.rate, self.edges)
    ready = _Ready(sr, self.rate, splitter)
    chain = stream.Chain(run, 1, ready, self.seed_value + generation)
    if not self.stillness:   # nothing to crossfade: no audio held back for it
      chain.fade = stream.Crossfade(1, 0)
    if self.stillness:
      chain.stillness = stream.Stillness(run.sources.seed_audio, sr, 1)
    chain.new_seed()
    self._preset(chain, buffers)
    with self.cv:
      self.ready, self.chain, self.generation = ready, chain, generation

  def _piece(self) -> None:
    """Dream one piece into `ready`; re-seed from the training audio where it has settled."""
    t, before = time.perf_counter(), self.chain.written + self.chain.held
    self.chain.push(self.engine.next(self.noise, self.temperature))
    spent, made = time.perf_counter() - t, self.chain.written + self.chain.held - before
    self.compute_s, self.dreamed = self.compute_s + spent, self.dreamed + made
    self.recent = (self.recent[0] + spent, self.recent[1] + made)
    if self.engine.learns and self.recent[1] >= self.run.config.sample_rate:   # each second
      self.engine.keep_up(self.recent[1] / self.run.config.sample_rate / self.recent[0])
      self.recent = (0.0, 0)
    if self.chain.settled and not self.engine.learns:
      key = jax.random.fold_in(jax.random.key(self.seed_value), 1000 + self.reseeds)
      buffers = stream.random_training_seed(self.run, 1, key)
      self.engine.seed(buffers)
      self.chain.new_seed()
      self._preset(self.chain, buffers)
      self.reseeds += 1

  def start(self, buffers: np.ndarray, warm: bool = True) -> None:
    """Seed [1, input_span] and go on in the thread (warm: dream the first piece here first,
    compiling, so that the play loop starts with the dream ready)."""
    self.engine.seed(buffers)
    if self.stillness:   # compile the re-seed's gathers now, not in the middle of the dream
      stream.random_training_seed(self.run, 1, jax.random.key(self.seed_value))
    if warm:
      self._piece()
      while self.chain.synth.pending is not None:   # the gate's floors matched, once
        self.chain.push(self.engine.next(self.noise, self.temperature))
      gate = self.chain.synth.gate
      self.floor_db = None if gate is None or self.engine.learns else gate.floor_db
      self.dreamed, self.compute_s = 0, 0.0   # the compilation is not the dream's speed
      if self.engine.learns:                  # a first guess of the training rate
        self._piece()
        self.engine.keep_up(self.realtime, guess=True)
    self.thread.start()

  def _apply(self, requests: list) -> None:
    for buffers, generation in requests:
      self.engine.seed(buffers)
      self._new_chain(generation, buffers)

  def _run(self) -> None:
    try:
      while True:
        with self.cv:
          while not self.closed and not self.requests and (
              self.paused or self.ready.held >= AHEAD_S * self.rate):
            self.cv.wait(0.005)
          if self.closed:
            return
          requests = list(self.requests)
        self._apply(requests)
        with self.cv:
          del self.requests[:len(requests)]
        if not self.paused:
          self._piece()
    except Exception as e:  # pylint: disable=broad-except  # re-raised in the play loop
      self.error = e

  def check(self) -> None:
    """Raise, in the play loop, what stopped the thread."""
    if self.error is not None:
      raise self.error

  def seed(self, buffers: np.ndarray) -> int:
    """Ask for a fresh dream from [1, input_span] (it also resumes a paused feed); returns the
    generation its audio will carry."""
    with self.cv:
      self.asked_generation += 1
      self.requests.append((buffers, self.asked_generation))
      self.paused = False
      self.cv.notify()
      return self.asked_generation

  def pause(self, paused: bool = True) -> None:
    with self.cv:
      self.paused = paused
      self.cv.notify()

  def take(self, n: int) -> tuple:
    """(audio [n] or [B, n] zero-padded, samples that were there, their generation)."""
    with self.cv:
      ready, generation, asked = self.ready, self.generation, bool(self.requests)
    x = ready.take(n) if ready.started or ready.held >= START_S * self.rate else None
    got = 0 if x is None else x.shape[-1]
    if got < n and ready.started and not (self.paused or asked):
      self.starved += 1
    shape = (n,) if self.edges is None else (len(self.edges) - 1, n)
    out = np.zeros(shape, np.float32)
    if got:
      out[..., :got] = x
    return out, got, generation

  @property
  def realtime(self) -> float:
    """Seconds dreamed per second of compute so far (nan before the first piece)."""
    sr = self.run.config.sample_rate
    return self.dreamed / sr / self.compute_s if self.compute_s else float('nan')

  def close(self) -> None:
    with self.cv:
      self.closed = True
      self.cv.notify()
    if self.thread.is_alive():
      self.thread.join(timeout=5.0)
