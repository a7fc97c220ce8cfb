"""Tests for preprocess.py (MIDI folder or TFRecord -> windows, report, cache) and its program."""
import json
import os
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import note_seq  # pylint: disable=g-import-not-at-top
import numpy as np
import pytest

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.families import drum_roll
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite.pipeline import preprocess

import helpers  # pylint: disable=g-bad-import-order

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EIGHTH = 0.25  # seconds at 120 qpm


def _melody_sequence(pitches, numerator=4, denominator=4, qpm=120.0):
  """A monophonic run of eighth notes (at 120 qpm unless given), one pitch after another."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(time=0.0, qpm=qpm)
  sequence.time_signatures.add(time=0.0, numerator=numerator, denominator=denominator)
  eighth = 30.0 / qpm
  for i, pitch in enumerate(pitches):
    sequence.notes.add(pitch=pitch, start_time=i * eighth, end_time=(i + 1) * eighth,
                       velocity=90)
  sequence.total_time = len(pitches) * eighth
  return sequence


# 4 bars of eighth notes, no two bars alike: 3 distinct 2-bar windows.
GOOD_PITCHES = [60 + (i * 5) % 13 for i in range(32)]
OTHER_PITCHES = [48 + (i * 7) % 17 for i in range(48)]  # 6 bars: 5 windows


def _write_midi(sequence, path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  note_seq.sequence_proto_to_midi_file(sequence, path)


@pytest.fixture(scope='module')
def midi_folder(tmp_path_factory):
  """A folder with two good MIDI files (one in a subfolder, upper-case suffix) and bad ones."""
  folder = str(tmp_path_factory.mktemp('midi'))
  _write_midi(_melody_sequence(GOOD_PITCHES), os.path.join(folder, 'good.mid'))
  _write_midi(_melody_sequence(OTHER_PITCHES), os.path.join(folder, 'sub', 'other.MIDI'))
  _write_midi(_melody_sequence(GOOD_PITCHES, numerator=3), os.path.join(folder, 'waltz.mid'))
  silent = note_seq.NoteSequence(ticks_per_quarter=220)
  silent.tempos.add(time=0.0, qpm=120.0)
  _write_midi(silent, os.path.join(folder, 'silent.mid'))
  with open(os.path.join(folder, 'corrupt.mid'), 'wb') as f:
    f.write(b'MThd\x00\x00\x00\x06' + bytes(range(7, 250)))
  open(os.path.join(folder, 'empty.mid'), 'wb').close()
  with open(os.path.join(folder, 'notes.mid'), 'w') as f:
    f.write('not a MIDI file, just text\n')
  with open(os.path.join(folder, 'readme.txt'), 'w') as f:  # not a MIDI name: not listed
    f.write('ignored\n')
  return folder


@pytest.fixture(scope='module')
def converter():
  return melody.MelodyConverter(slice_bars=2, max_windows_per_sequence=5)


@pytest.fixture(scope='module')
def folder_windows(midi_folder, converter):
  return preprocess.preprocess(midi_folder, converter, num_workers=1)


def _windows_by_source(window_set):
  by_source = {}
  for labels, source_id in zip(window_set.labels, window_set.source_ids):
    by_source.setdefault(window_set.sources[source_id], []).append(labels)
  return {source: np.stack(rows) for source, rows in by_source.items()}


def test_report_names_every_file_with_its_reason(folder_windows, midi_folder, converter):
  report = folder_windows.report
  assert folder_windows.sources == ['corrupt.mid', 'empty.mid', 'good.mid', 'notes.mid',
                                    'silent.mid', 'sub/other.MIDI', 'waltz.mid']
  assert report['files_total'] == 7 and report['files_read'] == 3
  assert report['files_failed'] == 4
  failures = report['failures']
  assert set(failures) == {'corrupt.mid', 'empty.mid', 'notes.mid', 'silent.mid'}
  assert failures['corrupt.mid'].startswith('corrupt MIDI: ') and len(failures['corrupt.mid']) > 14
  assert failures['empty.mid'] == 'empty file'
  assert failures['notes.mid'] == 'not a MIDI file'
  assert failures['silent.mid'] == 'no notes'
  assert report['no_windows'].keys() == {'waltz.mid'}
  assert report['no_windows']['waltz.mid'].startswith('3/4 time')
  assert report['rejected']['time_signature'] == 1
  assert report['windows_per_file'] == {'good.mid': 3, 'sub/other.MIDI': 5, 'waltz.mid': 0}
  assert report['windows_kept'] == len(folder_windows) == 8
  assert report['encoding'] == 'melody' and report['slice_bars'] == 2
  json.dumps(report)  # JSON-serialisable

  # The good file's windows are exactly the converter's windows for it, in order.
  good = note_seq.midi_file_to_note_sequence(os.path.join(midi_folder, 'good.mid'))
  expected = converter.to_tensors(good).labels
  np.testing.assert_array_equal(_windows_by_source(folder_windows)['good.mid'], expected)
  assert folder_windows.labels.dtype == np.int32
  assert folder_windows.labels.shape == (8, 32, 1)  # [N, T, P]: one melody part
  assert folder_windows.controls is None  # melody has no controls

  text = preprocess.format_report(report)
  for name in failures:
    assert f'{name}: {failures[name]}' in text
  assert 'waltz.mid: 3/4 time' in text
  assert 'Windows kept: 8' in text


def test_size_and_length_limits(midi_folder, converter):
  tiny = preprocess.preprocess(midi_folder, converter, num_workers=1, max_file_mb=1e-4)
  assert tiny.report['failures']['good.mid'].startswith('too large: ')
  assert tiny.report['failures']['good.mid'].endswith('MB > 0.0001 MB limit')
  assert tiny.report['failures']['empty.mid'] == 'empty file'  # checked before the size
  short = preprocess.preprocess(os.path.join(midi_folder, 'good.mid'), converter, num_workers=1,
                                max_bars=3)
  # Found in the MIDI bytes, before the reader: the last event's tick says how long it is.
  assert short.report['failures']['good.mid'].startswith('too long: 4 bars > 3 bar limit (')


class _SlowConverter(melody.MelodyConverter):
  """Burns CPU time (the limit counts CPU time), at most 30 s so a broken timer cannot hang."""

  def to_tensors(self, note_sequence):
    start = time.process_time()
    while time.process_time() - start < 30:
      pass
    return super().to_tensors(note_sequence)


def test_a_file_that_takes_too_long_fails_with_timed_out(midi_folder):
  window_set = preprocess.preprocess(os.path.join(midi_folder, 'good.mid'), _SlowConverter(),
                                     num_workers=1, file_timeout_s=0.2)
  assert window_set.report['failures'] == {'good.mid': 'timed out: > 0.2 s of CPU time'}
  assert not len(window_set)


def test_worker_processes_give_the_same_windows(midi_folder, converter, folder_windows):
  parallel = preprocess.preprocess(midi_folder, converter, num_workers=2)
  assert parallel.report['num_workers'] == 2
  np.testing.assert_array_equal(parallel.labels, folder_windows.labels)
  np.testing.assert_array_equal(parallel.source_ids, folder_windows.source_ids)
  assert parallel.sources == folder_windows.sources
  for key in ('failures', 'windows_per_file', 'no_windows', 'rejected'):
    assert parallel.report[key] == folder_windows.report[key]


class ControlledMelodyConverter(melody.MelodyConverter):
  """Melody windows with a made-up control per step: 1 + the pitch class of a note-on, else 0."""
  encoding = 'controlled_melody'
  control_depth = 13

  def to_tensors(self, note_sequence):
    result = super().to_tensors(note_sequence)
    return result._replace(arrays=dict(result.arrays, controls=controls_of(result.labels)))


def controls_of(labels):
  labels = np.asarray(labels)[..., 0]
  return np.where(labels >= 2, (labels + 19) % 12 + 1, 0).astype(np.int32)


def test_windows_and_cache_of_a_family_with_controls(midi_folder, folder_windows, tmp_path):
  converter = ControlledMelodyConverter(slice_bars=2, max_windows_per_sequence=5)
  window_set = preprocess.preprocess(midi_folder, converter, num_workers=1)
  np.testing.assert_array_equal(window_set.labels, folder_windows.labels)
  assert window_set.controls.shape == (8, 32) and window_set.controls.dtype == np.int32
  np.testing.assert_array_equal(window_set.controls, controls_of(window_set.labels))
  assert window_set.controls.any()
  # Windows in worker processes carry their controls too.
  parallel = preprocess.preprocess(midi_folder, converter, num_workers=2)
  np.testing.assert_array_equal(parallel.controls, window_set.controls)

  output_dir = str(tmp_path / 'cache')
  cache_path = preprocess.write_cache(window_set, output_dir)
  with np.load(cache_path, allow_pickle=False) as data:
    assert data['array_controls'].shape == (8, 32) and data['array_controls'].dtype.kind == 'u'
  loaded = preprocess.load_examples(output_dir, converter)
  np.testing.assert_array_equal(loaded.labels, window_set.labels)
  np.testing.assert_array_equal(loaded.controls, window_set.controls)
  assert loaded.controls.dtype == np.int32 and loaded.encoding == 'controlled_melody'
  # A subset keeps each window's controls with it.
  mask = np.arange(8) % 3 == 1
  subset = loaded.subset(mask)
  np.testing.assert_array_equal(subset.labels, window_set.labels[mask])
  np.testing.assert_array_equal(subset.controls, window_set.controls[mask])
  assert folder_windows.subset(mask).controls is None


def test_read_note_sequences_yields_every_file(midi_folder):
  read = {name: (sequence, error) for name, sequence, error
          in preprocess.read_note_sequences(midi_folder)}
  assert read['empty.mid'] == (None, 'empty file')
  assert read['good.mid'][1] is None
  assert len(read['good.mid'][0].notes) == len(GOOD_PITCHES)


def test_tfrecord_gives_the_same_windows_as_the_midi_folder(midi_folder, converter,
                                                            folder_windows, tmp_path):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / 'notes.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    for name, sequence, error in preprocess.read_note_sequences(midi_folder):
      if error is None:
        sequence.filename = name  # as Magenta's convert_dir_to_note_sequences does
        writer.write(sequence.SerializeToString())
    writer.write(b'\xff\xfe definitely not a NoteSequence')
  from_tfrecord = preprocess.preprocess(path, converter, num_workers=1)
  assert from_tfrecord.report['input_kind'] == 'tfrecord'
  np.testing.assert_array_equal(from_tfrecord.labels, folder_windows.labels)
  assert ([from_tfrecord.sources[i] for i in from_tfrecord.source_ids] ==
          [folder_windows.sources[i] for i in folder_windows.source_ids])
  # Records 0-2 are the readable files; record 3 does not parse.
  assert list(from_tfrecord.report['failures']) == ['record_000003']
  assert from_tfrecord.report['failures']['record_000003'].startswith('corrupt record: ')
  # load_examples takes a TFRecord too.
  loaded = preprocess.load_examples(path, converter)
  np.testing.assert_array_equal(loaded.labels, folder_windows.labels)


def test_cache_round_trip_without_pickle(folder_windows, converter, tmp_path):
  output_dir = str(tmp_path / 'cache')
  cache_path = preprocess.write_cache(folder_windows, output_dir)
  assert sorted(os.listdir(output_dir)) == ['report.json', 'windows.npz']
  with np.load(cache_path, allow_pickle=False) as data:  # would raise on any object array
    assert int(data['format_version']) == preprocess.CACHE_FORMAT_VERSION == 3
    assert list(data['array_names']) == ['labels']  # a family without controls stores none
    # 90 melody classes fit in 8 bits; the labels come back as the family's int32.
    assert data['array_labels'].dtype == np.uint8 and data['array_labels'].shape == (8, 32, 1)
    for key in data.files:
      assert data[key].dtype.kind in 'iuU', key
  with open(os.path.join(output_dir, 'report.json')) as f:
    assert json.load(f) == folder_windows.report

  loaded = preprocess.load_examples(output_dir, converter)
  np.testing.assert_array_equal(loaded.labels, folder_windows.labels)
  assert loaded.labels.dtype == np.int32 and loaded.controls is None
  np.testing.assert_array_equal(loaded.source_ids, folder_windows.source_ids)
  assert loaded.sources == folder_windows.sources
  assert (loaded.encoding, loaded.slice_bars) == ('melody', 2)
  assert loaded.report == folder_windows.report
  # The .npz itself is accepted too; rewriting leaves no temp file behind.
  assert len(preprocess.load_examples(cache_path, converter)) == len(folder_windows)
  preprocess.write_cache(loaded, output_dir)
  assert sorted(os.listdir(output_dir)) == ['report.json', 'windows.npz']


def _hand_built(labels, controls=None, encoding='two_part', slice_bars=1, **arrays):
  arrays['labels'] = np.asarray(labels, np.int32)
  if controls is not None:
    arrays['controls'] = controls
  return preprocess.WindowSet(arrays, np.arange(len(labels), dtype=np.int32) % 2,
                              ['a.mid', 'b.mid'], encoding, slice_bars,
                              {'windows_kept': len(labels)})


def test_cache_stores_every_named_array(tmp_path):
  rng = np.random.default_rng(0)
  labels = np.stack([rng.integers(0, 90, [5, 16]), rng.integers(0, 512, [5, 16])], axis=-1)
  controls = rng.integers(0, 49, [5, 16]).astype(np.int32)
  for with_controls in (False, True):
    window_set = _hand_built(labels, controls if with_controls else None)
    output_dir = str(tmp_path / f'cache_{with_controls}')
    cache_path = preprocess.write_cache(window_set, output_dir)
    with np.load(cache_path, allow_pickle=False) as data:
      assert set(data.files) == {'format_version', 'array_names', 'array_dtypes', 'array_labels',
                                 'source_ids', 'sources', 'encoding', 'slice_bars',
                                 'report_json'} | ({'array_controls'} if with_controls else set())
      assert data['array_labels'].shape == (5, 16, 2)
      assert data['array_labels'].dtype == np.uint16  # 511 needs 16 bits
    loaded = preprocess.read_cache(output_dir)
    np.testing.assert_array_equal(loaded.labels, labels)
    assert loaded.labels.dtype == np.int32
    if with_controls:
      np.testing.assert_array_equal(loaded.controls, controls)
      assert loaded.controls.dtype == np.int32
    else:
      assert loaded.controls is None
    assert (loaded.encoding, loaded.slice_bars, loaded.sources) == ('two_part', 1,
                                                                   ['a.mid', 'b.mid'])
    np.testing.assert_array_equal(loaded.source_ids, [0, 1, 0, 1, 0])
  # Whatever a family declares: real values (GrooVAE's velocities), a multi-hot roll (NADE's
  # 61 drums), per-window arrays; each comes back as it went in, in its own type.
  velocities = rng.random([5, 16, 9]).astype(np.float32)
  roll = (rng.random([5, 16, 61]) < 0.1).astype(np.uint8)
  track_lengths = rng.integers(0, 65, [5, 8]).astype(np.int32)
  window_set = _hand_built(labels, velocities=velocities, roll=roll, track_lengths=track_lengths)
  cache_path = preprocess.write_cache(window_set, str(tmp_path / 'any'))
  with np.load(cache_path, allow_pickle=False) as data:
    assert data['array_roll'].dtype == np.uint8 and data['array_velocities'].dtype == np.float32
  loaded = preprocess.read_cache(cache_path)
  assert list(loaded.arrays) == ['velocities', 'roll', 'track_lengths', 'labels']
  for name, array in window_set.arrays.items():
    np.testing.assert_array_equal(loaded.arrays[name], array)
    assert loaded.arrays[name].dtype == array.dtype


def _old_cache(path, version, report):
  """A cache as version 1 ([N, T] labels) or 2 (labels [N, T, P]) of music_vae_lite wrote it."""
  labels = np.zeros([2, 32] + ([1] if version == 2 else []), np.uint16)
  np.savez(path, format_version=np.int32(version), labels=labels,
           source_ids=np.zeros([2], np.int32), sources=np.array(['a.mid']),
           encoding=np.array('melody'), slice_bars=np.int32(2),
           report_json=np.array(json.dumps(report)))
  return path


def test_old_and_damaged_caches_are_refused(tmp_path):
  # A cache of an earlier format must be rebuilt, not misread: one line names the command.
  old_path = _old_cache(str(tmp_path / 'old.npz'), 1, {})
  with pytest.raises(ValueError, match=r'cache format 1, written by an earlier version \(this one '
                     r'reads format 3\); rebuild it with mvl_preprocess --input=YOUR_MIDI_FOLDER '
                     r'--output=\S+ --encoding=melody --slice_bars=2 '
                     r'--max_windows_per_sequence=0$'):
    preprocess.read_cache(old_path)
  os.makedirs(tmp_path / 'format2')
  _old_cache(str(tmp_path / 'format2' / 'windows.npz'), 2,
             {'input': '/music/my tunes', 'encoding': 'melody', 'slice_bars': 2,
              'max_windows_per_sequence': 5})
  with pytest.raises(ValueError) as error:
    preprocess.load_examples(str(tmp_path / 'format2'), melody.MelodyConverter(slice_bars=2))
  assert str(error.value).endswith(
      f"rebuild it with mvl_preprocess --input='/music/my tunes' --output={tmp_path}/format2 "
      '--encoding=melody --slice_bars=2 --max_windows_per_sequence=5')
  assert '\n' not in str(error.value)
  # Arrays that do not line up with the windows' sources.
  damaged = _hand_built(np.zeros([3, 16, 2]), np.zeros([2, 16], np.int32))
  preprocess.write_cache(damaged, str(tmp_path / 'short_controls'))
  with pytest.raises(ValueError, match=r'damaged: labels \(3, 16, 2\), controls \(2, 16\), '
                     r'source_ids \(3,\)'):
    preprocess.read_cache(str(tmp_path / 'short_controls'))
  # A cache whose parts or controls do not fit the converter of its own encoding.
  melody_converter = melody.MelodyConverter(slice_bars=2)
  two_parts = str(tmp_path / 'two_parts')
  preprocess.write_cache(_hand_built(np.zeros([3, 32, 2]), encoding='melody', slice_bars=2),
                         two_parts)
  with pytest.raises(ValueError, match=r'damaged: melody labels need a last axis of 1 part\(s\) '
                     r'\(melody\), got shape \(3, 32, 2\)'):
    preprocess.load_examples(two_parts, melody_converter)
  with_controls = str(tmp_path / 'with_controls')
  preprocess.write_cache(_hand_built(np.zeros([3, 32, 1]), np.zeros([3, 32], np.int32),
                                     encoding='melody', slice_bars=2), with_controls)
  with pytest.raises(ValueError, match='damaged: The melody encoding takes no controls'):
    preprocess.load_examples(with_controls, melody_converter)
  without_controls = str(tmp_path / 'without_controls')
  preprocess.write_cache(_hand_built(np.zeros([3, 32, 1]), encoding='controlled_melody',
                                     slice_bars=2), without_controls)
  with pytest.raises(ValueError, match=r'damaged: The controlled_melody encoding needs controls '
                     r'\[N, 32\]'):
    preprocess.load_examples(without_controls, ControlledMelodyConverter(slice_bars=2))
  short_controls = str(tmp_path / 'short_controls_for_the_family')
  preprocess.write_cache(_hand_built(np.zeros([3, 32, 1]), np.zeros([3, 8], np.int32),
                                     encoding='controlled_melody', slice_bars=2), short_controls)
  with pytest.raises(ValueError, match=r'damaged: Controls must be \[N, 32\], got \(3, 8\)'):
    preprocess.load_examples(short_controls, ControlledMelodyConverter(slice_bars=2))


def test_a_cache_for_another_config_is_refused(folder_windows, tmp_path):
  output_dir = str(tmp_path / 'cache')
  cache_path = preprocess.write_cache(folder_windows, output_dir)
  with pytest.raises(ValueError) as error:
    preprocess.load_examples(output_dir, melody.MelodyConverter(slice_bars=16))
  message = str(error.value)
  assert cache_path in message and '2 bars' in message and '16 bars' in message
  with pytest.raises(ValueError, match='melody windows .* drums windows'):
    preprocess.load_examples(output_dir, drums.DrumsConverter(slice_bars=2))


def test_write_cache_refuses_an_empty_window_set_and_keeps_the_old_cache(
    folder_windows, midi_folder, converter, tmp_path):
  output_dir = str(tmp_path / 'cache')
  preprocess.write_cache(folder_windows, output_dir)
  empty = preprocess.preprocess(os.path.join(midi_folder, 'waltz.mid'), converter, num_workers=1)
  with pytest.raises(ValueError, match='empty cache'):
    preprocess.write_cache(empty, output_dir)
  assert len(preprocess.load_examples(output_dir, converter)) == len(folder_windows)


def test_missing_path_is_a_clear_error(converter, tmp_path):
  missing = str(tmp_path / 'nowhere')
  with pytest.raises(FileNotFoundError, match='nowhere.*does not exist'):
    preprocess.load_examples(missing, converter)
  with pytest.raises(FileNotFoundError):
    preprocess.preprocess(missing, converter)


def test_zero_windows_is_a_clear_error_with_the_reasons(midi_folder, converter, tmp_path):
  folder = tmp_path / 'bad'
  folder.mkdir()
  for name in ('a.mid', 'b.mid', 'c.mid'):
    _write_midi(_melody_sequence(GOOD_PITCHES, numerator=3), str(folder / name))
  open(folder / 'd.mid', 'wb').close()
  with open(folder / 'e.mid', 'wb') as f:
    f.write(b'MThd garbage')
  with pytest.raises(preprocess.NoWindowsError) as error:
    preprocess.load_examples(str(folder), converter)
  assert ('all 5 files rejected: 3/4 time (3), corrupt MIDI (1), empty file (1)'
          in str(error.value))
  (tmp_path / 'none').mkdir()
  with pytest.raises(preprocess.NoWindowsError, match='no MIDI files'):
    preprocess.load_examples(str(tmp_path / 'none'), converter)


def _run_cli(*args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, '-m', 'music_vae_lite.cli.preprocess', *args],
                        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_writes_the_cache_and_prints_the_report(midi_folder, tmp_path):
  output_dir = str(tmp_path / 'cache')
  result = _run_cli(f'--input={midi_folder}', f'--output={output_dir}', '--num_workers=2')
  assert result.returncode == 0, result.stderr
  assert 'Files: 7 total, 3 read, 4 failed' in result.stdout
  assert 'empty.mid: empty file' in result.stdout
  assert 'notes.mid: not a MIDI file' in result.stdout
  assert 'waltz.mid: 3/4 time' in result.stdout
  assert 'Windows kept: 8' in result.stdout
  assert sorted(os.listdir(output_dir)) == ['report.json', 'windows.npz']
  loaded = preprocess.read_cache(output_dir)
  assert len(loaded) == 8 and loaded.report['num_workers'] == 2

  # Drums from melodies: nothing to extract, so exit status 1 and the old cache stays.
  result = _run_cli(f'--input={midi_folder}', f'--output={output_dir}', '--encoding=drums',
                    '--num_workers=1')
  assert result.returncode == 1
  assert 'no drum hits' in result.stdout
  assert preprocess.read_cache(output_dir).encoding == 'melody'

  result = _run_cli(f'--input={midi_folder}', f'--output={output_dir}', '--encoding=piano')
  assert result.returncode != 0 and 'drums|groove|melody|melody_chords|trio' in result.stderr
  result = _run_cli(f'--input={tmp_path / "nowhere"}', f'--output={output_dir}')
  assert result.returncode == 2 and 'does not exist' in result.stderr


def test_cli_takes_a_configs_family_options_and_training_checks_them(tmp_path):
  """--config=nade-drums_2bar_full gives rolls of the full drum map's 61 classes, and the cache
  records the map: a config with the reduced map is refused it, in one line that says how to
  rebuild it. (A data flag that disagrees with --config: tests/cli/test_first_minutes.py.)"""
  folder = tmp_path / 'drums'
  folder.mkdir()
  contract.write_midi(helpers.drum_performance(), str(folder / 'beat.mid'))
  output_dir = str(tmp_path / 'cache')
  result = _run_cli(f'--input={folder}', f'--output={output_dir}',
                    '--config=nade-drums_2bar_full', '--num_workers=1')
  assert result.returncode == 0, result.stderr
  assert "Encoding: drum_roll, family.drum_map='full', 2-bar windows" in result.stdout
  rolls = preprocess.read_cache(output_dir).arrays['roll']
  assert rolls.shape[1:] == (32, 61) and rolls.any()
  full = contract.get_converter(config_lib.load_config('nade-drums_2bar_full'))
  assert len(preprocess.load_examples(output_dir, full)) == len(rolls)
  reduced = contract.get_converter(config_lib.load_config('nade-drums_2bar_reduced'))
  with pytest.raises(ValueError) as error:
    preprocess.load_examples(output_dir, reduced)
  message = str(error.value)
  assert ("holds drum_roll windows of family.drum_map='full', but the config needs "
          "family.drum_map='reduced'. Rebuild it with the config you train with "
          f'(mvl_preprocess --config=CONFIG --input={folder} --output={output_dir})') in message
  assert '\n' not in message
  # Another window length: the flags alone could not rebuild it with the full map.
  with pytest.raises(ValueError, match=r'needs drum_roll windows of 1 bars\. Rebuild it '
                                       r'\(mvl_preprocess --config=CONFIG \(the config you'):
    preprocess.load_examples(output_dir, drum_roll.DrumRollConverter(1, None, drum_map='full'))
