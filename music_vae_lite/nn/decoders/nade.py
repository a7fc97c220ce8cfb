"""The NADE decoder p(x|z): an LSTM whose output layer is an RNN-NADE over the bits of a step (the
original's MultiLabelRnnNadeDecoder), for families of multi-hot windows such as drum rolls
(families/drum_roll.py: roll uint8 [B, T, D], D = 9 or 61 drum classes).

A NADE (neural autoregressive distribution estimator, Larochelle & Murray 2011; its RNN form,
Boulanger-Lewandowski et al. 2012) writes the D bits of one step one after another, each
conditioned on the bits before it, so the drums of a step are predicted jointly:

    a_0 = b_enc;   p(x_d = 1 | x_<d) = sigmoid(b_dec[d] + sigmoid(a_d) . W_dec[d]);
    a_{d+1} = a_d + x_d W_enc[d]

with weights W_enc, W_dec [D, H] shared by every step (`decoder/nade/w_enc` [D, 1, H] and
`decoder/nade/w_dec_t` [D, H, 1] in the original's checkpoints) and biases b_enc [H], b_dec [D]
that the LSTM gives at every step: its output projection is H + D wide, [b_enc, b_dec] (the
original's `decoder/output_projection`). H is `config.decoder.nade_num_hidden` (128 in the
original's configs).

It implements the decoder contract (base.py):
- outputs [B, T, H + D]: the projection, the NADE's biases per step.
- loss: the exact -log p(x_t | x_<t, z) of each step's bits, a sum of D Bernoulli log-likelihoods
  (in nats; the conditionals of all D bits come at once from a cumulative sum), summed over the
  valid steps (r_loss [B]).
- metrics (weighted by the valid steps; recall by the true bits, precision by the predicted
  ones): `accuracy` (every bit of a step right), `recall`, `precision`, the predicted bit being
  p(x_d = 1 | the true x_<d) >= 0.5, as the original's.
- sample: bit by bit, x_d ~ Bernoulli(sigmoid(logit_d / temperature)); at temperature 0
  x_d = [p >= 0.5], the original's sampling without a temperature. The sampled vector is the
  next step's input.

The LSTM is vector_lstm.VectorLstm (its loop is the groove decoder's too): the step input is
[previous step's bits (zeros at t = 0); z; controls], z sets the initial state of every layer;
variables are named as the original's flat decoder's (`decoder/...`) plus the NADE's. Scheduled sampling runs as in the other decoders (a
pass without gradients decides what each step is fed, then one teacher-forced pass); like the
original, the bits it feeds back are the NADE's at temperature 0 (the original's `_sample`
without a temperature).

Where we differ from the original: the log-likelihood is exact, log sigmoid(+-logit); the
original takes log(p + 1e-6) and log(1 - p + 1e-6), which differs by up to 1e-6 / p per bit
(tests/families/test_nade.py measures the effect on the original's fixture).
"""
import math

import tensorflow as tf

from music_vae_lite.nn import lstm
from music_vae_lite.nn.decoders import base
from music_vae_lite.nn.decoders import vector_lstm


class Nade(tf.Module):
  """The NADE's weights and its two computations: the conditionals of given bits, and sampling.

  Its biases are given per example (the LSTM's outputs): b_enc [..., H], b_dec [..., D].
  Initial weights as the original's: truncated normal, stddev 1 / sqrt(D).
  """

  def __init__(self, num_dims, num_hidden, seed, name='nade'):
    super().__init__(name=name)
    self.num_dims, self.num_hidden = int(num_dims), int(num_hidden)
    seeds = lstm.split_seeds(seed, 2)
    stddev = 1.0 / math.sqrt(self.num_dims)

    def initial(shape, seed):
      return lambda: tf.random.stateless_truncated_normal(shape, seed, stddev=stddev)

    with self.name_scope:
      shape_enc, shape_dec = [self.num_dims, 1, self.num_hidden], [self.num_dims,
                                                                    self.num_hidden, 1]
      # Callable initial values, so that an importer can skip computing them (magenta_checkpoint).
      self.w_enc = tf.Variable(initial(shape_enc, seeds[0]), shape=shape_enc, name='w_enc')
      self.w_dec_t = tf.Variable(initial(shape_dec, seeds[1]), shape=shape_dec, name='w_dec_t')

  def conditional_logits(self, x, b_enc, b_dec):
    """The logit of p(x_d = 1 | x_<d) for every bit d of x [..., D] (float32): [..., D].

    a_d = b_enc + sum_{j<d} x_j W_enc[j] for every d at once, by an exclusive cumulative sum."""
    contributions = x[..., tf.newaxis] * self.w_enc[:, 0]  # [..., D, H]
    hidden = b_enc[..., tf.newaxis, :] + tf.cumsum(contributions, axis=-2, exclusive=True)
    return b_dec + tf.reduce_sum(tf.sigmoid(hidden) * self.w_dec_t[..., 0], axis=-1)

  def log_prob(self, x, b_enc, b_dec):
    """log p(x) [...] of bit vectors x [..., D] (float32), exactly."""
    logits = self.conditional_logits(x, b_enc, b_dec)
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), -1)

  def sample(self, b_enc, b_dec, temperature, seed):
    """Bit vectors [N, D] (float32 0/1) drawn bit by bit, each fed into the next bit's
    conditional: x_d ~ Bernoulli(sigmoid(logit_d / temperature)); at temperature 0 (a Python 0,
    or a tensor <= 0) x_d = [logit_d >= 0], i.e. p >= 0.5."""
    greedy_only = isinstance(temperature, (int, float)) and temperature == 0
    if not greedy_only:
      temperature = tf.convert_to_tensor(temperature, tf.float32)
      uniform = tf.random.stateless_uniform(tf.shape(b_dec), seed)
    hidden, bits = b_enc, []
    for d in range(self.num_dims):
      logit = b_dec[:, d] + tf.reduce_sum(tf.sigmoid(hidden) * self.w_dec_t[d, :, 0], axis=-1)
      bit = tf.cast(logit >= 0, tf.float32)
      if not greedy_only:
        drawn = tf.cast(uniform[:, d] < tf.sigmoid(logit / tf.maximum(temperature, 1e-6)),
                        tf.float32)
        bit = tf.where(temperature > 0, drawn, bit)
      bits.append(bit)
      hidden += bit[:, tf.newaxis] * self.w_enc[d, 0]
    return tf.stack(bits, axis=-1)


class NadeDecoder(base.Decoder):
  """An LSTM decoder with an RNN-NADE output layer; see the module docstring."""
  name_in_config = 'nade'
  OPTIONS = {'nade_num_hidden': 128}

  def __init__(self, family, sizes, z_size, seed, nade_num_hidden=128, name='nade_decoder'):
    super().__init__(family, family.window_steps, name=name)
    names = family.target_names
    spec = family.spec(names[0]) if len(names) == 1 else None
    if spec is None or not (spec.is_integer and tuple(spec.classes) == (2,)
                            and len(spec.shape) == 2):
      raise ValueError(f'The nade decoder writes one array of bits per step ([T, D], values 0 and '
                       f'1); the {family.encoding} family\'s windows hold '
                       f'{", ".join(names)}.')
    if isinstance(nade_num_hidden, bool) or not isinstance(nade_num_hidden, int) or (
        nade_num_hidden < 1):
      raise ValueError(f'decoder.nade_num_hidden must be a positive integer, got '
                       f'{nade_num_hidden!r}.')
    self.target = spec
    self.depth, self.num_hidden = int(spec.shape[-1]), nade_num_hidden
    seeds = lstm.split_seeds(seed, 2)
    with self.name_scope:
      self.core = vector_lstm.VectorLstm(self.depth, self.num_hidden + self.depth, sizes, z_size,
                                         self.control_depth, seeds[0], name='decoder')
      self.nade = Nade(self.depth, self.num_hidden, seeds[1])

  @classmethod
  def from_config(cls, family, model_config, seed, decoder_config=None):
    """The decoder of `family` with config.model's sizes and config.decoder's options."""
    return cls(family, list(model_config.dec_rnn_size), model_config.z_size, seed,
               **cls.options(decoder_config))

  def biases(self, outputs):
    """(b_enc [..., H], b_dec [..., D]) of outputs [..., H + D]."""
    return tf.split(tf.cast(outputs, tf.float32), [self.num_hidden, self.depth], axis=-1)

  def _sample_step(self, outputs, temperature, seed):
    return self.nade.sample(*self.biases(outputs), temperature, seed)

  def teacher_forced(self, z, targets, controls=None, fused=False, compute_dtype=tf.float32):
    """Outputs [B, T, H + D] with every step fed the true previous bits."""
    return self.core.teacher_forced(z, targets, controls, fused, compute_dtype)

  # ---------------------------------------------------------------------------------------------
  # The contract.

  def reconstruct(self, z, targets, sampling_probability=0.0, controls=None, *, seed, fused=False,
                  compute_dtype=tf.float32):
    """Outputs [B, T, H + D] for the targets [B, T, D], teacher forced or with scheduled
    sampling (greedy bits fed back, as the original)."""
    values = tf.cast(targets, tf.float32)

    def scheduled_values():
      return self.core.autoregressive(tf.stop_gradient(z), self.num_steps, self._sample_step,
                                      targets=values, controls=controls,
                                      sampling_probability=sampling_probability, temperature=0.0,
                                      seed=seed, compute_dtype=compute_dtype)[1]

    fed = base.fed_values(values, sampling_probability, scheduled_values)
    return self.core.teacher_forced(z, tf.stop_gradient(fed), controls, fused, compute_dtype)

  def reconstruction_loss(self, outputs, targets, lengths):
    """(r_loss [B], metrics); see the module docstring."""
    bits = tf.cast(targets, tf.float32)
    logits = self.nade.conditional_logits(bits, *self.biases(outputs))
    nll = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=bits, logits=logits), -1)
    mask = tf.sequence_mask(lengths, tf.shape(bits)[1], dtype=tf.float32)
    valid_steps = tf.reduce_sum(mask)
    truth, predicted = bits > 0.5, logits >= 0
    all_right = tf.reduce_all(tf.equal(truth, predicted), axis=-1)
    valid = mask[..., tf.newaxis]
    true_positives = tf.reduce_sum(tf.cast(truth & predicted, tf.float32) * valid)
    positives = tf.reduce_sum(tf.cast(truth, tf.float32) * valid)
    predicted_positives = tf.reduce_sum(tf.cast(predicted, tf.float32) * valid)
    metrics = {
        'accuracy': base.Metric(tf.reduce_sum(tf.cast(all_right, tf.float32) * mask) /
                                valid_steps, valid_steps),
        'recall': base.Metric(tf.math.divide_no_nan(true_positives, positives), positives),
        'precision': base.Metric(tf.math.divide_no_nan(true_positives, predicted_positives),
                                 predicted_positives),
    }
    return tf.reduce_sum(nll * mask, axis=1), metrics

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running bits [B, T, D] (the family's dtype) from codes z [B, Z]."""
    _, values = self.core.autoregressive(z, self.num_steps, self._sample_step, controls=controls,
                                         temperature=temperature, seed=seed,
                                         compute_dtype=compute_dtype)
    return tf.cast(values, self.target.dtype)

  def original_variable_names(self):
    names = base.core_variable_names('decoder', self.core)
    names.update({'decoder/nade/w_enc': self.nade.w_enc, 'decoder/nade/w_dec_t': self.nade.w_dec_t})
    return names
