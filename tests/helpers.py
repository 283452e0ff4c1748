"""Shared helpers: tiny configs that compile in a second or two on a CPU.

  from tests.helpers import TINY, build_program, tiny_config

(`tests` is found from the repository root, which pytest.ini puts on the path.)
"""
import importlib
import os

LOCK_NAME = '.audiolstm.lock'  # audiolstm.run.rundir.LOCK_NAME (helpers stay light to import)

TINY = dict(seg_len=16, num_unrollings=4, hop_size=8, max_steps=60, chunk_size=16,
            dream_seconds=0.004, seq_dream_seconds=0.004, log_every=5, num_dream_streams=2, lr=1e-2,
            hidden_size=0,  # 0 = seg_len: the quick vector default's 256 cell is not tiny
            wander_snapshots=2)  # the defaults' 16 would split a tiny run into 1-iteration chunks


def build_program(approach, audio, **overrides):
  """(config, sources, program, device data, initial state) of a tiny run on `audio` [n]."""
  import jax  # pylint: disable=g-import-not-at-top  (helpers stay light to import)
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.core import dataset  # pylint: disable=g-import-not-at-top
  from audiolstm.core import program as program_lib  # pylint: disable=g-import-not-at-top
  c, g = config_lib.prepare(tiny_config(approach, **overrides))
  sources = dataset.load_sources(c, g, load=lambda paths, sr: audio)
  program = program_lib.build(c, sources)
  data = program_lib.device_data(sources)
  return c, sources, program, data, program.init(data, jax.random.key(c.seed))


def snapshot(folder):
  """{relative path: (size, mtime)} of every file under folder but the lock file (which holds the
  pid of the newest run: not an output)."""
  out = {}
  for root, _, files in os.walk(folder):
    for name in files:
      if name == LOCK_NAME:
        continue
      st = os.stat(os.path.join(root, name))
      out[os.path.relpath(os.path.join(root, name), folder)] = (st.st_size, st.st_mtime_ns)
  return out


def trained_tiny_run(root, approach, **overrides) -> str:
  """ROOT/run: a tiny `approach` run trained on ROOT/in.wav, 2 s of a decaying 220 Hz tone."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top
  from audiolstm.run import train  # pylint: disable=g-import-not-at-top
  t = np.arange(2 * 11025) / 11025
  audio = (0.5 * np.sin(2 * np.pi * 220 * t) * np.exp(-t)).astype(np.float32)
  wav = audio_io.write_wav(os.path.join(str(root), 'in.wav'), audio, 11025)
  work = os.path.join(str(root), 'run')
  train.train_and_evaluate(tiny_config(approach, input_files=(wav,), **overrides), work,
                           log=lambda *_: None)
  return work


def fake_fft_run(root, audio, sample_rate, folders=('dreams', 'samples', 'streams')):
  """ROOT/run without training (a pathlib.Path): its config.json (fft, ROOT/in.wav = `audio` [n]
  as the training audio, val_fraction 0.25), the `folders` and one 2 s dream, audio[sr:3 sr]."""
  import json  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  from audiolstm.audio import audio_io  # pylint: disable=g-import-not-at-top
  run = pathlib.Path(root) / 'run'
  for d in folders:
    (run / d).mkdir(parents=True)
  wav = audio_io.write_wav(os.path.join(str(root), 'in.wav'), audio, sample_rate)
  (run / 'config.json').write_text(json.dumps({'approach': 'fft', 'sample_rate': sample_rate,
                                               'input_files': [wav], 'val_fraction': 0.25}))
  audio_io.write_wav(str(run / 'dreams' / 'fft_concurrent_random_it0000010_s0.wav'),
                     audio[sample_rate:3 * sample_rate], sample_rate)
  return run


def tiny_config(approach, **overrides):
  """The approach's config file shrunk to tiny sizes (still a locked-free ConfigDict)."""
  c = importlib.import_module(f'configs.{approach}').get_config()
  for k, v in {**TINY, **overrides}.items():
    c[k] = v
  return c


def check_added_field(approach, field, ok, bad, message, other):
  """Checks a config field added after runs were first saved (config.ADDED_FIELDS): the values
  `ok` validate, each of `bad` is refused with one line matching the regex `message`; a
  config.json without the field resolves to its ADDED_FIELDS value and resumes, and one saved
  with `other` is refused under the default."""
  import json  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  import pytest  # pylint: disable=g-import-not-at-top
  from audiolstm.config import settings as config_lib  # pylint: disable=g-import-not-at-top
  from audiolstm.run import train  # pylint: disable=g-import-not-at-top
  c = config_lib.resolve(tiny_config(approach))
  for value in ok:
    c[field] = value
    config_lib.validate(c)
  for value in bad:
    c[field] = value
    with pytest.raises(config_lib.ConfigError, match=message):
      config_lib.validate(c)
  old = tiny_config(approach).to_dict()
  del old[field]
  c = config_lib.resolve(ml_collections.ConfigDict(old))
  config_lib.validate(c)
  assert c[field] == config_lib.ADDED_FIELDS[field]
  prior = json.loads(json.dumps(c.to_dict(), default=list))
  del prior[field]
  train.check_resumable(prior, c)
  with pytest.raises(config_lib.ConfigError, match=field):
    train.check_resumable({**prior, field: other}, c)
