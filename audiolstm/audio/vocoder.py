"""Channel vocoder: magnitude frames [T, N] -> audio [(T + 1) * hop].

Definition (the "direct sum"):

1. Optional peak picking (`peaks`), otherwise negatives clipped to 0.
2. Per-bin envelopes: with P = [0, A_0, ..., A_{T-1}, 0] ([T + 2, N]), segment s = 0..T covers
   samples n = s * hop + m, m = 0..hop-1, and linearly interpolates from P_s to P_{s+1} with both
   endpoints included (np.linspace(P_s, P_{s+1}, hop); for hop == 1 the value is P_s).
3. y[n] = sum_k env_k[n] * sin(pi * k * n / N + phi_k) -- bin k has frequency k * sr / (2 N), so
   the sample rate is not needed.
4. y / max|y| (an all-zero output stays zero).

Two implementations: `vocode_direct` evaluates the sum literally (per block of segments,
[block, hop, N] at a time) and the default FFT path of `vocode` uses that the bin frequencies are
evenly spaced, so a segment's sum is the imaginary part of a length-2N FFT. All phase arguments
are reduced modulo 2N with integer arithmetic so that long outputs remain accurate in float32.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    'peaks',
    'random_phases',
    'phases_from_offsets',
    'vocode',
    'vocode_direct',
]

_TWO_PI = 2.0 * math.pi
# Element budget of one [block, hop, N] block when vocode() falls back to the
# direct sum (hop > 2N).
_DIRECT_FALLBACK_ELEMENTS = 1 << 23


def peaks(frames: jax.Array) -> jax.Array:
  """Peak heuristic: keeps only the bins louder than both neighbours.

  Args:
    frames: [T, N] magnitudes, any real dtype (any leading shape works: bins are the last axis).

  Returns:
    [T, N] float32: negatives clipped to 0, then bin k (1 <= k <= N - 2) kept only if strictly
    greater than both neighbours, else 0. Bins 0 and N - 1 are always 0 (all bins when N < 3).
  """
  x = jnp.maximum(jnp.asarray(frames, dtype=jnp.float32), 0.0)
  if x.shape[-1] < 3:
    return jnp.zeros_like(x)
  mid = x[..., 1:-1]
  keep = (mid > x[..., :-2]) & (mid > x[..., 2:])
  inner = jnp.where(keep, mid, 0.0)
  pad = [(0, 0)] * (x.ndim - 1) + [(1, 1)]
  return jnp.pad(inner, pad)


def random_phases(key: jax.Array, num_bins: int) -> jax.Array:
  """Uniform random phases, one per bin.

  Args:
    key: a jax PRNG key.
    num_bins: N, the number of bins.

  Returns:
    [num_bins] float32 phases in [0, 2 pi).
  """
  phi = jax.random.uniform(key, (num_bins,), dtype=jnp.float32, minval=0.0, maxval=_TWO_PI)
  # Guard against float32 rounding up to exactly 2 pi.
  return jnp.where(phi >= jnp.float32(_TWO_PI), 0.0, phi)


def phases_from_offsets(offsets, num_bins: int) -> jax.Array:
  """Phases equivalent to starting bin k's sine at integer sample offsets[k].

  sin((offset_k + n) * pi * k / N) == sin(pi * k * n / N + phi_k) with
  phi_k = (pi * k * offset_k / N) mod 2 pi, computed exactly as pi * ((k * offset_k) mod 2N) / N.

  Args:
    offsets: [N] integer sample offsets (may be negative or large): a NumPy array or sequence
      (reduced in int64 first, so any int64 works), or a jax integer array (taken as int32).
    num_bins: N.

  Returns:
    [N] float32 phases in [0, 2 pi).
  """
  two_n = 2 * num_bins
  if not isinstance(offsets, jax.Array):
    # Reduce host-side in int64 first so large offsets survive int32 jnp.
    offsets = np.mod(np.asarray(offsets, dtype=np.int64), two_n)
  off = jnp.mod(jnp.asarray(offsets).astype(jnp.int32), two_n)  # [N], < 2N
  k = jnp.arange(num_bins, dtype=jnp.int32)
  rot = jnp.mod(k * off, two_n)  # < 2N^2 before the mod: no int32 overflow
  return (jnp.float32(math.pi / num_bins) * rot.astype(jnp.float32)).astype(jnp.float32)


# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------


def _prepare(frames, use_peaks: bool):
  """Frames [T, N] -> padded anchor amplitudes P [T + 2, N] float32."""
  frames = jnp.asarray(frames, dtype=jnp.float32)
  if frames.ndim != 2:
    raise ValueError(f'frames must be [T, N], got shape {frames.shape}')
  amps = peaks(frames) if use_peaks else jnp.maximum(frames, 0.0)
  return jnp.pad(amps, ((1, 1), (0, 0)))


def _ramp(hop_size: int) -> jax.Array:
  """Interpolation weight of the segment's end anchor: [hop] float32."""
  if hop_size == 1:
    return jnp.zeros((1,), jnp.float32)
  return jnp.arange(hop_size, dtype=jnp.float32) / jnp.float32(hop_size - 1)


def _blocks(padded: jax.Array, block_frames: int):
  """Pad the anchors so the T + 1 segments split into whole blocks.

  Args:
    padded: [T + 2, N] anchors P.
    block_frames: segments per block B.

  Returns:
    (p, starts): p [nb * B + 1, N] anchors (zero rows appended, so padding segments are silent)
    and starts [nb] int32, the first segment index of each block.
  """
  num_seg = padded.shape[0] - 1
  nb = -(-num_seg // block_frames)
  p = jnp.pad(padded, ((0, nb * block_frames - num_seg), (0, 0)))
  starts = jnp.arange(nb, dtype=jnp.int32) * block_frames
  return p, starts


def _block_anchors(p: jax.Array, start: jax.Array, block_frames: int):
  """Start/end anchors [B, N] each and segment indices [B] of one block."""
  rows = jax.lax.dynamic_slice_in_dim(p, start, block_frames + 1, axis=0)
  seg = start + jnp.arange(block_frames, dtype=jnp.int32)
  return rows[:-1], rows[1:], seg


def _normalise(y: jax.Array) -> jax.Array:
  """y / max|y|; all-zero input stays zero. [L] -> [L] float32."""
  peak = jnp.max(jnp.abs(y))
  safe = jnp.where(peak > 0, peak, 1.0)
  return jnp.where(peak > 0, y / safe, 0.0).astype(jnp.float32)


def _check_args(hop_size: int, block_frames: int):
  if hop_size < 1:
    raise ValueError(f'hop_size must be >= 1, got {hop_size}')
  if block_frames < 1:
    raise ValueError(f'block_frames must be >= 1, got {block_frames}')


# ---------------------------------------------------------------------------
# Direct sum
# ---------------------------------------------------------------------------


def _direct_unnormalised(padded, hop_size: int, phases, block_frames: int):
  """Direct sum, not normalised. P [T + 2, N] -> [(T + 1) * hop]."""
  num_seg = padded.shape[0] - 1
  n_bins = padded.shape[1]
  two_n = 2 * n_bins
  phases = jnp.asarray(phases, dtype=jnp.float32)  # [N]
  p, starts = _blocks(padded, block_frames)
  w = _ramp(hop_size)  # [hop]
  k = jnp.arange(n_bins, dtype=jnp.int32)  # [N]
  m = jnp.arange(hop_size, dtype=jnp.int32)  # [hop]
  hop_mod = hop_size % two_n
  scale = jnp.float32(math.pi / n_bins)

  def block(first):
    lo_b, hi_b, seg_b = _block_anchors(p, first, block_frames)  # [B, N] x2, [B]
    # n mod 2N for n = s * hop + m, without forming s * hop.
    seg_start = jnp.mod(jnp.mod(seg_b, two_n) * hop_mod, two_n)  # [B]
    n_mod = jnp.mod(seg_start[:, None] + m[None, :], two_n)  # [B, hop]
    rot = jnp.mod(n_mod[:, :, None] * k[None, None, :], two_n)  # [B, hop, N]
    sines = jnp.sin(scale * rot.astype(jnp.float32) + phases)  # [B, hop, N]
    # HIGHEST: keep full float32 on accelerators (no TF32/bf16 passes).
    hi_prec = jax.lax.Precision.HIGHEST
    u = jnp.einsum('bmk,bk->bm', sines, lo_b, precision=hi_prec)  # [B, hop]
    v = jnp.einsum('bmk,bk->bm', sines, hi_b, precision=hi_prec)  # [B, hop]
    return ((1.0 - w) * u + w * v).reshape(-1)  # [B * hop]

  out = jax.lax.map(block, starts)  # [nb, B * hop]
  return out.reshape(-1)[: num_seg * hop_size]


@functools.partial(jax.jit, static_argnames=('hop_size', 'use_peaks', 'block_frames'))
def vocode_direct(
    frames: jax.Array,
    hop_size: int,
    phases: jax.Array,
    use_peaks: bool = True,
    block_frames: int = 64,
) -> jax.Array:
  """Vocoder by the literal direct sum (reference / fallback); jitted.

  Vectorised over bins and samples within a block of `block_frames` segments
  ([block_frames, hop, N] intermediates); blocks are visited with `jax.lax.map`.

  Args:
    frames: [T, N] magnitudes (cast to float32).
    hop_size: samples per segment, >= 1 (static).
    phases: [N] float32 per-bin phases.
    use_peaks: apply `peaks` first (static), else clip negatives.
    block_frames: segments per block, >= 1 (static).

  Returns:
    [(T + 1) * hop_size] float32 audio, peak-normalised to max|y| = 1 (all zeros if every
    envelope is zero).

  Raises:
    ValueError: `frames` is not 2-D, or `hop_size` or `block_frames` is below 1.
  """
  _check_args(hop_size, block_frames)
  padded = _prepare(frames, use_peaks)
  return _normalise(_direct_unnormalised(padded, hop_size, phases, block_frames))


# ---------------------------------------------------------------------------
# FFT path
# ---------------------------------------------------------------------------


def _fft_unnormalised(padded, hop_size: int, phases, block_frames: int):
  """FFT evaluation of the direct sum, not normalised (requires hop <= 2N).

  For segment s and m < hop:

    sum_k P_s[k] sin(pi k (s hop + m) / N + phi_k)
      = Im(sum_k z_k exp(i pi k m / N)),
    z_k = P_s[k] exp(i (phi_k + pi ((k * (s hop mod 2N)) mod 2N) / N))
      = -Im(FFT_{2N}(conj z))[m].

  P [T + 2, N] -> [(T + 1) * hop].
  """
  num_seg = padded.shape[0] - 1
  n_bins = padded.shape[1]
  two_n = 2 * n_bins
  phases = jnp.asarray(phases, dtype=jnp.float32)  # [N]
  p, starts = _blocks(padded, block_frames)
  w = _ramp(hop_size)  # [hop]
  k = jnp.arange(n_bins, dtype=jnp.int32)  # [N]
  hop_mod = hop_size % two_n
  scale = jnp.float32(math.pi / n_bins)

  def block(first):
    lo_b, hi_b, seg_b = _block_anchors(p, first, block_frames)  # [B, N] x2, [B]
    seg_start = jnp.mod(jnp.mod(seg_b, two_n) * hop_mod, two_n)  # [B], (s hop) mod 2N
    rot = jnp.mod(seg_start[:, None] * k[None, :], two_n)  # [B, N], exact integers
    angle = phases[None, :] + scale * rot.astype(jnp.float32)  # [B, N]
    rotor = jnp.exp(-1j * angle.astype(jnp.complex64))  # conj of the phase factor
    z = jnp.stack([lo_b, hi_b]) * rotor[None]  # [2, B, N] complex64
    spec = jnp.fft.fft(z, n=two_n, axis=-1)[..., :hop_size]  # [2, B, hop]
    uv = -jnp.imag(spec)  # [2, B, hop]
    return ((1.0 - w) * uv[0] + w * uv[1]).reshape(-1)  # [B * hop]

  out = jax.lax.map(block, starts)  # [nb, B * hop]
  return out.reshape(-1)[: num_seg * hop_size]


@functools.partial(jax.jit, static_argnames=('hop_size', 'use_peaks', 'block_frames', 'method',
                                             'normalise'))
def vocode(
    frames: jax.Array,
    hop_size: int,
    phases: jax.Array,
    use_peaks: bool = True,
    block_frames: int = 256,
    method: str = 'fft',
    normalise: bool = True,
) -> jax.Array:
  """Channel vocoder (jitted; every argument but `frames` and `phases` is static).

  Args:
    frames: [T, N] predicted magnitudes (cast to float32).
    hop_size: samples per segment, >= 1.
    phases: [N] float32 per-bin phases (`random_phases` or `phases_from_offsets`).
    use_peaks: apply `peaks` first, else only clip negatives.
    block_frames: segments processed per block, >= 1 (bounds memory to O(block_frames * N) for
      the FFT path).
    method: 'fft' (default; falls back to the direct sum when hop_size > 2N) or 'direct'.
    normalise: divide by max|y| (step 4); False returns the direct sum itself, whose pieces
      join exactly (stream mode vocodes frame by frame).

  Returns:
    [(T + 1) * hop_size] float32 audio with max|y| = 1 (all zeros if every envelope is zero),
    or the unnormalised sum.

  Raises:
    ValueError: `frames` is not 2-D, `hop_size` or `block_frames` is below 1, or `method` is
      neither 'fft' nor 'direct'.
  """
  _check_args(hop_size, block_frames)
  if method not in ('fft', 'direct'):
    raise ValueError(f"method must be 'fft' or 'direct', got {method!r}")
  padded = _prepare(frames, use_peaks)
  if method == 'fft' and hop_size <= 2 * padded.shape[1]:
    y = _fft_unnormalised(padded, hop_size, phases, block_frames)
  elif method == 'direct':
    y = _direct_unnormalised(padded, hop_size, phases, block_frames)
  else:
    # hop > 2N: the FFT cannot cover a segment; use the direct sum with the
    # block shrunk so its [block, hop, N] intermediates stay bounded.
    cap = max(1, _DIRECT_FALLBACK_ELEMENTS // (hop_size * padded.shape[1]))
    y = _direct_unnormalised(padded, hop_size, phases, min(block_frames, cap))
  return _normalise(y) if normalise else y
