"""Windows in memory -> tf.data batches: split by file, shuffle, transpose, encoder inputs, batch.

Differences from the original MusicVAE: the original transposes NoteSequences before conversion and
then `cache()`s the converted tensors, so its "random" transposition (and window choice) is frozen
after the first epoch. Here the windows are converted once (`preprocess.py`) and transposition is
applied to the labels inside the tf.data pipeline with a fresh draw for every batch of every epoch.
The original drops notes pushed out of range by a transposition; here only shifts that keep every
note of the window in range are drawn, so nothing is dropped or clamped. The original holds out
data through a separate eval TFRecord; here `split_by_source` holds out whole files.
"""
import hashlib

import numpy as np
import tensorflow as tf

_FIRST_NOTE_LABEL = 2  # melody labels: 0 no event, 1 note off, 2.. note on of pitch label + 19
_PITCH_OFFSET = 19
_MIN_PITCH, _MAX_PITCH = 21, 108


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


def inputs_from_labels(labels, converter, controls=None):
  """Encoder inputs in TF, equal to `converter.inputs_from_labels` (float32 [..., T, input_depth]):
  each part one-hot (a drum part with `roll_input`: its 9 hit bits, then a "no hit" bit), then the
  controls' one-hot."""
  labels = tf.convert_to_tensor(labels, tf.int32)
  pieces = []
  for k, part in enumerate(converter.parts):
    values = labels[..., k]
    if part.roll_input:
      num_classes = part.input_depth - 1
      bits = tf.bitwise.bitwise_and(
          tf.bitwise.right_shift(values[..., tf.newaxis], tf.range(num_classes, dtype=tf.int32)), 1)
      no_hit = tf.cast(tf.equal(values, 0), tf.int32)[..., tf.newaxis]
      pieces.append(tf.cast(tf.concat([bits, no_hit], axis=-1), tf.float32))
    else:
      pieces.append(tf.one_hot(values, part.depth, dtype=tf.float32))
  if converter.control_depth:
    pieces.append(tf.one_hot(tf.cast(controls, tf.int32), converter.control_depth,
                             dtype=tf.float32))
  return pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=-1)


def transpose_parts(labels, uniform, max_shift, converter):
  """Shifts the note-on labels of the pitched parts of each window by its own k in
  [-max_shift, max_shift] (one k for all its pitched parts, as transposing the music would; drum
  parts never move).

  k is drawn uniformly (from `uniform`, float [B] in [0, 1)) among the shifts that keep every note
  of the window within [min_pitch, max_pitch], so no window is dropped or clamped (a window that
  already spans the range is left as it is). No-event (0) and note-off (1) labels never change.
  labels: int32 [B, T, P]. Returns (labels int32 [B, T, P], shift int32 [B]).
  """
  min_pitch = getattr(converter, 'min_pitch', _MIN_PITCH)
  max_pitch = getattr(converter, 'max_pitch', _MAX_PITCH)
  min_label, max_label = min_pitch - _PITCH_OFFSET, max_pitch - _PITCH_OFFSET
  pitched = tf.constant([part.transposable for part in converter.parts])
  is_note = (labels >= _FIRST_NOTE_LABEL) & pitched
  lowest = tf.reduce_min(tf.where(is_note, labels, max_label), axis=[1, 2])
  highest = tf.reduce_max(tf.where(is_note, labels, min_label), axis=[1, 2])
  down = tf.maximum(tf.minimum(max_shift, lowest - min_label), 0)
  up = tf.maximum(tf.minimum(max_shift, max_label - highest), 0)
  choices = tf.cast(down + up + 1, tf.float32)
  shift = tf.minimum(tf.cast(tf.floor(uniform * choices), tf.int32), down + up) - down
  return labels + tf.where(is_note, shift[:, tf.newaxis, tf.newaxis], 0), shift


def window_arrays(windows, controls=None):
  """(labels [N, T, P], controls [N, T] or None) of a WindowSet-like object (with `labels` and
  `controls`), or of a labels array with the controls given apart."""
  if hasattr(windows, 'labels'):
    return np.asarray(windows.labels), getattr(windows, 'controls', None)
  return np.asarray(windows), controls


def make_dataset(windows, converter, batch_size, *, seed, controls=None, transpose=0, shuffle=True,
                 repeat=True, drop_remainder=True, start_batch=0):
  """A tf.data.Dataset of batches `{'inputs', 'labels', 'lengths'}` (and 'controls' for a family
  with controls) from in-memory windows. The same code serves every family: the converter's
  parts and control depth say what to build.

  Args:
    windows: a WindowSet (labels and controls), or int [N, T, P] label windows, T =
      converter.window_steps, P = len(converter.parts).
    converter: gives the parts, depths and controls.
    batch_size: windows per batch.
    seed: the same seed gives the same sequence of batches (order and transpositions).
    controls: int [N, T] control classes, for a family with controls, when `windows` is an array.
    transpose: the pitched parts of each window are shifted by k semitones, k drawn uniformly
      among the shifts in [-transpose, transpose] that keep all its notes within the converter's
      pitch range (21..108 by default), afresh for every batch of every epoch; its controls move
      with it (`converter.control_transposition_table`). Drums are never transposed.
    shuffle: a new permutation of all windows every epoch (a full shuffle, not a buffer).
    repeat: repeat forever (batches run across epoch boundaries); else one pass.
    drop_remainder: drop the last partial batch (gives a static batch size).
    start_batch: begin at this batch of the stream (with `repeat`): batch k is the same whatever
      batch the dataset starts at, so a resumed run sees exactly the batches an uninterrupted one
      would have (the stream is a function of (seed, batch number), and skipping costs at most
      one epoch's worth of indices, not the batches before).

  Returns:
    Batches: inputs float32 [B, T, input_depth], labels int32 [B, T, P], lengths int32 [B] (= T),
    controls int32 [B, T] (families with controls).

  Raises:
    ValueError: no windows, windows of the wrong length or with labels out of range, a bad
      batch size or transpose, or a single pass that would give no batch at all.
  """
  labels, controls = window_arrays(windows, controls)
  if labels.ndim != 3 or labels.shape[0] == 0:
    raise ValueError(f'make_dataset needs a non-empty [N, T, P] array of windows, got shape '
                     f'{labels.shape}.')
  num_windows, window_steps, _ = labels.shape
  if window_steps != converter.window_steps:
    raise ValueError(f'Windows have {window_steps} steps but the {converter.encoding} converter '
                     f'expects {converter.window_steps}.')
  converter.check_labels(labels)
  controls = converter.check_controls(controls, num_windows)
  if batch_size < 1:
    raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
  if transpose < 0 or int(transpose) != transpose:
    raise ValueError(f'transpose must be a whole number >= 0, got {transpose}.')
  if start_batch < 0 or (start_batch and not repeat):
    raise ValueError(f'start_batch must be >= 0 and needs repeat=True, got {start_batch}.')
  if not repeat and drop_remainder and num_windows < batch_size:
    raise ValueError(f'Only {num_windows} windows: one pass with drop_remainder gives no batch of '
                     f'{batch_size}.')
  transpose = int(transpose) if any(part.transposable for part in converter.parts) else 0
  all_labels = tf.constant(labels.astype(np.int32))
  all_controls = None if controls is None else tf.constant(controls)
  control_shifts = None
  if transpose and all_controls is not None:
    # [C, 2 * transpose + 1]: the class of each control transposed by each shift.
    control_shifts = tf.constant(converter.control_transposition_table(transpose), tf.int32)
  seed = tf.constant(int(seed), tf.int64)

  # Even stream positions seed the epoch permutations, odd ones the per-batch transpositions.
  def epoch_order(epoch):
    if not shuffle:
      return tf.data.Dataset.range(num_windows)
    keys = tf.random.stateless_uniform([num_windows], seed=tf.stack([seed, 2 * epoch]))
    return tf.data.Dataset.from_tensor_slices(tf.argsort(keys, stable=True))

  def to_batch(batch_number, indices):
    batch_labels = tf.gather(all_labels, indices)
    batch_controls = None if all_controls is None else tf.gather(all_controls, indices)
    if transpose:
      uniform = tf.random.stateless_uniform(tf.shape(indices), seed=tf.stack(
          [seed, 2 * batch_number + 1]))
      batch_labels, shift = transpose_parts(batch_labels, uniform, transpose, converter)
      if control_shifts is not None:
        columns = tf.broadcast_to((shift + transpose)[:, tf.newaxis], tf.shape(batch_controls))
        batch_controls = tf.gather_nd(control_shifts, tf.stack([batch_controls, columns], -1))
    batch = {
        'inputs': inputs_from_labels(batch_labels, converter, batch_controls),
        'labels': batch_labels,
        'lengths': tf.fill(tf.shape(indices), tf.constant(window_steps, tf.int32)),
    }
    if batch_controls is not None:
      batch['controls'] = batch_controls
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
