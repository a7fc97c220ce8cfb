"""The GrooVAE family: drum performances as, for every 16th-note step and each of 9 drum classes, a
hit, its velocity and its timing offset from the grid (the original's GrooveConverter).

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

A window holds three float32 arrays (T, 9), the drum classes in `DRUM_NAMES` order:
- `hits`: 1 where the class is struck at the step, else 0;
- `velocities`: the hit's MIDI velocity / 127, in [0, 1] (0 without a hit);
- `offsets`: 2 x (grid time - onset) / step, in [-1, 1] (0 without a hit): positive is early, as
  the original stores it (a note a quarter of a step late has -0.5).
The decoder (nn/decoders/groove.py) writes all three. The encoder reads them side by side, 27
wide in the original's order [hits, velocities, offsets], after the family's options change
what it sees (the targets stay the true performance):
- `humanize`: velocities and offsets zeroed: the model learns to add them to a quantized,
  flat-velocity pattern;
- `tapify`: each step collapsed to one hit on the open hi-hat (class 3), with the velocity and
  offset of the step's loudest hit: the model turns a tapped rhythm into a kit;
- `fixed_velocities`: velocities zeroed;
- `add_instruments`: these drum classes (indices) removed from the input: the model learns to
  add them (the original's groovae_2bar_add_closed_hh removes class 2, the closed hi-hat);
- `max_note_dropout_probability` (p_max > 0; 0: off): training batches only (`augment`), notes
  dropped from the input at random: each window draws p ~ U(0, p_max), and each hit is dropped
  with probability max(0.2, 1 - velocity) * p (soft notes go first), afresh for every batch;
- `hits_as_controls`: the decoder is also given the true hits of every step (9 controls per step,
  `decoder_controls`), and the encoder reads them after the 27 inputs (36 wide, as the original
  concatenates its controls to the encoder's input), so the model learns only velocities and
  offsets for the hits it is told. Nothing more is stored: the controls are the window's hits.
They apply in the original's order: note dropout, tapify, humanize, fixed velocities, removed
instruments. As in the original, tapify picks each step's loudest hit among those that survived
the dropout but copies its values from the true performance (a step whose hits were all dropped
reads the kick's).

Extraction (`to_tensors`), following the original's `GrooveConverter.to_tensors`:
- Pieces, quantization (4 steps per quarter, 16-step bars) and their rejection reasons are the
  contract's. Each piece's step length comes from its tempo.
- Every drum note (`is_drum`) on a mapped pitch (`config.family.drum_map`: 'roland', the
  original's training map, or 'reduced', note_seq's and our drum family's) counts at the step it
  is quantized to; several notes of one class at one step: the loudest (the first of equals).
- The piece runs from its first bar to the bar of its last onset; windows of `slice_bars` bars
  hop by their own length from the start (no one-bar hop: the original's `split_bars` without
  `hop_size`). Windows without a hit are kept, as the original does (dedup leaves at most one).
- Duplicates and the window cap are the contract's (`keep_windows`).

Decoding (`from_tensors`): a hit is a value > 0.5; its note lasts one step at the class's first
pitch (instrument 9, is_drum), with velocity round(v * 127) and onset (t - offset / 2) steps, at
120 qpm.

Attributes (`GROOVE_ATTRIBUTES`, for attribute vectors): the drum family's `density`,
`hihat_share`, `kick_snare_balance` and `syncopation` of the hits, and four of the groove's own,
over each window's hits: `loudness` (mean MIDI velocity), `dynamics` (its s.d.: accents and ghost
notes), `laid_back` (mean steps behind the grid; negative: ahead) and `swing` (how many steps
later the off-beat 8ths come than the beats).

Where we differ from the original, and why:
- Note dropout applies to training batches only; the original's converter drops notes whenever
  it converts, so its evaluation and its TrainedModel.encode see dropped notes too.
- One drum map for reading and writing (`drum_map`, default 'roland'); the original reads
  training data with the Roland map and inference input and output with the reduced one, which
  puts a few toms in another class (45, 48) and writes toms on other pitches.
- Only `is_drum` notes are read, and drum pitches outside the map are dropped (counted as
  'pitch_out_of_range'); the original reads every note and fails on an unmapped pitch.
- Decoded velocities are at least 1 (a MIDI note-on of velocity 0 is a note-off) and onsets at
  least 0 (a first-step hit played early would start before the window).
"""
import collections

import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import drums

HITS, VELOCITIES, OFFSETS = 'hits', 'velocities', 'offsets'
NUM_DRUMS = len(drums.DRUM_NAMES)
OPEN_HI_HAT = 3  # tapify's channel
# The original's ROLAND_DRUM_PITCH_CLASSES (Roland V-Drums, as in the Groove MIDI Dataset), in
# DRUM_NAMES order; the first pitch of a class decodes.
ROLAND_DRUM_PITCH_CLASSES = (
    (36,),  # kick
    (38, 37, 40),  # snare
    (42, 22, 44),  # closed hi-hat
    (46, 26),  # open hi-hat
    (43, 58),  # low tom
    (47, 45),  # mid tom
    (50, 48),  # high tom
    (49, 52, 55, 57),  # crash
    (51, 53, 59),  # ride
)
DRUM_MAPS = {'roland': ROLAND_DRUM_PITCH_CLASSES, 'reduced': drums.DRUM_PITCH_CLASSES}


class GrooveConverter(contract.Converter):
  """Drum performances as hits, velocities and offsets per step and drum class; see the module
  docstring."""
  encoding = 'groove'
  OPTIONS = {'humanize': False, 'tapify': False, 'fixed_velocities': False,
             'add_instruments': (), 'max_note_dropout_probability': 0.0,
             'hits_as_controls': False, 'drum_map': 'roland'}
  WINDOW_OPTIONS = ('drum_map',)  # the others change only the encoder's inputs

  def __init__(self, slice_bars=2, max_windows_per_sequence=20, humanize=False, tapify=False,
               fixed_velocities=False, add_instruments=(), max_note_dropout_probability=0.0,
               hits_as_controls=False, drum_map='roland', seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, seed)
    for name, value in (('humanize', humanize), ('tapify', tapify),
                        ('fixed_velocities', fixed_velocities),
                        ('hits_as_controls', hits_as_controls)):
      if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f'family.{name} must be True or False, got {value!r}.')
    add_instruments = tuple(add_instruments or ())
    if any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k < NUM_DRUMS
           for k in add_instruments):
      raise ValueError(f'family.add_instruments must be drum classes 0-{NUM_DRUMS - 1} '
                       f'({", ".join(f"{k} {name}" for k, name in enumerate(drums.DRUM_NAMES))}),'
                       f' got {add_instruments!r}.')
    if (isinstance(max_note_dropout_probability, bool)
        or not isinstance(max_note_dropout_probability, (int, float, np.floating))
        or not 0.0 <= max_note_dropout_probability <= 1.0):
      raise ValueError('family.max_note_dropout_probability must be a number in [0, 1] (0: no '
                       f'note dropout), got {max_note_dropout_probability!r}.')
    if drum_map not in DRUM_MAPS:
      raise ValueError(f"family.drum_map must be one of {', '.join(DRUM_MAPS)}, got "
                       f'{drum_map!r}.')
    self.humanize, self.tapify = bool(humanize), bool(tapify)
    self.fixed_velocities = bool(fixed_velocities)
    self.add_instruments = tuple(int(k) for k in add_instruments)
    self.max_note_dropout_probability = float(max_note_dropout_probability)
    self.hits_as_controls = bool(hits_as_controls)
    self.drum_map = drum_map
    self.pitch_classes = DRUM_MAPS[drum_map]
    self._class_of_pitch = {pitch: k for k, pitches in enumerate(self.pitch_classes)
                            for pitch in pitches}

  # ---------------------------------------------------------------------------------------------
  # The declaration.

  @property
  def window_spec(self):
    steps = self.window_steps
    return (contract.ArraySpec(HITS, (steps, NUM_DRUMS), 'float32', value_range=(0.0, 1.0),
                               columns=drums.DRUM_NAMES),
            contract.ArraySpec(VELOCITIES, (steps, NUM_DRUMS), 'float32',
                               value_range=(0.0, 1.0), columns=drums.DRUM_NAMES),
            contract.ArraySpec(OFFSETS, (steps, NUM_DRUMS), 'float32', value_range=(-1.0, 1.0),
                               columns=drums.DRUM_NAMES))

  @property
  def control_spec(self):
    """With hits_as_controls, the decoder's controls: the window's hits (T, 9)."""
    if not self.hits_as_controls:
      return None
    return contract.ArraySpec(contract.CONTROLS, (self.window_steps, NUM_DRUMS), 'float32',
                              value_range=(0.0, 1.0), columns=drums.DRUM_NAMES)

  @property
  def input_depth(self):
    """Hits, velocities and offsets, then the controls (hits) with hits_as_controls."""
    return 3 * NUM_DRUMS + self.control_depth

  @property
  def output_depth(self):
    """The decoder's outputs per step: hit logits, velocity and offset pre-activations."""
    return 3 * NUM_DRUMS

  # ---------------------------------------------------------------------------------------------
  # Extraction.

  def to_tensors(self, note_sequence):
    """The windows of one NoteSequence; see the module docstring."""
    rejected = collections.Counter()
    details = []
    performances = []
    pieces = contract.note_pieces(note_sequence, rejected, details)
    for piece in pieces:
      quantized = self._quantize(piece, rejected, details)
      if quantized is not None:
        performance = self._performance(quantized, rejected)
        if performance is not None:
          performances.append(performance)
    if not performances:
      rejected['no_notes'] += 1
      details.append('no drum hits on the mapped drum pitches')
    candidates = []
    steps = self.window_steps
    for performance in performances:
      if len(performance[0]) < steps:
        rejected['too_short'] += 1
      candidates.extend(tuple(array[start:start + steps] for array in performance)
                        for start in range(0, len(performance[0]) - steps + 1, steps))
    if performances and not candidates:
      longest = max(len(p[0]) for p in performances) // contract.STEPS_PER_BAR
      details.append(f'the longest drum performance is {longest} bar(s), shorter than a window')
    windows = self.keep_windows(candidates, lambda window: b''.join(a.tobytes() for a in window),
                                rejected)
    if windows:
      arrays = {spec.name: np.stack([window[k] for window in windows])
                for k, spec in enumerate(self.window_spec)}
    else:
      arrays = self.empty_arrays()
    return contract.ConversionResult(arrays, rejected, len(performances),
                                     tuple(dict.fromkeys(details)), self.encoding,
                                     self.slice_bars)

  def _performance(self, quantized, rejected):
    """(hits, velocities, offsets), float32 [whole bars, 9] each, of a quantized piece's drum
    notes, or None without a mapped one."""
    qpm = quantized.tempos[0].qpm if quantized.tempos else 120.0
    step_seconds = 60.0 / qpm / contract.STEPS_PER_QUARTER
    loudest = {}  # (step, class) -> note
    for note in quantized.notes:
      if not note.is_drum:
        continue
      drum = self._class_of_pitch.get(note.pitch)
      if drum is None:
        rejected['pitch_out_of_range'] += 1
        continue
      key = (int(note.quantized_start_step), drum)
      if key not in loudest or note.velocity > loudest[key].velocity:
        loudest[key] = note
    if not loudest:
      return None
    bar = contract.STEPS_PER_BAR
    num_steps = (max(step for step, _ in loudest) // bar + 1) * bar
    hits, velocities, offsets = (np.zeros([num_steps, NUM_DRUMS], np.float32) for _ in range(3))
    for (step, drum), note in loudest.items():
      hits[step, drum] = 1.0
      velocities[step, drum] = note.velocity / 127.0
      offset = 2.0 * (step * step_seconds - note.start_time) / step_seconds
      offsets[step, drum] = np.clip(offset, -1.0, 1.0)
    return hits, velocities, offsets

  # ---------------------------------------------------------------------------------------------
  # Decoding, pictures, export.

  def from_tensors(self, windows, controls=None):
    """Windows ({hits, velocities, offsets}, each [N, T, 9] or one window's [T, 9]) -> a list of
    NoteSequences; see the module docstring."""
    del controls  # the family stores none
    arrays = getattr(windows, 'arrays', windows)
    if isinstance(arrays, dict) and np.ndim(arrays.get(HITS)) == 2:  # one window
      arrays = {name: np.asarray(array)[np.newaxis] for name, array in arrays.items()}
    arrays = self.window_arrays(arrays)
    sequences = []
    for hits, velocities, offsets in zip(arrays[HITS], arrays[VELOCITIES], arrays[OFFSETS]):
      sequence = contract.decoded_sequence(len(hits))
      for step, drum in zip(*np.nonzero(hits > 0.5)):
        velocity = int(np.clip(np.round(velocities[step, drum] * 127), 1, 127))
        onset = max(step - np.clip(offsets[step, drum] / 2.0, -0.5, 0.5), 0.0)
        sequence.notes.add(start_time=onset * contract.STEP_SECONDS,
                           end_time=(onset + 1) * contract.STEP_SECONDS,
                           pitch=self.pitch_classes[drum][0], velocity=velocity,
                           instrument=drums.DRUMS_INSTRUMENT, is_drum=True)
      sequences.append(sequence)
    return sequences

  def starts_with_note(self, window):
    return bool(np.any(np.asarray(window[HITS])[0] > 0.5))

  def picture_parts(self, window):
    """One drums part; each hit (drum, step, step + 1, velocity 0-1, offset), which pianoroll
    shades by its velocity and shifts by its offset."""
    hits, velocities, offsets = (np.asarray(window[name]) for name in (HITS, VELOCITIES, OFFSETS))
    return [('drums', [(int(drum), int(step), int(step) + 1, float(velocities[step, drum]),
                        float(offsets[step, drum]))
                       for step, drum in zip(*np.nonzero(hits > 0.5))])]

  def magenta_js_unsupported_reason(self):
    """Magenta.js's GrooveConverter knows humanize and tapify (which also drops the velocities,
    as tapify with fixed_velocities does here), not the other input options."""
    if self.add_instruments:
      return 'Magenta.js\'s GrooveConverter has no add_instruments'
    if self.tapify != self.fixed_velocities and not self.humanize:
      return ('Magenta.js\'s GrooveConverter drops the velocities with tapify and only then '
              f'(tapify={self.tapify}, fixed_velocities={self.fixed_velocities})')
    return None

  def magenta_js_converter(self, num_segments=None):
    """Magenta.js's GrooveConverter with our drum map; None where it cannot read the windows as
    we do (`magenta_js_unsupported_reason`). Note dropout is training only: nothing to export."""
    del num_segments  # the groove decoder is flat
    if self.magenta_js_unsupported_reason():
      return None
    return {'type': 'GrooveConverter',
            'args': {'numSteps': self.window_steps, 'stepsPerQuarter': contract.STEPS_PER_QUARTER,
                     'humanize': self.humanize, 'tapify': self.tapify,
                     'pitchClasses': [list(c) for c in self.pitch_classes]}}

  def magenta_js_controls(self):
    """With hits_as_controls, the hits [T, 9] a Magenta.js caller passes as
    `controlArgs.extraControls.hits` (one pattern for the whole batch, as Magenta.js tiles it)."""
    return [{'name': HITS, 'depth': NUM_DRUMS}] if self.hits_as_controls else []

  def describe(self):
    description = super().describe()
    description.update(
        drum_classes=list(drums.DRUM_NAMES),
        drum_pitch_classes=[list(c) for c in self.pitch_classes],
        inputs=('hits, velocities, offsets side by side (27 per step), as the options leave '
                'them, then with hits_as_controls the true hits (9): ' + ', '.join(
                    f'{name}={getattr(self, name)!r}' for name in (
                        'humanize', 'tapify', 'fixed_velocities', 'add_instruments',
                        'hits_as_controls'))),
        offsets='2 x (grid time - onset) / step: positive is early')
    return description

  @property
  def attributes(self):
    return GROOVE_ATTRIBUTES

  # ---------------------------------------------------------------------------------------------
  # Batches (TensorFlow).

  def encoder_inputs(self, arrays):
    """[hits, velocities, offsets] as the options change them, then with hits_as_controls the
    true hits (module docstring), float32 [B, T, 27 or 36]. No note dropout: that is `augment`'s,
    for training batches."""
    return self._encoder_inputs(arrays)

  def augment(self, arrays, seed, transpose=0):
    """Training batches: with max_note_dropout_probability, the batch with its encoder 'inputs'
    made from randomly thinned hits (module docstring; the targets stay whole); drums are never
    transposed."""
    del transpose
    if not self.max_note_dropout_probability:
      return arrays
    tf = contract.tensorflow()
    velocities = tf.cast(arrays[VELOCITIES], tf.float32)
    window_seed, note_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    probability = tf.random.stateless_uniform(
        tf.shape(velocities)[:1], window_seed, maxval=self.max_note_dropout_probability)
    drop = tf.maximum(0.2, 1.0 - velocities) * probability[:, tf.newaxis, tf.newaxis]
    keep = tf.cast(tf.random.stateless_uniform(tf.shape(velocities), note_seed) >= drop,
                   tf.float32)
    augmented = dict(arrays)
    augmented[contract.INPUTS] = self._encoder_inputs(arrays, keep)
    return augmented

  def decoder_controls(self, arrays):
    """With hits_as_controls, the true hits [B, T, 9] (float32); else None."""
    if not self.hits_as_controls:
      return None
    tf = contract.tensorflow()
    return tf.cast(arrays[HITS], tf.float32)

  def _encoder_inputs(self, arrays, keep=None):
    """The encoder inputs, `keep` [B, T, 9] (1: kept, 0: dropped) thinning the hits first."""
    tf = contract.tensorflow()
    true_arrays = [tf.cast(arrays[name], tf.float32) for name in (HITS, VELOCITIES, OFFSETS)]
    hits, velocities, offsets = (true_arrays if keep is None
                                 else [array * keep for array in true_arrays])
    if self.tapify:
      # The loudest surviving hit picks the class; its values come from the true performance.
      loudest = tf.one_hot(tf.argmax(velocities, axis=-1), NUM_DRUMS, dtype=tf.float32)
      channel = tf.one_hot(OPEN_HI_HAT, NUM_DRUMS, dtype=tf.float32)
      hits, velocities, offsets = (
          tf.reduce_sum(array * loudest, axis=-1, keepdims=True) * channel
          for array in true_arrays)
    if self.humanize:
      velocities, offsets = tf.zeros_like(velocities), tf.zeros_like(offsets)
    if self.fixed_velocities:
      velocities = tf.zeros_like(velocities)
    if self.add_instruments:
      removed = np.ones([NUM_DRUMS], np.float32)
      removed[list(self.add_instruments)] = 0.0
      hits, velocities, offsets = (array * removed for array in (hits, velocities, offsets))
    parts = [hits, velocities, offsets]
    if self.hits_as_controls:
      parts.append(true_arrays[0])
    return tf.concat(parts, axis=-1)


# ---------------------------------------------------------------------------------------------
# Attributes: the drum family's four on the hits, and the groove's own, of velocities and timing.

def _struck(arrays):
  return np.asarray(arrays[HITS]) > 0.5


def _hit_labels(arrays):
  """The drum family's labels [N, T] (a bit per class) of the hits, so its attributes apply."""
  return (_struck(arrays).astype(np.int64) << np.arange(NUM_DRUMS)).sum(-1)


def _on_hit_labels(attribute):
  return attribute._replace(function=lambda arrays: attribute.function(_hit_labels(arrays)))


def _over(struck, values, reduce):
  """`reduce` of `values` [N, T, 9] over each window's `struck` cells; NaN for a window without
  one."""
  return np.array([reduce(value[hit]) if hit.any() else np.nan
                   for value, hit in zip(np.asarray(values, np.float64), struck)])


def loudness(arrays):
  return _over(_struck(arrays), np.asarray(arrays[VELOCITIES]) * 127.0, np.mean)


def dynamics(arrays):
  return _over(_struck(arrays), np.asarray(arrays[VELOCITIES]) * 127.0, np.std)


def _lateness(arrays):
  """Steps behind the grid per step and class (offsets are 2 x (grid - onset) / step)."""
  return -np.asarray(arrays[OFFSETS], np.float64) / 2.0


def laid_back(arrays):
  return _over(_struck(arrays), _lateness(arrays), np.mean)


def swing(arrays):
  """Mean lateness of the hits on off-beat 8ths (step 2 of each beat) minus that of the hits on
  the beats; NaN for a window without both."""
  lateness, struck = _lateness(arrays), _struck(arrays)
  position = (np.arange(struck.shape[1]) % 4)[:, np.newaxis]
  return (_over(struck & (position == 2), lateness, np.mean)
          - _over(struck & (position == 0), lateness, np.mean))


GROOVE_ATTRIBUTES = tuple(_on_hit_labels(attribute) for attribute in drums.DRUM_ATTRIBUTES) + (
    contract.Attribute('loudness', 'MIDI velocity', 'mean velocity of the hits', loudness,
                       (0.0, 127.0)),
    contract.Attribute('dynamics', 'MIDI velocity', 'velocity s.d. of the hits: accents and '
                       'ghost notes against an even touch', dynamics, (0.0, 63.5)),
    contract.Attribute('laid_back', 'steps', 'mean lateness of the hits behind the grid '
                       '(negative: ahead of it)', laid_back, (-0.5, 0.5)),
    contract.Attribute('swing', 'steps', 'how much later the off-beat 8th hits come than the '
                       'hits on the beat', swing, (-1.0, 1.0)),
)
