"""GrooVAE's musical jobs on whole drum performances: a drum NoteSequence of any length cut into
the model's windows (`split`), and the decoded windows joined back into one NoteSequence in the
input's time (`join`). `TrainedModel.groove` runs the model between the two.

    model = TrainedModel('runs/groove')                  # a run of the groove family
    humanized = model.groove(quantized_drums)            # a NoteSequence: the input's tempo, length
    result = model.groove_windows(quantized_drums)       # the same, with the windows (pictures)

What the job is follows from the family's options, not from this code: the encoder reads every
window as the family makes its input (`GrooveConverter.encoder_inputs`), so a `humanize` model
sees quantized hits with flat velocities and adds velocities and timing, a `tapify` model sees one
tap per step and drumifies, an `add_instruments` model sees the kit without the added classes.

Cutting (`split`): the sequence is split at tempo and time-signature changes (contract.pieces).
Every piece with drum notes is quantized (16 steps per bar: 4/4, 2/2; else a one-line error) and
read as the family reads training data (hits, velocities and offsets per step and drum class,
through the bar of its last onset), then cut into consecutive windows from the piece's start, the
last one padded with silent steps up to a whole window. Unlike the extraction of training windows,
identical windows are all kept (a repeated groove repeats) and nothing is capped.

Joining (`join`): window k of a piece is decoded (`from_tensors`, at its 120 qpm) and placed at
the piece's start + k windows, in the piece's own step length (its tempo). Hits decoded in the
padding are dropped, as are notes that start at or after the input's end; notes running past the
end are shortened. The result has the input's tempos, time signatures, ticks per quarter and total
time, and holds the drums only (the model's, on instrument 9).

Numpy + note_seq (no TensorFlow): the programs check an input with `split` before TensorFlow's
slow import.
"""
import collections
import io
import math
from typing import NamedTuple

import note_seq
import numpy as np
import pretty_midi

from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import groove as groove_family

HITS, VELOCITIES, OFFSETS = groove_family.HITS, groove_family.VELOCITIES, groove_family.OFFSETS


class GrooveInputError(ValueError):
  """A NoteSequence GrooVAE cannot read (the message names it and says why)."""


class WindowPlace(NamedTuple):
  """Where one window lies in the input."""
  start_time: float  # seconds: the time of the window's first step
  step_seconds: float  # the length of one step at the window's tempo
  num_steps: int  # the steps of the window inside the input; the rest is padding


class Split(NamedTuple):
  """A drum NoteSequence cut into windows."""
  arrays: dict  # {hits, velocities, offsets}: float32 [N, T, 9], the input as performed
  places: tuple  # one WindowPlace per window
  source: note_seq.NoteSequence  # the input (its tempos, time signatures, ticks per quarter)
  total_time: float  # seconds: the input's length

  @property
  def num_windows(self):
    return len(self.places)


class Groove(NamedTuple):
  """What `TrainedModel.groove_windows` made of a NoteSequence."""
  sequence: note_seq.NoteSequence  # the windows joined: the input's tempo, length
  inputs: dict  # {hits, velocities, offsets} [N, T, 9]: the input's windows, as performed
  outputs: dict  # the same of the decoded windows (hits in the padding included)
  places: tuple  # one WindowPlace per window


def check_family(converter, model_name='This model'):
  """ValueError (one line) unless `converter` is the groove family's."""
  if not isinstance(converter, groove_family.GrooveConverter):
    raise ValueError(f'{model_name} is a {converter.encoding} model, not a GrooVAE model: '
                     'humanizing and drumifying need a run of the groove family (e.g. '
                     'groovae_2bar_humanize).')


def file_length(midi):
  """Seconds: how long a MIDI file lasts (`midi`: its path or bytes), its last event of any kind.

  note_seq ends a sequence read from MIDI with its last note, but a drum loop often ends later, on
  a rest: a MIDI file we write marks its end with a text event (contract.midi_bytes), and a
  sequencer's export has its time signature, tempo or other events there. The joined
  performance lasts as long as `split` says its input does, so callers that read a file pass
  max(sequence.total_time, file_length(file)) as the sequence's total_time."""
  data = pretty_midi.PrettyMIDI(io.BytesIO(midi) if isinstance(midi, bytes) else midi)
  return float(data.get_end_time())


def job(converter):
  """What a GrooVAE model does to a performance, from its family's options, as a button would name
  it: 'Drumify' (tapify), 'Add closed hi-hat' (add_instruments), 'Humanize', or 'Regroove' (the
  model sees the whole performance)."""
  check_family(converter)
  if converter.tapify:
    return 'Drumify'
  if converter.add_instruments:
    return 'Add ' + ' and '.join(drums.DRUM_NAMES[k] for k in converter.add_instruments)
  return 'Humanize' if converter.humanize else 'Regroove'


def split(converter, note_sequence, name='input'):
  """The windows of a drum NoteSequence (unquantized, any length), every one in order: a Split.

  `converter`: a GrooveConverter (its drum map reads the pitches). Raises GrooveInputError naming
  `name` for a sequence without notes, without drums on the map's pitches, or with drums in bars
  that are not 16 steps long."""
  check_family(converter)
  if not note_sequence.notes:
    raise GrooveInputError(f'{name}: no notes.')
  drum_notes = sum(note.is_drum for note in note_sequence.notes)
  if not drum_notes:
    raise GrooveInputError(
        f'{name}: no drums: its {len(note_sequence.notes)} note(s) are pitched (GrooVAE reads '
        'drum notes, MIDI channel 10).')
  total_time = max(note_sequence.total_time, max(note.end_time for note in note_sequence.notes))
  steps = converter.window_steps
  arrays, places = [], []
  pieces = contract.pieces(note_sequence)
  # A piece lasts until the next one starts (its own total_time ends with its last note).
  ends = [piece.subsequence_info.start_time_offset for piece in pieces[1:]] + [total_time]
  for piece, piece_end in zip(pieces, ends):
    if not any(note.is_drum for note in piece.notes):
      continue
    start_time = piece.subsequence_info.start_time_offset
    rejected, details = collections.Counter(), []
    quantized = converter._quantize(piece, rejected, details)  # pylint: disable=protected-access
    if quantized is None:
      where = f' from {start_time:g} s' if start_time > 0 else ''
      raise GrooveInputError(f'{name}: {details[0]}{where}.')
    # The family's own reading of a quantized piece, as for training windows.
    performance = converter._performance(quantized, rejected)  # pylint: disable=protected-access
    if performance is None:
      continue
    qpm = quantized.tempos[0].qpm if quantized.tempos else note_seq.DEFAULT_QUARTERS_PER_MINUTE
    step_seconds = 60.0 / qpm / contract.STEPS_PER_QUARTER
    piece_steps = max(1, math.ceil((piece_end - start_time) / step_seconds - 1e-6))
    count = -(-piece_steps // steps)
    padded = []
    for array in performance:
      array = array[:count * steps]
      padded.append(np.pad(array, [(0, count * steps - len(array)), (0, 0)]))
    arrays.append([array.reshape(count, steps, -1) for array in padded])
    places.extend(WindowPlace(start_time + k * steps * step_seconds, step_seconds,
                              min(steps, piece_steps - k * steps)) for k in range(count))
  if not places:
    pitches = ', '.join(f'{pitches[0]} {drum}' for pitches, drum in zip(
        converter.pitch_classes, drums.DRUM_NAMES))
    raise GrooveInputError(
        f'{name}: none of its {drum_notes} drum note(s) is on a pitch of the {converter.drum_map} '
        f'drum map ({pitches}, ...).')
  windows = {array_name: np.concatenate([piece[k] for piece in arrays])
             for k, array_name in enumerate((HITS, VELOCITIES, OFFSETS))}
  return Split(windows, tuple(places), note_sequence, float(total_time))


def join(converter, windows, split_input):
  """One NoteSequence of decoded windows ({hits, velocities, offsets} [N, T, 9], one per window
  of `split_input`) in the input's time; see the module docstring."""
  windows = converter.window_arrays(windows)
  if contract.num_windows(windows) != split_input.num_windows:
    raise ValueError(f'join needs {split_input.num_windows} window(s), one per window of the '
                     f'input, got {contract.num_windows(windows)}.')
  hits = windows[HITS].copy()
  for k, place in enumerate(split_input.places):
    hits[k, place.num_steps:] = 0.0  # the padding
  decoded = converter.from_tensors(dict(windows, hits=hits))
  source, total_time = split_input.source, split_input.total_time
  sequence = note_seq.NoteSequence(
      ticks_per_quarter=source.ticks_per_quarter or note_seq.STANDARD_PPQ)
  for tempo in source.tempos:
    if tempo.time < total_time:
      sequence.tempos.add().CopyFrom(tempo)
  for signature in source.time_signatures:
    if signature.time < total_time:
      sequence.time_signatures.add().CopyFrom(signature)
  sequence.total_time = total_time
  notes = []
  for place, window in zip(split_input.places, decoded):
    scale = place.step_seconds / contract.STEP_SECONDS  # from the decoded 120 qpm
    for note in window.notes:
      start = place.start_time + note.start_time * scale
      if start < total_time:
        notes.append((start, min(place.start_time + note.end_time * scale, total_time), note))
  for start, end, note in sorted(notes, key=lambda item: (item[0], item[2].pitch)):
    added = sequence.notes.add()
    added.CopyFrom(note)
    added.start_time, added.end_time = start, end
  return sequence


def _inside(hits, places):
  """[N, T, 9] bool: the hits on steps inside the input (every hit without `places`)."""
  hits = np.asarray(hits) > 0.5
  if places is None:
    return hits
  inside = np.arange(hits.shape[1])[np.newaxis] < np.array(
      [place.num_steps for place in places])[:, np.newaxis]
  return hits & inside[..., np.newaxis]


def performance_stats(windows, places=None):
  """How a performance plays, from windows {hits, velocities, offsets} [N, T, 9] (only the steps
  inside the input when `places` is given): {'hits': count, 'mean_abs_offset' and
  'max_abs_offset': |onset - grid step| in steps, 'mean_abs_offset_ms' (with `places`: at each
  window's tempo), 'velocity_mean', 'velocity_std': MIDI velocities}; NaN without a hit."""
  hits = _inside(windows[HITS], places)
  deviation = np.abs(np.asarray(windows[OFFSETS])[hits]) / 2.0  # offsets are 2 x steps
  velocities = np.clip(np.round(np.asarray(windows[VELOCITIES])[hits] * 127), 1, 127)
  count = int(hits.sum())

  def stat(function, values):
    return float(function(values)) if count else float('nan')

  stats = {'hits': count, 'mean_abs_offset': stat(np.mean, deviation),
           'max_abs_offset': stat(np.max, deviation),
           'velocity_mean': stat(np.mean, velocities), 'velocity_std': stat(np.std, velocities)}
  if places is not None:
    step_ms = np.array([1000.0 * place.step_seconds for place in places])
    stats['mean_abs_offset_ms'] = stat(np.mean, deviation * np.broadcast_to(
        step_ms[:, np.newaxis, np.newaxis], hits.shape)[hits])
  return stats


def compare_hits(inputs, outputs, places):
  """(kept, dropped, added): hits (step and drum class) of the input that the output keeps, that
  it drops, and hits it adds, over the steps inside the input."""
  return _kept_dropped_added(_inside(inputs[HITS], places), _inside(outputs[HITS], places))


def compare_steps(inputs, outputs, places):
  """(kept, dropped, added): steps struck (by any drum) in the input that the output strikes too,
  that it leaves silent, and steps it strikes that the input does not, over the steps inside the
  input: the rhythm kept whatever the drums (Drumify turns taps on one pad into a kit)."""
  return _kept_dropped_added(_inside(inputs[HITS], places).any(axis=-1),
                             _inside(outputs[HITS], places).any(axis=-1))


def _kept_dropped_added(before, after):
  return int((before & after).sum()), int((before & ~after).sum()), int((after & ~before).sum())


def drum_counts(windows, places=None):
  """{drum class name: hits}, in drums.DRUM_NAMES order, of the classes struck (inside the input
  when `places` is given)."""
  counts = _inside(windows[HITS], places).sum(axis=(0, 1))
  return {name: int(count) for name, count in zip(drums.DRUM_NAMES, counts) if count}
