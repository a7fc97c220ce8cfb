"""The trio data family: melody + bass + drums windows from multi-instrument MIDI.

Pure numpy + note_seq at import (no TensorFlow): it runs in preprocessing worker processes.

A window is [T, 3] labels (a label family, label_windows.py): melody (90 classes), bass (90
classes), drums (512 classes), in that order, as the original's `TrioConverter` (output depth
90 + 90 + 512 = 692). The encoder reads every part one-hot (drums too, not as a roll): input
depth 692.

Extraction (`to_tensors`), following the original's `TrioConverter._to_tensors_fn`:
- Pieces, quantization and their rejection reasons are the contract's (`contract.pieces`,
  `Converter._quantize`): split at every tempo and time-signature change, 4 steps per quarter,
  only 16-step bars.
- Each instrument number gets a type from its notes: drums (`is_drum`), melody (program 0-31),
  bass (program 32-39). An instrument whose notes have more than one type, or a non-drum program
  40-127, is ignored. A piece needs at least one instrument of each type.
- Every instrument is encoded over the whole piece, padded with silence to a whole number of
  bars (as the original, which sets the piece's total time to its bars before encoding). Melody
  and bass instruments are encoded as our melody converter encodes a track
  (`melody.highest_note_labels`: the highest sounding note; zero-velocity notes ignored;
  notes outside 21..108 dropped); drum instruments as the 512-class labels of their hits on the
  mapped drum pitches. An instrument left with nothing to encode drops out.
- Coverage, per instrument and bar: a bar is covered where a note of the instrument (any pitch,
  any velocity) sounds in it. It is then widened by `gap_bars` bars on each side (bar j is
  covered if any bar within `gap_bars` of it is), which bridges silences of up to 2 * gap_bars
  bars between notes and up to gap_bars bars before the first note and after the last. For each
  combination, the first `gap_bars` bars of the piece all count as covered if any of its three
  instruments covers (after widening) any of them, and likewise the last `gap_bars` bars.
- For every (melody, bass, drums) combination of instruments, in ascending instrument order, every
  window of `slice_bars` bars (one-bar hop, within the first `MAX_BARS` bars) where all three are
  covered in every bar is a candidate: the three encodings side by side.
- Windows identical to an earlier one of the same NoteSequence are dropped, then at most
  `max_windows_per_sequence` are kept by the contract's seeded subset rule (`keep_windows`).
- Option (`config.family.gap_bars`, default 2): the coverage widening above.

Where we differ from the original, and why:
- Melody and bass polyphony and note ends are our melody converter's (see melody.py): the
  highest sounding note rather than Magenta's onset order, and the note-off after an
  instrument's last note is kept (the original strips it, so the last note of each part sounds
  to the end of the piece).
- A window's first melody and bass labels say what sounds at its start (a held note's note-on; 0
  after a note-off), as in our melody converter, so windows decode and re-encode to themselves;
  the original keeps the raw labels. Windows starting at bar 0 are unaffected.
- Duplicate windows are dropped and the cap keeps a seeded subset (the original keeps duplicates
  and takes the first N outside training).
- gap_bars 0 means no bridging and no leniency at the ends (the original's `[-0:]` slice makes
  every bar lenient then). Instrument numbers above 127 are not skipped.

Rejection reasons (`ConversionResult.rejected`), besides the base ones ('time_signature',
'bad_time_signature', 'negative_time', 'time_change', 'no_notes', 'pitch_out_of_range',
'duplicate', 'over_limit'): 'missing_part' (pieces without one of the three parts; details say
which, e.g. 'no bass (non-drum programs 32-39)'), 'mixed_types' (instruments ignored for mixing
part types), 'other_program' (instruments ignored for a program 40-127), 'no_overlap' (instrument
combinations with no window where all three play).

Decoding is the label families' `from_tensors`: melody on instrument 0 / program 0, bass on
instrument 1 / program 33 (electric bass, finger), drums on instrument 9 with `is_drum` (MIDI
channel 10), 120 qpm, velocity 80.
"""
import collections
import itertools

import numpy as np

from music_vae_lite.families import contract
from music_vae_lite.families import label_windows
from music_vae_lite.families import drums
from music_vae_lite.families import melody

MELODY_PROGRAMS = range(0, 32)
BASS_PROGRAMS = range(32, 40)
ELECTRIC_BASS_PROGRAM = 33
MAX_BARS = 1024  # the original's max_bars: windows lie within a piece's first 1024 bars

MELODY = 'melody'
BASS = 'bass'
DRUMS = 'drums'
_TYPES = (MELODY, BASS, DRUMS)
_MIXED = 'mixed'
_OTHER = 'other'
_MISSING_PHRASES = {
    MELODY: 'no melody (non-drum programs 0-31)',
    BASS: 'no bass (non-drum programs 32-39)',
    DRUMS: 'no drums (is_drum notes)',
}
_UNENCODABLE_PHRASES = {
    MELODY: 'no melody (no melody note between 21 and 108)',
    BASS: 'no bass (no bass note between 21 and 108)',
    DRUMS: 'no drums (no hit on a mapped drum pitch)',
}


def _note_type(note):
  if note.is_drum:
    return DRUMS
  if note.program in MELODY_PROGRAMS:
    return MELODY
  if note.program in BASS_PROGRAMS:
    return BASS
  return _OTHER


def _widen(covered, gap_bars):
  """Bar j covered if any bar within gap_bars of it is (the original's gap filling)."""
  if not gap_bars:
    return covered.copy()
  padded = np.pad(covered, (gap_bars, gap_bars))
  return np.lib.stride_tricks.sliding_window_view(padded, 2 * gap_bars + 1).any(axis=-1)


def _window(candidate, window_steps):
  """The [T, 3] labels of a candidate (parts' label arrays, melody and bass first labels, start)."""
  tracks, first_labels, start = candidate
  window = np.stack([track[start:start + window_steps] for track in tracks], axis=-1)
  window[0, :len(first_labels)] = first_labels  # melody and bass: what sounds at the start
  return window.astype(np.int32, copy=False)


class TrioConverter(label_windows.LabelConverter):
  """Melody + bass + drums windows (90 + 90 + 512 classes); see the module docstring."""
  encoding = 'trio'
  parts = (
      melody.MelodyPart('melody', instrument=0, program=0),
      melody.MelodyPart('bass', instrument=1, program=ELECTRIC_BASS_PROGRAM),
      drums.DrumPart('drums', instrument=drums.DRUMS_INSTRUMENT, program=0, roll_input=False),
  )

  OPTIONS = {'gap_bars': 2}

  def __init__(self, slice_bars=16, max_windows_per_sequence=5, gap_bars=2, seed=0):
    if int(gap_bars) != gap_bars or gap_bars < 0:
      raise ValueError(f'gap_bars must be a whole number >= 0, got {gap_bars!r}.')
    # The base checks gap_bars >= 1 for its own track splitting, which the trio does not use.
    super().__init__(slice_bars, max_windows_per_sequence, max(int(gap_bars), 1), seed)
    self.gap_bars = int(gap_bars)

  def to_tensors(self, note_sequence):
    """Extracts the trio windows of one NoteSequence; see the module docstring."""
    rejected = collections.Counter()
    details = []
    pieces = contract.note_pieces(note_sequence, rejected, details)
    if not pieces:
      rejected['no_notes'] += 1
      details.append('no notes')
    stats = collections.Counter()

    # Candidates are (parts' label arrays, first labels, start step), built one at a time: a long
    # file with many instruments has a window per bar per combination, most of them dropped.
    def candidates():
      for piece in pieces:
        quantized = self._quantize(piece, rejected, details)
        if quantized is not None:
          yield from self._piece_candidates(quantized, rejected, details, stats)

    kept = self.keep_windows(candidates(),
                             lambda candidate: _window(candidate, self.window_steps).tobytes(),
                             rejected)
    arrays = ({label_windows.LABELS: np.stack([_window(candidate, self.window_steps)
                                               for candidate in kept])}
              if kept else self.empty_arrays())
    return contract.ConversionResult(arrays, rejected, stats['combinations'],
                                     tuple(dict.fromkeys(details)), self.encoding,
                                     self.slice_bars)

  def _piece_candidates(self, quantized, rejected, details, stats):
    """Yields the candidate windows of one quantized piece as (label arrays of the three parts,
    the melody's and the bass's first labels, start step); counts combinations in `stats`."""
    bar = contract.STEPS_PER_BAR
    total_bars = min(-(-quantized.total_quantized_steps // bar), MAX_BARS)
    total_steps = total_bars * bar

    types = {}
    programs = {}
    notes_by_instrument = collections.defaultdict(list)
    covered = {}
    for note in quantized.notes:
      instrument = note.instrument
      note_type = _note_type(note)
      if types.setdefault(instrument, note_type) != note_type:
        types[instrument] = _MIXED
      programs.setdefault(instrument, note.program)
      notes_by_instrument[instrument].append(note)
      # Coverage counts every note, as the original's does (before any pitch filtering).
      start_bar = note.quantized_start_step // bar
      end_bar = min(-(-note.quantized_end_step // bar), total_bars)
      if start_bar < total_bars:
        covered.setdefault(instrument, np.zeros(total_bars, bool))[start_bar:end_bar] = True

    by_type = {note_type: [] for note_type in _TYPES}
    for instrument in sorted(types):
      note_type = types[instrument]
      if note_type == _MIXED:
        rejected['mixed_types'] += 1
        details.append(f'an instrument mixing melody, bass and drum notes (instrument '
                       f'{instrument}, ignored)')
      elif note_type == _OTHER:
        rejected['other_program'] += 1
        details.append(f'an instrument whose program is neither melody nor bass (instrument '
                       f'{instrument}, program {programs[instrument]}, ignored)')
      else:
        by_type[note_type].append(instrument)
    missing = [note_type for note_type in _TYPES if not by_type[note_type]]
    if missing:
      rejected['missing_part'] += 1
      details.extend(_MISSING_PHRASES[note_type] for note_type in missing)
      return

    encoded = {}
    for note_type in _TYPES:
      for instrument in by_type[note_type]:
        labels = self._encode(note_type, notes_by_instrument[instrument], rejected)
        if labels is not None:
          labels = labels[:total_steps]
          encoded[instrument] = np.pad(labels, (0, total_steps - len(labels)))
      if not any(instrument in encoded for instrument in by_type[note_type]):
        rejected['missing_part'] += 1
        details.append(_UNENCODABLE_PHRASES[note_type])
        return

    widened = {instrument: _widen(covered[instrument], self.gap_bars) for instrument in encoded}
    first_labels = {instrument: melody.window_start_labels(encoded[instrument])
                    for instrument in by_type[MELODY] + by_type[BASS] if instrument in encoded}
    for group in itertools.product(*(by_type[note_type] for note_type in _TYPES)):
      if not all(instrument in encoded for instrument in group):
        continue
      stats['combinations'] += 1
      group_covered = np.all([widened[instrument] for instrument in group], axis=0)
      gap = self.gap_bars
      if gap:  # lenient ends: any of the three covering any of the first (last) gap bars
        group_covered[:gap] = any(widened[instrument][:gap].any() for instrument in group)
        group_covered[-gap:] = any(widened[instrument][-gap:].any() for instrument in group)
      found = False
      for start_bar in range(total_bars - self.slice_bars + 1):
        if group_covered[start_bar:start_bar + self.slice_bars].all():
          found = True
          start = start_bar * bar
          yield (tuple(encoded[instrument] for instrument in group),
                 tuple(first_labels[instrument][start] for instrument in group[:2]), start)
      if not found:
        rejected['no_overlap'] += 1
        details.append(f'no {self.slice_bars} bars where melody, bass and drums all play (each '
                       f'part may rest up to {self.gap_bars} bar(s) either side of a note)')

  def _encode(self, note_type, notes, rejected):
    """An instrument's labels over the piece, or None when nothing of it can be encoded."""
    if note_type == DRUMS:
      return drums.drum_labels(notes, rejected)
    kept = []
    for note in notes:
      if not note.velocity:
        continue
      if not melody.MIN_PITCH <= note.pitch <= melody.MAX_PITCH:
        rejected['pitch_out_of_range'] += 1
        continue
      kept.append((note.pitch, note.quantized_start_step, note.quantized_end_step))
    if not kept:
      return None
    labels, _ = melody.highest_note_labels(kept)
    return labels
