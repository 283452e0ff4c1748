"""The level chain (audiolstm.audio.loudness): the recording's loudness, no blasts, blocks =
whole."""
import numpy as np
import pytest

from audiolstm.audio import loudness

SR = 8000


def level_db(x):
  return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def short_term_rises(x, floor_db):
  """The 10 ms frames' RMS levels (floored) of [n] audio and the most any of them rises within
  100 ms: a plain reference of frame_db / rises_db."""
  f = SR // 100
  frames = x[:len(x) // f * f].reshape(-1, f).astype(np.float64)
  levels = np.maximum(10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-30), floor_db)
  return max(levels[i] - np.min(levels[max(0, i - 10):i + 1]) for i in range(len(levels)))


def through(chain, x, block=800):
  """[S, n] -> [S, n] through `chain` in blocks, flushed."""
  out = [chain.push(x[:, a:a + block]) for a in range(0, x.shape[1], block)]
  return np.concatenate(out + [chain.flush()], axis=1)


@pytest.fixture(name='recording')
def recording_fixture():
  """3 s of steady noise at -32 dBFS."""
  return (10 ** (-32 / 20) * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)


def test_a_jump_to_a_full_scale_buzz_comes_out_without_a_blast(recording):
  rec = loudness.recording_level(recording, SR)
  assert rec.rms_db == pytest.approx(-32, abs=0.2) and rec.attack_db < loudness.RISE_DB
  quiet = 10 ** (-50 / 20) * np.random.default_rng(1).standard_normal(2 * SR)
  buzz = np.sign(np.sin(2 * np.pi * 110 * np.arange(3 * SR) / SR))        # 0 dBFS
  x = np.concatenate([quiet, buzz])[None]
  out = through(loudness.Loudness(1, SR, rec), x)[0]
  assert out.shape == x.shape[1:] and np.max(np.abs(out)) <= 10 ** (loudness.CEILING_DB / 20)
  assert short_term_rises(out, rec.rms_db - loudness.FLOOR_DB) <= loudness.RISE_DB
  assert abs(level_db(out[SR:2 * SR]) - rec.rms_db) < 5      # the quiet dream: 18 dB up in ~2 s
  for second in range(2, 5):                                 # the buzz brought down, at once
    assert abs(level_db(out[second * SR:(second + 1) * SR]) - rec.rms_db) < 10
  assert abs(level_db(out[4 * SR:]) - rec.rms_db) < 1


def test_a_dream_far_below_stays_quiet_and_blocks_are_the_whole(recording):
  rec = loudness.recording_level(recording, SR)
  x = 10 ** (-80 / 20) * np.random.default_rng(2).standard_normal((2, 5 * SR))
  x[1] *= 10 ** (40 / 20)                                       # -40 dBFS: 8 dB below
  out = through(loudness.Loudness(2, SR, rec), x, block=333)
  assert np.all(np.abs(out[:, :SR // 100]) <= 1.5 * np.abs(x[:, :SR // 100]))  # no boost at once
  assert level_db(out[0, 4 * SR:]) == pytest.approx(-80 + loudness.MAX_GAIN_DB, abs=1)
  assert level_db(out[1, SR:]) == pytest.approx(-32, abs=1)
  whole = np.stack([loudness.level_whole(row, SR, rec) for row in x])
  np.testing.assert_allclose(out, whole, rtol=1e-5, atol=1e-9)


def test_the_recordings_own_attacks_pass():
  from audiolstm.tools import bench_realtime  # pylint: disable=g-import-not-at-top
  notes = bench_realtime.synthetic_signal(seconds=6.0, sr=SR)    # plucked notes
  rec = loudness.recording_level(notes, SR)
  out = through(loudness.Loudness(1, SR, rec), notes[None])[0]
  floor = rec.rms_db - loudness.FLOOR_DB
  assert short_term_rises(out, floor) > short_term_rises(notes, floor) - 3
  assert abs(level_db(out[SR:]) - rec.rms_db) < 3
