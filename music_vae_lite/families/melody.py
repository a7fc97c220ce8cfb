"""The melody family: monophonic melodies as 90-class labels (0 no event, 1 note off, 2..89 note
on of pitch label + 19), and the melody part that the trio and chord families reuse.

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

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

Decoding: a melody note lasts from its note-on to the next note-on, note-off or the end (melody:
instrument 0, program 0).

Attributes of a melody part (`MELODY_ATTRIBUTES`, functions of labels [N, T] on the model's own
grid, so 2- and 16-bar windows alike): the paper's five (MusicVAE, section 5; it names them but
gives no formulas, so these are ours) and two more.
- `c_diatonic`: share of note-ons whose pitch class is in the C major scale (C D E F G A B).
- `note_density`: note-ons per bar.
- `average_interval`: mean absolute interval between consecutive note-ons, in semitones.
- `syncopation_16th`: share of note-ons that start off the 8th-note grid (an odd 16th step) and
  still sound at the next 8th-note position (the next step holds no event).
- `syncopation_8th`: share of note-ons that start on the off-beat 8th (the "and", two steps after
  a beat) and still sound at the next beat (the next two steps hold no event).
  A note held past the window's end counts as not held (nothing says it would be).
- `pitch_height`: mean MIDI pitch of the note-ons (60 = C4).
- `pitch_range`: highest minus lowest note-on pitch, in semitones.
A share or mean over no note-ons (an interval over fewer than two) is NaN.
"""
import collections
import dataclasses

import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import label_windows

MELODY_NO_EVENT = 0
MELODY_NOTE_OFF = 1
MELODY_FIRST_NOTE = 2  # labels >= this are note-ons
MELODY_PITCH_OFFSET = 19  # note-on label = pitch - 19: pitches 21..108 -> labels 2..89
MIN_PITCH, MAX_PITCH = 21, 108  # the vocabulary's pitches
NUM_CLASSES = MAX_PITCH - MELODY_PITCH_OFFSET + 1  # 90


@dataclasses.dataclass(frozen=True)
class MelodyPart(label_windows.Part):
  """A melody-kind part: 90 classes (0 no event, 1 note off, 2..89 note on of pitch label + 19).
  Its notes lie in [min_pitch, max_pitch] (the converter's range; transposition keeps them
  there)."""
  min_pitch: int = MIN_PITCH
  max_pitch: int = MAX_PITCH

  kind = 'melody'
  depth = NUM_CLASSES
  first_onset = MELODY_FIRST_NOTE
  transposable = True

  @property
  def attributes(self):
    return MELODY_ATTRIBUTES

  @property
  def label_range(self):
    """The lowest and highest note-on label of the part's pitch range."""
    return self.min_pitch - MELODY_PITCH_OFFSET, self.max_pitch - MELODY_PITCH_OFFSET

  def notes(self, values):
    return melody_notes(values)

  def picture_notes(self, values):
    """(pitch, start step, end step) of every note (pianoroll)."""
    return [(pitch, start, end) for start, end, pitch in melody_notes(values)]

  def describe(self):
    return dict(super().describe(), min_pitch=self.min_pitch, max_pitch=self.max_pitch,
                tokens='0 no event (the note goes on), 1 note off, k >= 2 note on of MIDI '
                f'pitch k + {MELODY_PITCH_OFFSET}',
                events=f'{self.name}_events: MIDI pitch of a note on, -1 note off, -2 no event',
                inputs='one-hot of the tokens')

  def export_events(self, values):
    """`<name>_events` [N, T]: the MIDI pitch of a note on, -1 note off, -2 no event (note_seq's
    melody convention)."""
    tf = contract.tensorflow()
    return {f'{self.name}_events': tf.where(values >= MELODY_FIRST_NOTE,
                                            values + MELODY_PITCH_OFFSET,
                                            values - MELODY_FIRST_NOTE)}


MELODY_PART = MelodyPart('melody', instrument=0, program=0)


class MelodyConverter(label_windows.LabelConverter):
  """Monophonic melodies as 90-class labels (0 no event, 1 note off, 2..89 note on)."""
  encoding = 'melody'
  parts = (MELODY_PART,)
  _track_name = 'melody'

  def __init__(self, slice_bars=2, max_windows_per_sequence=5, min_pitch=MIN_PITCH,
               max_pitch=MAX_PITCH, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)
    if not MIN_PITCH <= min_pitch <= max_pitch <= MAX_PITCH:
      raise ValueError(f'Need {MIN_PITCH} <= min_pitch <= max_pitch <= {MAX_PITCH} (the 90-class '
                       f'vocabulary), got {min_pitch}..{max_pitch}.')
    self.min_pitch = min_pitch
    self.max_pitch = max_pitch
    self.parts = tuple(dataclasses.replace(part, min_pitch=min_pitch, max_pitch=max_pitch)
                       if isinstance(part, MelodyPart) else part for part in self.parts)

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
      tracks.extend(self._split(*highest_note_labels(notes_by_instrument[instrument])))
    return tracks

  def _first_labels(self, track):
    return window_start_labels(track)

  def magenta_js_converter(self, num_segments=None):
    args = {'numSteps': self.window_steps, 'minPitch': self.min_pitch,
            'maxPitch': self.max_pitch}
    if num_segments:
      args['numSegments'] = num_segments
    return {'type': 'MelodyConverter', 'args': args}


def window_start_labels(track):
  """The label a window starting at each step of a melody track [L] begins with: the note-on of
  the note sounding there (0 in silence), the last event so far."""
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
    if label >= MELODY_FIRST_NOTE:
      notes.append([step, None, label + MELODY_PITCH_OFFSET])
  if notes and notes[-1][1] is None:
    notes[-1][1] = len(labels)
  return [tuple(note) for note in notes]


def highest_note_labels(notes):
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


# ---------------------------------------------------------------------------------------------
# Attributes (see the module docstring).


def _melody(labels):
  """(labels int64 [N, T], note-on mask [N, T], MIDI pitches [N, T] (valid at note-ons))."""
  labels = np.asarray(labels, np.int64)
  if labels.ndim != 2:
    raise ValueError(f'Melody attributes take one part\'s labels [N, T], got shape {labels.shape}.')
  return labels, labels >= MELODY_FIRST_NOTE, labels + MELODY_PITCH_OFFSET


def c_diatonic(labels):
  _, onsets, pitches = _melody(labels)
  in_scale = onsets & np.isin(pitches % 12, _C_MAJOR_PITCH_CLASSES)
  return contract.share(in_scale.sum(1), onsets.sum(1))


def note_density(labels):
  labels, onsets, _ = _melody(labels)
  return onsets.sum(1) / (labels.shape[1] / contract.STEPS_PER_BAR)


def average_interval(labels):
  labels, onsets, pitches = _melody(labels)
  steps = np.arange(labels.shape[1])
  # For each step, the step of the latest note-on strictly before it (-1: none yet).
  latest = np.maximum.accumulate(np.where(onsets, steps, -1), axis=1)
  previous = np.concatenate([np.full([len(labels), 1], -1), latest[:, :-1]], axis=1)
  has_previous = onsets & (previous >= 0)
  previous_pitch = np.take_along_axis(pitches, np.maximum(previous, 0), axis=1)
  jumps = np.where(has_previous, np.abs(pitches - previous_pitch), 0)
  return contract.share(jumps.sum(1), has_previous.sum(1))


def _held_for(labels, steps):
  """[N, T]: the step holds no event for the next `steps` steps (all inside the window), so a note
  starting there still sounds `steps` steps later."""
  held = np.ones(labels.shape, bool)
  held[:, labels.shape[1] - steps:] = False
  for k in range(1, steps + 1):
    held[:, :-k] &= labels[:, k:] == MELODY_NO_EVENT
  return held


def syncopation_16th(labels):
  labels, onsets, _ = _melody(labels)
  off_eighth_grid = np.arange(labels.shape[1]) % 2 == 1
  syncopated = onsets & off_eighth_grid & _held_for(labels, 1)
  return contract.share(syncopated.sum(1), onsets.sum(1))


def syncopation_8th(labels):
  labels, onsets, _ = _melody(labels)
  off_beat_eighth = np.arange(labels.shape[1]) % 4 == 2
  syncopated = onsets & off_beat_eighth & _held_for(labels, 2)
  return contract.share(syncopated.sum(1), onsets.sum(1))


def pitch_height(labels):
  _, onsets, pitches = _melody(labels)
  return contract.share(np.where(onsets, pitches, 0).sum(1), onsets.sum(1))


def pitch_range(labels):
  _, onsets, pitches = _melody(labels)
  highest = np.where(onsets, pitches, -1).max(1)
  lowest = np.where(onsets, pitches, 1000).min(1)
  return np.where(onsets.any(1), highest - lowest, np.nan).astype(np.float64)


_C_MAJOR_PITCH_CLASSES = (0, 2, 4, 5, 7, 9, 11)
_SHARE = (0.0, 1.0)
_SPAN = (0.0, float(MAX_PITCH - MIN_PITCH))
MELODY_ATTRIBUTES = (
    contract.Attribute('c_diatonic', 'share of note-ons', 'note-ons in the C major scale',
                       c_diatonic, _SHARE),
    contract.Attribute('note_density', 'note-ons per bar', 'how many notes start per bar',
                       note_density, (0.0, float(contract.STEPS_PER_BAR))),
    contract.Attribute('average_interval', 'semitones', 'mean leap between consecutive notes',
                       average_interval, _SPAN),
    contract.Attribute('syncopation_16th', 'share of note-ons',
                       'notes starting off the 8th-note grid and held over the next 8th',
                       syncopation_16th, _SHARE),
    contract.Attribute('syncopation_8th', 'share of note-ons',
                       'notes starting on the off-beat 8th and held over the next beat',
                       syncopation_8th, _SHARE),
    contract.Attribute('pitch_height', 'MIDI pitch', 'mean pitch of the notes (60 = C4)',
                       pitch_height, (float(MIN_PITCH), float(MAX_PITCH))),
    contract.Attribute('pitch_range', 'semitones', 'highest minus lowest note', pitch_range,
                       _SPAN),
)
