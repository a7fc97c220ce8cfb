"""Tests for music_vae_lite.families.converters on hand-built NoteSequences with hand-written windows (and
pianoroll's drawing of a converter's windows)."""
import note_seq
import numpy as np
import PIL.Image
import pytest

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.families import label_windows
from music_vae_lite.families import drums as drums_family
from music_vae_lite.families import melody as melody_family
from music_vae_lite.families import registry
from music_vae_lite import pianoroll

STEP = 0.125  # seconds per sixteenth note at 120 qpm


def make_sequence(notes, time_signature=None, tempos=()):
  """notes: (start_step, end_step, pitch[, instrument[, is_drum]]) at 120 qpm; tempos in seconds."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  for note in notes:
    start, end, pitch = note[:3]
    instrument = note[3] if len(note) > 3 else 0
    is_drum = note[4] if len(note) > 4 else False
    sequence.notes.add(start_time=start * STEP, end_time=end * STEP, pitch=pitch, velocity=100,
                       instrument=instrument, is_drum=is_drum)
  if time_signature:
    sequence.time_signatures.add(time=0.0, numerator=time_signature[0],
                                 denominator=time_signature[1])
  for time, qpm in tempos:
    sequence.tempos.add(time=time, qpm=qpm)
  sequence.total_time = max((n.end_time for n in sequence.notes), default=0.0)
  return sequence


def melody(slice_bars=1, max_windows=None, **kwargs):
  return melody_family.MelodyConverter(slice_bars=slice_bars, max_windows_per_sequence=max_windows,
                                    **kwargs)


def drums(slice_bars=1, max_windows=None, **kwargs):
  return drums_family.DrumsConverter(slice_bars=slice_bars, max_windows_per_sequence=max_windows,
                                   **kwargs)


class TwoPartConverter(label_windows.LabelConverter):
  """A melody over drums with 3 control classes: the contract's derived pieces for P = 2."""
  encoding = 'two_part'
  parts = (melody_family.MELODY_PART, drums_family.DRUMS_PART)
  control_depth = 3

  def __init__(self, slice_bars=1, max_windows_per_sequence=None, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)

  def _annotate(self, sequence, controls):
    sequence.text_annotations.add(time=0.0, text=' '.join(str(c) for c in controls))


def assert_windows(labels, expected):
  """Label windows [N, T, 1] of a one-part converter equal the [N, T] windows `expected`."""
  labels = np.asarray(labels)
  assert labels.ndim == 3 and labels.shape[-1] == 1, labels.shape
  np.testing.assert_array_equal(labels[..., 0], expected)


def test_monophonic_melody_exact_labels():
  # C4 E4 G4 quarter notes, a quarter rest, then C5 held for a whole bar.
  sequence = make_sequence([(0, 4, 60), (4, 8, 64), (8, 12, 67), (16, 32, 72)])
  result = melody(slice_bars=2).to_tensors(sequence)
  expected = [41, 0, 0, 0, 45, 0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0,
              53, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  assert_windows(result.labels, [expected])
  assert result.labels.dtype == np.int32
  assert result.num_tracks == 1
  assert not result.rejected


def test_polyphony_keeps_highest_sounding_note():
  # C4 held 0-8; E4 0-4 on top of it; G4 2-6 on top of both; A3 3-5 hidden under the others.
  sequence = make_sequence([(0, 8, 60), (0, 4, 64), (2, 6, 67), (3, 5, 57)])
  result = melody().to_tensors(sequence)
  # E4 (highest at onset), G4 at 2, C4 struck again at 6 when G4 ends, note-off at 8.
  expected = [45, 0, 48, 0, 0, 0, 41, 0, 1, 0, 0, 0, 0, 0, 0, 0]
  assert_windows(result.labels, [expected])


def test_same_pitch_restruck_is_a_new_note_on():
  sequence = make_sequence([(0, 8, 60), (4, 6, 60)])
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[41, 0, 0, 0, 41, 0, 41, 0, 1] + [0] * 7])


def test_leading_rests_are_kept():
  sequence = make_sequence([(5, 7, 62), (20, 22, 64)])
  result = melody(slice_bars=2).to_tensors(sequence)
  expected = [0, 0, 0, 0, 0, 43, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
              0, 0, 0, 0, 45, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
  assert_windows(result.labels, [expected])


def test_held_note_across_bar_line_is_a_hold():
  sequence = make_sequence([(12, 20, 60), (24, 26, 62)])
  result = melody(slice_bars=2).to_tensors(sequence)
  expected = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0,
              0, 0, 0, 0, 1, 0, 0, 0, 43, 0, 1, 0, 0, 0, 0, 0]
  assert_windows(result.labels, [expected])
  # One-bar windows: the second starts inside the held note, which is struck again there.
  result = melody(slice_bars=1).to_tensors(sequence)
  assert_windows(result.labels, [
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0, 0, 0],
      [41, 0, 0, 0, 1, 0, 0, 0, 43, 0, 1, 0, 0, 0, 0, 0]])


def test_window_starting_with_note_off_is_canonicalised_to_zero():
  # The first note ends exactly on the bar line; bar 2's window must not start with a note-off.
  sequence = make_sequence([(0, 16, 60), (20, 24, 62)])
  result = melody().to_tensors(sequence)
  expected = [[41] + [0] * 15,
              [0, 0, 0, 0, 43, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]]
  assert_windows(result.labels, expected)


def test_out_of_range_pitches_dropped_and_counted():
  sequence = make_sequence([(0, 4, 20), (4, 8, 60), (8, 12, 109), (12, 16, 108)])
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[0, 0, 0, 0, 41, 0, 0, 0, 1, 0, 0, 0, 89, 0, 0, 0]])
  assert result.rejected == {'pitch_out_of_range': 2}
  # A narrower range filters more, but the vocabulary does not move.
  result = melody(min_pitch=60, max_pitch=72).to_tensors(sequence)
  assert_windows(result.labels, [[0, 0, 0, 0, 41, 0, 0, 0, 1] + [0] * 7])
  assert result.rejected == {'pitch_out_of_range': 3}


def test_only_out_of_range_notes_explained():
  result = melody().to_tensors(make_sequence([(0, 4, 15), (4, 8, 120)]))
  assert result.labels.shape == (0, 16, 1)
  assert result.rejected == {'pitch_out_of_range': 2, 'no_notes': 1}
  assert 'no notes between 21 and 108' in result.explain()


def test_drum_notes_are_not_melody():
  sequence = make_sequence([(0, 1, 36, 9, True), (4, 8, 60)])
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[0, 0, 0, 0, 41, 0, 0, 0, 1] + [0] * 7])


def test_instruments_are_read_separately():
  sequence = make_sequence([(0, 4, 60, 0), (0, 4, 72, 1)])
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[41, 0, 0, 0, 1] + [0] * 11,
                                                [53, 0, 0, 0, 1] + [0] * 11])
  assert result.num_tracks == 2


def test_three_four_rejected_two_two_accepted():
  notes = [(0, 4, 60), (4, 8, 62), (8, 12, 64), (12, 16, 65)]
  result = melody().to_tensors(make_sequence(notes, time_signature=(3, 4)))
  assert result.labels.shape == (0, 16, 1)
  assert result.rejected == {'time_signature': 1}
  assert '3/4 time' in result.explain()
  result = melody().to_tensors(make_sequence(notes, time_signature=(6, 8)))
  assert result.rejected == {'time_signature': 1}
  assert '6/8 time' in result.explain()
  result = melody().to_tensors(make_sequence(notes, time_signature=(2, 2)))
  assert_windows(result.labels, [[41, 0, 0, 0, 43, 0, 0, 0, 45, 0, 0, 0, 46, 0, 0, 0]])


def test_bad_time_signature_counted():
  result = melody().to_tensors(make_sequence([(0, 4, 60)], time_signature=(4, 3)))
  assert result.labels.shape == (0, 16, 1)
  assert result.rejected == {'bad_time_signature': 1}
  assert 'invalid time signature' in result.explain()


def test_notes_before_time_zero_dropped_and_counted():
  sequence = make_sequence([(0, 4, 60)])
  sequence.notes.add(start_time=-0.5, end_time=0.25, pitch=64, velocity=100)
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[41, 0, 0, 0, 1] + [0] * 11])
  assert result.rejected == {'negative_time': 1}


def test_tempo_change_splits_the_sequence():
  # Two bars at 120 qpm (0-4 s), then two bars at 60 qpm (a step is 0.25 s there).
  sequence = make_sequence([(step, step + 4, 60 if step % 8 == 0 else 62)
                            for step in range(0, 32, 4)], tempos=[(0.0, 120.0), (4.0, 60.0)])
  for step in range(0, 32, 4):
    sequence.notes.add(start_time=4.0 + step * 0.25, end_time=4.0 + (step + 4) * 0.25,
                       pitch=64 if step % 8 == 0 else 65, velocity=100)
  sequence.total_time = 12.0
  result = melody(slice_bars=2).to_tensors(sequence)
  # Without the split this would be one 4-bar melody with 3 windows, one spanning the change.
  assert_windows(result.labels, [[41, 0, 0, 0, 43, 0, 0, 0] * 4,
                                                [45, 0, 0, 0, 46, 0, 0, 0] * 4])
  assert result.num_tracks == 2


def test_melody_ends_after_a_bar_of_silence():
  # 16 silent steps (4..19) end the melody; the next one starts at its own bar.
  sequence = make_sequence([(0, 4, 60), (20, 24, 62)])
  result = melody(slice_bars=1).to_tensors(sequence)
  assert_windows(result.labels, [[41, 0, 0, 0, 1] + [0] * 11,
                                                [0, 0, 0, 0, 43, 0, 0, 0, 1] + [0] * 7])
  result = melody(slice_bars=2).to_tensors(sequence)
  assert result.labels.shape == (0, 32, 1)
  assert result.rejected == {'too_short': 2}
  assert result.num_tracks == 2
  assert 'shorter than a window' in result.explain()
  # 15 silent steps do not.
  result = melody(slice_bars=2).to_tensors(make_sequence([(0, 4, 60), (19, 23, 62)]))
  assert_windows(result.labels, [[41, 0, 0, 0, 1] + [0] * 14 + [43, 0, 0, 0, 1]
                                                + [0] * 8])


def test_duplicates_dropped():
  bar = [(start, start + 4, pitch) for start, pitch in [(0, 60), (4, 64), (8, 67), (12, 72)]]
  sequence = make_sequence([(s + 16 * i, e + 16 * i, p) for i in range(8) for s, e, p in bar])
  result = melody().to_tensors(sequence)
  assert_windows(result.labels, [[41, 0, 0, 0, 45, 0, 0, 0, 48, 0, 0, 0, 53, 0, 0, 0]])
  assert result.rejected == {'duplicate': 7}


def test_max_windows_cap_is_a_deterministic_seeded_subset():
  # Eight distinct bars: pitch 60 + bar index held for the whole bar.
  sequence = make_sequence([(16 * i, 16 * i + 16, 60 + i) for i in range(8)])
  everything = melody().to_tensors(sequence).labels
  assert_windows(everything, [[41 + i] + [0] * 15 for i in range(8)])
  result = melody(max_windows=3).to_tensors(sequence)
  assert result.labels.shape == (3, 16, 1)
  assert result.rejected == {'over_limit': 5}
  kept = [int(row[0, 0]) - 41 for row in result.labels]
  assert kept == sorted(kept)  # order of appearance
  np.testing.assert_array_equal(melody(max_windows=3).to_tensors(sequence).labels, result.labels)
  subsets = {tuple(int(row[0, 0])
                   for row in melody(max_windows=3, seed=s).to_tensors(sequence).labels)
             for s in range(10)}
  assert len(subsets) > 1
  assert subsets != {(41, 42, 43)}  # not just the opening
  # The default config cap is 5.
  assert len(melody_family.MelodyConverter(slice_bars=1).to_tensors(sequence).labels) == 5


def test_drums_mapping_and_roll_inputs():
  sequence = make_sequence([
      (0, 1, 36, 9, True), (0, 1, 42, 9, True),  # kick + closed hat = 1 + 4
      (4, 5, 38, 9, True),  # snare = 2
      (8, 9, 35, 9, True),  # the other kick pitch = 1
      (10, 11, 51, 10, True), (10, 11, 49, 10, True),  # ride + crash on another drum instrument
      (12, 13, 25, 9, True),  # not in the map: dropped
      (12, 16, 60),  # a pitched note: ignored by the drum converter
  ])
  converter = drums()
  result = converter.to_tensors(sequence)
  expected = [5, 0, 0, 0, 2, 0, 0, 0, 1, 0, 384, 0, 0, 0, 0, 0]
  assert_windows(result.labels, [expected])
  assert result.rejected == {'pitch_out_of_range': 1}
  inputs = converter.inputs_from_labels(result.labels)
  assert inputs.shape == (1, 16, 10) and inputs.dtype == np.float32
  np.testing.assert_array_equal(inputs[0, 0], [1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(inputs[0, 1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
  np.testing.assert_array_equal(inputs[0, 10], [0, 0, 0, 0, 0, 0, 0, 1, 1, 0])


def test_drum_pitch_table_matches_note_seq():
  expected = note_seq.drums_encoder_decoder.DEFAULT_DRUM_TYPE_PITCHES
  assert [list(pitches) for pitches in drums_family.DRUM_PITCH_CLASSES] == expected


def test_drum_track_ends_after_a_bar_without_hits():
  sequence = make_sequence([(0, 1, 36, 9, True), (17, 18, 38, 9, True), (30, 31, 42, 9, True),
                            (40, 41, 46, 9, True)])
  result = drums(slice_bars=2).to_tensors(sequence)
  # 16 empty steps after the hit at 0 end a (1-bar, too short) track; 12 and 9 do not.
  assert result.rejected == {'too_short': 1}
  assert result.num_tracks == 2
  assert_windows(result.labels, [[0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0]])
  result = drums().to_tensors(make_sequence([(0, 1, 60)]))
  assert result.rejected == {'no_notes': 1}
  assert 'no drum hits' in result.explain()


def test_melody_inputs_are_one_hot():
  inputs = melody().inputs_from_labels(np.array([[0, 1, 89]])[..., None])
  assert inputs.shape == (1, 3, 90) and inputs.dtype == np.float32
  np.testing.assert_array_equal(inputs.argmax(-1), [[0, 1, 89]])
  np.testing.assert_array_equal(inputs.sum(-1), [[1, 1, 1]])


def test_from_tensors_timing_velocity_and_tempo():
  window = [41, 0, 0, 0, 1, 0, 45, 43, 0, 0, 0, 0, 0, 0, 0, 0]
  (sequence,) = melody().from_tensors(np.array(window)[:, None])  # one window [T, P]
  (same,) = melody().from_tensors(np.array([window]))  # windows [N, T] of a one-part family
  assert same == sequence
  assert [t.qpm for t in sequence.tempos] == [120.0]
  assert [(t.numerator, t.denominator) for t in sequence.time_signatures] == [(4, 4)]
  assert sequence.total_time == pytest.approx(2.0)
  notes = [(n.start_time, n.end_time, n.pitch, n.velocity, n.instrument, n.program, n.is_drum)
           for n in sequence.notes]
  assert notes == [(0.0, 0.5, 60, 80, 0, 0, False), (0.75, 0.875, 64, 80, 0, 0, False),
                   (0.875, 2.0, 62, 80, 0, 0, False)]
  sequences = drums().from_tensors(np.array([[0, 5, 0, 0] * 4, [2] + [0] * 15])[..., None])
  assert len(sequences) == 2
  hits = [(n.start_time, n.end_time, n.pitch, n.velocity, n.instrument, n.is_drum)
          for n in sequences[1].notes]
  assert hits == [(0.0, 0.125, 38, 80, 9, True)]
  assert sorted(n.pitch for n in sequences[0].notes if n.start_time == 0.125) == [36, 42]
  assert len(sequences[0].notes) == 8


def test_from_tensors_rejects_bad_labels():
  with pytest.raises(ValueError, match='melody labels must be in \\[0, 90\\)'):
    melody().from_tensors(np.array([[0], [90]]))
  with pytest.raises(ValueError, match='drums labels must be in \\[0, 512\\)'):
    drums().from_tensors(np.array([[0], [512]]))
  with pytest.raises(ValueError, match='integers'):
    drums().from_tensors(np.array([[0.5]]))
  # A window without its part axis ([T] instead of [T, 1]), or with too many axes.
  with pytest.raises(ValueError, match=r'last axis of 1 part\(s\) \(melody\), got shape \(16,\)'):
    melody().from_tensors(np.zeros(16, np.int32))
  with pytest.raises(ValueError, match='shape'):
    melody().from_tensors(np.zeros((1, 2, 16, 1), np.int32))


def test_parts_and_depths_of_the_one_part_families():
  melody_part, drums_part = melody_family.MELODY_PART, drums_family.DRUMS_PART
  assert (melody_part.depth, melody_part.input_depth, melody_part.first_onset) == (90, 90, 2)
  assert melody_part.transposable and not melody_part.is_drum
  assert (drums_part.depth, drums_part.input_depth, drums_part.first_onset) == (512, 10, 1)
  assert drums_part.is_drum and not drums_part.transposable and drums_part.roll_input
  assert drums_part.instrument == drums_family.DRUMS_INSTRUMENT
  converter = melody()
  assert converter.parts == (melody_part,) and converter.control_depth == 0
  assert (converter.input_depth, converter.output_depths, converter.output_depth) == (
      90, (90,), 90)
  converter = drums()
  assert converter.parts == (drums_part,) and converter.control_depth == 0
  assert (converter.input_depth, converter.output_depths, converter.output_depth) == (
      10, (512,), 512)


def test_depths_of_a_multi_part_family_with_controls():
  converter = TwoPartConverter()
  assert converter.input_depth == 90 + 10 + 3  # parts' inputs (drums as a roll), then controls
  assert converter.output_depths == (90, 512) and converter.output_depth == 602
  assert converter.window_steps == 16


def test_check_labels_names_the_part_out_of_range():
  converter = TwoPartConverter()
  labels = np.zeros([2, 16, 2], np.int32)
  labels[1, 3, 1] = 511  # the highest drum class: fine in the drum part
  np.testing.assert_array_equal(converter.check_labels(labels), labels)
  bad = labels.copy()
  bad[0, 5, 0] = 90
  with pytest.raises(ValueError, match=r'melody labels must be in \[0, 90\), got values from 0 '
                     r'to 90'):
    converter.check_labels(bad)
  bad = labels.copy()
  bad[0, 5, 0] = 511  # in range for drums, not for the melody part
  with pytest.raises(ValueError, match=r'melody labels must be in \[0, 90\)'):
    converter.check_labels(bad)
  bad = labels.copy()
  bad[1, 0, 1] = 512
  with pytest.raises(ValueError, match=r'drums labels must be in \[0, 512\)'):
    converter.check_labels(bad)
  bad = labels.copy()
  bad[1, 0, 1] = -1
  with pytest.raises(ValueError, match=r'drums labels must be in \[0, 512\), got values from -1'):
    converter.check_labels(bad)
  with pytest.raises(ValueError, match=r'last axis of 2 part\(s\) \(melody, drums\), got shape '
                     r'\(2, 16, 1\)'):
    converter.check_labels(labels[..., :1])
  with pytest.raises(ValueError, match='integers'):
    converter.check_labels(labels.astype(np.float32))


def test_window_arrays_check_every_array_against_the_spec():
  converter = TwoPartConverter()
  labels = np.zeros([2, 16, 2], np.int32)
  controls = np.full([2, 16], 2, np.int64)
  arrays = converter.window_arrays(labels, controls)
  assert list(arrays) == ['labels', 'controls'] and arrays['controls'].dtype == np.int32
  np.testing.assert_array_equal(arrays['controls'], controls)
  assert [(spec.name, spec.shape, spec.dtype) for spec in converter.window_spec] == [
      ('labels', (16, 2), 'int32'), ('controls', (16,), 'int32')]
  assert converter.target_names == ('labels',) and converter.control_depth == 3
  with pytest.raises(ValueError, match='needs controls'):
    converter.window_arrays(labels)
  with pytest.raises(ValueError, match=r'as many windows in every array, got labels 2, '
                     r'controls 1'):
    converter.window_arrays(labels, controls[:1])
  with pytest.raises(ValueError, match=r'Controls must be \[N, 16\], got \(2, 8\)'):
    converter.window_arrays(labels, controls[:, :8])
  with pytest.raises(ValueError, match=r'Controls must be in \[0, 3\), got values from 2 to 3'):
    converter.window_arrays(labels, controls + np.eye(2, 16, dtype=np.int64))
  with pytest.raises(ValueError, match=r'Labels must be \[N, 16, 2\], got \(2, 32, 2\)'):
    converter.window_arrays(np.zeros([2, 32, 2], np.int32), controls)
  assert list(melody().window_arrays(np.zeros([2, 16, 1], np.int32))) == ['labels']
  with pytest.raises(ValueError, match='melody encoding takes no controls'):
    melody().window_arrays(np.zeros([2, 16, 1], np.int32), controls)
  # One-part windows may come without their part axis.
  np.testing.assert_array_equal(melody().window_arrays(np.ones([2, 16], np.int64))['labels'],
                                np.ones([2, 16, 1]))


def test_inputs_of_a_multi_part_window_with_controls():
  converter = TwoPartConverter()
  labels = np.zeros([1, 16, 2], np.int32)
  labels[0, 0] = [41, 5]  # C4 over kick + closed hat
  labels[0, 2] = [1, 256]  # note-off over the last drum class
  controls = np.zeros([1, 16], np.int32)
  controls[0, 0] = 2
  inputs = converter.inputs_from_labels(labels, controls)
  assert inputs.shape == (1, 16, 103) and inputs.dtype == np.float32
  melody_inputs, drum_inputs, control_inputs = inputs[0, :, :90], inputs[0, :, 90:100], inputs[
      0, :, 100:]
  np.testing.assert_array_equal(melody_inputs, np.eye(90)[labels[0, :, 0]])
  np.testing.assert_array_equal(drum_inputs[0], [1, 0, 1, 0, 0, 0, 0, 0, 0, 0])
  np.testing.assert_array_equal(drum_inputs[1], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1])  # no hit
  np.testing.assert_array_equal(drum_inputs[2], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
  np.testing.assert_array_equal(control_inputs, np.eye(3)[controls[0]])


def test_from_tensors_of_a_multi_part_window():
  converter = TwoPartConverter()
  window = np.zeros([16, 2], np.int32)  # one window [T, P]
  window[0] = [41, 5]  # C4 over kick + closed hat
  window[4, 0] = 1  # the note ends at step 4
  window[8, 1] = 2  # snare
  (sequence,) = converter.from_tensors(window)
  notes = sorted((n.start_time, n.end_time, n.pitch, n.instrument, n.program, n.is_drum)
                 for n in sequence.notes)
  assert notes == [(0.0, 0.125, 36, 9, 0, True), (0.0, 0.125, 42, 9, 0, True),
                   (0.0, 0.5, 60, 0, 0, False), (1.0, 1.125, 38, 9, 0, True)]
  assert sequence.total_time == pytest.approx(2.0)
  assert not sequence.text_annotations  # no controls given: nothing to annotate
  # Controls of one window [T] go with a [T, P] window; [N, T] with [N, T, P], window by window.
  (sequence,) = converter.from_tensors(window, controls=np.arange(16) % 3)
  assert [a.text for a in sequence.text_annotations] == [
      ' '.join(str(c) for c in np.arange(16) % 3)]
  sequences = converter.from_tensors(np.stack([window, np.zeros_like(window)]),
                                     controls=np.array([[0] * 16, [2] * 16]))
  assert [[a.text for a in s.text_annotations] for s in sequences] == [
      [' '.join(['0'] * 16)], [' '.join(['2'] * 16)]]
  assert len(sequences[0].notes) == 4 and not sequences[1].notes


def test_starts_with_note_looks_at_every_part():
  converter = TwoPartConverter()
  window = np.zeros([16, 2], np.int32)
  assert not converter.starts_with_note(window)
  window[0, 0] = 1  # a note-off strikes nothing
  assert not converter.starts_with_note(window)
  window[0, 1] = 4  # a drum hit under it does
  assert converter.starts_with_note(window)
  window[0] = [2, 0]  # the lowest note-on alone
  assert converter.starts_with_note(window)
  assert melody().starts_with_note(np.array([[45]] + [[0]] * 15))
  assert not melody().starts_with_note(np.array([[0], [45]] + [[0]] * 14))
  assert drums().starts_with_note(np.array([[1]] + [[0]] * 15))


def test_pianoroll_draws_the_parts_of_a_window_one_above_the_other(tmp_path):
  converter = TwoPartConverter(slice_bars=2)
  window = np.zeros([32, 2], np.int32)
  window[0, 0], window[4, 0] = 41, 1  # C4 for a beat
  window[0, 1], window[8, 1] = 1, 2  # kick, then snare
  image = pianoroll.render([[window]], converter, px_per_step=4, margin=2, labels=False)
  melody_height, drums_height, gap = 25 * 3, 9 * 11, 3  # default rows: 3 px melody, 11 px drums
  assert image.shape == (2 + melody_height + gap + drums_height + 2, 2 + 32 * 4 + 2, 3)
  # Each part is drawn exactly as a one-part window of its kind, the first part at the top.
  alone = dict(px_per_step=4, margin=2, labels=False)
  melody_only = pianoroll.render([[window[:, 0]]], 'melody', **alone)
  drums_only = pianoroll.render([[window[:, 1]]], 'drums', **alone)
  np.testing.assert_array_equal(image[2:2 + melody_height], melody_only[2:2 + melody_height])
  drums_top = 2 + melody_height + gap
  np.testing.assert_array_equal(image[drums_top:drums_top + drums_height],
                                drums_only[2:2 + drums_height])
  colour = pianoroll.COLUMN_COLOURS[0]
  kick_row = drums_top + 8 * 11  # class 0 is the bottom row
  assert tuple(image[kick_row + 5, 2 + 1]) == colour  # the kick at step 0 (after its dark edge)
  assert tuple(image[kick_row - 11 + 5, 2 + 8 * 4 + 1]) == colour  # the snare, a row up, step 8
  assert colour not in {tuple(c) for c in image[2 + melody_height:drums_top].reshape(-1, 3)}
  # A one-part converter's windows [T, 1] draw as its kind's bare windows [T].
  one_part = pianoroll.render([[window[:, :1]]], melody(slice_bars=2), **alone)
  np.testing.assert_array_equal(one_part, melody_only)
  with pytest.raises(ValueError, match=r'2 part\(s\) \(melody, drums\)'):
    pianoroll.render([[window[:, :1]]], converter)
  labelled = pianoroll.render([[window]], converter)
  assert labelled.shape[1] > pianoroll.render([[window]], converter, labels=False).shape[1] + 40
  path = tmp_path / 'column.png'
  assert pianoroll.write_column_png(path, np.stack([window] * 3), converter) == 3
  column = pianoroll.render([[window]] * 3, converter)
  with PIL.Image.open(path) as png:
    assert png.size == (column.shape[1], column.shape[0])
    np.testing.assert_array_equal(np.asarray(png.convert('RGB')), column)


HAND_BUILT_MELODY_WINDOWS = [
    [41, 0, 0, 0, 45, 0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 53] + [0] * 15,
    [0] * 15 + [41] + [0] * 16,  # 15 leading rests, a note held to the end
    [41, 41, 41, 1, 2, 89, 0, 1] + [0] * 8 + [0, 60] + [0] * 14,  # repeats, extreme pitches
    [0, 0, 0, 0, 50, 0, 1] + [0] * 9 + [50, 0, 1] + [0] * 13,  # a repeated bar
    list(range(2, 34)),  # a new note every step
]
HAND_BUILT_DRUM_WINDOWS = [
    [5, 0, 2, 0] * 8,
    [0] * 15 + [511] + [0] * 15 + [256],
    [1, 3, 7, 15, 31, 63, 127, 255, 0, 0, 0, 0, 0, 0, 0, 0] * 2,
]


@pytest.mark.parametrize('converter, windows', [(melody(slice_bars=2), HAND_BUILT_MELODY_WINDOWS),
                                                (drums(slice_bars=2), HAND_BUILT_DRUM_WINDOWS)])
def test_round_trip_hand_built_windows(converter, windows):
  for window in windows:
    (sequence,) = converter.from_tensors(np.array(window)[:, None])
    result = converter.to_tensors(sequence)
    assert_windows(result.labels, [window])


def random_sequence(seed, drum_track):
  """A random-ish multi-instrument sequence at 100 qpm: polyphony, gaps, stray pitches."""
  rng = np.random.default_rng(seed)
  sequence = note_seq.NoteSequence()
  sequence.tempos.add(time=0.0, qpm=100.0)
  seconds_per_step = 60.0 / 100.0 / 4
  for instrument in range(3):
    step = int(rng.integers(0, 24))
    for _ in range(80):
      step += int(rng.choice([0, 1, 2, 3, 4, 6, 8, 24], p=[.15, .15, .2, .1, .2, .1, .05, .05]))
      length = int(rng.integers(1, 20))
      pitch = int(rng.integers(35, 60)) if drum_track else int(rng.integers(15, 115))
      sequence.notes.add(start_time=step * seconds_per_step,
                         end_time=(step + length) * seconds_per_step,
                         pitch=pitch, velocity=90, instrument=instrument, is_drum=drum_track)
  sequence.total_time = max(n.end_time for n in sequence.notes)
  return sequence


@pytest.mark.parametrize('make_converter, drum_track', [(melody, False), (drums, True)])
@pytest.mark.parametrize('slice_bars', [1, 2, 4])
def test_round_trip_on_extracted_windows(make_converter, drum_track, slice_bars):
  converter = make_converter(slice_bars=slice_bars)
  windows = np.concatenate([converter.to_tensors(random_sequence(seed, drum_track)).labels
                            for seed in range(3)])
  assert len(windows) >= 20 and windows.shape[1:] == (converter.window_steps, 1)
  if not drum_track:  # no window starts inside a note (a note-off as its first event)
    first_events = [int(window[np.flatnonzero(window)[0], 0]) for window in windows]
    assert melody_family.MELODY_NOTE_OFF not in first_events
  decoded = converter.from_tensors(windows)
  for window, sequence in zip(windows, decoded):
    np.testing.assert_array_equal(converter.to_tensors(sequence).labels, window[None])


def test_explain_when_there_are_windows():
  result = melody(slice_bars=1, max_windows=1).to_tensors(
      make_sequence([(0, 16, 60), (16, 32, 62)]))
  assert result.explain() == '1 1-bar melody window(s) (rejected: 1 over_limit).'
  result = melody().to_tensors(note_seq.NoteSequence())
  assert result.rejected == {'no_notes': 1}
  assert result.explain() == ('No 1-bar melody window: no notes between 21 and 108 '
                              '(drum notes do not count).')


def test_write_midi_round_trip(tmp_path):
  window = HAND_BUILT_MELODY_WINDOWS[0]
  converter = melody(slice_bars=2)
  path = tmp_path / 'out.mid'
  contract.write_midi(converter.from_tensors(np.array(window)[:, None])[0], str(path))
  assert [p.name for p in tmp_path.iterdir()] == ['out.mid']
  sequence = note_seq.midi_file_to_note_sequence(str(path))
  assert_windows(converter.to_tensors(sequence).labels, [window])


def test_get_converter_from_config():
  converter = contract.get_converter(config_lib.load_config('tiny-mel_2bar'))
  assert isinstance(converter, melody_family.MelodyConverter)
  assert (converter.window_steps, converter.max_windows_per_sequence) == (32, 5)
  assert (converter.input_depth, converter.output_depth) == (90, 90)
  config = config_lib.load_config('tiny-drums_2bar')
  converter = contract.get_converter(config)
  assert isinstance(converter, drums_family.DrumsConverter)
  assert (converter.input_depth, converter.output_depth, converter.window_steps) == (10, 512, 32)
  config.data.encoding = 'bagpipes'
  with pytest.raises(ValueError, match="'bagpipes': expected one of .*drums, .*melody"):
    contract.get_converter(config)


def test_a_window_cap_of_zero_in_the_config_keeps_every_window():
  # The command line cannot set None, so --config.data.max_windows_per_sequence=0 means "every".
  config = config_lib.load_config('tiny-mel_2bar')
  config.data.max_windows_per_sequence = 0
  config_lib.validate(config)
  assert contract.get_converter(config).max_windows_per_sequence is None
  config.data.max_windows_per_sequence = -1
  with pytest.raises(config_lib.ConfigError, match='max_windows_per_sequence=-1'):
    config_lib.validate(config)


def test_get_converter_imports_a_registered_family_and_uses_its_from_config(monkeypatch):
  # A new family is one line in ENCODINGS: 'module:class', imported on use.
  monkeypatch.setitem(registry.ENCODINGS, 'two_part', f'{__name__}:TwoPartConverter')
  config = config_lib.load_config('tiny-mel_2bar')
  config.data.encoding = 'two_part'
  config.data.max_windows_per_sequence = 3
  converter = contract.get_converter(config)
  assert type(converter).__name__ == 'TwoPartConverter'
  assert (converter.window_steps, converter.max_windows_per_sequence) == (32, 3)


def test_constructor_validation():
  with pytest.raises(ValueError, match='slice_bars'):
    melody_family.MelodyConverter(slice_bars=0)
  with pytest.raises(ValueError, match='max_windows_per_sequence'):
    drums_family.DrumsConverter(max_windows_per_sequence=0)
  with pytest.raises(ValueError, match='min_pitch'):
    melody_family.MelodyConverter(min_pitch=10)
  with pytest.raises(ValueError, match='gap_bars'):
    melody_family.MelodyConverter(gap_bars=0.5)
