"""A 2-bar model's posterior teaches a 16-bar model's conductor (config.train.conductor_teacher)."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.training import conductor_teacher
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order


def student_config(teacher_dir=''):
  """A tiny 16-bar model of 2-bar segments whose conductor is as wide as tiny-mel_2bar's z (8)."""
  config = config_lib.load_config('tiny-hierdec-mel_16bar')
  config.model.update(encoder='hierarchical', segment_bars=2, conductor_rnn_size=(8,), z_size=16)
  config.train.conductor_teacher = teacher_dir
  return config


def one_hot_windows(num, steps, depth, seed=0):
  rng = np.random.default_rng(seed)
  return tf.one_hot(rng.integers(0, depth, size=(num, steps)), depth)


def test_the_term_is_the_teacher_posteriors_quadratic_form_per_segment(tmp_path):
  """conductor_nats = sum over segments of sum_d (e - mu)^2 / (2 sigma^2) under the teacher's
  posterior of each 2-bar segment on its own; zero at the teacher's means; segments past a
  window's length do not count."""
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  teacher = conductor_teacher.ConductorTeacher(teacher_dir, student_config(teacher_dir))
  inputs = one_hot_windows(3, 256, teacher.converter.input_depth)
  lengths = tf.constant([256, 256, 64])
  mu, sigma, mask = teacher.segment_posterior(inputs, lengths)
  assert mu.shape == sigma.shape == (3, 8, 8)
  np.testing.assert_array_equal(mask.numpy().sum(axis=1), [8, 8, 2])
  # Segment 5 of window 1 is the teacher's posterior of those 32 steps alone.
  alone = teacher.model.posterior(inputs[1:2, 160:192], tf.constant([32]))
  np.testing.assert_allclose(mu[1, 5].numpy(), alone.mean()[0].numpy(), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(teacher.conductor_nats(mu, inputs, lengths).numpy(), 0.0, atol=1e-6)
  embeddings = mu + 0.5 * sigma
  # Each counted segment: 8 dimensions of (0.5)^2 / 2.
  np.testing.assert_allclose(teacher.conductor_nats(embeddings, inputs, lengths).numpy(),
                             [8 * 8 * 0.125, 8 * 8 * 0.125, 2 * 8 * 0.125], rtol=1e-5)


def test_training_with_a_teacher_brings_the_conductor_to_its_codes(tmp_path):
  """The term is in the training loss and its gradient reaches the conductor: over a short run its
  value falls well below where it started, and TensorBoard shows it."""
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  config = student_config(teacher_dir)
  config.train.update(num_steps=40, batch_size=4, learning_rate=1e-2, log_every=1, summary_every=1,
                      image_every=1000, checkpoint_every=1000, eval_every=1000, eval_batches=1,
                      conductor_teacher_weight=10.0)
  midi = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=6, bars=20)
  result = train.train_and_evaluate(config, str(tmp_path / 'run'), midi)
  assert result.step == 40
  values = [float(v) for _, v in
            sorted(helpers.read_events(str(tmp_path / 'run' / 'train'))['losses/conductor_nats'])]
  assert len(values) == 40
  assert np.mean(values[-5:]) < 0.5 * np.mean(values[:5]), values


def test_a_teacher_that_cannot_teach_is_refused_with_its_reasons(tmp_path):
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  config = student_config(teacher_dir)
  config.model.conductor_rnn_size = (12,)
  config.model.segment_bars = 1
  with pytest.raises(ValueError, match=r'cannot teach this model: its windows are 2 bars, the '
                     r"model's segments 1 .*its z has 8 dimensions, the conductor's embedding 12"):
    conductor_teacher.ConductorTeacher(teacher_dir, config)
  chords_dir = helpers.make_untrained_run_dir(str(tmp_path / 'chords'), 'tiny-mel_2bar_chords')
  with pytest.raises(ValueError, match=r'its encoder reads \d+ values per step, the model.s 90'):
    conductor_teacher.ConductorTeacher(chords_dir, student_config(chords_dir))
  flat = config_lib.load_config('tiny-mel_2bar')
  flat.train.conductor_teacher = teacher_dir
  with pytest.raises(ValueError, match='no conductor'):
    conductor_teacher.from_config(flat)



def test_a_missing_teacher_is_named_before_the_run_directory_is_made(tmp_path):
  config = student_config(str(tmp_path / 'no_such_run'))
  midi = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=2, bars=20)
  with pytest.raises(ValueError, match=r'config.train.conductor_teacher=.*no_such_run: No run '
                     r'directory or checkpoint'):
    train.train_and_evaluate(config, str(tmp_path / 'run'), midi)
  assert not (tmp_path / 'run').exists()
