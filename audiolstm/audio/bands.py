"""Bands of sound: the DSP of play mode's `resonate` (dissertation 6.2.2, "like two strings
speaking in sympathy"): the dream swells where the player's notes are.

The dream is split into B log-spaced bands ahead of time (`BandSplitter`: a streaming STFT with a
partition of unity over the bins, so the bands sum back to the dream). The split's delay is not
heard: the dream is computed ahead anyway. Only the player's side is on the clock: `BandMeter`
measures the band energies of the newest samples (a window that weights the newest samples
fully, so an onset shows at once) and `BandGains` turns them into per-sample gains (fast attack,
slow release, like a string that rings on). The output is `mix(bands, gains)`.
"""
import numpy as np


def band_edges(sample_rate: int, num_bands: int = 24, low_hz: float = 80.0,
               high_hz: float = None) -> np.ndarray:
  """[B + 1] log-spaced band edges in Hz from low_hz to high_hz (default 0.45 * sample_rate)."""
  high_hz = 0.45 * sample_rate if high_hz is None else high_hz
  return np.geomspace(low_hz, high_hz, num_bands + 1)


def band_masks(edges: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
  """[B, n_fft // 2 + 1] float32 weights of each bin in each band, summing to 1 over the bands.

  Raised-cosine crossovers on a log-frequency axis, half a band wide, centred on the inner
  edges; bins under the first edge belong to band 0, over the last to band B - 1.
  """
  freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
  logf = np.log(np.maximum(freqs, edges[0] * 0.5))
  inner = np.log(edges[1:-1])                                   # [B - 1] crossover centres
  width = 0.5 * np.diff(np.log(edges)).min()
  # up[k, f]: the share of bin f above crossover k (0 below it, 1 above, a cosine between)
  z = np.clip((logf[None, :] - inner[:, None]) / width + 0.5, 0.0, 1.0)
  up = 0.5 - 0.5 * np.cos(np.pi * z)                           # [B - 1, F]
  ones = np.ones((1, len(freqs)))
  above = np.concatenate([ones, up], axis=0)                    # [B, F] share above band b's low
  below = np.concatenate([1.0 - up, ones], axis=0)              # [B, F] share below its high
  masks = above * below
  return (masks / masks.sum(axis=0, keepdims=True)).astype(np.float32)


def _sqrt_hann(n: int) -> np.ndarray:
  """[n] the periodic sqrt-Hann window."""
  return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))


class BandSplitter:
  """A stream split into bands: `push` [n] samples, get [B, m] band signals of the samples that
  are final, `delay` samples late. The bands sum to the input (sqrt-Hann analysis and
  synthesis windows at hop n_fft / 4, normalised). Chunking does not change the output."""

  def __init__(self, sample_rate: int, edges: np.ndarray, n_fft: int = 2048, hop: int = 512):
    if n_fft % hop:
      raise ValueError(f'hop {hop} must divide n_fft {n_fft}')
    self.n_fft, self.hop = n_fft, hop
    self.masks = band_masks(edges, n_fft, sample_rate)          # [B, F]
    window = _sqrt_hann(n_fft)
    self.window = (window / np.sqrt(np.sum(window ** 2) / hop)).astype(np.float32)
    self.delay = n_fft - hop
    self.pending = np.zeros(n_fft - hop, np.float32)           # samples not yet framed
    self.tail = np.zeros((len(self.masks), n_fft - hop), np.float32)  # overlap-add carried

  def push(self, x: np.ndarray) -> np.ndarray:
    """[n] samples in -> [B, m] band samples out (m a multiple of hop)."""
    buf = np.concatenate([self.pending, np.asarray(x, np.float32)])
    frames = (len(buf) - self.n_fft) // self.hop + 1 if len(buf) >= self.n_fft else 0
    if frames <= 0:
      self.pending = buf
      return np.zeros((len(self.masks), 0), np.float32)
    starts = np.arange(frames) * self.hop
    spectra = np.fft.rfft(buf[starts[:, None] + np.arange(self.n_fft)] * self.window, axis=1)
    parts = np.fft.irfft(spectra[:, None, :] * self.masks[None], n=self.n_fft, axis=2)
    parts = (parts * self.window).astype(np.float32)            # [frames, B, n_fft]
    out = self._overlap_add(parts)
    self.pending = buf[frames * self.hop:]
    return out

  def _overlap_add(self, parts: np.ndarray) -> np.ndarray:
    """[frames, B, n_fft] windowed band frames -> [B, frames * hop] final samples."""
    frames, bands, n = parts.shape
    per = n // self.hop
    acc = np.zeros((bands, (frames + per - 1) * self.hop), np.float32)
    acc[:, :n - self.hop] += self.tail
    pieces = parts.reshape(frames, bands, per, self.hop)
    for k in range(per):   # per = n_fft / hop (4) shifted adds, each over every frame at once
      blocks = pieces[:, :, k, :].transpose(1, 0, 2).reshape(bands, frames * self.hop)
      acc[:, k * self.hop:k * self.hop + frames * self.hop] += blocks
    done = frames * self.hop
    self.tail = acc[:, done:]
    return acc[:, :done]

  def flush(self) -> np.ndarray:
    """[B, m] the rest (the last samples pushed, through zeros)."""
    return self.push(np.zeros(self.delay + self.hop, np.float32))


class BandMeter:
  """The band energies of a live input's newest `window` samples: a window flat over its newest
  three quarters and a half-Hann taper over the oldest quarter, so that an onset counts fully
  as soon as it arrives."""

  def __init__(self, sample_rate: int, edges: np.ndarray, window: int = 256):
    self.masks = band_masks(edges, window, sample_rate)         # [B, F]
    taper = window // 4
    self.window = np.ones(window, np.float32)
    self.window[:taper] = 0.5 - 0.5 * np.cos(np.pi * np.arange(taper) / taper)
    self.history = np.zeros(window, np.float32)
    self.norm = 1.0 / np.sum(self.window ** 2)

  def push(self, x: np.ndarray) -> np.ndarray:
    """[n] new samples -> [B] mean power per band of the newest `window` samples."""
    x = np.asarray(x, np.float32)[-len(self.history):]
    self.history = np.concatenate([self.history[len(x):], x])
    power = np.abs(np.fft.rfft(self.history * self.window)) ** 2 * self.norm   # [F]
    return self.masks @ power


class BandGains:
  """Per-sample gains from band energies: each band's target is sqrt(energy / the loudest
  band's), 0 under floor_db of it (and everywhere in silence); each gain follows its target with
  a one-pole smoother, attack_s rising and release_s falling."""

  def __init__(self, sample_rate: int, num_bands: int, attack_s: float = 0.005,
               release_s: float = 0.3, floor_db: float = -40.0):
    self.attack = np.exp(-1.0 / (attack_s * sample_rate))
    self.release = np.exp(-1.0 / (release_s * sample_rate))
    self.floor = 10.0 ** (floor_db / 10.0)
    self.gains = np.zeros(num_bands, np.float64)

  def targets(self, energies: np.ndarray) -> np.ndarray:
    """[B] band energies -> [B] target gains in [0, 1]."""
    e = np.asarray(energies, np.float64)
    top = e.max()
    if e.sum() < 1e-10:
      return np.zeros_like(e)
    return np.where(e >= self.floor * top, np.sqrt(e / top), 0.0)

  def update(self, energies: np.ndarray, n: int) -> np.ndarray:
    """[B] energies -> [B, n] gains for the next n samples (closed form of the smoother:
    g_k = target + (g_0 - target) * a ** k, k = 1..n)."""
    target = self.targets(energies)
    a = np.where(target > self.gains, self.attack, self.release)            # [B]
    powers = a[:, None] ** np.arange(1, n + 1)[None, :]                     # [B, n]
    out = target[:, None] + (self.gains - target)[:, None] * powers
    if n:
      self.gains = out[:, -1]
    return out.astype(np.float32)


def mix(bands: np.ndarray, gains: np.ndarray) -> np.ndarray:
  """[B, n] band signals, [B, n] gains -> [n] their weighted sum."""
  return np.einsum('bn,bn->n', bands, gains).astype(np.float32)
