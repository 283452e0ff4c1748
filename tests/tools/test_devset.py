"""The development set: its MIDI read back by a small parser, its pieces, a FluidSynth render."""
import os
import struct

import numpy as np
import pytest
import soundfile as sf

from audiolstm.audio import audio_io
from audiolstm.tools import devset

SR = 11025


def parse_smf(data: bytes) -> dict:
  """A minimal standard MIDI file reader: the header, and the events of each track.

  Returns:
    {'format', 'division', 'tracks': [[(tick, status, data bytes)]]}; meta events have status
    0xFF and data (type,) + payload. Running status and running delta times are followed.
  """
  assert data[:4] == b'MThd'
  size, fmt, ntracks, division = struct.unpack('>IHHH', data[4:14])
  assert size == 6
  pos, tracks = 8 + size, []
  for _ in range(ntracks):
    assert data[pos:pos + 4] == b'MTrk'
    (length,) = struct.unpack('>I', data[pos + 4:pos + 8])
    body, pos = data[pos + 8:pos + 8 + length], pos + 8 + length
    assert len(body) == length
    i, tick, status, events = 0, 0, None, []

    def varlen():
      nonlocal i
      value = 0
      while True:
        b = body[i]
        i += 1
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
          return value

    while i < len(body):
      tick += varlen()
      if body[i] == 0xFF:  # meta: type, length, payload
        kind = body[i + 1]
        i += 2
        n = varlen()
        events.append((tick, 0xFF, (kind,) + tuple(body[i:i + n])))
        i += n
        if kind == 0x2F:
          break
        continue
      if body[i] & 0x80:
        status = body[i]
        i += 1
      n = 1 if status >> 4 in (0xC, 0xD) else 2
      events.append((tick, status, tuple(body[i:i + n])))
      i += n
    assert i == len(body), 'bytes after the end of track'
    tracks.append(events)
  assert pos == len(data)
  return {'format': fmt, 'division': division, 'tracks': tracks}


def notes_of(events):
  """[(on tick, off tick, channel, pitch, velocity, bend at note-on)] and the programs
  {channel: program}; a note-on with velocity 0 is a note-off."""
  sounding, notes, bend, programs = {}, [], {}, {}
  for tick, status, data in events:
    kind, ch = status >> 4, status & 0x0F
    if status == 0xFF:
      continue
    if kind == 0xC:
      programs[ch] = data[0]
    elif kind == 0xE:
      bend[ch] = data[0] | (data[1] << 7)
    elif kind == 0x9 and data[1] > 0:
      assert not [k for k in sounding if k[0] == ch], f'channel {ch} already sounds at {tick}'
      sounding[(ch, data[0])] = (tick, data[1], bend.get(ch, 8192))
    elif kind in (0x8, 0x9):
      on, velocity, b = sounding.pop((ch, data[0]))
      notes.append((on, tick, ch, data[0], velocity, b))
  assert not sounding, 'notes never turned off'
  return sorted(notes), programs


def test_midi_bytes_parse_back_to_the_notes_tempo_and_program():
  notes = (devset.Note(0.0, 1.0, 60, 90), devset.Note(0.5, 0.25, 64, 130, cents=-15.0),
           devset.Note(0.5, 2.0, 67, 0, cents=30.0), devset.Note(200.0, 0.0001, 72, 64),
           devset.Note(0.0, 1.5, 48, 70, cents=250.0))      # bend beyond +-2 semitones: clipped
  smf = parse_smf(devset.midi_bytes(notes, program=42, bpm=72))
  assert smf['format'] == 0 and smf['division'] == devset.TICKS and len(smf['tracks']) == 1
  events = smf['tracks'][0]
  tempos = [d[1:] for _, s, d in events if s == 0xFF and d[0] == 0x51]
  assert tempos == [tuple(int(round(60e6 / 72)).to_bytes(3, 'big'))]
  assert 60e6 / int.from_bytes(bytes(tempos[0]), 'big') == pytest.approx(72, rel=1e-6)
  assert events[-1][1:] == (0xFF, (0x2F,))                 # end of track, last
  got, programs = notes_of(events)
  assert programs == {ch: 42 for ch in range(devset.CHANNELS)}
  want = []
  for i, n in enumerate(sorted(notes, key=lambda n: n.start)):   # channels in turn, by start
    on = int(round(n.start * devset.TICKS))
    off = max(int(round((n.start + n.length) * devset.TICKS)), on + 1)   # never zero-length
    bend = min(max(8192 + round(n.cents * 8192 / 200), 0), 16383)
    want.append((on, off, i % devset.CHANNELS, n.pitch, min(max(n.velocity, 1), 127), bend))
  assert got == sorted(want)
  for n, (_, _, _, _, _, bend) in zip(sorted(notes, key=lambda n: n.start), want):
    if abs(n.cents) <= 200:
      assert (bend - 8192) * 200 / 8192 == pytest.approx(n.cents, abs=0.02)
    else:
      assert bend == 16383


def test_a_channel_is_free_again_when_its_note_ends():
  """The ninth note takes channel 0 at the tick its first note ends: the note-off goes first, then
  the new note's bend, then its note-on."""
  notes = ((devset.Note(0, 4, 60),) + tuple(devset.Note(k / 2, 0.5, 62 + k) for k in range(1, 8))
           + (devset.Note(4, 1, 72, cents=50.0),))
  events = parse_smf(devset.midi_bytes(notes, 0, 120))['tracks'][0]
  at = [(s, d) for t, s, d in events if t == 4 * devset.TICKS and s & 0x0F == 0 and s != 0xFF]
  assert [s >> 4 for s, _ in at] == [0x8, 0xE, 0x9]
  got, _ = notes_of(events)
  assert [(on, off, ch, p) for on, off, ch, p, _, _ in got if ch == 0] == [
      (0, 1920, 0, 60), (1920, 2400, 0, 72)]


def test_varlen_quantities():
  for n, want in [(0, b'\x00'), (0x7F, b'\x7f'), (0x80, b'\x81\x00'), (0x3FFF, b'\xff\x7f'),
                  (0x4000, b'\x81\x80\x00'), (0x0FFFFFFF, b'\xff\xff\xff\x7f')]:
    assert devset._varlen(n) == want  # pylint: disable=protected-access


def test_cases_are_deterministic_and_20_to_40_s_long():
  cases = devset.cases()
  assert cases == devset.cases()
  names = [c.name for c in cases]
  assert len(set(names)) == len(names) and {c.split for c in cases} == {'tune', 'check', 'holdout'}
  for c in cases:
    seconds = max(n.start + n.length for n in c.notes) * 60 / c.bpm
    assert 20 <= seconds <= 40, (c.name, seconds)
    assert min(n.start for n in c.notes) >= 0
    assert all(1 <= n.velocity <= 127 and 21 <= n.pitch <= 108 for n in c.notes), c.name
    midi = devset.midi_bytes(c.notes, c.program, c.bpm)
    assert midi == devset.midi_bytes(c.notes, c.program, c.bpm)
    # Every note parses back, and none starts on a channel that still sounds: each note's pitch
    # bend detunes that note alone.
    got, programs = notes_of(parse_smf(midi)['tracks'][0])
    assert len(got) == len(c.notes) and set(programs.values()) == {c.program}


def test_recordings_lists_the_bundled_one_first(tmp_path):
  rows = devset.recordings(str(tmp_path))
  assert rows[0] == ('bundled', audio_io.DEFAULT_AUDIO)
  assert [n for n, _ in rows[1:]] == [c.name for c in devset.cases() if c.split != 'holdout']
  holdout = devset.recordings(str(tmp_path), 'holdout')       # not the development set's
  assert [n for n, _ in holdout] == [c.name for c in devset.cases() if c.split == 'holdout']
  assert len(holdout) == 7 and not {n for n, _ in holdout} & {n for n, _ in rows}
  check = devset.recordings(str(tmp_path), 'check')
  assert [n for n, _ in check] == [c.name for c in devset.cases() if c.split == 'check']
  assert all(p == str(tmp_path / f'{n}.wav') for n, p in check)


def test_render_a_short_case_with_fluidsynth(tmp_path):
  try:
    tools = devset.find_tools()
  except ValueError as e:
    pytest.skip(f'cannot render the development set: {e}')
  # Three flute notes at 120 bpm (half a second each): A4, then C#5 and E5 together.
  case = devset.Case('tiny', 73, 120, 'tune', (devset.Note(0, 1, 69), devset.Note(1, 1, 73),
                                               devset.Note(1, 1, 76)))
  path = devset.render(case, str(tmp_path), tools)
  assert path == str(tmp_path / 'tiny.wav')
  with open(tmp_path / 'tiny.mid', 'rb') as f:
    assert f.read() == devset.midi_bytes(case.notes, case.program, case.bpm)
  info = sf.info(path)
  assert info.samplerate == SR and info.channels == 1
  x = audio_io.load_audio(path, SR).astype(np.float64)
  # From the first sound to RELEASE_S after the last note (1 s), peak -1 dBFS (16-bit).
  assert 0.7 * SR < len(x) <= int((1.0 + devset.RELEASE_S) * SR)
  assert np.max(np.abs(x)) == pytest.approx(10 ** (-1 / 20), abs=1e-3)
  assert np.sqrt(np.mean(np.square(x))) > 0.02                       # far from silent
  first = x[int(0.05 * SR):int(0.45 * SR)]                           # the A4 alone
  spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
  assert np.fft.rfftfreq(len(first), 1 / SR)[np.argmax(spectrum)] == pytest.approx(440, rel=0.03)


def test_free_summary_and_its_table_columns():
  rows = [{'source': 'dream', 'windows': '', 'flatness_ratio': 9.0},
          {'source': 'sample', 'windows': 'AAHA', 'flatness_ratio': 1.2, 'level_db': -3.0,
           'longest_match_s': 0.5, 'silent': False, 'locked': False},
          {'source': 'stream', 'windows': 'AAAAAAAAAN', 'flatness_ratio': 1.9, 'level_db': 7.5,
           'longest_match_s': 1.5, 'silent': False, 'locked': 'True'}]
  s = devset.free_summary(rows)
  assert s['free_alive'] == pytest.approx(12 / 14)
  assert s['free_windows'] == 'AAHA AAAAAAAAAN'
  assert (s['free_flatness'], s['free_level_db'], s['free_match_s']) == (1.9, 7.5, 1.5)
  assert s['free_flags'] == 'locked'
  summary = {'artifacts': 'High', 'resemblance': 'High', 'novelty': 'High', 'passes': True,
             'anchors': {}, **{k: 1.0 for k, _ in devset.SUMMARY_COLUMNS}, **s}
  head, rule, row = devset.table_rows([('piece', 'fft', 12.0, summary)])
  assert head.count('|') == rule.count('|') == row.count('|')
  assert 'free alive' in head and '| 0.857 | AAHA AAAAAAAAAN | 1.9 | 7.5 | 1.5 | locked |' in row


def test_an_unknown_piece_or_approach_is_one_line_and_exit_2(tmp_path, capsys):
  for flag in ('--pieces=bundled,tuba_solo', '--approaches=fft,lstm'):
    assert devset.main([f'--out={tmp_path}', flag]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and ('tuba_solo' in err[0] or 'lstm' in err[0]), err
  assert not os.listdir(tmp_path)
