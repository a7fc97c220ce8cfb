"""Tests for music_vae_lite.families.trio on hand-built multi-instrument NoteSequences and on the original's
golden converter tensors (../shared/magenta_fixtures/hierdec-trio_16bar)."""
import pathlib
import subprocess
import sys

import ml_collections
import note_seq
import numpy as np
import pretty_midi
import pytest

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.families import trio

STEP = 0.125  # seconds per sixteenth note at 120 qpm
BAR = 16
FIXTURE = (pathlib.Path(__file__).resolve().parents[2].parent / 'shared' / 'magenta_fixtures'
           / 'hierdec-trio_16bar')
KICK, SNARE, CLOSED_HAT = 36, 38, 42


def make_sequence(notes, time_signature=(4, 4), tempos=((0.0, 120.0),), total_steps=None):
  """notes: (start_step, end_step, pitch, instrument, program, is_drum) at 120 qpm."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  for start, end, pitch, instrument, program, is_drum in notes:
    sequence.notes.add(start_time=start * STEP, end_time=end * STEP, pitch=pitch, velocity=100,
                       instrument=instrument, program=program, is_drum=is_drum)
  sequence.time_signatures.add(time=0.0, numerator=time_signature[0],
                               denominator=time_signature[1])
  for time, qpm in tempos:
    sequence.tempos.add(time=time, qpm=qpm)
  last = max((n.end_time for n in sequence.notes), default=0.0)
  sequence.total_time = last if total_steps is None else max(last, total_steps * STEP)
  return sequence


def melody_notes(bars, instrument=0, program=0, base_pitch=60):
  """Four quarter notes per bar, the pitch changing with the bar (so windows differ)."""
  return [(b * BAR + q * 4, b * BAR + q * 4 + 3, base_pitch + (b * 5 + q) % 12, instrument,
           program, False) for b in bars for q in range(4)]


def bass_notes(bars, instrument=1, program=33):
  """One half note and two quarter notes per bar."""
  return [note for b in bars for note in (
      (b * BAR, b * BAR + 8, 36 + b % 7, instrument, program, False),
      (b * BAR + 8, b * BAR + 12, 43, instrument, program, False),
      (b * BAR + 12, b * BAR + 16, 41, instrument, program, False))]


def drum_notes(bars, instrument=9):
  """Kick on 1 and 3, snare on 2 and 4, closed hi-hat on every eighth."""
  notes = []
  for b in bars:
    for s in range(0, BAR, 2):
      notes.append((b * BAR + s, b * BAR + s + 1, CLOSED_HAT, instrument, 0, True))
    for s, pitch in ((0, KICK), (4, SNARE), (8, KICK), (12, SNARE)):
      notes.append((b * BAR + s, b * BAR + s + 1, pitch, instrument, 0, True))
  return notes


def full_trio(num_bars=16, **kwargs):
  bars = range(num_bars)
  return make_sequence(melody_notes(bars) + bass_notes(bars) + drum_notes(bars), **kwargs)


def converter(slice_bars=16, max_windows=None, gap_bars=2, **kwargs):
  return trio.TrioConverter(slice_bars=slice_bars, max_windows_per_sequence=max_windows,
                            gap_bars=gap_bars, **kwargs)


def test_parts_and_depths_are_the_originals():
  trio_converter = converter()
  assert [p.name for p in trio_converter.parts] == ['melody', 'bass', 'drums']
  assert trio_converter.output_depths == (90, 90, 512)
  assert trio_converter.input_depth == trio_converter.output_depth == 692  # drums one-hot in
  assert [(p.instrument, p.program, p.is_drum) for p in trio_converter.parts] == [
      (0, 0, False), (1, 33, False), (9, 0, True)]
  assert [p.transposable for p in trio_converter.parts] == [True, True, False]
  assert trio_converter.control_depth == 0


def test_exact_labels_of_a_two_bar_trio():
  notes = [(0, 4, 60, 0, 0, False), (4, 6, 64, 0, 0, False), (20, 32, 72, 0, 0, False),
           (0, 16, 40, 1, 33, False), (16, 20, 43, 1, 33, False),
           (0, 1, KICK, 9, 0, True), (0, 1, CLOSED_HAT, 9, 0, True), (4, 5, SNARE, 9, 0, True),
           (16, 17, 35, 9, 0, True), (30, 31, 51, 9, 0, True)]  # 35: kick; 51: ride
  result = converter(slice_bars=2).to_tensors(make_sequence(notes))
  assert result.labels.shape == (1, 32, 3) and result.labels.dtype == np.int32
  melody, bass, drums = result.labels[0].T
  expected_melody = np.zeros(32, int)
  expected_melody[[0, 4, 6, 20]] = [41, 45, 1, 53]  # the last note holds to the end
  expected_bass = np.zeros(32, int)
  expected_bass[[0, 16, 20]] = [21, 24, 1]
  expected_drums = np.zeros(32, int)
  expected_drums[[0, 4, 16, 30]] = [1 + 4, 2, 1, 256]
  np.testing.assert_array_equal(melody, expected_melody)
  np.testing.assert_array_equal(bass, expected_bass)
  np.testing.assert_array_equal(drums, expected_drums)
  assert not result.rejected
  assert result.explain() == '1 2-bar trio window(s).'


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f'Magenta fixtures not found at {FIXTURE}')
def test_windows_equal_the_originals_golden_tensors():
  golden = np.load(FIXTURE / 'golden.npz')
  trio_converter = contract.get_converter(config_lib.load_config('hierdec-trio_16bar'))
  for n, name in enumerate(golden['input_names']):
    sequence = note_seq.midi_file_to_note_sequence(str(FIXTURE / 'inputs' / name))
    result = trio_converter.to_tensors(sequence)
    outputs = golden['outputs'][n]
    assert golden['lengths'][n] == len(outputs) == 256
    splits = np.split(outputs, [90, 180], axis=-1)
    assert all((part.sum(-1) == 1).all() for part in splits)  # no padding rows in these
    expected = np.stack([part.argmax(-1) for part in splits], axis=-1)
    assert len(result.labels) == 1, (name, result.explain())
    np.testing.assert_array_equal(result.labels[0], expected, err_msg=str(name))
    np.testing.assert_array_equal(trio_converter.inputs_from_labels(result.labels[0]),
                                  golden['inputs'][n])


@pytest.mark.parametrize('missing, phrase', [
    ('melody', 'no melody (non-drum programs 0-31)'),
    ('bass', 'no bass (non-drum programs 32-39)'),
    ('drums', 'no drums (is_drum notes)'),
])
def test_a_missing_part_is_rejected_with_the_reason(missing, phrase):
  bars = range(16)
  notes = {'melody': melody_notes(bars), 'bass': bass_notes(bars), 'drums': drum_notes(bars)}
  del notes[missing]
  result = converter().to_tensors(make_sequence(sum(notes.values(), [])))
  assert result.labels.shape == (0, 256, 3)
  assert result.rejected == {'missing_part': 1}
  assert result.details == (phrase,)
  assert result.explain() == f'No 16-bar trio window: {phrase}.'


def test_an_empty_sequence_has_no_notes():
  result = converter().to_tensors(note_seq.NoteSequence())
  assert result.labels.shape == (0, 256, 3)
  assert result.rejected == {'no_notes': 1}


def test_a_part_with_nothing_encodable_is_missing():
  bars = range(16)
  low_bass = [(s, e, 10, i, p, d) for s, e, _, i, p, d in bass_notes(bars)]  # below 21
  result = converter().to_tensors(make_sequence(melody_notes(bars) + low_bass + drum_notes(bars)))
  assert not len(result.labels)
  assert result.rejected == {'missing_part': 1, 'pitch_out_of_range': len(low_bass)}
  assert 'no bass (no bass note between 21 and 108)' in result.details


@pytest.mark.parametrize('gap_bars, silent_bars, kept', [
    (2, 4, True), (2, 5, False),  # internal silences of up to 2 * gap_bars are bridged
    (1, 2, True), (1, 3, False),
])
def test_internal_gaps_are_bridged_up_to_twice_gap_bars(gap_bars, silent_bars, kept):
  melody_bars = [b for b in range(16) if not 6 <= b < 6 + silent_bars]
  sequence = make_sequence(melody_notes(melody_bars) + bass_notes(range(16))
                           + drum_notes(range(16)))
  result = converter(gap_bars=gap_bars).to_tensors(sequence)
  if kept:
    assert len(result.labels) == 1
    melody = result.labels[0, :, 0]
    gap = melody[6 * BAR:(6 + silent_bars) * BAR]
    assert not gap.any()  # the silence stays silence
  else:
    assert not len(result.labels)
    assert result.rejected == {'no_overlap': 1}
    assert result.details[0].startswith('no 16 bars where melody, bass and drums all play')


@pytest.mark.parametrize('melody_bars, kept', [
    (range(3, 16), True),  # bars 1-2 widened from bar 3; bars 0-1 lenient (the others play)
    (range(5, 16), False),  # bar 2 is more than gap_bars from a melody note and not an end bar
    (range(0, 13), True),  # widened to bar 14; bars 14-15 lenient
    (range(0, 11), False),  # bar 13 uncovered
])
def test_coverage_at_the_ends_of_the_piece(melody_bars, kept):
  sequence = make_sequence(melody_notes(melody_bars) + bass_notes(range(16))
                           + drum_notes(range(16)))
  assert len(converter().to_tensors(sequence).labels) == int(kept)


def test_gap_bars_zero_needs_every_bar_covered():
  sequence = make_sequence(melody_notes(range(15)) + bass_notes(range(16)) + drum_notes(range(16)))
  assert not len(converter(gap_bars=0).to_tensors(sequence).labels)
  assert len(converter(gap_bars=0).to_tensors(full_trio()).labels) == 1
  with pytest.raises(ValueError, match='gap_bars'):
    converter(gap_bars=-1)


def test_windows_hop_one_bar_and_the_cap_keeps_a_seeded_subset():
  sequence = full_trio(20)
  every = converter().to_tensors(sequence)
  assert every.labels.shape == (5, 256, 3)
  np.testing.assert_array_equal(every.labels[1, :15 * BAR, 1:], every.labels[0, BAR:, 1:])
  capped = converter(max_windows=3).to_tensors(sequence)
  assert capped.labels.shape == (3, 256, 3)
  assert capped.rejected == {'over_limit': 2}
  np.testing.assert_array_equal(capped.labels, converter(max_windows=3).to_tensors(sequence).labels)
  kept = [i for i in range(5) if any((w == every.labels[i]).all() for w in capped.labels)]
  np.testing.assert_array_equal(capped.labels, every.labels[kept])  # in order of appearance


def test_an_instrument_of_mixed_types_is_ignored():
  bars = range(16)
  mixed_bass = bass_notes(bars) + [(0, 4, 72, 1, 0, False)]  # a melody program on instrument 1
  result = converter().to_tensors(make_sequence(melody_notes(bars) + mixed_bass
                                                + drum_notes(bars)))
  assert not len(result.labels)
  assert result.rejected == {'mixed_types': 1, 'missing_part': 1}
  assert 'no bass (non-drum programs 32-39)' in result.details
  # With a clean bass on another instrument, that one is used and the mixed one still ignored.
  clean = converter().to_tensors(make_sequence(melody_notes(bars) + mixed_bass + drum_notes(bars)
                                               + bass_notes(bars, instrument=5)))
  assert clean.rejected == {'mixed_types': 1}
  np.testing.assert_array_equal(clean.labels, converter().to_tensors(full_trio()).labels)


def test_other_programs_are_ignored():
  strings = melody_notes(range(16), instrument=3, program=48, base_pitch=50)
  result = converter().to_tensors(make_sequence(
      melody_notes(range(16)) + bass_notes(range(16)) + drum_notes(range(16)) + strings))
  assert result.rejected == {'other_program': 1}
  np.testing.assert_array_equal(result.labels, converter().to_tensors(full_trio()).labels)


def test_cross_product_of_instruments_and_dedup():
  bars = range(16)
  base = melody_notes(bars) + bass_notes(bars) + drum_notes(bars)
  second = melody_notes(bars, instrument=4, base_pitch=67)
  result = converter().to_tensors(make_sequence(base + second))
  assert result.labels.shape == (2, 256, 3)
  assert result.num_tracks == 2  # (melody, bass, drums) combinations
  reference = converter().to_tensors(full_trio()).labels[0]
  np.testing.assert_array_equal(result.labels[0], reference)  # instrument 0 first
  np.testing.assert_array_equal(result.labels[1, :, 1:], reference[:, 1:])
  assert result.labels[1, 0, 0] == 67 - 19
  doubled = converter().to_tensors(make_sequence(base + melody_notes(bars, instrument=4)))
  assert doubled.labels.shape == (1, 256, 3)
  assert doubled.rejected == {'duplicate': 1}


def test_a_window_starting_in_a_held_note_begins_with_its_note_on():
  bars = range(17)
  melody = [n for n in melody_notes(bars) if not 12 <= n[0] < 24] + [(12, 20, 65, 0, 0, False)]
  result = converter().to_tensors(make_sequence(melody + bass_notes(bars) + drum_notes(bars)))
  assert len(result.labels) == 2
  assert result.labels[0, 12, 0] == 65 - 19 and result.labels[0, 16, 0] == 0  # held over bar 1
  assert result.labels[1, 0, 0] == 65 - 19  # the second window starts inside that note
  assert result.labels[1, 4, 0] == 1  # ... which ends at step 20


def test_time_changes_split_the_piece_and_bad_signatures_are_rejected():
  sequence = full_trio(32, tempos=((0.0, 120.0), (16 * BAR * STEP, 120.0 + 1e-3)))
  # Two 16-bar pieces: one window each, none across the tempo change (17 without it).
  assert len(converter().to_tensors(sequence).labels) == 2
  assert len(converter().to_tensors(full_trio(32)).labels) == 17
  waltz = converter().to_tensors(full_trio(time_signature=(3, 4)))
  assert waltz.rejected == {'time_signature': 1}
  assert waltz.details[0].startswith('3/4 time')


def round_trip(trio_converter, window):
  decoded = trio_converter.from_tensors(window)
  assert len(decoded) == 1
  return decoded[0], trio_converter.to_tensors(decoded[0])


def test_from_tensors_round_trip_and_midi_instruments(tmp_path):
  trio_converter = converter()
  windows = trio_converter.to_tensors(full_trio(20)).labels
  for window in windows:
    sequence, result = round_trip(trio_converter, window)
    np.testing.assert_array_equal(result.labels, [window])
    parts = {(n.instrument, n.program, n.is_drum) for n in sequence.notes}
    assert parts == {(0, 0, False), (1, 33, False), (9, 0, True)}
  path = tmp_path / 'trio.mid'
  contract.write_midi(trio_converter.from_tensors(windows[0])[0], str(path))
  midi = pretty_midi.PrettyMIDI(str(path))  # drums come back from MIDI channel 10
  assert sorted((i.program, i.is_drum) for i in midi.instruments) == [
      (0, False), (0, True), (33, False)]
  reread = trio_converter.to_tensors(note_seq.midi_file_to_note_sequence(str(path)))
  np.testing.assert_array_equal(reread.labels, windows[:1])


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f'Magenta fixtures not found at {FIXTURE}')
def test_fixture_windows_round_trip():
  trio_converter = converter()
  for path in sorted((FIXTURE / 'inputs').glob('*.mid')):
    window = trio_converter.to_tensors(note_seq.midi_file_to_note_sequence(str(path))).labels[0]
    _, result = round_trip(trio_converter, window)
    np.testing.assert_array_equal(result.labels, [window], err_msg=path.name)


def test_config_and_registry():
  config = ml_collections.ConfigDict({'data': {'encoding': 'trio', 'slice_bars': 16,
                                               'max_windows_per_sequence': 5}})
  assert contract.get_converter(config).gap_bars == 2  # the original's default when absent
  config.family = ml_collections.ConfigDict({'gap_bars': 1})
  assert contract.get_converter(config).gap_bars == 1
  config.family = ml_collections.ConfigDict({'gap_bars': 0.5})  # a new dict: ConfigDict keeps types
  with pytest.raises(ValueError, match='gap_bars must be a whole number'):
    contract.get_converter(config)
  config.family = ml_collections.ConfigDict({'gap_bar': 1})
  with pytest.raises(ValueError, match=r'family.gap_bar: the trio family has no such option '
                     r'\(its options: gap_bars\)'):
    contract.get_converter(config)
  for name, decoder, encoder, split_parts in [
      ('flat-trio_16bar', 'flat', 'bidirectional', False),
      ('hierdec-trio_16bar', 'hierarchical', 'bidirectional', True),
      ('hier-trio_16bar', 'hierarchical', 'hierarchical', True),
      ('tiny-trio_16bar', 'hierarchical', 'bidirectional', True),
      ('cpu-hierdec-trio_16bar', 'hierarchical', 'bidirectional', True)]:
    config = config_lib.validate(config_lib.load_config(name), name)
    assert (config.model.decoder, config.model.encoder,
            config.decoder.get('split_parts', False)) == (decoder, encoder, split_parts), name
    trio_converter = contract.get_converter(config)
    assert isinstance(trio_converter, trio.TrioConverter), name
    assert (trio_converter.slice_bars, trio_converter.gap_bars) == (16, 2), name


def test_module_does_not_import_tensorflow():
  code = ('import sys, music_vae_lite.families.trio; '
          'sys.exit(any(m == "tensorflow" or m.startswith("tensorflow.") for m in sys.modules))')
  assert subprocess.run([sys.executable, '-c', code], check=False).returncode == 0
