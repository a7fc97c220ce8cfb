"""Tests for the bundled corpus (data/midi/) and the bar logic of data/build_corpus.py.

The files are checked as the training pipeline relies on them: one 4/4 or 2/2 time signature and
one tempo at time 0, notes on the sixteenth grid, one note at a time, every file listed in
index.tsv with its note count, and 2/4 tunes rebarred into 4/4 only in the `_2-4` folders. Reading
a MIDI file costs milliseconds, so the per-file checks read every eighth file (in sorted order,
so every folder is sampled); the index checks cover all of them.
"""
import csv
import importlib.util
import pathlib

import mido
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_MIDI = REPO / 'data' / 'midi'
TICKS_PER_STEP = 55  # note_seq writes 220 ticks per quarter; 16 steps per 4/4 bar
SAMPLE_EVERY = 8

pytestmark = pytest.mark.skipif(not (DATA_MIDI / 'index.tsv').is_file(),
                                reason='the bundled corpus is not in this checkout')


@pytest.fixture(scope='module')
def build_corpus():
  """data/build_corpus.py as a module (it needs music21 only to parse ABC, not for these tests)."""
  spec = importlib.util.spec_from_file_location('build_corpus', REPO / 'data' / 'build_corpus.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope='module')
def index_rows():
  with open(DATA_MIDI / 'index.tsv', encoding='utf-8', newline='') as f:
    return list(csv.DictReader(f, delimiter='\t', quoting=csv.QUOTE_NONE))


def test_index_lists_every_file_once(index_rows, build_corpus):
  listed = [row['path'] for row in index_rows]
  on_disk = sorted(p.relative_to(DATA_MIDI).as_posix() for p in DATA_MIDI.rglob('*.mid'))
  assert len(listed) == len(set(listed))
  assert sorted(listed) == on_disk
  folders = set(build_corpus.folder_order())
  for row in index_rows:
    folder = row['path'].split('/')[0]
    assert folder in folders, row['path']
    flags = row['flags'].split(',')
    rebarred = 'rebarred' in flags or 'stretched' in flags
    assert rebarred == folder.endswith(build_corpus.PAIRED_SUFFIX), row['path']
    assert row['meter'] in (('4/4',) if rebarred else ('4/4', '2/2')), row['path']


def read_notes(path):
  """(time signatures, tempos, notes as (start tick, end tick, pitch)) of a one-melody file."""
  midi = mido.MidiFile(str(path))
  signatures, tempos, events = [], [], []
  for track in midi.tracks:
    tick = 0
    for message in track:
      tick += message.time
      if message.type == 'time_signature':
        signatures.append((tick, message.numerator, message.denominator))
      elif message.type == 'set_tempo':
        tempos.append((tick, message.tempo))
      elif message.type in ('note_on', 'note_off'):
        # At one tick, a note's end comes before the next note's start (sorted: False < True).
        events.append((tick, message.type == 'note_on' and message.velocity > 0, message.note))
  assert midi.ticks_per_beat == 4 * TICKS_PER_STEP
  notes, sounding = [], {}
  for tick, is_on, pitch in sorted(events):
    if is_on:
      assert not sounding, f'{path}: a note starts at tick {tick} while another sounds'
      sounding[pitch] = tick
    else:
      notes.append((sounding.pop(pitch), tick, pitch))
  assert not sounding, f'{path}: a note never ends'
  return signatures, tempos, notes


def test_sampled_files_are_one_melody_on_the_grid(index_rows):
  rows = sorted(index_rows, key=lambda row: row['path'])[::SAMPLE_EVERY]
  assert {row['path'].split('/')[0] for row in rows} == {
      row['path'].split('/')[0] for row in index_rows}
  for row in rows:
    path = DATA_MIDI / row['path']
    signatures, tempos, notes = read_notes(path)
    numerator, denominator = map(int, row['meter'].split('/'))
    assert signatures == [(0, numerator, denominator)], path
    assert tempos == [(0, 500000)], path  # 120 qpm
    assert len(notes) == int(row['notes']), path
    assert all(start % TICKS_PER_STEP == 0 and end % TICKS_PER_STEP == 0 and end > start
               for start, end, _ in notes), path
    last_bar = (notes[-1][1] - 1) // (16 * TICKS_PER_STEP)
    assert last_bar + 1 == int(row['bars']), path


# Measures as build_corpus reads them from music21: (offset, quarters, bar number, section barline,
# left barline is one, right barline is one).
def measure(offset, quarters, number, left=False, right=False):
  return (offset, quarters, number, left or right, left, right)


def test_2_4_bars_pair_from_the_first_full_bar(build_corpus):
  # An eighth-note pickup, then 8 bars of 2/4.
  measures = [measure(0.0, 0.5, 0)] + [measure(0.5 + 2 * i, 2.0, i + 1) for i in range(8)]
  starts, pickup, padded, half_bars = build_corpus.align_measures(measures, bar=2.0)
  # The first full bar starts the first 4/4 bar, so 2/4 bars 1-2 make 4/4 bar 1, 3-4 bar 2, ...
  assert starts == [3.5] + [4.0 + 2 * i for i in range(8)]
  assert (pickup, padded, half_bars) == (True, 0, 0)


def test_a_section_of_odd_bars_ends_with_a_half_bar_rest(build_corpus):
  # Section A: 7 bars of 2/4 ending on a double bar line; section B: 4 bars.
  measures = ([measure(2.0 * i, 2.0, i + 1, right=i == 6) for i in range(7)]
              + [measure(14.0 + 2 * i, 2.0, i + 8) for i in range(4)])
  starts, _, padded, half_bars = build_corpus.align_measures(measures, bar=2.0)
  assert starts[:7] == [2.0 * i for i in range(7)]
  assert starts[7:] == [16.0, 18.0, 20.0, 22.0]  # B starts on a 4/4 bar line, after a 2/4 rest
  assert (padded, half_bars) == (0, 1)
  # A closing bar and the next pickup that make one 2/4 bar together: the pickup moves on to lead
  # into the 4/4 bar line, and the rest falls between the sections.
  measures = ([measure(2.0 * i, 2.0, i + 1) for i in range(6)]
              + [measure(12.0, 1.5, 7, right=True), measure(13.5, 0.5, 8)]
              + [measure(14.0 + 2 * i, 2.0, i + 9) for i in range(2)])
  starts, _, padded, half_bars = build_corpus.align_measures(measures, bar=2.0)
  assert starts[6:] == [12.0, 15.5, 16.0, 18.0]
  assert (padded, half_bars) == (0, 1)


def test_a_second_ending_is_not_a_new_section(build_corpus):
  # Expanded repeat of 4 bars with first and second endings: 1 2 3 [4a] 1 2 3 [4b].
  numbers = [1, 2, 3, 4, 1, 2, 3, 5]
  measures = [measure(2.0 * i, 2.0, n, right=i == 3) for i, n in enumerate(numbers)]
  starts, _, padded, half_bars = build_corpus.align_measures(measures, bar=2.0)
  assert starts == [2.0 * i for i in range(8)]
  assert (padded, half_bars) == (0, 0)


def test_a_short_bar_inside_a_section_is_skipped(build_corpus):
  measures = [measure(0.0, 2.0, 1), measure(2.0, 1.5, 2), measure(3.5, 2.0, 3)]
  with pytest.raises(build_corpus.SkipTune, match='irregular_bars'):
    build_corpus.align_measures(measures, bar=2.0)


def test_the_same_tune_transposed_and_rebarred_is_a_duplicate(build_corpus):
  pitches = [62, 64, 66, 67, 69, 71, 73, 74, 73, 71, 69, 67, 66, 64, 62, 69, 74, 72, 71, 67, 64,
             60, 62, 65]
  tune = [(2 * i, 2 * i + 2, p) for i, p in enumerate(pitches)]
  # Up a fourth, at half speed (a 2/4 reel in sixteenths, paired), with a rest inserted.
  variant = [(i + (4 if i >= 10 else 0), i + 1 + (4 if i >= 10 else 0), p + 5)
             for i, p in enumerate(pitches)]
  other = [(2 * i, 2 * i + 2, 60 + (i * 7) % 12) for i in range(24)]
  index = build_corpus.TuneIndex()
  index.add(build_corpus.melody_grams(other))
  index.add(build_corpus.melody_grams(tune))
  assert index.closest(build_corpus.melody_grams(variant)) == (1, 1.0)
  # The same opening phrase, then another melody: not the same tune.
  medley = tune[:14] + [(2 * i, 2 * i + 2, 50 + (i * 5) % 12) for i in range(14, 28)]
  _, share = index.closest(build_corpus.melody_grams(medley))
  assert 0 < share < build_corpus.DUPLICATE_SHARE


def two_four_tune(build_corpus, lengths):
  """A RawTune in 2/4: 8 bars, each filled with notes of the given lengths (quarters)."""
  measures = [measure(2.0 * i, 2.0, i + 1) for i in range(8)]
  notes = []
  for bar in range(8):
    offset = 0.0
    for length in lengths:
      notes.append((bar, offset, length, 60 + len(notes) % 12, None))
      offset += length
  return build_corpus.RawTune(book='airds', source='test.abc', number=1, title='test', meter='2/4',
                              key='C major', expanded=True, expansion=1.0, measures=measures,
                              notes=notes)


def test_2_4_in_eighths_is_paired_and_in_sixteenths_stretched(build_corpus):
  eighths = build_corpus.quantize_tune(two_four_tune(build_corpus, [0.5] * 4))
  assert 'rebarred' in eighths.flags and (eighths.numerator, eighths.denominator) == (4, 4)
  assert [start for start, _, _ in eighths.notes] == [2 * i for i in range(32)]  # 4 bars of 4/4
  # A reel in sixteenths is a reel in eighths written at double speed: one 2/4 bar, one 4/4 bar.
  sixteenths = build_corpus.quantize_tune(two_four_tune(build_corpus, [0.25] * 8))
  assert 'stretched' in sixteenths.flags
  assert [start for start, _, _ in sixteenths.notes] == [2 * i for i in range(64)]  # 8 bars


def test_repeat_ends_without_a_start_are_counted(build_corpus):
  count = build_corpus.unmatched_repeat_ends
  assert count('X:1\nK:G\n|:ab:|cd:|\n') == 1  # the second end goes back to the first
  assert count('X:1\nK:G\nab:|:cd:|\n') == 1
  assert count('X:1\nK:G\nab::cd:|ef|]\n') == 1
  assert count('X:1\nI: :: ::\nK:G\nab:|cd:|ef:|\n') == 3  # header lines are not the tune
