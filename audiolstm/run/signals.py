"""Stopping long work cleanly: SIGTERM/SIGINT set a flag that a loop checks between steps; a
second one stops at once (but never in the middle of a checkpoint save)."""
import contextlib
import signal
import socket
import sys
import threading

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopNow(BaseException):
  """A second SIGTERM/SIGINT: stop at once (raised in the main thread by StopSignals).

  A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it. `message`
  is the one line for the user (a caller may replace it with one that says more).
  """

  def __init__(self, signal_name: str):
    super().__init__(signal_name)
    self.signal_name = signal_name
    self.status = 128 + int(signal.Signals[signal_name])  # the shell's status for that signal
    self.message = f'stopped at once by a second {signal_name}'


class StopSignals:
  """SIGTERM/SIGINT set `requested` (the signal's name) instead of killing; a second one raises
  StopNow at once, or, inside `critical()` (a checkpoint save), right after it. Installed only
  on the main thread (elsewhere it never triggers).

  Two signals that arrive while the main thread is busy in native code (a jitted chunk) reach
  Python as one call of the handler; the wakeup fd, which gets one byte per signal delivered,
  counts them apart.

    with StopSignals() as stop:
      while not stop.requested:
        ...
        with stop.critical():
          save()
  """

  def __init__(self):
    self.requested = None
    self._previous = {}
    self._count = 0
    self._critical = 0
    self._forced = None
    self._wake = None
    self._previous_wake = -1
    self._previous_hook = None

  def _unraisable(self, info):
    """sys.unraisablehook while installed: a StopNow raised where Python cannot propagate it (a
    __del__ or weakref callback the second signal landed in) is dropped silently, as the loop's
    next check raises it again (critical()); anything else goes to the previous hook."""
    if not isinstance(info.exc_value, StopNow):
      self._previous_hook(info)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._previous_hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
      self._wake = socket.socketpair()
      for s in self._wake:
        s.setblocking(False)
      self._previous_wake = signal.set_wakeup_fd(self._wake[1].fileno(),
                                                 warn_on_full_buffer=False)
      for sig in _SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _delivered(self) -> int:
    """Stop signals delivered since the last call (the wakeup fd's bytes)."""
    data = b''
    try:
      while True:
        chunk = self._wake[0].recv(256)
        if not chunk:
          break
        data += chunk
    except (BlockingIOError, OSError):
      pass
    return sum(1 for b in data if b in _SIGNALS)

  def _handle(self, signum, frame):
    del frame
    name = signal.Signals(signum).name
    self._count += max(1, self._delivered())
    self.requested = self.requested or name
    if self._count >= 2:
      if self._critical:
        self._forced = name
      else:
        raise StopNow(name)

  @contextlib.contextmanager
  def critical(self):
    """A block (a checkpoint save) that a second signal does not interrupt: StopNow comes right
    after it instead."""
    self._critical += 1
    try:
      yield
    finally:
      self._critical -= 1
    if self._count >= 2 and not self._critical:  # also if a StopNow was swallowed (a __del__)
      raise StopNow(self._forced or self.requested)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    if self._previous_hook is not None:
      sys.unraisablehook, self._previous_hook = self._previous_hook, None
    if self._wake is not None:
      signal.set_wakeup_fd(self._previous_wake)
      for s in self._wake:
        s.close()
      self._wake = None
