"""The family contract: what a data family declares and implements (`Converter`), once for every
family, and what every family shares.

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes. The
methods that build batches (`encoder_inputs`, `augment`, `lengths`, `decoder_controls`,
`export_outputs`) run in TensorFlow, which they import on first use (`tensorflow()`).

A window is a set of named arrays that its family declares (`window_spec`: one `ArraySpec` per
array, with its shape in one window, dtype and range); N windows are {name: [N, *shape]}. Melody
windows hold `labels` (T, 1) int32; chord-conditioned melodies add `controls` (T,); a trio has
`labels` (T, 3). Everything outside the family works on that declaration and nothing else: the
cache (`preprocess.write_cache`: each array in the smallest type that holds it), dedup and the
window cap (`Converter.keep_windows`), batching (`input_pipeline.make_dataset`: one batch is the
arrays gathered, plus 'inputs' and 'lengths'), and the decoder, which reconstructs the family's
`target_names` (every array but 'controls', unless the family says otherwise) conditioned on
`decoder_controls`. The family owns the rest, each in one implementation that training,
evaluation, `TrainedModel`, inference and export share: its encoder inputs, its augmentation
(transposition), its way back to notes (`from_tensors`) and to pictures (`picture_parts`), its
exported outputs and metadata. The decoder owns its output distribution (nn/decoders/base.py).

Shapes passed in by users go through `window_arrays`, which checks every array against its spec
(one line naming the array, what was expected and what came) and accepts a family's windows in
the form its decoder writes them (`targets`: the bare array when the family has one target
array, e.g. labels [N, T, P]; else {name: array}); windows of one-column arrays may be given as
[N, T] for [N, T, 1].

Extraction, shared by every family (`to_tensors`):
- The sequence is split at every tempo and time-signature change
  (`split_note_sequence_on_time_changes`); each piece is quantized at 4 steps per quarter and
  converted on its own, so no window spans a change. Pieces without notes are skipped. A piece
  whose bars are not 16 steps long (3/4, 6/8, ...; 4/4 and 2/2 pass) is rejected.
- A window identical to an earlier window of the same NoteSequence (in every array) is dropped.
  If more than `max_windows_per_sequence` remain, a seeded random subset is kept, in order of
  appearance: the generator is seeded from (`seed`, CRC-32 of the candidate windows), so a long
  tune is not represented by its opening only, and the same file gives the same windows in every
  run and worker process. (The original samples afresh in train mode and keeps the first N
  otherwise.)

Decoding (`from_tensors`): 120 qpm, 4/4, velocity 80 unless the family writes velocities,
total_time = window length.

Rejection reasons (`ConversionResult.rejected` keys): 'time_signature' (pieces whose bars are not
16 steps), 'bad_time_signature' (pieces whose signature note_seq refuses: zero numerator,
denominator not a power of two), 'negative_time' (notes starting before 0, dropped),
'time_change' (pieces where note_seq finds a change the split left), 'pitch_out_of_range' (notes
dropped: outside the melody range, or a drum pitch with no class), 'no_notes' (a sequence with no
usable notes), 'too_short' (tracks shorter than a window), 'duplicate' and 'over_limit' (windows
dropped). Each is a count of the things named.

Attributes (`Converter.attributes`, for attribute vectors: serving/attribute_vectors.py): a
family may name musical attributes of its windows, each a numpy function of N windows' arrays to
one float64 value per window in a documented unit (NaN where undefined), e.g. the melody
family's note density or the drums' hi-hat share. The same function measures a training window,
a decoded sample and a shifted phrase. The label families take theirs from their parts
(melody.py, drums.py); a family without attributes has none (mvl_attributes says so).

The next families, checked on paper against this contract (each its own files: a family module,
a decoder module where the output distribution is new, a config, one line in registry.py and, for
a decoder, one in nn/decoders/registry.py):
- GrooVAE (`groove.py`, the original's GrooveConverter; ../reference §4.5, fixture
  groovae_2bar_humanize; built as below, with a `drum_map` option): window_spec `hits`
  (T, 9) float32 in [0, 1] (0 or 1), `velocities`
  (T, 9) float32 in [0, 1], `offsets` (T, 9) float32 in [-1, 1] (2 x the onset's distance before
  its grid step, as the original stores it); target_names all three, so `targets` is a dict.
  OPTIONS: humanize, tapify, fixed_velocities, add_instruments, max_note_dropout_probability,
  hits_as_controls. `encoder_inputs` applies humanize / tapify /
  fixed velocities / add_instruments to the arrays it is given and concatenates hits,
  velocities, offsets (27 wide, the original's order); the targets stay the true arrays. Note
  dropout is random: `augment` (training batches only), from its stateless seed, gives the
  batch its encoder inputs (the targets stay whole). With
  hits_as_controls nothing more is stored: `control_spec` is overridden to ArraySpec('controls',
  (T, 9), 'float32') and `decoder_controls` returns the hits, so control_depth is 9 and
  `stores_controls` stays False (users pass no controls to encode); the encoder reads the
  controls after the 27 inputs, as the original concatenates them. `to_tensors` uses
  `pieces`, `_quantize` and `keep_windows` like every family (windows hop by their length, not
  by a bar). `from_tensors` writes velocities round(v * 127) and onsets (t - offset / 2) steps
  at 120 qpm; `picture_parts` gives each drum hit its velocity and offset after the (row,
  start, end) (pianoroll learns to shade and shift them); `export_outputs` the three arrays;
  `magenta_js_converter` Magenta.js's GrooveConverter. Decoder `groove`
  (nn/decoders/groove.py, a flat LSTM whose step input is [previous hits, velocities, offsets;
  z; controls]): reconstruct -> outputs [B, T, 27] (hit logits, velocity and offset
  pre-activations, the original's layout), reconstruction_loss -> r_loss = sigmoid
  cross-entropy of the hits + squared errors of sigmoid(velocity) and tanh(offset), summed over
  drums and steps, and Metrics hits_loss, velocities_loss, offsets_loss (weighted by windows)
  and hit accuracy; sample -> {hits: Bernoulli(logits / temperature) (0 at temperature 0 below
  logit 0), velocities, offsets}, the sampled real values fed back; dropout from
  config.model.dropout_keep_prob (the original trains with 0.3 on every LSTM layer's input,
  encoder and decoder; `Decoder.DROPOUT`); original_variable_names as the categorical flat
  decoder's.
- NADE drums (`drum_roll.py`, built as below): window_spec `roll` (T, D) uint8, classes (2,)
  (a multi-hot roll, D = 9 or the full map's 61, which a 512- or 2**61-class label cannot hold;
  the cache stores it in uint8), extracted with the drum family's rules and the label families'
  track windowing (label_windows.TrackConverter), `drum_map` option; encoder inputs the roll
  plus a "no hit" column (10 or 62 wide, as the drum family's roll input); `from_tensors`,
  pictures (the nine drum rows) and attributes as the drum family's; exported outputs the roll;
  `magenta_js_converter` Magenta.js's DrumRollConverter. Decoder `nade` (nn/decoders/nade.py,
  its LSTM nn/decoders/vector_lstm.py): reconstruct -> outputs [B, T, H + D] (the per-step
  projection that gives the NADE's biases, the original's `decoder/output_projection`),
  reconstruction_loss -> the NADE's exact -log p(x_t | x_<t, z) summed over steps, Metrics
  accuracy (all bits of a step right), recall and precision; sample -> the roll by the NADE's
  bit-by-bit sampling (p >= 0.5 at temperature 0), fed back as the multi-hot vector; OPTIONS
  nade_num_hidden; original_variable_names adds `decoder/nade/w_enc` and `decoder/nade/w_dec_t`.
- Multi-instrument performance (`multiperf.py`, ../reference §4.6; fixture
  hier-multiperf_vel_1bar_med): window_spec `labels` (512, 1) int32 with 490 classes (8 tracks
  of 64 event tokens: a program token, performance events, an end token, padded with end
  tokens) and `track_lengths` (8,) int32 in [0, 64] (an array per window, not per step: the
  spec's shape says so, and the cache, dedup and batching need nothing more); target_names
  ('labels',); `lengths` returns the track lengths [B, 8], which the hierarchical encoder (a
  segment there is a track of 64 steps, not a bar) and the decoder's loss mask read; `augment`
  transposes the note events. Decoder: the categorical `hierarchical` one, with the conductor
  over 8 segments of 64 steps, given two options it lacks today (segment length; an end token
  after which a segment's sampling writes end tokens only, the original's `end_fn`) and a loss
  mask from per-segment lengths; the encoder needs the segment length and per-segment lengths.
Importing an original checkpoint of a new family (serving/magenta_checkpoint.py) also learns its
widths: the shapes that tell the family apart and the config that matches them.
"""
import collections
import copy
import hashlib
import importlib
import io
import json
import zlib
from typing import NamedTuple

import note_seq
from note_seq import sequences_lib
import numpy as np
import pretty_midi

from music_vae_lite import config_lib
from music_vae_lite.families import registry
from music_vae_lite import files

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
OUTPUT_QPM = 120.0
OUTPUT_VELOCITY = 80
STEP_SECONDS = 60.0 / OUTPUT_QPM / STEPS_PER_QUARTER
CONTROLS = 'controls'  # the array a family's decoder is conditioned on, where it stores one
# Keys of a batch besides the window's arrays (no array may have these names).
INPUTS, LENGTHS = 'inputs', 'lengths'


def tensorflow():
  """TensorFlow, imported on first use: the batch-side methods of the families (encoder inputs,
  augmentation, exported outputs) are TensorFlow ops, while the preprocessing workers, which only
  convert NoteSequences, never load it."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf


class ArraySpec(NamedTuple):
  """One named array of a window, as its family declares it.

  `shape`: the array's shape in one window, steps first where it has steps (melody labels
  (T, 1), chords (T,), GrooVAE hits (T, 9), per-track lengths (8,)); N windows are
  [N, *shape]. `dtype`: its numpy dtype in memory, in batches and in the model. Integer arrays
  give `classes`, the number of classes of every column of the last axis (one entry for all, or
  one per column): values lie in [0, classes). Real arrays may give `value_range` (low, high),
  both included. `columns` names the columns of the last axis in messages (parts, drums).
  """
  name: str
  shape: tuple
  dtype: str
  classes: tuple = ()
  value_range: tuple | None = None
  columns: tuple = ()

  @property
  def is_integer(self):
    return np.issubdtype(np.dtype(self.dtype), np.integer)

  @property
  def feature_depth(self):
    """The width of the array as a per-step input: one-hot classes for a class per step (e.g.
    49 chords), else its values per step."""
    if self.is_integer and self.classes and len(self.shape) == 1:
      return int(self.classes[0])
    return int(np.prod(self.shape[1:], dtype=np.int64))

  def _what(self):
    return self.name[0].upper() + self.name[1:]

  def check(self, array, owner):
    """`array` [N, *shape] as this spec's dtype; ValueError naming the array otherwise. `owner`
    names the family in messages."""
    array = self.check_values(array, owner)
    if array.ndim != len(self.shape) + 1 or array.shape[1:] != tuple(self.shape):
      raise ValueError(f'{self._what()} must be [N, {", ".join(map(str, self.shape))}], got '
                       f'{array.shape}.')
    return array

  def check_values(self, array, owner):
    """`array` of any leading shape with this spec's last axis, type and range, as its dtype."""
    array = np.asarray(array)
    if self.is_integer and not (np.issubdtype(array.dtype, np.integer)
                                or array.dtype == np.bool_):
      raise ValueError(f'{self._what()} must be integers, got dtype {array.dtype}.')
    if not self.is_integer and not np.issubdtype(array.dtype, np.number):
      raise ValueError(f'{self._what()} must be numbers, got dtype {array.dtype}.')
    if self.columns and (array.ndim < 1 or array.shape[-1] != len(self.columns)):
      raise ValueError(f'{owner} {self.name} need a last axis of {len(self.columns)} part(s) '
                       f'({", ".join(self.columns)}), got shape {array.shape}.')
    if self.classes and array.size:
      columns = [array] if len(self.classes) == 1 else [array[..., k]
                                                        for k in range(len(self.classes))]
      for k, (values, count) in enumerate(zip(columns, self.classes)):
        if values.min() < 0 or values.max() >= count:
          name = f'{self.columns[k]} {self.name}' if self.columns else self._what()
          raise ValueError(f'{name} must be in [0, {count}), got values from {values.min()} '
                           f'to {values.max()}.')
    if self.value_range is not None and array.size:
      low, high = self.value_range
      if not np.all(np.isfinite(array)) or array.min() < low or array.max() > high:
        raise ValueError(f'{self._what()} must lie in [{low}, {high}], got values from '
                         f'{array.min()} to {array.max()}.')
    return array.astype(self.dtype, copy=False)


class Attribute(NamedTuple):
  """A musical attribute of windows: `function` maps N windows' arrays {name: [N, ...]} (for a
  label part: its labels [N, T]) to float64 [N] (NaN where undefined), in `unit`; its values lie
  within `bounds` (lowest, highest; None where open)."""
  name: str
  unit: str
  description: str
  function: object  # callable
  bounds: tuple = (None, None)


def share(count, total):
  """count / total per window as float64, NaN where total is 0 (attributes that are shares)."""
  total = np.asarray(total, np.float64)
  with np.errstate(invalid='ignore', divide='ignore'):
    return np.where(total > 0, np.asarray(count, np.float64) / np.maximum(total, 1), np.nan)


class ConversionResult(NamedTuple):
  """What `to_tensors` made of one NoteSequence."""
  arrays: dict  # name -> [N, *shape]: the kept windows, in order of appearance (window_spec)
  rejected: collections.Counter  # reason -> count (see the module docstring)
  num_tracks: int = 0  # tracks (melodies, drum tracks, instrument combinations) extracted
  details: tuple = ()  # short phrases saying why things were rejected, e.g. '3/4 time'
  encoding: str = 'melody'
  slice_bars: int = 2

  @property
  def num_windows(self):
    return num_windows(self.arrays)

  @property
  def labels(self):
    """The `labels` array (label families), or None."""
    return self.arrays.get('labels')

  @property
  def controls(self):
    """The `controls` array (families with stored controls), or None."""
    return self.arrays.get(CONTROLS)

  def explain(self):
    """One sentence: how many windows, or why there is none (e.g. '... 3/4 time ...')."""
    kind = {'melody': 'melody', 'drums': 'drum', 'drum_roll': 'drum-roll'}.get(self.encoding,
                                                                                self.encoding)
    if self.num_windows:
      dropped = ', '.join(f'{n} {reason}' for reason, n in sorted(self.rejected.items()))
      return (f'{self.num_windows} {self.slice_bars}-bar {kind} window(s)'
              + (f' (rejected: {dropped})' if dropped else '') + '.')
    return f'No {self.slice_bars}-bar {kind} window: ' + '; '.join(self.details) + '.'


def num_windows(arrays):
  """The number of windows N of {name: [N, ...]}."""
  return int(len(next(iter(arrays.values()))))


def unbatch(targets):
  """The windows of targets [N, ...] (an array, or {name: [N, ...]}; numpy or tensors) as a list
  of one window's targets each, in numpy."""
  if isinstance(targets, dict):
    arrays = {name: np.asarray(array) for name, array in targets.items()}
    return [{name: array[n] for name, array in arrays.items()}
            for n in range(num_windows(arrays))]
  return list(np.asarray(targets))


def stack(windows):
  """Targets [N, ...] of a list of one window's targets each (inverse of `unbatch`)."""
  if isinstance(windows[0], dict):
    return {name: np.stack([window[name] for window in windows]) for name in windows[0]}
  return np.stack(windows)


def concatenate(batches):
  """Targets of several batches of targets (arrays, or {name: array}), one after the other."""
  if isinstance(batches[0], dict):
    return {name: np.concatenate([batch[name] for batch in batches]) for name in batches[0]}
  return np.concatenate(batches)


def midi_bytes(note_sequence):
  """A NoteSequence as the bytes of a MIDI file.

  The file lasts the sequence's total_time (for a decoded window: the whole window), even when its
  last notes end earlier, so generated drum loops and melodies line up when played back to back: a
  text event marks the end.
  """
  midi = note_seq.midi_io.note_sequence_to_pretty_midi(note_sequence)
  if note_sequence.total_time > midi.get_end_time():
    midi.text_events.append(pretty_midi.Text('end of window', note_sequence.total_time))
  buffer = io.BytesIO()
  midi.write(buffer)
  return buffer.getvalue()


def write_midi(note_sequence, path):
  """Writes a NoteSequence as a MIDI file (see midi_bytes) atomically (a complete file or none)."""
  return files.atomic_write(path, midi_bytes(note_sequence))


def concatenate_windows(sequences):
  """Decoded windows (from_tensors) played one after another, as one NoteSequence (a morph)."""
  return sequences_lib.concatenate_sequences(list(sequences),
                                             [s.total_time for s in sequences])


def pieces(note_sequence):
  """The NoteSequence split at tempo and time-signature changes, each piece starting at 0."""
  if sequences_lib.is_quantized_sequence(note_sequence):
    raise ValueError('to_tensors needs an unquantized NoteSequence (times in seconds).')
  last_end = max((note.end_time for note in note_sequence.notes), default=0.0)
  if note_sequence.total_time < last_end:  # hand-built sequences often leave total_time unset
    note_sequence = copy.deepcopy(note_sequence)
    note_sequence.total_time = last_end
  return sequences_lib.split_note_sequence_on_time_changes(note_sequence)


def note_pieces(note_sequence, rejected, details):
  """The pieces of `pieces(note_sequence)` that hold notes: the prologue of every family's
  extraction. Notes that start before time 0 (which the split drops) are counted as
  'negative_time' in `rejected`, with 'notes before time 0' in `details`."""
  early_notes = sum(note.start_time < 0 for note in note_sequence.notes)
  if early_notes:
    rejected['negative_time'] += early_notes
    details.append('notes before time 0')
  return [piece for piece in pieces(note_sequence) if piece.notes]


def decoded_sequence(num_steps):
  """An empty NoteSequence for a decoded window of `num_steps` steps: 120 qpm, 4/4, lasting the
  whole window."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
  sequence.tempos.add(time=0.0, qpm=OUTPUT_QPM)
  sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
  sequence.total_time = num_steps * STEP_SECONDS
  return sequence


def window_cap(data_config):
  """`config.data.max_windows_per_sequence` as converters take it: None (every window) for 0, which
  the command line uses since it cannot set None."""
  return data_config.max_windows_per_sequence or None


class Converter:
  """The contract every data family implements; see the module docstring.

  A family declares `encoding` (its name in configs, registry.ENCODINGS), `OPTIONS` (its options
  in `config.family`, with their defaults: keyword arguments of its constructor, kept as
  attributes of the same names), `WINDOW_OPTIONS` (those of them that shape the windows),
  `window_spec` and `input_depth`, and implements the conversions (`to_tensors`, `from_tensors`,
  `starts_with_note`, `picture_parts`, `describe`) and the batch-side methods
  (`encoder_inputs`, and where it has them `augment`, `decoder_controls`, `lengths`,
  `export_outputs`). label_windows.LabelConverter implements it for windows of class labels.
  """
  encoding = None
  OPTIONS = {}
  # The options that change which windows `to_tensors` extracts or what they hold (None: all of
  # OPTIONS). A window cache records their values and a config with other values is refused
  # (pipeline/preprocess.py); the other options act on batches (encoder inputs, augmentation), so
  # one cache serves every value of theirs.
  WINDOW_OPTIONS = None

  def __init__(self, slice_bars, max_windows_per_sequence, seed=0):
    if int(slice_bars) != slice_bars or slice_bars < 1:
      raise ValueError(f'slice_bars must be a positive integer, got {slice_bars!r}.')
    if max_windows_per_sequence is not None and max_windows_per_sequence < 1:
      raise ValueError('max_windows_per_sequence must be >= 1 or None (no limit), '
                       f'got {max_windows_per_sequence!r}.')
    self.slice_bars = int(slice_bars)
    self.max_windows_per_sequence = max_windows_per_sequence
    self.seed = seed

  @classmethod
  def options(cls, family_config=None):
    """The family's options: `OPTIONS` updated by `config.family`; ValueError naming an option
    the family does not have."""
    return config_lib.owner_options(cls.OPTIONS, family_config, 'family',
                                    f'the {cls.encoding} family')

  def window_options(self, defaults=False):
    """{name: value} of the options that shape the windows (WINDOW_OPTIONS), in the form JSON
    gives back (lists for tuples); with `defaults`, the family's defaults of those options."""
    names = sorted(self.OPTIONS if self.WINDOW_OPTIONS is None else self.WINDOW_OPTIONS)
    values = {name: self.OPTIONS[name] if defaults else getattr(self, name) for name in names}
    return json.loads(json.dumps(values))

  @classmethod
  def from_config(cls, config):
    """The converter a config describes: `config.data` (slice_bars, max_windows_per_sequence)
    and the family's options (`config.family`)."""
    return cls(slice_bars=config.data.slice_bars,
               max_windows_per_sequence=window_cap(config.data),
               **cls.options(config.get('family')))

  @property
  def window_steps(self):
    return self.slice_bars * STEPS_PER_BAR

  # ---------------------------------------------------------------------------------------------
  # The declaration.

  @property
  def window_spec(self):
    """The arrays of a window: a tuple of ArraySpec."""
    raise NotImplementedError

  def spec(self, name):
    return next(spec for spec in self.window_spec if spec.name == name)

  @property
  def target_names(self):
    """The arrays the decoder reconstructs, in order: every array but the controls."""
    return tuple(spec.name for spec in self.window_spec if spec.name != CONTROLS)

  @property
  def stores_controls(self):
    """Whether a window holds a `controls` array (chords), which users pass with the targets."""
    return any(spec.name == CONTROLS for spec in self.window_spec)

  @property
  def control_spec(self):
    """The spec of what `decoder_controls` gives per window, or None for a family without: the
    stored `controls` array by default (a family that derives its controls from other arrays,
    e.g. GrooVAE's hits, declares them here)."""
    return next((spec for spec in self.window_spec if spec.name == CONTROLS), None)

  @property
  def control_depth(self):
    """The width of the decoder's per-step control input (0: none)."""
    spec = self.control_spec
    return spec.feature_depth if spec is not None else 0

  @property
  def input_depth(self):
    """The width of the encoder's input per step (`encoder_inputs`)."""
    raise NotImplementedError

  # ---------------------------------------------------------------------------------------------
  # Windows as named arrays.

  def targets(self, arrays):
    """The target arrays of windows as the decoder takes and gives them: the array itself for a
    family with one target array, else {name: array}."""
    if len(self.target_names) == 1:
      return arrays[self.target_names[0]]
    return {name: arrays[name] for name in self.target_names}

  def window_arrays(self, windows, controls=None):
    """{name: [N, *shape]} of windows given as the arrays (a dict or an object with `arrays`,
    e.g. a WindowSet) or as their targets (see `targets`) with `controls` apart; every array
    checked against the spec and cast to its dtype. One-column arrays may come without their
    last axis ([N, T] for [N, T, 1]). ValueError naming what does not fit."""
    arrays = getattr(windows, 'arrays', windows)
    if not isinstance(arrays, dict):
      arrays = {self.target_names[0]: arrays}
    arrays = dict(arrays)
    if controls is not None:
      arrays[CONTROLS] = controls
    if not self.stores_controls and arrays.get(CONTROLS) is not None and np.size(
        arrays[CONTROLS]):
      raise ValueError(f'The {self.encoding} encoding takes no controls.')
    if self.stores_controls and arrays.get(CONTROLS) is None:
      raise ValueError(f'The {self.encoding} encoding needs controls '
                       f'[N, {", ".join(map(str, self.spec(CONTROLS).shape))}].')
    checked = {}
    for spec in self.window_spec:
      if spec.name not in arrays:
        raise ValueError(f'{self.encoding} windows need the array {spec.name!r} '
                         f'[N, {", ".join(map(str, spec.shape))}].')
      checked[spec.name] = self._checked(spec, arrays[spec.name])
    sizes = {name: len(array) for name, array in checked.items()}
    if len(set(sizes.values())) > 1:
      raise ValueError(f'{self.encoding} windows need as many windows in every array, got '
                       + ', '.join(f'{name} {size}' for name, size in sizes.items()) + '.')
    return checked

  def _checked(self, spec, array):
    """One array [N, *shape] checked against its spec (a one-column array may come as [N, T])."""
    array = np.asarray(array)
    if spec.shape[-1:] == (1,) and array.shape[1:] == tuple(spec.shape[:-1]):
      array = array[..., np.newaxis]
    return spec.check(array, self.encoding)

  def empty_arrays(self):
    """No window: {name: [0, *shape]}."""
    return {spec.name: np.zeros((0,) + tuple(spec.shape), spec.dtype)
            for spec in self.window_spec}

  def keep_windows(self, candidates, window_bytes, rejected):
    """The candidate windows that survive dedup and the cap (module docstring), in order.

    `candidates`: any iterable (it is read once, so windows may be built one at a time);
    `window_bytes(candidate)`: the bytes of the window's arrays, which identify it and seed the
    cap's subset. Counts 'duplicate' and 'over_limit' in `rejected`."""
    seen, kept, checksum = set(), [], 0  # seen: digests, so that memory stays small
    for candidate in candidates:
      data = window_bytes(candidate)
      digest = hashlib.blake2b(data, digest_size=16).digest()
      if digest in seen:
        rejected['duplicate'] += 1
        continue
      seen.add(digest)
      checksum = zlib.crc32(data, checksum)  # = the CRC-32 of the unique windows in order
      kept.append(candidate)
    limit = self.max_windows_per_sequence
    if limit is not None and len(kept) > limit:
      rng = np.random.default_rng([self.seed, checksum])
      rejected['over_limit'] += len(kept) - limit
      kept = [kept[i] for i in np.sort(rng.choice(len(kept), size=limit, replace=False))]
    return kept

  # ---------------------------------------------------------------------------------------------
  # Conversions (numpy).

  def to_tensors(self, note_sequence):
    """ConversionResult: the windows of one unquantized NoteSequence, as named arrays."""
    raise NotImplementedError

  def from_tensors(self, windows, controls=None):
    """A list of NoteSequences, one per window (windows as `window_arrays` takes them; one
    window may come without its N axis)."""
    raise NotImplementedError

  def starts_with_note(self, window):
    """Whether one window (its targets, see `targets`) strikes a note at its first step."""
    raise NotImplementedError

  def picture_parts(self, window):
    """What pianoroll draws of one window (its targets): a list of (kind, notes), one per
    part, top first; kind 'melody' (rows are MIDI pitches) or 'drums' (rows are the nine drum
    classes); notes (row, start step, end step), or for performed drum hits (GrooVAE) (row,
    start step, end step, velocity 0-1, offset: 2 x steps early), drawn shaded and shifted."""
    raise NotImplementedError

  def describe(self):
    """A JSON-serialisable description of the windows, inputs and exported outputs, for clients
    without music_vae_lite (the exported metadata's 'encoding')."""
    return {'encoding': self.encoding, 'num_steps': self.window_steps,
            'steps_per_quarter': STEPS_PER_QUARTER, 'input_depth': self.input_depth,
            'control_depth': self.control_depth,
            'arrays': [{'name': spec.name, 'shape': list(spec.shape), 'dtype': spec.dtype}
                       for spec in self.window_spec]}

  @property
  def attributes(self):
    """The family's musical attributes (see the module docstring): a tuple of Attribute whose
    functions take windows' arrays; none by default."""
    return ()

  def attribute_values(self, windows, names=None):
    """{name: float64 [N]}: the attributes (all, or `names`) of windows given as their arrays
    {name: [N, ...]} or as the family's targets (e.g. decoded label windows [N, T, P]; [N, T]
    for one part), each array checked against its spec. ValueError naming an attribute the
    family does not have, or an array that does not fit."""
    arrays = windows if isinstance(windows, dict) else {self.target_names[0]: windows}
    arrays = {spec.name: self._checked(spec, arrays[spec.name]) for spec in self.window_spec
              if spec.name in arrays}
    by_name = {attribute.name: attribute for attribute in self.attributes}
    names = list(by_name) if names is None else list(names)
    unknown = [name for name in names if name not in by_name]
    if unknown:
      raise ValueError(f'Unknown attribute {unknown[0]!r}; the {self.encoding} family has: '
                       + (', '.join(by_name) or 'none') + '.')
    return {name: np.asarray(by_name[name].function(arrays), np.float64) for name in names}

  def magenta_js_converter(self, num_segments=None):
    """The Magenta.js data converter spec ({'type', 'args'}) of this family, or None where
    Magenta.js has none. `num_segments`: a hierarchical model's segments (Magenta.js's
    numSegments), None for a flat one."""
    del num_segments
    return None

  def magenta_js_unsupported_reason(self):
    """Why Magenta.js cannot read this family's windows as we do (one line), or None."""
    if self.magenta_js_converter() is None:
      return f'Magenta.js has no data converter for the {self.encoding!r} encoding'
    return None

  def magenta_js_controls(self):
    """The Magenta.js model's `extraControls` (config.json): [{'name', 'depth'}] of the controls a
    caller passes as `controlArgs.extraControls`, or none."""
    return []

  # ---------------------------------------------------------------------------------------------
  # Batches (TensorFlow; arrays are tensors or numpy arrays [B, *shape]).

  def encoder_inputs(self, arrays):
    """The encoder's input, float32 [B, T, input_depth]."""
    raise NotImplementedError

  def augment(self, arrays, seed, transpose=0):
    """Training windows changed at random (from the stateless `seed` [2]); `transpose` is
    config.data.transpose. The default changes nothing. An augmentation of what the encoder
    reads only (GrooVAE's note dropout) returns the batch with its encoder inputs under
    INPUTS, which the pipeline then keeps."""
    del seed, transpose
    return arrays

  def decoder_controls(self, arrays):
    """What the decoder is conditioned on at every step (see `control_spec`), or None."""
    return arrays.get(CONTROLS)

  def lengths(self, arrays):
    """The valid steps of each window, int32 [B]: every window is whole. (A family whose
    segments have lengths of their own, e.g. tracks of event tokens, gives [B, segments].)"""
    tf = tensorflow()
    first = next(iter(arrays.values()))
    return tf.fill(tf.shape(first)[:1], tf.constant(self.window_steps, tf.int32))

  def export_outputs(self, targets):
    """The exported decode outputs {name: tensor} of sampled targets: the target arrays."""
    return dict(targets) if isinstance(targets, dict) else {self.target_names[0]: targets}

  def targets_of_outputs(self, outputs):
    """The targets in the exported outputs (inverse of `export_outputs`)."""
    return self.targets(outputs)

  # ---------------------------------------------------------------------------------------------
  # Helpers for `to_tensors`.

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


def converter_class(encoding):
  """The converter class registry.ENCODINGS names for `encoding` (its module imported)."""
  if encoding not in registry.ENCODINGS:
    raise ValueError(f'Unknown data encoding {encoding!r}: expected one of '
                     f'{", ".join(sorted(registry.ENCODINGS))}.')
  module_name, class_name = registry.ENCODINGS[encoding].split(':')
  return getattr(importlib.import_module(module_name), class_name)


def get_converter(config):
  """The converter a config describes: `config.data` (encoding, slice_bars,
  max_windows_per_sequence) and the family's options in `config.family`."""
  return converter_class(config.data.encoding).from_config(config)
