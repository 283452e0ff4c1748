r"""Play mode: the model listens to a live player and answers, resonates or learns, in real time.

  audiolstm play --workdir=RUN [--in=DEVICE|-|take.wav] [--out=DEVICE|out.wav|-]
      [--respond=answer|resonate|learn] [--osc_port=9000] [--seconds=0] [--rate=HZ]
      [--block=256] [--gain_db=0] [--threshold_db=-40] [--pause=0.4] [--list_devices]
  audiolstm play --config=fft --respond=learn [--workdir=NEW] ...   (learn from scratch)

The loop takes a block of the player's sound (live/devices.py), records it, turns it into a block
of output with the response (live/respond.py; the dream is computed ahead by live/feed.py) and
records that too: every session writes RUN/plays/<time>/input.wav and output.wav, valid WAVs at
every moment, so that no performance is lost. The run itself is never changed: what `learn`
learned is saved as a new run, RUN/plays/<time>/run (or --workdir, from scratch).

OSC on 127.0.0.1:--osc_port: /audiolstm/respond <answer|resonate|learn>, /audiolstm/gain <dB>,
/audiolstm/noise <std>, /audiolstm/temperature <t>, /audiolstm/stop. Ctrl-C or SIGTERM stop,
closing every file valid; a sound card that disappears closes them too (exit status 1).
"""
import dataclasses
import datetime
import math
import os
import sys
import time

import numpy as np

from audiolstm import files
from audiolstm.config.settings import ConfigError
from audiolstm.dream import sample as sample_mode
from audiolstm.dream import trained
from audiolstm.live import control as live_control
from audiolstm.live import devices
from audiolstm.live import feed as feed_lib
from audiolstm.live import respond
from audiolstm.live import stream
from audiolstm.run import signals

NUM_BANDS = 24        # resonate's bands


@dataclasses.dataclass
class PlayOptions:
  """The play mode flags."""
  inp: str = 'default'       # --in: a device, '-' or a file
  out: str = 'default'       # a device, a WAV path or '-'
  respond: str = 'answer'
  osc_port: int = None
  seconds: float = 0.0       # 0: until stopped (or a file or stdin input ends)
  rate: int = None           # the device rate (None: the devices' own, or the input file's)
  block: int = 256
  gain_db: float = 0.0
  threshold_db: float = -40.0   # answer: the player plays above this level (dBFS)
  pause: float = 0.4         # answer: seconds under it that end a phrase
  learn_every: int = 0       # learn: a train step every N dream steps (0: as real time allows)
  dream_noise: float = None
  temperature: float = None
  seed: int = None
  list_devices: bool = False


def check_options(o: PlayOptions) -> None:
  """ConfigError (one line) for a flag that cannot work."""
  if o.respond not in respond.RESPONSES:
    raise ConfigError(f'--respond={o.respond} must be one of {", ".join(respond.RESPONSES)}')
  if not (math.isfinite(o.seconds) and o.seconds >= 0):
    raise ConfigError(f'--seconds={o.seconds} must be a number >= 0 (0: until Ctrl-C)')
  if o.rate is not None and not 8000 <= o.rate <= 192000:
    raise ConfigError(f'--rate={o.rate} must be a sample rate between 8000 and 192000 Hz')
  if not 16 <= o.block <= 8192:
    raise ConfigError(f'--block={o.block} must be between 16 and 8192 frames')
  if not (math.isfinite(o.gain_db) and o.gain_db <= 24):
    raise ConfigError(f'--gain_db={o.gain_db} must be a number of dB <= 24')
  if not (math.isfinite(o.pause) and o.pause > 0):
    raise ConfigError(f'--pause={o.pause} must be a number of seconds > 0')
  if o.osc_port is not None and not 1 <= o.osc_port <= 65535:
    raise ConfigError(f'--osc_port={o.osc_port} must be a UDP port between 1 and 65535')
  if not 0 <= o.learn_every <= 1000:
    raise ConfigError(f'--learn_every={o.learn_every} must be between 0 (as often as real time '
                      'allows) and 1000')
  sample_mode.check_dream_noise(o.dream_noise)
  sample_mode.check_temperature(o.temperature)


def device_rate(o: PlayOptions) -> int:
  """The rate everything runs at: --rate, else the output device's, the input device's, the
  input file's, or 48000 Hz (a stdin stream is resampled to it)."""
  if o.rate:
    return o.rate
  for spec, kind in ((o.out, 'output'), (o.inp, 'input')):
    if spec != '-' and not devices.is_file_target(spec):
      return devices.default_rate(spec, kind)
  if o.inp != '-' and os.path.isfile(o.inp):
    import soundfile  # pylint: disable=g-import-not-at-top  # librosa's reader
    try:
      return int(soundfile.info(o.inp).samplerate)
    except RuntimeError:
      pass   # not a format soundfile reads: open_input says what is wrong
  return 48000


class Session:
  """RUN/plays/<time>/: the player's input and the output as WAVs that grow (valid at every
  moment), and for learn, learn.csv (train steps, seconds, loss)."""

  def __init__(self, root: str, rate: int):
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    self.path = files.unique_path(os.path.join(root, 'plays', stamp))
    os.makedirs(self.path)
    from audiolstm.audio import wavstream  # pylint: disable=g-import-not-at-top  # a leaf
    self.input = wavstream.WavWriter.create(os.path.join(self.path, 'input.wav'), 1, rate)
    self.output = wavstream.WavWriter.create(os.path.join(self.path, 'output.wav'), 1, rate)
    self.losses = []

  def write(self, x: np.ndarray, y: np.ndarray) -> None:
    self.input.write(x[None])
    self.output.write(y[None])

  def close(self) -> None:
    """Close the WAVs, then draw session.png: the player above, the output below."""
    for w in (self.input, self.output):
      w.close()
    self._picture()
    if self.losses:
      rows = ''.join(f'{i},{t:.3f},{loss:.6g}\n' for i, t, loss in self.losses)
      files.write_text_atomic(os.path.join(self.path, 'learn.csv'),
                              'train_steps,seconds,loss\n' + rows)


  def _picture(self) -> None:
    import soundfile  # pylint: disable=g-import-not-at-top  # librosa's reader
    from audiolstm.run import plots  # pylint: disable=g-import-not-at-top  # matplotlib at the end
    x, rate = soundfile.read(self.input.f.name, dtype='float32')
    y, _ = soundfile.read(self.output.f.name, dtype='float32')
    if len(y):
      plots.spectrogram_png(os.path.join(self.path, 'session.png'), y, rate, seed_audio=x,
                            seed_label='player', title=os.path.basename(self.path))


class Status:
  """The status line on stderr once a second: response, input level, the dream's real-time
  factor, latency, underruns (and the loss while learning). Redrawn in place on a terminal."""

  def __init__(self, log=None, every_s: float = stream.STATUS_EVERY_S):
    """Lines go to stderr, or to `log` (a callable) when one is given."""
    self.stream, self.log_to = sys.stderr, log
    self.tty = log is None and self.stream.isatty()
    self.every_s, self.t_last, self.showing, self.peak_db = every_s, None, False, -120.0

  def line(self, r, feed, latency_s: float, underruns: int) -> str:
    rt = feed.realtime
    text = (f'playing: {r.name} ({r.doing}), input {self.peak_db:.0f} dBFS, dream '
            f'{rt:.2f}x real time, latency {latency_s * 1000:.0f} ms, {underruns} underruns')
    if feed.engine.loss is not None:
      every = feed.engine.every
      text += (f', loss {feed.engine.loss:.4g} after {feed.engine.iterations} train steps'
               + (f' (one per {every} dream steps)' if every > 1 else ''))
    if getattr(r, 'latencies', None):
      text += (f', answers {r.answers} (first sample {r.latencies[-1] * 1000:.0f} ms after '
               'the pause)')
    if rt < 1:
      text += '  WARNING: the dream is slower than real time: expect gaps'
    return text

  def update(self, x: np.ndarray, r, feed, latency_s: float, underruns: int) -> None:
    self.peak_db = max(self.peak_db, respond.level_db(x))
    now = time.monotonic()
    if self.t_last is None:
      self.t_last = now
    if now - self.t_last < self.every_s:
      return
    text = self.line(r, feed, latency_s, underruns)
    self.t_last, self.showing, self.peak_db = now, self.tty, -120.0
    if self.log_to is not None:
      self.log_to(text)
      return
    self.stream.write(f'\r{text}\x1b[K' if self.tty else text + '\n')
    self.stream.flush()

  def log(self, line: str) -> None:
    if self.log_to is not None:
      self.log_to(line)
      return
    if self.showing:
      self.stream.write('\n')
      self.showing = False
    self.stream.write(line + '\n')
    self.stream.flush()


class Player:
  """The responses of one session, switchable live. Each engine is built (and compiled) once: a
  switch builds a new feed around it."""

  def __init__(self, run, o: PlayOptions, rate: int, seed: int, log):
    self.run, self.o, self.rate, self.seed, self.log = run, o, rate, seed, log
    c = run.config
    self.noise = c.dream_noise if o.dream_noise is None else o.dream_noise
    self.temperature = c.temperature if o.temperature is None else o.temperature
    self.engines, self.feed, self.response = {}, None, None
    self.gain = 10.0 ** (o.gain_db / 20.0)
    self.switch(o.respond, warm=True)

  def engine(self, learns: bool):
    """The dream engine, or the learning one (built on first use)."""
    key = 'learn' if learns else 'dream'
    if key not in self.engines:
      self.engines[key] = (feed_lib.LearnEngine(self.run, self.run.state, self.seed,
                                                self.o.learn_every) if learns
                           else feed_lib.DreamEngine(self.run, self.seed))
    return self.engines[key]

  def switch(self, name: str, warm: bool = False) -> None:
    """Respond with `name` from now on (warm: compile here, before the devices open)."""
    if self.feed is not None:
      self.feed.close()
    edges = None
    if name == 'resonate':
      from audiolstm.audio import bands  # pylint: disable=g-import-not-at-top  # resonate only
      edges = bands.band_edges(self.rate, NUM_BANDS)
    self.feed = feed_lib.DreamFeed(self.run, self.engine(name == 'learn'), self.rate,
                                   self.noise, self.temperature, self.seed, edges=edges,
                                   stillness=name == 'resonate')
    self.feed.start(trained.training_seeds(self.run, 1, self.seed)[0], warm=warm)
    if name == 'answer':
      self.response = respond.Answer(self.feed, self.run, self.rate, self.o.threshold_db,
                                     self.o.pause)
    elif name == 'resonate':
      self.response = respond.Resonate(self.feed, self.rate)
    else:
      self.response = respond.Learn(self.feed, self.run, self.rate)

  def control(self, event: tuple) -> str:
    """Apply one OSC event; returns why to stop (None: go on)."""
    kind = event[0]
    if kind == 'respond' and event[1] != self.response.name:
      first = event[1] == 'learn' and 'learn' not in self.engines
      self.log(f'responding with {event[1]} (OSC)' + (
          ': compiling the learning step first (a few seconds without a dream)' if first else ''))
      self.switch(event[1])
    elif kind == 'gain':
      self.gain = 10.0 ** (event[1] / 20.0)
      self.log(f'gain set to {event[1]:g} dB (OSC)')
    elif kind in ('noise', 'temperature'):
      setattr(self.feed, 'noise' if kind == 'noise' else 'temperature', event[1])
      self.noise, self.temperature = self.feed.noise, self.feed.temperature
      self.log(f'{"dream noise" if kind == "noise" else "temperature"} set to {event[1]:g} (OSC)')
    elif kind == 'stop':
      return event[1]
    elif kind == 'warn':
      self.log(f'warning: {event[1]}')
    else:
      self.log(f'warning: {event[0]} is a stream-mode control; play ignores it')
    return None

  def process(self, x: np.ndarray) -> np.ndarray:
    """[n] the player's block -> [n] the output block."""
    y = self.response.process(x) * np.float32(self.gain)
    self.feed.check()
    return y

  def close(self) -> None:
    if self.feed is not None:
      self.feed.close()


def fresh_run(config, workdir: str, log):
  """A run that starts from scratch (learn with --config): the config's recording gives the
  window's length and the spectra's scale; the parameters are new."""
  import jax  # pylint: disable=g-import-not-at-top  # jax only once the flags are fine
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import dataset  # pylint: disable=g-import-not-at-top
  from audiolstm.core import program as program_lib  # pylint: disable=g-import-not-at-top
  c, g = config_lib.prepare(config)
  sources = dataset.load_sources(c, g)
  program = program_lib.build(c, sources)
  state = program.init(program_lib.device_data(sources, program.mesh), jax.random.key(c.seed))
  log(f'learning from scratch: a new {c.approach} model, saved into {workdir} at the end')
  return trained.TrainedRun(path=files.absolute(workdir), config=c, sources=sources,
                            model=program.model, params=program_lib.dream_params(state),
                            same_offsets=np.asarray(state.same_offsets), cursor=0, step=0,
                            program=program, state=state)


def save_learned(run, engine, session: Session, where: str, log) -> str:
  """Save what `engine` (a LearnEngine) learned as a run in `where`, trained on the run's
  recordings and the player's (session.input), for sample, stream and play to use."""
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top  # a leaf
  from audiolstm.run import checkpoint  # pylint: disable=g-import-not-at-top  # learn only
  from audiolstm.run import rundir  # pylint: disable=g-import-not-at-top
  c = run.config.copy_and_resolve_references()
  c.input_files = tuple(audio_io.training_files(c.input_files)) + (session.input.f.name,)
  rd = rundir.RunDir(where)
  rd.write_config(c)
  ckpts = checkpoint.Checkpoints(rd.checkpoint_dir, c.keep_checkpoints)
  try:
    step = int(engine.state.step)
    ckpts.save(step, engine.state, checkpoint.HostState(c, run.program.setup).to_tree())
  finally:
    ckpts.close()
  log(f'saved what was learned ({engine.iterations} iterations on the player\'s sound) as a '
      f'run: {rd.path} (iteration {step}); dream from it with audiolstm sample '
      f'--workdir={rd.path}')
  return rd.path


def _open_run(workdir, config, o: PlayOptions, log, run=None):
  """(the run to play with: `run`, the one in `workdir` or a new one from `config`; where a
  learned run is saved: None for a trained run, which gets RUN/plays/<time>/run)."""
  if run is not None:
    return run, None
  if config is None:
    return trained.load_run(workdir, log), None
  if o.respond != 'learn':
    raise ConfigError(f'--config starts a model from scratch, which only --respond=learn can '
                      f'play with: add --respond=learn, or give --workdir=RUN of a trained run '
                      f'for {o.respond}')
  from audiolstm.run import rundir  # pylint: disable=g-import-not-at-top  # a new run's folder
  workdir = workdir or rundir.default_workdir(config.approach, 'runs')
  if os.path.exists(os.path.join(workdir, 'config.json')):
    raise ConfigError(f'--workdir={workdir} already holds a run: give a new folder to learn into '
                      'from scratch, or leave --config out to play with that run')
  return fresh_run(config, workdir, log), workdir


@dataclasses.dataclass
class Summary:
  """What a session did: seconds played, underruns (the device's and the dream's), the dream's
  real-time factor, each answer's first sample after its phrase ended (s), the slowest 1 % of
  blocks' processing time (s), the session's folder."""
  seconds: float
  underruns: int
  realtime: float
  answer_latencies: tuple
  block_p99_s: float
  path: str


def play(workdir, o: PlayOptions = None, config=None, log=stream.stderr_log,
         run=None) -> Summary:
  """Play with a live player as `o` says; returns its Summary (None for --list_devices).
  ConfigError / AudioError (one line) for bad flags or input; DeviceLost (the files closed valid
  first) when a sound card goes; StopNow on a second stop signal. `run`: a TrainedRun to play
  with instead of workdir's (the benchmark's)."""
  o = o or PlayOptions()
  if o.list_devices:
    print('\n'.join(devices.device_lines() + ['(< the default input, > the default output)']))
    return None
  check_options(o)
  devices.check_specs(o.inp, o.out)
  rate = device_rate(o)
  run, learn_into = _open_run(workdir, config, o, log, run)
  seed = run.config.seed if o.seed is None else o.seed
  status = Status(None if log is stream.stderr_log else log)
  say = status.log
  session = inp = out = player = controls = None
  try:
    inp = devices.open_input(o.inp, rate, o.block)     # sound cards start on first use
    out = devices.open_output(o.out, rate, o.block)
    controls = live_control.Controls(None, o.osc_port)
    player = Player(run, o, rate, seed, say)
    session = Session(learn_into or run.path, rate)
    for note in getattr(inp, 'notes', ()):
      say(f'note: {note}')
    say(f'playing ({o.respond}) with {run.path} (iteration {run.step}) at {rate} Hz, blocks of '
        f'{o.block}: listening to {inp.description}, playing to {out.description}, recording '
        f'into {session.path}{controls.description}; Ctrl-C stops')
    return _loop(player, inp, out, session, controls, status, o, say)
  finally:
    for part in (controls, player, inp, out, session):
      if part is not None:
        part.close()
    if session is not None and player is not None and 'learn' in player.engines:
      save_learned(run, player.engines['learn'], session,
                   learn_into or os.path.join(session.path, 'run'), say)


def _loop(player: Player, inp, out, session: Session, controls, status: Status,
          o: PlayOptions, say) -> Summary:
  """play's loop: a block in, a block out, both recorded; the status, the controls."""
  rate, done, clipped, stop_why, spent = player.rate, 0, False, None, []
  target = round(o.seconds * rate) if o.seconds else None
  latency = o.block / rate + inp.latency_s + out.latency_s
  t0 = time.monotonic()
  with signals.StopSignals() as stop:
    while not (stop.requested or stop_why) and (target is None or done < target):
      x = inp.read()
      if x is None:
        stop_why = f'the end of {inp.description}'
        break
      if not clipped and (getattr(inp, 'clips', False) or np.max(np.abs(x)) >=
                          devices.CLIP_LEVEL):
        clipped = True
        say('warning: the input clips (it reaches full scale): turn the input gain down')
      t = time.perf_counter()
      y = player.process(x)
      spent.append(time.perf_counter() - t)
      out.write(y)
      session.write(x, y)
      done += len(x)
      engine = player.feed.engine
      if engine.loss is not None and (not session.losses or
                                      session.losses[-1][0] != engine.iterations):
        session.losses.append((engine.iterations, time.monotonic() - t0, engine.loss))
      status.update(x, player.response, player.feed, latency,
                    out.underruns + player.feed.starved)
      for event in controls.poll():
        stop_why = player.control(event) or stop_why
  why = stop.requested or stop_why
  say(f'played {done / rate:.2f} s: {out.underruns + player.feed.starved} underruns '
      f'({out.underruns} of the sound card, {player.feed.starved} of the dream)'
      + (f', answers after {", ".join(f"{t * 1000:.0f}" for t in player.response.latencies)} ms'
         if getattr(player.response, 'latencies', None) else '')
      + (f' (stopped by {why})' if why else '') + f'; recorded in {session.path}')
  return Summary(seconds=done / rate, underruns=out.underruns + player.feed.starved,
                 realtime=player.feed.realtime,
                 answer_latencies=tuple(getattr(player.response, 'latencies', ())),
                 block_p99_s=float(np.percentile(spent, 99)) if spent else 0.0,
                 path=session.path)
