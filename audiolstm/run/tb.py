"""A small TensorBoard writer over tensorboardX (no TensorFlow needed), and an event-file reader.

  w = Writer(workdir)                       # event files in workdir (tensorboard --logdir workdir)
  w.scalars(step, {'loss': 0.1, 'scores/max_ncc': 0.4})
  w.audio('dreams/s0', step, audio, 11025)  # playable in TensorBoard's audio tab
  w.image('spectrograms/s0', step, 'spectrograms/x.png')   # or an [H, W, 3] array
  w.close()

`read_events(logdir)` parses the event files back (TFRecord framing with CRC checks, the protos of
tensorboardX), for tests and notebooks.
"""
import errno
import io
import os
import shutil
import struct
import tempfile
import threading
import time

import numpy as np
import tensorboardX
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from audiolstm import files


def _as_uint8_image(image) -> np.ndarray:
  """[H, W, 3] uint8 of a PNG path or of an [H, W], [H, W, 3] or [H, W, 4] array.

  Float arrays are taken as values in [0, 1]; integer arrays as values in [0, 255].
  """
  if isinstance(image, (str, os.PathLike)):
    from PIL import Image  # pylint: disable=g-import-not-at-top  # tensorboardX needs it anyway
    with Image.open(io.BytesIO(files.read_bytes(image)) if files.is_url(image) else image) as im:
      return np.asarray(im.convert('RGB'))
  a = np.asarray(image)
  if a.ndim == 2:
    a = np.repeat(a[:, :, None], 3, axis=2)
  if a.ndim != 3 or a.shape[2] not in (3, 4):
    raise ValueError(f'an image must be [H, W], [H, W, 3] or [H, W, 4], got shape {a.shape}')
  a = a[:, :, :3]
  if np.issubdtype(a.dtype, np.floating):
    a = np.round(np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0)
  return np.clip(a, 0, 255).astype(np.uint8)


_WRITE_ERRORS = []  # OSErrors of a full disk in tensorboardX's writer thread, for check()


def _keep_disk_full_errors() -> None:
  """tensorboardX writes in a thread, which a full disk ends with a traceback on stderr and the
  events lost; keep that error instead, for Writer.check() to raise in the caller's thread."""
  previous = threading.excepthook
  if getattr(previous, 'audiolstm_tb', False):
    return

  def hook(args):
    e = args.exc_value
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
      _WRITE_ERRORS.append(e)
    else:
      previous(args)

  hook.audiolstm_tb = True
  threading.excepthook = hook


class Writer:
  """TensorBoard event files in `logdir`: scalars, audio clips and images by step.

  A URL `logdir` (gs://...) gets the event files written in a local temporary folder and
  uploaded whole (audiolstm.files) at most every `flush_secs` by check() and at close().
  """

  def __init__(self, logdir: str, flush_secs: int = 30, purge_step=None):
    """Event files in `logdir`; with `purge_step` (a resumed run's iteration) TensorBoard hides
    the events of earlier files at that step and later, which the resume writes again."""
    self.logdir, self.flush_secs = logdir, flush_secs
    if files.is_url(logdir):
      self._local, self._uploaded = tempfile.mkdtemp(prefix='audiolstm-tb-'), time.monotonic()
    else:
      os.makedirs(logdir, exist_ok=True)
      self._local = None
    _keep_disk_full_errors()
    self._writer = tensorboardX.SummaryWriter(logdir=self._local or logdir,
                                              flush_secs=flush_secs, purge_step=purge_step)

  def _upload(self, force: bool = False) -> None:
    """Upload the local event files of a URL logdir (every flush_secs, or now with `force`)."""
    if self._local is None or (not force
                               and time.monotonic() - self._uploaded < self.flush_secs):
      return
    self._writer.flush()
    for name in os.listdir(self._local):
      files.upload(os.path.join(self._local, name), os.path.join(self.logdir, name))
    self._uploaded = time.monotonic()

  def scalars(self, step: int, values: dict) -> None:
    """One scalar per tag (tag: number or bool; non-numbers are an error) at `step`."""
    for tag, value in values.items():
      self._writer.add_scalar(str(tag), float(value), global_step=int(step))

  def audio(self, tag: str, step: int, audio: np.ndarray, sr: int) -> None:
    """A mono clip [n] (clipped to [-1, 1]; non-finite samples written as 0) at `step`."""
    x = np.nan_to_num(np.asarray(audio, np.float32).reshape(-1), nan=0.0, posinf=0.0, neginf=0.0)
    self._writer.add_audio(tag, np.clip(x, -1.0, 1.0), global_step=int(step),
                           sample_rate=int(sr))

  def image(self, tag: str, step: int, image) -> None:
    """A PNG file (path) or an [H, W, 3] array (float in [0, 1] or uint8) at `step`."""
    self._writer.add_image(tag, _as_uint8_image(image), global_step=int(step),
                           dataformats='HWC')

  def flush(self) -> None:
    self._writer.flush()

  def check(self) -> None:
    """Raise the OSError that ended the writer thread (a full disk), if one did."""
    if _WRITE_ERRORS:
      raise _WRITE_ERRORS.pop(0)
    self._upload()

  def close(self) -> None:
    self._writer.close()
    if self._local is not None:
      self._upload(force=True)
      shutil.rmtree(self._local, ignore_errors=True)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class NoWriter:
  """Stands in for a Writer where nothing is written (processes other than 0)."""

  def __getattr__(self, name):
    return lambda *args, **kwargs: None

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return None


def read_records(path: str):
  """The payloads (bytes) of a TFRecord file, checking lengths and CRCs (ValueError if corrupt)."""
  with open(path, 'rb') as f:
    data = f.read()
  pos = 0
  while pos < len(data):
    if pos + 12 > len(data):
      raise ValueError(f'{path}: truncated record header at byte {pos}')
    header = data[pos:pos + 8]
    (length,) = struct.unpack('<Q', header)
    (length_crc,) = struct.unpack('<I', data[pos + 8:pos + 12])
    if masked_crc32c(header) != length_crc:
      raise ValueError(f'{path}: bad length checksum at byte {pos}')
    payload = data[pos + 12:pos + 12 + length]
    if len(payload) != length or pos + 16 + length > len(data):
      raise ValueError(f'{path}: truncated record at byte {pos}')
    (payload_crc,) = struct.unpack('<I', data[pos + 12 + length:pos + 16 + length])
    if masked_crc32c(payload) != payload_crc:
      raise ValueError(f'{path}: bad data checksum at byte {pos}')
    yield payload
    pos += 16 + length


def read_events(logdir: str) -> list:
  """Every Event (tensorboardX.proto.event_pb2.Event) of the event files in logdir, file by file."""
  names = files.listdir(logdir) if files.isdir(logdir) else []
  events = []
  for name in sorted(n for n in names if n.startswith('events.out.tfevents.')):
    with files.local_copy(os.path.join(logdir, name)) as path:  # a URL: read from a local copy
      events += [event_pb2.Event.FromString(r) for r in read_records(path)]
  return events
