"""Tests for input_pipeline.py: split by file, tf.data batches, per-epoch transposition."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest
import tensorflow as tf

from music_vae_lite import converters
from music_vae_lite import input_pipeline
from music_vae_lite import preprocess
from music_vae_lite.configs import base


def _window_set(num_sources, windows_per_source, encoding='melody', failed=()):
  """A WindowSet of random windows; sources in `failed` have none (as failed files)."""
  rng = np.random.default_rng(0)
  sources = [f'tunes/tune_{i:03d}.mid' for i in range(num_sources)]
  labels, source_ids = [], []
  for i in range(num_sources):
    if i in failed:
      continue
    for _ in range(windows_per_source):
      labels.append(rng.integers(0, 90 if encoding == 'melody' else 512, size=32))
      source_ids.append(i)
  return preprocess.WindowSet(np.array(labels, np.int32), np.array(source_ids, np.int32),
                              sources, encoding, 2, {'windows_kept': len(labels)})


def _split_sources(window_set):
  return {window_set.sources[i] for i in window_set.source_ids}


def test_split_is_by_file_disjoint_and_deterministic():
  window_set = _window_set(40, 3)
  train, evaluation = input_pipeline.split_by_source(window_set, 0.25)
  train_sources, eval_sources = _split_sources(train), _split_sources(evaluation)
  assert not train_sources & eval_sources
  assert train_sources | eval_sources == set(window_set.sources)
  assert len(train) + len(evaluation) == len(window_set)
  assert 3 <= len(eval_sources) <= 20  # about a quarter of 40 files
  assert train.report['split']['eval_files'] == len(eval_sources)
  # Every window of a file stays with it.
  for part in (train, evaluation):
    for labels, source_id in zip(part.labels, part.source_ids):
      original = window_set.labels[window_set.source_ids == source_id]
      assert any(np.array_equal(labels, row) for row in original)

  again_train, again_eval = input_pipeline.split_by_source(window_set, 0.25)
  np.testing.assert_array_equal(again_train.labels, train.labels)
  np.testing.assert_array_equal(again_eval.labels, evaluation.labels)
  # A file's side depends on its name only: not on the other files or their order.
  fewer = _window_set(40, 3, failed=set(range(0, 40, 2)))
  _, fewer_eval = input_pipeline.split_by_source(fewer, 0.25)
  assert _split_sources(fewer_eval) == eval_sources - {f'tunes/tune_{i:03d}.mid'
                                                       for i in range(0, 40, 2)}


def test_split_position_is_a_stable_hash_of_the_name():
  # Pinned values: a Python hash() (salted per process) or another hash would change them.
  # (first 8 bytes of the SHA-256 of the name, over 2**64)
  assert input_pipeline._source_position('a.mid') == pytest.approx(0.098959, abs=1e-6)
  assert input_pipeline._source_position('reels/the_silver_spear.mid') == pytest.approx(
      0.691683, abs=1e-6)


def test_split_keeps_both_sides_non_empty_when_it_can():
  two = _window_set(2, 4)
  for fraction in (0.01, 0.5, 0.99):
    train, evaluation = input_pipeline.split_by_source(two, fraction)
    assert len(_split_sources(train)) == 1 and len(_split_sources(evaluation)) == 1
  one = _window_set(3, 4, failed={0, 2})  # one file with windows: all of it trains
  train, evaluation = input_pipeline.split_by_source(one, 0.5)
  assert len(train) == 4 and len(evaluation) == 0
  train, evaluation = input_pipeline.split_by_source(_window_set(10, 2), 0.0)
  assert len(train) == 20 and len(evaluation) == 0
  with pytest.raises(ValueError, match='eval_fraction'):
    input_pipeline.split_by_source(two, 1.0)


def _batches(dataset, count):
  return [{key: value.numpy() for key, value in batch.items()} for batch in dataset.take(count)]


def test_batches_have_the_contract_shapes_and_inputs_match_the_converter():
  for encoding, window_set in (('melody', _window_set(5, 4)),
                               ('drums', _window_set(5, 4, encoding='drums'))):
    data_config = base.get_base_config().data
    data_config.encoding = encoding
    converter = converters.get_converter(data_config)
    dataset = input_pipeline.make_dataset(window_set.labels, converter, 8, seed=3, transpose=2)
    for batch in _batches(dataset, 3):
      assert batch['inputs'].shape == (8, 32, converter.input_depth)
      assert batch['inputs'].dtype == np.float32
      assert batch['labels'].dtype == np.int32 and batch['labels'].shape == (8, 32)
      assert batch['lengths'].dtype == np.int32 and list(batch['lengths']) == [32] * 8
      np.testing.assert_array_equal(batch['inputs'],
                                    converter.inputs_from_labels(batch['labels']))
    assert dataset.element_spec['inputs'].shape.as_list() == [8, 32, converter.input_depth]


def test_same_seed_same_batches_other_seed_other_batches():
  labels = _window_set(6, 5).labels
  converter = converters.MelodyConverter()
  first = _batches(input_pipeline.make_dataset(labels, converter, 4, seed=7, transpose=3), 12)
  second = _batches(input_pipeline.make_dataset(labels, converter, 4, seed=7, transpose=3), 12)
  other = _batches(input_pipeline.make_dataset(labels, converter, 4, seed=8, transpose=3), 12)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a['labels'], b['labels'])
  assert any(not np.array_equal(a['labels'], c['labels']) for a, c in zip(first, other))


def test_every_epoch_is_a_new_permutation_of_all_windows():
  labels = _window_set(5, 4).labels  # 20 windows
  converter = converters.MelodyConverter()
  dataset = input_pipeline.make_dataset(labels, converter, 20, seed=1)
  epochs = [batch['labels'] for batch in _batches(dataset, 3)]
  for epoch in epochs:
    np.testing.assert_array_equal(np.unique(epoch, axis=0), np.unique(labels, axis=0))
  assert not np.array_equal(epochs[0], epochs[1])
  once = _batches(input_pipeline.make_dataset(labels, converter, 8, seed=1, shuffle=False,
                                              repeat=False, drop_remainder=False), 10)
  assert [len(batch['labels']) for batch in once] == [8, 8, 4]
  np.testing.assert_array_equal(np.concatenate([b['labels'] for b in once]), labels)


def _melody_windows():
  """Windows with notes, rests and note-offs; one near the top, one spanning the whole range."""
  rng = np.random.default_rng(5)
  windows = []
  for _ in range(30):
    window = np.zeros(32, np.int32)
    for step in range(0, 32, 4):
      window[step] = rng.choice([0, 1, int(rng.integers(40, 60))])
    windows.append(window)
  high = np.zeros(32, np.int32)
  high[[0, 8, 16]] = [87, 89, 88]  # pitches 106, 108, 107: can only go down
  spanning = np.zeros(32, np.int32)
  spanning[[0, 4, 8]] = [2, 1, 89]  # pitches 21 and 108: no room either way
  return np.stack(windows + [high, spanning])


def test_transposition_shifts_note_ons_only_stays_in_range_and_changes_each_epoch():
  labels = _melody_windows()
  converter = converters.MelodyConverter()
  dataset = input_pipeline.make_dataset(labels, converter, len(labels), seed=0, transpose=5,
                                        shuffle=False)
  shifts_per_epoch = []
  for batch in _batches(dataset, 6):  # one batch = one epoch, windows in order
    transposed = batch['labels']
    is_note = labels >= 2
    # Rests (0) and note-offs (1) are where they were; notes stay notes.
    np.testing.assert_array_equal(transposed[~is_note], labels[~is_note])
    assert (transposed[is_note] >= 2).all() and (transposed[is_note] <= 89).all()
    shifts = []
    for original, moved, notes in zip(labels, transposed, is_note):
      offsets = np.unique(moved[notes] - original[notes])
      assert len(offsets) <= 1  # one shift per window
      shift = int(offsets[0]) if len(offsets) else 0
      assert -5 <= shift <= 5
      shifts.append(shift)
    assert shifts[-2] <= 0  # the high window can only go down
    assert shifts[-1] == 0  # the spanning window cannot move
    shifts_per_epoch.append(shifts[:-2])
  # Fresh draws each epoch: the shift of a window differs between epochs.
  assert len({tuple(s) for s in shifts_per_epoch}) == 6
  all_shifts = np.concatenate(shifts_per_epoch)
  assert set(all_shifts.tolist()) == set(range(-5, 6))  # every allowed shift occurs


def test_drums_are_never_transposed():
  window_set = _window_set(4, 5, encoding='drums')
  converter = converters.DrumsConverter()
  dataset = input_pipeline.make_dataset(window_set.labels, converter, len(window_set), seed=0,
                                        transpose=6, shuffle=False)
  for batch in _batches(dataset, 3):
    np.testing.assert_array_equal(batch['labels'], window_set.labels)


def test_transpose_melody_on_its_own():
  labels = tf.constant([[2, 0, 1, 10], [89, 0, 0, 0], [0, 1, 0, 0]], tf.int32)
  lowest = input_pipeline.transpose_melody(labels, tf.constant([0.0, 0.0, 0.0]), 3)
  highest = input_pipeline.transpose_melody(labels, tf.constant([0.999, 0.999, 0.999]), 3)
  np.testing.assert_array_equal(lowest, [[2, 0, 1, 10], [86, 0, 0, 0], [0, 1, 0, 0]])
  np.testing.assert_array_equal(highest, [[5, 0, 1, 13], [89, 0, 0, 0], [0, 1, 0, 0]])


def test_bad_arguments_are_clear_errors():
  converter = converters.MelodyConverter()
  with pytest.raises(ValueError, match='non-empty'):
    input_pipeline.make_dataset(np.zeros([0, 32], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match='64 steps'):
    input_pipeline.make_dataset(np.zeros([3, 64], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match=r'\[0, 90\)'):
    input_pipeline.make_dataset(np.full([3, 32], 95), converter, 4, seed=0)
  with pytest.raises(ValueError, match='no batch'):
    input_pipeline.make_dataset(np.zeros([3, 32], np.int32), converter, 4, seed=0, repeat=False)
  with pytest.raises(ValueError, match='transpose'):
    input_pipeline.make_dataset(np.zeros([3, 32], np.int32), converter, 2, seed=0, transpose=-1)
