"""The defaults shared by every approach: configs/*.py start from `get_config()` and override a few.

  from audiolstm.config import defaults
  c = defaults.get_config()        # what configs/default.py gives --config

File lists and seed_advance are tuples, so they can be set on the command line:
  --config.input_files="('a.wav', 'b.flac')"   --config.seed_advance="('random',)"
Geometry fields left at 0 / () are derived from `approach` and `seg_len` (see
audiolstm/config.py: resolve); the resolved values are written to WORKDIR/config.json.

They live in the package (not in configs/, which is not installed) so that an installed audiolstm
has them; configs/default.py is a thin config file returning them. `load_config_module` loads a
config file by its path, as --config does, for config files that build on another one.
"""
import hashlib
import importlib.util
import os

import ml_collections


def get_config():
  """A new ConfigDict of every field at its default (one comment per field: its meaning)."""
  c = ml_collections.ConfigDict()
  c.approach = 'column'         # data approach: 'vector' | 'column' | 'transpose' | 'fft'
  for group in (_data_fields, _model_fields, _training_fields, _dreaming_fields):
    group(c)
  return c


def _data_fields(c) -> None:
  """The audio, its geometry and the magnitude-spectrum settings."""
  # --- data -------------------------------------------------------------
  c.input_files = ()            # training audio (empty: the bundled default recording)
  c.label_files = ()            # optional: labels from another recording of the same length
  c.seed_files = ()             # optional: dream seeds from other recordings
  c.sample_rate = 11025         # everything is resampled to this rate

  # --- geometry (dissertation names; 0 / () = derived from approach) -----
  c.seg_len = 128               # length of each input vector (row); fft: number of bins
  c.num_unrollings = 8          # rows in one input matrix
  c.int_cursor_inc = 0          # offset between adjacent rows (fft: in frames)
  c.ext_cursor_inc = 0          # offset between the matrices of consecutive iterations
  c.label_offset = 0            # offset from the first input sample to the first label sample
  c.label_shape = ()            # (rows, length) of the label matrix
  c.use_transpose = False       # transpose head (set by approach='transpose')

  # --- magnitude spectrum (approach='fft') ---------------------------------
  c.use_fft = False             # set by approach='fft'
  c.window_size = 0             # frame length; 0 = seg_len (zero_padding) or 2*seg_len
  c.hop_size = 64               # samples between frames
  c.zero_padding = True         # pad each frame to twice its length before the FFT
  c.use_peaks = True            # vocoder keeps only local spectral peaks
  c.magnitude_power = 1.0       # learn magnitudes ** this (0.5: quiet partials count; 1 = original)
  c.spectral_floor_db = 0.0     # dreams drop bins this many dB below their frame's peak (0 = off)
  c.spectral_floor_match = 0.0  # raw: floor matched to this x the recording's flatness (0 = off)


def _model_fields(c) -> None:
  """The network."""

  # --- model ----------------------------------------------------------------
  c.num_layers = 1              # stacked LSTM cells
  c.hidden_size = 0             # 0 = seg_len (needed for use_residual)
  c.output_activation = 'linear'  # dense head: 'linear' or 'tanh'
  c.weight_stddev = 0.05        # std of the truncated-normal init of dense kernels
  c.output_dist = 'mse'         # head: 'mse' (the original), 'categorical' or 'gaussian'
  c.num_levels = 256            # categorical: levels per value (raw: mu-law; fft: uniform)
  c.use_dropout = False         # dropout around each LSTM cell (the keep probabilities below)
  c.input_keep_prob = 0.9       # dropout: probability of KEEPING each cell input (as the original)
  c.output_keep_prob = 0.9      # dropout: probability of keeping each cell output
  c.state_keep_prob = 1.0       # dropout: probability of keeping each value of the carried h
  c.use_residual = False        # cell output + cell input
  c.regularization = False      # add an L2 penalty on the LSTM kernels to the loss
  c.reg_amount = 1e-4           # weight of that penalty (tf.nn.l2_loss convention: sum(w^2)/2)


def _training_fields(c) -> None:
  """The optimiser, the length of the run and validation."""

  # --- training ---------------------------------------------------------------
  c.lr = 1e-3                   # Adam learning rate
  c.lr_final = 1.0              # cosine decay of lr to lr * this over the run (1 = constant)
  c.num_epochs = 1              # passes over the data
  c.max_steps = 0               # cap on iterations (0 = none): for quick runs
  c.noisify = 0.0               # std of Gaussian noise added to training inputs
  c.reset_state = 0             # zero the carried LSTM state every N iterations (0 = never)
  c.seed = 0                    # RNG seed: runs are reproducible
  c.num_train_streams = 1       # training streams (audio segments, own cursor+state), over devices

  c.val_fraction = 0.1          # held-out audio at the end for a validation loss (0 = off)
  c.eval_every = 1000           # validation loss every N iterations (a multiple of log_every)
  c.eval_steps = 100            # iterations (state carried) per validation loss


def _dreaming_fields(c) -> None:
  """Dreaming, and how the run dispatches, logs and checkpoints."""

  # --- dreaming ------------------------------------------------------------------
  c.concurrent = True           # one dream step per training iteration
  c.dream_seconds = 2.0         # length of each concurrent dream
  c.num_dream_streams = 2       # dreams side by side, batched in one step
  c.seed_advance = ('random', 'same', 'advance')  # seed modes, cycled dream after dream
  c.dropout_while_dreaming = True  # as in the original (only matters with use_dropout)
  c.dream_noise = 0.0           # std of Gaussian noise on each predicted value fed back (0 = off)
  c.dream_ema = 0.0             # dreams use a moving average of the params, this decay (0 = off)
  c.temperature = 1.0           # categorical/gaussian: sampling temperature (0: no draw)
  c.wander_snapshots = 16       # free-running dreams wander among this many param snapshots (0 = off)
  c.wander_hold_s = 0.5         # ... heading for a new snapshot every this many seconds
  c.wander_glide = 0.3          # ... blending into it over this fraction of the hold
  c.audio_freq = 0              # sequential dream every N iterations (0 = never)
  c.seq_dream_seconds = 2.0     # length of each sequential dream

  # --- run ------------------------------------------------------------------------
  c.chunk_size = 200            # iterations per device dispatch (one jitted loop)
  c.log_every = 20              # iterations per metrics.jsonl line (mean loss)
  c.checkpoint_every = 0        # checkpoint every N iterations (0 = only at the end or on a signal)
  c.keep_checkpoints = 3        # newest checkpoints kept in WORKDIR/checkpoints


def load_config_module(path: str, relative_to: str = None):
  """The module of the config file at `path` (relative to the folder of the file `relative_to`
  if given, e.g. `__file__`), loaded by path: no `configs` package is needed.

  Each call executes the file anew (config files are small and have no state to share).
  """
  if relative_to is not None:
    path = os.path.join(os.path.dirname(os.path.abspath(relative_to)), path)
  path = os.path.abspath(path)
  name = '_audiolstm_config_' + hashlib.sha1(path.encode()).hexdigest()[:10]
  spec = importlib.util.spec_from_file_location(name, path)
  if spec is None or spec.loader is None:
    raise FileNotFoundError(f'config file not found: {path}')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
