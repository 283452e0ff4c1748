"""Play mode with real audio devices: a private JACK server with the dummy driver, a JACK client
that plays a recording into `audiolstm play` and records what it plays back (tests/live/jackrig.py),
and the command line as a user runs it. The stdin path is tested with a pipe, files directly.

No timing asserts: latency and speed are `audiolstm bench --live`'s.
"""
import glob
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from audiolstm.live import control as live_control
from audiolstm.live import play
from audiolstm.live import respond
from tests.helpers import tiny_config
from tests.helpers import trained_tiny_run
from tests.live import jackrig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RATE = 48000
_RUNS = {}


@pytest.fixture(scope='module')
def jack_server():
  server = jackrig.JackServer(RATE)
  yield server
  server.stop()


def tiny_run(tmp_path_factory, approach: str = 'fft') -> str:
  """A tiny trained run of `approach`, trained once per test session (never changed by play)."""
  if approach not in _RUNS:
    _RUNS[approach] = trained_tiny_run(tmp_path_factory.mktemp(f'play_{approach}'), approach)
  return _RUNS[approach]


def noise_run(tmp_path_factory) -> str:
  """A tiny vector run trained on white noise: its dream has sound in every band."""
  if 'noise' not in _RUNS:
    from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top  # jax
    from audiolstm.run import train  # pylint: disable=g-import-not-at-top
    root = str(tmp_path_factory.mktemp('play_noise'))
    noise = np.random.default_rng(0).uniform(-0.3, 0.3, 2 * 11025).astype(np.float32)
    wav = audio_io.write_wav(os.path.join(root, 'noise.wav'), noise, 11025)
    _RUNS['noise'] = os.path.join(root, 'run')
    train.train_and_evaluate(tiny_config('vector', input_files=(wav,)), _RUNS['noise'],
                             log=lambda *_: None)
  return _RUNS['noise']


def phrases(rate: int, spans, freqs=(330.0,)) -> np.ndarray:
  """[n] a player: harmonic tones (each of `freqs` in turn) over the (start, end) seconds of
  `spans`, silence elsewhere, to the end of the last span plus 2 s."""
  n = round((spans[-1][1] + 2.0) * rate)
  x, t = np.zeros(n, np.float32), np.arange(n) / rate
  for k, (a, b) in enumerate(spans):
    f = freqs[k % len(freqs)]
    on = (t >= a) & (t < b)
    tone = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3))
    x[on] = 0.3 * tone[on] * np.exp(-2.0 * (t[on] - a))
  return x


def run_play(run: str, *flags, env=None, stdin=None, timeout=300):
  """`python -m audiolstm.main --mode=play --workdir=RUN FLAGS` -> CompletedProcess."""
  cmd = [sys.executable, '-m', 'audiolstm.main', '--mode=play', f'--workdir={run}', *flags]
  return subprocess.run(cmd, cwd=ROOT, env=env, input=stdin, capture_output=True,
                        timeout=timeout, check=False)


def session(run: str) -> tuple:
  """(input [n], output [n], rate, folder) of the run's newest play session."""
  folder = sorted(glob.glob(os.path.join(run, 'plays', '*')))[-1]
  x, rate = sf.read(os.path.join(folder, 'input.wav'), dtype='float32')
  y, _ = sf.read(os.path.join(folder, 'output.wav'), dtype='float32')
  return x, y, rate, folder


def rms_db(x: np.ndarray) -> float:
  return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-12)


# ------------------------------------------------------------------------------------------
# The pieces
# ------------------------------------------------------------------------------------------
def test_phrases_start_when_the_player_plays_and_end_after_a_pause():
  rate, block = 1000, 50
  x = phrases(rate, [(0.5, 1.5), (3.0, 3.6)])
  events = []
  detector = respond.Phrases(rate, threshold_db=-40.0, pause_s=0.4)
  for i in range(0, len(x), block):
    event = detector.push(x[i:i + block])
    if event:
      events.append((event, i / rate))
  assert [e for e, _ in events] == ['start', 'end', 'start', 'end']
  assert events[0][1] == pytest.approx(0.5, abs=0.06) and events[2][1] == pytest.approx(3.0,
                                                                                           abs=0.06)
  assert events[1][1] == pytest.approx(1.5 + 0.4, abs=0.11)   # the pause after the phrase
  assert detector.push(np.zeros(block)) is None                # silence stays silent


def test_osc_sets_the_response_and_the_gain_and_refuses_nonsense():
  assert live_control.osc_event('/audiolstm/respond', ['resonate']) == ('respond', 'resonate')
  assert live_control.osc_event('/audiolstm/gain', [-6]) == ('gain', -6.0)
  assert live_control.osc_event('/audiolstm/respond', ['shout'])[0] == 'warn'
  assert live_control.osc_event('/audiolstm/gain', [90.0])[0] == 'warn'


def test_bad_flags_are_refused_in_one_line(tmp_path_factory):
  run = tiny_run(tmp_path_factory)
  for flags, message in [(['--respond=shout'], 'respond'),
                         (['--in=nothing.wav'], 'no such file'),
                         (['--block=3'], '--block=3'),
                         (['--in=-', '--out=x.wav', '--seconds=-1'], '--seconds=-1')]:
    r = run_play(run, *flags, timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


# ------------------------------------------------------------------------------------------
# Files and pipes
# ------------------------------------------------------------------------------------------
def test_stdin_answers_each_phrase_in_the_pause_after_it(tmp_path_factory, tmp_path):
  run = tiny_run(tmp_path_factory)
  spans = [(0.3, 1.3), (3.3, 4.3)]
  take = tmp_path / 'take.wav'
  sf.write(take, phrases(RATE, spans), RATE, subtype='PCM_16')
  out = tmp_path / 'answer.wav'
  r = run_play(run, '--in=-', f'--out={out}', '--respond=answer', stdin=take.read_bytes())
  assert r.returncode == 0, r.stderr.decode()[-2000:]
  x, y, rate, folder = session(run)
  assert rate == RATE and len(x) == len(y) > 0
  np.testing.assert_array_equal(sf.read(out, dtype='float32')[0], y)
  check_answers(y, rate, spans, pause=0.4)
  assert os.path.isfile(os.path.join(folder, 'session.png'))


def check_answers(y: np.ndarray, rate: int, spans, pause: float) -> None:
  """Silence while the player plays (after the duck), sound in every pause after a phrase."""
  sec = lambda a, b: y[round(a * rate):round(b * rate)]   # noqa: E731
  assert rms_db(sec(0, spans[0][0])) < -80                # nothing before the first phrase
  for k, (a, b) in enumerate(spans):
    assert rms_db(sec(a + respond.DUCK_S + 0.1, b)) < -80, f'sound while phrase {k} plays'
    until = spans[k + 1][0] if k + 1 < len(spans) else len(y) / rate
    assert rms_db(sec(b + pause + 0.3, until)) > -60, f'no answer after phrase {k}'


def test_stdin_that_is_not_wav_is_refused_and_stereo_clipping_input_is_mixed_and_warned(
    tmp_path_factory, tmp_path):
  run = tiny_run(tmp_path_factory)
  r = run_play(run, '--in=-', f'--out={tmp_path / "x.wav"}', stdin=b'hello, not a WAV at all')
  lines = r.stderr.decode().strip().splitlines()
  assert r.returncode == 2 and len(lines) == 1 and 'not a WAV' in lines[0], lines
  left = phrases(RATE, [(0.2, 1.0)])
  left[RATE // 2:RATE // 2 + 100] = 1.0                      # full scale: it clips
  stereo = np.stack([left, 0.5 * left], axis=1)
  take = tmp_path / 'stereo.wav'
  sf.write(take, stereo, RATE, subtype='PCM_16')
  r = run_play(run, '--in=-', f'--out={tmp_path / "y.wav"}', stdin=take.read_bytes())
  err = r.stderr.decode()
  assert r.returncode == 0, err[-2000:]
  assert err.count('mixed to one') == 1 and err.count('the input clips') == 1, err
  x, _, _, _ = session(run)
  np.testing.assert_allclose(x, stereo.mean(axis=1), atol=2 / 32768)


def test_learn_lowers_the_loss_on_new_input_and_saves_a_run_that_dreams(
    tmp_path_factory, tmp_path):
  run = tiny_run(tmp_path_factory)
  before = sorted(os.listdir(run))
  t = np.arange(round(8.0 * RATE)) / RATE
  take = tmp_path / 'new.wav'   # new material: a 523 Hz tone with harmonics, not the 220 Hz one
  sf.write(take, 0.3 * (np.sin(2 * np.pi * 523 * t) + 0.5 * np.sin(2 * np.pi * 1046 * t)), RATE)
  r = run_play(run, f'--in={take}', f'--out={tmp_path / "learned.wav"}', '--respond=learn')
  assert r.returncode == 0, r.stderr.decode()[-2000:]
  _, y, _, folder = session(run)
  losses = np.loadtxt(os.path.join(folder, 'learn.csv'), delimiter=',', skiprows=1)[:, 2]
  third = len(losses) // 3
  assert third >= 2 and losses[-third:].mean() < 0.7 * losses[:third].mean(), losses
  assert rms_db(y) > -60
  assert sorted(os.listdir(run)) == before       # the run itself is never changed
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top  # jax
  learned = trained.load_run(os.path.join(folder, 'run'), log=lambda *_: None)
  assert learned.step > trained.load_run(run, log=lambda *_: None).step
  assert learned.config.input_files[-1] == os.path.join(folder, 'input.wav')


# ------------------------------------------------------------------------------------------
# Sound cards (a JACK server with the dummy driver)
# ------------------------------------------------------------------------------------------
def start_play(run: str, server, *flags) -> subprocess.Popen:
  """play on the JACK card, in blocks of 1024 (the slack of a machine busy with other tests;
  the latency of 256 is bench --live's)."""
  cmd = [sys.executable, '-m', 'audiolstm.main', '--mode=play', f'--workdir={run}',
         '--in=system', '--out=system', '--block=1024', *flags]
  # pylint: disable-next=consider-using-with  # the caller waits for it
  return subprocess.Popen(cmd, cwd=ROOT, env=server.env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)


def wait_until_playing(proc: subprocess.Popen) -> str:
  """play's stderr up to its 'playing (...) with ... Ctrl-C stops' line: the loop starts next
  (the model is compiled; before that, nothing reads the sound card)."""
  seen = []
  for line in proc.stderr:
    seen.append(line)
    if 'Ctrl-C stops' in line:
      return ''.join(seen)
  raise AssertionError(f'play ended before playing: {"".join(seen)[-2000:]}')


def play_through_card(run: str, server, audio: np.ndarray, *flags) -> tuple:
  """A player plays `audio` into play on the JACK card (from when its loop starts) and listens
  to it; play must end with status 0. Returns (the JackPlayer, play's stderr from then on)."""
  player = jackrig.JackPlayer(server, audio, seconds=len(audio) / RATE + 2.0)
  proc = start_play(run, server, *flags)
  try:
    player.connect(proc=proc)
    wait_until_playing(proc)
    player.playing = True
    _, err = proc.communicate(timeout=120)
  finally:
    player.close()
  assert proc.returncode == 0, err[-2000:]
  return player, err


def shifted(x: np.ndarray, rate: int, spans) -> list:
  """`spans` moved to the session's own time (its loop started before the player joined)."""
  start = np.argmax(np.abs(x) > 0.01) / rate
  return [(a - spans[0][0] + start, b - spans[0][0] + start) for a, b in spans]


def test_answer_through_a_sound_card_responds_in_every_pause_only(tmp_path_factory,
                                                                  jack_server):
  run = tiny_run(tmp_path_factory)
  spans = [(0.5, 1.5), (3.5, 4.5), (6.5, 7.3)]
  player, err = play_through_card(run, jack_server, phrases(RATE, spans), '--respond=answer',
                                  '--seconds=10')
  assert ' 0 underruns' in err.strip().splitlines()[-1], err[-1000:]
  x, y, rate, _ = session(run)
  check_answers(y, rate, shifted(x, rate, spans), pause=0.4)
  heard = player.recorded[:round(player.seconds_played * RATE)]
  assert rms_db(heard) > -60                       # it reached the listener's port


def band_db(x: np.ndarray, rate: int, f: float) -> float:
  """The level (dB) of `x` within a third of an octave around `f`."""
  spectrum = np.abs(np.fft.rfft(x)) ** 2
  freqs = np.fft.rfftfreq(len(x), 1 / rate)
  return 10 * np.log10(spectrum[(freqs > f / 1.12) & (freqs < f * 1.12)].sum() + 1e-12)


def test_resonate_follows_the_bands_the_player_sounds(tmp_path_factory, jack_server):
  run = noise_run(tmp_path_factory)
  low, high = 300.0, 1800.0
  t = np.arange(round(6.0 * RATE)) / RATE
  x = np.where(t < 3.0, np.sin(2 * np.pi * low * t), np.sin(2 * np.pi * high * t)) * 0.3
  play_through_card(run, jack_server, x.astype(np.float32), '--respond=resonate', '--seconds=7')
  heard_in, y, rate, _ = session(run)
  start = np.argmax(np.abs(heard_in) > 0.01)
  first, second = y[start + rate // 2:start + 3 * rate], y[start + 7 * rate // 2:start + 6 * rate]
  assert band_db(first, rate, low) - band_db(second, rate, low) > 10
  assert band_db(second, rate, high) - band_db(first, rate, high) > 10


def test_sigint_leaves_both_recordings_valid(tmp_path_factory, jack_server):
  run = tiny_run(tmp_path_factory)
  player = jackrig.JackPlayer(jack_server, phrases(RATE, [(0.2, 1.2)]), seconds=30.0)
  proc = start_play(run, jack_server, '--respond=answer')
  try:
    player.connect(proc=proc)
    wait_until_playing(proc)
    player.playing = True
    while player.seconds_played < 2.0:
      assert proc.poll() is None, proc.stderr.read()[-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
  finally:
    player.close()
  assert proc.returncode == 0 and 'stopped by SIGINT' in err, err[-2000:]
  x, y, rate, _ = session(run)
  assert len(x) == len(y) >= 1.5 * rate     # what was played (its last blocks in the queues)


def test_a_sound_card_that_disappears_closes_the_recordings_and_exits_1(tmp_path_factory):
  server = jackrig.JackServer(RATE)    # its own server: this test stops it
  run = tiny_run(tmp_path_factory)
  try:
    player = jackrig.JackPlayer(server, phrases(RATE, [(0.2, 1.2)]), seconds=30.0)
    proc = start_play(run, server, '--respond=answer')
    player.connect(proc=proc)
    wait_until_playing(proc)
    player.playing = True
    while player.seconds_played < 1.0:
      assert proc.poll() is None, proc.stderr.read()[-2000:]
  finally:
    server.stop()
  _, err = proc.communicate(timeout=60)
  lines = err.strip().splitlines()
  assert proc.returncode == 1 and 'stopped' in lines[-1], err[-2000:]
  x, y, rate, _ = session(run)
  assert len(x) == len(y) >= rate // 2


def test_unknown_device_and_refused_rate_get_one_line(tmp_path_factory, jack_server):
  run = tiny_run(tmp_path_factory)
  for flags, message in [(['--in=nosuchcard', '--out=x.wav'], "'system'"),
                         (['--in=system', '--out=system', '--rate=44100'], '44100 Hz')]:
    r = run_play(run, *flags, env=jack_server.env, timeout=120)
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and message in lines[0], lines


def test_list_devices_shows_the_jack_card(jack_server):
  r = subprocess.run([sys.executable, '-m', 'audiolstm.main', '--mode=play', '--list_devices'],
                     cwd=ROOT, env=jack_server.env, capture_output=True, text=True, timeout=120,
                     check=False)
  assert r.returncode == 0 and 'system (JACK Audio Connection Kit): 2 in, 2 out' in r.stdout


def test_learn_from_scratch_with_a_config_saves_the_new_run_into_the_workdir(tmp_path):
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top  # jax
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  t = np.arange(2 * 11025) / 11025
  wav = audio_io.write_wav(str(tmp_path / 'start.wav'),
                           (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 11025)
  take = tmp_path / 'take.wav'
  sf.write(take, phrases(RATE, [(0.1, 2.5)]), RATE)
  work = tmp_path / 'new'
  o = play.PlayOptions(inp=str(take), out=str(tmp_path / 'out.wav'), respond='learn')
  summary = play.play(str(work), o, config=tiny_config('fft', input_files=(wav,),
                                                        val_fraction=0.0), log=lambda *_: None)
  assert summary.seconds == pytest.approx(4.5, abs=0.01)
  learned = trained.load_run(str(work), log=lambda *_: None)
  assert learned.step > 0 and learned.config.input_files[-1].startswith(str(work / 'plays'))
  with pytest.raises(play.ConfigError, match='already holds a run'):
    play.play(str(work), o, config=tiny_config('fft', input_files=(wav,)))


def test_osc_events_switch_the_response_and_set_the_gain_while_it_plays(tmp_path_factory):
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top  # jax
  run = trained.load_run(tiny_run(tmp_path_factory), log=lambda *_: None)
  said = []
  player = play.Player(run, play.PlayOptions(inp='x.wav', out='y.wav', respond='answer'), RATE,
                       0, said.append)
  x = phrases(RATE, [(0.0, 1.0)])[:256]
  try:
    for event in [live_control.osc_event('/audiolstm/respond', ['resonate']),
                  live_control.osc_event('/audiolstm/gain', [-6.0]),
                  live_control.osc_event('/audiolstm/respond', ['learn'])]:
      assert player.control(event) is None
      for _ in range(20):
        assert player.process(x).shape == (256,)
    assert player.response.name == 'learn' and player.gain == pytest.approx(10 ** (-6 / 20))
    assert player.control(live_control.osc_event('/audiolstm/stop', [])) == 'OSC /audiolstm/stop'
  finally:
    player.close()
  assert any('responding with resonate' in s for s in said)
  assert any('compiling the learning step' in s for s in said)
