r"""A development set of real instrument sound: MIDI written here, rendered by FluidSynth.

The scores and the default configs are tuned on recordings of sampled real instruments (the
FluidR3 GM SoundFont), not on synthetic tones. This module writes the MIDI of short pieces
(melodies, chords and arpeggios that repeat and vary their material, as players do), renders
each with FluidSynth and stores it at 11025 Hz, mono, peak -1 dBFS:

  sudo apt-get install -y fluidsynth fluid-soundfont-gm
  python -m audiolstm.tools.devset --out=devset          # devset/<name>.wav (+ .mid), outside git
  python -m audiolstm.tools.devset --out=devset --judge=runs/devset   # + train, score: table.md

Each case is marked `tune` (used to choose settings) or `check` (kept unseen until the end);
the bundled recording (audiolstm/data/default.wav) is a tune case too. A third split, `holdout`
(harp, violin, marimba, clarinet, oboe, trumpet, saxophone), is no part of the development set:
instruments the defaults were never tuned on, judged only with --split=holdout. `cases()` lists
them all.
Everything is deterministic: the same command writes the same files.
"""
import dataclasses
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

from audiolstm import configs
from audiolstm import files
from audiolstm.audio import audio_io

SAMPLE_RATE = 11025
SOUNDFONTS = ('/usr/share/sounds/sf2/FluidR3_GM.sf2', '/usr/share/sounds/sf2/default-GM.sf2')
CHANNELS = 8                     # notes rotate over these MIDI channels (own pitch bends)
TICKS = 480                      # MIDI ticks per quarter note
RELEASE_S = 0.4                  # kept after the last note ends
FADE_S = 0.05
INSTALL_HINT = 'install it with: sudo apt-get install -y fluidsynth fluid-soundfont-gm'


@dataclasses.dataclass(frozen=True)
class Note:
  """One note: start and length in beats, MIDI pitch, velocity (1-127)."""
  start: float
  length: float
  pitch: int
  velocity: int = 90
  cents: float = 0.0     # detuning (pitch bend on the note's own channel)


@dataclasses.dataclass(frozen=True)
class Case:
  """A piece of the development set."""
  name: str
  program: int       # General MIDI program (0 piano, 24 nylon, 25 steel, 42 cello, 73 flute)
  bpm: float
  split: str         # 'tune', 'check' or 'holdout'
  notes: tuple       # Notes


# ----------------------------------------------------------------------------- MIDI


def _varlen(n: int) -> bytes:
  """MIDI variable-length quantity of n >= 0."""
  out = [n & 0x7F]
  n >>= 7
  while n:
    out.append(0x80 | (n & 0x7F))
    n >>= 7
  return bytes(reversed(out))


def midi_bytes(notes, program: int, bpm: float) -> bytes:
  """A type-0 standard MIDI file of `notes` with `program`, at `bpm`.

  Notes take channels 0-7 in turn, each note's detuning a pitch bend on its channel just before
  it starts (bend range +-2 semitones), so chord tones are detuned independently.

  Args:
    notes: the Notes (any order; sorted by start).
    program: General MIDI program (0-127), set on every channel.
    bpm: tempo in quarter notes per minute.

  Returns:
    The bytes of the .mid file (TICKS ticks per quarter note).
  """
  events = []  # (tick, order, bytes): note-offs before bends before note-ons at the same tick
  for i, n in enumerate(sorted(notes, key=lambda n: n.start)):
    ch = i % CHANNELS
    on, off = int(round(n.start * TICKS)), int(round((n.start + n.length) * TICKS))
    bend = int(np.clip(8192 + round(n.cents * 8192 / 200), 0, 16383))
    events.append((on, 1, bytes([0xE0 | ch, bend & 0x7F, bend >> 7])))
    events.append((on, 2, bytes([0x90 | ch, n.pitch, int(np.clip(n.velocity, 1, 127))])))
    events.append((max(off, on + 1), 0, bytes([0x80 | ch, n.pitch, 0])))
  events.sort(key=lambda e: (e[0], e[1]))
  tempo = int(round(60e6 / bpm))
  track = bytearray(b'\x00\xff\x51\x03' + tempo.to_bytes(3, 'big'))
  for ch in range(CHANNELS):
    track += b'\x00' + bytes([0xC0 | ch, program])
  tick = 0
  for t, _, data in events:
    track += _varlen(t - tick) + data
    tick = t
  track += b'\x00\xff\x2f\x00'
  return (b'MThd' + struct.pack('>IHHH', 6, 0, 1, TICKS) +
          b'MTrk' + struct.pack('>I', len(track)) + bytes(track))


# ----------------------------------------------------------------------------- the pieces

_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_PROGRESSIONS = {'pop': (0, 5, 3, 4), 'minor': (5, 3, 0, 4), 'jazz': (1, 4, 0, 0)}


def _triad(root: int, degree: int) -> tuple:
  """MIDI pitches of the diatonic triad on `degree` (0-6) of the major key on `root`."""
  return tuple(root + _MAJOR[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4))


def _scale_pitch(root: int, step: int) -> int:
  """The `step`-th degree (any integer) of the major scale on root."""
  return root + _MAJOR[step % 7] + 12 * (step // 7)


def arpeggios(root, prog, bars, pattern, beats_per_note, velocity=80):
  """Broken chords: each bar plays `pattern` (indices into the chord spread over 2 octaves).

  Args:
    root: MIDI pitch of the key's tonic.
    prog: the progression: scale degrees (0-6) of each bar's chord, cycled.
    bars: number of 4-beat bars.
    pattern: indices 0-5 into the chord's tones and those an octave up, cycled within a bar.
    beats_per_note: length of each step in beats (each note rings 2.5 x that).
    velocity: MIDI velocity (a bar's first note 8 louder).

  Returns:
    [Note] in time order.
  """
  notes = []
  per_bar = int(round(4 / beats_per_note))
  for bar in range(bars):
    chord = _triad(root, prog[bar % len(prog)])
    tones = chord + tuple(p + 12 for p in chord)
    for i in range(per_bar):
      p = tones[pattern[i % len(pattern)]]
      notes.append(Note(bar * 4 + i * beats_per_note, beats_per_note * 2.5, p,
                        velocity + 8 * (i == 0)))
  return notes


def melody(root, prog, bars, rng, beats=(1, 0.5, 0.5, 1, 1), octave=12, velocity=92):
  """A melody of a motif repeated with variations, on chord tones of each bar's chord.

  Args:
    root: MIDI pitch of the key's tonic.
    prog: the progression: scale degrees (0-6) of each bar's chord, cycled.
    bars: number of 4-beat bars.
    rng: np.random.Generator of the motif and its variations.
    beats: the motif's note lengths in beats (cut at the bar's end; what the motif leaves of a
      bar is held on the chord's root).
    octave: semitones above `root` around which the melody lies (12: the octave above).
    velocity: MIDI velocity (the held root 10 softer).

  Returns:
    [Note] in time order.
  """
  motif = rng.integers(-2, 3, size=len(beats))
  notes = []
  for bar in range(bars):
    chord_step = prog[bar % len(prog)] + 7
    vary = rng.integers(-1, 2, size=len(beats)) * (rng.random(len(beats)) < 0.3 + 0.4 * (bar % 4 == 3))
    t = 0.0
    for b, m, v in zip(beats, motif, vary):
      if t >= 4:
        break
      notes.append(Note(bar * 4 + t, min(b, 4 - t) * 0.95,
                        _scale_pitch(root, chord_step + int(m + v)) + octave - 12, velocity))
      t += b
    if t < 4:
      notes.append(Note(bar * 4 + t, 4 - t, _scale_pitch(root, chord_step) + octave - 12,
                        velocity - 10))
  return notes


def chords(root, prog, bars, rhythm=(0, 1.5, 2.5), length=1.0, velocity=72, strum=0.0):
  """Block (or strummed, `strum` beats between strings) chords on the beats in `rhythm`.

  Args:
    root: MIDI pitch of the key's tonic.
    prog: the progression: scale degrees (0-6) of each bar's chord, cycled.
    bars: number of 4-beat bars.
    rhythm: beats (from the bar's start) on which the chord sounds.
    length: each note's length in beats.
    velocity: MIDI velocity.
    strum: beats between the onsets of consecutive chord tones (0: together).

  Returns:
    [Note]: four per chord (the root an octave down, then the triad).
  """
  notes = []
  for bar in range(bars):
    chord = _triad(root, prog[bar % len(prog)])
    voicing = (chord[0] - 12,) + chord
    for beat in rhythm:
      for k, p in enumerate(voicing):
        notes.append(Note(bar * 4 + beat + k * strum, length, p, velocity))
  return notes


def bass(root, prog, bars, velocity=85):
  """Roots on beats 1 and 3, an octave below the chords.

  Args:
    root: MIDI pitch of the key's tonic.
    prog: the progression: scale degrees (0-6) of each bar's chord, cycled.
    bars: number of 4-beat bars.
    velocity: MIDI velocity.

  Returns:
    [Note], two per bar.
  """
  return [Note(bar * 4 + beat, 1.9, _triad(root, prog[bar % len(prog)])[0] - 24, velocity)
          for bar in range(bars) for beat in (0, 2)]


def humanize(notes, rng, timing=0.03, velocity=10, cents=8.0) -> tuple:
  """Notes played as a person would: start jitter (beats), velocity and tuning spread (std).

  Args:
    notes: the Notes as written.
    rng: np.random.Generator of the jitter.
    timing: std of the start jitter in beats (starts stay >= 0).
    velocity: std of the velocity spread.
    cents: std of each note's detuning in cents (replaces Note.cents).

  Returns:
    A tuple of Notes in the input's order.
  """
  out = []
  for n in notes:
    start = max(0.0, n.start + rng.normal(0, timing))
    out.append(Note(start, n.length, n.pitch, int(n.velocity + rng.normal(0, velocity)),
                    float(rng.normal(0, cents))))
  return tuple(out)


def cases() -> tuple:
  """The development set's pieces (20-40 s each), in a fixed order: `tune` and `check`, then
  `holdout`."""
  rng = np.random.default_rng(20261201)
  pop, minor, jazz = _PROGRESSIONS['pop'], _PROGRESSIONS['minor'], _PROGRESSIONS['jazz']
  return (
      Case('nylon_arpeggio', 24, 100, 'tune',
           humanize(arpeggios(57, minor, 12, (0, 1, 2, 3, 4, 3, 2, 1), 0.5), rng)),
      Case('piano_chords', 0, 92, 'tune',
           humanize(chords(60, pop, 11, velocity=64) + melody(60, pop, 11, rng, octave=24), rng)),
      Case('cello_melody', 42, 72, 'tune',
           humanize(melody(50, minor, 9, rng, beats=(2, 1, 1, 2, 2), octave=0, velocity=96), rng)),
      Case('steel_melody', 25, 104, 'check',
           humanize(melody(55, pop, 13, rng) + bass(55, pop, 13), rng)),
      Case('flute_melody', 73, 96, 'check',
           humanize(melody(62, jazz, 10, rng, beats=(0.5, 0.5, 1, 0.5, 0.5, 1), octave=24), rng)),
      Case('piano_arpeggio', 0, 84, 'check',
           humanize(arpeggios(53, pop, 10, (0, 2, 4, 5, 4, 2), 2 / 3) + bass(53, pop, 10), rng)),
  ) + _holdout_cases()


def _holdout_cases() -> tuple:
  """The `holdout` pieces: instruments the defaults were never tuned on (harp, violin, marimba and
  four winds), judged only with --split=holdout."""
  rng = np.random.default_rng(777)
  pop, minor, jazz = _PROGRESSIONS['pop'], _PROGRESSIONS['minor'], _PROGRESSIONS['jazz']
  return (
      Case('harp_arpeggio', 46, 90, 'holdout',
           humanize(arpeggios(55, pop, 10, (0, 2, 4, 3, 5, 1), 0.5), rng)),
      Case('violin_melody', 40, 80, 'holdout',
           humanize(melody(55, minor, 10, rng, beats=(1.5, 0.5, 1, 1), octave=12), rng)),
      Case('marimba_melody', 12, 110, 'holdout',
           humanize(melody(60, jazz, 14, rng) + bass(60, jazz, 14), rng)),
      Case('clarinet_melody', 71, 76, 'holdout',
           humanize(melody(50, pop, 9, rng, beats=(2, 1, 1, 2, 2), octave=12), rng)),
      Case('oboe_melody', 68, 84, 'holdout',
           humanize(melody(62, minor, 10, rng, beats=(1, 1, 0.5, 0.5, 1), octave=12), rng)),
      Case('trumpet_melody', 56, 100, 'holdout',
           humanize(melody(58, pop, 12, rng, beats=(0.5, 0.5, 1, 1, 1), octave=12), rng)),
      Case('sax_melody', 65, 88, 'holdout',
           humanize(melody(51, jazz, 10, rng, beats=(1.5, 0.5, 1, 1), octave=12)
                    + bass(51, jazz, 10), rng)),
  )


# ----------------------------------------------------------------------------- rendering


def find_tools():
  """(fluidsynth executable, SoundFont path); ValueError with one line if either is missing."""
  exe = shutil.which('fluidsynth')
  font = next((f for f in SOUNDFONTS if os.path.isfile(f)), None)
  if not exe or not font:
    missing = 'fluidsynth' if not exe else 'the FluidR3 GM SoundFont'
    raise ValueError(f'{missing} is not installed: {INSTALL_HINT}')
  return exe, font


def render(case: Case, out_dir: str, tools=None) -> str:
  """Render one case to OUT_DIR/<name>.wav (11025 Hz mono, peak -1 dBFS) and its .mid; path.

  Args:
    case: the piece.
    out_dir: where to write (created if missing).
    tools: (fluidsynth executable, SoundFont path) from find_tools; None to look them up.

  Returns:
    The path of the WAV file.

  Raises:
    ValueError: fluidsynth or the SoundFont is not installed (tools None).
    subprocess.CalledProcessError: fluidsynth failed.
  """
  exe, font = tools or find_tools()
  os.makedirs(out_dir, exist_ok=True)
  mid = os.path.join(out_dir, case.name + '.mid')
  with files.atomic_file(mid) as tmp:
    with open(tmp, 'wb') as f:
      f.write(midi_bytes(case.notes, case.program, case.bpm))
  with tempfile.TemporaryDirectory() as d:
    raw = os.path.join(d, 'render.wav')
    subprocess.run([exe, '-ni', '-q', '-g', '0.6', '-r', '44100', '-F', raw, font, mid],
                   check=True, capture_output=True, timeout=300)
    audio = audio_io.load_audio(raw, SAMPLE_RATE)
  # From the first sound to RELEASE_S after the last note ends, with a short fade: a piece's
  # unseen tail (its last 10 %) is then more of the same music, not a long decay into silence.
  end = int((max(n.start + n.length for n in case.notes) * 60 / case.bpm + RELEASE_S)
            * SAMPLE_RATE)
  loud = np.flatnonzero(np.abs(audio) > 1e-3 * np.max(np.abs(audio)))
  audio = audio[loud[0] if len(loud) else 0:end]
  fade = int(FADE_S * SAMPLE_RATE)
  audio[-fade:] *= np.linspace(1.0, 0.0, fade)
  audio = audio * (10 ** (-1 / 20) / max(np.max(np.abs(audio)), 1e-9))
  return audio_io.write_wav(os.path.join(out_dir, case.name + '.wav'), audio, SAMPLE_RATE)


def recordings(out_dir: str, split: str = 'all') -> list:
  """[(name, path)] of the set's recordings under OUT_DIR, the bundled one first.

  Args:
    out_dir: where `render` wrote them.
    split: 'tune', 'check', 'all' (both: the development set) or 'holdout'.

  Returns:
    [(name, WAV path)] of that split: ('bundled', audio_io.DEFAULT_AUDIO) for 'tune' and 'all',
    then the cases in cases() order.
  """
  rows = [('bundled', audio_io.DEFAULT_AUDIO, 'tune')]
  rows += [(c.name, os.path.join(out_dir, c.name + '.wav'), c.split) for c in cases()]
  return [(n, p) for n, p, s in rows if in_split(s, split)]


def in_split(case_split: str, split: str) -> bool:
  """Whether a piece marked `case_split` is among the recordings of `split` ('all': tune and
  check, the development set; 'tune', 'check' or 'holdout': those alone)."""
  return case_split == split or (split == 'all' and case_split != 'holdout')


APPROACHES = ('column', 'transpose', 'vector', 'fft')
SUMMARY_COLUMNS = (('clicks_per_s', 'clicks/s'), ('flatness_ratio', 'flatness'),
                   ('frame_distance_db', 'frame dB'), ('motion_excess', 'motion'),
                   ('stasis', 'stasis'), ('loop', 'loop'), ('row_lock', 'lock'),
                   ('spectral_distance_db', 'spec dB'), ('chroma_distance', 'chroma'),
                   ('max_ncc', 'max_ncc'), ('copied_s', 'copied s'))


def train_default(approach: str, recording: str, workdir: str, log=print) -> float:
  """Train configs/<approach>.py on one recording into workdir (a finished run is kept);
  returns the wall time in seconds (the stored one when it was already done). Raises
  CalledProcessError.

  Args:
    approach: one of APPROACHES (the config file's name).
    recording: the audio file trained on.
    workdir: the run directory (its seconds.txt marks a finished run).
    log: called with one line of progress.

  Returns:
    The training's wall time in seconds (when it was already done: the one its seconds.txt
    holds, 0 if that is empty).

  Raises:
    subprocess.CalledProcessError: the training command failed.
  """
  done = os.path.join(workdir, 'seconds.txt')
  if os.path.exists(done):
    with open(done) as f:
      return float(f.read() or 0)
  config = configs.path(approach)
  log(f'training {approach} on {recording} -> {workdir}')
  start = time.perf_counter()
  subprocess.run([sys.executable, '-m', 'audiolstm.main', f'--config={config}',
                  f'--workdir={workdir}', f"--config.input_files=('{recording}',)"],
                 check=True, stdout=subprocess.DEVNULL)
  seconds = time.perf_counter() - start
  files.write_text_atomic(done, f'{seconds:.1f}')
  return seconds


FREE_SAMPLE_S = 20.0   # free_run: two sample-mode dreams this long ...
FREE_STREAM_S = 40.0   # ... and one stream (--reseed=off) this long, from the final model
FLAGS = ('silent', 'constant', 'clipped', 'locked', 'nan')


def free_run(workdir: str, log=print) -> None:
  """Let a trained run dream on its own, as a user would: two FREE_SAMPLE_S sample-mode dreams
  (WORKDIR/samples) and a FREE_STREAM_S stream with --reseed=off (WORKDIR/streams/free.wav).
  Done once (the stream file marks it). Raises CalledProcessError."""
  stream = os.path.join(workdir, 'streams', 'free.wav')
  if os.path.exists(stream):
    return
  log(f'free-running {workdir}: 2 x {FREE_SAMPLE_S:g} s samples, a {FREE_STREAM_S:g} s stream')
  base = [sys.executable, '-m', 'audiolstm.main', f'--workdir={workdir}', '--seed=1']
  subprocess.run(base + ['--mode=sample', '--num_dreams=2', f'--dream_seconds={FREE_SAMPLE_S}'],
                 check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  os.makedirs(os.path.dirname(stream), exist_ok=True)
  subprocess.run(base + ['--mode=stream', f'--out={stream}.part.wav', '--reseed=off',
                         f'--seconds={FREE_STREAM_S}'],
                 check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  os.replace(f'{stream}.part.wav', stream)


def free_summary(rows) -> dict:
  """The free-running files' summary (score rows of source 'sample' or 'stream'): the fraction
  of their windows alive and their letters, the worst flatness ratio, the level furthest from
  the recording's (dB), the longest literal match (s) and the flags raised."""
  # judging loads only with --judge
  from audiolstm.judge import calibration  # pylint: disable=g-import-not-at-top
  kept = [r for r in rows if r.get('source') in ('sample', 'stream')]
  alive = calibration.alive_summary(kept)
  worst = lambda k, f=max: f((float(r[k]) for r in kept), default=float('nan'))
  flags = sorted({f for r in kept for f in FLAGS if r.get(f) in (True, 'True', 1)})
  return {'free_alive': alive['alive'], 'free_windows': ' '.join(r.get('windows') or '-'
                                                                 for r in kept),
          'free_flatness': worst('flatness_ratio'),
          'free_level_db': worst('level_db', lambda v, default: max(v, key=abs, default=default)),
          'free_match_s': worst('longest_match_s'), 'free_flags': ','.join(flags) or '-'}


FREE_COLUMNS = (('free_alive', 'free alive'), ('free_windows', 'free windows'),
                ('free_flatness', 'free flat'), ('free_level_db', 'free level'),
                ('free_match_s', 'free match s'), ('free_flags', 'free flags'))


def _cell(value) -> str:
  return f'{value:.3g}' if isinstance(value, float) else str(value)


def table_rows(summaries) -> list:
  """Markdown lines: one row per (recording, approach) summary, its anchors above it."""
  head = ('| recording | system | time s | A | R | N | passes | '
          + ' | '.join(h for _, h in SUMMARY_COLUMNS + FREE_COLUMNS) + ' |')
  lines = [head, '|' + ' --- |' * (head.count('|') - 1)]
  shown = set()
  for rec, approach, seconds, summary in summaries:
    if rec not in shown:
      shown.add(rec)
      for name, row in summary['anchors'].items():
        verdicts = ' | '.join(row[v][0] for v in ('artifacts', 'resemblance', 'novelty'))
        lines.append(f'| {rec} | [{name}] | | {verdicts} | | '
                     + ' | '.join(_cell(row[k]) for k, _ in SUMMARY_COLUMNS)
                     + ' |' * (len(FREE_COLUMNS) + 1))
    verdicts = ' | '.join((summary[v] or '?')[0] for v in ('artifacts', 'resemblance', 'novelty'))
    passes = 'yes' if summary['passes'] else f'no ({summary["fails"]})'
    lines.append(f'| {rec} | {approach} | {seconds:.0f} | {verdicts} | {passes} | '
                 + ' | '.join(_cell(summary.get(k, '')) for k, _ in SUMMARY_COLUMNS + FREE_COLUMNS)
                 + ' |')
  return lines


def judge(runs: str, out_dir: str, approaches=APPROACHES, split='all', log=print,
          pieces=None) -> list:
  """Train every approach's default config on every recording of the set, let each dream on
  its own (free_run), score the dreams against the anchors, and write RUNS/table.md. Finished
  runs are reused.

  Args:
    runs: the directory of the runs (RUNS/<approach>/<name>) and of table.md.
    out_dir: where `render` wrote the recordings.
    approaches: the approaches to train.
    split: the recordings: 'tune', 'check', 'all' (both) or 'holdout' (see recordings).
    log: called with one line per step (training started, each summary's table row).
    pieces: recording names to keep (None: all of the split).

  Returns:
    [(recording name, approach, seconds, calibration.summarize(...))].

  Raises:
    subprocess.CalledProcessError: a training run failed.
  """
  # judging loads only with --judge
  from audiolstm.judge import evaluate  # pylint: disable=g-import-not-at-top
  from audiolstm.judge import calibration  # pylint: disable=g-import-not-at-top
  summaries = []
  for name, path in recordings(out_dir, split):
    if pieces and name not in pieces:
      continue
    for approach in approaches:
      workdir = os.path.join(runs, approach, name)
      seconds = train_default(approach, path, workdir, log)
      free_run(workdir, log)
      rows = evaluate.score_run(workdir, kept=evaluate.kept_files(workdir))
      evaluate.write_scores(workdir, rows)
      summaries.append((name, approach, seconds,
                        {**calibration.summarize(rows), **free_summary(rows)}))
      log(table_rows(summaries[-1:])[-1])
  text = '\n'.join(table_rows(summaries)) + '\n'
  files.write_text_atomic(os.path.join(runs, 'table.md'), text)
  return summaries


def main(argv=None) -> int:
  """Render the cases of --split into --out (default: devset); with --judge=RUNS also train and
  score."""
  import argparse  # pylint: disable=g-import-not-at-top  # judging loads only with --judge
  # judging loads only with --judge
  from audiolstm import cli  # pylint: disable=g-import-not-at-top
  parser = cli.ArgumentParser(prog='python -m audiolstm.tools.devset', description=__doc__.split(
      '\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--out', default='devset', help='folder for the WAV and MIDI files')
  parser.add_argument('--judge', metavar='RUNS', help='then train each approach\'s default '
                      'config on each recording into RUNS/<approach>/<name> (finished runs are '
                      'kept), score them and write RUNS/table.md')
  parser.add_argument('--approaches', default=','.join(APPROACHES),
                      help='comma-separated approaches for --judge')
  parser.add_argument('--split', default='all', choices=('all', 'tune', 'check', 'holdout'),
                      help='pieces to render and judge: all (the development set: tune and '
                      'check), or the holdout pieces (instruments never tuned on)')
  parser.add_argument('--pieces', default='', help='comma-separated recording names to keep '
                      '(default: every piece of --split; "bundled" is the bundled recording)')
  args = parser.parse_args(argv)
  pieces = tuple(p for p in args.pieces.split(',') if p)
  names = {c.name for c in cases()} | {'bundled'}
  unknown = [p for p in pieces if p not in names]
  if unknown:
    cli.error(f'unknown piece {unknown[0]!r}: use some of {",".join(sorted(names))}',
              prog='audiolstm.tools.devset')
    return 2
  bad = [a for a in args.approaches.split(',') if a not in APPROACHES]
  if bad:
    cli.error(f'unknown approach {bad[0]!r}: use some of {",".join(APPROACHES)}',
              prog='audiolstm.tools.devset')
    return 2
  try:
    tools = find_tools()
  except ValueError as e:
    cli.error(str(e), prog='audiolstm.tools.devset')
    return 2
  for case in (c for c in cases() if in_split(c.split, args.split)
               and (not pieces or c.name in pieces)):
    path = render(case, args.out, tools)
    seconds = len(audio_io.load_audio(path, SAMPLE_RATE)) / SAMPLE_RATE
    print(f'{path}  {seconds:5.1f} s  {case.split}')
  if args.judge:
    judge(args.judge, args.out, tuple(args.approaches.split(',')), args.split,
          pieces=pieces or None)
    print(f'wrote {os.path.join(args.judge, "table.md")}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
