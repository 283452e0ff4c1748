"""Counting XLA compilations, to check that a run's step compiles once (and for the benchmark)."""
import jax

BACKEND_COMPILE_EVENT = '/jax/core/compile/backend_compile_duration'


class CompileCounter:
  """Counts XLA backend compilations (jax.monitoring events) while active.

  with CompileCounter() as compiles:
    ...
  compiles.count, compiles.seconds
  """

  def __init__(self):
    self.count, self.seconds = 0, 0.0

  def _listen(self, event, duration, **_):
    if event == BACKEND_COMPILE_EVENT:
      self.count += 1
      self.seconds += duration

  def start(self):
    """Count from now on (until stop()); returns self."""
    jax.monitoring.register_event_duration_secs_listener(self._listen)
    return self

  def stop(self) -> None:
    jax.monitoring.unregister_event_duration_listener(self._listen)

  def __enter__(self):
    return self.start()

  def __exit__(self, *exc):
    self.stop()
