"""The data-family contract: conversion between note_seq NoteSequences and fixed-length windows,
and what every family shares (label_windows.py: windows of class labels; melody.py, drums.py,
trio.py, chords.py: the families; registry.py: their names).

Pure numpy + note_seq (no TensorFlow): it runs in preprocessing worker processes.

Extraction, shared by every family (`to_tensors`):
- The sequence is split at every tempo and time-signature change
  (`split_note_sequence_on_time_changes`); each piece is quantized at 4 steps per quarter and
  converted on its own, so no window spans a change. Pieces without notes are skipped. A piece
  whose bars are not 16 steps long (3/4, 6/8, ...; 4/4 and 2/2 pass) is rejected.
- A window identical to an earlier window of the same NoteSequence is dropped. If more than
  `max_windows_per_sequence` remain, a seeded random subset is kept, in order of appearance: the
  generator is seeded from (`seed`, CRC-32 of the candidate windows), so a long tune is not
  represented by its opening only, and the same file gives the same windows in every run and
  worker process. (The original samples afresh in train mode and keeps the first N otherwise.)

Decoding (`from_tensors`): 120 qpm, 4/4, velocity 80, total_time = window length.

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
STEP_SECONDS = 60.0 / OUTPUT_QPM / STEPS_PER_QUARTER


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


def get_converter(data_config):
  """The converter described by `config.data` (encoding, slice_bars, max_windows_per_sequence,
  and the family's own options, which its constructor names)."""
  if data_config.encoding not in registry.ENCODINGS:
    raise ValueError(f'Unknown data encoding {data_config.encoding!r}: expected one of '
                     f'{", ".join(sorted(registry.ENCODINGS))}.')
  module_name, class_name = registry.ENCODINGS[data_config.encoding].split(':')
  converter_class = getattr(importlib.import_module(module_name), class_name)
  return converter_class.from_config(data_config)

