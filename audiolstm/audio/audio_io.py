"""Audio file input/output: decoding any common format to mono float32, atomic WAV writing.

Errors a user can cause (missing, empty or undecodable files) are raised as `AudioError`, a
`ValueError` whose message is one line that names the file and says what to do about it.
"""

from __future__ import annotations

import gc
import io
import os
import stat
import warnings

import numpy as np
import soundfile as sf

from audiolstm import files

__all__ = [
    'AudioError',
    'DEFAULT_AUDIO',
    'load_audio',
    'load_many',
    'training_files',
    'write_wav',
]

DEFAULT_AUDIO: str = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  'data', 'default.wav')
"""Absolute path of the bundled default recording (20 s plucked-string melody, 11025 Hz mono)."""

_FORMATS_HINT = 'use a WAV, FLAC, OGG or MP3 file'
SOURCE = 'config.input_files / seed_files'  # where a path came from, in the messages
_MAX_REASON = 160


class AudioError(ValueError):
  """A user-facing, one-line error about an audio file.

  The message names the file and says how to fix it; line breaks in it become spaces.
  """

  def __init__(self, message: str):
    super().__init__(str(message).replace('\r\n', ' ').replace('\n', ' ').replace('\r', ' '))


def _check_rate(sample_rate: int) -> int:
  """`sample_rate` as an int; ValueError unless it is a positive integer (bools are not)."""
  if (
      isinstance(sample_rate, bool)
      or not isinstance(sample_rate, (int, np.integer))
      or sample_rate <= 0
  ):
    raise ValueError(f'sample_rate must be a positive integer, got {sample_rate!r}')
  return int(sample_rate)


def _short_reason(exc: BaseException) -> str:
  """The most informative one-line reason found along an exception's cause/context chain."""
  seen, chain = set(), []
  e: BaseException | None = exc
  while e is not None and id(e) not in seen:
    seen.add(id(e))
    chain.append(e)
    e = e.__cause__ or e.__context__
  for e in chain:
    if isinstance(e, sf.LibsndfileError):
      msg = (getattr(e, 'error_string', '') or '').strip()
      if msg:
        return msg
  for e in chain:
    if isinstance(e, EOFError):
      return 'file is truncated'
    if isinstance(e, PermissionError):
      return 'permission denied'
    if type(e).__name__ == 'NoBackendError':
      return 'format not recognised by any audio backend'
  for e in chain:
    msg = str(e.strerror if isinstance(e, OSError) and e.strerror else e).strip()
    if msg:
      return msg
  return type(exc).__name__


def _one_line(text: str) -> str:
  """`text` on one line, trailing punctuation dropped, cut to _MAX_REASON characters."""
  text = ' '.join(str(text).split()).rstrip('.:; ')
  return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + '...'


def _librosa_fallback(path: str) -> tuple[np.ndarray, int]:
  """Decodes `path` with librosa (audioread backends), silently.

  Args:
    path: the audio file.

  Returns:
    (y, native_sr): [n] float32 mono samples and the file's sample rate.

  Raises:
    AudioError: the file cannot be decoded (the message gives a short reason), or it holds
      non-finite samples.
  """
  import librosa  # imported lazily: slow to import, only needed here

  message = None
  with warnings.catch_warnings():
    # PySoundFile failed / audioread fallback / deprecations / ResourceWarning
    warnings.simplefilter('ignore')
    try:
      y, native_sr = librosa.load(path, sr=None, mono=True)
    except Exception as e:  # pylint: disable=broad-except  # any decoder failure is the file's
      if 'not finite' in str(e):
        message = (
            f'audio file contains non-finite samples (NaN/inf): {path} '
            f'(re-export it as 16-bit or 24-bit PCM)'
        )
      else:
        message = (
            f'could not decode audio file: {path} ({_one_line(_short_reason(e))}; {_FORMATS_HINT})'
        )
    if message is not None:
      gc.collect()  # finalise file handles a failed backend left open, while warnings are silenced
  if message is not None:
    raise AudioError(message)
  return y, int(native_sr)


def load_audio(path: str, sample_rate: int, source: str = SOURCE) -> np.ndarray:
  """Decodes an audio file (any format libsndfile or librosa reads) to mono at `sample_rate`.

  Multi-channel files are averaged to mono; other rates are resampled (librosa).

  Args:
    path: the audio file (str or os.PathLike).
    sample_rate: the rate to return, in Hz (a positive int).
    source: where the path came from, named in the error messages (a flag, an OSC message).

  Returns:
    [n] float32 samples in [-1, 1] at `sample_rate`.

  Raises:
    AudioError: the file is missing, a directory, empty, undecodable, has no samples, contains
      non-finite samples, or is too short to resample.
    ValueError: `sample_rate` is not a positive integer.
  """
  sample_rate = _check_rate(sample_rate)
  path = os.fspath(path)
  if files.is_url(path):  # gs://...: read from a local copy
    if not files.exists(path):
      raise AudioError(f'audio file not found: {path} (check the path in {source})')
    with files.local_copy(path) as local:
      return load_audio(local, sample_rate, source)
  _check_file(path, source)
  y = None
  try:
    # libsndfile first (WAV/FLAC/OGG/MP3/...); librosa (audioread) as the fallback decoder
    data, native_sr = sf.read(path, dtype='float32', always_2d=True)
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
  except Exception:  # pylint: disable=broad-except  # librosa gets its chance below
    pass
  if y is None:
    y, native_sr = _librosa_fallback(path)
  y = np.asarray(y, dtype=np.float32).reshape(-1)
  if y.size == 0:
    raise AudioError(f'audio file contains no samples: {path} (re-export it, or {_FORMATS_HINT})')
  if not np.all(np.isfinite(y)):
    raise AudioError(
        f'audio file contains non-finite samples (NaN/inf): {path} '
        f'(re-export it as 16-bit or 24-bit PCM)'
    )
  if int(native_sr) != sample_rate:
    import librosa  # imported lazily: slow to import, only needed here

    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      y = librosa.resample(y, orig_sr=int(native_sr), target_sr=sample_rate)
    y = np.asarray(y, dtype=np.float32)
    if y.size == 0:
      raise AudioError(f'audio file is too short to resample to {sample_rate} Hz: {path}')
  return np.clip(y, -1.0, 1.0).astype(np.float32, copy=False)


def _check_file(path: str, source: str = SOURCE) -> None:
  """AudioError (one line) unless `path` is an existing, non-empty, readable file; the message
  names `source`, where the path came from."""
  if not os.path.exists(path):
    raise AudioError(f'audio file not found: {path} (check the path in {source})')
  if os.path.isdir(path):
    raise AudioError(f'could not decode audio file: {path} (it is a directory, not a file; '
                     f'point {source} at an audio file)')
  try:
    st = os.stat(path)
  except OSError as e:
    raise AudioError(f'could not read audio file: {path} ({_one_line(_short_reason(e))})') from None
  if not stat.S_ISREG(st.st_mode):
    kind = 'a FIFO (named pipe)' if stat.S_ISFIFO(st.st_mode) else 'not a regular file'
    raise AudioError(
        f'could not read audio file: {path} (it is {kind}; point {source} at an audio file)'
    )
  size = st.st_size
  if size == 0:
    raise AudioError(f'audio file is empty (0 bytes): {path} (re-export it, or {_FORMATS_HINT})')


def load_many(paths: list[str], sample_rate: int) -> np.ndarray:
  """`load_audio` of each path, concatenated in order.

  Args:
    paths: the audio files (a single path is taken as a list of one).
    sample_rate: the rate to return, in Hz.

  Returns:
    [n] float32 samples in [-1, 1]: the files one after another.

  Raises:
    AudioError: `paths` is empty, or any file fails to load (see `load_audio`).
  """
  paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
  if not paths:
    raise AudioError(
        'no audio files given (set config.input_files / seed_files to one or more audio files)'
    )
  return np.concatenate([load_audio(p, sample_rate) for p in paths]).astype(np.float32, copy=False)



def training_files(input_files) -> list[str]:
  """The audio a run trains on: its input files, or the bundled recording when it names none.

  Args:
    input_files: config.input_files: paths (a single path is taken as a list of one); empty or
      None for the default.

  Returns:
    The paths as a list, or [DEFAULT_AUDIO].
  """
  if isinstance(input_files, (str, os.PathLike)):
    return [input_files]
  return list(input_files) if input_files else [DEFAULT_AUDIO]


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> str:
  """Atomically writes audio as a 16-bit PCM WAV file.

  Samples are clipped to [-1, 1]. Parent directories are created. The data goes to a hidden
  `.*.tmp` file in the same directory, is fsync'ed, then `os.replace`'d over `path`.

  Args:
    path: the WAV file to write.
    audio: [n] mono or [n, channels] samples, any float or int dtype (float32 expected).
    sample_rate: the file's rate, in Hz (a positive int).

  Returns:
    `path` (as str).

  Raises:
    ValueError: `audio` is not 1-D or 2-D, contains non-finite samples, or `sample_rate` is not
      a positive integer; nothing is written then.
  """
  sample_rate = _check_rate(sample_rate)
  path = os.fspath(path)
  data = np.asarray(audio)
  if data.ndim not in (1, 2):
    raise ValueError(f'audio must be 1-D (mono) or 2-D (frames, channels), got shape {data.shape}')
  data = data.astype(np.float64, copy=False)
  if not np.all(np.isfinite(data)):
    raise ValueError(f'refusing to write {path}: audio contains non-finite samples (NaN/inf)')
  data = np.clip(data, -1.0, 1.0)

  encoded = io.BytesIO()  # encoded in memory: a full disk then raises OSError(ENOSPC), which
  sf.write(encoded, data, sample_rate, subtype='PCM_16', format='WAV')  # libsndfile would hide
  with files.atomic_file(path) as tmp:
    with open(tmp, 'wb') as f:
      f.write(encoded.getbuffer())
  return path
