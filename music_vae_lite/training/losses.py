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

from music_vae_lite.training import schedules

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


def per_dimension_kl(posterior):
  """KL(q(z_d|x) || N(0, 1)) per dimension [B, Z], nats (sums to the total KL)."""
  return tfd.kl_divergence(tfd.Normal(posterior.mean(), posterior.stddev()), tfd.Normal(0.0, 1.0))


def compute_loss(model, batch, step, model_config, seed, sampling_probability=None, fused=False,
                 compute_dtype=tf.float32, with_weights=False, training=False,
                 conductor_teacher=None):
  """Loss and metrics for one batch, averaged over it.

  Args:
    model: a `models.MusicVAE`.
    batch: a batch of input_pipeline.make_dataset: 'inputs' [B, T, D], 'lengths' [B], the family's
      target arrays (e.g. 'labels' [B, T, P]) and 'controls' for a conditioned model.
    step: the global step (drives beta and the sampling schedule).
    model_config: `config.model`.
    seed: a stateless seed [2] for z and scheduled sampling.
    sampling_probability: overrides the schedule (eval: 0 = teacher forced, 1 = free running).
    with_weights: also return each figure's weight in a mean over batches: the batch's windows
      for the loss terms, the decoder's own weight for its metrics.
    training: a training step: the model's dropout (config.model.dropout_keep_prob) applies,
      from seeds folded out of `seed` (z and the decoder's seeds stay what they are without).
    conductor_teacher: a `conductor_teacher.ConductorTeacher`: its term joins the loss (training
      only; reported as losses/conductor_nats, and left out of the ELBO's terms).
  Returns:
    (loss, {name: scalar}) with the TensorBoard names, or (loss, scalars, weights): the loss
    terms, and `metrics/<name>` for every metric the decoder reports (decoders/base.py).
  """
  z_seed, decoder_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  # Dropout seeds only where they are used: models and decoders without dropout never see one.
  encoder_dropout, decoder_dropout = {}, {}
  if training and getattr(model, 'dropout_keep_prob', 1.0) < 1.0:
    encoder_seed, decoder_seed_for_dropout = tf.unstack(tf.random.experimental.stateless_split(
        tf.random.experimental.stateless_fold_in(seed, 1), 2))
    encoder_dropout = {'dropout_seed': encoder_seed}
    decoder_dropout = {'dropout_seed': decoder_seed_for_dropout}
  targets = model.family.targets(batch)
  lengths = tf.cast(batch['lengths'], tf.int32)
  controls = batch.get('controls')
  posterior = model.posterior(batch['inputs'], lengths, fused, compute_dtype, **encoder_dropout)
  # Reparameterised: z = mu + sigma * eps, so gradients reach the encoder.
  z = posterior.mean() + posterior.stddev() * tf.random.stateless_normal(
      tf.shape(posterior.mean()), z_seed)
  if sampling_probability is None:
    sampling_probability = schedules.sampling_probability(step, model_config)
  outputs = model.decoder.reconstruct(z, targets, sampling_probability, controls,
                                      seed=decoder_seed, fused=fused,
                                      compute_dtype=compute_dtype, **decoder_dropout)
  r_loss, decoder_metrics = model.decoder.reconstruction_loss(outputs, targets, lengths)
  kl, kl_clipped = kl_cost(posterior, model_config)
  beta = schedules.beta(step, model_config)
  loss = tf.reduce_mean(r_loss) + beta * tf.reduce_mean(kl_clipped)
  num_steps = tf.cast(tf.reduce_sum(lengths), tf.float32)
  extra = {}
  if conductor_teacher is not None:
    conductor_nats = tf.reduce_mean(conductor_teacher.conductor_nats(
        model.decoder.bar_embeddings(z, fused, compute_dtype), batch['inputs'], lengths, fused))
    loss += conductor_teacher.weight * conductor_nats
    extra['losses/conductor_nats'] = conductor_nats
  metrics = {
      'loss': loss,
      'losses/r_loss': tf.reduce_mean(r_loss),
      'losses/r_loss_per_step': tf.reduce_sum(r_loss) / num_steps,
      'losses/kl_loss': tf.reduce_mean(kl_clipped),
      'losses/kl_nats': tf.reduce_mean(kl),
      'losses/kl_bits': tf.reduce_mean(kl) / LN2,
      'losses/kl_beta': tf.convert_to_tensor(beta, tf.float32),
      'sampling_probability': tf.convert_to_tensor(sampling_probability, tf.float32),
  }
  metrics.update(extra)
  metrics.update({f'metrics/{name}': metric.value for name, metric in decoder_metrics.items()})
  if not with_weights:
    return loss, metrics
  windows = tf.cast(tf.shape(r_loss)[0], tf.float32)
  weights = {name: windows for name in metrics}
  weights.update({f'metrics/{name}': metric.weight for name, metric in decoder_metrics.items()})
  return loss, metrics, weights
