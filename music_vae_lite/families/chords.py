"""Chord-conditioned melodies: the original's `cat-mel_2bar_med_chords` data family.

Pure numpy + note_seq (no TensorFlow): it runs in preprocessing worker processes.

Chord classes (49, the original's triad encoding, note_seq's `TriadChordOneHotEncoding` order):
0 N.C. (no chord), 1..12 major triads on C, C#, ..., B, 13..24 minor, 25..36 augmented, 37..48
diminished. A chord symbol reduces to its triad the way note_seq reads it: C7, Cmaj7, C6, C/E -> C;
Cm7, Cm9 -> Cm; Cm7b5 -> Cdim; C+ -> Caug. Symbols without a triad (Csus4, C5) have no class.

Windows (`ChordMelodyConverter.to_tensors`): the melody windows of `MelodyConverter`, each with
its controls [T]: the chord class sounding at every step of the window, so a window starting at
bar k gets the chords of bars k, k+1, ... The chords of a piece (a stretch between tempo or time
signature changes) are its CHORD_SYMBOL text annotations when it has any; otherwise they are
inferred from all its pitched notes with note_seq's `infer_chords_for_sequence` (its default of
two chords per 4/4 bar, one per 2/2 bar), as the original does. A chord lasts until the next one;
the last one lasts past the piece's end (as note_seq's `event_list_chords` pads). Two windows
are duplicates only when both their melodies and their chords are equal (a melody heard over
other chords is another example, as in the original).

Decoding (`from_tensors(labels, controls)`): the melody as `MelodyConverter` decodes it, plus a
CHORD_SYMBOL text annotation at the first step and at every chord change, so MIDI and NoteSequence
consumers see the chords (and `to_tensors` reads them back). `parse_chords` turns a typed
progression ("C G Am F") into controls; `control_transposition_table` moves chord classes with a
transposed melody.

Rejection reasons, besides `MelodyConverter`'s: 'chord_inference' (pieces whose chords could not be
inferred: more than 1,000 chord frames, i.e. over 500 bars of 4/4, or a time signature note_seq has
no chord rate for, like 8/8) and 'bad_chords' (pieces whose annotated chords include a symbol
without a triad class, or two different chords on one step). Both count pieces.

Where this differs from the original:
- A piece with an unusable annotated chord is rejected whether or not a kept window reaches it (the
  original checks only the windows it samples; it rejects the whole piece too).
- A piece without a time signature (note_seq reads it as 4/4) gets 4/4's two chords per bar; the
  original's inference fails on it.
- Everything `MelodyConverter`'s docstring lists (highest sounding note, first label of a window,
  seeded window subset, no program filter).

How it rides on the base windowing: each track passes through `LabelConverter`'s windowing as
rows of (label, chord), so the dedup, the cap and the first-label rule keep windows and chords
together (`_window_arrays` splits them into the `labels` and `controls` arrays), and `_quantize` is
where chords are inferred (the one per-piece hook that can add a detail).
"""
import collections

import note_seq
from note_seq import chord_inference
from note_seq import chord_symbols_lib
from note_seq import chords_encoder_decoder
from note_seq import chords_lib
import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import melody

NO_CHORD = note_seq.NO_CHORD  # 'N.C.'
NUM_CHORD_CLASSES = 49  # class = 1 + kind * 12 + root (kinds: major, minor, augmented, diminished)
_PITCH_CLASSES = 12
_CHORD_SYMBOL = note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL
_ENCODING = chords_encoder_decoder.TriadChordOneHotEncoding()
# Inference rate for a piece without a time signature: 4/4's (note_seq's default signature).
_CHORDS_PER_BAR_WITHOUT_SIGNATURE = 2


def chord_class(symbol):
  """The class (0..48) of a chord symbol ('N.C.', 'C', 'Am', 'G7', 'Bbdim', ...), by note_seq's
  triad encoding; ValueError naming the symbol when it cannot be read or has no triad."""
  symbol = symbol.strip()
  if symbol.upper() in ('N.C.', 'NC'):
    return 0
  try:
    return _ENCODING.encode_event(symbol)
  except chord_symbols_lib.ChordSymbolError:
    raise ValueError(f'Unknown chord symbol {symbol!r}: expected a root A-G with an optional # or '
                     'b and a kind, e.g. C, F#m, Bb7, Ebdim, Caug, or N.C. for no chord.') from None
  except chords_encoder_decoder.ChordEncodingError:
    raise ValueError(f'Chord {symbol!r} has no triad class: only chords whose triad is major, '
                     'minor, augmented or diminished (sevenths and extensions reduce to it) '
                     'or N.C. can be used, not sus or power chords.') from None


def chord_symbol(chord_class_index):
  """The symbol of a chord class (0 -> 'N.C.', 1 -> 'C', 22 -> 'Am', 37 -> 'Cdim')."""
  index = int(chord_class_index)
  if not 0 <= index < NUM_CHORD_CLASSES:
    raise ValueError(f'Chord classes are 0..{NUM_CHORD_CLASSES - 1}, got {index}.')
  return _ENCODING.decode_event(index)


def parse_chords(text, num_steps):
  """Chord classes [num_steps] int32 for a chord progression typed by a user, e.g. 'C G Am F'.

  The chords (separated by spaces or commas) share the steps evenly and in order: with as many
  chords as bars, one per bar; otherwise each holds num_steps / count steps, so the count must
  divide num_steps (a ValueError lists the counts that do). 'N.C.' is no chord.
  """
  symbols = text.replace(',', ' ').split()
  if not symbols:
    raise ValueError('No chords given: expected chord symbols separated by spaces, '
                     'e.g. "C G Am F".')
  classes = [chord_class(symbol) for symbol in symbols]
  if num_steps % len(classes):
    valid = [count for count in range(1, num_steps + 1) if num_steps % count == 0]
    raise ValueError(
        f'{len(classes)} chord(s) do not split the {num_steps} steps evenly: give '
        f'{", ".join(map(str, valid[:-1]))} or {valid[-1]} chords '
        f'(e.g. {num_steps // contract.STEPS_PER_BAR or 1} for one chord per bar).')
  return np.repeat(np.array(classes, np.int32), num_steps // len(classes))


def control_transposition_table(max_shift):
  """int32 [49, 2 * max_shift + 1]: entry (c, shift + max_shift) is the class of chord c moved by
  `shift` semitones (the root moves, the triad kind stays; N.C. stays N.C.), so chord controls
  can follow a transposed melody by one gather."""
  if int(max_shift) != max_shift or max_shift < 0:
    raise ValueError(f'max_shift must be a non-negative integer, got {max_shift!r}.')
  shifts = np.arange(-max_shift, max_shift + 1)
  chords = np.arange(1, NUM_CHORD_CLASSES)
  kind, root = np.divmod(chords - 1, _PITCH_CLASSES)
  moved = 1 + kind[:, None] * _PITCH_CLASSES + (root[:, None] + shifts) % _PITCH_CLASSES
  return np.concatenate([np.zeros((1, len(shifts)), np.int64), moved]).astype(np.int32)


# note_seq rebuilds its 588 x 588 key-chord transition matrix (a second of pure Python) on every
# inference call, though it depends only on its arguments; we compute it once per argument set.
# pylint: disable=protected-access
_note_seq_transition_distribution = chord_inference._key_chord_transition_distribution
_transition_cache = {}


def _cached_transition_distribution(key_chord_distribution, key_change_prob, chord_change_prob):
  key = (key_chord_distribution.tobytes(), key_change_prob, chord_change_prob)
  if key not in _transition_cache:
    matrix = _note_seq_transition_distribution(key_chord_distribution, key_change_prob,
                                               chord_change_prob)
    matrix.setflags(write=False)
    _transition_cache[key] = matrix
  return _transition_cache[key]


def infer_chords(quantized, chords_per_bar=None):
  """note_seq's `infer_chords_for_sequence` on a quantized sequence (in place, default settings),
  with its transition matrix computed once per process instead of once per call (same result)."""
  chord_inference._key_chord_transition_distribution = _cached_transition_distribution
  try:
    chord_inference.infer_chords_for_sequence(quantized, chords_per_bar=chords_per_bar)
  finally:
    chord_inference._key_chord_transition_distribution = _note_seq_transition_distribution
# pylint: enable=protected-access


def _step_chords(quantized):
  """Chord classes int32 [total steps] of a quantized piece from its CHORD_SYMBOL annotations
  (N.C. before the first); note_seq's errors when two chords share a step or one has no class."""
  progression = chords_lib.ChordProgression()
  num_steps = max(quantized.total_quantized_steps, 1)
  progression.from_quantized_sequence(quantized, 0, num_steps)
  return np.array([_ENCODING.encode_event(figure) for figure in progression], np.int32)


class ChordMelodyConverter(melody.MelodyConverter):
  """Melody windows [N, T, 1] with the chord class of every step as controls [N, T] (49 classes);
  see the module docstring."""
  encoding = 'melody_chords'
  control_depth = NUM_CHORD_CLASSES
  _piece_chords = None  # chord classes [steps] of the piece being extracted (see _extract_tracks)

  def _window_arrays(self, windows):
    """Each track travels through the shared windowing as [L, 2] (melody label, chord class)
    rows, so windowing, de-duplication and the window cap keep the two aligned; they are split
    here."""
    pairs = np.stack(windows)  # [N, T, 2]
    return {'labels': np.ascontiguousarray(pairs[:, :, :1]),
            'controls': np.ascontiguousarray(pairs[:, :, 1])}

  def _quantize(self, piece, rejected, details):
    """The quantized piece with usable chord annotations (inferred when it has none), or None."""
    quantized = super()._quantize(piece, rejected, details)
    if quantized is None:
      return None
    if not any(a.annotation_type == _CHORD_SYMBOL for a in quantized.text_annotations):
      chords_per_bar = None if quantized.time_signatures else _CHORDS_PER_BAR_WITHOUT_SIGNATURE
      try:
        infer_chords(quantized, chords_per_bar)
      except note_seq.ChordInferenceError as error:
        rejected['chord_inference'] += 1
        details.append(f'chords could not be inferred ({error})')
        return None
    try:
      _step_chords(quantized)
    except chords_lib.CoincidentChordsError as error:
      rejected['bad_chords'] += 1
      details.append(f'two different chords on one step ({error})')
      return None
    except (chord_symbols_lib.ChordSymbolError, chords_encoder_decoder.ChordEncodingError) as error:
      rejected['bad_chords'] += 1
      details.append(f'a chord without a triad class ({error})')
      return None
    return quantized

  def _extract_tracks(self, quantized, rejected):
    # `_split` (called by the melody extraction for each instrument) pairs labels with these.
    self._piece_chords = _step_chords(quantized)
    try:
      return super()._extract_tracks(quantized, rejected)
    finally:
      self._piece_chords = None

  def _split(self, labels, active):
    """The melody tracks as [L, 2] rows of (label, chord class of that step of the piece)."""
    tracks = super()._split(labels, active)
    # The same cut of the step numbers gives each track's first step in the piece.
    starts = [steps[0] for steps in super()._split(np.arange(len(labels)), active)]
    chords = self._piece_chords
    paired = []
    for track, start in zip(tracks, starts):
      steps = np.minimum(np.arange(start, start + len(track)), len(chords) - 1)
      paired.append(np.stack([track, chords[steps]], axis=-1).astype(np.int32))
    return paired

  def _first_labels(self, track):
    first = track.copy()
    first[:, 0] = super()._first_labels(track[:, 0])
    return first

  def _annotate(self, sequence, controls):
    """Writes a CHORD_SYMBOL text annotation at the first step and at every chord change."""
    controls = np.asarray(controls)
    if controls.ndim != 1 or (controls.size and (controls.min() < 0
                                                 or controls.max() >= NUM_CHORD_CLASSES)):
      raise ValueError(f'Chord controls must be classes [T] in [0, {NUM_CHORD_CLASSES}), got '
                       f'shape {controls.shape}.')
    previous = None
    for step, chord in enumerate(controls.tolist()):
      if chord != previous:
        sequence.text_annotations.add(time=step * contract.STEP_SECONDS, text=chord_symbol(chord),
                                      annotation_type=_CHORD_SYMBOL)
        previous = chord

  def control_transposition_table(self, max_shift):
    """See the module function `control_transposition_table`."""
    return control_transposition_table(max_shift)

  def parse_chords(self, text):
    """Controls [window_steps] for a typed progression; see the module function `parse_chords`."""
    return parse_chords(text, self.window_steps)
