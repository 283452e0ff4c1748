"""A real audio rig for the play tests, on a machine without a sound card.

`JackServer` starts a private JACK server with the dummy driver (its own name, so that tests never
touch another server); PortAudio reaches it, so `audiolstm play` sees real devices ('system').
`JackPlayer` is a JACK client that plays a recording into play's input ports and records play's
output ports, as a musician and a listener would. Both skip the test, saying what to install, where
jackd or the JACK-Client package is missing.
"""
import os
import shutil
import subprocess
import time

import numpy as np
import pytest


class JackServer:
  """jackd -n NAME --no-realtime -d dummy -r RATE -p PERIOD, until `stop`."""

  def __init__(self, rate: int = 48000, period: int = 256):
    if shutil.which('jackd') is None:
      pytest.skip('jackd is not installed: apt install jackd2 libportaudio2 (.ci/run does)')
    jack = pytest.importorskip('jack', reason='pip install JACK-Client (the test extra)')
    self.name, self.rate = f'audiolstm-test-{os.getpid()}-{time.monotonic_ns()}', rate
    self.proc = subprocess.Popen(  # pylint: disable=consider-using-with  # stopped by stop()
        ['jackd', '-n', self.name, '--no-realtime', '-d', 'dummy', '-r', str(rate), '-p',
         str(period)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 15
    while True:
      try:
        probe = jack.Client('probe', servername=self.name, no_start_server=True)
        probe.close()
        return
      except jack.JackOpenError:
        if self.proc.poll() is not None or time.monotonic() > deadline:
          err = self.proc.stderr.read().decode(errors='replace')[-500:]
          self.stop()
          pytest.fail(f'jackd did not start: {err}')
        time.sleep(0.1)

  @property
  def env(self) -> dict:
    """The environment of a process that should use this server."""
    return dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER='1')

  def stop(self) -> None:
    if self.proc.poll() is None:
      self.proc.terminate()
      try:
        self.proc.wait(timeout=10)
      except subprocess.TimeoutExpired:
        self.proc.kill()
        self.proc.wait()


class JackPlayer:
  """Plays `audio` [n] into PortAudio's input ports and records its output ports, both from the
  moment `connect` joins them; `recorded` is [seconds * rate] (zeros where nothing came)."""

  def __init__(self, server: JackServer, audio: np.ndarray, seconds: float):
    import jack  # pylint: disable=g-import-not-at-top  # JackServer checked it
    self.jack = jack
    self.client = jack.Client('player', servername=server.name, no_start_server=True)
    self.out = self.client.outports.register('out')
    self.inp = self.client.inports.register('in')
    self.audio = np.asarray(audio, np.float32)
    self.recorded = np.zeros(round(seconds * server.rate), np.float32)
    self.pos, self.playing, self.rate = 0, False, server.rate
    self.client.set_process_callback(self._process)
    self.client.activate()

  def _process(self, frames: int) -> None:
    out = self.out.get_array()
    out[:] = 0.0
    if not self.playing:
      return
    i = self.pos
    chunk = self.audio[i:i + frames]
    out[:len(chunk)] = chunk
    room = self.recorded[i:i + frames]
    room[:] = self.inp.get_array()[:len(room)]
    self.pos = i + frames

  def _ports(self) -> tuple:
    """(PortAudio's input ports, its output ports): play's capture and playback."""
    ours = lambda p: not p.name.startswith(('player:', 'system:', 'probe:'))   # noqa: E731
    ins = [p for p in self.client.get_ports(is_audio=True, is_input=True) if ours(p)]
    outs = [p for p in self.client.get_ports(is_audio=True, is_output=True) if ours(p)]
    return ins, outs

  def connect(self, timeout: float = 120.0, want_in: bool = True, want_out: bool = True,
              proc=None) -> None:
    """Wait for play's ports and join them to ours (and away from the dummy card); the caller
    sets `playing` when the sound should start."""
    deadline = time.monotonic() + timeout
    while True:
      ins, outs = self._ports()
      if (ins or not want_in) and (outs or not want_out):
        break
      if proc is not None and proc.poll() is not None:
        raise AssertionError(f'play exited ({proc.returncode}) before opening its devices: '
                             f'{proc.stderr.read()[-2000:]}')
      assert time.monotonic() < deadline, 'play never opened its JACK ports'
      time.sleep(0.05)
    for port in ins:
      for other in self.client.get_all_connections(port):
        self.client.disconnect(other, port)
      self.client.connect(self.out, port)
    for port in outs:
      for other in self.client.get_all_connections(port):
        self.client.disconnect(port, other)
      self.client.connect(port, self.inp)

  @property
  def seconds_played(self) -> float:
    return self.pos / self.rate

  def close(self) -> None:
    self.client.deactivate()
    self.client.close()
