"""Bands of sound: the DSP of the `resonate` response of `audiolstm play` (dissertation 6.2.2,
sympathetic strings): the dream swells where the player's notes are, as an undamped string
rings when its note is played beside it.

The dream is split into B log-spaced bands ahead of time (`BandSplitter`: a streaming STFT whose
band masks are a partition of unity over the bins, so the bands sum back to the dream). The
split is `delay` samples late, but that latency is not heard: the dream is computed ahead of
the player anyway, so its bands are ready before they are needed. Only the player's side is on
the clock: `BandMeter` measures the band energies of the newest samples (a window that weights
the newest samples fully, so that an onset shows at once) and `BandGains` turns them into
per-sample gains (a fast attack, a slow release, like a string that rings on). The meter's
window and the gains' attack are all that stand between a note and its answer. The output is
`mix(bands, gains)`: sum_b gain_b * band_b.
"""

import numpy as np

SILENCE = 1e-10  # total band energy (mean power) under which every gain closes


def band_edges(
    sample_rate: int, num_bands: int = 24, low_hz: float = 80.0, high_hz: float | None = None
) -> np.ndarray:
  """Log-spaced band edges.

  Args:
    sample_rate: Hz.
    num_bands: B.
    low_hz: the lowest edge.
    high_hz: the highest edge (default 0.45 * sample_rate).

  Returns:
    [B + 1] float64 edges in Hz, from low_hz to high_hz.

  Raises:
    ValueError: no bands, or the edges not increasing within (0, sample_rate / 2].
  """
  high_hz = 0.45 * sample_rate if high_hz is None else float(high_hz)
  if num_bands < 1 or not 0 < low_hz < high_hz <= sample_rate / 2:
    raise ValueError(
        f'need 1+ bands and 0 < low_hz {low_hz} < high_hz {high_hz} <= '
        f'sample_rate / 2 ({sample_rate / 2})'
    )
  return np.geomspace(low_hz, high_hz, num_bands + 1)


def band_masks(edges: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
  """[B, n_fft // 2 + 1] float32 weights of each rfft bin in each band (B = len(edges) - 1).

  The weights of every bin sum to 1 over the bands. Between the (log) centres of two
  neighbouring bands a bin is shared by a raised cosine on the log-frequency axis (one band
  wide: smooth crossovers, so that the band signals do not ring); band b's mask is 1 at its
  centre. Bins under the first band's centre (so all under the first edge) belong to band 0,
  over the last band's centre to band B - 1. With few bins (a short n_fft), a narrow low band
  may get no bin at all (a mask of zeros).

  Args:
    edges: [B + 1] increasing band edges in Hz (band_edges).
    n_fft: the transform's length.
    sample_rate: Hz.

  Returns:
    [B, n_fft // 2 + 1] float32 weights in [0, 1].
  """
  log_edges = np.log(np.asarray(edges, np.float64))
  centres = 0.5 * (log_edges[:-1] + log_edges[1:])  # [B]
  freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
  logf = np.log(np.maximum(freqs, 1e-3))  # [F], 0 Hz as 1 mHz
  # up[k, f]: the share of bin f above the crossover from band k to k + 1 (0 at centre k, 1 at
  # centre k + 1); non-increasing in k, so each band's mask up[b - 1] - up[b] is >= 0.
  z = np.clip((logf[None, :] - centres[:-1, None]) / np.diff(centres)[:, None], 0.0, 1.0)
  up = 0.5 - 0.5 * np.cos(np.pi * z)  # [B - 1, F]
  up = np.concatenate([np.ones((1, len(freqs))), up, np.zeros((1, len(freqs)))])
  return (up[:-1] - up[1:]).astype(np.float32)  # [B, F], sums to 1


def _sqrt_hann(n: int) -> np.ndarray:
  """[n] float64, the periodic sqrt-Hann window."""
  return np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n))


class BandSplitter:
  """A streaming STFT split of a signal into B bands that sum back to it.

  `push` [n] samples, get [B, m] band signals of the samples that are final so far, `delay`
  (= n_fft - hop) samples late. Periodic sqrt-Hann analysis and synthesis windows, normalised
  so that the bands sum back to the input exactly (up to float error) at hop n_fft / 4. The
  output does not depend on how the input is chunked.

  Every push is processed at once (all its frames in one rfft/irfft): its memory peaks at about
  12 * B * n_fft bytes per hop of input (B = 24, n_fft = 2048: 50 MB a second at 48 kHz), so
  pushes of a few seconds at most.
  """

  def __init__(self, sample_rate: int, edges: np.ndarray, n_fft: int = 2048, hop: int = 512):
    if n_fft % hop:
      raise ValueError(f'hop {hop} must divide n_fft {n_fft}')
    self.n_fft, self.hop, self.delay = n_fft, hop, n_fft - hop
    self.masks = band_masks(edges, n_fft, sample_rate)  # [B, F]
    window = _sqrt_hann(n_fft)  # squared, summed over the overlapping frames: n_fft / (2 hop)
    self.window = (window / np.sqrt(np.sum(window**2) / hop)).astype(np.float32)
    self._reset()

  def _reset(self) -> None:
    """A fresh stream: `delay` zeros ahead of the first sample, nothing to overlap-add."""
    self.pending = np.zeros(self.delay, np.float32)  # samples not yet framed
    self.tail = np.zeros((len(self.masks), self.delay), np.float32)  # overlap carried on

  def push(self, x: np.ndarray) -> np.ndarray:
    """The band signals of every sample that is final so far.

    Args:
      x: [n] float32 samples (any n, 0 included).

    Returns:
      [B, m] float32 band samples, m a multiple of hop (maybe 0), `delay` samples late.
    """
    buf = np.concatenate([self.pending, np.asarray(x, np.float32).reshape(-1)])
    frames = (len(buf) - self.n_fft) // self.hop + 1 if len(buf) >= self.n_fft else 0
    if frames == 0:
      self.pending = buf
      return np.zeros((len(self.masks), 0), np.float32)
    index = (np.arange(frames) * self.hop)[:, None] + np.arange(self.n_fft)  # [frames, n_fft]
    spectra = np.fft.rfft(buf[index] * self.window, axis=1)  # [frames, F]
    parts = np.fft.irfft(spectra[:, None, :] * self.masks[None], n=self.n_fft, axis=2)
    parts *= self.window  # [frames, B, n_fft]
    self.pending = buf[frames * self.hop :]
    return self._overlap_add(parts.astype(np.float32, copy=False))

  def _overlap_add(self, parts: np.ndarray) -> np.ndarray:
    """[frames, B, n_fft] windowed band frames -> [B, frames * hop] final samples.

    Frame i's block k (of n_fft / hop blocks of hop samples) lands on output block i + k: all
    frames at once by scattering each (frame, block) into its own slot, then summing the slots.
    """
    frames, bands, n = parts.shape
    per = n // self.hop
    blocks = parts.reshape(frames, bands, per, self.hop).transpose(0, 2, 1, 3)  # [fr, per, B, h]
    slots = np.zeros((frames + per - 1, per, bands, self.hop), np.float32)
    slots[np.arange(frames)[:, None] + np.arange(per), np.arange(per)] = blocks
    acc = slots.sum(axis=1).transpose(1, 0, 2).reshape(bands, -1)  # [B, (frames + per - 1) h]
    acc[:, : self.delay] += self.tail
    done = frames * self.hop
    self.tail = acc[:, done:]
    return acc[:, :done]

  def flush(self) -> np.ndarray:
    """[B, m] the rest, through trailing zeros; the splitter then starts a fresh stream.

    With flush, the output of a stream of n samples is at least n + delay samples long.
    """
    out = self.push(np.zeros(self.delay + self.hop, np.float32))
    self._reset()
    return out


class BandMeter:
  """The band energies of a live input's newest `window` samples (zeros before its start).

  The window is flat over the newest three quarters and a half-Hann taper over the oldest
  quarter, so that an onset counts fully as soon as it arrives. The energies are mean powers
  (linear): they sum over the bands to the window-weighted mean square of the samples, e.g.
  0.5 for a sine of amplitude 1. Bands too narrow for the window's bins read 0 (band_masks).
  """

  def __init__(self, sample_rate: int, edges: np.ndarray, window: int = 256):
    if window < 4:
      raise ValueError(f'window {window} must be at least 4 samples')
    self.masks = band_masks(edges, window, sample_rate).astype(np.float64)  # [B, F]
    taper = window // 4
    self.window = np.ones(window, np.float64)
    self.window[:taper] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(taper) + 1) / (taper + 1))
    # one-sided rfft power (bins 1..F-2 stand for two, Nyquist only with an even window) over
    # window * sum(w^2): Parseval makes the bins sum to the weighted mean square.
    fold = np.full(window // 2 + 1, 2.0)
    fold[0] = 1.0
    fold[-1] = 1.0 if window % 2 == 0 else 2.0
    self.scale = fold / (window * np.sum(self.window**2))  # [F]
    self.history = np.zeros(window, np.float64)

  def push(self, x: np.ndarray) -> np.ndarray:
    """Band energies after x.

    Args:
      x: [n] new samples (any n, 0 included).

    Returns:
      [B] float64 mean power per band of the newest `window` samples.
    """
    x = np.asarray(x, np.float64).reshape(-1)[-len(self.history) :]
    self.history = np.concatenate([self.history[len(x) :], x])
    power = np.abs(np.fft.rfft(self.history * self.window)) ** 2 * self.scale  # [F]
    return self.masks @ power


def _pole(seconds: float, sample_rate: int) -> float:
  """The one-pole coefficient of a time constant (0 for an instant one)."""
  return float(np.exp(-1.0 / (seconds * sample_rate))) if seconds > 0 else 0.0


class BandGains:
  """Per-sample band gains in [0, 1] from band energies.

  Each band's target is sqrt(energy / the loudest band's energy), 0 under floor_db of it (and
  everywhere in silence: total energy under SILENCE); each gain follows its target with a
  one-pole smoother, attack_s rising and release_s falling. `gains` [B] holds the last values.
  """

  def __init__(
      self,
      sample_rate: int,
      num_bands: int,
      attack_s: float = 0.005,
      release_s: float = 0.3,
      floor_db: float = -40.0,
  ):
    self.attack = _pole(attack_s, sample_rate)
    self.release = _pole(release_s, sample_rate)
    self.floor = 10.0 ** (floor_db / 10.0)  # energies are powers: 10 dB a decade
    self.gains = np.zeros(num_bands, np.float64)

  def targets(self, energies: np.ndarray) -> np.ndarray:
    """[B] band energies -> [B] float64 target gains in [0, 1]."""
    e = np.maximum(np.asarray(energies, np.float64), 0.0)
    if e.sum() < SILENCE:
      return np.zeros_like(e)
    top = e.max()
    return np.where(e >= self.floor * top, np.sqrt(e / top), 0.0)

  def update(self, energies: np.ndarray, n: int) -> np.ndarray:
    """Gains for the next n samples, the one-pole smoother in closed form.

    g_k = target + (g_0 - target) * a ** k for k = 1..n, a = attack where the gain rises and
    release where it falls, g_0 the last gain (the target holds for the n samples).

    Args:
      energies: [B] band energies (BandMeter.push).
      n: how many samples.

    Returns:
      [B, n] float32 gains in [0, 1].
    """
    target = self.targets(energies)
    a = np.where(target > self.gains, self.attack, self.release)  # [B]
    powers = a[:, None] ** np.arange(1, n + 1)[None, :]  # [B, n]
    out = target[:, None] + (self.gains - target)[:, None] * powers
    if n > 0:
      self.gains = out[:, -1]
    return out.astype(np.float32)


def mix(bands: np.ndarray, gains: np.ndarray) -> np.ndarray:
  """[B, n] band signals, [B, n] gains -> [n] float32 sum over b of gains[b] * bands[b]."""
  return np.einsum('bn,bn->n', bands, gains).astype(np.float32)
