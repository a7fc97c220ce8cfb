"""Rebuilds the bundled melody corpus in data/midi/ from music21's copy of two fiddle-tune books.

The corpus is every tune in 4/4 (C) or 2/2 (C|) time from

  * Ryan's Mammoth Collection (Boston, 1883): music21 corpus folder `ryansMammoth`, one tune per
    ABC file, written to data/midi/ryans/<file-name-in-kebab-case>.mid;
  * O'Neill's Music of Ireland (Chicago, 1903; "1850 melodies"): music21 corpus folder
    `oneills1850`, many tunes per ABC file, written to data/midi/oneills/<NNNN>-<title>.mid where
    NNNN is the tune's number in the book.

Other meters are skipped: our melody converter takes only bars of 16 sixteenth steps, so 2/4 (the
meter of many of Ryan's reels), 6/8, 9/8 and 3/4 are out.

Each kept tune becomes a one-track MIDI file (program 0, velocity 80) with a single time signature
(4/4 or 2/2, as written) and a 120 qpm tempo at time 0. The export handles the pitfalls of these
transcriptions:

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
passes the filters is kept, the others are counted as 'duplicate_number'.

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
    # (book id used in paths and the index, music21 corpus folder)
    ('ryans', 'ryansMammoth'),
    ('oneills', 'oneills1850'),
)
# ABC meter field -> (numerator, denominator). Both give 16 sixteenth steps per bar.
ACCEPTED_METERS = {'C': (4, 4), '4/4': (4, 4), 'C|': (2, 2), '2/2': (2, 2)}
BAR_QUARTERS = 4.0
STEPS_PER_QUARTER = 4
QPM = 120.0
VELOCITY = 80
PROGRAM = 0
MIN_BARS = 4
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
  meter: str             # normalised ABC M: field of the header, e.g. 'C|'
  key: str               # e.g. 'D major'
  expanded: bool         # False when music21 could not expand the repeats
  # One per measure after expansion: (offset, quarter length, bar number, has a section barline).
  measures: list
  # One per sounding note or chord: (measure index, offset in measure, quarter length, top MIDI
  # pitch, tie type or None). Grace notes are already dropped.
  notes: list


@dataclasses.dataclass
class Tune:
  """A tune ready to write: notes on the sixteenth grid, bars aligned to the 4/4 grid."""
  raw: RawTune
  numerator: int
  denominator: int
  notes: list            # (start step, end step, pitch), sorted, monophonic
  flags: list            # e.g. 'pickup', 'padded_1', 'snapped_12', 'not_expanded'


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
  """Reads one ABC file of the corpus. Returns a list of (number, RawTune or None, reason).

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
    if meter not in ACCEPTED_METERS:
      results.append((number, None, 'meter'))
      continue
    try:
      with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        score = converter.parse(tune_text, format='abc')
    except Exception:  # pylint: disable=broad-except
      # music21 raises many kinds of errors on malformed ABC; we only count them.
      results.append((number, None, 'parse_error'))
      continue
    try:
      results.append((number, _reduce_score(book, os.path.basename(path), number, meter, score),
                      None))
    except SkipTune as skip:
      results.append((number, None, skip.args[0]))
    except Exception:  # pylint: disable=broad-except
      results.append((number, None, 'parse_error'))
  return results


def _reduce_score(book, source, number, meter, score):
  """Checks the meter of a parsed tune, expands its repeats and reduces it to a RawTune."""
  from music21 import bar, meter as m21_meter, stream  # pylint: disable=g-import-not-at-top
  if len(score.parts) != 1:
    raise SkipTune('not_one_part')
  main = '%d/%d' % ACCEPTED_METERS[meter]
  # Ad-hoc signatures on short bars are fine (see pitfall 2 in the module docstring); a different
  # signature on a full bar is a real meter change.
  for measure in score.parts[0].getElementsByClass(stream.Measure):
    for signature in measure.getElementsByClass(m21_meter.TimeSignature):
      if signature.ratioString == main:
        continue
      same_bar = abs(signature.barDuration.quarterLength - BAR_QUARTERS) < _EPS
      if same_bar or measure.duration.quarterLength >= BAR_QUARTERS - _EPS:
        raise SkipTune('meter_change')
  expanded = True
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('ignore')
      score = score.expandRepeats()
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
  for index, measure in enumerate(score.parts[0].getElementsByClass(stream.Measure)):
    section_bar = any(isinstance(b, bar.Barline) and b.type in ('double', 'final', 'heavy',
                                                                 'light-heavy', 'heavy-light',
                                                                 'heavy-heavy')
                      or isinstance(b, bar.Repeat)
                      for b in (measure.leftBarline, measure.rightBarline))
    measures.append((float(measure.offset), float(measure.duration.quarterLength),
                     measure.number, section_bar))
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
                 expanded=expanded, measures=measures, notes=notes)


def align_measures(measures):
  """New start times (quarters) for the measures so that every full bar starts on a bar line.

  Args:
    measures: list of (offset, quarter length, bar number, has a section barline), in order.
  Returns:
    (starts, pickup, padded): starts[i] is the new start of measure i; pickup says whether the
    tune opens with a short bar; padded counts the rests inserted before later pickups.
  Raises:
    SkipTune('irregular_bars') for an over-long bar, or for short bars that do not add up to full
    bars away from a section boundary.
  """
  lengths = [m[1] for m in measures]
  if any(length > BAR_QUARTERS + _EPS for length in lengths):
    raise SkipTune('irregular_bars')
  is_full = [abs(length - BAR_QUARTERS) < _EPS for length in lengths]
  starts = [0.0] * len(measures)
  pickup = False
  padded = 0
  index = 0
  cursor = 0.0  # always on a bar line when a full bar comes
  while index < len(measures):
    if is_full[index]:
      starts[index] = cursor
      cursor += BAR_QUARTERS
      index += 1
      continue
    run_end = index
    while run_end < len(measures) and not is_full[run_end]:
      run_end += 1
    run = list(range(index, run_end))
    total = sum(lengths[i] for i in run)
    whole_bars = abs(total / BAR_QUARTERS - round(total / BAR_QUARTERS)) < _EPS
    if index == 0 and run_end < len(measures):
      # Opening pickup: right-align the run so that it ends on a bar line.
      pickup = not whole_bars
      position = math.ceil(total / BAR_QUARTERS - _EPS) * BAR_QUARTERS - total
      for i in run:
        starts[i] = position
        position += lengths[i]
      cursor = position
    elif whole_bars or run_end == len(measures):
      # Short bars that fill whole bars together, or the closing bar(s) of the tune.
      for i in run:
        starts[i] = cursor
        cursor += lengths[i]
      cursor = math.ceil(cursor / BAR_QUARTERS - _EPS) * BAR_QUARTERS
    else:
      boundary = (measures[index - 1][3] or any(measures[i][3] for i in run)
                  or any(measures[i][2] != measures[i - 1][2] + 1 for i in run + [run_end]))
      if not boundary:
        raise SkipTune('irregular_bars')
      # All but the last short bar close the previous section; the last is the next pickup.
      for i in run[:-1]:
        starts[i] = cursor
        cursor += lengths[i]
      last = run[-1]
      end = math.ceil((cursor + lengths[last]) / BAR_QUARTERS - _EPS) * BAR_QUARTERS
      starts[last] = end - lengths[last]
      cursor = end
      padded += 1
    index = run_end
  return starts, pickup, padded


def quantize_tune(raw):
  """Turns a RawTune into a Tune: aligned bars, merged ties, notes on the sixteenth grid."""
  starts, pickup, padded = align_measures(raw.measures)
  shifts = [start - measure[0] for start, measure in zip(starts, raw.measures)]
  # Absolute times in quarters; merge a tie into the note it continues (same pitch, touching).
  timed = []
  for measure_index, offset, length, pitch, tie in raw.notes:
    start = raw.measures[measure_index][0] + offset + shifts[measure_index]
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
  if snapped:
    flags.append('snapped_%d' % snapped)
  if dropped:
    flags.append('dropped_%d' % dropped)
  if not raw.expanded:
    flags.append('not_expanded')
  numerator, denominator = ACCEPTED_METERS[raw.meter]
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


def convert_all(raw_results):
  """Applies quantize_tune and the de-duplication to every tune, in a deterministic order.

  Args:
    raw_results: list of (book, source path, [(number, RawTune or None, reason)]), sorted.
  Returns:
    (tunes kept, Counter of (book, skip reason), Counter of tunes seen per book).
  """
  kept = []
  skipped = collections.Counter()
  seen = collections.Counter()
  numbers_kept = set()
  contents_kept = set()
  for book, _, results in raw_results:
    for number, raw, reason in results:
      seen[book] += 1
      if raw is None:
        skipped[book, reason] += 1
        continue
      try:
        tune = quantize_tune(raw)
      except SkipTune as skip:
        skipped[book, skip.args[0]] += 1
        continue
      if book == 'oneills' and number in numbers_kept:
        skipped[book, 'duplicate_number'] += 1
        continue
      digest = hashlib.sha256(repr(tune.notes).encode()).hexdigest()
      if digest in contents_kept:
        skipped[book, 'duplicate_content'] += 1
        continue
      if book == 'oneills':
        numbers_kept.add(number)
      contents_kept.add(digest)
      kept.append(tune)
  return kept, skipped, seen


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
    name = f'{raw.book}/{stem}.mid'
    suffix = 2
    while name in used:
      name = f'{raw.book}/{stem}-{suffix}.mid'
      suffix += 1
    used.add(name)
    names.append(name)
  return names


def write_corpus(tunes, output_dir):
  """Writes the MIDI files and index.tsv into a new folder, checks them, then swaps it in."""
  output_dir = os.path.abspath(output_dir)
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix='.midi-build-', dir=parent)
  umask = os.umask(0)
  os.umask(umask)
  os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; the corpus folder is not
  try:
    index_lines = ['path\tbook\tnumber\ttitle\tsource\tmeter\tkey\tbars\tnotes\tflags']
    for tune, name in zip(tunes, file_names(tunes)):
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


def corpus_files():
  """(book, path) for every ABC file of the two books, in a stable order."""
  from music21 import corpus  # pylint: disable=g-import-not-at-top
  files = []
  for book, folder in BOOKS:
    paths = sorted(str(p) for p in corpus.getComposer(folder) if str(p).endswith('.abc'))
    if not paths:
      raise RuntimeError(f'music21 corpus folder {folder!r} not found or empty; is the music21 '
                         'corpus installed?')
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
  tunes, skipped, seen = convert_all(raw_results)
  write_corpus(tunes, args.output_dir)
  kept = collections.Counter(t.raw.book for t in tunes)
  size = sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(args.output_dir) for name in names
             if name.endswith('.mid'))
  flags = collections.Counter(re.sub(r'_\d+$', '', f) for t in tunes for f in t.flags)
  print(f'ABC files read: {len(files)}')
  for book, _ in BOOKS:
    reasons = ', '.join(f'{reason} {count}' for (b, reason), count in sorted(skipped.items())
                        if b == book)
    print(f'{book}: tunes seen {seen[book]}, kept {kept[book]}; skipped: {reasons}')
  print(f'kept in all: {len(tunes)} MIDI files, {size / 1e6:.2f} MB, in {args.output_dir}')
  totals = collections.Counter()
  for (_, reason), count in skipped.items():
    totals[reason] += count
  print('skipped in all: ' + ', '.join(f'{k} {v}' for k, v in sorted(totals.items())))
  print('kept tunes with: ' + ', '.join(f'{k} {v}' for k, v in sorted(flags.items())) +
        '  (pickup: opening pickup aligned; padded: rest inserted before a later pickup; '
        'snapped: onsets moved to the 16th grid; dropped: notes lost to snapping; not_expanded: '
        'repeats could not be expanded)')
  print(f'time: {time.time() - began:.0f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
