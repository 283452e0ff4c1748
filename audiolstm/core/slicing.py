"""Pure index arithmetic for all data slicing (dissertation section 3.2).

Every function returns an integer index array into a 1-D source; a gather (`jnp.take`, or NumPy
fancy indexing) does the slicing, on the device. Cursors may be a scalar or an array of any shape
[...] (a block of cursors); the index arrays then get that shape in front. The functions work on
NumPy arrays and on traced jax arrays alike, so the same code builds host-side references and the
jitted step's gathers.
"""
import numpy as np

from audiolstm.config.settings import Geometry


def _as_array(x):
  return np.asarray(x) if isinstance(x, (int, np.integer)) else x


def row_offsets(seg_len: int, num_rows: int, int_inc: int) -> np.ndarray:
  """[num_rows, seg_len] offsets of each row's values from the cursor: i*int_inc + arange(seg_len).

  Args:
    seg_len: values per row.
    num_rows: rows.
    int_inc: offset between the starts of consecutive rows (config.Geometry.int_inc).

  Returns:
    [num_rows, seg_len] int32 offsets.
  """
  return (np.arange(num_rows)[:, None] * int_inc + np.arange(seg_len)[None, :]).astype(np.int32)


def input_indices(g: Geometry, cursor):
  """[..., num_unrollings, seg_len] source indices of the input matrix at `cursor` [...].

  Args:
    g: the geometry.
    cursor: [...] int cursors in source units (a scalar or any shape).

  Returns:
    [..., num_unrollings, seg_len] int indices into the source.
  """
  return _as_array(cursor)[..., None, None] + row_offsets(g.seg_len, g.num_unrollings, g.int_inc)


def label_indices(g: Geometry, cursor):
  """[..., label_rows, label_width] source indices of the label matrix at `cursor` [...].

  Args:
    g: the geometry.
    cursor: [...] int cursors in source units (a scalar or any shape).

  Returns:
    [..., label_rows, label_width] int indices into the source (g.label_offset on from the cursor).
  """
  offsets = row_offsets(g.label_width, g.label_rows, g.int_inc) + g.label_offset
  return _as_array(cursor)[..., None, None] + offsets


def seed_indices(g: Geometry, offset):
  """[..., input_span] source indices of a seed buffer starting at `offset` [...].

  Args:
    g: the geometry.
    offset: [...] int seed offsets in source units (a scalar or any shape).

  Returns:
    [..., input_span] int indices into the seed source.
  """
  return _as_array(offset)[..., None] + np.arange(g.input_span, dtype=np.int32)


def buffer_matrix_indices(g: Geometry) -> np.ndarray:
  """[num_unrollings, seg_len] indices into a seed buffer that build its input matrix."""
  return input_indices(g, 0)


def iterations_per_epoch(g: Geometry, source_len: int) -> int:
  """Number of cursors t*ext_inc (t = 0, 1, ...) whose input AND label indices lie in the source.

  Args:
    g: the geometry.
    source_len: values in the 1-D source.

  Returns:
    The count (0 when the source is shorter than g.need).
  """
  if source_len < g.need:
    return 0
  return (source_len - g.need) // g.ext_inc + 1


def cursors(g: Geometry, steps, iters_per_epoch: int):
  """Training cursor of each global step [...]: epochs wrap back to 0, as in the original.

  Args:
    g: the geometry.
    steps: [...] int global step numbers (a scalar or any shape).
    iters_per_epoch: iterations_per_epoch of the source (>= 1).

  Returns:
    [...] int cursors in source units: (steps % iters_per_epoch) * g.ext_inc.
  """
  return (_as_array(steps) % iters_per_epoch) * g.ext_inc


def num_seed_offsets(g: Geometry, source_len: int) -> int:
  """How many seed-buffer starts (multiples of g.unit) fit in a source of `source_len` values.

  Args:
    g: the geometry.
    source_len: values in the 1-D seed source.

  Returns:
    The count (0 when the source is shorter than g.input_span).
  """
  if source_len < g.input_span:
    return 0
  return (source_len - g.input_span) // g.unit + 1


def advance_buffer(g: Geometry, buffer, last_row):
  """Append the part of the last predicted row beyond the buffer; drop as many from the front.

  For int_cursor_inc == seg_len this is the original's update: shift by the predicted samples
  (column vector and transpose: one sample; vector: one row; fft: one frame).

  Args:
    g: the geometry.
    buffer: [..., input_span] seed buffers (NumPy or jax).
    last_row: [..., label_width] the last predicted row of each.

  Returns:
    [..., input_span] buffers, shifted by g.new_per_step values.
  """
  n = g.new_per_step
  xp = np if isinstance(buffer, np.ndarray) else _jnp()
  return xp.concatenate([buffer[..., n:], last_row[..., g.label_width - n:]], axis=-1)


def _jnp():
  # jax loads only for the device-side gather
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return jnp
