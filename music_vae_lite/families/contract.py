"""Conversion between note_seq NoteSequences and fixed-length label windows: the contract every
data family implements (`Converter`), and the melody and drum families.

Pure numpy + note_seq (no TensorFlow): it runs in preprocessing worker processes.

The contract: a family names its `parts` (the tracks of a window, each a `Part`: melody-kind, 90
classes, or drums, 512) and its `control_depth` (classes of a per-step control, e.g. 49 chords;
0 for none), and turns a NoteSequence into windows of labels int32 [N, T, P] and controls int32
[N, T] (`to_tensors`). Encoder inputs (`inputs_from_labels`: each part one-hot or as a drum roll,
then the controls' one-hot), decoding (`from_tensors`: each part as its instrument) and what
transposition moves follow from the parts, so the data pipeline, the cache and the model need no
per-family code. Families: `registry.ENCODINGS` (trio.py, chords.py, and the two below).

Extraction, shared by both encodings (`to_tensors`):
- The sequence is split at every tempo and time-signature change
  (`split_note_sequence_on_time_changes`); each piece is quantized at 4 steps per quarter and
  converted on its own, so no window spans a change. Pieces without notes are skipped. A piece
  whose bars are not 16 steps long (3/4, 6/8, ...; 4/4 and 2/2 pass) is rejected.
- A track (a melody or a drum track) ends where a silence (for drums: steps without a hit) of
  at least `gap_bars` bars begins; 'sounding' below means a note is held, or a drum is hit.
  It starts at the first step of the bar (bar grid of the piece) holding its first note and is
  padded with rests to the end of the bar holding its last sounding step.
- Windows of `slice_bars` bars slide over each track with a one-bar hop. A window identical to an
  earlier window of the same NoteSequence is dropped. If more than `max_windows_per_sequence`
  remain, a seeded random subset is kept, in order of appearance: the generator is seeded from
  (`seed`, CRC-32 of the candidate windows), so a long tune is not represented by its opening
  only, and the same file gives the same windows in every run and worker process. (The original
  samples afresh in train mode and keeps the first N otherwise.)

Melody (90 classes: 0 no event, 1 note off, 2..89 note on of pitch label + 19):
- Each instrument is read separately; drum notes and zero-velocity notes are ignored; notes
  outside [min_pitch, max_pitch] are dropped. The vocabulary stays 21..108 whatever the range.
  There is no program filter (the original's 2-bar configs keep programs 0-31 only).
- Polyphony, our definition: at each step the melody is the highest *sounding* note (ties
  between notes of one pitch go to the latest onset). A note-on is written wherever that note
  differs from the previous step's; a note-off where silence follows sound; 0 elsewhere. So a
  held note across a bar line is a run of 0s until its note-off or the next note-on, a lower note
  starting under a held higher one is hidden, and a lower note still sounding when the higher one
  ends is struck again. Magenta's `ignore_polyphonic_notes` is onset-ordered instead: the highest
  of notes starting together wins, but any later onset, even a lower one, cuts the current note,
  and notes never resume.
- The note-off after a track's last note is kept when it falls inside the padding (the original
  strips it, so its last note lasts to the end of the bar).
- A window's first label says what sounds at its start, as nothing before it can: a window that
  starts inside a held note begins with that note's note-on (its tail is struck again), and one
  that starts on a note-off begins with 0 (silence). Otherwise the held tail or the note-off
  would decode to silence and re-encode differently. (Magenta's slices keep the raw labels.)

Drums (512 classes, label = sum of 2**class for the classes hit at a step): only `is_drum` notes
whose pitch is in `DRUM_PITCH_CLASSES` are kept, all drum instruments merged; only onsets count.

Decoding (`from_tensors`, windows [N, T, P]): 120 qpm, 4/4, velocity 80, total_time = window
length. Each part is decoded as its kind, with its own instrument and program: a melody note lasts
from its note-on to the next note-on, note-off or the end (melody: instrument 0, program 0); a
drum hit is one step long at its class's first pitch (instrument 9, is_drum). Round trip: with
gap_bars == 1, `to_tensors(from_tensors(w))` gives back exactly `w` for every window `to_tensors`
emits: such a window never starts inside a note (see above) and never starts or ends with a
whole silent bar (that would be a gap), so it re-encodes as one track of exactly its length.

Rejection reasons (`ConversionResult.rejected` keys): 'time_signature' (pieces whose bars are not
16 steps), 'bad_time_signature' (pieces whose signature note_seq refuses: zero numerator,
denominator not a power of two), 'negative_time' (notes starting before 0, dropped),
'time_change' (pieces where note_seq finds a change the split left), 'pitch_out_of_range' (notes
dropped: outside the melody range, or a drum pitch with no class), 'no_notes' (a sequence with no
usable notes), 'too_short' (tracks shorter than a window), 'duplicate' and 'over_limit' (windows
dropped). Each is a count of the things named.
"""
import collections
import copy
import importlib
import zlib
from typing import NamedTuple

import note_seq
from note_seq import sequences_lib
import numpy as np
import pretty_midi

from music_vae_lite.families import registry
from music_vae_lite import files

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
OUTPUT_QPM = 120.0
OUTPUT_VELOCITY = 80
MELODY_NO_EVENT = 0
MELODY_NOTE_OFF = 1
MELODY_PITCH_OFFSET = 19  # note-on label = pitch - 19: pitches 21..108 -> labels 2..89
DRUMS_INSTRUMENT = 9
# The original's reduced drum map (note_seq DEFAULT_DRUM_TYPE_PITCHES); first pitch decodes.
DRUM_PITCH_CLASSES = (
    (36, 35),  # kick
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),  # snare
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),  # closed hi-hat
    (46, 67, 72, 74, 79, 81, 26),  # open hi-hat
    (45, 29, 41, 43, 61, 64, 84),  # low tom
    (48, 47, 60, 63, 77, 86, 87),  # mid tom
    (50, 30, 62, 76, 83),  # high tom
    (49, 52, 55, 57, 58),  # crash
    (51, 53, 59, 82),  # ride
)
_DRUM_CLASS_OF_PITCH = {p: c for c, pitches in enumerate(DRUM_PITCH_CLASSES) for p in pitches}
_STEP_SECONDS = 60.0 / OUTPUT_QPM / STEPS_PER_QUARTER


class Part(NamedTuple):
  """One track of a window: what its labels mean, how the encoder reads them, how it sounds.

  kind 'melody': 90 classes (0 no event, 1 note off, 2..89 note on of pitch label + 19);
  kind 'drums': 512 classes (sum of 2**class of the 9 drum classes hit). `roll_input`: the encoder
  reads a drum part as its 9 hit bits plus a "no hit" bit (10 wide) instead of a one-hot.
  """
  name: str
  kind: str  # 'melody' or 'drums'
  instrument: int  # decoded notes' instrument, program and drum flag
  program: int
  roll_input: bool = False

  @property
  def depth(self):
    """Number of classes (the decoder's output width for this part)."""
    return 90 if self.kind == 'melody' else 2 ** len(DRUM_PITCH_CLASSES)

  @property
  def input_depth(self):
    return len(DRUM_PITCH_CLASSES) + 1 if self.roll_input else self.depth

  @property
  def first_onset(self):
    """Labels >= this strike a note (melody: 0 is no event, 1 note off) or at least one drum."""
    return MELODY_NOTE_OFF + 1 if self.kind == 'melody' else 1

  @property
  def is_drum(self):
    return self.kind == 'drums'

  @property
  def transposable(self):
    return self.kind == 'melody'


MELODY_PART = Part('melody', 'melody', instrument=0, program=0)
DRUMS_PART = Part('drums', 'drums', instrument=DRUMS_INSTRUMENT, program=0, roll_input=True)


class ConversionResult(NamedTuple):
  """What `to_tensors` made of one NoteSequence."""
  labels: np.ndarray  # int32 [N, T, P]: the kept windows (P parts), in order of appearance
  rejected: collections.Counter  # reason -> count (see the module docstring)
  num_tracks: int = 0  # melodies / drum tracks extracted, before the length check
  details: tuple = ()  # short phrases saying why things were rejected, e.g. '3/4 time'
  encoding: str = 'melody'
  slice_bars: int = 2
  controls: np.ndarray | None = None  # int32 [N, T] control classes (e.g. chords), or None

  def explain(self):
    """One sentence: how many windows, or why there is none (e.g. '... 3/4 time ...')."""
    kind = {'melody': 'melody', 'drums': 'drum'}.get(self.encoding, self.encoding)
    if len(self.labels):
      dropped = ', '.join(f'{n} {reason}' for reason, n in sorted(self.rejected.items()))
      return (f'{len(self.labels)} {self.slice_bars}-bar {kind} window(s)'
              + (f' (rejected: {dropped})' if dropped else '') + '.')
    return f'No {self.slice_bars}-bar {kind} window: ' + '; '.join(self.details) + '.'


def write_midi(note_sequence, path):
  """Writes a NoteSequence as a MIDI file atomically (a complete file or none).

  The file lasts the sequence's total_time (for a decoded window: the whole window), even when its
  last notes end earlier, so generated drum loops and melodies line up when played back to back: a
  text event marks the end.
  """
  midi = note_seq.midi_io.note_sequence_to_pretty_midi(note_sequence)
  if note_sequence.total_time > midi.get_end_time():
    midi.text_events.append(pretty_midi.Text('end of window', note_sequence.total_time))
  return files.atomic_write(path, midi.write)


def _pieces(note_sequence):
  """The NoteSequence split at tempo and time-signature changes, each piece starting at 0."""
  if sequences_lib.is_quantized_sequence(note_sequence):
    raise ValueError('to_tensors needs an unquantized NoteSequence (times in seconds).')
  last_end = max((note.end_time for note in note_sequence.notes), default=0.0)
  if note_sequence.total_time < last_end:  # hand-built sequences often leave total_time unset
    note_sequence = copy.deepcopy(note_sequence)
    note_sequence.total_time = last_end
  return sequences_lib.split_note_sequence_on_time_changes(note_sequence)


def window_cap(data_config):
  """`config.data.max_windows_per_sequence` as converters take it: None (every window) for 0, which
  the command line uses since it cannot set None."""
  return data_config.max_windows_per_sequence or None


class Converter:
  """The contract every data family implements, and the windowing, dedup, cap and decoding that
  the melody and drum converters share.

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
               max_windows_per_sequence=window_cap(data_config))

  @property
  def window_steps(self):
    return self.slice_bars * STEPS_PER_BAR

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
    pieces = [piece for piece in _pieces(note_sequence) if piece.notes]
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
      for start in range(0, len(track) - self.window_steps + 1, STEPS_PER_BAR):
        window = track[start:start + self.window_steps].copy()
        window[0] = first_labels[start]
        candidates.append(window)
    if tracks and not candidates:
      longest = max(len(track) for track in tracks) // STEPS_PER_BAR
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
    return ConversionResult(labels, rejected, len(tracks), tuple(dict.fromkeys(details)),
                            self.encoding, self.slice_bars)

  def _quantize(self, piece, rejected, details):
    """The piece quantized, or None (counted in `rejected`) if its time signature won't do."""
    try:
      quantized = note_seq.quantize_note_sequence(piece, STEPS_PER_QUARTER)
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
    if sequences_lib.steps_per_bar_in_quantized_sequence(quantized) != STEPS_PER_BAR:
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
    labels = np.pad(labels, (0, -len(labels) % STEPS_PER_BAR))
    gap_steps = int(round(self.gap_bars * STEPS_PER_BAR))
    breaks = np.flatnonzero(np.diff(steps) - 1 >= gap_steps)
    firsts = steps[np.concatenate([[0], breaks + 1])]
    lasts = steps[np.concatenate([breaks, [len(steps) - 1]])]
    return [labels[first - first % STEPS_PER_BAR:-(-(last + 1) // STEPS_PER_BAR) * STEPS_PER_BAR]
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
      values = labels[..., k]
      if part.roll_input:
        bits = (values[..., None] >> np.arange(len(DRUM_PITCH_CLASSES))) & 1
        pieces.append(np.concatenate([bits, (values == 0)[..., None]], axis=-1))
      else:
        pieces.append(np.eye(part.depth, dtype=np.float32)[values])
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
      sequence.tempos.add(time=0.0, qpm=OUTPUT_QPM)
      sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
      sequence.total_time = len(window) * _STEP_SECONDS
      for k, part in enumerate(self.parts):
        notes = (melody_notes(window[:, k]) if part.kind == 'melody'
                 else drum_hits(window[:, k]))
        for start, end, pitch in notes:
          sequence.notes.add(start_time=start * _STEP_SECONDS, end_time=end * _STEP_SECONDS,
                             pitch=pitch, velocity=OUTPUT_VELOCITY, instrument=part.instrument,
                             program=part.program, is_drum=part.is_drum)
      if controls is not None:
        self._annotate(sequence, np.asarray(controls)[n])
      sequences.append(sequence)
    return sequences

  def _annotate(self, sequence, controls):
    """Writes a window's controls [T] into its decoded NoteSequence (families with controls)."""


class MelodyConverter(Converter):
  """Monophonic melodies as 90-class labels (0 no event, 1 note off, 2..89 note on)."""
  encoding = 'melody'
  parts = (MELODY_PART,)
  _track_name = 'melody'

  def __init__(self, slice_bars=2, max_windows_per_sequence=5, min_pitch=21, max_pitch=108,
               gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)
    if not 21 <= min_pitch <= max_pitch <= 108:
      raise ValueError(f'Need 21 <= min_pitch <= max_pitch <= 108 (the 90-class vocabulary), '
                       f'got {min_pitch}..{max_pitch}.')
    self.min_pitch = min_pitch
    self.max_pitch = max_pitch

  def _no_notes_phrase(self):
    return f'no notes between {self.min_pitch} and {self.max_pitch} (drum notes do not count)'

  def _extract_tracks(self, quantized, rejected):
    notes_by_instrument = collections.defaultdict(list)
    for note in quantized.notes:
      if note.is_drum or not note.velocity:
        continue
      if not self.min_pitch <= note.pitch <= self.max_pitch:
        rejected['pitch_out_of_range'] += 1
        continue
      notes_by_instrument[note.instrument].append(
          (note.pitch, note.quantized_start_step, note.quantized_end_step))
    tracks = []
    for instrument in sorted(notes_by_instrument):
      tracks.extend(self._split(*_highest_note_labels(notes_by_instrument[instrument])))
    return tracks

  def _first_labels(self, track):
    # The note-on of the note sounding at each step (0 in silence): the last event so far.
    event_steps = np.where(track != MELODY_NO_EVENT, np.arange(len(track)), 0)
    sounding = track[np.maximum.accumulate(event_steps)]
    return np.where(sounding == MELODY_NOTE_OFF, MELODY_NO_EVENT, sounding)


def melody_notes(labels):
  """(start step, end step, pitch) of the notes of one melody part's labels [T]: a note lasts from
  its note-on to the next note-on, note-off or the end."""
  notes = []
  for step, label in enumerate(np.asarray(labels).tolist()):
    if label != MELODY_NO_EVENT and notes and notes[-1][1] is None:
      notes[-1][1] = step  # a note-on or note-off ends the sounding note
    if label >= MELODY_NOTE_OFF + 1:
      notes.append([step, None, label + MELODY_PITCH_OFFSET])
  if notes and notes[-1][1] is None:
    notes[-1][1] = len(labels)
  return [tuple(note) for note in notes]


def drum_hits(labels):
  """(step, step + 1, pitch) of every hit of one drum part's labels [T], at each class's first
  pitch."""
  return [(step, step + 1, pitches[0])
          for step, label in enumerate(np.asarray(labels).tolist())
          for drum_class, pitches in enumerate(DRUM_PITCH_CLASSES) if label >> drum_class & 1]


def _highest_note_labels(notes):
  """Melody labels (and the sounding mask) of one instrument's (pitch, start, end) notes."""
  num_steps = max(end for _, _, end in notes) + 1  # one silent step after for the last note-off
  top_pitch = np.full(num_steps, -1)
  top_start = np.full(num_steps, -1)
  # Writing in ascending (pitch, start) order leaves the highest, latest-struck note on top.
  for pitch, start, end in sorted(notes):
    top_pitch[start:end] = pitch
    top_start[start:end] = start
  previous_pitch = np.concatenate([[-1], top_pitch[:-1]])
  previous_start = np.concatenate([[-1], top_start[:-1]])
  sounding = top_pitch >= 0
  onsets = sounding & ((top_pitch != previous_pitch) | (top_start != previous_start))
  labels = np.zeros(num_steps, np.int32)
  labels[onsets] = top_pitch[onsets] - MELODY_PITCH_OFFSET
  labels[~sounding & (previous_pitch >= 0)] = MELODY_NOTE_OFF
  return labels, sounding


class DrumsConverter(Converter):
  """Drum tracks as 512-class labels (sum of 2**class of the 9 classes hit at each step); the
  encoder reads them as a 10-wide roll."""
  encoding = 'drums'
  parts = (DRUMS_PART,)
  _track_name = 'drum track'

  def __init__(self, slice_bars=2, max_windows_per_sequence=5, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)

  def _no_notes_phrase(self):
    return 'no drum hits on the mapped drum pitches'

  def _extract_tracks(self, quantized, rejected):
    labels = drum_labels([note for note in quantized.notes if note.is_drum], rejected)
    return [] if labels is None else self._split(labels, labels != 0)


def drum_labels(notes, rejected):
  """512-class labels [L] of quantized drum notes (their onsets, merged), up to the last hit, or
  None when no note has a mapped pitch; unmapped pitches are counted as 'pitch_out_of_range'."""
  hits = []
  for note in notes:
    if not note.velocity:
      continue
    if note.pitch not in _DRUM_CLASS_OF_PITCH:
      rejected['pitch_out_of_range'] += 1
      continue
    hits.append((note.quantized_start_step, _DRUM_CLASS_OF_PITCH[note.pitch]))
  if not hits:
    return None
  labels = np.zeros(max(step for step, _ in hits) + 1, np.int32)
  for step, drum_class in hits:
    labels[step] |= 1 << drum_class
  return labels


def get_converter(data_config):
  """The converter described by `config.data` (encoding, slice_bars, max_windows_per_sequence,
  and the family's own options, which its constructor names)."""
  if data_config.encoding not in registry.ENCODINGS:
    raise ValueError(f'Unknown data encoding {data_config.encoding!r}: expected one of '
                     f'{", ".join(sorted(registry.ENCODINGS))}.')
  module_name, class_name = registry.ENCODINGS[data_config.encoding].split(':')
  converter_class = getattr(importlib.import_module(module_name), class_name)
  return converter_class.from_config(data_config)
