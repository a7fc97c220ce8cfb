"""Tests for input_pipeline.py: split by file, tf.data batches, per-epoch transposition."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest
import tensorflow as tf

from music_vae_lite.families import contract
from music_vae_lite.families import label_windows
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite.pipeline import input_pipeline
from music_vae_lite.pipeline import preprocess
from music_vae_lite.configs import base


def _window_set(num_sources, windows_per_source, encoding='melody', failed=()):
  """A WindowSet of random one-part windows [N, 32, 1]; sources in `failed` have none (as failed
  files)."""
  rng = np.random.default_rng(0)
  sources = [f'tunes/tune_{i:03d}.mid' for i in range(num_sources)]
  labels, source_ids = [], []
  for i in range(num_sources):
    if i in failed:
      continue
    for _ in range(windows_per_source):
      labels.append(rng.integers(0, 90 if encoding == 'melody' else 512, size=[32, 1]))
      source_ids.append(i)
  return preprocess.WindowSet({'labels': np.array(labels, np.int32)},
                              np.array(source_ids, np.int32),
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
    config = base.get_base_config()
    config.data.encoding = encoding
    converter = contract.get_converter(config)
    dataset = input_pipeline.make_dataset(window_set, converter, 8, seed=3, augment=True,
                                          transpose=2)
    from_array = input_pipeline.make_dataset(window_set.labels, converter, 8, seed=3,
                                             augment=True, transpose=2)
    for batch, same in zip(_batches(dataset, 3), _batches(from_array, 3)):
      assert set(batch) == {'inputs', 'labels', 'lengths'}  # no controls for these families
      np.testing.assert_array_equal(batch['labels'], same['labels'])
      assert batch['inputs'].shape == (8, 32, converter.input_depth)
      assert batch['inputs'].dtype == np.float32
      assert batch['labels'].dtype == np.int32 and batch['labels'].shape == (8, 32, 1)
      assert batch['lengths'].dtype == np.int32 and list(batch['lengths']) == [32] * 8
      np.testing.assert_array_equal(batch['inputs'],
                                    converter.inputs_from_labels(batch['labels']))
    assert dataset.element_spec['inputs'].shape.as_list() == [8, 32, converter.input_depth]


def test_same_seed_same_batches_other_seed_other_batches():
  labels = _window_set(6, 5).labels
  converter = melody.MelodyConverter()
  def batches(seed):
    return _batches(input_pipeline.make_dataset(labels, converter, 4, seed=seed, augment=True,
                                                transpose=3), 12)
  first, second, other = batches(7), batches(7), batches(8)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a['labels'], b['labels'])
  assert any(not np.array_equal(a['labels'], c['labels']) for a, c in zip(first, other))


def test_every_epoch_is_a_new_permutation_of_all_windows():
  labels = _window_set(5, 4).labels  # 20 windows
  converter = melody.MelodyConverter()
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
  return np.stack(windows + [high, spanning])[..., None]  # [N, T, 1]


def test_transposition_shifts_note_ons_only_stays_in_range_and_changes_each_epoch():
  labels = _melody_windows()
  converter = melody.MelodyConverter()
  dataset = input_pipeline.make_dataset(labels, converter, len(labels), seed=0, augment=True,
                                        transpose=5, shuffle=False)
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
  converter = drums.DrumsConverter()
  dataset = input_pipeline.make_dataset(window_set.labels, converter, len(window_set), seed=0,
                                        augment=True, transpose=6, shuffle=False)
  for batch in _batches(dataset, 3):
    np.testing.assert_array_equal(batch['labels'], window_set.labels)


def test_transpose_labels_on_a_melody():
  parts = melody.MelodyConverter().parts
  labels = tf.constant([[2, 0, 1, 10], [89, 0, 0, 0], [0, 1, 0, 0]], tf.int32)[..., tf.newaxis]
  lowest, low_shift = label_windows.transpose_labels(labels, tf.constant([0.0, 0.0, 0.0]), 3,
                                                     parts)
  highest, high_shift = label_windows.transpose_labels(
      labels, tf.constant([0.999, 0.999, 0.999]), 3, parts)
  np.testing.assert_array_equal(lowest[..., 0], [[2, 0, 1, 10], [86, 0, 0, 0], [0, 1, 0, 0]])
  np.testing.assert_array_equal(highest[..., 0], [[5, 0, 1, 13], [89, 0, 0, 0], [0, 1, 0, 0]])
  assert lowest.shape == highest.shape == (3, 4, 1)
  # The shift drawn for each window (a window without notes may take any of them).
  np.testing.assert_array_equal(low_shift, [0, -3, -3])
  np.testing.assert_array_equal(high_shift, [3, 0, 3])
  # A narrower pitch range (the converter's) leaves less room.
  narrow = melody.MelodyConverter(min_pitch=21, max_pitch=30).parts  # labels 2..11
  _, shift = label_windows.transpose_labels(labels[:1], tf.constant([0.999]), 3, narrow)
  np.testing.assert_array_equal(shift, [1])


BASS_PART = melody.MelodyPart('bass', instrument=1, program=33)


def test_transpose_labels_moves_pitched_parts_together_and_never_drums():
  # Melody, bass and drums, as a trio: a drum label is not a pitch, whatever its value.
  parts = (melody.MELODY_PART, BASS_PART, drums.DRUMS_PART)
  labels = np.zeros([2, 4, 3], np.int32)
  labels[0, :, 0] = [40, 0, 1, 45]
  labels[0, :, 1] = [20, 0, 0, 22]
  labels[0, :, 2] = [511, 300, 5, 2]  # as pitches these would be far out of range
  labels[1, :, 0] = [2, 0, 0, 0]  # pitch 21: the window can only go up
  labels[1, :, 1] = [0, 50, 1, 0]
  labels[1, :, 2] = [0, 3, 0, 89]
  moved, shift = label_windows.transpose_labels(tf.constant(labels), tf.constant([0.999, 0.0]),
                                                4, parts)
  moved, shift = moved.numpy(), shift.numpy()
  np.testing.assert_array_equal(shift, [4, 0])
  np.testing.assert_array_equal(moved[..., 2], labels[..., 2])  # drums untouched
  np.testing.assert_array_equal(moved[0, :, :2], [[44, 24], [0, 0], [1, 0], [49, 26]])
  np.testing.assert_array_equal(moved[1], labels[1])  # the lowest draw: no room to go down
  lowest, low_shift = label_windows.transpose_labels(tf.constant(labels),
                                                     tf.constant([0.0, 0.0]), 4, parts)
  np.testing.assert_array_equal(low_shift, [-4, 0])
  np.testing.assert_array_equal(lowest.numpy()[..., 2], labels[..., 2])
  np.testing.assert_array_equal(lowest.numpy()[0, :, :2], [[36, 16], [0, 0], [1, 0], [41, 18]])


class MelodyOverDrums(label_windows.LabelConverter):
  """Two parts, no controls: a melody over drums in 2-bar windows."""
  encoding = 'melody_over_drums'
  parts = (melody.MELODY_PART, drums.DRUMS_PART)

  def __init__(self, slice_bars=2, max_windows_per_sequence=None, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)


class PitchClassControls(label_windows.LabelConverter):
  """A melody with a made-up control per step: 0, or 1 + the pitch class of the note struck."""
  encoding = 'pitch_class_melody'
  parts = (melody.MELODY_PART,)
  control_depth = 13

  def __init__(self, slice_bars=2, max_windows_per_sequence=None, gap_bars=1, seed=0):
    super().__init__(slice_bars, max_windows_per_sequence, gap_bars, seed)

  @staticmethod
  def controls_of(labels):
    labels = np.asarray(labels)[..., 0]
    return np.where(labels >= 2, (labels + 19) % 12 + 1, 0).astype(np.int32)

  def control_transposition_table(self, max_shift):
    """[13, 2 * max_shift + 1]: control c moved by shift k is at column k + max_shift."""
    shifts = np.arange(-max_shift, max_shift + 1)
    classes = np.arange(13)[:, None]
    return np.where(classes == 0, 0, (classes - 1 + shifts) % 12 + 1)


def test_a_multi_part_family_batches_and_transposes_its_melody_only():
  converter = MelodyOverDrums()
  rng = np.random.default_rng(2)
  labels = np.stack([_melody_windows()[..., 0], rng.integers(0, 512, [32, 32])], axis=-1)
  dataset = input_pipeline.make_dataset(labels, converter, 32, seed=0, augment=True,
                                        transpose=4, shuffle=False)
  assert dataset.element_spec['inputs'].shape.as_list() == [32, 32, 100]
  moved = 0
  for batch in _batches(dataset, 3):
    assert batch['labels'].shape == (32, 32, 2)
    np.testing.assert_array_equal(batch['labels'][..., 1], labels[..., 1])  # drums stay
    moved += int((batch['labels'][..., 0] != labels[..., 0]).any(axis=1).sum())
    np.testing.assert_array_equal(batch['inputs'], converter.inputs_from_labels(batch['labels']))
  assert moved > 30  # the melodies did move


def _controlled_window_set():
  labels = _melody_windows()
  controls = PitchClassControls.controls_of(labels)
  return preprocess.WindowSet({'labels': labels, 'controls': controls},
                              np.zeros([len(labels)], np.int32), ['a.mid'], 'pitch_class_melody',
                              2, {})


def test_controls_are_batched_one_hot_in_the_inputs_and_move_with_the_transposition():
  converter = PitchClassControls()
  window_set = _controlled_window_set()
  dataset = input_pipeline.make_dataset(window_set, converter, 8, seed=4, augment=True,
                                        transpose=5)
  assert dataset.element_spec['controls'].shape.as_list() == [8, 32]
  assert dataset.element_spec['inputs'].shape.as_list() == [8, 32, 90 + 13]
  moved = 0
  for batch in _batches(dataset, 8):
    assert batch['controls'].dtype == np.int32 and batch['controls'].shape == (8, 32)
    # Each window's controls are still those of its (transposed) notes.
    np.testing.assert_array_equal(batch['controls'], converter.controls_of(batch['labels']))
    np.testing.assert_array_equal(batch['inputs'],
                                  converter.inputs_from_labels(batch['labels'], batch['controls']))
    moved += int(sum(not any(np.array_equal(window, original) for original in window_set.labels)
                     for window in batch['labels']))
  assert moved > 20  # transposition happened, so the controls had to follow
  # The same batches from the arrays, controls given apart; untransposed they are the originals.
  from_arrays = input_pipeline.make_dataset(window_set.labels, converter, 8, seed=4, augment=True,
                                            transpose=5, controls=window_set.controls)
  for a, b in zip(_batches(dataset, 4), _batches(from_arrays, 4)):
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  (batch,) = _batches(input_pipeline.make_dataset(window_set, converter, 32, seed=0,
                                                  shuffle=False), 1)
  np.testing.assert_array_equal(batch['controls'], window_set.controls)


def test_controls_missing_or_unexpected_are_clear_errors():
  window_set = _controlled_window_set()
  with pytest.raises(ValueError, match='needs controls'):
    input_pipeline.make_dataset(window_set.labels, PitchClassControls(), 4, seed=0)
  with pytest.raises(ValueError, match=r'Controls must be in \[0, 13\)'):
    input_pipeline.make_dataset(window_set.labels, PitchClassControls(), 4, seed=0,
                                controls=window_set.controls + 13)
  with pytest.raises(ValueError, match='takes no controls'):
    input_pipeline.make_dataset(window_set, melody.MelodyConverter(slice_bars=2), 4, seed=0)


def test_one_part_windows_may_come_without_their_part_axis():
  labels = _window_set(3, 4).labels  # [12, 32, 1]
  converter = melody.MelodyConverter()
  with_axis = _batches(input_pipeline.make_dataset(labels, converter, 4, seed=2), 3)
  without = _batches(input_pipeline.make_dataset(labels[..., 0], converter, 4, seed=2), 3)
  for a, b in zip(with_axis, without):
    assert set(a) == set(b)
    for key in a:
      np.testing.assert_array_equal(a[key], b[key])
  with pytest.raises(ValueError, match=r'labels need a last axis of 2 part\(s\) \(melody, drums\)'):
    input_pipeline.make_dataset(np.zeros([3, 32], np.int32), MelodyOverDrums(), 2, seed=0)


def test_bad_arguments_are_clear_errors():
  converter = melody.MelodyConverter()
  with pytest.raises(ValueError, match='non-empty'):
    input_pipeline.make_dataset(np.zeros([0, 32, 1], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match=r'non-empty \[N, T, ...\] array of windows, got shape '
                     r'\(32,\)'):  # one window without its N axis
    input_pipeline.make_dataset(np.zeros([32], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match='64 steps'):
    input_pipeline.make_dataset(np.zeros([3, 64, 1], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match=r'last axis of 1 part\(s\)'):
    input_pipeline.make_dataset(np.zeros([3, 32, 2], np.int32), converter, 4, seed=0)
  with pytest.raises(ValueError, match=r'melody labels must be in \[0, 90\)'):
    input_pipeline.make_dataset(np.full([3, 32, 1], 95), converter, 4, seed=0)
  with pytest.raises(ValueError, match='no batch'):
    input_pipeline.make_dataset(np.zeros([3, 32, 1], np.int32), converter, 4, seed=0,
                                repeat=False)
  with pytest.raises(ValueError, match='transpose'):
    input_pipeline.make_dataset(np.zeros([3, 32, 1], np.int32), converter, 2, seed=0,
                                transpose=-1)
