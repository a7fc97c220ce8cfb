"""The drum-roll family: drum tracks as a multi-hot roll, one column per drum class (the original's
DrumsConverter with `roll_output=True`, which its NADE drum models write).

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

A window holds `roll` uint8 (T, D): 1 where drum class d is struck at the step, else 0. The drum
map (`config.family.drum_map`) sets the classes:
- 'reduced' (D = 9): the drum family's nine classes (drums.DRUM_PITCH_CLASSES: kick, snare,
  closed hi-hat, ...; nade-drums_2bar_reduced);
- 'full' (D = 61): one class per General MIDI drum pitch, in the original's
  FULL_DRUM_PITCH_CLASSES order (`FULL_DRUM_PITCHES`; nade-drums_2bar_full). A step may strike
  any subset of them, which no class label can hold (2**61 labels); a roll can.
The decoder (nn/decoders/nade.py, or any decoder of binary vectors) writes the roll; the encoder
reads it with a "no hit" bit after it (D + 1 wide, the original's `roll_input`: 10 or 62).

Extraction is the drum family's (drums.py): `is_drum` notes on a mapped pitch, all drum
instruments merged, onsets only, cut into tracks at silences of `gap_bars` bars, windows of
`slice_bars` bars with a one-bar hop (label_windows.TrackConverter), duplicates and the window
cap as every family (contract.py). Pitches without a class are dropped and counted as
'pitch_out_of_range' (the full map has no 22 and 26, which the reduced map reads as hi-hats).
Decoding (`from_tensors`): a one-step note at each hit class's first pitch, velocity 80, on
instrument 9. Pictures draw the nine rows of the drum family; with the full map each pitch on the
row of the reduced class that holds it. Attributes are the drum family's (density, hi-hat share,
kick / snare balance, syncopation), measured on the reduced classes (a step striking two pitches
of one class counts that class once).
"""
import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import label_windows

ROLL = 'roll'
# The original's FULL_DRUM_PITCH_CLASSES: one class per pitch, in this order.
FULL_DRUM_PITCHES = (
    36, 35, 38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85, 42, 44, 54, 68, 69, 70, 71,
    73, 78, 80, 46, 67, 72, 74, 79, 81, 45, 29, 41, 61, 64, 84, 48, 47, 60, 63, 77, 86, 87, 50, 30,
    43, 62, 76, 83, 49, 55, 57, 58, 51, 52, 53, 59, 82)
DRUM_MAPS = {'reduced': drums.DRUM_PITCH_CLASSES,
             'full': tuple((pitch,) for pitch in FULL_DRUM_PITCHES)}
_REDUCED_CLASS_OF_PITCH = {pitch: k for k, pitches in enumerate(drums.DRUM_PITCH_CLASSES)
                           for pitch in pitches}


class DrumRollConverter(label_windows.TrackConverter):
  """Drum tracks as a multi-hot roll [T, D]; see the module docstring."""
  encoding = 'drum_roll'
  OPTIONS = {'drum_map': 'reduced'}
  _track_name = 'drum track'

  def __init__(self, slice_bars=2, max_windows_per_sequence=5, gap_bars=1, drum_map='reduced',
               seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)
    if drum_map not in DRUM_MAPS:
      raise ValueError(f"family.drum_map must be one of {', '.join(DRUM_MAPS)}, got "
                       f'{drum_map!r}.')
    self.drum_map = drum_map
    self.pitch_classes = DRUM_MAPS[drum_map]
    self._class_of_pitch = {pitch: k for k, pitches in enumerate(self.pitch_classes)
                            for pitch in pitches}
    # Column d's row in pictures and its class in the attributes: its reduced drum class.
    self.reduced_classes = np.array([_REDUCED_CLASS_OF_PITCH[pitches[0]]
                                     for pitches in self.pitch_classes])

  # ---------------------------------------------------------------------------------------------
  # The declaration.

  @property
  def num_classes(self):
    return len(self.pitch_classes)

  @property
  def window_spec(self):
    return (contract.ArraySpec(ROLL, (self.window_steps, self.num_classes), 'uint8',
                               classes=(2,)),)

  @property
  def input_depth(self):
    """The roll and a "no hit" bit."""
    return self.num_classes + 1

  @property
  def output_depth(self):
    return self.num_classes

  # ---------------------------------------------------------------------------------------------
  # Extraction.

  def _no_notes_phrase(self):
    return 'no drum hits on the mapped drum pitches'

  def _extract_tracks(self, quantized, rejected):
    rows = []  # (step, class) of every hit
    for note in quantized.notes:
      if not note.is_drum or not note.velocity:
        continue
      if note.pitch not in self._class_of_pitch:
        rejected['pitch_out_of_range'] += 1
        continue
      rows.append((note.quantized_start_step, self._class_of_pitch[note.pitch]))
    if not rows:
      return []
    roll = np.zeros([max(step for step, _ in rows) + 1, self.num_classes], np.uint8)
    for step, drum_class in rows:
      roll[step, drum_class] = 1
    return self._split(roll, roll.any(axis=1))

  def _window_arrays(self, windows):
    return {ROLL: np.stack(windows)}

  # ---------------------------------------------------------------------------------------------
  # Decoding, pictures, export.

  def _rolls(self, windows):
    """Rolls [N, T, D] of windows given as the arrays, the roll [N, T, D], or one roll [T, D];
    checked."""
    arrays = getattr(windows, 'arrays', windows)
    roll = np.asarray(arrays[ROLL] if isinstance(arrays, dict) else arrays)
    return self.window_arrays(roll[np.newaxis] if roll.ndim == 2 else roll)[ROLL]

  def from_tensors(self, windows, controls=None):
    """Rolls [N, T, D] (or one [T, D]) -> a list of N NoteSequences (see the module docstring)."""
    del controls  # the family has none
    sequences = []
    for roll in self._rolls(windows):
      sequence = contract.decoded_sequence(len(roll))
      for step, drum_class in zip(*np.nonzero(roll)):
        sequence.notes.add(start_time=step * contract.STEP_SECONDS,
                           end_time=(step + 1) * contract.STEP_SECONDS,
                           pitch=self.pitch_classes[drum_class][0],
                           velocity=contract.OUTPUT_VELOCITY, instrument=drums.DRUMS_INSTRUMENT,
                           is_drum=True)
      sequences.append(sequence)
    return sequences

  def starts_with_note(self, window):
    return bool(np.any(np.asarray(window)[0]))

  def picture_parts(self, window):
    roll = np.asarray(window)
    hits = sorted({(int(self.reduced_classes[drum_class]), int(step))
                   for step, drum_class in zip(*np.nonzero(roll))})
    return [('drums', [(row, step, step + 1) for row, step in hits])]

  def reduced_labels(self, roll):
    """The drum family's 512-class labels [N, T] (int64) of rolls [N, T, D]: each column's
    reduced class, counted once per step."""
    hits = np.zeros(np.shape(roll)[:-1] + (len(drums.DRUM_PITCH_CLASSES),), np.int64)
    for column, drum_class in enumerate(self.reduced_classes):
      hits[..., drum_class] |= np.asarray(roll)[..., column].astype(np.int64)
    return (hits << np.arange(len(drums.DRUM_PITCH_CLASSES))).sum(-1)

  @property
  def attributes(self):
    def on_reduced_labels(function):
      return lambda arrays: function(self.reduced_labels(arrays[ROLL]))
    return tuple(attribute._replace(function=on_reduced_labels(attribute.function))
                 for attribute in drums.DRUM_ATTRIBUTES)

  def describe(self):
    description = super().describe()
    description.update(
        drum_map=self.drum_map,
        drum_pitch_classes=[list(c) for c in self.pitch_classes],
        roll='roll[t, d] = 1: drum class d is hit at step t; play the first pitch of its class',
        inputs='the roll, then 1 where no class is hit')
    return description

  def magenta_js_converter(self, num_segments=None):
    args = {'numSteps': self.window_steps, 'pitchClasses': [list(c) for c in self.pitch_classes]}
    if num_segments:
      args['numSegments'] = num_segments
    return {'type': 'DrumRollConverter', 'args': args}

  # ---------------------------------------------------------------------------------------------
  # Batches (TensorFlow).

  def encoder_inputs(self, arrays):
    """The roll and its "no hit" bit, float32 [B, T, D + 1]."""
    tf = contract.tensorflow()
    roll = tf.cast(arrays[ROLL], tf.float32)
    no_hit = 1.0 - tf.reduce_max(roll, axis=-1, keepdims=True)
    return tf.concat([roll, no_hit], axis=-1)
