"""Stream mode: growing WAV files and pipes, stop signals, re-seeds by watch folder and OSC.

The pieces (gate, vocoder, crossfade, level, WAV header, OSC parsing) are checked against plain
references; the mode itself runs on tiny trained runs, in this process (stream.stream) and as the
command line (a subprocess, for stdout and the stop signals).
"""
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import synthesis
from audiolstm.audio import wavstream
from audiolstm.config.settings import ConfigError
from audiolstm.live import control as live_control
from audiolstm.live import stream
from tests.helpers import tiny_config, trained_tiny_run

SR = 11025
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ------------------------------------------------------------------------------------------
# The pieces
# ------------------------------------------------------------------------------------------
def test_wav_file_header_is_valid_while_it_grows_and_at_the_end(tmp_path):
  path = str(tmp_path / 'grow.wav')
  audio = np.random.default_rng(0).uniform(-0.9, 0.9, (2, 3000)).astype(np.float32)
  w = wavstream.WavWriter.create(path, 2, SR, header_every_s=0.0)   # header after every write
  w.write(audio[:, :1000])
  w.f.flush()
  x, sr = sf.read(path, always_2d=True)          # read while it is open and growing
  assert sr == SR and x.shape == (1000, 2)
  w.write(audio[:, 1000:])
  w.close()
  x, _ = sf.read(path, always_2d=True)
  np.testing.assert_allclose(x.T, np.round(audio * 32767) / 32768, atol=1e-6)
  with pytest.raises(FileExistsError):
    wavstream.WavWriter.create(path, 2, SR)         # never over a file


def test_wav_pipe_header_has_the_unknown_length(tmp_path):
  with open(tmp_path / 'pipe.wav', 'wb') as f:
    w = wavstream.WavWriter.pipe(f, 1, SR)
    w.write(np.full((1, 10), 0.5, np.float32))
    w.close()
  data = (tmp_path / 'pipe.wav').read_bytes()
  assert data[4:8] == b'\xff\xff\xff\xff' and data[40:44] == b'\xff\xff\xff\xff'
  assert len(data) == wavstream.HEADER_BYTES + 20
  x, _ = sf.read(tmp_path / 'pipe.wav')
  np.testing.assert_allclose(x, round(0.5 * 32767) / 32768)


def test_crossfade_without_reseed_is_a_delay_and_with_one_a_linear_mix():
  rng = np.random.default_rng(1)
  a, b = rng.standard_normal((2, 700)), rng.standard_normal((2, 300))
  fade = stream.Crossfade(2, 100)
  out = np.concatenate([fade.push(a[:, :250]), fade.push(a[:, 250:]), fade.flush()], axis=1)
  np.testing.assert_array_equal(out, a)
  fade = stream.Crossfade(2, 100)
  first = fade.push(a)
  fade.reseed()
  out = np.concatenate([first, fade.push(b), fade.flush()], axis=1)
  w = (np.arange(100) + 0.5) / 100
  want = np.concatenate([a[:, :600], a[:, 600:] * (1 - w) + b[:, :100] * w, b[:, 100:]], axis=1)
  np.testing.assert_allclose(out, want, atol=1e-12)


def test_status_line_tells_when_the_limiter_works_hard():
  status = stream.Status(SR, 1, stream=open(os.devnull, 'w', encoding='utf-8'))
  assert 'limiting' not in status.line(SR, 1.5, 0.0, 0, limiting_db=5.0)
  assert status.line(SR, 1.5, 0.0, 0, limiting_db=9.4).endswith(', 0 re-seeds, limiting 9 dB')
  status.every_s = 0.005
  status.update(0, 0.0)                     # starts the clock
  status.update(SR // 2, 0.0, limiting_db=12.0)
  assert status.limiting_db == 12.0         # the worst of the period is kept until the line
  time.sleep(0.01)
  status.update(SR, 0.0, limiting_db=1.0)
  assert status.limiting_db == 0.0


def test_stream_synth_fft_pieces_join_into_the_vocoders_sum():
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import vocoder  # pylint: disable=g-import-not-at-top
  c, _ = config_lib.prepare(tiny_config('fft'))
  values = np.abs(np.random.default_rng(2).standard_normal((2, 11 * c.seg_len))).astype(
      np.float32) * 0.2
  synth = synthesis.StreamSynth(c, 0.5, 2, np.random.default_rng(3))
  phases = synth.phases.copy()
  pieces = [synth.push(values[:, i * c.seg_len:(i + k) * c.seg_len])
            for i, k in ((0, 3), (3, 5), (8, 3))] + [synth.flush()]
  out = np.concatenate(pieces, axis=1)
  frames = synthesis.magnitudes(c, values.reshape(2, -1, c.seg_len), 0.5)
  want = np.stack([np.asarray(vocoder.vocode(frames[k], c.hop_size, phases[k],
                                             use_peaks=c.use_peaks, normalise=False))
                   for k in range(2)])
  np.testing.assert_allclose(out, want, atol=1e-5 * np.max(np.abs(want)))


def test_osc_messages_become_events_and_bad_ones_warnings():
  from pythonosc.osc_message_builder import build_msg  # pylint: disable=g-import-not-at-top
  def events(address, *params):
    return live_control.osc_events(build_msg(address, list(params)).dgram)
  assert events('/audiolstm/seed', '/x/melody.wav') == [('seed', '/x/melody.wav', 'OSC')]
  assert events('/audiolstm/noise', 0.25) == [('noise', 0.25)]
  assert events('/audiolstm/noise', 0) == [('noise', 0.0)]
  assert events('/audiolstm/stop') == [('stop', 'OSC /audiolstm/stop')]
  for bad in (('/audiolstm/noise', 'loud'), ('/audiolstm/noise', -1.0), ('/audiolstm/seed',),
              ('/audiolstm/seed', 3), ('/other',)):
    (kind, message), = events(*bad)
    assert kind == 'warn' and 'expected /audiolstm/seed <path>' in message
  assert live_control.osc_events(b'not osc at all')[0][0] == 'warn'


def test_osc_temperature_becomes_an_event_and_a_bad_value_a_warning():
  from pythonosc.osc_message_builder import build_msg  # pylint: disable=g-import-not-at-top
  def events(*params):
    return live_control.osc_events(build_msg('/audiolstm/temperature', list(params)).dgram)
  assert events(0.5) == [('temperature', 0.5)]
  assert events(0) == [('temperature', 0.0)]
  for bad in (('hot',), (-0.5,), (float('nan'),), ()):
    (kind, message), = events(*bad)
    assert kind == 'warn' and '/audiolstm/temperature <number >= 0>' in message, bad


def test_watch_controls_ignore_files_already_there_and_take_a_settled_new_one(tmp_path):
  (tmp_path / 'old.wav').write_bytes(b'x')
  controls = live_control.Controls(watch_dir=str(tmp_path), settle_s=0.05)
  (tmp_path / 'new.wav').write_bytes(b'y')
  seen = []
  deadline = time.monotonic() + 5
  while not seen and time.monotonic() < deadline:
    seen = controls.poll()
    time.sleep(0.05)
  assert seen == [('seed', str(tmp_path / 'new.wav'), 'watch folder')]
  time.sleep(0.6)
  assert controls.poll() == []          # taken once


@pytest.mark.slow
def test_bad_stream_options_are_refused_in_one_line(tmp_path_factory):
  work = _tiny_run(tmp_path_factory, 'column')
  for opts, words in ((dict(seconds=-1.0), '--seconds'), (dict(streams=0), '--streams'),
                      (dict(osc_port=70000), '--osc_port'), (dict(dream_noise=-1.0), 'noise'),
                      (dict(watch_dir='/nonexistent/in'), '--watch_dir'),
                      (dict(out='gs://bucket/live.wav', seconds=0.1), 'a URL')):
    with pytest.raises(ConfigError, match=words):
      stream.stream(work, stream.StreamOptions(**opts), log=lambda *_: None)
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
    taken.bind(('127.0.0.1', 0))
    port = taken.getsockname()[1]
    with pytest.raises(ConfigError, match='another port'):
      stream.stream(work, stream.StreamOptions(osc_port=port, seconds=0.1), log=lambda *_: None)
  assert not os.path.exists(os.path.join(work, 'streams'))    # nothing written


@pytest.mark.slow
def test_bench_realtime_table_format():
  from audiolstm.tools import bench_realtime  # pylint: disable=g-import-not-at-top
  lines = []
  rows = bench_realtime.realtime(['column'], [16], (1, 2), budget_s=0.05, log=lines.append)
  assert lines[1].startswith('| approach | seg_len | samples/s, 1 stream | real time / stream, 1 |')
  assert set(lines[2]) <= set('|- ')
  assert re.fullmatch(r'\| column \| 16 \| [\d,]+ \| [\d.e-]+x \| [\d,]+ \| [\d.e-]+x \|', lines[3])
  assert rows[0][0:2] == ('column', 16) and all(r > 0 for r in rows[0][2].values())
  assert lines[4].startswith('level chain (loudness.Loudness, ') and len(lines) == 5


# ------------------------------------------------------------------------------------------
# The mode on tiny trained runs
# ------------------------------------------------------------------------------------------
_RUNS = {}


def _tiny_run(tmp_path_factory, approach):
  if approach not in _RUNS:
    _RUNS[approach] = trained_tiny_run(tmp_path_factory.mktemp(f'stream_{approach}'), approach,
                                       max_steps=40)
  return _RUNS[approach]


@pytest.mark.slow
@pytest.mark.parametrize('approach,streams', [('column', 1), ('fft', 2), ('vector', 1)])
def test_stream_to_a_file_has_the_requested_length(tmp_path_factory, approach, streams):
  work = _tiny_run(tmp_path_factory, approach)
  lines = []
  seconds = stream.stream(work, stream.StreamOptions(seconds=0.6, streams=streams),
                          log=lines.append)
  (path,) = [os.path.join(work, 'streams', f) for f in os.listdir(os.path.join(work, 'streams'))
             if f.endswith('.wav')]
  x, sr = sf.read(path, always_2d=True)
  assert sr == SR and x.shape == (round(0.6 * SR), streams) and seconds == pytest.approx(0.6)
  assert np.all(np.isfinite(x)) and np.max(np.abs(x)) > 0.01
  assert np.max(np.abs(x[-1])) <= 0.002 * np.max(np.abs(x)) + 1e-4   # faded out at the end
  stream.stream(work, stream.StreamOptions(seconds=0.2, streams=streams), log=lines.append)
  assert len([f for f in os.listdir(os.path.join(work, 'streams')) if f.endswith('.wav')]) == 2


@pytest.mark.slow
def test_a_settled_dream_is_reseeded_without_a_click(tmp_path_factory, tmp_path):
  work = _tiny_run(tmp_path_factory, 'column')
  lines, out = [], str(tmp_path / 'auto.wav')
  stream.stream(work, stream.StreamOptions(out=out, seconds=6.0), log=lines.append)
  settled = int(re.search(r'\((\d+) when the dream had settled\)', lines[-1]).group(1))
  assert settled >= 1, lines[-1]
  x, _ = sf.read(out)
  inp, _ = sf.read(os.path.join(os.path.dirname(work), 'in.wav'))
  assert len(x) == 6 * SR and np.max(np.abs(np.diff(x))) <= np.max(np.abs(np.diff(inp)))
  lines = []
  stream.stream(work, stream.StreamOptions(out=out, seconds=3.0, reseed='1'), log=lines.append)
  assert ', 2 re-seeds (0 when' in lines[-1] or ', 3 re-seeds (0 when' in lines[-1], lines[-1]


@pytest.mark.slow
def test_live_dreamer_dreams_as_sample_mode_and_its_noise_knob_changes_the_dream(
    tmp_path_factory):
  from audiolstm.dream import trained  # pylint: disable=g-import-not-at-top
  run = trained.load_run(_tiny_run(tmp_path_factory, 'column'), log=lambda *_: None)
  # With its final params (no wander snapshots): the wandering pieces of stream and sample mode
  # blend on different blocks (test_wander checks that a wandering dream's pieces join).
  run = dataclasses.replace(run, snapshots=None)
  buffers = trained.training_seeds(run, 2, 0)[0]
  dreamer = stream.LiveDreamer(run, 2, seed=0)
  dreamer.seed(buffers)
  live = np.concatenate([dreamer.next(0.0), dreamer.next(0.0)], axis=1)
  n = live.shape[1]
  import jax  # pylint: disable=g-import-not-at-top
  sample = trained.Dreamer(run, 2, n / SR)(buffers, jax.random.key(0))
  np.testing.assert_allclose(live, sample[:, :n], atol=1e-6)
  dreamer.seed(buffers)
  noisy = np.concatenate([dreamer.next(0.05), dreamer.next(0.05)], axis=1)
  assert np.max(np.abs(noisy - live)) > 0.01


@pytest.mark.slow
def test_stream_to_a_folder_writes_one_mono_file_per_stream(tmp_path_factory, tmp_path):
  work = _tiny_run(tmp_path_factory, 'vector')
  seed = os.path.join(os.path.dirname(work), 'in.wav')
  stream.stream(work, stream.StreamOptions(seconds=0.3, streams=3, out=str(tmp_path / 'o') + '/',
                                           seed_file=seed), log=lambda *_: None)
  names = sorted(os.listdir(tmp_path / 'o'))
  assert [n[-7:] for n in names] == ['_s0.wav', '_s1.wav', '_s2.wav'], names
  assert all('_stream_in_it' in n for n in names), names       # named after the seed file
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top
  with pytest.raises(audio_io.AudioError, match='not found'):
    stream.stream(work, stream.StreamOptions(seed_file=str(tmp_path / 'missing.wav')),
                  log=lambda *_: None)
  for name in names:
    x, _ = sf.read(tmp_path / 'o' / name, always_2d=True)
    assert x.shape == (round(0.3 * SR), 1)


def _command(work, *flags):
  return [sys.executable, '-m', 'audiolstm.main', '--mode=stream', f'--workdir={work}', *flags]


@pytest.mark.slow
def test_stream_to_stdout_is_a_wav_stream_of_the_requested_length(tmp_path_factory):
  work = _tiny_run(tmp_path_factory, 'column')
  p = subprocess.run(_command(work, '--out=-', '--seconds=0.4', '--streams=2'), cwd=ROOT,
                     capture_output=True, timeout=120, check=False)
  assert p.returncode == 0, p.stderr.decode()[-2000:]
  data = p.stdout
  assert data[:4] == b'RIFF' and data[40:44] == b'\xff\xff\xff\xff'
  assert len(data) == wavstream.HEADER_BYTES + 4410 * 2 * 2
  assert b'streamed 0.40 s to standard output' in p.stderr


class _Lines:
  """A subprocess's stderr lines, read by a thread; wait() for one that matches."""

  def __init__(self, pipe):
    self.lines = []
    self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
    self.thread.start()

  def _read(self, pipe):
    for line in iter(pipe.readline, b''):
      self.lines.append(line.decode(errors='replace').rstrip('\n'))

  def wait(self, pattern, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      hits = [l for l in self.lines if re.search(pattern, l)]
      if hits:
        return hits
      time.sleep(0.05)
    raise AssertionError(f'no line matching {pattern!r} in:\n' + '\n'.join(self.lines[-30:]))


@pytest.mark.slow
@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_mid_stream_leaves_a_valid_file_of_everything(tmp_path_factory, tmp_path,
                                                                    sig):
  work = _tiny_run(tmp_path_factory, 'column')
  out = str(tmp_path / 'live.wav')
  p = subprocess.Popen(_command(work, f'--out={out}'), cwd=ROOT, stderr=subprocess.PIPE)
  lines = _Lines(p.stderr)
  try:
    lines.wait(r'^streaming: \d')                       # a status line: it has been running
    p.send_signal(sig)
    assert p.wait(timeout=60) == 0
  finally:
    p.kill()
  done = lines.wait(r'^streamed ')[0]
  assert f'(stopped by {sig.name})' in done
  x, _ = sf.read(out)
  data = os.path.getsize(out) - wavstream.HEADER_BYTES
  assert len(x) * 2 == data and len(x) > 0.5 * SR          # the header counts every sample
  assert f'streamed {len(x) / SR:.2f} s' in done


def _seam_steps(x, lines, fade):
  """The largest sample step around each re-seed's crossfade (its start sample in the log)."""
  seams = [int(m) for l in lines for m in re.findall(r're-seeded .* \(sample (\d+)\)', l)]
  return seams, [np.max(np.abs(np.diff(x[max(0, s - 3):s + fade + 3]))) for s in seams]


@pytest.mark.slow
def test_watch_drop_and_osc_reseed_the_stream_and_bad_input_is_survived(tmp_path_factory,
                                                                        tmp_path):
  work = _tiny_run(tmp_path_factory, 'column')
  watch, out = tmp_path / 'in', str(tmp_path / 'live.wav')
  watch.mkdir()
  seed_wav = os.path.join(os.path.dirname(work), 'in.wav')
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
  lines = []
  controller = threading.Thread(target=_drive, args=(lines, watch, seed_wav, port), daemon=True)
  safety = threading.Timer(120, lambda: os.kill(os.getpid(), signal.SIGINT))
  controller.start()
  safety.start()
  try:
    stream.stream(work, stream.StreamOptions(out=out, watch_dir=str(watch), osc_port=port,
                                             settle_s=0.2, reseed='off'), log=lines.append)
  finally:
    safety.cancel()
  controller.join(timeout=5)
  text = '\n'.join(lines)
  assert '(stopped by OSC /audiolstm/stop)' in lines[-1], text
  assert re.search(r're-seeded from .*drop\.wav \(watch folder\)', text), text
  assert re.search(r're-seeded from .*osc\.wav \(OSC\)', text), text
  assert re.search(r'warning: not re-seeded from .*junk\.wav \(watch folder\)', text), text
  assert re.search(r'warning: not re-seeded from /nonexistent\.wav \(OSC\)', text), text
  assert text.count('warning: ignored the OSC message') == 2, text
  assert 'warning: ignored a UDP packet' in text and 'dream noise set to 0.01 (OSC)' in text
  x, _ = sf.read(out)
  inp, _ = sf.read(seed_wav)
  seams, steps = _seam_steps(x, lines, round(stream.FADE_S * SR))
  assert len(seams) == 2 and max(steps) <= np.max(np.abs(np.diff(inp))), (seams, steps)


def _drive(lines, watch, seed_wav, port):
  """The controller of the OSC test: drops, messages, then stop (each after the last took)."""
  from pythonosc.udp_client import SimpleUDPClient  # pylint: disable=g-import-not-at-top
  osc = SimpleUDPClient('127.0.0.1', port)

  def wait(pattern, count=1):
    deadline = time.monotonic() + 60
    while sum(bool(re.search(pattern, l)) for l in lines) < count:
      if time.monotonic() > deadline:
        return
      time.sleep(0.05)

  wait(r'^streaming ')
  time.sleep(0.5)
  shutil.copy(seed_wav, watch / '.drop.tmp')
  os.replace(watch / '.drop.tmp', watch / 'drop.wav')
  wait(r're-seeded from .*drop')
  (watch / 'junk.wav').write_bytes(b'not audio' * 100)
  wait(r'junk\.wav')
  osc.send_message('/audiolstm/seed', '/nonexistent.wav')
  osc.send_message('/audiolstm/noise', 'loud')
  osc.send_message('/audiolstm/what', 1)
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
    raw.sendto(b'garbage', ('127.0.0.1', port))
  osc.send_message('/audiolstm/noise', 0.01)
  wait(r'dream noise set to 0.01')
  time.sleep(0.3)
  osc.send_message('/audiolstm/noise', 0.0)      # noise has steps of its own: off for the seam
  wait(r'dream noise set to 0 ')
  shutil.copy(seed_wav, watch.parent / 'osc.wav')
  osc.send_message('/audiolstm/seed', str(watch.parent / 'osc.wav'))
  wait(r're-seeded from .*osc\.wav')
  time.sleep(0.3)
  osc.send_message('/audiolstm/stop', [])


def test_reseed_flag_parses_and_bad_values_are_refused():
  assert stream.parse_reseed('auto') == (True, 0.0)
  assert stream.parse_reseed('off') == (False, 0.0)
  assert stream.parse_reseed('4.5') == (False, 4.5)
  for bad in ('0', '-1', 'often', 'nan'):
    with pytest.raises(ConfigError, match='--reseed'):
      stream.parse_reseed(bad)


def test_stillness_tells_a_held_tone_and_silence_from_changing_notes():
  from audiolstm.tools import bench_realtime  # pylint: disable=g-import-not-at-top
  notes = bench_realtime.synthetic_signal(seconds=12.0)          # plucked notes every 1.25 s
  def verdicts(x):
    still = stream.Stillness(notes, SR, 1)
    return {still.push(x[None, i:i + 1000]) for i in range(0, len(x), 1000)} - {None}
  t = np.arange(4 * SR) / SR
  held = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
  held += 1e-3 * np.random.default_rng(0).standard_normal(len(t)).astype(np.float32)
  assert verdicts(held) == {'still'}
  assert verdicts(np.zeros(2 * SR, np.float32)) == {'silent'}
  assert verdicts(bench_realtime.synthetic_signal(seconds=8.0, seed=3)) == set()
