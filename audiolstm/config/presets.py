"""Config files with arguments: `--config=configs/fft.py:56` picks a named preset of that file.

ml_collections passes whatever follows the colon to the file's `get_config(arg)`. A config file
keeps a table `PRESETS = {argument: (dissertation audio example or None, {field: value})}` and
calls `apply(config, PRESETS, arg, name)`: no argument keeps the file's quick default, a known
argument (or the number of the audio example it reproduces, e.g. `5.12`) sets its fields, and
anything else raises PresetError, whose one-line message lists the valid arguments.
"""


# Settings that our quick defaults tune for sound (issue 10) but the dissertation did not have: a
# preset restores these values (the original's behaviour) before setting its own fields.
ORIGINAL_SETTINGS = {'noisify': 0.0, 'lr_final': 1.0, 'magnitude_power': 1.0, 'hidden_size': 0,
                     'spectral_floor_db': 0.0, 'spectral_floor_match': 0.0, 'dream_noise': 0.0,
                     'output_activation': 'linear', 'use_peaks': True, 'dream_ema': 0.0,
                     'use_dropout': False, 'input_keep_prob': 0.9, 'output_keep_prob': 0.9,
                     'output_dist': 'mse', 'wander_snapshots': 0}


class PresetError(LookupError):
  """An argument that names no preset; the message is one line listing the valid ones.

  Deliberately not a ValueError: ml_collections rewraps ValueErrors raised while loading a config
  into a multi-line traceback, while other exceptions reach the command line's one-line report.
  """


def valid_arguments(presets: dict) -> list:
  """Every accepted argument: the preset names, then the audio-example numbers not among them."""
  names = list(presets)
  examples = [ex for ex, _ in presets.values() if ex and ex not in presets]
  return names + examples


def lookup(presets: dict, arg) -> str:
  """The preset name `arg` refers to (a name in any case, or an audio-example number), or None.

  Args:
    presets: {argument: (audio example or None, {field: value})}.
    arg: the text after the colon of `--config=FILE:ARG` (or a Python value, e.g. 512 or 5.12).

  Returns:
    The key of `presets` it names, or None when it names none.
  """
  key = str(arg).strip().lower()
  for name, (example, _) in presets.items():
    if key == name.lower() or (example and key == example):
      return name
  return None


def apply(config, presets: dict, arg, name: str):
  """`config` with preset `arg` of config file `name` applied (arg None or '': unchanged).

  Args:
    config: the config file's default ConfigDict (changed in place and returned).
    presets: {argument: (audio example or None, {field: value})}.
    arg: the text after the colon of `--config=FILE:ARG` (or a Python value, e.g. 512).
    name: the config file, for the error message (e.g. 'configs/vector.py').

  Returns:
    config, with ORIGINAL_SETTINGS and then the preset's fields set.

  Raises:
    PresetError: `arg` is neither a preset name nor one of their audio-example numbers.
  """
  if arg is None or str(arg).strip() == '':
    return config
  key = lookup(presets, arg)
  if key is None:
    raise PresetError(
        f'{name} has no preset {str(arg)!r}: valid arguments are '
        f'{", ".join(valid_arguments(presets))} (e.g. --config={name}:{next(iter(presets))}), '
        'or none for the quick default')
  for field, value in {**ORIGINAL_SETTINGS, **presets[key][1]}.items():
    if field not in config:
      raise KeyError(f'preset {key!r} of {name} sets unknown field {field!r}')  # a bug, not user
    config[field] = value
  return config
