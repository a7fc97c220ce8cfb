"""Schedules on the global step: learning rate, KL weight beta, scheduled-sampling probability.

All are the original's formulas (reference section 2); each takes the step as a number or tensor.
"""
import tensorflow as tf


def _float(step):
  return tf.cast(step, tf.float32)


def learning_rate(step, train_config):
  """lr = (lr0 - lr_min) * decay^step + lr_min (the power in float64: float32 drifts at large steps)."""
  c = train_config
  decay = tf.pow(tf.constant(c.decay_rate, tf.float64), tf.cast(step, tf.float64))
  return tf.cast((c.learning_rate - c.min_learning_rate) * decay + c.min_learning_rate, tf.float32)


def beta(step, model_config):
  """beta = (1 - beta_rate^step) * max_beta: 0 at step 0 even when beta_rate = 0 (0^0 = 1)."""
  c = model_config
  return (1.0 - tf.pow(c.beta_rate, _float(step))) * c.max_beta


def sampling_probability(step, model_config):
  """Probability that a decoder step feeds back its own sample instead of the true token.

  constant: p = rate; exponential: p = 1 - rate^step; inverse_sigmoid: p = 1 - k / (k + exp(step/k)),
  k = rate. A constant 0 returns the Python number 0, so the model builds pure teacher forcing.
  """
  c = model_config
  if c.sampling_schedule == 'constant':
    if not 0 <= c.sampling_rate <= 1:
      raise ValueError(f'constant sampling_rate must be in [0, 1], not {c.sampling_rate}.')
    return 0.0 if c.sampling_rate == 0 else tf.constant(c.sampling_rate, tf.float32)
  if c.sampling_schedule == 'exponential':
    if not 0 < c.sampling_rate < 1:
      raise ValueError(f'exponential sampling_rate must be in (0, 1), not {c.sampling_rate}.')
    return 1.0 - tf.pow(c.sampling_rate, _float(step))
  if c.sampling_schedule == 'inverse_sigmoid':
    if c.sampling_rate < 1:
      raise ValueError(f'inverse_sigmoid sampling_rate must be >= 1, not {c.sampling_rate}.')
    k = c.sampling_rate
    # Written as a sigmoid to stay finite for large steps: 1 - k/(k + e^(s/k)) = sigmoid(s/k - ln k).
    return tf.sigmoid(_float(step) / k - tf.math.log(k))
  raise ValueError(f"Unknown sampling_schedule {c.sampling_schedule!r}: use 'constant', "
                   "'exponential' or 'inverse_sigmoid'.")
