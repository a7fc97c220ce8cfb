"""The objective and its schedules, against closed forms and the original's published values."""
import math

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from music_vae_lite import config_lib
from music_vae_lite.families import drums
from music_vae_lite.families import label_windows
from music_vae_lite.families import melody
from music_vae_lite.nn import models
from music_vae_lite.nn.decoders import categorical
from music_vae_lite.training import losses, schedules

tfd = tfp.distributions


def _model_config(**overrides):
  config = config_lib.load_config('tiny-mel_2bar').model
  config.update(overrides)
  return config


def _posterior(mu, sigma):
  return tfd.MultivariateNormalDiag(loc=tf.constant(mu, tf.float32), scale_diag=tf.constant(sigma, tf.float32))


MU = [[0.5, -0.5, 2.0], [0.0, 0.0, 0.0]]
SIGMA = [[0.3, 1.5, 0.9], [1.0, 1.0, 1.0]]


def _closed_form_kl(mu, sigma):
  mu, sigma = np.array(mu), np.array(sigma)
  return 0.5 * np.sum(mu ** 2 + sigma ** 2 - 1.0 - 2.0 * np.log(sigma), axis=-1)


def test_kl_equals_closed_form_for_diagonal_gaussians():
  kl, _ = losses.kl_cost(_posterior(MU, SIGMA), _model_config(free_bits=0.0, z_size=3))
  np.testing.assert_allclose(kl.numpy(), _closed_form_kl(MU, SIGMA), rtol=1e-5)
  assert kl.numpy()[1] == pytest.approx(0.0, abs=1e-6)  # q = p gives zero


def test_free_bits_clip_the_total_kl_by_default():
  free_bits = 2.0
  kl, cost = losses.kl_cost(_posterior(MU, SIGMA), _model_config(free_bits=free_bits, z_size=3))
  expected = np.maximum(_closed_form_kl(MU, SIGMA) - free_bits * math.log(2), 0.0)
  np.testing.assert_allclose(cost.numpy(), expected, rtol=1e-5)
  assert cost.numpy()[1] == 0.0 and kl.numpy()[0] > cost.numpy()[0] > 0


def test_free_bits_per_dimension_variant_clips_each_dimension():
  free_bits = 3.0  # 1 bit per dimension for z_size 3
  _, cost = losses.kl_cost(_posterior(MU, SIGMA),
                           _model_config(free_bits=free_bits, z_size=3, free_bits_per_dim=True))
  mu, sigma = np.array(MU), np.array(SIGMA)
  per_dim = 0.5 * (mu ** 2 + sigma ** 2 - 1.0 - 2.0 * np.log(sigma))
  expected = np.maximum(per_dim - math.log(2), 0.0).sum(-1)
  np.testing.assert_allclose(cost.numpy(), expected, rtol=1e-5)
  total = np.maximum(per_dim.sum(-1) - free_bits * math.log(2), 0.0)
  assert not np.allclose(expected, total)  # the two variants really differ


def test_beta_schedule_matches_the_original():
  config = _model_config(max_beta=0.2, beta_rate=0.99999)
  for step, fraction in [(10_000, 0.095), (50_000, 0.394), (100_000, 0.632), (200_000, 0.865)]:
    assert float(schedules.beta(step, config)) == pytest.approx(0.2 * fraction, abs=2e-4)
  constant = _model_config(max_beta=0.5, beta_rate=0.0)
  assert float(schedules.beta(0, constant)) == 0.0  # 0^0 = 1
  assert float(schedules.beta(1, constant)) == 0.5


def test_learning_rate_schedule_matches_the_original():
  train = config_lib.load_config('cat-mel_2bar_small').train
  for step, lr in [(0, 1e-3), (1000, 9.06e-4), (10_000, 3.74e-4), (50_000, 1.67e-5), (100_000, 1.0e-5)]:
    assert float(schedules.learning_rate(step, train)) == pytest.approx(lr, rel=5e-3)
  exact = (1e-3 - 1e-5) * 0.9999 ** 30_000 + 1e-5
  assert float(schedules.learning_rate(30_000, train)) == pytest.approx(exact, rel=1e-6)


def test_sampling_schedules():
  inv = _model_config(sampling_schedule='inverse_sigmoid', sampling_rate=1000.0)
  for step, p in [(0, 0.001), (1000, 0.0027), (6908, 0.5), (10_000, 0.957)]:
    assert float(schedules.sampling_probability(step, inv)) == pytest.approx(p, abs=5e-4)  # reference values are rounded
  assert float(schedules.sampling_probability(10 ** 7, inv)) == 1.0  # finite, no overflow
  exp = _model_config(sampling_schedule='exponential', sampling_rate=0.99)
  assert float(schedules.sampling_probability(100, exp)) == pytest.approx(1 - 0.99 ** 100, rel=1e-5)
  assert schedules.sampling_probability(5, _model_config()) == 0.0  # teacher forcing, static
  with pytest.raises(ValueError, match='sampling_rate'):
    schedules.sampling_probability(0, _model_config(sampling_schedule='constant', sampling_rate=2.0))
  with pytest.raises(ValueError, match='Unknown sampling_schedule'):
    schedules.sampling_probability(0, _model_config(sampling_schedule='linear'))


def _batch(batch_size=4, num_steps=32, depth=90, seed=0):
  labels = tf.random.stateless_uniform([batch_size, num_steps, 1], [seed, 1], 0, depth, tf.int32)
  return {'inputs': tf.one_hot(labels[..., 0], depth), 'labels': labels,
          'lengths': tf.fill([batch_size], num_steps)}


def _melody_model(config):
  return models.MusicVAE(config, melody.MelodyConverter(slice_bars=2))


class _Trio(label_windows.LabelConverter):
  encoding = 'test_trio'
  parts = (melody.MELODY_PART, melody.MelodyPart('bass', 1, 33), drums.DrumPart('drums', 9, 0))


def _decoder(family):
  """A flat categorical decoder of a family (tiny sizes)."""
  return categorical.FlatDecoder(family, [8], 3, tf.constant([0, 0], tf.int64))


def test_loss_combines_terms_exactly_and_reports_kl_in_nats_and_bits():
  config = _model_config(free_bits=1.0, max_beta=0.7, beta_rate=0.5)
  model = _melody_model(config)
  loss, metrics = losses.compute_loss(model, _batch(), 3, config, tf.constant([1, 2], tf.int64))
  beta = 0.7 * (1 - 0.5 ** 3)
  assert float(metrics['losses/kl_beta']) == pytest.approx(beta, rel=1e-6)
  assert float(loss) == pytest.approx(
      float(metrics['losses/r_loss']) + beta * float(metrics['losses/kl_loss']), rel=1e-6)
  assert float(metrics['losses/kl_bits']) * math.log(2) == pytest.approx(float(metrics['losses/kl_nats']), rel=1e-6)
  # r_loss is a per-sequence sum over steps: about T * ln(V) for an untrained model.
  assert float(metrics['losses/r_loss']) == pytest.approx(32 * math.log(90), rel=0.1)
  assert float(metrics['losses/r_loss_per_step']) * 32 == pytest.approx(float(metrics['losses/r_loss']), rel=1e-5)


def test_reconstruction_loss_ignores_padding_and_sums_the_parts():
  decoder = _decoder(_Trio(slice_bars=1, max_windows_per_sequence=None))
  logits = tf.random.stateless_normal([2, 5, 692], [3, 4])
  labels = tf.constant([[[1, 2, 0], [2, 3, 1], [3, 4, 5], [4, 5, 0], [5, 6, 511]],
                        [[1, 0, 3], [2, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]])
  r_loss, metrics = decoder.reconstruction_loss(logits, labels, tf.constant([5, 2]))
  xent = sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., k], logits=part)
             for k, part in enumerate(tf.split(logits, [90, 90, 512], axis=-1))).numpy()
  np.testing.assert_allclose(r_loss.numpy(), [xent[0].sum(), xent[1, :2].sum()], rtol=1e-6)
  argmax = [tf.argmax(part, -1) for part in tf.split(logits, [90, 90, 512], axis=-1)]
  correct = np.stack([(a.numpy() == labels.numpy()[..., k]) for k, a in enumerate(argmax)], -1)
  valid = np.array([[1] * 5, [1, 1, 0, 0, 0]], bool)[..., None]
  # Accuracy counts the valid steps of every part, weighted by windows.
  assert float(metrics['accuracy'].value) == pytest.approx((correct & valid).sum() / (7 * 3))
  assert float(metrics['accuracy'].weight) == 2
  # Note-on steps per part: melody-kind labels >= 2, drum labels >= 1, on valid steps only; they
  # weight the note-on accuracy.
  note_on = (labels.numpy() >= [2, 2, 1]) & valid
  assert float(metrics['note_on_accuracy'].weight) == note_on.sum()
  assert float(metrics['note_on_accuracy/drums'].weight) == note_on[..., 2].sum() == 4
  assert float(metrics['accuracy/bass'].value) == pytest.approx(
      (correct & valid)[..., 1].sum() / 7)


def test_eager_and_tf_function_give_the_same_loss():
  config = _model_config(sampling_schedule='constant', sampling_rate=0.5)
  model = _melody_model(config)
  batch, seed = _batch(), tf.constant([5, 6], tf.int64)
  eager, _ = losses.compute_loss(model, batch, 10, config, seed)
  graph, _ = tf.function(lambda b, s: losses.compute_loss(model, b, 10, config, s))(batch, seed)
  assert float(eager) == pytest.approx(float(graph), rel=1e-5)


def test_note_on_mask_and_accuracy_count_only_steps_that_start_a_note():
  class AlwaysNoEvent(categorical.FlatDecoder):  # predicts label 0 (no event) everywhere
    def reconstruct(self, z, labels, sampling_probability, controls=None, **kwargs):
      return tf.one_hot(tf.zeros_like(labels[..., 0]), 90) * 10.0

  class Fixed(tf.Module):
    output_depth = 90
    z_size = 3
    family = melody.MelodyConverter(slice_bars=1)
    decoder = AlwaysNoEvent(family, [8], 3, tf.constant([0, 0], tf.int64))

    def posterior(self, inputs, lengths, fused, dtype):
      return _posterior([[0.0, 0.0, 0.0]] * 2, [[1.0, 1.0, 1.0]] * 2)

  labels = np.array([[0, 0, 30, 1], [0, 40, 0, 0]], np.int32)[..., None]
  batch = {'inputs': tf.zeros([2, 4, 90]), 'labels': labels, 'lengths': np.array([4, 4], np.int32)}
  _, metrics = losses.compute_loss(Fixed(), batch, 0, _model_config(z_size=3), tf.constant([0, 0]),
                                   sampling_probability=0.0)
  assert float(metrics['metrics/accuracy']) == pytest.approx(5 / 8)
  assert float(metrics['metrics/note_on_accuracy']) == 0.0  # no note start predicted
