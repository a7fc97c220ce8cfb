"""Rebuilds the bundled melody corpus in data/midi/ from music21's copies of four tune books.

The corpus is every tune in 4/4 (C), 2/2 (C|) or 2/4 time from

  * Ryan's Mammoth Collection (Boston, 1883): music21 corpus folder `ryansMammoth`, one tune per
    ABC file, written to data/midi/ryans/<file-name-in-kebab-case>.mid;
  * O'Neill's Music of Ireland (Chicago, 1903; "1850 melodies"): music21 corpus folder
    `oneills1850`, many tunes per ABC file, written to data/midi/oneills/<NNNN>-<title>.mid where
    NNNN is the tune's number in the book;
  * Aird's Selection of Scotch, English, Irish and Foreign Airs (Glasgow, six volumes, from 1778
    into the early 1800s): music21 corpus folder `airdsAirs`, written to
    data/midi/airds/<NNNN>-<title>.mid where NNNN is the tune's number (X:) through the volumes;
  * Bruce and Stokoe's Northumbrian Minstrelsy (Newcastle, 1882): the file
    `northumbrianminstrelsyopus.abc` of the music21 corpus folder `miscFolk`, written to
    data/midi/northumbrian/<NNNN>-<title>.mid (NNNN: the ABC X: number).

2/4 tunes are rebarred: each 4/4 bar of the MIDI file holds two written 2/4 bars, paired from the
first full bar, and they go to the folder <book>_2-4/ (e.g. data/midi/ryans_2-4/) with the flag
'rebarred' in the index. Other meters (6/8, 9/8, 3/4, ...) are skipped: our melody converter takes
only bars of 16 sixteenth steps.

The folders of the first build (ryans/, oneills/: 4/4 and 2/2 only) are converted first and come
out byte for byte as they did before the other folders were added, so that their files keep their
side of the train/held-out split and earlier measurements stay comparable.

Each kept tune becomes a one-track MIDI file (program 0, velocity 80) with a single time signature
(4/4 or 2/2 as written, 4/4 for a rebarred 2/4 tune) and a 120 qpm tempo at time 0. The export
handles the pitfalls of these transcriptions:

  1. Pickups (anacruses) and short bars. Every full bar must start on a bar line of the MIDI grid.
     The first bar, if short, is a pickup: it is right-aligned so that it ends on the first bar
     line (i.e. the tune starts with a rest filling the rest of bar 0). Later short bars usually
     come in pairs that add up to a bar (the closing bar of a section plus the next section's
     pickup) and are kept as they are. Where they do not add up (e.g. a section that ends on a full
     bar and then repeats its pickup) the pickup is again right-aligned to the next bar line, which
     inserts a rest; this is allowed only at a section boundary (a double or repeat bar line, or
     a jump in bar numbers from expanded repeats). Short bars anywhere else mean a miscounted
     transcription (or a bar music21 split on unusual ABC syntax): the tune is skipped
     ('irregular_bars').
     A rebarred 2/4 tune is aligned the same way in 2/4 bars, with pickups right-aligned to a 4/4
     bar line, so its first full bar starts a 4/4 bar and 8 bars of 2/4 make 4 bars of 4/4. A
     section with an odd number of 2/4 bars would put the next section off the 4/4 grid: a rest of
     one 2/4 bar is inserted at the section boundary (flag 'half_bar_N'), before the next
     section's pickup if it has one.
  2. Time signatures. music21 tags some short bars with ad-hoc signatures (1/8, 1/6, 3/4, ...),
     and editing a score's TimeSignature objects in place is fragile (one object can be shared by
     several measures). We never edit music21's objects: the MIDI is written from a fresh
     NoteSequence with exactly one time signature at time 0. A tune whose signature really
     changes (a signature other than the main one on a full-length bar) is skipped
     ('meter_change'); a header meter other than C, C|, 4/4 or 2/2 is skipped unparsed ('meter').
  3. Repeats are written out with music21's expandRepeats(). When music21 cannot expand them
     (badly formed repeat marks) the tune is kept as written, unexpanded, and counted.

Further, grace notes are dropped (they have no duration), chords (double stops) keep their top
note, tied notes of the same pitch are merged, chord symbols (music21 also reads quoted fingerings
and dynamics as chord symbols) are ignored, and onsets and ends are rounded to the sixteenth-note
grid (triplets are not on it; where two onsets round to the same step the note written nearer the
step is kept, so notes written on the grid always survive and the melody stays monophonic).
Tunes with fewer than four bars of notes are skipped, and so are exact duplicates (same notes at
the same steps) of a tune already kept. Several tune numbers of O'Neill's appear in two
overlapping ABC files (different transcriptions): the first version (in sorted file order) that
passes the filters is kept, the others are counted as 'duplicate_number'. Outside the first
build's folders, a tune that shares most of its melody (runs of pitch intervals, so transposed,
rebarred and re-transcribed copies count) with a tune kept before it is skipped as
'duplicate_tune', so that one tune cannot be in training and held out at once.

A tab-separated index of the kept files (path, book, number, title, source file, meter, key, bars,
notes, flags) is written to data/midi/index.tsv.

The build is deterministic and all-or-nothing: everything is written to a temporary folder next
to the output, checked, and only then swapped in for the old folder. music21 is needed only here,
never by the music_vae_lite package.

Usage:
  pip install music21
  python data/build_corpus.py [--output_dir data/midi] [--num_workers 2]
"""

import argparse
import collections
import concurrent.futures
import dataclasses
import hashlib
import math
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

with warnings.catch_warnings():
  warnings.simplefilter('ignore')  # pydub, imported by note_seq, warns that ffmpeg is missing
  import note_seq  # pylint: disable=g-import-not-at-top

BOOKS = (
    # (book id used in paths and the index, music21 corpus folder, the folder's ABC files to read
    # (None: all of them))
    ('ryans', 'ryansMammoth', None),
    ('oneills', 'oneills1850', None),
    ('airds', 'airdsAirs', None),
    ('northumbrian', 'miscFolk', ('northumbrianminstrelsyopus.abc',)),
)
# ABC meter field -> (numerator, denominator). Both give 16 sixteenth steps per bar.
ACCEPTED_METERS = {'C': (4, 4), '4/4': (4, 4), 'C|': (2, 2), '2/2': (2, 2)}
# ABC meter field -> length of its bar in quarters, for meters whose bars are paired into 4/4 bars
# ('rebarred': two bars of 2/4 make one bar of 4/4). Such tunes go to the folder <book>_2-4.
PAIRED_METERS = {'2/4': 2.0}
PAIRED_SUFFIX = '_2-4'
# A 2/4 tune with at least this share of notes shorter than an eighth is stretched, not paired
# (see quantize_tune).
SIXTEENTHS_SHARE = 0.75
# Expanding repeats can at most double a tune's notes; music21 sometimes does far more (see
# _reduce_score).
MAX_EXPANSION = 2.0
BAR_QUARTERS = 4.0
STEPS_PER_QUARTER = 4
QPM = 120.0
VELOCITY = 80
PROGRAM = 0
MIN_BARS = 4
# A new tune is a duplicate of a kept one when DUPLICATE_SHARE of its runs of GRAM_NOTES pitch
# intervals are in it (see melody_grams; the values are chosen in data/README.md).
GRAM_NOTES = 12
DUPLICATE_SHARE = 0.3
_EPS = 1e-6


class SkipTune(Exception):
  """A tune that is not exported; args[0] is the reason (a stable key for the summary)."""


@dataclasses.dataclass
class RawTune:
  """One tune as read by music21, reduced to plain data (so workers can send it back cheaply)."""
  book: str
  source: str            # ABC file name inside the music21 corpus folder
  number: int            # number in the book (see book_number)
  title: str
  meter: str             # normalised ABC M: field of the header, e.g. 'C|' or '2/4'
  key: str               # e.g. 'D major'
  expanded: bool         # False when music21 could not expand the repeats
  expansion: float       # notes after music21's expansion of the repeats / notes as written
  # One per measure after expansion: (offset, quarter length, bar number, has a section barline,
  # its left barline is one, its right barline is one).
  measures: list
  # One per sounding note or chord: (measure index, offset in measure, quarter length, top MIDI
  # pitch, tie type or None). Grace notes are already dropped.
  notes: list

  @property
  def paired(self):
    """Whether the tune's bars are paired into 4/4 bars (a 2/4 tune)."""
    return self.meter in PAIRED_METERS

  @property
  def folder(self):
    """The folder of data/midi the tune goes to: its book, or '<book>_2-4' when rebarred."""
    return self.book + PAIRED_SUFFIX if self.paired else self.book


@dataclasses.dataclass
class Tune:
  """A tune ready to write: notes on the sixteenth grid, bars aligned to the 4/4 grid."""
  raw: RawTune
  numerator: int
  denominator: int
  notes: list            # (start step, end step, pitch), sorted, monophonic
  flags: list            # e.g. 'pickup', 'padded_1', 'snapped_12', 'not_expanded', 'rebarred'


def slugify(text, max_length=60):
  """Lower-case ASCII words joined by '-', safe on every file system."""
  text = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode('ascii')
  text = re.sub(r"['`]", '', text)  # "Rodney's" -> 'rodneys'
  slug = re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')
  return slug[:max_length].rstrip('-') or 'untitled'


def kebab_case(file_stem):
  """'AWillieWeHaveMissdYouStrathspey' -> 'a-willie-we-have-missd-you-strathspey'."""
  words = re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', ' ', file_stem)
  words = re.sub(r'\b(Ma?c) (?=[A-Z])', r'\1', words)  # 'McLeods', not 'Mc Leods'
  return slugify(words, max_length=100)


def written_bar_quarters(meter):
  """The length in quarters of a bar as the ABC meter writes it: 4 for C, C|, 4/4 and 2/2."""
  return PAIRED_METERS.get(meter, BAR_QUARTERS)


def split_abc_tunes(text):
  """Splits an ABC file at its X: lines into (X number, header fields, tune text).

  The header fields are a dict from field letter to the first value in the tune's header (before
  its K: line), e.g. {'M': 'C|', 'B': "O'Neill's 1646"}.
  """
  tunes = []
  current = None
  for line in text.splitlines():
    match = re.match(r'\s*X:\s*(\d+)', line)
    if match:
      current = [int(match.group(1)), []]
      tunes.append(current)
    if current is not None:
      current[1].append(line)
  result = []
  for number, lines in tunes:
    fields = {}
    for line in lines:
      if line.startswith('K:'):
        break  # the header ends at the key field
      match = re.match(r'([A-Za-z]):(.*)', line)
      if match:
        fields.setdefault(match.group(1), match.group(2).split('%')[0].strip())
    result.append((number, fields, '\n'.join(lines) + '\n'))
  return result


def book_number(book, x_number, fields):
  """The tune's number in its book.

  For O'Neill's the B: field ("O'Neill's 1646") is more reliable than X:, which has typos in
  three tunes (X: 0 for 1646, 800 for 700, 1781 for 1780). Ryan's has one tune per file and no
  tune numbers in B:, so its X: (usually 1) is kept.
  """
  if book == 'oneills':
    match = re.search(r'\d+', fields.get('B', ''))
    if match:
      return int(match.group())
  return x_number


def read_abc_file(book, path):
  """Reads one ABC file of the corpus. Returns a list of (number, folder, RawTune or None, reason).

  `folder` is the tune's folder of data/midi (see RawTune.folder); `book` for a tune skipped
  unparsed for its meter.

  Runs in a worker process. Tunes whose header meter is not accepted are not parsed at all
  (music21 parsing dominates the build time); tunes that are get parsed one by one, so one bad
  tune cannot take the rest of its file with it.
  """
  from music21 import converter  # pylint: disable=g-import-not-at-top
  with open(path, encoding='utf-8', errors='replace') as f:
    text = f.read()
  results = []
  for x_number, fields, tune_text in split_abc_tunes(text):
    number = book_number(book, x_number, fields)
    meter = fields.get('M', '').replace(' ', '')
    if meter not in ACCEPTED_METERS and meter not in PAIRED_METERS:
      results.append((number, book, None, 'meter'))
      continue
    folder = book + PAIRED_SUFFIX if meter in PAIRED_METERS else book
    try:
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        score = converter.parse(tune_text, format='abc')
    except Exception:  # pylint: disable=broad-except
      # music21 raises many kinds of errors on malformed ABC; we only count them.
      results.append((number, folder, None, 'parse_error'))
      continue
    try:
      results.append((number, folder,
                      _reduce_score(book, os.path.basename(path), number, meter, score, folder,
                                    tune_text), None))
    except SkipTune as skip:
      results.append((number, folder, None, skip.args[0]))
    except Exception:  # pylint: disable=broad-except
      results.append((number, folder, None, 'parse_error'))
  return results


def unmatched_repeat_ends(tune_text):
  """How many end-repeat signs (:| or ::) of a tune's body have no start-repeat sign before them.

  ABC lets the first end-repeat go back to the start of the tune, and each later one to the
  previous end-repeat. music21 does not follow this: it expands a tune with more than one such
  sign wrongly, many times over and slowly for a tune with many of them (10 in Aird's "Yanky
  Doodle", which it wrote out to 8,184 bars of 4/4).
  """
  body = tune_text.split('\nK:', 1)[-1].split('\n', 1)[-1]
  body = '\n'.join(line.split('%')[0] for line in body.splitlines())
  unmatched = 0
  open_start = False
  for sign in re.findall(r':\|:|::|:\||\|:', body):
    if sign != '|:':  # an end (':|'), or an end and a start (':|:', '::')
      unmatched += not open_start
    open_start = sign != ':|'
  return unmatched


def _reduce_score(book, source, number, meter, score, folder, tune_text):
  """Checks the meter of a parsed tune, expands its repeats and reduces it to a RawTune.

  Written out, a tune's repeats at most double its notes. Outside the folders of the first build
  (which keep music21's expansion, so that their files stay as they were), a tune is kept as
  written, unexpanded, when music21 would get its repeats wrong: when it has more than one
  end-repeat without a start (see unmatched_repeat_ends), or when the expansion gives more than
  MAX_EXPANSION times the written notes.
  """
  from music21 import bar, meter as m21_meter, stream  # pylint: disable=g-import-not-at-top
  if len(score.parts) != 1:
    raise SkipTune('not_one_part')
  main = meter if meter in PAIRED_METERS else '%d/%d' % ACCEPTED_METERS[meter]
  bar_quarters = written_bar_quarters(meter)
  # Ad-hoc signatures on short bars are fine (see pitfall 2 in the module docstring); a different
  # signature on a full bar is a real meter change.
  for measure in score.parts[0].getElementsByClass(stream.Measure):
    for signature in measure.getElementsByClass(m21_meter.TimeSignature):
      if signature.ratioString == main:
        continue
      same_bar = abs(signature.barDuration.quarterLength - bar_quarters) < _EPS
      if same_bar or measure.duration.quarterLength >= bar_quarters - _EPS:
        raise SkipTune('meter_change')
  first_build = folder in folder_order()[:2]
  expanded = first_build or unmatched_repeat_ends(tune_text) <= 1
  written_notes = len(score.recurse().notes)
  expansion = 1.0
  try:
    if expanded:
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        expanded_score = score.expandRepeats()
      expansion = len(expanded_score.recurse().notes) / max(1, written_notes)
      expanded = expansion <= MAX_EXPANSION or first_build
      if expanded:
        score = expanded_score
  except Exception:  # pylint: disable=broad-except
    expanded = False  # music21's ExpanderException on badly formed repeats: keep as written
  keys = score.recurse().getElementsByClass('KeySignature')
  key_name = ''
  if keys:
    key = keys[0]
    key_name = key.asKey().name if hasattr(key, 'asKey') else str(key)
    key_name = key_name.replace('-', 'b')  # music21 writes flats as '-': 'B- major'
  measures = []
  notes = []
  def is_section_barline(barline):
    return (isinstance(barline, bar.Barline) and barline.type in (
        'double', 'final', 'heavy', 'light-heavy', 'heavy-light', 'heavy-heavy')
            or isinstance(barline, bar.Repeat))

  for index, measure in enumerate(score.parts[0].getElementsByClass(stream.Measure)):
    left = is_section_barline(measure.leftBarline)
    right = is_section_barline(measure.rightBarline)
    measures.append((float(measure.offset), float(measure.duration.quarterLength),
                     measure.number, left or right, left, right))
    for element in measure.recurse().notes:
      if 'Harmony' in element.classes:
        continue  # chord symbols, and quoted dynamics/fingerings music21 reads as chord symbols
      if element.duration.isGrace or element.duration.quarterLength <= 0:
        continue
      pitches = [p.midi for p in element.pitches]
      if not pitches:
        continue  # a chord symbol or other pitchless note-like object
      notes.append((index, float(element.getOffsetInHierarchy(measure)),
                    float(element.duration.quarterLength), max(pitches),
                    element.tie.type if element.tie is not None else None))
  title = (score.metadata.title if score.metadata and score.metadata.title else '').strip()
  return RawTune(book=book, source=source, number=number, title=title, meter=meter, key=key_name,
                 expanded=expanded, expansion=expansion, measures=measures, notes=notes)


def align_measures(measures, bar=BAR_QUARTERS):
  """New start times (quarters) for the measures so that every full bar starts on a bar line.

  Args:
    measures: list of (offset, quarter length, bar number, has a section barline, its left
      barline is one, its right barline is one), in order.
    bar: the length of a written bar in quarters: BAR_QUARTERS, or 2 for a 2/4 tune whose bars are
      paired into bars of BAR_QUARTERS.
  Returns:
    (starts, pickup, padded, half_bars): starts[i] is the new start of measure i; pickup says
    whether the tune opens with a short bar; padded counts the rests inserted before later
    pickups; half_bars counts the rests of one written bar inserted so that a section of a
    paired tune starts on a 4/4 bar line (always 0 when `bar` is BAR_QUARTERS).
  Raises:
    SkipTune('irregular_bars') for an over-long bar, or for short bars that do not add up to full
    bars away from a section boundary.
  """
  grid = BAR_QUARTERS  # the bar lines of the MIDI file; a multiple of `bar`
  paired = grid > bar + _EPS
  lengths = [m[1] for m in measures]
  if any(length > bar + _EPS for length in lengths):
    raise SkipTune('irregular_bars')
  is_full = [abs(length - bar) < _EPS for length in lengths]

  def next_line(time, unit):
    return math.ceil(time / unit - _EPS) * unit

  def section_starts(first, last):
    """Whether a section starts at one of measures first..last: after a section barline, or
    where an expanded repeat starts again (a bar number no higher than the one before). A
    second ending skips its first ending's bar number, which is not a new section."""
    return any(measures[i - 1][5] or measures[i][4] or measures[i][2] <= measures[i - 1][2]
               for i in range(max(first, 1), min(last, len(measures) - 1) + 1))

  def on_grid(time):
    return abs(time / grid - round(time / grid)) < _EPS

  starts = [0.0] * len(measures)
  pickup = False
  padded = 0
  half_bars = 0
  index = 0
  cursor = 0.0  # always on a written bar line when a full bar comes
  while index < len(measures):
    if is_full[index]:
      if paired and not on_grid(cursor) and section_starts(index, index):
        cursor += bar  # the previous section had an odd number of bars: rest for a written bar
        half_bars += 1
      starts[index] = cursor
      cursor += bar
      index += 1
      continue
    run_end = index
    while run_end < len(measures) and not is_full[run_end]:
      run_end += 1
    run = list(range(index, run_end))
    total = sum(lengths[i] for i in run)
    whole_bars = abs(total / bar - round(total / bar)) < _EPS
    # A paired tune's section closing and next pickup that fill whole bars but leave the next
    # section off the 4/4 grid are treated like a pickup that does not fit (below).
    off_grid = (paired and whole_bars and run_end < len(measures)
                and not on_grid(cursor + total) and section_starts(index, run_end))
    if index == 0 and run_end < len(measures):
      # Opening pickup: right-align the run so that it ends on a bar line of the MIDI file.
      pickup = not whole_bars
      position = next_line(total, grid) - total
      for i in run:
        starts[i] = position
        position += lengths[i]
      cursor = position
    elif (whole_bars and not off_grid) or run_end == len(measures):
      # Short bars that fill whole bars together, or the closing bar(s) of the tune.
      for i in run:
        starts[i] = cursor
        cursor += lengths[i]
      cursor = next_line(cursor, bar)
    else:
      boundary = (measures[index - 1][3] or any(measures[i][3] for i in run)
                  or any(measures[i][2] != measures[i - 1][2] + 1 for i in run + [run_end]))
      if not (boundary or off_grid):
        raise SkipTune('irregular_bars')
      # All but the last short bar close the previous section; the last is the next pickup.
      for i in run[:-1]:
        starts[i] = cursor
        cursor += lengths[i]
      last = run[-1]
      end = next_line(cursor + lengths[last], grid)
      starts[last] = end - lengths[last]
      cursor = end
      if off_grid:
        half_bars += 1
      else:
        padded += 1
    index = run_end
  return starts, pickup, padded, half_bars


def written_in_sixteenths(raw):
  """Whether a 2/4 tune moves in sixteenths: at least SIXTEENTHS_SHARE of its notes are shorter
  than an eighth. Such a tune (most reels and hornpipes in 2/4) is the same music as a 2/2 tune in
  eighths written with halved note values."""
  short = sum(length < 0.5 - _EPS for _, _, length, _, _ in raw.notes)
  return raw.paired and short >= SIXTEENTHS_SHARE * len(raw.notes)


def quantize_tune(raw):
  """Turns a RawTune into a Tune: aligned bars, merged ties, notes on the sixteenth grid.

  A 2/4 tune in sixteenths (written_in_sixteenths) is stretched: its times are doubled, so that
  each 2/4 bar fills a 4/4 bar and its sixteenths become eighths, as in the corpus's 2/2 reels.
  Another 2/4 tune is paired: two 2/4 bars make a 4/4 bar.
  """
  stretched = written_in_sixteenths(raw)
  scale = 2.0 if stretched else 1.0
  measures = [(offset * scale, length * scale) + tuple(rest)
              for offset, length, *rest in raw.measures]
  raw_notes = [(index, offset * scale, length * scale, pitch, tie)
               for index, offset, length, pitch, tie in raw.notes]
  starts, pickup, padded, half_bars = align_measures(
      measures, written_bar_quarters(raw.meter) * scale)
  shifts = [start - measure[0] for start, measure in zip(starts, measures)]
  # Absolute times in quarters; merge a tie into the note it continues (same pitch, touching).
  timed = []
  for measure_index, offset, length, pitch, tie in raw_notes:
    start = measures[measure_index][0] + offset + shifts[measure_index]
    if (tie in ('stop', 'continue') and timed and timed[-1][2] == pitch
        and abs(timed[-1][1] - start) < _EPS):
      timed[-1][1] = start + length
    else:
      timed.append([start, start + length, pitch])
  timed.sort(key=lambda note: note[0])
  notes = []
  snapped = 0
  dropped = 0
  error = []  # per kept note: distance in steps of its written onset from its grid step
  for start, end, pitch in timed:
    start_step = math.floor(start * STEPS_PER_QUARTER + 0.5)
    end_step = max(math.floor(end * STEPS_PER_QUARTER + 0.5), start_step + 1)
    distance = abs(start_step - start * STEPS_PER_QUARTER)
    if distance > _EPS:
      snapped += 1
    if notes and start_step == notes[-1][0]:
      # Two onsets on one step (fast triplets): keep the note written nearer the grid step (the
      # earlier on a tie), so that notes written on the grid always survive.
      dropped += 1
      if distance < error[-1] - _EPS:
        notes[-1] = (start_step, end_step, pitch)
        error[-1] = distance
      continue
    if notes and notes[-1][1] > start_step:
      notes[-1] = (notes[-1][0], start_step, notes[-1][2])  # keep the melody monophonic
    notes.append((start_step, end_step, pitch))
    error.append(distance)
  if not notes:
    raise SkipTune('no_notes')
  steps_per_bar = int(BAR_QUARTERS * STEPS_PER_QUARTER)
  first_bar = notes[0][0] // steps_per_bar
  last_bar = (notes[-1][1] - 1) // steps_per_bar
  if last_bar - first_bar + 1 < MIN_BARS:
    raise SkipTune('too_short')
  flags = []
  if pickup:
    flags.append('pickup')
  if padded:
    flags.append('padded_%d' % padded)
  if half_bars:
    flags.append('half_bar_%d' % half_bars)
  if snapped:
    flags.append('snapped_%d' % snapped)
  if dropped:
    flags.append('dropped_%d' % dropped)
  if not raw.expanded:
    flags.append('not_expanded')
  if raw.paired:
    flags.append('stretched' if stretched else 'rebarred')
  numerator, denominator = (4, 4) if raw.paired else ACCEPTED_METERS[raw.meter]
  return Tune(raw=raw, numerator=numerator, denominator=denominator, notes=notes, flags=flags)


def to_note_sequence(tune):
  """A NoteSequence with one time signature and one tempo at time 0 and one melody track."""
  seconds_per_step = 60.0 / QPM / STEPS_PER_QUARTER
  sequence = note_seq.NoteSequence()
  sequence.ticks_per_quarter = note_seq.constants.STANDARD_PPQ
  sequence.tempos.add(time=0.0, qpm=QPM)
  sequence.time_signatures.add(time=0.0, numerator=tune.numerator, denominator=tune.denominator)
  info = sequence.instrument_infos.add(instrument=0)
  info.name = tune.raw.title[:100]
  for start, end, pitch in tune.notes:
    sequence.notes.add(pitch=pitch, velocity=VELOCITY, instrument=0, program=PROGRAM,
                       start_time=start * seconds_per_step, end_time=end * seconds_per_step)
  sequence.total_time = tune.notes[-1][1] * seconds_per_step
  return sequence


def check_midi_file(path, tune):
  """Reads a written file back and checks what the training pipeline relies on.

  Raises:
    ValueError naming the file and the problem.
  """
  sequence = note_seq.midi_file_to_note_sequence(path)
  signatures = [(s.time, s.numerator, s.denominator) for s in sequence.time_signatures]
  if signatures != [(0.0, tune.numerator, tune.denominator)]:
    raise ValueError(f'{path}: time signatures {signatures}, expected one '
                     f'{tune.numerator}/{tune.denominator} at time 0')
  if len(sequence.tempos) != 1 or sequence.tempos[0].time != 0.0 or (
      abs(sequence.tempos[0].qpm - QPM) > 1e-3):
    raise ValueError(f'{path}: tempos {list(sequence.tempos)}, expected one {QPM} qpm at 0')
  seconds_per_step = 60.0 / QPM / STEPS_PER_QUARTER
  read = sorted((round(n.start_time / seconds_per_step, 3), round(n.end_time / seconds_per_step, 3),
                 n.pitch) for n in sequence.notes)
  if any(n.is_drum or n.program != PROGRAM for n in sequence.notes):
    raise ValueError(f'{path}: notes are not all on program {PROGRAM}, non-drum')
  if any(start != int(start) or end != int(end) for start, end, _ in read):
    raise ValueError(f'{path}: note times off the sixteenth-note grid')
  if [(int(s), int(e), p) for s, e, p in read] != list(tune.notes):
    raise ValueError(f'{path}: notes read back differ from the notes written')


def folder_order():
  """The folders of data/midi in the order their tunes are converted and de-duplicated.

  The folders of the first build (ryans/, oneills/) come first, so that adding sources can
  neither drop nor rename one of their files; then each further folder in the order of BOOKS.
  """
  folders = [book for book, _, _ in BOOKS[:2]]
  folders += [book + PAIRED_SUFFIX for book, _, _ in BOOKS[:2]]
  for book, _, _ in BOOKS[2:]:
    folders += [book, book + PAIRED_SUFFIX]
  return folders


def melody_grams(notes):
  """The distinct runs of GRAM_NOTES consecutive pitch intervals of a tune.

  Intervals alone ignore transposition, rhythm, bar lines and rests, so the same tune transposed,
  rebarred (or written at half speed, as some 2/4 reels are) shares nearly all its runs with the
  original, and a second transcription of it most of them.
  """
  intervals = [b[2] - a[2] for a, b in zip(notes, notes[1:])]
  return {tuple(intervals[i:i + GRAM_NOTES]) for i in range(len(intervals) - GRAM_NOTES + 1)}


class TuneIndex:
  """Finds the kept tune that shares the most melody_grams with a new tune."""

  def __init__(self):
    self._tunes_by_gram = collections.defaultdict(list)
    self._sizes = []

  def add(self, grams):
    for gram in grams:
      self._tunes_by_gram[gram].append(len(self._sizes))
    self._sizes.append(len(grams))

  def closest(self, grams):
    """(index of the kept tune, share) or (None, 0.0), where share is the number of grams the two
    tunes share over the number of grams of the smaller one: 1 when one tune's melody is all in
    the other (a tune kept alone and inside a medley, say)."""
    shared = collections.Counter()
    for gram in grams:
      shared.update(self._tunes_by_gram.get(gram, ()))
    if not shared:
      return None, 0.0
    shares = {i: count / min(len(grams), self._sizes[i]) for i, count in shared.items()}
    best = max(shares.values())
    # The lowest index among the best, so the answer does not depend on the Counter's order.
    return min(i for i, share in shares.items() if share == best), best


def convert_all(raw_results):
  """Applies quantize_tune and the de-duplication to every tune, in a deterministic order.

  Every tune is checked against the tunes kept before it (folder_order, then file order):
  'duplicate_number' for a second transcription of an O'Neill's number, 'duplicate_content' for
  the same notes at the same steps; a tune outside the folders of the first build is also
  skipped as 'duplicate_tune' when at least DUPLICATE_SHARE of its melody_grams are in one kept
  tune (the same tune transposed, rebarred or transcribed again), so that no tune can be both in
  training and held out.

  Args:
    raw_results: list of (book, source path, [(number, folder, RawTune or None, reason)]), sorted.
  Returns:
    (tunes kept, Counter of (folder, skip reason), Counter of tunes seen per book,
     list of (tune, kept tune, share) for every 'duplicate_tune' and for every tune of the first
     build that would be one: those are kept, so that the first build's files stay as they were).
  """
  kept = []
  skipped = collections.Counter()
  seen = collections.Counter()
  duplicates = []
  numbers_kept = set()
  contents_kept = set()
  index = TuneIndex()
  first_build = folder_order()[:2]
  for book, _, results in raw_results:
    seen[book] += len(results)
  for group in folder_order():
    for book, _, results in raw_results:
      for number, folder, raw, reason in results:
        if folder != group:
          continue
        if raw is None:
          skipped[folder, reason] += 1
          continue
        try:
          tune = quantize_tune(raw)
        except SkipTune as skip:
          skipped[folder, skip.args[0]] += 1
          continue
        if book == 'oneills' and number in numbers_kept:
          skipped[folder, 'duplicate_number'] += 1
          continue
        digest = hashlib.sha256(repr(tune.notes).encode()).hexdigest()
        if digest in contents_kept:
          skipped[folder, 'duplicate_content'] += 1
          continue
        grams = melody_grams(tune.notes)
        closest, share = index.closest(grams)
        if share >= DUPLICATE_SHARE:
          duplicates.append((tune, kept[closest], share))
          if folder not in first_build:
            skipped[folder, 'duplicate_tune'] += 1
            continue
        if book == 'oneills':
          numbers_kept.add(number)
        contents_kept.add(digest)
        index.add(grams)
        kept.append(tune)
  return kept, skipped, seen, duplicates


def file_names(tunes):
  """Stable, unique relative paths for the tunes (a numeric suffix resolves clashes)."""
  names = []
  used = set()
  for tune in tunes:
    raw = tune.raw
    if raw.book == 'ryans':
      stem = kebab_case(os.path.splitext(raw.source)[0])
    else:
      stem = '%04d-%s' % (raw.number, slugify(raw.title))
    name = f'{raw.folder}/{stem}.mid'
    suffix = 2
    while name in used:
      name = f'{raw.folder}/{stem}-{suffix}.mid'
      suffix += 1
    used.add(name)
    names.append(name)
  return names


def write_corpus(tunes, output_dir):
  """Writes the MIDI files and index.tsv into a new folder, checks them, then swaps it in.

  Returns the files' relative paths, in the order of `tunes`.
  """
  output_dir = os.path.abspath(output_dir)
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.midi-build-', dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the corpus folder is not
  try:
    index_lines = ['path\tbook\tnumber\ttitle\tsource\tmeter\tkey\tbars\tnotes\tflags']
    names = file_names(tunes)
    for tune, name in zip(tunes, names):
      path = os.path.join(staging, name)
      os.makedirs(os.path.dirname(path), exist_ok=True)
      note_seq.sequence_proto_to_midi_file(to_note_sequence(tune), path)
      check_midi_file(path, tune)
      raw = tune.raw
      bars = math.ceil(tune.notes[-1][1] / (BAR_QUARTERS * STEPS_PER_QUARTER))
      index_lines.append('\t'.join([
          name, raw.book, str(raw.number), re.sub(r'\s+', ' ', raw.title), raw.source,
          f'{tune.numerator}/{tune.denominator}', raw.key, str(bars), str(len(tune.notes)),
          ','.join(tune.flags)]))
    with open(os.path.join(staging, 'index.tsv'), 'w', encoding='utf-8') as f:
      f.write('\n'.join(index_lines) + '\n')
    # Swap: old folder aside, new one in, old one removed (a crash in between leaves both).
    backup = None
    if os.path.exists(output_dir):
      backup = tempfile.mkdtemp(prefix='.midi-old-', dir=parent)
      os.rmdir(backup)
      os.replace(output_dir, backup)
    os.replace(staging, output_dir)
    if backup:
      shutil.rmtree(backup)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return names


def corpus_files():
  """(book, path) for every ABC file of the books, in a stable order."""
  from music21 import corpus  # pylint: disable=g-import-not-at-top
  files = []
  for book, folder, names in BOOKS:
    paths = sorted(str(p) for p in corpus.getComposer(folder) if str(p).endswith('.abc')
                   and (names is None or os.path.basename(str(p)) in names))
    if not paths or (names is not None and len(paths) != len(names)):
      raise RuntimeError(f'music21 corpus folder {folder!r} not found or incomplete; is the '
                         'music21 corpus installed?')
    files.extend((book, path) for path in paths)
  return files


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--output_dir', default=os.path.join(os.path.dirname(
      os.path.abspath(__file__)), 'midi'), help='folder to (re)build (default: data/midi)')
  parser.add_argument('--num_workers', type=int, default=2, help='parsing processes')
  args = parser.parse_args(argv)
  began = time.time()
  files = corpus_files()
  with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, args.num_workers)) as pool:
    results = list(pool.map(read_abc_file, [b for b, _ in files], [p for _, p in files],
                            chunksize=8))
  raw_results = [(book, path, result) for (book, path), result in zip(files, results)]
  tunes, skipped, seen, duplicates = convert_all(raw_results)
  names = write_corpus(tunes, args.output_dir)
  print_summary(files, tunes, names, skipped, seen, duplicates, args.output_dir)
  print(f'time: {time.time() - began:.0f} s')
  return 0


def print_summary(files, tunes, names, skipped, seen, duplicates, output_dir):
  """Prints what was kept and skipped, per book and per folder, and every near-duplicate."""
  name_of = {id(tune): name for tune, name in zip(tunes, names)}
  kept = collections.Counter(t.raw.folder for t in tunes)
  size = sum(os.path.getsize(os.path.join(root, name))
             for root, _, entries in os.walk(output_dir) for name in entries
             if name.endswith('.mid'))
  print(f'ABC files read: {len(files)}')
  for book, _, _ in BOOKS:
    print(f'{book}: tunes seen {seen[book]}')
    for folder in (book, book + PAIRED_SUFFIX):
      reasons = ', '.join(f'{reason} {count}' for (f, reason), count in sorted(skipped.items())
                          if f == folder)
      flags = collections.Counter(re.sub(r'_\d+$', '', f) for t in tunes if t.raw.folder == folder
                                  for f in t.flags)
      print(f'  {folder}/: kept {kept[folder]}; skipped: {reasons}; kept with: ' +
            ', '.join(f'{k} {v}' for k, v in sorted(flags.items())))
  print(f'kept in all: {len(tunes)} MIDI files, {size / 1e6:.2f} MB, in {output_dir}')
  totals = collections.Counter()
  for (_, reason), count in skipped.items():
    totals[reason] += count
  print('skipped in all: ' + ', '.join(f'{k} {v}' for k, v in sorted(totals.items())))
  flags = collections.Counter(re.sub(r'_\d+$', '', f) for t in tunes for f in t.flags)
  print('kept tunes with: ' + ', '.join(f'{k} {v}' for k, v in sorted(flags.items())) +
        '  (pickup: opening pickup aligned; padded: rest inserted before a later pickup; '
        'half_bar: rest of a 2/4 bar inserted so that a section starts on a 4/4 bar line; '
        'snapped: onsets moved to the 16th grid; dropped: notes lost to snapping; not_expanded: '
        'repeats could not be expanded; rebarred: 2/4 bars paired into 4/4 bars)')
  first_build = set(folder_order()[:2])
  print(f'near-duplicates (at least {DUPLICATE_SHARE:.0%} of the runs of {GRAM_NOTES} intervals '
        'of the smaller tune in the other):')
  for tune, other, share in duplicates:
    raw = tune.raw
    if raw.folder in first_build:
      what = f'kept (first build): {name_of[id(tune)]}'
    else:
      what = f'skipped: {raw.folder}/ {raw.source} #{raw.number} "{raw.title}"'
    print(f'  {what} ~ {name_of[id(other)]} ({share:.2f})')


if __name__ == '__main__':
  sys.exit(main())
