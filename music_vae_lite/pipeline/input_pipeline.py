"""Windows in memory -> tf.data batches: split by file, shuffle, augment, encoder inputs, batch.

Differences from the original MusicVAE: the original transposes NoteSequences before conversion and
then `cache()`s the converted tensors, so its "random" transposition (and window choice) is frozen
after the first epoch. Here the windows are converted once (`preprocess.py`) and the family's
augmentation (transposition) is applied to the windows inside the tf.data pipeline with a fresh
draw for every batch of every epoch.
The original drops notes pushed out of range by a transposition; here only shifts that keep every
note of the window in range are drawn, so nothing is dropped or clamped. The original holds out
data through a separate eval TFRecord; here `split_by_source` holds out whole files.
"""
import hashlib

import numpy as np
import tensorflow as tf

from music_vae_lite.families import contract


def _source_position(name):
  """A number in [0, 1) from the file name alone: the same on every run and every machine."""
  digest = hashlib.sha256(name.encode('utf-8')).digest()
  return int.from_bytes(digest[:8], 'big') / 2.0**64


def split_by_source(window_set, eval_fraction):
  """Splits a WindowSet into (train, eval) by file, so no file has windows on both sides.

  A file goes to eval when the SHA-256 of its relative name maps below `eval_fraction`, so the
  split depends only on file names (not on the order, the machine or the other files) and a file
  keeps its side when files are added. The share of files held out is therefore close to, not
  exactly, `eval_fraction`. With `0 < eval_fraction` and at least two files that have windows, both
  sides are made non-empty (the file nearest the boundary moves over). With one such file, or
  `eval_fraction == 0`, everything is train and eval is empty.

  Raises:
    ValueError: `eval_fraction` outside [0, 1).
  """
  if not 0.0 <= eval_fraction < 1.0:
    raise ValueError(f'eval_fraction must be in [0, 1), got {eval_fraction}.')
  used = sorted(set(int(i) for i in window_set.source_ids))
  position = {i: _source_position(window_set.sources[i]) for i in used}
  eval_ids = {i for i in used if position[i] < eval_fraction}
  if eval_fraction > 0 and len(used) >= 2:
    by_position = sorted(used, key=lambda i: (position[i], window_set.sources[i]))
    if not eval_ids:
      eval_ids = {by_position[0]}
    elif len(eval_ids) == len(used):
      eval_ids.discard(by_position[-1])
  is_eval = np.isin(window_set.source_ids, sorted(eval_ids))
  train, evaluation = window_set.subset(~is_eval), window_set.subset(is_eval)
  split = {'eval_fraction': eval_fraction, 'train_files': len(used) - len(eval_ids),
           'eval_files': len(eval_ids), 'train_windows': len(train),
           'eval_windows': len(evaluation)}
  train.report['split'] = evaluation.report['split'] = split
  return train, evaluation


def make_dataset(windows, converter, batch_size, *, seed, controls=None, augment=False,
                 transpose=0, shuffle=True, repeat=True, drop_remainder=True, start_batch=0):
  """A tf.data.Dataset of batches from in-memory windows: the window's arrays by name (e.g.
  'labels', and 'controls' for a family with controls), 'inputs' (the encoder's) and 'lengths'.
  The same code serves every family: the converter's window spec says what a window holds, and
  the converter builds the encoder inputs, the augmentation and the decoder's controls.

  Args:
    windows: a WindowSet, {name: [N, ...]} or the family's targets (label windows [N, T, P]; [N, T]
      for a one-part family), T = converter.window_steps.
    converter: the data family (contract.Converter).
    batch_size: windows per batch.
    seed: the same seed gives the same sequence of batches (order and augmentation).
    controls: [N, T] controls, for a family with controls, when `windows` are its targets.
    augment: training batches: the family's `augment` (transposition of the pitched parts by k
      semitones, k drawn uniformly among the shifts in [-transpose, transpose] that keep all its
      notes within the family's pitch range, its controls moving with it; drums never move;
      GrooVAE's note dropout thins the encoder's input only), afresh for every batch of every
      epoch.
    transpose: config.data.transpose, for `augment`.
    shuffle: a new permutation of all windows every epoch (a full shuffle, not a buffer).
    repeat: repeat forever (batches run across epoch boundaries); else one pass.
    drop_remainder: drop the last partial batch (gives a static batch size).
    start_batch: begin at this batch of the stream (with `repeat`): batch k is the same whatever
      batch the dataset starts at, so a resumed run sees exactly the batches an uninterrupted one
      would have (the stream is a function of (seed, batch number), and skipping costs at most
      one epoch's worth of indices, not the batches before).

  Returns:
    Batches: the arrays [B, ...] as the window spec declares them, inputs float32
    [B, T, input_depth], lengths int32 [B] (converter.lengths), and controls (the decoder's,
    converter.decoder_controls) where the family has them.

  Raises:
    ValueError: no windows, windows that do not fit the family's spec (the message names the
      array), a bad batch size or transpose, or a single pass that would give no batch at all.
  """
  arrays = getattr(windows, 'arrays', windows)
  first = next(iter(arrays.values())) if isinstance(arrays, dict) else arrays
  first = np.asarray(first)
  if first.ndim < 2 or first.shape[0] == 0:
    raise ValueError(f'make_dataset needs a non-empty [N, T, ...] array of windows, got shape '
                     f'{first.shape}.')
  if first.shape[1] != converter.window_steps:
    raise ValueError(f'Windows have {first.shape[1]} steps but the {converter.encoding} converter '
                     f'expects {converter.window_steps}.')
  arrays = converter.window_arrays(windows, controls)
  num_windows = contract.num_windows(arrays)
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  if transpose < 0 or int(transpose) != transpose:
    raise ValueError(f'transpose must be a whole number >= 0, got {transpose}.')
  if start_batch < 0 or (start_batch and not repeat):
    raise ValueError(f'start_batch must be >= 0 and needs repeat=True, got {start_batch}.')
  if not repeat and drop_remainder and num_windows < batch_size:
    raise ValueError(f'Only {num_windows} windows: one pass with drop_remainder gives no batch of '
                     f'{batch_size}.')
  all_arrays = {name: tf.constant(array) for name, array in arrays.items()}
  transpose = int(transpose)
  seed = tf.constant(int(seed), tf.int64)

  # Even stream positions seed the epoch permutations, odd ones the per-batch augmentation.
  def epoch_order(epoch):
    if not shuffle:
      return tf.data.Dataset.range(num_windows)
    keys = tf.random.stateless_uniform([num_windows], seed=tf.stack([seed, 2 * epoch]))
    return tf.data.Dataset.from_tensor_slices(tf.argsort(keys, stable=True))

  def to_batch(batch_number, indices):
    batch = {name: tf.gather(array, indices) for name, array in all_arrays.items()}
    if augment:
      batch = converter.augment(batch, tf.stack([seed, 2 * batch_number + 1]), transpose)
    if contract.INPUTS not in batch:  # else the augmentation changed what the encoder reads
      batch[contract.INPUTS] = converter.encoder_inputs(batch)
    batch[contract.LENGTHS] = converter.lengths(batch)
    controls = converter.decoder_controls(batch)
    if controls is not None:
      batch[contract.CONTROLS] = controls
    return batch

  # Batches run across epoch boundaries: batch k holds stream positions [k * B, (k + 1) * B), and
  # position p is index p % N of epoch p // N's order.
  first_position = int(start_batch) * batch_size
  epochs = (tf.data.Dataset.counter(start=first_position // num_windows) if repeat
            else tf.data.Dataset.range(1))
  dataset = epochs.flat_map(epoch_order).skip(first_position % num_windows)
  dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).enumerate(
      start=int(start_batch))
  dataset = dataset.map(to_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.prefetch(tf.data.AUTOTUNE)
