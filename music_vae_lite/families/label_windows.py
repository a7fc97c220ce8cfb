"""Windows of class labels, one column per part: the family contract (contract.py) as the melody,
drum, trio and chord families implement it (`LabelConverter`), and the description of a part
(`Part`).

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

A label family names its `parts` (the tracks of a window, each a `Part`: melody.MelodyPart, 90
classes, or drums.DrumPart, 512) and its `control_depth` (classes of a per-step control, e.g. 49
chords; 0 for none). Its windows are `labels` int32 (T, P) and, with controls, `controls` int32
(T,) (`window_spec`); the decoder (nn/decoders/categorical.py) writes the labels, one class per
part and step, conditioned on the controls. Encoder inputs (each part as it reads itself, then
the controls' one-hot), decoding (each part as its instrument), pictures, exported outputs and
transposition (the melody-kind parts, one shift for all of a window's parts, the controls moved
with them by the family's `control_transposition_table`) follow from the parts.

Track windowing (`TrackConverter.to_tensors`, shared by melody.py, drums.py, chords.py and the
drum rolls of drum_roll.py; the extraction rules shared by every family are contract.py's):
- A track (a melody or a drum track) ends where a silence (for drums: steps without a hit) of
  at least `gap_bars` bars begins; 'sounding' below means a note is held, or a drum is hit.
  It starts at the first step of the bar (bar grid of the piece) holding its first note and is
  padded with rests to the end of the bar holding its last sounding step.
- Windows of `slice_bars` bars slide over each track with a one-bar hop; duplicates and the
  window cap as contract.py says.

Decoding (`from_tensors`, windows [N, T, P]): each part is decoded as its kind, with its own
instrument and program (melody.py, drums.py). Round trip: with gap_bars == 1,
`to_tensors(from_tensors(w))` gives back exactly `w` for every window `to_tensors` emits: such a
window never starts inside a note (melody.py) and never starts or ends with a whole silent bar
(that would be a gap), so it re-encodes as one track of exactly its length.
"""
import collections
import dataclasses

import numpy as np

from music_vae_lite.families import contract

LABELS = 'labels'


@dataclasses.dataclass(frozen=True)
class Part:
  """One track of a window: what its labels mean, how the encoder reads them, how it sounds.

  Subclasses say what the classes are (melody.MelodyPart, drums.DrumPart): `kind`, `depth` (the
  number of classes: the decoder's output width for this part), `first_onset` (labels >= it strike
  a note or a drum), the encoder's reading (`encoder_input`), decoding (`notes`) and the exported
  description (`describe`, `export_events`).
  """
  name: str
  instrument: int  # decoded notes' instrument, program and drum flag
  program: int

  kind = None
  depth = None
  first_onset = 1
  is_drum = False
  transposable = False  # a melody-kind part: note-on labels move with a transposition
  # Musical attributes of this kind of part (contract.Attribute, each a function of the part's
  # labels [N, T]): melody.MELODY_ATTRIBUTES, drums.DRUM_ATTRIBUTES.
  attributes = ()

  @property
  def input_depth(self):
    return self.depth

  def encoder_input(self, values):
    """The encoder's reading of this part's labels [...] (TensorFlow): float32 [...,
    input_depth], a one-hot."""
    tf = contract.tensorflow()
    return tf.one_hot(tf.cast(values, tf.int32), self.depth, dtype=tf.float32)

  def notes(self, values):
    """(start step, end step, pitch) of the notes of this part's labels [T]."""
    raise NotImplementedError

  def describe(self):
    """This part in the exported metadata (JSON)."""
    return {'name': self.name, 'kind': self.kind, 'classes': self.depth,
            'program': self.program, 'is_drum': self.is_drum}

  def export_events(self, values):
    """Exported outputs that spell this part's labels [N, T] out for clients: {name: tensor}."""
    del values
    return {}


class TrackConverter(contract.Converter):
  """Windows that slide over tracks (melodies, drum tracks) with a one-bar hop: the track
  windowing of the module docstring, whatever a track holds per step (a label, or a row of a
  drum roll: families/drum_roll.py).

  A family implements `_extract_tracks` (a quantized piece -> tracks [L, ...]),
  `_window_arrays` (the kept windows -> its arrays) and `_no_notes_phrase`.
  """
  _track_name = None  # 'melody' or 'drum track', for explain()

  def __init__(self, slice_bars, max_windows_per_sequence, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, seed)
    if gap_bars < 1:  # shorter gaps would let a padded track overlap the next one
      raise ValueError(f'gap_bars must be >= 1, got {gap_bars!r}.')
    self.gap_bars = gap_bars

  # ---------------------------------------------------------------------------------------------
  # Extraction.

  def to_tensors(self, note_sequence):
    """Extracts the windows of one NoteSequence; see the module docstring."""
    rejected = collections.Counter()
    details = []
    tracks = []
    accepted_pieces = 0
    pieces = contract.note_pieces(note_sequence, rejected, details)
    for piece in pieces:
      quantized = self._quantize(piece, rejected, details)
      if quantized is not None:
        accepted_pieces += 1
        tracks.extend(self._extract_tracks(quantized, rejected))
    if not tracks and (accepted_pieces or not pieces):
      rejected['no_notes'] += 1
      details.append(self._no_notes_phrase())

    candidates = []
    for track in tracks:
      if len(track) < self.window_steps:
        rejected['too_short'] += 1
      first_labels = self._first_labels(track)
      for start in range(0, len(track) - self.window_steps + 1, contract.STEPS_PER_BAR):
        window = track[start:start + self.window_steps].copy()
        window[0] = first_labels[start]
        candidates.append(window)
    if tracks and not candidates:
      longest = max(len(track) for track in tracks) // contract.STEPS_PER_BAR
      details.append(f'the longest {self._track_name} is {longest} bar(s), shorter than a window')
    windows = self.keep_windows(candidates, lambda window: window.tobytes(), rejected)
    arrays = self._window_arrays(windows) if windows else self.empty_arrays()
    return contract.ConversionResult(arrays, rejected, len(tracks), tuple(dict.fromkeys(details)),
                                     self.encoding, self.slice_bars)

  def _window_arrays(self, windows):
    """{name: [N, ...]} of the kept track windows (each [T, ...])."""
    raise NotImplementedError

  def _split(self, labels, active):
    """Cuts a piece's per-step values (labels [L], or rows [L, ...]) into tracks at silences of
    >= gap_bars bars (`active` [L]: whether anything sounds at a step); bar-aligned, padded."""
    steps = np.flatnonzero(active)
    if not len(steps):
      return []
    bar = contract.STEPS_PER_BAR
    labels = np.pad(labels, [(0, -len(labels) % bar)] + [(0, 0)] * (np.ndim(labels) - 1))
    gap_steps = int(round(self.gap_bars * bar))
    breaks = np.flatnonzero(np.diff(steps) - 1 >= gap_steps)
    firsts = steps[np.concatenate([[0], breaks + 1])]
    lasts = steps[np.concatenate([breaks, [len(steps) - 1]])]
    return [labels[first - first % bar:-(-(last + 1) // bar) * bar]
            for first, last in zip(firsts, lasts)]

  def _first_labels(self, track):
    """The label a window starting at each step of the track begins with."""
    return track


class LabelConverter(TrackConverter):
  """The contract for windows of class labels, with the track windowing that the melody, drum and
  chord converters share (TrackConverter); see the module docstring.

  A family declares `encoding`, `parts` (in the order of the decoder's outputs) and
  `control_depth`, and implements `_extract_tracks` (a quantized piece -> tracks of labels), or
  `to_tensors` itself (trio.py).
  """
  parts = ()
  control_depth = 0

  def _window_arrays(self, windows):
    """{name: [N, ...]} of the kept track windows (each [T]: one part's labels)."""
    return {LABELS: np.stack(windows)[..., np.newaxis]}

  @property
  def window_spec(self):
    spec = (contract.ArraySpec(LABELS, (self.window_steps, len(self.parts)), 'int32',
                               classes=self.output_depths,
                               columns=tuple(part.name for part in self.parts)),)
    if self.control_depth:
      spec += (contract.ArraySpec(contract.CONTROLS, (self.window_steps,), 'int32',
                                  classes=(self.control_depth,)),)
    return spec

  @property
  def input_depth(self):
    """Encoder input width: every part's input, then the controls' one-hot."""
    return sum(part.input_depth for part in self.parts) + self.control_depth

  @property
  def output_depths(self):
    return tuple(part.depth for part in self.parts)

  @property
  def output_depth(self):
    return sum(self.output_depths)

  @property
  def attributes(self):
    """Each part's attributes, measured on its column of the labels; in a family of several
    parts each name is prefixed with the part's (trio: `melody.note_density`, `drums.density`)."""
    found = []
    for k, part in enumerate(self.parts):
      for attribute in part.attributes:
        name = f'{part.name}.{attribute.name}' if len(self.parts) > 1 else attribute.name
        found.append(attribute._replace(name=name, function=_column_function(attribute, k)))
    return tuple(found)

  def starts_with_note(self, labels):
    """Whether a label window [T, P] strikes a note (or a drum) in some part at its first step,
    i.e. does not open with a rest or a pickup's silence."""
    first = np.asarray(labels).reshape(-1, len(self.parts))[0]
    return any(int(label) >= part.first_onset for label, part in zip(first, self.parts))

  def check_labels(self, labels):
    """Integer labels [..., P] with every part's labels in range, or ValueError saying which (any
    number of steps: `window_arrays` checks whole windows)."""
    return self.spec(LABELS).check_values(labels, self.encoding)

  # ---------------------------------------------------------------------------------------------
  # Decoding, pictures, export.

  def from_tensors(self, labels, controls=None):
    """Label windows [N, T, P] (or one window [T, P]; [N, T] for a one-part family) -> a list of
    N NoteSequences, one instrument per part (controls, where a family has them, are passed to
    `_annotate`)."""
    labels = np.asarray(labels)
    if len(self.parts) == 1 and labels.ndim == 2 and labels.shape[1] != 1:
      labels = labels[..., np.newaxis]  # [N, T] of a one-part family
    labels = self.check_labels(labels)
    if labels.ndim == 2:
      labels = labels[None]
      controls = None if controls is None else np.asarray(controls)[None]
    if labels.ndim != 3:
      raise ValueError(f'from_tensors takes labels [N, T, P] or [T, P], got shape {labels.shape}.')
    sequences = []
    for n, window in enumerate(labels):
      sequence = contract.decoded_sequence(len(window))
      for k, part in enumerate(self.parts):
        for start, end, pitch in part.notes(window[:, k]):
          sequence.notes.add(start_time=start * contract.STEP_SECONDS,
                             end_time=end * contract.STEP_SECONDS, pitch=pitch,
                             velocity=contract.OUTPUT_VELOCITY, instrument=part.instrument,
                             program=part.program, is_drum=part.is_drum)
      if controls is not None:
        self._annotate(sequence, np.asarray(controls)[n])
      sequences.append(sequence)
    return sequences

  def _annotate(self, sequence, controls):
    """Writes a window's controls [T] into its decoded NoteSequence (families with controls)."""

  def picture_parts(self, labels):
    labels = np.asarray(labels)
    labels = labels[:, np.newaxis] if labels.ndim == 1 else labels
    if labels.ndim != 2 or labels.shape[1] != len(self.parts):
      raise ValueError(f'Windows must have {len(self.parts)} part(s) '
                       f'({", ".join(part.kind for part in self.parts)}), got one of shape '
                       f'{labels.shape}.')
    return [(part.kind, part.picture_notes(labels[:, k])) for k, part in enumerate(self.parts)]

  def describe(self):
    description = super().describe()
    description.update(output_depth=self.output_depth,
                       parts=[part.describe() for part in self.parts])
    return description

  def export_outputs(self, labels):
    """{'tokens': labels [N, T, P]} and each part's events (its `export_events`)."""
    outputs = {'tokens': labels}
    for k, part in enumerate(self.parts):
      outputs.update(part.export_events(labels[..., k]))
    return outputs

  def targets_of_outputs(self, outputs):
    return outputs['tokens']

  def inputs_from_labels(self, labels, controls=None):
    """`encoder_inputs` of label windows of any leading shape [..., T, P] (and their controls
    [..., T]), checked, as numpy float32 [..., T, input_depth]."""
    arrays = {LABELS: self.check_labels(labels)}
    if self.control_depth:
      arrays[contract.CONTROLS] = self.spec(contract.CONTROLS).check_values(controls,
                                                                             self.encoding)
    return self.encoder_inputs(arrays).numpy()

  # ---------------------------------------------------------------------------------------------
  # Batches (TensorFlow).

  def encoder_inputs(self, arrays):
    """Each part as its `encoder_input` reads it (one-hot, or a drum roll), then the controls'
    one-hot: float32 [B, T, input_depth]."""
    tf = contract.tensorflow()
    labels = tf.convert_to_tensor(arrays[LABELS], tf.int32)
    pieces = [part.encoder_input(labels[..., k]) for k, part in enumerate(self.parts)]
    if self.control_depth:
      pieces.append(tf.one_hot(tf.cast(arrays[contract.CONTROLS], tf.int32), self.control_depth,
                               dtype=tf.float32))
    return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=-1)

  def augment(self, arrays, seed, transpose=0):
    """Transposition: the melody-kind parts of each window move by one k drawn for the window,
    and its controls with them (`transpose_labels`); drum parts never move."""
    if not transpose or not any(part.transposable for part in self.parts):
      return arrays
    tf = contract.tensorflow()
    labels = tf.convert_to_tensor(arrays[LABELS], tf.int32)
    uniform = tf.random.stateless_uniform(tf.shape(labels)[:1], seed=seed)
    moved, shift = transpose_labels(labels, uniform, transpose, self.parts)
    arrays = dict(arrays, **{LABELS: moved})
    if self.control_depth:
      # [C, 2 * transpose + 1]: the class of each control transposed by each shift.
      table = tf.constant(self.control_transposition_table(transpose), tf.int32)
      controls = tf.convert_to_tensor(arrays[contract.CONTROLS], tf.int32)
      columns = tf.broadcast_to((shift + transpose)[:, tf.newaxis], tf.shape(controls))
      arrays[contract.CONTROLS] = tf.gather_nd(table, tf.stack([controls, columns], -1))
    return arrays

  def control_transposition_table(self, max_shift):
    """int32 [control_depth, 2 * max_shift + 1]: control c moved by shift k is at column
    k + max_shift. A family with controls that transposes says how its controls move."""
    raise NotImplementedError(f'The {self.encoding} family does not say how its controls move '
                              'under transposition (control_transposition_table).')


def _column_function(attribute, column):
  """The attribute of one part as a function of windows' arrays: labels [N, T, P] (or [N, T]
  for a one-part family), column `column`."""
  def function(arrays):
    labels = np.asarray(arrays[LABELS])
    return attribute.function(labels if labels.ndim == 2 else labels[..., column])
  return function


def transpose_labels(labels, uniform, max_shift, parts):
  """Shifts the note-on labels of the transposable parts of each window by its own k in
  [-max_shift, max_shift] (one k for all its pitched parts, as transposing the music would; drum
  parts never move). TensorFlow.

  k is drawn uniformly (from `uniform`, float [B] in [0, 1)) among the shifts that keep every note
  of the window within its parts' label range (`label_range`: the pitch range, which all the
  pitched parts share), so no window is dropped or clamped (a window that already spans the range
  is left as it is). Labels below a part's first onset (no event, note off) never change.
  labels: int32 [B, T, P]. Returns (labels int32 [B, T, P], shift int32 [B]).
  """
  tf = contract.tensorflow()
  ranges = {part.label_range for part in parts if part.transposable}
  if len(ranges) != 1:
    raise ValueError(f'The pitched parts of a window must share one pitch range, got {ranges}.')
  min_label, max_label = ranges.pop()
  pitched = tf.constant([part.transposable for part in parts])
  first_onsets = tf.constant([part.first_onset for part in parts], tf.int32)
  is_note = (labels >= first_onsets) & pitched
  lowest = tf.reduce_min(tf.where(is_note, labels, max_label), axis=[1, 2])
  highest = tf.reduce_max(tf.where(is_note, labels, min_label), axis=[1, 2])
  down = tf.maximum(tf.minimum(max_shift, lowest - min_label), 0)
  up = tf.maximum(tf.minimum(max_shift, max_label - highest), 0)
  choices = tf.cast(down + up + 1, tf.float32)
  shift = tf.minimum(tf.cast(tf.floor(uniform * choices), tf.int32), down + up) - down
  return labels + tf.where(is_note, shift[:, tf.newaxis, tf.newaxis], 0), shift
