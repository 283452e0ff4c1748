"""Fixtures shared by the tests (the shared helpers are in tests/helpers.py)."""
import numpy as np
import pytest


@pytest.fixture
def synth_audio():
  """2 s of a decaying two-note signal at 11025 Hz (float32)."""
  sr = 11025
  t = np.arange(2 * sr) / sr
  x = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 330 * t)
  return x.astype(np.float32)
