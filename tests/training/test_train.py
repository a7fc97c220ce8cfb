"""Tests of the training loop, checkpoints, summaries and piano rolls (in-process, tiny configs)."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import itertools  # pylint: disable=g-import-not-at-top,wrong-import-position
import json  # pylint: disable=g-import-not-at-top,wrong-import-position
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management

from music_vae_lite import checkpoints
from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite.training import distribute
from music_vae_lite.pipeline import input_pipeline
from music_vae_lite.training import losses
from music_vae_lite import pianoroll
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import summaries
from music_vae_lite.training import train

from helpers import (TRAIN_SCALARS, checkpoint_values, read_events,  # pylint: disable=g-bad-import-order
                     tiny_config, write_melody_midis)


@pytest.fixture(scope='module')
def midi_dir(tmp_path_factory):
  return write_melody_midis(str(tmp_path_factory.mktemp('midi')))


@pytest.fixture(scope='module')
def window_set(midi_dir):
  return preprocess.load_examples(midi_dir, contract.get_converter(tiny_config()))


# ---------------------------------------------------------------------------------------------
# Piano rolls.


def test_melody_notes_follow_label_conventions():
  labels = np.zeros(32, np.int32)
  labels[0] = 60 - 19  # C4 on, held for 4 steps
  labels[4] = 1  # note off
  labels[8] = 64 - 19  # E4, cut by the next note-on
  labels[10] = 67 - 19  # G4, held to the end
  assert melody.MELODY_PART.picture_notes(labels) == [(60, 0, 4), (64, 8, 10), (67, 10, 32)]


def test_drum_hits_decode_bits():
  labels = np.zeros(16, np.int32)
  labels[0] = 1 | 4  # classes 0 and 2
  labels[3] = 256  # class 8
  assert drums.DRUMS_PART.picture_notes(labels) == [(0, 0, 1), (2, 0, 1), (8, 3, 4)]


def test_render_draws_notes_in_column_colours_and_png_round_trips(tmp_path):
  window = np.zeros(32, np.int32)
  window[0] = 60 - 19
  grid = [[window, window], [window, np.zeros(32, np.int32)]]
  image = pianoroll.render(grid, 'melody', px_per_step=4, px_per_row=3, margin=2, labels=False)
  num_rows = 25  # two octaves around the only pitch (widened to >= 24 semitones)
  assert image.shape == (2 * num_rows * 3 + 3 * 2, 2 * 32 * 4 + 3 * 2, 3)
  colours = {tuple(c) for c in image.reshape(-1, 3)}
  assert pianoroll.COLUMN_COLOURS[0] in colours and pianoroll.COLUMN_COLOURS[1] in colours
  path = pianoroll.write_png(tmp_path / 'roll.png', image)
  decoded = tf.io.decode_png(tf.io.read_file(path)).numpy()
  np.testing.assert_array_equal(decoded, image)
  assert not [p for p in os.listdir(tmp_path) if p.endswith('.tmp')]


def test_render_labels_pitches_drums_and_bars_in_gutters():
  window = np.zeros(32, np.int32)
  window[0] = 60 - 19
  plain = pianoroll.render([[window]], 'melody', labels=False)
  labelled = pianoroll.render([[window]], 'melody')
  left = labelled.shape[1] - plain.shape[1]
  top = labelled.shape[0] - plain.shape[0]
  assert left > 10 and top > 5  # room for 'C4' and the bar numbers
  margin = 4  # the bar numbers may touch the margin above the panels, never the panels
  np.testing.assert_array_equal(labelled[top + margin:, left:], plain[margin:])
  text = pianoroll._LABEL_TEXT  # pylint: disable=protected-access
  gutter = labelled[top:, :left].reshape(-1, 3)
  assert (np.abs(gutter.astype(int) - text).sum(axis=1) < 60).any()  # some text was drawn
  assert (np.abs(labelled[:top].reshape(-1, 3).astype(int) - text).sum(axis=1) < 60).any()
  layout = pianoroll._Layout('melody', [[(60, 0, 1)]])  # pylint: disable=protected-access
  assert [name for _, name in pianoroll._row_labels(layout)] == [  # pylint: disable=protected-access
      'C3', 'C4', 'C5']
  drums = pianoroll.render([[np.ones(16, np.int32)]], 'drums')
  assert drums.shape[1] > pianoroll.render([[np.ones(16, np.int32)]], 'drums',
                                           labels=False).shape[1] + 40  # 'closed hi-hat'


def test_render_wraps_16_bar_windows_onto_lines_of_8_bars():
  window = np.zeros(256, np.int32)
  window[120] = 60 - 19  # C4 from bar 8, beat 3, held over the line break into bar 9
  window[136] = 1  # note off, 8 steps into bar 9
  window[200] = 64 - 19  # E4 in bar 13, to the end
  kw = dict(px_per_step=2, px_per_row=3, margin=2, labels=False)
  wrapped = pianoroll.render([[window]], 'melody', **kw)
  flat = pianoroll.render([[window]], 'melody', bars_per_line=None, **kw)
  panel_height = 25 * 3  # two octaves around the pitches
  assert flat.shape[:2] == (panel_height + 2 * 2, 256 * 2 + 2 * 2)
  assert wrapped.shape[:2] == (2 * panel_height + 3 * 2, 128 * 2 + 2 * 2)
  # The second line is the window's second half: the same pixels as the right half of `flat`,
  # except that the held note has no onset mark at the line's start.
  first = wrapped[2:2 + panel_height, 2:2 + 256]
  second = wrapped[4 + panel_height:4 + 2 * panel_height, 2:2 + 256]
  np.testing.assert_array_equal(first, flat[2:2 + panel_height, 2:2 + 256])
  held_row = (74 - 60) * 3 + 1  # C4's row: the picture shows pitches 74 (top) down to 50
  colour, onset = pianoroll.COLUMN_COLOURS[0], pianoroll._darker(pianoroll.COLUMN_COLOURS[0])  # pylint: disable=protected-access
  assert tuple(second[held_row, 1]) == colour and tuple(flat[2 + held_row, 2 + 240]) == onset
  np.testing.assert_array_equal(second[:, 20:], flat[2:2 + panel_height, 2 + 276:2 + 512])
  # Labelled, every line numbers its own bars: the second line's band is drawn too.
  labelled = pianoroll.render([[window]], 'melody')
  assert labelled.shape[0] > wrapped.shape[0] + 2 * 10
  assert pianoroll.render([[window[:128]]], 'melody').shape[1] == labelled.shape[1]


def test_render_rejects_empty_grid():
  with pytest.raises(ValueError, match='at least one row'):
    pianoroll.render([], 'melody')


# ---------------------------------------------------------------------------------------------
# The train step.


def _one_step(config, window_set, steps=1):
  strategy = distribute.make_strategy('default')
  converter = contract.get_converter(config)
  state = train.TrainState(config, strategy, converter)
  before = [v.numpy() for v in state.model.trainable_variables]
  dataset = distribute.distribute_windows(strategy, window_set.labels, converter,
                                          config.train.batch_size, seed=0)
  step_fn = train.make_train_step(state)
  iterator = iter(dataset)
  metrics = [step_fn(iterator, state.next_seed()) for _ in range(steps)]
  after = [v.numpy() for v in state.model.trainable_variables]
  return state, metrics, before, after


def test_train_step_updates_weights_and_reports_metrics(window_set):
  state, metrics, before, after = _one_step(tiny_config(), window_set)
  assert state.step == 1
  assert set(TRAIN_SCALARS) - {'learning_rate'} <= set(metrics[0])
  assert float(metrics[0]['global_norm']) > 0
  assert any(not np.array_equal(b, a) for b, a in zip(before, after))


def test_gradient_norm_over_clip_to_zero_zeroes_the_update(window_set):
  # Norm >= grad_norm_clip_to_zero: all gradients are zero; Adam's first step with zero gradients
  # (zero moments) leaves every weight as it was, while the step still counts.
  state, metrics, before, after = _one_step(tiny_config(grad_norm_clip_to_zero=1e-9), window_set)
  assert state.step == 1
  assert float(metrics[0]['global_norm']) > 1e-9
  for b, a in zip(before, after):
    np.testing.assert_array_equal(b, a)


@pytest.mark.slow
def test_fused_kernels_train_a_full_size_batch_with_scheduled_sampling(window_set):
  """Regression: in this large graph (BlockLSTM encoder, a static batch of 512, scheduled sampling)
  grappler once rewrote an add chain inside the sampling loop into an accumulator whose temporary
  variable collided between iterations (AlreadyExistsError, from the second step on)."""
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config('cat-mel_2bar_small')
  config.train.fused_lstm = True
  strategy = distribute.make_strategy('default')
  converter = contract.get_converter(config)
  state = train.TrainState(config, strategy, converter)
  labels = np.resize(window_set.labels, [512, converter.window_steps, 1]).astype(np.int32)
  batch = {'inputs': converter.inputs_from_labels(labels).astype(np.float32), 'labels': labels,
           'lengths': np.full([512], converter.window_steps, np.int32)}
  dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat())
  step_fn, iterator = train.make_train_step(state), iter(dataset)
  for _ in range(2):
    metrics = step_fn(iterator, state.next_seed())
  assert state.step == 2 and np.isfinite(float(metrics['loss']))


def test_learning_rate_follows_the_original_schedule():
  config = tiny_config(learning_rate=1e-3, min_learning_rate=1e-5, decay_rate=0.9999)
  optimizer = train.make_optimizer(config.train)
  schedule = optimizer._learning_rate  # pylint: disable=protected-access
  assert float(schedule(0)) == pytest.approx(1e-3)
  assert float(schedule(10000)) == pytest.approx((1e-3 - 1e-5) * 0.9999**10000 + 1e-5, rel=1e-3)
  assert (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon) == (0.9, 0.999, 1e-8)


def test_fused_adam_updates_like_keras_adam():
  # The fused kernel (the original's too) computes 1 - beta in float32 where Keras computes it in
  # float64 first (1 - beta2 differs by 1e-5 of itself): the updates and the moments (same slots,
  # same checkpoint layout) agree to 1e-4 of their size.
  import tf_keras  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  initial = rng.normal(size=[6, 5]).astype(np.float32)
  gradients = [tf.constant(rng.normal(size=[6, 5]).astype(np.float32)) for _ in range(4)]
  results = []
  for optimizer in (train.FusedAdam(1e-2, epsilon=1e-8, jit_compile=False),
                    tf_keras.optimizers.Adam(1e-2, epsilon=1e-8, jit_compile=False)):
    variable = tf.Variable(initial)
    apply = tf.function(lambda g, o=optimizer, v=variable: o.apply_gradients([(g, v)]))
    for gradient in gradients:
      apply(gradient)
    results.append([variable.numpy()] + [slot.numpy() for slot in optimizer.variables[1:]])
  results[0][0] -= initial
  results[1][0] -= initial
  for fused, keras in zip(*results):
    assert np.abs(keras).max() > 0
    np.testing.assert_allclose(fused, keras, atol=1e-4 * np.abs(keras).max())


# ---------------------------------------------------------------------------------------------
# The loop: checkpoints, summaries, resume, evaluation.


def test_train_and_evaluate_writes_summaries_checkpoints_and_resumes(tmp_path, window_set):
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=6, summary_every=2, log_every=2, image_every=3,
                       checkpoint_every=2, keep_checkpoints=2, eval_every=3, eval_batches=1)
  result = train.train_and_evaluate(config, run_dir, window_set)
  assert result.step == 6 and result.stopped_by is None
  assert result.checkpoint.endswith('ckpt-6')
  # keep_checkpoints=2: only the two newest remain, and the state file names them.
  state = tf.train.get_checkpoint_state(os.path.join(run_dir, 'train'))
  assert [os.path.basename(p) for p in state.all_model_checkpoint_paths] == ['ckpt-4', 'ckpt-6']
  assert not os.path.exists(os.path.join(run_dir, 'train', 'ckpt-2.index'))
  # The run describes itself.
  with open(os.path.join(run_dir, 'config.json')) as f:
    assert json.load(f)['model']['z_size'] == config.model.z_size

  events = read_events(os.path.join(run_dir, 'train'))
  for tag in TRAIN_SCALARS:
    assert tag in events, tag
  assert [step for step, _ in events['loss']] == [0, 2, 4]
  assert float(events['learning_rate'][0][1]) == pytest.approx(config.train.learning_rate)
  assert {'config', 'examples_path', 'images/input_and_reconstruction', 'images/sample'} <= set(
      events)
  image = events['images/input_and_reconstruction'][0][1]
  png = tf.io.decode_png(image[2]).numpy()
  assert png.shape[:2] == (int(image[1]), int(image[0]))
  eval_events = read_events(os.path.join(run_dir, 'eval'))
  decoder_metrics = ('metrics/teacher_forced_accuracy', 'metrics/sampled_note_on_accuracy')
  for tag in train.EVAL_METRICS + train.EVAL_HISTOGRAMS + decoder_metrics:
    assert [step for step, _ in eval_events[tag]] == [3, 6], tag
  # A histogram summary is a [buckets, 3] tensor of (left edge, right edge, count) over z's dims.
  histogram = eval_events['latent/kl_bits_per_dimension'][-1][1]
  assert histogram.shape[1] == 3 and histogram[:, 2].sum() == config.model.z_size
  accuracy = result.eval_metrics['metrics/sampled_accuracy']
  assert 0.0 <= accuracy <= 1.0

  # Resuming continues from step 6 and only trains the missing steps.
  config.train.num_steps = 8
  resumed = train.train_and_evaluate(config, run_dir, window_set)
  assert resumed.step == 8 and resumed.checkpoint.endswith('ckpt-8')
  # Already there: nothing to do.
  again = train.train_and_evaluate(config, run_dir, window_set)
  assert again.step == 8 and again.metrics == {}


def test_restore_brings_back_model_optimizer_step_and_random_state(tmp_path, window_set):
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=3, checkpoint_every=3, eval_every=100, image_every=100)
  prefix = train.train_and_evaluate(config, run_dir, window_set).checkpoint
  saved = checkpoint_values(prefix)
  # Adam's moments are in the checkpoint (Keras keeps them in optimizer/_variables/<n>).
  assert sum(name.startswith('optimizer/_variables/') for name in saved) > 10
  assert any(name.startswith('rng/') for name in saved)

  state = train.TrainState(config, distribute.make_strategy('default'),
                           contract.get_converter(config))
  checkpoints.restore(state.checkpoint, prefix)
  assert state.step == 3
  rewritten = checkpoint_values(state.checkpoint.write(str(tmp_path / 'rewritten' / 'ckpt')))
  assert set(rewritten) == set(saved)
  for name, value in saved.items():
    np.testing.assert_array_equal(rewritten[name], value, err_msg=name)


def test_resuming_the_same_checkpoint_twice_gives_the_same_result(tmp_path, window_set):
  # The data stream is a function of (seed, step) and the step seeds come from the restored
  # generator, so a resumed run is reproducible (test_reliability.py: and exact).
  config = tiny_config(num_steps=2, checkpoint_every=2, eval_every=100, image_every=100)
  train.train_and_evaluate(config, str(tmp_path / 'base'), window_set)
  config.train.num_steps = 4
  results = []
  for name in ('a', 'b'):
    shutil.copytree(tmp_path / 'base', tmp_path / name)
    results.append(checkpoint_values(
        train.train_and_evaluate(config, str(tmp_path / name), window_set).checkpoint))
  assert set(results[0]) == set(results[1])
  for name, value in results[0].items():
    np.testing.assert_array_equal(results[1][name], value, err_msg=name)


def test_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(
    tmp_path, window_set, monkeypatch):
  real_compute_loss = losses.compute_loss

  def nan_from_step_5(model, batch, step, model_config, seed, **kwargs):
    loss, metrics = real_compute_loss(model, batch, step, model_config, seed, **kwargs)
    poison = tf.where(step >= 5, np.nan, 1.0)
    return loss * poison, dict(metrics, loss=metrics['loss'] * poison)

  monkeypatch.setattr(losses, 'compute_loss', nan_from_step_5)
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=10, checkpoint_every=2, eval_every=100, image_every=100)
  with pytest.raises(train.NonFiniteLossError, match='at step 5') as error:
    train.train_and_evaluate(config, run_dir, window_set)
  assert 'ckpt-4' in str(error.value)
  latest = checkpoints.latest_checkpoint(run_dir)
  assert latest.endswith('ckpt-4')
  assert not os.path.exists(os.path.join(run_dir, 'train', 'ckpt-6.index'))
  for name, value in checkpoint_values(latest).items():
    if value.dtype.kind == 'f':
      assert np.all(np.isfinite(value)), name


def test_sigterm_finishes_the_step_saves_and_stops(tmp_path, window_set, monkeypatch):
  real_write_scalars = summaries.write_scalars

  def write_and_signal(writer, step, scalars):
    real_write_scalars(writer, step, scalars)
    if step == 2 and 'global_norm' in scalars:  # a train summary, during step index 2
      os.kill(os.getpid(), signal.SIGTERM)

  monkeypatch.setattr(summaries, 'write_scalars', write_and_signal)
  handler_before = signal.getsignal(signal.SIGTERM)
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=50, summary_every=1, checkpoint_every=100, eval_every=100,
                       image_every=100)
  result = train.train_and_evaluate(config, run_dir, window_set)
  assert result.stopped_by == 'SIGTERM'
  assert result.step == 3  # step index 2 was finished, then the loop stopped
  assert checkpoints.latest_checkpoint(run_dir).endswith('ckpt-3')
  assert signal.getsignal(signal.SIGTERM) is handler_before


def test_time_limit_stops_training_evaluates_and_saves(tmp_path, window_set, monkeypatch, caplog):
  """config.train.max_minutes ends a run after that much training time, with an evaluation and
  a checkpoint of the last step; resuming with the limit lifted continues from there."""
  clock = itertools.count(0, 30)  # every call of time.time() is 30 s later
  monkeypatch.setattr(train.time, 'time', lambda: float(next(clock)))
  # absl's own logger: a program run earlier in the session may have raised its level.
  caplog.set_level('INFO', logger='absl')
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=1000, max_minutes=2.0, checkpoint_every=500, eval_every=500,
                       image_every=500)
  result = train.train_and_evaluate(config, run_dir, window_set)
  assert result.time_limit_reached and result.stopped_by is None
  # The progress lines' ETA is the time limit's, not that of step 1000 at this rate.
  progress = [line for line in (r.getMessage() for r in caplog.records)
              if line.startswith('step ') and 'ETA' in line]
  assert progress and all(line.endswith('(time limit)') or line.endswith('ETA ?')
                          for line in progress), progress
  assert any(line.endswith('(time limit)') for line in progress)
  assert 1 <= result.step < 10
  assert 'metrics/teacher_forced_accuracy' in result.eval_metrics  # evaluated at the stop
  assert checkpoints.latest_checkpoint(run_dir).endswith(f'ckpt-{result.step}')
  monkeypatch.undo()
  config.train.max_minutes = 0.0
  config.train.num_steps = result.step + 2
  again = train.train_and_evaluate(config, run_dir, window_set)
  assert again.step == result.step + 2 and not again.time_limit_reached


def test_checkpoint_of_another_config_names_variables_and_shapes(tmp_path, window_set):
  run_dir = str(tmp_path / 'run')
  config = tiny_config(num_steps=1, eval_every=100, image_every=100)
  train.train_and_evaluate(config, run_dir, window_set)
  other = tiny_config(num_steps=2)
  other.model.z_size = 16
  with pytest.raises(checkpoints.CheckpointMismatchError) as error:
    train.train_and_evaluate(other, run_dir, window_set)
  message = str(error.value)
  assert 'model/mu/kernel' in message and 'checkpoint [64, 8], model [64, 16]' in message
  assert 'model.z_size: 8 -> 16' in message
  # The failed attempt replaced nothing: the run still holds the original config and checkpoint.
  assert checkpoints.load_config(run_dir).model.z_size == 8
  assert checkpoints.latest_checkpoint(run_dir).endswith('ckpt-1')


def test_missing_or_windowless_examples_give_clear_errors(tmp_path):
  config = tiny_config(num_steps=1)
  with pytest.raises(FileNotFoundError, match='does not exist'):
    train.train_and_evaluate(config, str(tmp_path / 'run'), str(tmp_path / 'nowhere'))
  waltzes = write_melody_midis(str(tmp_path / 'waltzes'), num_files=2, numerator=3)
  with pytest.raises(preprocess.NoWindowsError, match='3/4'):
    train.train_and_evaluate(config, str(tmp_path / 'run'), waltzes)


def test_unwritable_run_dir_is_reported(tmp_path, window_set):
  blocker = tmp_path / 'file'
  blocker.write_text('not a directory')
  with pytest.raises(checkpoints.RunDirError, match='run directory .* cannot be created: .* is a file'):
    train.train_and_evaluate(tiny_config(), str(blocker / 'run'), window_set)
  assert not (tmp_path / 'run').exists()
  # Examples that give no window leave no (empty) run directory behind.
  waltzes = write_melody_midis(str(tmp_path / 'waltzes'), num_files=2, numerator=3)
  with pytest.raises(preprocess.NoWindowsError):
    train.train_and_evaluate(tiny_config(), str(tmp_path / 'new_run'), waltzes)
  assert not (tmp_path / 'new_run').exists()


def test_evaluate_reports_both_accuracies_over_every_window(window_set):
  config = tiny_config()
  converter = contract.get_converter(config)
  model = train.build_model(config, converter)
  _, eval_set = input_pipeline.split_by_source(window_set, 0.25)
  labels = eval_set.labels[:5]
  metrics = train.evaluate(model, config, labels, step=0, batch_size=2, converter=converter)
  assert metrics['num_windows'] == 5  # two full batches and a partial one
  assert set(train.EVAL_METRICS) <= set(metrics)
  for name in ('metrics/teacher_forced_accuracy', 'metrics/sampled_accuracy',
               'metrics/teacher_forced_note_on_accuracy', 'metrics/sampled_note_on_accuracy'):
    assert 0.0 <= metrics[name] <= 1.0
  # The per-dimension KL adds up to the total; untrained, every mean is ~0: no active unit.
  per_dimension = metrics['latent/kl_bits_per_dimension']
  assert per_dimension.shape == (config.model.z_size,)
  assert per_dimension.sum() == pytest.approx(metrics['losses/kl_bits'], rel=1e-4)
  assert metrics['latent/active_units'] == 0
  # Untrained, every window's cross-entropy is about T * ln(90).
  assert metrics['losses/r_loss'] == pytest.approx(32 * np.log(90), rel=0.05)


# ---------------------------------------------------------------------------------------------
# Checkpoint files: an interrupted save never replaces the last good checkpoint.


def _manager_with_value(directory, value):
  variable = tf.Variable(tf.fill([1000], float(value)))
  checkpoint = tf.train.Checkpoint(v=variable)
  return variable, checkpoint, tf.train.CheckpointManager(checkpoint, directory, max_to_keep=3)


def test_save_dying_before_the_state_file_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
  directory = str(tmp_path / 'ckpts')
  variable, _, manager = _manager_with_value(directory, 1.0)
  manager.save(checkpoint_number=1)

  def die(*args, **kwargs):
    raise KeyboardInterrupt('killed while recording the checkpoint state')

  # The new checkpoint's files are complete by the time the state file is written; dying there is
  # the latest possible moment of an interrupted save.
  monkeypatch.setattr(checkpoint_management, 'update_checkpoint_state_internal', die)
  variable.assign(tf.fill([1000], 2.0))
  with pytest.raises(KeyboardInterrupt):
    manager.save(checkpoint_number=2)
  monkeypatch.undo()
  assert os.path.exists(os.path.join(directory, 'ckpt-2.index'))
  assert tf.train.latest_checkpoint(directory).endswith('ckpt-1')

  # A half-written later checkpoint (truncated files) is ignored too; resuming saves over it.
  with open(os.path.join(directory, 'ckpt-3.index'), 'wb') as f:
    f.write(b'\x00partial')
  restored, checkpoint, manager = _manager_with_value(directory, 0.0)
  checkpoints.restore(checkpoint, manager.latest_checkpoint)
  assert float(restored[0]) == 1.0
  restored.assign(tf.fill([1000], 3.0))
  manager.save(checkpoint_number=3)
  fresh, checkpoint, _ = _manager_with_value(directory, 0.0)
  checkpoints.restore(checkpoint, tf.train.latest_checkpoint(directory))
  assert float(fresh[0]) == 3.0


_SAVER = textwrap.dedent('''
    import os, sys
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
    import tensorflow as tf
    variable = tf.Variable(tf.zeros([4_000_000]))  # 16 MB per checkpoint: saves take a while
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=variable), sys.argv[1],
                                         max_to_keep=2)
    start = int(sys.argv[2])
    for step in range(start, start + 1000):
      variable.assign(tf.fill([4_000_000], float(step)))
      manager.save(checkpoint_number=step)
      print(step, flush=True)
''')


def test_sigkill_during_saves_never_breaks_the_latest_checkpoint(tmp_path):
  directory = str(tmp_path / 'ckpts')
  script = tmp_path / 'saver.py'
  script.write_text(_SAVER)
  rng = np.random.default_rng(0)
  start = 0
  for _ in range(2):
    process = subprocess.Popen([sys.executable, str(script), directory, str(start)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
      assert process.stdout.readline(), 'the saver died before its first save'
      # Kill at a random moment of the following saves.
      try:
        process.wait(timeout=rng.uniform(0.05, 0.6))
      except subprocess.TimeoutExpired:
        pass
      process.send_signal(signal.SIGKILL)
      process.wait()
    finally:
      process.stdout.close()
    latest = tf.train.latest_checkpoint(directory)
    step = checkpoints.checkpoint_step(latest)
    variable = tf.Variable(tf.zeros([4_000_000]))
    checkpoints.restore(tf.train.Checkpoint(v=variable), latest)
    # The latest checkpoint is complete and consistent with its own number.
    assert float(tf.reduce_min(variable)) == float(tf.reduce_max(variable)) == float(step)
    start = step + 1
