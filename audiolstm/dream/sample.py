"""Dreaming from a trained run without training: sample mode and watch mode (dissertation 6.2.4).

Both load the resolved config and the newest checkpoint of a work directory, build the seed
buffers with the same index functions as training, and run the dream as one jitted scan over a
batch of streams (in fixed-length pieces, so the program compiles once and progress is shown).
"""
import json
import math
import os
import time

import jax
import numpy as np

from audiolstm import files
from audiolstm.audio import audio_io
from audiolstm.audio import loudness
from audiolstm.config import settings as config_lib
from audiolstm.config.settings import ConfigError
from audiolstm.core import dataset
from audiolstm.core import wander
from audiolstm.dream import trained
from audiolstm.run import outputs
from audiolstm.run import rundir
from audiolstm.run import signals


def _write(writer: outputs.DreamWriter, name: str, values: np.ndarray, seed: int, i: int,
           seed_audio=None) -> str:
  return writer.write(name, values, np.random.default_rng([seed, 7, i]), seed_audio=seed_audio)


def sample_seeds(run: trained.TrainedRun, seed_files, num: int, seed: int):
  """Seeds of `num` dreams: from `seed_files` (dream i from file i % len, its start) or, with
  none, from the training audio (training_seeds).

  Returns (buffers [num, input_span], labels [num] (file stem or seed mode), seed audio [num] of
  [m] samples each: the audio from each seed on, drawn above its dream's spectrogram).
  """
  c, g = run.config, run.sources.g
  if not seed_files:
    buffers, labels, offsets = trained.training_seeds(run, num, seed)
    spans = [dataset.seed_audio_span(c, g, int(o)) for o in offsets]
    return buffers, labels, [run.sources.seed_audio[lo:] for lo, _ in spans]
  audios = [audio_io.load_audio(f, c.sample_rate, source='--seed_files') for f in seed_files]
  seeds = [trained.seed_from_audio(run, a, f) for a, f in zip(audios, seed_files)]
  pick = [i % len(seed_files) for i in range(num)]
  labels = [os.path.splitext(os.path.basename(seed_files[k]))[0] for k in pick]
  return np.stack([seeds[k] for k in pick]), labels, [audios[k] for k in pick]


def check_dream_seconds(dream_seconds) -> None:
  """ConfigError (one line) unless dream_seconds is None (the run's config) or a finite number
  > 0."""
  if dream_seconds is not None and not (math.isfinite(dream_seconds) and dream_seconds > 0):
    raise ConfigError(f'--dream_seconds={dream_seconds} must be a finite number > 0 (seconds of '
                      "each dream; leave it out for the run's config.dream_seconds)")


def check_temperature(temperature) -> None:
  """ConfigError (one line) unless temperature is None (the run's config) or a number >= 0."""
  if temperature is not None:
    config_lib.check_temperature(temperature, '--temperature')


def check_dream_noise(dream_noise) -> None:
  """ConfigError (one line) unless dream_noise is None (the run's config) or a number >= 0."""
  if dream_noise is not None and not (math.isfinite(dream_noise) and dream_noise >= 0):
    raise ConfigError(f'--dream_noise={dream_noise} must be >= 0 (the std of the noise added to '
                      "each predicted value; 0 turns it off; leave it out for the run's config)")


def sample(workdir, seed_files=(), num_dreams=4, dream_seconds=None, out_dir=None, seed=None,
           log=print, dream_noise=None, temperature=None) -> list:
  """Dream `num_dreams` outputs of `dream_seconds` from the newest checkpoint of `workdir`.

  Seeds come from `seed_files` (dream i from file i % len, its first input matrix) or from the
  training audio with the configured seed modes. All dreams run batched in one jitted scan.
  `dream_noise` (None: the run's config.dream_noise) is the std of the noise added to each
  predicted value before it is fed back; `temperature` (None: config.temperature) the sampling
  temperature of a distributional head.
  Returns the WAV paths (in out_dir, default WORKDIR/samples; never over earlier files).
  """
  if num_dreams < 1:
    raise ConfigError(f'--num_dreams={num_dreams} must be at least 1')
  run, seed, seconds = _open(workdir, log, dream_seconds, seed, dream_noise, temperature,
                             num_dreams)
  buffers, labels, seed_audio = sample_seeds(run, seed_files, num_dreams, seed)
  out_dir = files.absolute(out_dir or os.path.join(run.path, 'samples'))
  files.makedirs(out_dir)
  return _locked(out_dir, lambda: _sample(run, buffers, labels, seed_audio, seconds, out_dir,
                                          seed, log, (dream_noise, temperature)))


def _open(workdir, log, dream_seconds, seed, dream_noise, temperature, num_dreams: int) -> tuple:
  """The opening of sample and watch: check the knobs (one-line ConfigErrors), load the run,
  and check that `num_dreams` dreams of the seconds asked fit in memory. Returns (run, seed,
  seconds) with the run's own seed and dream_seconds where none were given."""
  check_dream_seconds(dream_seconds)
  check_dream_noise(dream_noise)
  check_temperature(temperature)
  run = trained.load_run(workdir, log)
  c = run.config
  seed = c.seed if seed is None else seed
  seconds = c.dream_seconds if dream_seconds is None else dream_seconds
  what = f'--dream_seconds={seconds:g}'
  what = f'--num_dreams={num_dreams} x {what}' if num_dreams > 1 else what
  config_lib.check_dream_memory(c, run.sources.g, num_dreams, seconds, what)
  return run, seed, seconds


def _locked(out_dir: str, work):
  """work() with the output folder locked against another sample or watch; a full disk is one
  line (the dreams written are kept)."""
  try:
    with rundir.Lock(out_dir, '--out_dir', 'sample or watch'):
      return work()
  except OSError as e:
    rundir.raise_if_disk_full(e, out_dir, 'run the same command (the dreams written are kept)')
    raise


def _sample(run: trained.TrainedRun, buffers, labels, seed_audio, seconds: float, out_dir: str,
            seed: int,
            log, knobs) -> list:
  """sample's dream and files in its locked out_dir (buffers [num, input_span]; knobs: the
  dream noise and temperature, None for the config's)."""
  c, num_dreams = run.config, len(buffers)
  t0 = time.perf_counter()
  dreamer = trained.Dreamer(run, num_dreams, seconds, *knobs)
  noise = f', dream_noise {dreamer.ds.dream_noise:g}' if dreamer.ds.dream_noise else ''
  if dreamer.ds.dist != 'mse':
    noise += f', temperature {dreamer.ds.temperature:g}'
  if dreamer.ws is not None:
    noise += f'; {wander.describe(dreamer.ws, c)}'
  progress = outputs.Progress(dreamer.num_steps, log, every_s=1.0, label='dream step',
                              unit='steps')
  with signals.StopSignals() as stop:
    log(f'dreaming {num_dreams} x {seconds:g} s from {run.path} (iteration {run.step}{noise}) '
        '...')
    values = dreamer(buffers, jax.random.key(seed),
                     lambda done, total: progress.update(done, force=done == total), stop=stop)
    writer = outputs.DreamWriter(c, run.sources.scale, out_dir, flatness=run.sources.flatness,
                                 level=loudness.of_sources(run.sources, c))
    paths = [_write(writer, f'{c.approach}_sample_{labels[i]}_{i:03d}.wav', values[i], seed, i,
                    seed_audio[i]) for i in range(num_dreams)]
  dt = time.perf_counter() - t0
  done_s = values.shape[1] / run.sources.g.new_per_step * config_lib.samples_per_dream_step(
      c, run.sources.g) / c.sample_rate
  if stop.requested:
    log(f'stopped by {stop.requested}: wrote the finished part of each dream ({done_s:.2f} of '
        f'{seconds:g} s) to {out_dir}')
  else:
    log(f'wrote {num_dreams} dream(s) of {seconds:g} s to {out_dir} in {dt:.1f} s '
        f'({num_dreams * seconds / dt:.1f} s of audio per second, compilation included)')
  return paths


def stable_files(watch_dir: str, seen_sizes: dict, settle_s: float):
  """Regular files in watch_dir (or symlinks to them) whose size and mtime have not changed for
  settle_s seconds; None when watch_dir is gone. A file that vanishes while it is looked at is
  left out."""
  now = time.time()
  ready = []
  try:
    entries = list(os.scandir(watch_dir))
  except (FileNotFoundError, NotADirectoryError):
    return None
  for entry in entries:
    try:
      if entry.name.startswith('.') or not entry.is_file():  # symlinks are followed
        continue
      st = entry.stat()
    except FileNotFoundError:
      continue
    key = (st.st_size, st.st_mtime_ns)
    if seen_sizes.get(entry.path, (None,))[0] != key:
      seen_sizes[entry.path] = (key, now)
    elif now - seen_sizes[entry.path][1] >= settle_s:
      ready.append((entry.path, key))
  return sorted(ready)


def watch(workdir, watch_dir, out_dir, dream_seconds=None, seed=None, poll_s=0.25, settle_s=1.0,
          log=print, max_files=None, dream_noise=None, temperature=None) -> int:
  """Dream from every new audio file in `watch_dir` as soon as it is completely written (its size
  and mtime unchanged for settle_s); write each result to `out_dir`. Bad, empty, too-short or
  half-written files are reported and skipped; a file is processed once (again only if it
  changes). Stops on SIGINT/SIGTERM (or after max_files). `dream_noise` and `temperature` as in
  `sample`. Returns
  the number of dreams written."""
  if not watch_dir or not os.path.isdir(watch_dir):
    raise ConfigError(f'--watch_dir={watch_dir!r} is not a directory: create it or give another')
  if not out_dir:
    raise ConfigError('--out_dir is required in watch mode: where the dreams go')
  run, seed, seconds = _open(workdir, log, dream_seconds, seed, dream_noise, temperature, 1)
  os.makedirs(out_dir, exist_ok=True)
  return _locked(out_dir, lambda: _watch(run, watch_dir, out_dir, seconds, seed, poll_s, settle_s,
                                         log, max_files, (dream_noise, temperature)))


WATCH_MEMORY = '.audiolstm-watch.json'  # in the output folder: the files already dreamt from


class WatchMemory:
  """The files a watch of one output folder has taken (dreamt from, or skipped as unusable), by
  path, size and mtime, kept in OUT/.audiolstm-watch.json so that a restarted watch does not dream
  them again (a file that changes is taken again)."""

  def __init__(self, out_dir: str):
    self.path = os.path.join(out_dir, WATCH_MEMORY)
    self.done = set()
    try:
      with open(self.path, encoding='utf-8') as f:
        self.done = {(p, tuple(key)) for p, key in json.load(f)}
    except (OSError, ValueError, TypeError):
      pass  # none yet (or unreadable: every file is new)

  def __contains__(self, item) -> bool:
    return item in self.done

  def add(self, path: str, key: tuple) -> None:
    self.done.add((path, tuple(key)))
    files.write_text_atomic(self.path, json.dumps(sorted([p, list(k)] for p, k in self.done)))


def _watch_one(run: trained.TrainedRun, dreamer: trained.Dreamer, writer: outputs.DreamWriter,
               path: str,
               seed: int, count: int, log) -> bool:
  """Dream from one watched file and write it; False (and a line saying why) if it is unusable."""
  c, name = run.config, os.path.basename(path)
  t0 = time.perf_counter()
  try:
    audio = audio_io.load_audio(path, c.sample_rate, source='the watched folder')
    buffer = trained.seed_from_audio(run, audio, name)
    buffer_audio = audio
  except (audio_io.AudioError, ConfigError) as e:
    log(f'skipped {name}: {e}')
    return False
  values = dreamer(buffer[None], jax.random.fold_in(jax.random.key(seed), count))
  out = _write(writer, f'{os.path.splitext(name)[0]}_dream.wav', values[0], seed, count,
               buffer_audio)
  log(f'{name} -> {out} ({dreamer.seconds:g} s of audio in {time.perf_counter() - t0:.2f} s)')
  return True


def _watch(run: trained.TrainedRun, watch_dir, out_dir, seconds, seed, poll_s, settle_s, log,
           max_files,
           knobs) -> int:
  """watch's loop, writing into its locked out_dir (knobs: dream noise and temperature)."""
  dreamer = trained.Dreamer(run, 1, seconds, *knobs)
  done, seen, count, taken = WatchMemory(out_dir), {}, 0, 0
  noise = f', dream_noise {dreamer.ds.dream_noise:g}' if dreamer.ds.dream_noise else ''
  log(f'watching {os.path.abspath(watch_dir)} (model of {run.path}, iteration {run.step}{noise}); '
      f'dreams of {seconds:g} s go to {os.path.abspath(out_dir)}; Ctrl-C stops'
      + (f' ({len(done.done)} file(s) already done there)' if done.done else ''))
  writer = outputs.DreamWriter(run.config, run.sources.scale, out_dir,
                               flatness=run.sources.flatness,
                               level=loudness.of_sources(run.sources, run.config))
  gone = False
  with signals.StopSignals() as stop:
    while not stop.requested and (max_files is None or taken < max_files):
      ready = stable_files(watch_dir, seen, settle_s)
      if (ready is None) != gone:
        gone = ready is None
        log(f'the watch folder {os.path.abspath(watch_dir)} is gone: waiting for it to come back'
            if gone else f'the watch folder {os.path.abspath(watch_dir)} is back: watching it')
      for path, key in ready or ():
        if (path, key) in done or stop.requested:
          continue
        done.add(path, key)
        taken += 1
        if _watch_one(run, dreamer, writer, path, seed, count, log):
          count += 1
      time.sleep(poll_s)
  log(f'stopped watching: {count} dream(s) written')
  return count
