"""The training loop's named pieces, each on its own: chunk lengths, the metrics log, the dream
writer, the seeds of sample mode, and TensorBoard on resume."""
import json
import os

import ml_collections
import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from audiolstm.audio import audio_io
from audiolstm.config import settings as config_lib
from audiolstm.core import slicing
from audiolstm.dream import trained
from audiolstm.run import outputs
from audiolstm.run import rundir
from audiolstm.run import snapshots
from audiolstm.run import tb
from audiolstm.run import train
from tests.helpers import build_program
from tests.helpers import tiny_config


def reference_chunk_length(step, total, c, eval_every, rate):
  """Step forward one iteration at a time until a boundary, the end or the chunk size."""
  cap = c.chunk_size if not rate else min(c.chunk_size, max(1, int(rate * train.CHUNK_SECONDS)))
  n = 0
  while n < cap and step + n < total:
    n += 1
    at = step + n
    if any(every and at % every == 0 for every in (c.audio_freq, c.checkpoint_every, eval_every)):
      break
    if snapshots.due(c, total, at):
      break
  return n


@pytest.mark.parametrize('step', [0, 1, 7, 29, 31, 95])
@pytest.mark.parametrize('rate', [None, 3.0, 1e6])
def test_chunk_length_stops_at_every_boundary(step, rate):
  c = ml_collections.ConfigDict(dict(chunk_size=16, audio_freq=30, checkpoint_every=20,
                                     wander_snapshots=3))   # snapshots at 64, 80, 96
  for eval_every in (0, 25):
    got = train.chunk_length(step, 100, c, eval_every, rate)
    assert got == reference_chunk_length(step, 100, c, eval_every, rate), (step, eval_every, rate)
    assert 1 <= got <= 16


def test_metrics_log_running_mean_counts_only_earlier_points(tmp_path):
  run = rundir.RunDir(str(tmp_path / 'run'))
  run.append_metrics([{'step': 5 * (i + 1), 'loss': float(i), 'time': 0.0} for i in range(12)])
  with tb.Writer(str(tmp_path / 'tb')) as board:
    log = outputs.MetricsLog(run, board, 0.5, 'title')
    records = [{'step': 5 * (i + 1), 'loss': float(i), 'time': 0.0} for i in range(12, 15)]
    records[-1]['val_loss'] = 3.0
    log.add(records)
    log.plot(force=True)
  losses = np.arange(15, dtype=np.float64)
  means = {e.step: e.summary.value[0].simple_value for e in tb.read_events(str(tmp_path / 'tb'))
           if e.summary.value and e.summary.value[0].tag == 'loss_running_mean'}
  assert means == pytest.approx({5 * (i + 1): np.mean(losses[i - 9:i + 1]) for i in (12, 13, 14)})
  assert [r['step'] for r in rundir.read_metrics(run.path)] == [5 * (i + 1) for i in range(15)]
  assert log.val == [(75, 3.0)] and log.final_loss == 14.0
  assert os.path.getsize(run.plot_path) > 0


def test_read_metrics_leaves_out_a_torn_last_line_only(tmp_path):
  path = tmp_path / 'metrics.jsonl'
  path.write_text('{"step": 5, "loss": 1.0}\n{"step": 10, "lo')
  assert rundir.read_metrics(str(tmp_path)) == [{'step': 5, 'loss': 1.0}]
  path.write_text('{"step": 5, "lo\n{"step": 10, "loss": 1.0}\n')
  with pytest.raises(config_lib.ConfigError, match='line 1 is not JSON'):
    rundir.read_metrics(str(path))


def test_dream_writer_never_overwrites_and_draws_each_dream(tmp_path):
  c, _ = config_lib.prepare(tiny_config('column'))
  writer = outputs.DreamWriter(c, 1.0, str(tmp_path / 'out'))
  values = np.sin(np.arange(2000) / 5.0).astype(np.float32) * 0.5
  first = writer.write('d.wav', values, np.random.default_rng(0), seed_audio=values[:300])
  second = writer.write('d.wav', values, np.random.default_rng(0))
  assert first != second and writer.paths == [first, second]
  assert sorted(os.listdir(tmp_path / 'out')) == sorted(
      os.path.basename(os.path.splitext(p)[0]) + ext for p in (first, second)
      for ext in ('.wav', '.png'))


@pytest.mark.slow
def test_tensorboard_hides_the_steps_a_resume_writes_again(tmp_path, synth_audio):
  audio = tmp_path / 'in.wav'
  audio_io.write_wav(str(audio), synth_audio, 11025)
  work = str(tmp_path / 'run')
  c = tiny_config('vector', input_files=(str(audio),), lr_final=1.0, max_steps=30,
                  checkpoint_every=10, chunk_size=10)
  train.train_and_evaluate(c, work, log=lambda *_: None)
  c.max_steps = 60
  train.train_and_evaluate(c, work, log=lambda *_: None)
  events = tb.read_events(os.path.join(work, 'tensorboard'))
  starts = [e.step for e in events if e.HasField('session_log')
            and e.session_log.status == event_pb2.SessionLog.START]
  assert starts == [30]  # TensorBoard drops the first file's events from step 30 on
  steps = [json.loads(line)['step'] for line in open(os.path.join(work, 'metrics.jsonl'))]
  assert steps == sorted(set(steps)) and steps[-1] == 60


def reference_training_offsets(modes, same, cursor, n_offsets, unit):
  """'same' and 'advance' seed offsets as sample mode picked them before sampling.seed_offsets
  was its one home (random ones differ only in their generator)."""
  num = len(modes)
  out = []
  for i, mode in enumerate(modes):
    if mode == 'same':
      out.append(int(same[i % len(same)]))
    else:
      out.append((cursor // unit + i * (n_offsets // num)) % n_offsets * unit)
  return out


def test_sample_mode_seeds_follow_the_training_seed_modes(synth_audio):
  c, sources, program, _, state = build_program(
      'column', synth_audio, seed_advance=('same', 'advance'))
  cursor = int(slicing.cursors(sources.g, 40, sources.iters_per_epoch))
  run = trained.TrainedRun(path='', config=c, sources=sources, model=program.model,
                             params=state.params, same_offsets=np.asarray(state.same_offsets),
                             cursor=cursor, step=40)
  buffers, modes, offsets = trained.training_seeds(run, 5, seed=0)
  assert modes == ['same', 'advance', 'same', 'advance', 'same']
  want = reference_training_offsets(modes, run.same_offsets, cursor, sources.num_seed_offsets,
                                    sources.g.unit)
  assert [int(o) for o in offsets] == want
  np.testing.assert_array_equal(buffers, sources.seeds[slicing.seed_indices(sources.g,
                                                                            np.array(want))])
