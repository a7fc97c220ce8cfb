"""The drum family: drum tracks as 512-class labels (label = sum of 2**class for the classes hit at
a step), and the drum part that the trio family reuses.

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

Only `is_drum` notes whose pitch is in `DRUM_PITCH_CLASSES` are kept, all drum instruments merged;
only onsets count. Decoding: a drum hit is one step long at its class's first pitch (instrument 9,
is_drum).

Attributes of a drum part (`DRUM_ATTRIBUTES`, functions of labels [N, T]; a share of no hits is
NaN):
- `density`: drum hits per bar (each class hit at a step counts once).
- `hihat_share`: share of hits on the closed or open hi-hat.
- `kick_snare_balance`: kick hits / (kick + snare hits): 0 all snare, 1 all kick.
- `syncopation`: share of hits off the 8th-note grid (on an odd 16th step).
"""
import dataclasses

import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import label_windows

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


# Their names, in order (pictures: the bottom row first).
DRUM_NAMES = ('kick', 'snare', 'closed hi-hat', 'open hi-hat', 'low tom', 'mid tom', 'high tom',
              'crash', 'ride')


@dataclasses.dataclass(frozen=True)
class DrumPart(label_windows.Part):
  """A drum-kind part: 512 classes (sum of 2**class of the 9 drum classes hit). `roll_input`: the
  encoder reads it as its 9 hit bits plus a "no hit" bit (10 wide) instead of a one-hot."""
  roll_input: bool = False

  kind = 'drums'
  depth = 2 ** len(DRUM_PITCH_CLASSES)
  first_onset = 1
  is_drum = True

  @property
  def attributes(self):
    return DRUM_ATTRIBUTES

  @property
  def input_depth(self):
    return len(DRUM_PITCH_CLASSES) + 1 if self.roll_input else self.depth

  def encoder_input(self, values):
    if not self.roll_input:
      return super().encoder_input(values)
    tf = contract.tensorflow()
    values = tf.cast(values, tf.int32)
    bits = hit_bits(values)
    no_hit = tf.cast(tf.equal(values, 0), tf.int32)[..., tf.newaxis]
    return tf.cast(tf.concat([bits, no_hit], axis=-1), tf.float32)

  def notes(self, values):
    return drum_hits(values)

  def picture_notes(self, values):
    """(drum class, step, step + 1) of every hit (pianoroll)."""
    return [(drum_class, step, step + 1)
            for step, label in enumerate(np.asarray(values).reshape(-1).tolist())
            for drum_class in range(len(DRUM_PITCH_CLASSES)) if label >> drum_class & 1]

  def describe(self):
    return dict(super().describe(),
                drum_pitch_classes=[list(c) for c in DRUM_PITCH_CLASSES],
                tokens='bit c set: drum class c is hit at this step (0 = no hit)',
                events='drum_hits: [N, T, classes] 0/1; play the first pitch of each class hit',
                inputs=('bit c of the token for each class, then 1 where no class is hit'
                        if self.roll_input else 'one-hot of the tokens'))

  def export_events(self, values):
    """`drum_hits` [N, T, 9]: 1 where the class is hit."""
    return {'drum_hits': hit_bits(values)}


def hit_bits(values):
  """The hit bits [..., 9] (int32) of drum labels [...] (TensorFlow)."""
  tf = contract.tensorflow()
  classes = tf.range(len(DRUM_PITCH_CLASSES), dtype=tf.int32)
  return tf.bitwise.bitwise_and(tf.bitwise.right_shift(tf.cast(values, tf.int32)[..., tf.newaxis],
                                                       classes), 1)


DRUMS_PART = DrumPart('drums', instrument=DRUMS_INSTRUMENT, program=0, roll_input=True)


class DrumsConverter(label_windows.LabelConverter):
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

  def magenta_js_converter(self, num_segments=None):
    # Explicit classes: Magenta.js's default drum map differs from ours.
    args = {'numSteps': self.window_steps,
            'pitchClasses': [list(c) for c in DRUM_PITCH_CLASSES]}
    if num_segments:
      args['numSegments'] = num_segments
    return {'type': 'DrumsConverter', 'args': args}


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


def drum_hits(labels):
  """(step, step + 1, pitch) of every hit of one drum part's labels [T], at each class's first
  pitch."""
  return [(step, step + 1, pitches[0])
          for step, label in enumerate(np.asarray(labels).tolist())
          for drum_class, pitches in enumerate(DRUM_PITCH_CLASSES) if label >> drum_class & 1]


# ---------------------------------------------------------------------------------------------
# Attributes (see the module docstring).

_KICK, _SNARE, _CLOSED_HIHAT, _OPEN_HIHAT = 0, 1, 2, 3


def _hits(labels):
  """Drum hit bits, int64 [N, T, 9] (numpy)."""
  labels = np.asarray(labels, np.int64)
  if labels.ndim != 2:
    raise ValueError(f'Drum attributes take one part\'s labels [N, T], got shape {labels.shape}.')
  return (labels[..., None] >> np.arange(len(DRUM_PITCH_CLASSES))) & 1


def hit_density(labels):
  hits = _hits(labels)
  return hits.sum((1, 2)) / (hits.shape[1] / contract.STEPS_PER_BAR)


def hihat_share(labels):
  hits = _hits(labels)
  return contract.share(hits[..., _CLOSED_HIHAT].sum(1) + hits[..., _OPEN_HIHAT].sum(1),
                        hits.sum((1, 2)))


def kick_snare_balance(labels):
  hits = _hits(labels)
  kicks = hits[..., _KICK].sum(1)
  return contract.share(kicks, kicks + hits[..., _SNARE].sum(1))


def drum_syncopation(labels):
  hits = _hits(labels)
  return contract.share(hits[:, 1::2].sum((1, 2)), hits.sum((1, 2)))


_SHARE = (0.0, 1.0)
DRUM_ATTRIBUTES = (
    contract.Attribute('density', 'hits per bar', 'drum hits per bar', hit_density,
                       (0.0, float(contract.STEPS_PER_BAR * len(DRUM_PITCH_CLASSES)))),
    contract.Attribute('hihat_share', 'share of hits', 'hits on the closed or open hi-hat',
                       hihat_share, _SHARE),
    contract.Attribute('kick_snare_balance', 'kick / (kick + snare)', '0 all snare, 1 all kick',
                       kick_snare_balance, _SHARE),
    contract.Attribute('syncopation', 'share of hits', 'hits off the 8th-note grid',
                       drum_syncopation, _SHARE),
)
