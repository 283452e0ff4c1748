"""`python -m audiolstm.tools.bench --realtime`: which model sizes dream in real time here.

For each approach and model size (seg_len, with hidden_size scaled alike from the approach's
default config; random parameters, as speed does not depend on training; wandering among
snapshots as a trained default does), the stream mode's
dream loop (stream.LiveDreamer, the same pieces and jitted scan) is timed after compilation at
1 and at N streams. A row gives the dream samples per second of all streams together and the
real-time factor of each stream (its samples per second over the sample rate): at 1x or more a
stream keeps up with a player. A line after the table times the level chain (loudness.Loudness)
alone at the same stream counts.

--overhead times the default column model both as the bare loop and as the whole stream mode
(audio, crossfade, level, WAV writing, status line and a watched folder) and prints the ratio.
"""
import os
import tempfile
import time

import numpy as np

from audiolstm import configs

SAMPLE_RATE = 11025


# ------------------------------------------------------------------------------------------
# The benchmark signal and the configurations
# ------------------------------------------------------------------------------------------
def synthetic_signal(seconds=20.0, sr=SAMPLE_RATE, seed=0):
  """The references' test signal as their WAV holds it: [seconds * sr] float32, int16-quantised.

  Plucked notes every 1.25 s (MIDI 45 52 57 60 64 57 55 48, cycled), each with up to six slightly
  inharmonic partials (amplitude 0.6^h, random phase) and an exponential decay, plus 1e-3 noise;
  peak-normalised to 1/1.05. Draws from NumPy's RandomState in the references' order, so the
  samples are identical to theirs.

  Args:
    seconds: length in seconds.
    sr: sample rate in Hz.
    seed: seed of the RandomState (phases and noise).

  Returns:
    [int(seconds * sr)] float32 samples, multiples of 1 / 32768.
  """
  rng = np.random.RandomState(seed)
  n = int(seconds * sr)
  t = np.arange(n) / sr
  y = np.zeros(n)
  pitches = (45, 52, 57, 60, 64, 57, 55, 48)
  for k, start in enumerate(np.arange(0.0, seconds, 1.25)):
    f0 = 440.0 * 2.0 ** ((pitches[k % len(pitches)] - 69) / 12.0)
    on = t >= start
    tt = t[on] - start
    tone = np.zeros_like(tt)
    for h in range(1, 7):
      f = f0 * h * (1.0 + 0.0005 * h * h)
      if f >= sr / 2:
        break
      tone += 0.6 ** h * np.sin(2 * np.pi * f * tt + rng.uniform(0, 2 * np.pi))
    y[on] += tone * np.exp(-tt * (2.0 + 0.3 * (k % 3)))
  y += 1e-3 * rng.randn(n)
  y /= np.max(np.abs(y)) * 1.05
  # As written to and read back from a 16-bit WAV by the references.
  return (y.astype(np.float32) * 32767).astype(np.int16).astype(np.float32) / 32768.0

SIZES = (128, 256, 512, 1024, 2048)


def bench_run(approach: str, size: int = None, seed: int = 0):
  """An trained.TrainedRun of configs/APPROACH.py at seg_len `size` (None: the config's own;
  hidden_size scaled from the config's), with random parameters and the benchmark signal as its
  audio."""
  import jax  # pylint: disable=g-import-not-at-top  # jax and a run load only when a timing runs
  # jax and a run load only when a timing runs
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import dataset  # pylint: disable=g-import-not-at-top
  # jax and a run load only when a timing runs
  from audiolstm.config import defaults  # pylint: disable=g-import-not-at-top
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  # jax and a run load only when a timing runs
  from audiolstm.core import program as program_lib  # pylint: disable=g-import-not-at-top
  c = defaults.load_config_module(configs.path(approach)).get_config()
  size = size or c.seg_len
  hidden = c.hidden_size or c.seg_len
  c.hidden_size = max(1, round(hidden * size / c.seg_len))
  if c.use_fft:
    c.window_size = size
  c.seg_len, c.input_files, c.seed = size, (), seed
  c, g = config_lib.prepare(c)
  sources = dataset.load_sources(c, g, load=lambda paths, sr: synthetic_signal())
  program = program_lib.build(c, sources)
  state = program.init(program_lib.device_data(sources), jax.random.key(seed))
  # Wander snapshots (as a trained run has them): two suffice, the per-step cost is the same.
  snapshots = (jax.tree.map(lambda x: jax.numpy.stack([x, 0.5 * x]), state.params)
               if c.wander_snapshots else None)
  return trained.TrainedRun(path='(benchmark)', config=c, sources=sources, model=program.model,
                              params=state.params, same_offsets=np.asarray(state.same_offsets),
                              cursor=0, step=0, snapshots=snapshots, program=program,
                              state=state)


def time_bare(run, streams: int, budget_s: float) -> float:
  """Dream samples per second of each stream: LiveDreamer pieces for about budget_s after one
  compiling piece (at least one timed piece)."""
  # jax and a run load only when a timing runs
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  from audiolstm.live import stream  # pylint: disable=g-import-not-at-top
  dreamer = stream.LiveDreamer(run, streams, seed=0)
  dreamer.seed(trained.training_seeds(run, streams, 0)[0])
  dreamer.next(0.0)                                    # compiles (and dispatches one ahead)
  values, t0 = 0, time.perf_counter()
  while values == 0 or time.perf_counter() - t0 < budget_s:
    values += dreamer.next(0.0).shape[1]
  # jax and a run load only when a timing runs
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  per_step = config_lib.samples_per_dream_step(run.config, run.sources.g)
  samples = values // run.sources.g.new_per_step * per_step
  return samples / (time.perf_counter() - t0)


def time_stream(run, streams: int, budget_s: float) -> float:
  """As time_bare, through the whole stream mode (stream.stream's loop writing a WAV to
  /dev/null, its status line to /dev/null, a watched empty folder, --reseed=auto's Stillness;
  re-seeds themselves are not made, so that both time the same dream)."""
  # jax and a run load only when a timing runs
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  from audiolstm.live import control as live_control  # pylint: disable=g-import-not-at-top
  # jax and a run load only when a timing runs
  from audiolstm.live import stream  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import wavstream  # pylint: disable=g-import-not-at-top
  sr = run.config.sample_rate
  with tempfile.TemporaryDirectory() as watch, open(os.devnull, 'wb') as sink, \
      open(os.devnull, 'w', encoding='utf-8') as quiet:
    outputs = stream.Outputs([(wavstream.WavWriter.pipe(sink, streams, sr), slice(None))], 'null')
    controls = live_control.Controls(watch_dir=watch)
    dreamer, chain = stream.LiveDreamer(run, streams, 0), stream.Chain(run, streams, outputs, 0)
    chain.stillness = stream.Stillness(run.sources.seed_audio, sr, streams)   # --reseed=auto
    status = stream.Status(sr, streams, stream=quiet)
    dreamer.seed(trained.training_seeds(run, streams, 0)[0])
    chain.new_seed()
    chain.push(dreamer.next(0.0))                      # compiles
    done, t0 = chain.written, time.perf_counter()
    while chain.written == done or time.perf_counter() - t0 < budget_s:
      chain.push(dreamer.next(0.0))
      status.update(chain.written, 0.0)
      controls.poll()
    return (chain.written - done) / (time.perf_counter() - t0)


def time_level(streams: int, sample_rate: int, budget_s: float, block_s: float = 0.1) -> float:
  """Samples per second of each stream through the level chain (loudness.Loudness, as stream
  mode's Chain) in blocks of block_s of noise, for about budget_s (at least one block)."""
  # jax and a run load only when a timing runs
  from audiolstm.audio import loudness  # pylint: disable=g-import-not-at-top
  rec = loudness.RecordingLevel(rms_db=-20.0, loud_db=-10.0, attack_db=loudness.RISE_DB)
  chain = loudness.Loudness(streams, sample_rate, rec)
  rng = np.random.default_rng(0)
  block = (0.3 * rng.standard_normal((streams, round(block_s * sample_rate)))).astype(np.float32)
  chain.push(block)                                    # the start (a shorter first block out)
  samples, t0 = 0, time.perf_counter()
  while samples == 0 or time.perf_counter() - t0 < budget_s:
    samples += chain.push(block).shape[1]
  return samples / (time.perf_counter() - t0)


def level_line(stream_counts, sample_rate: int, budget_s: float) -> str:
  """One line: the level chain's real-time factor per stream at each stream count."""
  cells = []
  for n in stream_counts:
    rtf = time_level(n, sample_rate, budget_s) / sample_rate
    cells.append(f'{n} stream{"s" if n > 1 else ""} ' + (f'{rtf:,.0f}x' if rtf >= 10 else
                                                           f'{rtf:.2g}x'))
  return (f'level chain (loudness.Loudness, 0.1 s blocks at {sample_rate} Hz), real time per '
          'stream: ' + ', '.join(cells))


def table_row(approach: str, size: int, rates: dict, sample_rate: int) -> str:
  """One markdown row: rates {streams: samples/s of each stream}."""
  cells = []
  for streams, per_stream in rates.items():
    rtf = per_stream / sample_rate
    cells += [f'{per_stream * streams:,.0f}', f'{rtf:.2f}x' if rtf >= 0.1 else f'{rtf:.2g}x']
  return f'| {approach} | {size} | ' + ' | '.join(cells) + ' |'


def table_header(stream_counts) -> list:
  """The markdown table's two header lines."""
  heads = []
  for n in stream_counts:
    heads += [f'samples/s, {n} stream{"s" if n > 1 else ""}', f'real time / stream, {n}']
  return ['| approach | seg_len | ' + ' | '.join(heads) + ' |', '|' + ' --- |' * (2 + len(heads))]


def realtime(approaches, sizes, stream_counts=(1, 8), budget_s: float = 2.0, log=print) -> list:
  """Print the table (header, then one row per approach and size as it is measured); returns
  the rows as (approach, size, {streams: samples/s of each stream})."""
  import jax  # pylint: disable=g-import-not-at-top  # jax and a run load only when a timing runs
  log(f'dream speed on {jax.devices()[0].device_kind} ({jax.default_backend()}, '
      f'{os.cpu_count()} CPUs), after compilation, about {budget_s:g} s timed per cell')
  for line in table_header(stream_counts):
    log(line)
  rows = []
  for approach in approaches:
    for size in sizes:
      run = bench_run(approach, size)
      rates = {n: time_bare(run, n, budget_s) for n in stream_counts}
      log(table_row(approach, size, rates, run.config.sample_rate))
      rows.append((approach, size, rates))
  log(level_line(stream_counts, SAMPLE_RATE, min(budget_s, 0.5)))
  return rows


def overhead(approach: str = 'column', budget_s: float = 5.0, log=print) -> float:
  """Print and return the stream mode's cost over the bare loop (the approach's default model,
  1 stream): 1 - stream rate / bare rate, each the best of three runs of budget_s."""
  run = bench_run(approach)
  bare = max(time_bare(run, 1, budget_s) for _ in range(3))
  full = max(time_stream(run, 1, budget_s) for _ in range(3))
  sr = run.config.sample_rate
  cost = 1.0 - full / bare
  log(f'{approach} seg_len {run.config.seg_len}, 1 stream: bare dream loop {bare / sr:.2f}x real '
      f'time, whole stream mode {full / sr:.2f}x: streaming, status and controls cost '
      f'{100 * cost:.1f} %')
  return cost
