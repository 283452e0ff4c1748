"""Stopping long work cleanly: SIGTERM/SIGINT set a flag that a loop checks between steps."""
import signal
import threading


class StopSignals:
  """SIGTERM/SIGINT set `requested` (the signal's name) instead of killing; a second one acts at
  once. Installed only on the main thread (elsewhere it never triggers).

    with StopSignals() as stop:
      while not stop.requested:
        ...
  """

  def __init__(self):
    self.requested = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.requested = signal.Signals(signum).name
    for sig, handler in self._previous.items():  # a second signal acts at once
      signal.signal(sig, handler)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
