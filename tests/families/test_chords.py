"""Tests for music_vae_lite.families.chords: triad classes, chord extraction and inference, window/control
alignment, typed progressions, transposition and decoding, on hand-built NoteSequences."""
import note_seq
from note_seq import chord_inference
from note_seq import chord_symbols_lib
from note_seq import chords_encoder_decoder
import numpy as np
import pytest

from music_vae_lite.families import chords
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.families import melody as melody_family

STEP = 0.125  # seconds per sixteenth note at 120 qpm
BAR = 16
CHORD_SYMBOL = note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL
C, F, G, AM = 1, 6, 8, 22  # classes of C, F, G and Am


def make_sequence(notes, chord_changes=(), time_signature=(4, 4)):
  """notes: (start_step, end_step, pitch[, instrument]) at 120 qpm; chord_changes: (step,
  symbol)."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(qpm=120)
  if time_signature:
    sequence.time_signatures.add(numerator=time_signature[0], denominator=time_signature[1])
  for start, end, pitch, *instrument in notes:
    sequence.notes.add(start_time=start * STEP, end_time=end * STEP, pitch=pitch, velocity=100,
                       instrument=instrument[0] if instrument else 0)
  for step, symbol in chord_changes:
    sequence.text_annotations.add(time=step * STEP, text=symbol, annotation_type=CHORD_SYMBOL)
  sequence.total_time = max(note.end_time for note in sequence.notes)
  return sequence


def converter(slice_bars=2, max_windows=None):
  return chords.ChordMelodyConverter(slice_bars=slice_bars, max_windows_per_sequence=max_windows)


def bar_notes(pitches_by_bar, first_bar=0):
  """Quarter notes: one bar per list of four pitches, starting at `first_bar`."""
  return [((first_bar + bar) * BAR + 4 * k, (first_bar + bar) * BAR + 4 * k + 4, pitch)
          for bar, pitches in enumerate(pitches_by_bar) for k, pitch in enumerate(pitches)]


def per_bar(*classes):
  return np.repeat(np.array(classes, np.int32), BAR)


def test_chord_classes_are_note_seqs_triad_encoding():
  encoding = chords_encoder_decoder.TriadChordOneHotEncoding()
  symbols = ['N.C.', 'C', 'C#', 'Db', 'Am', 'G7', 'Cmaj7', 'Cm7b5', 'Caug', 'C+', 'Bbdim', 'F#m',
             'B', 'C/E', 'Dm9']
  for symbol in symbols:
    assert chords.chord_class(symbol) == encoding.encode_event(symbol), symbol
  assert [chords.chord_class(s) for s in ('C', 'B', 'Cm', 'Am', 'Caug', 'Cdim', 'Bdim')] == [
      1, 12, 13, 22, 25, 37, 48]
  assert chords.chord_class('G7') == chords.chord_class('G')  # sevenths reduce to their triad
  for index in range(chords.NUM_CHORD_CLASSES):
    assert chords.chord_class(chords.chord_symbol(index)) == index
  assert chords.chord_symbol(0) == 'N.C.' and chords.chord_symbol(22) == 'Am'


def test_unusable_chord_symbols_are_named():
  with pytest.raises(ValueError, match="'Hm'"):
    chords.chord_class('Hm')
  with pytest.raises(ValueError, match="'Csus4'.*no triad"):
    chords.chord_class('Csus4')
  with pytest.raises(ValueError, match='0..48'):
    chords.chord_symbol(49)


def test_annotated_chords_follow_the_windows():
  # The melody's first note is at bar 1, step 3: its track (and first window) starts at bar 1.
  melody = [(BAR + 3, BAR + 8, 60)] + bar_notes(
      [[62, 64, 65, 67], [69, 71, 72, 74], [76, 77, 79, 81]], first_bar=2)
  changes = [(0, 'C'), (BAR, 'F'), (2 * BAR, 'G7'), (3 * BAR + 8, 'Am'), (4 * BAR, 'N.C.')]
  result = converter().to_tensors(make_sequence(melody, changes))
  assert not result.rejected
  assert result.labels.shape == (3, 32, 1) and result.controls.shape == (3, 32)
  assert result.controls.dtype == np.int32
  half = [G] * 8 + [AM] * 8
  np.testing.assert_array_equal(result.controls[0], np.concatenate([per_bar(F), per_bar(G)]))
  np.testing.assert_array_equal(result.controls[1], np.concatenate([per_bar(G), half]))
  np.testing.assert_array_equal(result.controls[2], np.concatenate([half, per_bar(0)]))
  # The melody labels are exactly the melody converter's.
  plain = melody_family.MelodyConverter(slice_bars=2, max_windows_per_sequence=None)
  np.testing.assert_array_equal(result.labels, plain.to_tensors(make_sequence(melody)).labels)


def test_each_track_gets_the_chords_of_its_own_bars():
  # Two instruments, and a two-bar gap that splits instrument 0 into two tracks.
  first = bar_notes([[60, 62, 64, 65]])
  second = bar_notes([[67, 69, 71, 72]], first_bar=3)
  other = [(start, end, pitch + 2, 1) for start, end, pitch in bar_notes([[60, 64, 67, 72]],
                                                                         first_bar=2)]
  changes = [(k * BAR, symbol) for k, symbol in enumerate(['C', 'Dm', 'Em', 'F'])]
  result = converter(slice_bars=1).to_tensors(make_sequence(first + second + other, changes))
  by_first_label = {int(w[0, 0]): int(c[0]) for w, c in zip(result.labels, result.controls)}
  assert by_first_label == {60 - 19: C, 67 - 19: F, 62 - 19: chords.chord_class('Em')}
  for controls in result.controls:  # one chord per one-bar window here
    assert len(set(controls.tolist())) == 1


def test_inferred_chords_of_a_c_f_g_c_progression():
  triads = {'C': (60, 64, 67), 'F': (65, 69, 72), 'G': (67, 71, 74)}
  notes = []
  for bar, name in enumerate(['C', 'F', 'G', 'C']):
    root, third, fifth = triads[name]
    notes += [(bar * BAR + 4 * k, bar * BAR + 4 * k + 4, pitch + 12)
              for k, pitch in enumerate([root, third, fifth, third])]
    notes += [(bar * BAR, bar * BAR + BAR, pitch - 12, 1) for pitch in triads[name]]
  sequence = make_sequence(notes)
  result = converter().to_tensors(sequence)
  assert not result.rejected
  # Three windows of the melody (instrument 0), three of the accompaniment's top line: bars 0-1,
  # 1-2 and 2-3 of each, with the chords of those bars.
  expected = [np.concatenate([per_bar(a), per_bar(b)]) for a, b in ((C, F), (F, G), (G, C))]
  np.testing.assert_array_equal(result.controls, expected * 2)
  assert result.labels[0, 0, 0] == 60 + 12 - 19 and result.labels[3, 0, 0] == 67 - 12 - 19
  # Our cached inference gives note_seq's annotations exactly, and leaves note_seq unpatched.
  quantized = note_seq.quantize_note_sequence(sequence, 4)
  ours, theirs = note_seq.NoteSequence(), note_seq.NoteSequence()
  ours.CopyFrom(quantized)
  theirs.CopyFrom(quantized)
  chords.infer_chords(ours)
  note_seq.infer_chords_for_sequence(theirs)
  assert [(a.quantized_step, a.text) for a in ours.text_annotations] == [
      (a.quantized_step, a.text) for a in theirs.text_annotations] == [
          (0, 'C'), (16, 'F'), (32, 'G'), (48, 'C')]
  assert chord_inference._key_chord_transition_distribution is (  # pylint: disable=protected-access
      chords._note_seq_transition_distribution)  # pylint: disable=protected-access


def test_a_piece_without_time_signature_gets_two_chords_per_bar():
  notes = bar_notes([[60, 64, 67, 64], [65, 69, 72, 69]])
  result = converter(slice_bars=2).to_tensors(make_sequence(notes, time_signature=None))
  assert not result.rejected
  np.testing.assert_array_equal(result.controls, [np.concatenate([per_bar(C), per_bar(F)])])


def test_same_melody_over_other_chords_is_kept():
  notes = bar_notes([[60, 62, 64, 65]] * 4)
  changes = [(0, 'C'), (2 * BAR, 'G')]
  result = converter(slice_bars=1).to_tensors(make_sequence(notes, changes))
  assert result.rejected == {'duplicate': 2}
  np.testing.assert_array_equal(result.controls, [per_bar(C), per_bar(G)])
  plain = melody_family.MelodyConverter(slice_bars=1, max_windows_per_sequence=None)
  assert len(plain.to_tensors(make_sequence(notes, changes)).labels) == 1


def test_window_cap_keeps_labels_and_controls_together():
  notes = bar_notes([[60 + bar, 62, 64, 65] for bar in range(8)])
  changes = [(bar * BAR, chords.chord_symbol(1 + bar)) for bar in range(8)]
  result = converter(slice_bars=1, max_windows=3).to_tensors(make_sequence(notes, changes))
  assert len(result.labels) == 3 and result.rejected == {'over_limit': 5}
  for labels, controls in zip(result.labels, result.controls):
    bar = int(labels[0, 0]) + 19 - 60
    np.testing.assert_array_equal(controls, per_bar(1 + bar))


@pytest.mark.parametrize('changes, phrase', [
    ([(0, 'C'), (BAR, 'Csus4')], 'without a triad class'),
    ([(0, 'C'), (BAR, 'G'), (BAR, 'Am')], 'two different chords on one step'),
])
def test_unusable_annotated_chords_reject_the_piece(changes, phrase):
  result = converter().to_tensors(make_sequence(bar_notes([[60, 62, 64, 65]] * 3), changes))
  assert len(result.labels) == 0 and result.controls.shape == (0, 32)
  assert result.rejected == {'bad_chords': 1}
  assert phrase in result.explain()


def test_failed_inference_is_a_counted_rejection():
  # 600 bars of 4/4 are 1,200 chord frames, over note_seq's limit of 1,000.
  notes = [(bar * BAR, bar * BAR + 8, 60 + bar % 5) for bar in range(600)]
  result = converter().to_tensors(make_sequence(notes))
  assert result.rejected == {'chord_inference': 1}
  assert 'chords could not be inferred' in result.explain()
  assert len(result.labels) == 0


def test_parse_chords():
  np.testing.assert_array_equal(chords.parse_chords('C G Am F', 64), per_bar(C, G, AM, F))
  np.testing.assert_array_equal(chords.parse_chords('C G Am F', 32),
                                np.repeat([C, G, AM, F], 8))
  np.testing.assert_array_equal(chords.parse_chords('N.C., C', 32), per_bar(0, C))
  np.testing.assert_array_equal(chords.parse_chords('G7', 32), np.full(32, G))
  assert chords.parse_chords('C G', 32).dtype == np.int32
  assert converter().parse_chords('C G').shape == (32,)
  with pytest.raises(ValueError, match=r'3 chord\(s\).*1, 2, 4, 8, 16 or 32'):
    chords.parse_chords('C G Am', 32)
  with pytest.raises(ValueError, match="'Hm'"):
    chords.parse_chords('C Hm', 32)
  with pytest.raises(ValueError, match='No chords'):
    chords.parse_chords('  ', 32)


def test_transposition_table_moves_roots_like_note_seq():
  table = converter().control_transposition_table(3)
  assert table.shape == (49, 7) and table.dtype == np.int32
  np.testing.assert_array_equal(table[:, 3], np.arange(49))
  np.testing.assert_array_equal(table[0], 0)
  for index in range(1, 49):
    for shift in range(-3, 4):
      moved = chord_symbols_lib.transpose_chord_symbol(chords.chord_symbol(index), shift)
      assert table[index, shift + 3] == chords.chord_class(moved), (index, shift)
  assert table[C, 3 + 2] == chords.chord_class('D')
  assert table[chords.chord_class('Bdim'), 3 + 1] == chords.chord_class('Cdim')
  with pytest.raises(ValueError):
    chords.control_transposition_table(-1)


def test_from_tensors_writes_chords_and_round_trips():
  codec = converter()
  labels = np.zeros((32, 1), np.int32)
  labels[[0, 8, 16, 24], 0] = [41, 45, 48, 53]
  labels[30, 0] = melody_family.MELODY_NOTE_OFF
  controls = np.concatenate([per_bar(C), [G] * 8, [AM] * 8]).astype(np.int32)
  (sequence,) = codec.from_tensors(labels, controls)
  assert [(a.time, a.text, a.annotation_type) for a in sequence.text_annotations] == [
      (0.0, 'C', CHORD_SYMBOL), (16 * STEP, 'G', CHORD_SYMBOL), (24 * STEP, 'Am', CHORD_SYMBOL)]
  again = codec.to_tensors(sequence)
  np.testing.assert_array_equal(again.labels, [labels])
  np.testing.assert_array_equal(again.controls, [controls])
  assert len(codec.from_tensors(labels[None])[0].text_annotations) == 0  # no controls, no chords
  with pytest.raises(ValueError, match='Chord controls'):
    codec.from_tensors(labels, np.full(32, 49))


def test_configs_and_registry():
  for name in ('cat-mel_2bar_med_chords', 'cpu-mel_2bar_chords', 'tiny-mel_2bar_chords'):
    config = config_lib.validate(config_lib.load_config(name))
    codec = contract.get_converter(config)
    assert isinstance(codec, chords.ChordMelodyConverter), name
    assert (codec.control_depth, codec.input_depth, codec.output_depth) == (49, 139, 90)
  original = config_lib.load_config('cat-mel_2bar_med_chords')
  assert (original.model.z_size, original.model.enc_rnn_size, original.model.dec_rnn_size,
          original.data.transpose) == (256, (1024,), (512, 512, 512), 3)
  cpu = config_lib.load_config('cpu-mel_2bar_chords')
  melody = config_lib.load_config('cpu-mel_2bar')
  assert cpu.model.to_dict() == melody.model.to_dict()
  assert cpu.train.to_dict() == melody.train.to_dict()
  inputs = converter().inputs_from_labels(np.full((2, 32, 1), 41), np.full((2, 32), G))
  assert inputs.shape == (2, 32, 139) and inputs[0, 0, 90 + G] == 1 and inputs[0, 0, 41] == 1
