"""`python -m audiolstm.tools.bench`: output format and one compilation per run (no timing
asserts)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from audiolstm.config import defaults
from audiolstm.config import settings as config_lib
from audiolstm.tools import bench
from audiolstm.tools import bench_realtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FLOAT = r'[0-9.eE+-]+|nan|inf'


def run_bench(*args):
  env = dict(os.environ, PYTHONPATH=ROOT)
  proc = subprocess.run([sys.executable, '-m', 'audiolstm.tools.bench', *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return proc.stdout.strip().splitlines()


def fields(line):
  return dict(kv.split('=', 1) for kv in line.split() if '=' in kv)


@pytest.mark.slow
def test_training_benchmark_prints_the_reference_line_and_compiles_once():
  lines = run_bench('--approach', 'column', '--scale', 'small', '--iters', '3', '--warmup', '1')
  assert re.fullmatch(rf'iters_per_s=({FLOAT}) dream_samples_per_s=({FLOAT})', lines[-1])
  last = fields(lines[-1])
  assert float(last['iters_per_s']) > 0
  assert float(last['dream_samples_per_s']) == float(last['iters_per_s'])  # column: 1 sample/step
  info = fields(lines[-2])
  assert info['compilations'] == '1'          # the chunked step compiled once for the whole run
  assert info['timed_compilations'] == '0'    # nothing compiled while timing
  assert float(info['peak_rss_mb']) > 0
  head = fields(lines[-3])
  assert head['approach'] == 'column' and head['iters'] == '3' and head['dispatches'] == '1'
  assert np.isfinite(float(head['last_loss']))


@pytest.mark.slow
def test_vocoder_benchmark_prints_audio_seconds_per_second():
  lines = run_bench('--vocoder', '--seconds', '1', '--bins', '64', '--hop', '16')
  assert re.fullmatch(rf'seconds=({FLOAT}) audio_s_per_wall_s=({FLOAT})', lines[-1])
  assert float(fields(lines[-1])['audio_s_per_wall_s']) > 0
  assert fields(lines[-2])['timed_compilations'] == '0'
  # int(1 s * 11025 / 16) frames -> (frames + 1) * hop samples
  assert fields(lines[-3])['samples'] == str((11025 // 16 + 1) * 16)


def test_vocoder_check_against_a_reference_file(tmp_path):
  # A stand-in for vocoder_reference.py --save-npz: the direct sum in float64, divided by its
  # signed maximum as the original did (the benchmark rescales to the absolute peak).
  rng = np.random.RandomState(0)
  frames, offsets, hop, sr = rng.rand(12, 16) ** 4, rng.randint(0, 200, size=16), 8, 11025
  amps = np.pad(np.asarray(bench_peaks(frames)), ((1, 1), (0, 0)))
  ramp = np.linspace(0.0, 1.0, hop)
  env = (amps[:-1, None, :] * (1 - ramp)[None, :, None]
         + amps[1:, None, :] * ramp[None, :, None]).reshape(-1, 16)  # [(T+1)*hop, N]
  n = np.arange(env.shape[0])[:, None]
  k = np.arange(16)[None, :]
  out = np.sum(env * np.sin((n + offsets[None, :]) * np.pi * k / 16), axis=1)
  path = str(tmp_path / 'ref.npz')
  np.savez(path, frames=frames, offsets=offsets, hop=hop, sr=sr, out=out / np.max(out))
  lines = run_bench('--vocoder', '--check-npz', path, '--repeats', '1')
  assert fields(lines[-2])['check_npz'] == path and lines[-2].endswith('OK')


def bench_peaks(frames):
  x = np.maximum(frames, 0.0)
  mid = x[:, 1:-1]
  keep = (mid > x[:, :-2]) & (mid > x[:, 2:])
  return np.pad(np.where(keep, mid, 0.0), ((0, 0), (1, 1)))


def test_bench_shapes_and_signal():
  # The references' shapes (shared/bench/common.py make_config) and test signal.
  assert bench.shapes('column', 'dissertation')['seg_len'] == 2048
  c = defaults.get_config()
  c.approach = 'transpose'
  c.update(bench.shapes('transpose', 'dissertation'))  # the rest of the geometry is derived
  assert config_lib.resolve(c).label_offset == 100 * 1024
  assert bench.shapes('fft', 'small')['hop_size'] == 64
  x = bench_realtime.synthetic_signal(seconds=2.0)
  assert x.shape == (22050,) and x.dtype == np.float32
  assert 0.9 < np.max(np.abs(x)) * 1.05 <= 1.0 + 1e-4
  np.testing.assert_array_equal(x * 32768, np.round(x * 32768))  # int16 steps


def test_bench_dreams_last_the_run_and_many_streams_fit_the_memory_limit():
  # 8 dissertation-sized column streams: an hour-long dream each was over the dream-memory limit.
  args = bench.parse_args(['--approach', 'column', '--streams', '8', '--iters', '200',
                           '--warmup', '10'])
  c, g = bench.bench_config(args, chunk_size=200)
  per_step = config_lib.samples_per_dream_step(c, g)
  assert c.num_dream_streams == 8 and c.seg_len == 2048
  assert c.dream_seconds * c.sample_rate >= (10 + 200) * per_step  # never reseeded in the run
  assert c.dream_seconds == 1.0      # and no longer than needed (211 steps of 1 sample)
  config_lib.validate(c)


@pytest.mark.parametrize('args,words', [
    (['--approaches=column,drum'], '--approaches: drum'),
    (['--sizes=128,big'], 'comma lists of whole numbers'),
    (['--realtime-streams=0'], '--realtime-streams >= 1'),
    (['--budget=0'], '--budget must be > 0'),
])
def test_realtime_flags_are_checked(capsys, args, words):
  with pytest.raises(SystemExit) as e:
    bench.parse_args(['--realtime', *args])
  assert e.value.code == 2 and words in capsys.readouterr().err


def test_realtime_flags_parse_into_lists():
  a = bench.parse_args(['--realtime', '--approaches=fft', '--sizes=16,32',
                        '--realtime-streams=1,4'])
  assert (a.approaches, a.sizes, a.realtime_streams) == (['fft'], [16, 32], [1, 4])


def test_level_chain_line_gives_real_time_per_stream():
  line = bench_realtime.level_line([1, 2], 11025, budget_s=0.05)
  match = re.fullmatch(r'level chain \(loudness\.Loudness, 0\.1 s blocks at 11025 Hz\), real time '
                       r'per stream: 1 stream ([0-9.,]+)x, 2 streams ([0-9.,]+)x', line)
  assert match, line
  assert float(match[1].replace(',', '')) > 0
