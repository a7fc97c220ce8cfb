"""Hostile input: a generated garbage corpus through preprocessing and mvl_preprocess / mvl_train.

Every bad file must be named with a truthful reason, nothing may crash the run, and no file may
make a process allocate per tick or per event before the limits are checked. This module imports
nothing heavy at the top (TensorFlow only inside tests): spawned worker processes import it to
unpickle its converters.
"""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib
import signal
import stat
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from music_vae_lite.families import melody
from music_vae_lite.pipeline import midi_guard
from music_vae_lite.pipeline import preprocess

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 300
NON_UTF8_NAME = b'caf\xe9 \xff.mid'  # Latin-1 bytes: not UTF-8
NEWLINE_NAME = 'two\nlines.mid'


# ---------------------------------------------------------------------------------------------
# Raw Standard MIDI Files.


def vlq(value):
  """A MIDI variable-length quantity."""
  out = [value & 0x7F]
  value >>= 7
  while value:
    out.append(0x80 | (value & 0x7F))
    value >>= 7
  return bytes(reversed(out))


def smf(tracks, division=480, fmt=None, num_tracks=None):
  fmt = (0 if len(tracks) == 1 else 1) if fmt is None else fmt
  data = b'MThd' + struct.pack('>LHHH', 6, fmt, len(tracks) if num_tracks is None else num_tracks,
                               division)
  for track in tracks:
    data += b'MTrk' + struct.pack('>L', len(track)) + track
  return data


END_OF_TRACK = vlq(0) + b'\xff\x2f\x00'


def notes_track(pitches, ticks=240, channel=0, header=b''):
  """Eighth notes at 480 ticks per quarter note, one after another."""
  events = header
  for pitch in pitches:
    events += vlq(0) + bytes([0x90 | channel, pitch, 90]) + vlq(ticks) + bytes(
        [0x80 | channel, pitch, 0])
  return events + END_OF_TRACK


def meter(numerator, denominator_power):
  return vlq(0) + b'\xff\x58\x04' + bytes([numerator, denominator_power, 24, 8])


def tempo(microseconds_per_quarter, delta=0):
  return vlq(delta) + b'\xff\x51\x03' + microseconds_per_quarter.to_bytes(3, 'big')


MELODY = [60 + (i * 5) % 13 for i in range(32)]  # 4 bars of eighth notes
GOOD = smf([notes_track(MELODY, header=tempo(500_000) + meter(4, 2))])


def _overrunning_track():
  first = notes_track(MELODY)
  second = vlq(0x0FFFFFFF) + b'\xff\x01\x03abc' + END_OF_TRACK
  return (b'MThd' + struct.pack('>LHHH', 6, 1, 2, 480) +
          b'MTrk' + struct.pack('>L', len(first) - 1) + first +
          b'MTrk' + struct.pack('>L', len(second)) + second)


def write_melodies(folder, num_files, bars=6):
  """Distinct random 4/4 melodies of eighth notes (pitches 55..79) as MIDI files."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(0)
  for index in range(num_files):
    pitches = [int(p) for p in rng.integers(55, 80, size=8 * bars)]
    with open(os.path.join(folder, f'tune_{index:02d}.mid'), 'wb') as f:
      f.write(smf([notes_track(pitches, header=tempo(500_000) + meter(4, 2))]))
  return folder


def garbage_files():
  """name (str or bytes) -> (file bytes, expected reason prefix or None for a readable file)."""
  rng = np.random.default_rng(10)
  storm = b''.join(tempo(int(rng.integers(200_000, 900_000)), delta=1) for _ in range(3000))
  files = {
      'good.mid': (GOOD, None),
      'random_bytes.mid': (rng.bytes(3000), 'not a MIDI file'),
      'random_after_header.mid': (b'MThd' + rng.bytes(500), 'corrupt MIDI'),
      'empty.mid': (b'', 'empty file'),
      'text.mid': (b'this is not music\n' * 20, 'not a MIDI file'),
      'huge_delta.mid': (smf([vlq(0) + b'\x90\x3c\x40' + vlq(0x0FFFFFFF) + b'\xff\x01\x03abc' +
                              vlq(0) + b'\x80\x3c\x00' + END_OF_TRACK]), 'too long'),
      # 2**24 + 1 ticks at 32767 per quarter: 128 bars, fine by bars, too many ticks to map.
      'huge_ticks.mid': (smf([vlq(0) + b'\x90\x3c\x40' + vlq(2**24 + 1) + b'\x80\x3c\x00' +
                              END_OF_TRACK], division=32767), 'too large to parse'),
      'huge_track_length.mid': (GOOD[:18] + b'\xff\xff\xff\xf0' + GOOD[22:],
                                'corrupt MIDI: truncated'),
      'smpte.mid': (smf([notes_track(MELODY)], division=0xE728),
                    'unsupported MIDI: SMPTE'),
      'zero_division.mid': (smf([notes_track(MELODY)], division=0), 'corrupt MIDI'),
      'seven_eight.mid': (smf([notes_track(MELODY, header=meter(7, 3))]), None),
      'five_four.mid': (smf([notes_track(MELODY, header=meter(5, 2))]), None),
      'tempo_storm.mid': (smf([storm + notes_track(MELODY)[:-4] + END_OF_TRACK]), None),
      'drums_only.mid': (smf([notes_track([36, 38, 42, 46] * 8, channel=9)]), None),
      'out_of_range_pitches.mid': (smf([notes_track([0, 1, 127, 126] * 8)]), None),
      'two_tracks_one_missing.mid': (smf([notes_track(MELODY)], num_tracks=2),
                                     'corrupt MIDI: truncated'),
      # Track 1's header says one byte less than it holds: the reader reads on into track 2.
      'track_runs_over.mid': (_overrunning_track(), 'corrupt MIDI'),
      NON_UTF8_NAME: (GOOD, None),
      NEWLINE_NAME: (GOOD, None),
  }
  for offset in (5, 13, 20, 30, 101, len(GOOD) - 2):
    files[f'truncated_at_{offset}.mid'] = (GOOD[:offset], 'corrupt MIDI')
  return files


def write_corpus(folder, with_special_files=True):
  """Writes the garbage corpus into `folder`; returns {printable name: expected reason prefix}."""
  folder = os.fsencode(folder)
  os.makedirs(folder, exist_ok=True)
  expected = {}
  for name, (data, reason) in garbage_files().items():
    with open(os.path.join(folder, os.fsencode(name)), 'wb') as f:
      f.write(data)
    expected[preprocess.printable_name(name)] = reason
  if with_special_files:
    os.mkfifo(os.path.join(folder, b'pipe.mid'))
    expected['pipe.mid'] = 'not a regular file'
    os.symlink('loop.mid', os.path.join(folder, b'loop.mid'))
    expected['loop.mid'] = 'unreadable: Too many levels of symbolic links'
    os.symlink('.', os.path.join(folder, b'folder_loop'))  # must not be walked forever
  return expected


@pytest.fixture(scope='module')
def converter():
  return melody.MelodyConverter(slice_bars=2, max_windows_per_sequence=5)


@pytest.fixture(scope='module')
def corpus(tmp_path_factory):
  folder = tmp_path_factory.mktemp('garbage')
  return str(folder), write_corpus(str(folder))


def check_report(report, expected):
  """Every bad file failed with its reason; every readable file was read."""
  assert report['files_total'] == len(expected)
  for name, reason in expected.items():
    if reason is None:
      assert name not in report['failures'], (name, report['failures'].get(name))
      assert name in report['windows_per_file']
    else:
      assert report['failures'][name].startswith(reason), (name, report['failures'][name])


# ---------------------------------------------------------------------------------------------
# The guard on raw MIDI bytes.


def test_guard_passes_good_files_and_names_each_problem():
  limits = midi_guard.MidiLimits(max_bars=100, max_ticks=2**20, max_events=1000)
  assert midi_guard.check_midi(GOOD, limits) is None
  summary = midi_guard.scan(GOOD, limits)
  assert (summary.division, summary.num_tracks, summary.max_tick) == (480, 1, 32 * 240)
  assert summary.num_events == 2 * 32 + 3  # notes on and off, tempo, meter, end of track
  long = smf([notes_track(MELODY, ticks=480 * 4 * 10)])  # 320 bars
  assert midi_guard.check_midi(long, limits).startswith('too long: 320 bars > 100 bar limit')
  dense = smf([notes_track([60] * 600, ticks=0)])
  assert midi_guard.check_midi(dense, limits) == (
      'too large to parse: over 1000 MIDI events (the limit)')
  assert midi_guard.check_midi(GOOD[:10], limits).startswith('corrupt MIDI: truncated header')
  smpte = smf([notes_track(MELODY)], division=0xE728)  # -25 frames/s, 40 ticks/frame
  assert midi_guard.check_midi(smpte, limits) == (
      'unsupported MIDI: SMPTE time division (25 frames/s, 40 ticks/frame); only ticks per '
      'quarter note are supported')


def test_guard_stops_at_the_limit_without_reading_on():
  # A track of 10**6 events is not walked to its end when the limit is 1000.
  track = (vlq(0) + b'\xff\x01\x00') * 10**6 + END_OF_TRACK
  limits = midi_guard.MidiLimits(max_bars=100, max_ticks=2**20, max_events=1000)
  summary = midi_guard.scan(smf([track]), limits)
  assert summary.problem == 'limit' and summary.num_events == 1001


def test_the_guard_counts_what_the_reader_reads():
  import mido  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  limits = midi_guard.MidiLimits(max_bars=10**6, max_ticks=2**40, max_events=10**7)
  checked = 0
  for name, (data, _) in garbage_files().items():
    if not data.startswith(b'MThd'):
      continue
    try:
      midi = mido.MidiFile(file=io.BytesIO(data))
    except Exception:  # pylint: disable=broad-except  (the guard or the reader names it)
      continue
    summary = midi_guard.scan(data, limits)
    assert summary.problem is None, name
    assert summary.num_events == sum(len(track) for track in midi.tracks), name
    assert summary.max_tick == max(sum(m.time for m in track) for track in midi.tracks), name
    checked += 1
  assert checked >= 8


def test_running_status_and_sysex_are_walked_like_the_reader_does():
  sysex = vlq(0) + b'\xf0' + vlq(5) + b'\x7e\x7f\x09\x01\xf7'
  running = vlq(0) + b'\x90\x3c\x40' + vlq(240) + b'\x3c\x00' + vlq(0) + b'\x3e\x40' + vlq(
      240) + b'\x3e\x00'
  data = smf([sysex + running + END_OF_TRACK])
  limits = midi_guard.MidiLimits(max_bars=100, max_ticks=2**20, max_events=1000)
  summary = midi_guard.scan(data, limits)
  assert (summary.max_tick, summary.num_events, summary.problem) == (480, 6, None)
  assert midi_guard.check_midi(data, limits) is None
  import note_seq  # pylint: disable=g-import-not-at-top
  assert len(note_seq.midi_to_note_sequence(data).notes) == 2


# ---------------------------------------------------------------------------------------------
# The garbage corpus through the library.


def test_garbage_corpus_every_bad_file_named_with_its_reason(corpus, converter):
  folder, expected = corpus
  window_set = preprocess.preprocess(folder, converter, num_workers=1)
  check_report(window_set.report, expected)
  # The readable odd files: meters and drums give no melody windows and say why.
  assert set(window_set.report['no_windows']) >= {'seven_eight.mid', 'five_four.mid',
                                                  'drums_only.mid'}
  assert window_set.report['windows_per_file']['good.mid'] == 3
  assert window_set.labels.shape == (window_set.report['windows_kept'], 32, 1)
  shown = preprocess.printable_name(NON_UTF8_NAME)
  assert shown == 'caf\\xe9 \\xff.mid'
  assert window_set.report['windows_per_file'][shown] == 3
  assert window_set.report['windows_per_file']['two\\x0alines.mid'] == 3
  assert '\n' not in ''.join(window_set.sources)
  text = preprocess.format_report(window_set.report)
  assert len(text.splitlines()) == len(text.split('\n'))  # no line splits inside a name
  for line in text.splitlines():
    if 'tempo_storm' in line or 'two\\x0alines' in line:
      assert line.startswith('  ')


def test_garbage_corpus_in_workers_gives_the_same_report(corpus, converter):
  folder, expected = corpus
  alone = preprocess.preprocess(folder, converter, num_workers=1)
  parallel = preprocess.preprocess(folder, converter, num_workers=2)
  check_report(parallel.report, expected)
  for key in ('failures', 'windows_per_file', 'no_windows', 'rejected'):
    assert parallel.report[key] == alone.report[key]
  np.testing.assert_array_equal(parallel.labels, alone.labels)


def test_odd_names_survive_the_cache_and_the_split(corpus, converter, tmp_path):
  folder, _ = corpus
  window_set = preprocess.preprocess(folder, converter, num_workers=1)
  preprocess.write_cache(window_set, str(tmp_path / 'cache'))
  loaded = preprocess.read_cache(str(tmp_path / 'cache'))
  assert loaded.sources == window_set.sources
  np.testing.assert_array_equal(loaded.labels, window_set.labels)
  np.testing.assert_array_equal(loaded.source_ids, window_set.source_ids)
  report = json.loads((tmp_path / 'cache' / 'report.json').read_text(encoding='utf-8'))
  assert report['failures'] == window_set.report['failures']
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  first = input_pipeline.split_by_source(loaded, 0.5)
  again = input_pipeline.split_by_source(window_set, 0.5)
  for a, b in zip(first, again):
    assert {a.sources[i] for i in a.source_ids} == {b.sources[i] for i in b.source_ids}


def test_an_old_cache_with_raw_names_is_read_with_printable_names(tmp_path):
  raw = os.fsdecode(b'old\xff.mid')  # a lone surrogate, as an older version stored it
  labels = np.zeros([4, 32, 1], np.int32)
  old = preprocess.WindowSet({'labels': labels}, np.array([0, 0, 1, 1], np.int32),
                             [raw, 'a\nb.mid'], 'melody', 2, {'windows_kept': 4})
  preprocess.write_cache(old, str(tmp_path))
  loaded = preprocess.read_cache(str(tmp_path))
  assert loaded.sources == ['old\\xff.mid', 'a\\x0ab.mid']
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  train, evaluation = input_pipeline.split_by_source(loaded, 0.5)
  assert len(train) + len(evaluation) == 4


def test_non_utf8_input_paths(tmp_path, converter):
  folder = os.path.join(os.fsencode(str(tmp_path)), b'f\xf6lder')
  os.mkdir(folder)
  path = os.path.join(folder, b'\xff\xfe.mid')
  with open(path, 'wb') as f:
    f.write(GOOD)
  for where in (path, folder):
    window_set = preprocess.preprocess(os.fsdecode(where), converter, num_workers=1)
    assert window_set.sources == ['\\xff\\xfe.mid'] and len(window_set) == 3
    assert window_set.report['input'].endswith('f\\xf6lder' if where == folder else '.mid')
    preprocess.format_report(window_set.report).encode('utf-8')  # strict: printable everywhere


def test_an_unreadable_folder_is_reported(tmp_path, converter, monkeypatch):
  write_melodies(str(tmp_path / 'locked'), num_files=1)
  write_melodies(str(tmp_path / 'open'), num_files=1)
  real_scandir = os.scandir

  def scandir(path='.'):
    if os.fsdecode(path).endswith('locked'):
      raise PermissionError(13, 'Permission denied', path)
    return real_scandir(path)

  # Root (as in CI) can list a chmod 000 folder, so the refusal is simulated.
  monkeypatch.setattr(os, 'scandir', scandir)
  window_set = preprocess.preprocess(str(tmp_path), converter, num_workers=1)
  assert window_set.report['failures'] == {
      'locked/': 'unreadable: Permission denied (folder not searched)'}
  assert list(window_set.report['windows_per_file']) == ['open/tune_00.mid']


def test_an_unreadable_folder_for_real(tmp_path, converter):
  locked = tmp_path / 'locked'
  write_melodies(str(locked), num_files=1)
  locked.chmod(0)
  try:
    if os.access(locked, os.R_OK):
      pytest.skip('running as root: chmod 000 does not stop this process from listing a folder')
    window_set = preprocess.preprocess(str(tmp_path), converter, num_workers=1)
    assert window_set.report['failures'] == {
        'locked/': 'unreadable: Permission denied (folder not searched)'}
  finally:
    locked.chmod(stat.S_IRWXU)


def test_a_fifo_as_the_input_is_refused(tmp_path, converter):
  os.mkfifo(tmp_path / 'pipe')
  with pytest.raises(ValueError, match='is not a regular file'):
    preprocess.preprocess(str(tmp_path / 'pipe'), converter, num_workers=1)


def test_too_many_events_for_the_limit(tmp_path, converter):
  (tmp_path / 'dense.mid').write_bytes(smf([notes_track(MELODY * 10)]))
  window_set = preprocess.preprocess(str(tmp_path), converter, num_workers=1, max_events=100)
  assert window_set.report['failures'] == {
      'dense.mid': 'too large to parse: over 100 MIDI events (the limit)'}


def test_tf_examples_in_a_note_sequence_tfrecord(tmp_path, converter):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import note_seq  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / 'mixed.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    for value in (b'hello', b'\x00\x01'):
      example = tf.train.Example(features=tf.train.Features(feature={
          'text': tf.train.Feature(bytes_list=tf.train.BytesList(value=[value])),
          'pitch': tf.train.Feature(int64_list=tf.train.Int64List(value=[60, 62]))}))
      writer.write(example.SerializeToString())
    writer.write(note_seq.midi_to_note_sequence(GOOD).SerializeToString())
    empty = note_seq.NoteSequence(id='silence', filename='line\nbreak.mid')
    writer.write(empty.SerializeToString())
  window_set = preprocess.preprocess(path, converter, num_workers=1)
  failures = window_set.report['failures']
  assert failures['record_000000'] == 'not a NoteSequence record (a tf.train.Example)'
  assert failures['record_000001'].startswith('not a NoteSequence record')
  assert failures['line\\x0abreak.mid'] == 'no notes'
  assert len(window_set) == 3


# ---------------------------------------------------------------------------------------------
# Workers: memory cap, CPU time, a worker that dies.


def test_a_file_over_the_worker_memory_cap_is_too_large_to_parse(tmp_path, converter):
  # With the tick guard lifted, the reader's tick map (~400 MB) meets a 200 MB cap.
  (tmp_path / 'ticks.mid').write_bytes(
      smf([vlq(0) + b'\x90\x3c\x40' + vlq(2**24) + b'\x80\x3c\x00' + END_OF_TRACK],
          division=32767))
  (tmp_path / 'good.mid').write_bytes(GOOD)
  window_set = preprocess.preprocess(str(tmp_path), converter, num_workers=2, max_ticks=2**40,
                                     worker_memory_mb=200)
  assert window_set.report['failures'] == {
      'ticks.mid': 'too large to parse: out of memory (worker memory cap 200 MB)'}
  assert window_set.report['windows_per_file'] == {'good.mid': 3}


class _KillingConverter(melody.MelodyConverter):
  """Dies as the OOM killer would make it die, on a file holding pitch 99."""

  def to_tensors(self, note_sequence):
    if any(note.pitch == 99 for note in note_sequence.notes):
      os.kill(os.getpid(), signal.SIGKILL)
    return super().to_tensors(note_sequence)


def test_a_worker_killed_costs_only_its_file(tmp_path):
  for index in range(6):
    (tmp_path / f'{index}_good.mid').write_bytes(GOOD)
  (tmp_path / '2_killer.mid').write_bytes(smf([notes_track([99] + MELODY)]))
  window_set = preprocess.preprocess(str(tmp_path), _KillingConverter(slice_bars=2),
                                     num_workers=2)
  assert window_set.report['failures'] == {
      '2_killer.mid': 'too large to parse: the worker process was killed (SIGKILL, as the '
                      'out-of-memory killer does)'}
  assert window_set.report['windows_per_file'] == {f'{i}_good.mid': 3 for i in range(6)}
  assert window_set.sources == sorted(window_set.sources)


class _BusyConverter(melody.MelodyConverter):
  """Burns CPU (at most 30 s of it, so a broken timer fails the test instead of hanging it)."""

  def to_tensors(self, note_sequence):
    start = time.process_time()
    while time.process_time() - start < 30:
      pass
    return super().to_tensors(note_sequence)


class _SleepyConverter(melody.MelodyConverter):
  """Waits without using CPU, as a file on a busy machine does."""

  def to_tensors(self, note_sequence):
    time.sleep(1.0)
    return super().to_tensors(note_sequence)


def test_timeouts_count_cpu_time_not_waiting(tmp_path):
  (tmp_path / 'good.mid').write_bytes(GOOD)
  busy = preprocess.preprocess(str(tmp_path), _BusyConverter(slice_bars=2), num_workers=1,
                               file_timeout_s=0.3)
  assert busy.report['failures'] == {'good.mid': 'timed out: > 0.3 s of CPU time'}
  sleepy = preprocess.preprocess(str(tmp_path), _SleepyConverter(slice_bars=2), num_workers=1,
                                 file_timeout_s=0.3)
  assert sleepy.report['failures'] == {} and len(sleepy) == 3


def test_a_timeout_inside_the_midi_reader_is_timed_out_not_corrupt(tmp_path, converter,
                                                                     monkeypatch):
  import note_seq  # pylint: disable=g-import-not-at-top

  def slow_reader(data):
    try:  # like note_seq, which turns every error into its own
      start = time.process_time()
      while time.process_time() - start < 30:
        pass
    except Exception as e:  # pylint: disable=broad-except
      raise note_seq.MIDIConversionError(f'Midi decoding error {type(e)}: {e}') from e
    return note_seq.NoteSequence()

  monkeypatch.setattr(note_seq, 'midi_to_note_sequence', slow_reader)
  (tmp_path / 'good.mid').write_bytes(GOOD)
  window_set = preprocess.preprocess(str(tmp_path), converter, num_workers=1, file_timeout_s=0.3)
  assert window_set.report['failures'] == {'good.mid': 'timed out: > 0.3 s of CPU time'}


class _StuckConverter(melody.MelodyConverter):
  """On a file holding pitch 99, burns CPU deaf to the timer's signal, as code that never returns
  to Python would (at most 60 s, so a missing backstop fails the test instead of hanging it)."""

  def to_tensors(self, note_sequence):
    if any(note.pitch == 99 for note in note_sequence.notes):
      signal.signal(signal.SIGPROF, signal.SIG_IGN)
      start = time.process_time()
      while time.process_time() - start < 60:
        pass
    return super().to_tensors(note_sequence)


@pytest.mark.slow
def test_a_worker_stuck_past_its_cpu_limit_is_stopped(tmp_path):
  (tmp_path / 'good.mid').write_bytes(GOOD)
  (tmp_path / 'stuck.mid').write_bytes(smf([notes_track([99] + MELODY)]))
  window_set = preprocess.preprocess(str(tmp_path), _StuckConverter(slice_bars=2),
                                     num_workers=2, file_timeout_s=0.5)
  assert window_set.report['failures'] == {
      'stuck.mid': 'timed out: > 0.5 s of CPU time (the worker was stopped)'}
  assert window_set.report['windows_per_file'] == {'good.mid': 3}


# ---------------------------------------------------------------------------------------------
# The programs.

_MEASURE = textwrap.dedent('''
    import resource, subprocess, sys
    result = subprocess.run(sys.argv[1:], capture_output=True)
    sys.stdout.buffer.write(result.stdout)
    sys.stderr.buffer.write(result.stderr)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    sys.stderr.write(f'\\nPEAK_RSS_KB={peak_kb}\\n')
    sys.exit(result.returncode)
''')


def run_measured(*command):
  """(CompletedProcess, peak resident memory in MB of the program and its workers)."""
  result = subprocess.run([sys.executable, '-c', _MEASURE, *command], capture_output=True,
                          timeout=TIMEOUT, cwd=REPO)
  stderr = result.stderr.decode('utf-8', 'replace')
  peak_kb = int(stderr.rsplit('PEAK_RSS_KB=', 1)[1].split()[0])
  return result, peak_kb / 1024


def test_mvl_preprocess_on_the_garbage_corpus(corpus, tmp_path):
  folder, expected = corpus
  result, peak_mb = run_measured(sys.executable, '-m', 'music_vae_lite.cli.preprocess',
                                 f'--input={folder}', f'--output={tmp_path / "cache"}',
                                 '--num_workers=2')
  stdout = result.stdout.decode('utf-8')  # strict: every name printed is valid UTF-8
  assert result.returncode == 0, result.stderr.decode('utf-8', 'replace')[-3000:]
  assert peak_mb < 2048, peak_mb
  for name, reason in expected.items():
    if reason is not None:
      assert f'  failed  {name}: {reason}' in stdout, (name, stdout)
  report = json.loads((tmp_path / 'cache' / 'report.json').read_text(encoding='utf-8'))
  check_report(report, expected)


@pytest.mark.parametrize('from_cache', [False, pytest.param(True, marks=pytest.mark.slow)])
def test_mvl_train_on_good_files_mixed_with_garbage(tmp_path, from_cache):
  folder = str(tmp_path / 'mixed')
  write_melodies(folder, num_files=4)
  write_corpus(folder, with_special_files=False)
  examples = folder
  if from_cache:
    examples = str(tmp_path / 'cache')
    subprocess.run([sys.executable, '-m', 'music_vae_lite.cli.preprocess', f'--input={folder}',
                    f'--output={examples}', '--num_workers=1'], check=True, capture_output=True,
                   timeout=TIMEOUT, cwd=REPO)
  run_dir = tmp_path / 'run'
  result, peak_mb = run_measured(
      sys.executable, '-m', 'music_vae_lite.cli.train', '--config=tiny-mel_2bar',
      f'--run_dir={run_dir}', f'--examples={examples}', '--num_steps=3',
      '--config.train.checkpoint_every=3', '--config.train.log_every=1',
      '--config.train.summary_every=3', '--config.train.eval_every=3',
      '--config.train.image_every=3', '--config.data.eval_fraction=0.25')
  assert result.returncode == 0, result.stderr.decode('utf-8', 'replace')[-3000:]
  assert peak_mb < 2048, peak_mb
  assert (run_dir / 'train' / 'ckpt-3.index').exists(), os.listdir(run_dir / 'train')
