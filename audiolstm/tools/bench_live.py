"""`audiolstm bench --live`: play mode's speed and latency, for each default and response.

  python -m audiolstm.bench --live [--approaches column,fft] [--live-seconds 60] [--rate 48000]

Each cell plays a synthetic player (phrases of harmonic notes with pauses, bench_realtime's
signal cut into phrases) through `audiolstm play` in real time, from a file to a file, with the
default model of each approach at random parameters (speed does not depend on what it learned):

  dream x     the dream's real-time factor (seconds dreamed per second of compute; learn: with its
              training step)
  underruns   blocks the dream was not ready for (a sound card adds its own, 0 here)
  block p99   the slowest 1 % of the loop's blocks (the response's own work per block)
  added ms    resonate: from the player's onset to the output: the input block, the output's
              prefill (devices.PREFILL_BLOCKS), the meter's rise to half its gain (measured on a
              tone onset) and the block p99; a sound card adds its own buffers on top
  answer ms   answer: from the detected end of a phrase to its first sample leaving the loop
              (median and worst), plus the output's prefill
"""
import os
import tempfile

import numpy as np

from audiolstm.tools import bench_realtime

RESPONSES = ('answer', 'resonate', 'learn')


def player_signal(rate: int, seconds: float) -> np.ndarray:
  """[seconds * rate] the benchmark signal at `rate`, in phrases of 2 s with 1.2 s pauses."""
  import soxr  # pylint: disable=g-import-not-at-top  # librosa's resampler
  x = bench_realtime.synthetic_signal()
  x = soxr.resample(x, bench_realtime.SAMPLE_RATE, rate)
  x = np.resize(x, round(seconds * rate)).astype(np.float32)
  t = np.arange(len(x)) / rate
  return np.where(t % 3.2 < 2.0, x, 0.0).astype(np.float32)


def meter_rise_s(rate: int, block: int) -> float:
  """Seconds from a tone's onset until resonate's gain of its band reaches half of its final
  value (the meter's window and the gains' attack), in blocks of `block`."""
  from audiolstm.audio import bands  # pylint: disable=g-import-not-at-top  # resonate's DSP
  from audiolstm.live import play  # pylint: disable=g-import-not-at-top
  from audiolstm.live import respond  # pylint: disable=g-import-not-at-top
  edges = bands.band_edges(rate, play.NUM_BANDS)
  meter = bands.BandMeter(rate, edges, window=respond.METER_WINDOW)
  gains = bands.BandGains(rate, len(edges) - 1)
  f = float(np.sqrt(edges[10] * edges[11]))
  n = rate // 2 // block * block    # the onset starts a block
  x = np.concatenate([np.zeros(n), 0.3 * np.sin(2 * np.pi * f * np.arange(n) / rate)])
  trace = np.concatenate([gains.update(meter.push(x[i:i + block].astype(np.float32)),
                                       len(x[i:i + block]))[10] for i in range(0, len(x), block)])
  after = trace[n:]
  return float(np.argmax(after >= 0.5 * after[-1]) / rate)


def play_cell(run, response: str, rate: int, seconds: float, block: int):
  """One session of `response` with `run` (a bench run): play.Summary."""
  # jax and the sound path load only when a timing runs
  import soundfile  # pylint: disable=g-import-not-at-top
  from audiolstm.live import play  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    take = os.path.join(tmp, 'player.wav')
    soundfile.write(take, player_signal(rate, seconds), rate, subtype='PCM_16')
    run.path = tmp
    options = play.PlayOptions(inp=take, out=os.path.join(tmp, 'out.wav'), respond=response,
                               rate=rate, block=block)
    return play.play(None, options, log=lambda *_: None, run=run)


def row(approach: str, response: str, summary, rate: int, block: int, rise_s: float) -> str:
  """One line of the table (the times in ms)."""
  from audiolstm.live import devices  # pylint: disable=g-import-not-at-top  # jax: timing only
  prefill = devices.PREFILL_BLOCKS * block / rate
  added = answer = ''
  if response == 'resonate':
    added = f'{(block / rate + prefill + rise_s + summary.block_p99_s) * 1000:.1f}'
  lat = summary.answer_latencies
  if response == 'answer' and lat:
    answer = (f'{(np.median(lat) + prefill) * 1000:.0f} (worst {(max(lat) + prefill) * 1000:.0f},'
              f' {len(lat)} answers)')
  return (f'| {approach} | {response} | {summary.realtime:.2f} | {summary.underruns} | '
          f'{summary.block_p99_s * 1000:.2f} | {added} | {answer} |')


def live(approaches, seconds: float = 20.0, rate: int = 48000, block: int = 256,
         log=print) -> list:
  """Print (and return) the table: each approach's default, each response."""
  import platform  # pylint: disable=g-import-not-at-top  # only for the table's heading
  rise = meter_rise_s(rate, block)
  lines = [f'play mode on {platform.machine()} ({os.cpu_count()} cores), {rate} Hz in blocks of '
           f'{block}, {seconds:g} s per cell; resonate\'s meter rises to half in '
           f'{rise * 1000:.1f} ms', '',
           '| approach | response | dream x | underruns | block p99 ms | added ms | answer ms |',
           '| --- | --- | --- | --- | --- | --- | --- |']
  for line in lines:
    log(line)
  for approach in approaches:
    for response in RESPONSES:
      run = bench_realtime.bench_run(approach)
      summary = play_cell(run, response, rate, seconds, block)
      lines.append(row(approach, response, summary, rate, block, rise))
      log(lines[-1])
  return lines
