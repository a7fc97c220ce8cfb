"""The MusicVAE objective: reconstruction cross-entropy plus a beta-weighted, free-bits-clipped KL.

    r_loss    = sum over valid steps of -log p(x_t | x_<t, z)       [B], nats
    kl        = KL(q(z|x) || N(0, I))                              [B], nats
    free_nats = free_bits * ln 2
    kl_cost   = max(kl - free_nats, 0)                             [B]
    loss      = mean(r_loss) + beta(step) * mean(kl_cost)

`loss` is the negative ELBO when beta = 1 and free_bits = 0. Like the original, free bits clip the
*total* KL of z by default (its docs say "per dimension", its code clips the sum). With
`free_bits_per_dim=True` each dimension's KL is clipped at free_nats / z_size instead, so both variants
leave the same total budget unpenalised.
"""
import math

import tensorflow as tf
import tensorflow_probability as tfp

from music_vae_lite import converters
from music_vae_lite import schedules

tfd = tfp.distributions
LN2 = math.log(2.0)


def kl_cost(posterior, model_config):
  """(raw KL [B], clipped KL cost [B]), both in nats."""
  prior = tfd.MultivariateNormalDiag(loc=tf.zeros_like(posterior.mean()),
                                     scale_diag=tf.ones_like(posterior.mean()))
  kl = tfd.kl_divergence(posterior, prior)
  free_nats = model_config.free_bits * LN2
  if not model_config.free_bits_per_dim:
    return kl, tf.maximum(kl - free_nats, 0.0)
  per_dim = per_dimension_kl(posterior)
  return kl, tf.reduce_sum(tf.maximum(per_dim - free_nats / model_config.z_size, 0.0), axis=-1)


def reconstruction_loss(logits, labels, lengths):
  """(r_loss [B]: summed cross-entropy over valid steps in nats, correct predictions mask, step mask)."""
  mask = tf.sequence_mask(lengths, tf.shape(labels)[1], dtype=tf.float32)
  xent = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
  correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
  return tf.reduce_sum(xent * mask, axis=1), correct * mask, mask


def note_on_mask(labels, output_depth):
  """1.0 where the target starts a note: melody labels >= 2 (0 is no event, 1 note off); drums any
  label > 0 (at least one hit). Accuracy on these steps alone shows whether the model predicts
  notes, which "always no event" (right on most steps of a melody) cannot."""
  melody = output_depth == converters.MelodyConverter.output_depth
  first = converters.MELODY_NOTE_OFF + 1 if melody else 1
  return tf.cast(labels >= first, tf.float32)


def per_dimension_kl(posterior):
  """KL(q(z_d|x) || N(0, 1)) per dimension [B, Z], nats (sums to the total KL)."""
  return tfd.kl_divergence(tfd.Normal(posterior.mean(), posterior.stddev()), tfd.Normal(0.0, 1.0))


def compute_loss(model, batch, step, model_config, seed, sampling_probability=None, fused=False,
                 compute_dtype=tf.float32):
  """Loss and metrics for one batch, averaged over it.

  Args:
    model: a `models.MusicVAE`.
    batch: {'inputs' [B, T, D], 'labels' [B, T], 'lengths' [B]}.
    step: the global step (drives beta and the sampling schedule).
    model_config: `config.model`.
    seed: a stateless seed [2] for z and scheduled sampling.
    sampling_probability: overrides the schedule (eval: 0 = teacher forced, 1 = free running).
  Returns:
    (loss, {name: scalar}) with the TensorBoard names.
  """
  z_seed, decoder_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  labels = tf.cast(batch['labels'], tf.int32)
  lengths = tf.cast(batch['lengths'], tf.int32)
  posterior = model.posterior(batch['inputs'], lengths, fused, compute_dtype)
  # Reparameterised: z = mu + sigma * eps, so gradients reach the encoder.
  z = posterior.mean() + posterior.stddev() * tf.random.stateless_normal(
      tf.shape(posterior.mean()), z_seed)
  if sampling_probability is None:
    sampling_probability = schedules.sampling_probability(step, model_config)
  logits = model.decoder.reconstruct(z, labels, sampling_probability, seed=decoder_seed, fused=fused,
                                     compute_dtype=compute_dtype)
  r_loss, correct, mask = reconstruction_loss(logits, labels, lengths)
  kl, kl_clipped = kl_cost(posterior, model_config)
  note_on = note_on_mask(labels, model.output_depth) * mask
  beta = schedules.beta(step, model_config)
  loss = tf.reduce_mean(r_loss) + beta * tf.reduce_mean(kl_clipped)
  metrics = {
      'loss': loss,
      'losses/r_loss': tf.reduce_mean(r_loss),
      'losses/r_loss_per_step': tf.reduce_sum(r_loss) / tf.reduce_sum(mask),
      'losses/kl_loss': tf.reduce_mean(kl_clipped),
      'losses/kl_nats': tf.reduce_mean(kl),
      'losses/kl_bits': tf.reduce_mean(kl) / LN2,
      'losses/kl_beta': tf.convert_to_tensor(beta, tf.float32),
      'sampling_probability': tf.convert_to_tensor(sampling_probability, tf.float32),
      'metrics/accuracy': tf.reduce_sum(correct) / tf.reduce_sum(mask),
      # 0 for a batch without any note on (evaluation weights batches by their note-on steps).
      'metrics/note_on_accuracy': tf.math.divide_no_nan(tf.reduce_sum(correct * note_on),
                                                        tf.reduce_sum(note_on)),
  }
  return loss, metrics
