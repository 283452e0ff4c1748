"""Index functions against naive NumPy loops over many random configurations."""
import numpy as np
import pytest

from audiolstm.config import settings as config_lib
from audiolstm.config.settings import Geometry
from audiolstm.core import slicing


def random_geometries(n, seed=0):
  rng = np.random.default_rng(seed)
  for _ in range(n):
    seg = int(rng.integers(1, 12))
    nu = int(rng.integers(1, 6))
    int_inc = int(rng.integers(1, 14))
    rows = nu if rng.random() < 0.7 else 1
    width = int(rng.integers(1, 12))
    yield Geometry(seg_len=seg, num_unrollings=nu, int_inc=int_inc,
                   ext_inc=int(rng.integers(1, 9)), label_offset=int(rng.integers(0, 20)),
                   label_rows=rows, label_width=width)


def naive_rows(source, start, num_rows, inc, length):
  return np.array([[source[start + i * inc + k] for k in range(length)] for i in range(num_rows)])


def test_input_and_label_rows_match_naive_loop():
  source = np.arange(500) * 10
  for g in random_geometries(300):
    for cursor in (0, 3, 17):
      if cursor + g.need > len(source):
        continue
      got_in = source[slicing.input_indices(g, cursor)]
      got_lab = source[slicing.label_indices(g, cursor)]
      np.testing.assert_array_equal(
          got_in, naive_rows(source, cursor, g.num_unrollings, g.int_inc, g.seg_len))
      np.testing.assert_array_equal(
          got_lab, naive_rows(source, cursor + g.label_offset, g.label_rows, g.int_inc,
                              g.label_width))


def test_block_of_cursors_stacks_single_cursors():
  for g in random_geometries(50, seed=1):
    block = np.array([[0, 2], [5, 7]])
    idx = slicing.input_indices(g, block)
    assert idx.shape == (2, 2, g.num_unrollings, g.seg_len)
    np.testing.assert_array_equal(idx[1, 0], slicing.input_indices(g, 5))
    lab = slicing.label_indices(g, block)
    np.testing.assert_array_equal(lab[0, 1], slicing.label_indices(g, 2))


def test_iterations_per_epoch_is_the_largest_in_bounds_count():
  for g in random_geometries(300, seed=2):
    for n in (5, 40, 97, 200):
      brute = 0
      while True:
        c = brute * g.ext_inc
        hi = max(slicing.input_indices(g, c).max(), slicing.label_indices(g, c).max())
        if hi >= n:
          break
        brute += 1
      assert slicing.iterations_per_epoch(g, n) == brute
      if brute:  # every cursor of an epoch stays inside the source
        last = slicing.cursors(g, np.arange(brute), brute)
        assert slicing.label_indices(g, last).max() < n
        assert slicing.input_indices(g, last).max() < n


def test_cursors_wrap_each_epoch():
  g = Geometry(seg_len=4, num_unrollings=2, int_inc=4, ext_inc=3, label_offset=4, label_rows=2,
               label_width=1)
  np.testing.assert_array_equal(slicing.cursors(g, np.arange(7), 3), [0, 3, 6, 0, 3, 6, 0])


def test_seed_indices_and_buffer_matrix():
  for g in random_geometries(100, seed=3):
    source = np.arange(400)
    buf = source[slicing.seed_indices(g, 11)]
    assert buf.shape == (g.input_span,)
    # The matrix built from the buffer is the input matrix at that offset.
    np.testing.assert_array_equal(buf[slicing.buffer_matrix_indices(g)],
                                  source[slicing.input_indices(g, 11)])
    assert slicing.num_seed_offsets(g, 400) == 400 - g.input_span + 1


def _geometry(approach, seg=8, nu=3, **extra):
  c = config_lib.resolve(_cfg(approach, seg, nu, **extra))
  config_lib.validate(c)
  return config_lib.geometry(c)


def _cfg(approach, seg, nu, **extra):
  from configs import default  # pylint: disable=g-import-not-at-top
  c = default.get_config()
  c.approach, c.seg_len, c.num_unrollings = approach, seg, nu
  for k, v in extra.items():
    c[k] = v
  return c


@pytest.mark.parametrize('approach', ['vector', 'column', 'transpose', 'fft'])
def test_seed_update_reproduces_original_for_int_inc_equal_seg_len(approach):
  """The original shifted the seed matrix by the predicted samples (np.roll for column/transpose,
  drop the first row and append the predicted one for vector/fft)."""
  g = _geometry(approach)
  rng = np.random.default_rng(0)
  seed = rng.normal(size=(g.num_unrollings, g.seg_len)).astype(np.float32)
  out = rng.normal(size=(g.label_rows, g.label_width)).astype(np.float32)
  buffer = seed.reshape(-1)  # int_cursor_inc == seg_len: the matrix is the buffer
  new = slicing.advance_buffer(g, buffer, out[-1])
  got = new[slicing.buffer_matrix_indices(g)]
  if approach in ('column', 'transpose'):
    want = np.roll(seed, -1)
    want[-1][-1] = out[-1, -1]
  else:
    want = np.append(seed[1:], out[-1].reshape(1, -1), axis=0)
  np.testing.assert_array_equal(got, want)
  assert g.new_per_step == (g.seg_len if approach in ('vector', 'fft') else 1)


def test_advance_buffer_overlapping_rows_appends_only_new_values():
  # Rows overlap (int_cursor_inc = seg_len / 2): the last label row reaches 3 values past the end.
  g = Geometry(seg_len=8, num_unrollings=3, int_inc=4, ext_inc=1, label_offset=3, label_rows=3,
               label_width=8)
  assert (g.input_span, g.label_span, g.new_per_step) == (16, 19, 3)
  buf = np.arange(16.0)
  last_row = np.arange(100.0, 108.0)  # covers buffer positions 11..18
  np.testing.assert_array_equal(slicing.advance_buffer(g, buf, last_row),
                                np.r_[np.arange(3.0, 16.0), [105.0, 106.0, 107.0]])
