"""Fixtures shared by the tests (the shared helpers are in tests/helpers.py)."""
import atexit
import os
import shutil
import tempfile

# Each test process (pytest-xdist runs several) compiles librosa's numba kernels into a cache of its
# own, which the CLI runs it starts inherit: parallel workers filling one cold cache can mix the
# files of two compilations and crash with a segfault (numba/numba#10128).
os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(prefix='audiolstm-test-numba-')
atexit.register(shutil.rmtree, os.environ['NUMBA_CACHE_DIR'], ignore_errors=True)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position  # after the cache
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture
def synth_audio():
  """2 s of a decaying two-note signal at 11025 Hz (float32)."""
  sr = 11025
  t = np.arange(2 * sr) / sr
  x = 0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t) + 0.3 * np.sin(2 * np.pi * 330 * t)
  return x.astype(np.float32)
