"""Live controls of stream mode: a watch folder and OSC messages, read as events between pieces.

Events are tuples:
  ('seed', path, via)   re-seed every stream from the start of the audio file `path`
  ('noise', std)        set the dream noise (a float >= 0)
  ('temperature', t)    set a distributional head's sampling temperature (a float >= 0)
  ('respond', name)     play: respond with `name` (one of RESPONSES) from now on
  ('gain', db)          play: set the output gain in dB (<= MAX_GAIN_DB)
  ('stop', why)         stop the stream
  ('warn', message)     a bad message, said in one line; the stream goes on

OSC (the protocol of Max/MSP, Pure Data and SuperCollider) arrives as UDP on 127.0.0.1 only;
python-osc parses it. The addresses are OSC_SEED, OSC_NOISE, OSC_TEMPERATURE and OSC_STOP.
"""
import math
import os
import queue
import socket
import threading
import time

from audiolstm.config.settings import ConfigError
from audiolstm.dream import sample as sample_mode

OSC_SEED = '/audiolstm/seed'      # <path>: re-seed from a file
OSC_NOISE = '/audiolstm/noise'    # <float>: set the dream noise
OSC_TEMPERATURE = '/audiolstm/temperature'  # <float>: set the sampling temperature
OSC_STOP = '/audiolstm/stop'      # stop
OSC_RESPOND = '/audiolstm/respond'  # <answer|resonate|learn>: play's response
OSC_GAIN = '/audiolstm/gain'      # <dB>: play's output gain
RESPONSES = ('answer', 'resonate', 'learn')   # play's responses
MAX_GAIN_DB = 24.0
WATCH_POLL_S = 0.25


def osc_event(address: str, params: list) -> tuple:
  """The event of one OSC message (a 'warn' event for anything else)."""
  if address == OSC_SEED and len(params) == 1 and isinstance(params[0], str) and params[0]:
    return ('seed', params[0], 'OSC')
  number = len(params) == 1 and isinstance(params[0], (int, float)) and not isinstance(
      params[0], bool)
  if address == OSC_NOISE and number and math.isfinite(params[0]) and params[0] >= 0:
    return ('noise', float(params[0]))
  if address == OSC_TEMPERATURE and number and math.isfinite(params[0]) and params[0] >= 0:
    return ('temperature', float(params[0]))
  if address == OSC_STOP and not params:
    return ('stop', f'OSC {OSC_STOP}')
  if address == OSC_RESPOND and len(params) == 1 and params[0] in RESPONSES:
    return ('respond', params[0])
  if address == OSC_GAIN and number and math.isfinite(params[0]) and params[0] <= MAX_GAIN_DB:
    return ('gain', float(params[0]))
  shown = ' '.join([address] + [repr(p) for p in params])
  return ('warn', f'ignored the OSC message {shown[:200]}: expected {OSC_SEED} <path>, '
                  f'{OSC_NOISE} <number >= 0>, {OSC_TEMPERATURE} <number >= 0>, {OSC_STOP}, '
                  f'or in play {OSC_RESPOND} <{"|".join(RESPONSES)}> and {OSC_GAIN} '
                  f'<dB <= {MAX_GAIN_DB:g}>')


def osc_events(data: bytes) -> list:
  """The events of one UDP datagram (an OSC message or bundle)."""
  from pythonosc import osc_packet  # pylint: disable=g-import-not-at-top  # only with --osc_port
  try:
    messages = [m.message for m in osc_packet.OscPacket(data).messages]
  except osc_packet.ParseError:
    return [('warn', f'ignored a UDP packet of {len(data)} bytes that is not OSC')]
  return [osc_event(m.address, list(m.params)) for m in messages]


class OscListener:
  """A thread receiving OSC on 127.0.0.1:port into a queue of events."""

  def __init__(self, port: int, events: queue.Queue):
    self.events, self.port = events, port
    self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
      self.sock.bind(('127.0.0.1', port))
    except OSError as e:
      self.sock.close()
      raise ConfigError(f'--osc_port={port}: cannot listen on 127.0.0.1:{port} ({e.strerror}); '
                        'is another stream using it? Give another port') from None
    self.sock.settimeout(0.2)
    self._closed = threading.Event()
    self.thread = threading.Thread(target=self._run, name='osc', daemon=True)
    self.thread.start()

  def _run(self) -> None:
    while not self._closed.is_set():
      try:
        data, _ = self.sock.recvfrom(65536)
      except socket.timeout:
        continue
      except OSError:
        return
      for event in osc_events(data):
        self.events.put(event)

  def close(self) -> None:
    self._closed.set()
    self.thread.join(timeout=1.0)
    self.sock.close()


class Controls:
  """The controls of one stream: poll() returns the events since the last call."""

  def __init__(self, watch_dir=None, osc_port=None, settle_s: float = 1.0):
    self.watch_dir, self.settle_s = watch_dir, settle_s
    self.events = queue.Queue()
    self.seen, self.taken, self._polled = {}, set(), 0.0
    if watch_dir:   # files there at the start are not drops
      for path, key in self._files(settle_s=0.0):
        self.taken.add((path, key))
    self.osc = OscListener(osc_port, self.events) if osc_port else None
    parts = ([f'a file dropped into {os.path.abspath(watch_dir)} re-seeds'] if watch_dir else [])
    if osc_port:
      parts.append(f'OSC on 127.0.0.1:{osc_port} ({OSC_SEED}, {OSC_NOISE}, {OSC_STOP})')
    self.description = ''.join(f'; {p}' for p in parts)

  def _files(self, settle_s: float) -> list:
    """[(path, (size, mtime_ns))] the watch folder's files, settled for settle_s (watch mode's
    rule); a vanished folder is empty."""
    if settle_s <= 0:
      sample_mode.stable_files(self.watch_dir, self.seen, 0.0)
    return sample_mode.stable_files(self.watch_dir, self.seen, settle_s) or []

  def poll(self) -> list:
    """The events since the last call (the watch folder is looked at every WATCH_POLL_S)."""
    if self.watch_dir and time.monotonic() - self._polled >= WATCH_POLL_S:
      self._polled = time.monotonic()
      for path, key in self._files(self.settle_s):
        if (path, key) not in self.taken:
          self.taken.add((path, key))
          self.events.put(('seed', path, 'watch folder'))
    out = []
    while True:
      try:
        out.append(self.events.get_nowait())
      except queue.Empty:
        return out

  def close(self) -> None:
    if self.osc is not None:
      self.osc.close()
      self.osc = None
