"""Resolving and validating a config: derived geometry, and one clear line for every mistake.

`resolve(config)` fills the fields left at 0 / () from `approach` and `seg_len` and returns a new
ConfigDict; `validate(config)` raises ConfigError with a one-line message that names the setting
and how to fix it. `geometry(config)` gives the index arithmetic in units of the source array
(samples for raw audio; flattened frame values for the magnitude-spectrum approach).
"""
import dataclasses
import math
import os

import ml_collections

from audiolstm.audio import spectral
from audiolstm.config import defaults

APPROACHES = ('vector', 'column', 'transpose', 'fft')
SEED_MODES = ('same', 'random', 'advance')
DISTRIBUTIONS = ('mse', 'categorical', 'gaussian')  # the head's output: see distribution.py
# Fields added after runs were first saved, with the value that keeps the behaviour from before:
# a run's config.json without one means that value (resolve fills it in).
ADDED_FIELDS = {'dream_ema': 0.0, 'dream_noise': 0.0, 'lr_final': 1.0, 'magnitude_power': 1.0,
                'spectral_floor_db': 0.0, 'spectral_floor_match': 0.0, 'output_dist': 'mse',
                'num_levels': 256, 'temperature': 1.0, 'wander_snapshots': 0,
                'wander_hold_s': 0.5, 'wander_glide': 0.3}


DREAM_MEMORY_LIMIT_GIB = 4.0  # the dreams of a run (or of one sampling) may hold at most this


class ConfigError(ValueError):
  """A configuration that cannot work; the message is one line for the user."""


@dataclasses.dataclass(frozen=True)
class Geometry:
  """Strided slicing of a 1-D source, all offsets in source units.

  For raw audio a unit is one sample. For the magnitude-spectrum approach the [frames, bins]
  matrix is flattened, a unit is one magnitude value and `unit` = bins, so a row of seg_len = bins
  values is one frame and every cursor is a multiple of `unit`.
  """
  seg_len: int
  num_unrollings: int
  int_inc: int
  ext_inc: int
  label_offset: int
  label_rows: int
  label_width: int
  unit: int = 1

  @property
  def input_span(self) -> int:
    """Source values covered by one input matrix (also the seed-buffer length)."""
    return (self.num_unrollings - 1) * self.int_inc + self.seg_len

  @property
  def label_span(self) -> int:
    """Values from the cursor to the end of the last label row."""
    return self.label_offset + (self.label_rows - 1) * self.int_inc + self.label_width

  @property
  def need(self) -> int:
    """Values one iteration needs from the cursor on (input and label)."""
    return max(self.input_span, self.label_span)

  @property
  def new_per_step(self) -> int:
    """Values one dream step appends to the seed buffer: the last label row beyond the input."""
    return self.label_span - self.input_span


def _derived(c):
  """The approach's geometry for fields left at 0 / ()."""
  seg, nu = c.seg_len, c.num_unrollings
  if c.approach == 'vector':
    return dict(int_cursor_inc=seg, ext_cursor_inc=seg, label_offset=seg, label_shape=(nu, seg))
  if c.approach == 'column':
    return dict(int_cursor_inc=seg, ext_cursor_inc=1, label_offset=seg, label_shape=(nu, 1))
  if c.approach == 'transpose':
    return dict(int_cursor_inc=seg, ext_cursor_inc=1, label_offset=nu * seg, label_shape=(1, 1))
  # fft: cursors in frames, one frame ahead.
  return dict(int_cursor_inc=1, ext_cursor_inc=1, label_offset=1, label_shape=(nu, seg))


def resolve(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """A new, unlocked ConfigDict with every derived field filled in (config is not changed).

  Fields take the types of defaults.get_config: a run's config.json (where JSON made the tuples
  lists) resolves to the same config as the one it was saved from.
  """
  fields = config.to_dict()
  for name, default in defaults.get_config().items():
    if isinstance(default, tuple) and isinstance(fields.get(name), list):
      fields[name] = tuple(fields[name])
  for name in ('input_files', 'label_files', 'seed_files', 'seed_advance'):
    if isinstance(fields.get(name), str):  # one file (a hand-written config.json): a 1-tuple
      fields[name] = (fields[name],)
  c = ml_collections.ConfigDict(fields)
  for name, value in ADDED_FIELDS.items():
    if name not in c:
      c[name] = value
  if c.approach not in APPROACHES:
    raise ConfigError(f'config.approach={c.approach!r} is not one of {", ".join(APPROACHES)}')
  for name, value in _derived(c).items():
    if not c[name]:
      c[name] = value
  c.label_shape = tuple(int(v) for v in c.label_shape)
  c.use_fft = bool(c.use_fft or c.approach == 'fft')
  c.use_transpose = bool(c.use_transpose or c.approach == 'transpose')
  if c.use_fft and not c.window_size:
    c.window_size = c.seg_len if c.zero_padding else 2 * c.seg_len
  if not c.hidden_size:
    c.hidden_size = c.seg_len
  for name in ('input_files', 'label_files', 'seed_files', 'seed_advance'):
    value = c[name]
    c[name] = (value,) if isinstance(value, str) else tuple(value)
  return c


PATH_FIELDS = ('input_files', 'label_files', 'seed_files')


def absolute_paths(c) -> None:
  """Make the audio paths of a resolved config absolute (in place), so that a run's config.json
  works from any directory (sample, evaluate)."""
  for name in PATH_FIELDS:
    c[name] = tuple(os.path.abspath(os.path.expanduser(f)) for f in c[name])


def geometry(c) -> Geometry:
  """Geometry of a resolved config, in source units."""
  rows, width = c.label_shape
  if c.use_fft:
    bins = c.seg_len
    return Geometry(seg_len=bins, num_unrollings=c.num_unrollings, int_inc=c.int_cursor_inc * bins,
                    ext_inc=c.ext_cursor_inc * bins, label_offset=c.label_offset * bins,
                    label_rows=rows, label_width=width, unit=bins)
  return Geometry(seg_len=c.seg_len, num_unrollings=c.num_unrollings, int_inc=c.int_cursor_inc,
                  ext_inc=c.ext_cursor_inc, label_offset=c.label_offset, label_rows=rows,
                  label_width=width)


def samples_per_dream_step(c, g: Geometry) -> int:
  """Audio samples one dream step of a resolved config and its geometry produces (fft: frames
  appended x hop_size)."""
  if c.use_fft:
    return g.new_per_step // g.unit * c.hop_size
  return g.new_per_step


def dream_steps(c, g: Geometry, seconds: float) -> int:
  """Dream steps that make at least `seconds` of audio."""
  return max(1, math.ceil(seconds * c.sample_rate / samples_per_dream_step(c, g)))


def dream_memory(c, g: Geometry, streams: int, seconds: float) -> float:
  """Bytes that `streams` dreams of `seconds` each hold at once, about: each stream's values
  (float32) twice (collected, and in the checkpoint's copy or the device's output), the audio made
  from them (float64 when written), and each stream's state (LSTM carry and gates, seed buffer)."""
  values = dream_steps(c, g, seconds) * g.new_per_step
  state = 5 * c.num_layers * 2 * c.num_unrollings * c.hidden_size + g.input_span
  return float(streams) * (8 * values + 8 * seconds * c.sample_rate + 4 * state)


def check_dream_memory(c, g: Geometry, streams: int, seconds: float, what: str,
                       extra: float = 0.0) -> None:
  """ConfigError (one line, naming `what` to change) if the dreams need more than
  DREAM_MEMORY_LIMIT_GIB (with `extra` bytes held beside them)."""
  gib = (dream_memory(c, g, streams, seconds) + extra) / 2**30
  _check(gib <= DREAM_MEMORY_LIMIT_GIB,
         f'{what} would hold about {gib:.3g} GiB of dreams in memory, over the limit of '
         f'{DREAM_MEMORY_LIMIT_GIB:g} GiB (audiolstm.config.settings.DREAM_MEMORY_LIMIT_GIB): '
         'make the dreams shorter or fewer')


def _check(ok, message):
  if not ok:
    raise ConfigError(message)


def _validate_amounts(c) -> None:
  """The fractions, rates, lengths and probabilities of a resolved config (ConfigError if bad)."""
  _check(0 <= c.val_fraction < 1, f'config.val_fraction={c.val_fraction!r}: use 0 <= f < 1 '
         '(the share of the audio held out at the end; 0 turns validation off)')
  _check(c.eval_every % c.log_every == 0,
         f'config.eval_every={c.eval_every} must be a multiple of log_every={c.log_every} (the '
         'validation loss is logged with the training loss of the same step)')
  _check(c.lr > 0 and math.isfinite(c.lr), f'config.lr={c.lr!r} must be a positive number')
  _check(0 <= c.lr_final <= 1, f'config.lr_final={c.lr_final!r}: use 0 <= f <= 1 (the learning rate '
         'decays to lr * f over the run; 1 keeps it constant)')
  _check(isinstance(c.dream_noise, (int, float)) and not isinstance(c.dream_noise, bool)
         and math.isfinite(c.dream_noise) and c.dream_noise >= 0,
         f'config.dream_noise={c.dream_noise!r} must be a number >= 0 (the std of the noise added '
         'to each predicted value while dreaming; 0 turns it off)')
  _check(isinstance(c.dream_ema, (int, float)) and not isinstance(c.dream_ema, bool)
         and 0 <= c.dream_ema < 1, f'config.dream_ema={c.dream_ema!r}: use 0 <= d < 1 (the decay '
         'per iteration of the moving average of the params that the dreams use; 0 = the '
         'current params)')
  _check(0 < c.magnitude_power <= 1, f'config.magnitude_power={c.magnitude_power!r}: use 0 < p <= 1 '
         '(the model learns magnitudes ** p; 1 = linear magnitudes, as the original)')
  _check(c.spectral_floor_db >= 0, f'config.spectral_floor_db={c.spectral_floor_db!r} must be >= 0 '
         '(dB below each frame\'s peak under which the dreams drop a bin; 0 = off)')
  _check(isinstance(c.spectral_floor_match, (int, float))
         and not isinstance(c.spectral_floor_match, bool) and math.isfinite(c.spectral_floor_match)
         and c.spectral_floor_match >= 0, f'config.spectral_floor_match='
         f'{c.spectral_floor_match!r} must be a number >= 0 (the dream\'s flatness allowed, as a '
         'multiple of the recording\'s; 0 = off)')
  _check(not c.spectral_floor_match or (not c.use_fft and c.spectral_floor_db > 0),
         f'config.spectral_floor_match={c.spectral_floor_match!r} needs a raw-audio approach '
         '(vector, column, transpose) and config.spectral_floor_db > 0 (the deepest floor tried); '
         'set spectral_floor_match=0 or spectral_floor_db=50')
  for name in ('dream_seconds', 'seq_dream_seconds'):
    _check(c[name] > 0 and math.isfinite(c[name]),
           f'config.{name}={c[name]!r} must be a finite number > 0')
  for name in ('input_keep_prob', 'output_keep_prob', 'state_keep_prob'):
    _check(0 < c[name] <= 1, f'config.{name}={c[name]!r} is a KEEP probability: use 0 < p <= 1')


def prepare(config: ml_collections.ConfigDict) -> tuple:
  """(resolved config, its Geometry): resolve and validate once; pass both down from here."""
  c = resolve(config)
  return c, validate(c)


def validate(c) -> Geometry:
  """The geometry of a resolved config; ConfigError (one line) for any config that cannot work."""
  def positive_int(name):
    v = c[name]
    _check(isinstance(v, int) and not isinstance(v, bool) and v > 0,
           f'config.{name}={v!r} must be a positive integer')

  def non_negative(name):
    _check(c[name] >= 0, f'config.{name}={c[name]!r} must be >= 0')

  for name in ('sample_rate', 'seg_len', 'num_unrollings', 'int_cursor_inc', 'ext_cursor_inc',
               'num_layers', 'hidden_size', 'num_epochs', 'num_dream_streams', 'chunk_size',
               'log_every', 'keep_checkpoints', 'eval_every', 'eval_steps', 'num_train_streams'):
    positive_int(name)
  for name in ('max_steps', 'reset_state', 'audio_freq', 'noisify', 'reg_amount', 'label_offset',
               'checkpoint_every'):
    non_negative(name)
  _validate_amounts(c)
  _validate_head(c)
  _validate_wander(c)
  _check(len(c.seed_advance) > 0 and all(m in SEED_MODES for m in c.seed_advance),
         f'config.seed_advance={tuple(c.seed_advance)!r}: use a non-empty tuple of '
         f'{", ".join(map(repr, SEED_MODES))}')
  _check(len(c.label_shape) == 2 and all(v > 0 for v in c.label_shape),
         f'config.label_shape={c.label_shape!r} must be two positive integers (rows, length)')
  _check(not (c.use_fft and c.use_transpose),
         'use_fft and use_transpose cannot be combined: pick approach=fft or approach=transpose')
  _check(c.use_fft == (c.approach == 'fft'),
         f"config.use_fft=True needs approach='fft' (approach is {c.approach!r})")
  rows, width = c.label_shape
  if c.use_transpose:
    _check(c.label_shape == (1, 1),
           f'config.label_shape={c.label_shape} but the transpose head predicts one value: use (1, 1)')
  else:
    _check(rows == c.num_unrollings,
           f'config.label_shape[0]={rows} must equal num_unrollings={c.num_unrollings} '
           '(one label row per input row)')
  if c.use_fft:
    positive_int('window_size')
    positive_int('hop_size')
    bins = spectral.num_bins(c.window_size, c.zero_padding)
    _check(bins == c.seg_len,
           f'config.window_size={c.window_size} with zero_padding={c.zero_padding} gives {bins} '
           f'bins but seg_len={c.seg_len}: set window_size='
           f'{c.seg_len if c.zero_padding else 2 * c.seg_len} or seg_len={bins}')
    _check(width == c.seg_len,
           f'config.label_shape[1]={width} must equal seg_len={c.seg_len}: labels are whole frames')
  _check(not c.use_residual or c.hidden_size == c.seg_len,
         f'use_residual adds the cell input to its output: it needs hidden_size == seg_len '
         f'(got {c.hidden_size} and {c.seg_len})')
  g = geometry(c)
  _check(g.new_per_step > 0,
         f'this configuration never predicts past its input (the last label row ends '
         f'{-g.new_per_step} values before the input does), so nothing can be dreamt: '
         'increase label_offset')
  _check(g.new_per_step <= g.label_width,
         f'label_offset={c.label_offset} leaves a gap between the input and the predicted values: '
         'the last label row must start at or before the end of the input matrix')
  _validate_dream_memory(c, g)
  return g


def check_temperature(t, name: str = 'config.temperature') -> None:
  """ConfigError (one line) unless `t` is a finite number >= 0."""
  _check(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and t >= 0,
         f'{name}={t!r} must be a number >= 0 (the sampling temperature of a distributional head: '
         '1 = the model\'s distribution, lower = tamer, 0 = no randomness)')


def _validate_head(c) -> None:
  """output_activation, output_dist, num_levels and temperature of a resolved config
  (ConfigError if bad)."""
  _check(c.output_activation in ('linear', 'tanh'),
         f"config.output_activation={c.output_activation!r}: use 'linear' or 'tanh'")
  _check(c.output_dist in DISTRIBUTIONS,
         f'config.output_dist={c.output_dist!r}: use one of '
         f'{", ".join(map(repr, DISTRIBUTIONS))}')
  check_temperature(c.temperature)
  if c.output_dist == 'mse':
    return
  _check(c.output_activation == 'linear',
         f"config.output_activation={c.output_activation!r}: a {c.output_dist} head gives the "
         "parameters of a distribution; use output_activation='linear'")
  _check(c.output_dist != 'categorical' or isinstance(c.num_levels, int) and not isinstance(c.num_levels, bool)
         and 2 <= c.num_levels <= 4096,
         f'config.num_levels={c.num_levels!r} must be an integer from 2 to 4096 (levels per '
         'predicted value; 256 = 8-bit mu-law)')


def _validate_wander(c) -> None:
  """wander_snapshots, wander_hold_s and wander_glide of a resolved config (ConfigError)."""
  k = c.wander_snapshots
  _check(isinstance(k, int) and not isinstance(k, bool) and (k == 0 or 2 <= k <= 256),
         f'config.wander_snapshots={k!r}: use 0 (off: a free-running dream uses the final params) '
         'or 2 to 256 (param snapshots a free-running dream wanders among)')
  hold = c.wander_hold_s
  _check(isinstance(hold, (int, float)) and not isinstance(hold, bool) and math.isfinite(hold)
         and hold > 0, f'config.wander_hold_s={hold!r} must be a number of seconds > 0 (how '
         'long a free-running dream follows one snapshot)')
  _check(isinstance(c.wander_glide, (int, float)) and 0 <= c.wander_glide <= 1,
         f'config.wander_glide={c.wander_glide!r}: use 0 <= g <= 1 (the fraction of a hold '
         'spent blending into the next snapshot; 0 switches at once)')


def _validate_dream_memory(c, g: Geometry) -> None:
  """The concurrent and sequential dreams of a resolved config against DREAM_MEMORY_LIMIT_GIB."""
  seq = dream_memory(c, g, c.num_dream_streams, c.seq_dream_seconds) if c.audio_freq else 0.0
  check_dream_memory(c, g, c.num_dream_streams, c.dream_seconds,
                     f'config.num_dream_streams={c.num_dream_streams} x dream_seconds='
                     f'{c.dream_seconds:g}' + (f' (and seq_dream_seconds={c.seq_dream_seconds:g})'
                                               if c.audio_freq else ''), extra=seq)
