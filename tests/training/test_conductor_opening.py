"""The conductor's opening (config.train.conductor_opening_steps): the top of a hierarchical model
learns from its teacher's codes alone before joint training."""
import itertools
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.nn import model_registry
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import conductor_opening
from music_vae_lite.training import conductor_teacher
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order

# The parts the opening trains; every other variable stays as it was.
TRAINED = ('encoder/hierarchical_level_1/', '/mu/', '/sigma/', 'hierarchical_decoder/conductor')


def student_config(teacher_dir=''):
  """A tiny 16-bar model of 2-bar segments, a hierarchical encoder, and a conductor 12 wide whose
  linear projection gives embeddings as wide as tiny-mel_2bar's z (8)."""
  config = config_lib.load_config('tiny-hierdec-mel_16bar')
  config.model.update(encoder='hierarchical', segment_bars=2, conductor_rnn_size=(12,),
                      z_size=16)
  config.decoder.conductor_projection = 8
  config.train.conductor_teacher = teacher_dir
  return config


def variables_by_name(model):
  return {v.name: v.numpy() for v in model.trainable_variables}


def test_the_opening_trains_only_the_top_toward_the_teachers_codes_and_runs_once(tmp_path):
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  config = student_config(teacher_dir)
  config.train.update(num_steps=1, batch_size=4, log_every=1, summary_every=1, image_every=1000,
                      checkpoint_every=1000, eval_every=1000, eval_batches=1,
                      conductor_opening_steps=60, conductor_opening_batch_size=8,
                      conductor_opening_learning_rate=1e-2)
  midi = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=6, bars=20)
  run_dir = str(tmp_path / 'run')
  assert train.train_and_evaluate(config, run_dir, midi).step == 1

  events = helpers.read_events(os.path.join(run_dir, 'train'))
  nats = [float(v) for _, v in sorted(events['opening/conductor_nats'])]
  assert len(nats) == 60 and len(events['opening/kl_bits']) == 60
  assert np.mean(nats[-5:]) < 0.5 * np.mean(nats[:5]), nats
  # The held-out windows' figure, at the same steps, in the eval writer.
  held_out = [float(v) for _, v in sorted(
      helpers.read_events(os.path.join(run_dir, 'eval'))['opening/conductor_nats'])]
  assert len(held_out) == 60 and all(np.isfinite(held_out)) and held_out[-1] < held_out[0]

  # ckpt-0, saved right after the opening, against the same model untrained (same seed).
  initial = variables_by_name(model_registry.build_model(config))
  opened_model = model_registry.build_model(config)
  checkpoints.restore_model(opened_model, os.path.join(run_dir, 'train', 'ckpt-0'))
  opened = variables_by_name(opened_model)
  assert set(opened) == set(initial)
  for name, value in initial.items():
    changed = not np.array_equal(opened[name], value)
    assert changed == any(part in name for part in TRAINED), name

  # A resumed run goes on with joint training; the opening is not run again.
  config.train.num_steps = 3
  assert train.train_and_evaluate(config, run_dir, midi).step == 3
  events = helpers.read_events(os.path.join(run_dir, 'train'))
  assert len(events['opening/conductor_nats']) == 60


def test_each_distinct_segment_is_encoded_once_and_indexed_by_its_windows(tmp_path):
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  config = student_config(teacher_dir)
  teacher = conductor_teacher.ConductorTeacher(teacher_dir, config)
  model = model_registry.build_model(config)
  converter = contract.get_converter(config)
  rng = np.random.default_rng(0)
  segments = rng.integers(0, 90, size=(5, 32))  # 5 distinct 2-bar segments
  order = np.array([[0, 1, 2, 3, 4, 0, 1, 2], [1, 2, 3, 4, 0, 1, 2, 3], [4, 4, 4, 4, 4, 4, 4, 4]])
  labels = segments[order].reshape(3, 256, 1).astype(np.int32)
  window_set = preprocess.WindowSet({'labels': labels}, np.zeros(3, np.int32), ['a.mid'],
                                    'melody', 16, {})
  encodings, mu, sigma, mask, index = conductor_opening._segment_codes(  # pylint: disable=protected-access
      model, teacher, window_set, converter)
  assert encodings.shape[0] == mu.shape[0] == sigma.shape[0] == 5
  np.testing.assert_array_equal(mask, 1.0)
  inputs = converter.encoder_inputs({'labels': labels})
  for n in range(3):
    for u in range(8):
      segment = inputs[n:n + 1, 32 * u:32 * (u + 1)]
      posterior = teacher.model.posterior(segment, tf.constant([32]))
      np.testing.assert_allclose(mu[index[n, u]], posterior.mean()[0], rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(sigma[index[n, u]], posterior.stddev()[0], rtol=1e-5)
      np.testing.assert_allclose(encodings[index[n, u]],
                                 model.encoder.levels[0](segment, tf.constant([32]))[0],
                                 rtol=1e-5, atol=1e-6)
  assert len(set(index[2])) == 1 and index[0, 0] == index[1, 4]


def test_an_opening_that_cannot_run_is_refused_before_the_run_directory_is_made(tmp_path):
  midi = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=2, bars=20)
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  no_teacher = student_config()
  no_teacher.train.conductor_opening_steps = 10
  with pytest.raises(ValueError, match=r'conductor_opening_steps=10 needs a teacher'):
    train.train_and_evaluate(no_teacher, str(tmp_path / 'run'), midi)
  flat_encoder = student_config(teacher_dir)
  flat_encoder.model.encoder = 'bidirectional'
  flat_encoder.train.conductor_opening_steps = 10
  with pytest.raises(ValueError, match=r'needs a hierarchical encoder'):
    train.train_and_evaluate(flat_encoder, str(tmp_path / 'run'), midi)
  assert not (tmp_path / 'run').exists()


def test_the_time_limit_counts_the_opening(tmp_path, monkeypatch):
  """config.train.max_minutes covers the opening and the steps after it: an opening longer than
  the limit stops at it, and the run then ends after its first joint step."""
  teacher_dir = helpers.make_untrained_run_dir(str(tmp_path / 'teacher'), 'tiny-mel_2bar')
  config = student_config(teacher_dir)
  config.train.update(num_steps=1000, batch_size=4, log_every=1, summary_every=1, max_minutes=30.0,
                      image_every=1000, checkpoint_every=1000, eval_every=1000, eval_batches=1,
                      conductor_opening_steps=1000, conductor_opening_batch_size=8)
  midi = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=6, bars=20)
  clock = itertools.count(0, 30)  # every call of time.time() is 30 s later
  monkeypatch.setattr(train.time, 'time', lambda: float(next(clock)))
  run_dir = str(tmp_path / 'run')
  result = train.train_and_evaluate(config, run_dir, midi)
  monkeypatch.undo()
  assert result.time_limit_reached and result.step == 1
  opening_steps = len(helpers.read_events(os.path.join(run_dir, 'train'))['opening/kl_bits'])
  assert 1 <= opening_steps < 100  # (each step reads the clock a few times: logging too)
