"""Windows of class labels, one column per part: the contract of the melody, drum, trio and chord
families (`LabelConverter`), and the description of a part (`Part`).

Pure numpy + note_seq (no TensorFlow): it runs in preprocessing worker processes.

A label family names its `parts` (the tracks of a window, each a `Part`: melody.MelodyPart, 90
classes, or drums.DrumPart, 512) and its `control_depth` (classes of a per-step control, e.g. 49
chords; 0 for none), and turns a NoteSequence into windows of labels int32 [N, T, P] and controls
int32 [N, T] (`to_tensors`). Encoder inputs (`inputs_from_labels`: each part as it reads itself,
then the controls' one-hot), decoding (`from_tensors`: each part as its instrument) and what
transposition moves follow from the parts, so the data pipeline, the cache and the model need no
per-family code.

Track windowing (`LabelConverter.to_tensors`, shared by melody.py, drums.py and chords.py; the
extraction rules shared by every family are contract.py's):
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
import zlib

import note_seq
from note_seq import sequences_lib
import numpy as np

from music_vae_lite.families import contract


@dataclasses.dataclass(frozen=True)
class Part:
  """One track of a window: what its labels mean, how the encoder reads them, how it sounds.

  Subclasses say what the classes are (melody.MelodyPart, drums.DrumPart): `kind`, `depth` (the
  number of classes: the decoder's output width for this part), `first_onset` (labels >= it strike
  a note or a drum), `inputs` (the encoder's reading) and `notes` (decoding).
  """
  name: str
  instrument: int  # decoded notes' instrument, program and drum flag
  program: int
  roll_input: bool = False

  kind = None
  depth = None
  first_onset = 1
  is_drum = False
  transposable = False

  @property
  def input_depth(self):
    return self.depth

  def inputs(self, values):
    """Encoder inputs float32 [..., input_depth] of this part's labels [...]: a one-hot."""
    return np.eye(self.depth, dtype=np.float32)[values]

  def notes(self, values):
    """(start step, end step, pitch) of the notes of this part's labels [T]."""
    raise NotImplementedError


class LabelConverter:
  """The contract of the label families, and the windowing, dedup, cap and decoding that the
  melody and drum converters share.

  A family declares `encoding` (its name in configs), `parts` (the tracks of a window, in the
  order of the decoder's outputs) and `control_depth` (classes of the per-step control, 0 for
  none), and implements `to_tensors` (NoteSequence -> ConversionResult: label windows
  [N, T, P] and controls [N, T]). Everything else derives from those: input and output depths,
  encoder inputs, decoding back to a NoteSequence (`from_tensors`), what transposition touches.
  """
  encoding = None
  parts = ()
  control_depth = 0
  _track_name = None  # 'melody' or 'drum track', for explain()

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

  def __init__(self, slice_bars, max_windows_per_sequence, gap_bars=1, seed=0):
    if int(slice_bars) != slice_bars or slice_bars < 1:
      raise ValueError(f'slice_bars must be a positive integer, got {slice_bars!r}.')
    if max_windows_per_sequence is not None and max_windows_per_sequence < 1:
      raise ValueError('max_windows_per_sequence must be >= 1 or None (no limit), '
                       f'got {max_windows_per_sequence!r}.')
    if gap_bars < 1:  # shorter gaps would let a padded track overlap the next one
      raise ValueError(f'gap_bars must be >= 1, got {gap_bars!r}.')
    self.slice_bars = int(slice_bars)
    self.max_windows_per_sequence = max_windows_per_sequence
    self.gap_bars = gap_bars
    self.seed = seed

  @classmethod
  def from_config(cls, data_config):
    """The converter `config.data` describes (a family with options of its own overrides this)."""
    return cls(slice_bars=data_config.slice_bars,
               max_windows_per_sequence=contract.window_cap(data_config))

  @property
  def window_steps(self):
    return self.slice_bars * contract.STEPS_PER_BAR

  def starts_with_note(self, labels):
    """Whether a label window [T, P] strikes a note (or a drum) in some part at its first step,
    i.e. does not open with a rest or a pickup's silence."""
    first = np.asarray(labels).reshape(-1, len(self.parts))[0]
    return any(int(label) >= part.first_onset for label, part in zip(first, self.parts))

  def to_tensors(self, note_sequence):
    """Extracts the label windows of one NoteSequence; see the module docstring."""
    rejected = collections.Counter()
    details = []
    tracks = []
    accepted_pieces = 0
    pieces = [piece for piece in contract._pieces(note_sequence) if piece.notes]
    early_notes = sum(note.start_time < 0 for note in note_sequence.notes)  # the split drops them
    if early_notes:
      rejected['negative_time'] += early_notes
      details.append('notes before time 0')
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

    unique = {}  # window bytes -> first window with them, in order of appearance
    for window in candidates:
      unique.setdefault(window.tobytes(), window)
    if len(unique) < len(candidates):
      rejected['duplicate'] += len(candidates) - len(unique)
    windows = list(unique.values())
    labels = np.stack(windows) if windows else np.zeros((0, self.window_steps), np.int32)
    labels = labels[..., None]  # one part
    limit = self.max_windows_per_sequence
    if limit is not None and len(labels) > limit:
      rng = np.random.default_rng([self.seed, zlib.crc32(labels.tobytes())])
      rejected['over_limit'] += len(labels) - limit
      labels = labels[np.sort(rng.choice(len(labels), size=limit, replace=False))]
    return contract.ConversionResult(labels, rejected, len(tracks), tuple(dict.fromkeys(details)),
                            self.encoding, self.slice_bars)

  def _quantize(self, piece, rejected, details):
    """The piece quantized, or None (counted in `rejected`) if its time signature won't do."""
    try:
      quantized = note_seq.quantize_note_sequence(piece, contract.STEPS_PER_QUARTER)
    except note_seq.BadTimeSignatureError as error:
      rejected['bad_time_signature'] += 1
      details.append(f'an invalid time signature ({error})')
      return None
    except note_seq.NegativeTimeError:
      rejected['negative_time'] += 1
      details.append('notes before time 0')
      return None
    except (note_seq.MultipleTimeSignatureError, note_seq.MultipleTempoError) as error:
      rejected['time_change'] += 1
      details.append(f'an unsplittable time change ({error})')
      return None
    if sequences_lib.steps_per_bar_in_quantized_sequence(quantized) != contract.STEPS_PER_BAR:
      signature = quantized.time_signatures[0]
      rejected['time_signature'] += 1
      details.append(f'{signature.numerator}/{signature.denominator} time (only time signatures '
                     'with 16 sixteenth-note steps per bar, like 4/4 and 2/2, are supported)')
      return None
    return quantized

  def _split(self, labels, active):
    """Cuts a piece's labels into tracks at silences of >= gap_bars bars; bar-aligned, padded."""
    steps = np.flatnonzero(active)
    if not len(steps):
      return []
    labels = np.pad(labels, (0, -len(labels) % contract.STEPS_PER_BAR))
    gap_steps = int(round(self.gap_bars * contract.STEPS_PER_BAR))
    breaks = np.flatnonzero(np.diff(steps) - 1 >= gap_steps)
    firsts = steps[np.concatenate([[0], breaks + 1])]
    lasts = steps[np.concatenate([breaks, [len(steps) - 1]])]
    bar = contract.STEPS_PER_BAR
    return [labels[first - first % bar:-(-(last + 1) // bar) * bar]
            for first, last in zip(firsts, lasts)]

  def _first_labels(self, track):
    """The label a window starting at each step of the track begins with."""
    return track

  def check_labels(self, labels):
    """Integer labels [..., P] with every part's labels in range, or ValueError saying which."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
      raise ValueError(f'Labels must be integers, got dtype {labels.dtype}.')
    if labels.ndim < 1 or labels.shape[-1] != len(self.parts):
      raise ValueError(f'{self.encoding} labels need a last axis of {len(self.parts)} part(s) '
                       f'({", ".join(p.name for p in self.parts)}), got shape {labels.shape}.')
    for k, part in enumerate(self.parts):
      values = labels[..., k]
      if values.size and (values.min() < 0 or values.max() >= part.depth):
        raise ValueError(f'{part.name} labels must be in [0, {part.depth}), got values from '
                         f'{values.min()} to {values.max()}.')
    return labels

  def check_controls(self, controls, num_windows):
    """Controls [N, T] in [0, control_depth), None for a family without controls."""
    if not self.control_depth:
      if controls is not None and np.size(controls):
        raise ValueError(f'The {self.encoding} encoding takes no controls.')
      return None
    if controls is None:
      raise ValueError(f'The {self.encoding} encoding needs controls [N, {self.window_steps}].')
    controls = np.asarray(controls)
    if controls.shape != (num_windows, self.window_steps):
      raise ValueError(f'Controls must be [{num_windows}, {self.window_steps}], got '
                       f'{controls.shape}.')
    if controls.size and (controls.min() < 0 or controls.max() >= self.control_depth):
      raise ValueError(f'Controls must be in [0, {self.control_depth}), got values from '
                       f'{controls.min()} to {controls.max()}.')
    return controls.astype(np.int32)

  def inputs_from_labels(self, labels, controls=None):
    """Encoder inputs, float32 [..., T, input_depth]: each part one-hot (a drum part with
    `roll_input`: its 9 hit bits, then 1 where nothing is hit), then the controls' one-hot."""
    labels = self.check_labels(labels)
    pieces = []
    for k, part in enumerate(self.parts):
      pieces.append(part.inputs(labels[..., k]))
    if self.control_depth:
      pieces.append(np.eye(self.control_depth, dtype=np.float32)[np.asarray(controls, np.int64)])
    return np.concatenate(pieces, axis=-1).astype(np.float32)

  def from_tensors(self, labels, controls=None):
    """Label windows [N, T, P] (or one window [T, P]) -> a list of N NoteSequences, one
    instrument per part (controls, where a family has them, are passed to `_annotate`)."""
    labels = self.check_labels(labels)
    if labels.ndim == 2:
      labels = labels[None]
      controls = None if controls is None else np.asarray(controls)[None]
    if labels.ndim != 3:
      raise ValueError(f'from_tensors takes labels [N, T, P] or [T, P], got shape {labels.shape}.')
    sequences = []
    for n, window in enumerate(labels):
      sequence = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
      sequence.tempos.add(time=0.0, qpm=contract.OUTPUT_QPM)
      sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
      sequence.total_time = len(window) * contract.STEP_SECONDS
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
