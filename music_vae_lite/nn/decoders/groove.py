"""The GrooVAE decoder p(x|z): per step and drum class a hit (Bernoulli), a velocity and a timing
offset (real values), written by a flat LSTM (the original's GrooveLstmDecoder).

It implements the decoder contract (base.py) for the groove family (families/groove.py: targets
{hits, velocities, offsets}, each float32 [B, T, 9]):
- outputs [B, T, 27]: the output projection, in the original's layout [hit logits, velocity
  pre-activations, offset pre-activations]; velocity = sigmoid, offset = tanh of theirs.
- loss per step, summed over the drums and then over the valid steps (r_loss [B]): the hits' log
  loss -[y log(p + eps) + (1 - y) log(1 - p + eps)] with p = sigmoid(logit) and eps = 1e-7 (the
  original's tf.losses.log_loss, kept so that imported models report its numbers), plus the
  squared errors of the velocities and of the offsets. Only the hits' term is a log-likelihood:
  the squared errors are the original's, not a Gaussian's -log p, so r_loss is not in nats.
- metrics: `hits_loss`, `velocities_loss`, `offsets_loss` (each term per step, weighted by the
  valid steps: the original's metrics/*_loss) and `hit_accuracy` (hit or not right, over steps
  and drums).
- sample: hits ~ Bernoulli(sigmoid(logit / temperature)) (at temperature 0: logit > 0),
  velocities and offsets their activations, without noise; those sampled values are the next
  step's input.

The LSTM loop is vector_lstm's, the same code NADE runs (vector_lstm.teacher_forced and
autoregressive, on this decoder's own `rnn` and `output_projection`, which keeps their paths in
the checkpoint's object graph): the step input is [previous step's hits, velocities, offsets
(zeros at t = 0); z; controls], the original's order, and z also sets the initial state of every
layer; variables are laid out and named as the categorical flat decoder's (`decoder/...`).
Scheduled sampling runs as in the
categorical decoders: a pass without gradients decides what each step is fed (its own sample at
temperature 1, or the targets), then one teacher-forced pass over those values; sampled values
carry no gradient.

Dropout (config.model.dropout_keep_prob; GrooVAE trains with 0.3): in training steps, the input of
every LSTM layer keeps each value with that probability (scaled by 1 / keep), a fresh mask every
step, as the original's DropoutWrapper(input_keep_prob) does; evaluation, sampling and inference
run without it, as the original's do. With scheduled sampling (the GrooVAE configs teacher-force)
the pass that decides what is fed runs without dropout, the pass that gives the outputs with it.
"""
import tensorflow as tf

from music_vae_lite.nn import lstm
from music_vae_lite.nn.decoders import base
from music_vae_lite.nn.decoders import vector_lstm

HITS, VELOCITIES, OFFSETS = 'hits', 'velocities', 'offsets'
LOG_LOSS_EPSILON = 1e-7  # tf.losses.log_loss's default, as the original uses it


class GrooveDecoder(base.Decoder):
  """A flat LSTM decoder of hits, velocities and offsets; see the module docstring."""
  name_in_config = 'groove'
  DROPOUT = True

  def __init__(self, family, sizes, z_size, seed, dropout_keep_prob=1.0, name='groove_decoder'):
    super().__init__(family, family.window_steps, name=name)
    self.dropout_keep_prob = float(dropout_keep_prob)
    if tuple(family.target_names) != (HITS, VELOCITIES, OFFSETS):
      raise ValueError(f'The groove decoder writes hits, velocities and offsets; the '
                       f'{family.encoding} family\'s windows hold '
                       f'{", ".join(family.target_names)}.')
    self.num_drums = family.spec(HITS).shape[-1]
    self.output_depth = 3 * self.num_drums
    seeds = lstm.split_seeds(seed, 2)
    with self.name_scope:
      with tf.name_scope('decoder'):
        self.rnn = lstm.LstmStack(self.output_depth + z_size + self.control_depth, sizes,
                                  z_size, seeds[0], name='rnn')
        self.output_projection = lstm.Dense(sizes[-1], self.output_depth, seeds[1],
                                            name='output_projection')

  @classmethod
  def from_config(cls, family, model_config, seed, decoder_config=None):
    """The decoder of `family` with config.model's sizes and config.decoder's options."""
    return cls(family, list(model_config.dec_rnn_size), model_config.z_size, seed,
               dropout_keep_prob=model_config.get('dropout_keep_prob', 1.0),
               **cls.options(decoder_config))

  # ---------------------------------------------------------------------------------------------
  # Values and distributions.

  def values(self, targets):
    """The targets as one tensor [B, T, 27]: hits, velocities, offsets."""
    return tf.concat([tf.cast(targets[name], tf.float32) for name in (HITS, VELOCITIES, OFFSETS)],
                     axis=-1)

  def split(self, values):
    """[..., 27] -> {hits, velocities, offsets}, [..., 9] each."""
    return dict(zip((HITS, VELOCITIES, OFFSETS), tf.split(values, 3, axis=-1)))

  def activations(self, outputs):
    """(hit probabilities, velocities, offsets) of the outputs [..., 27]."""
    hit_logits, velocities, offsets = tf.split(outputs, 3, axis=-1)
    return tf.sigmoid(hit_logits), tf.sigmoid(velocities), tf.tanh(offsets)

  def _sample_step(self, outputs, temperature, seed):
    """The values [N, 27] sampled from one step's outputs [N, 27]."""
    hit_logits, velocities, offsets = tf.split(outputs, 3, axis=-1)
    greedy = tf.cast(hit_logits > 0, tf.float32)
    if isinstance(temperature, (int, float)) and temperature == 0:
      hits = greedy
    else:
      temperature = tf.convert_to_tensor(temperature, tf.float32)
      uniform = tf.random.stateless_uniform(tf.shape(hit_logits), seed)
      drawn = tf.cast(uniform < tf.sigmoid(hit_logits / tf.maximum(temperature, 1e-6)),
                      tf.float32)
      hits = tf.where(temperature > 0, drawn, greedy)
    return tf.concat([hits, tf.sigmoid(velocities), tf.tanh(offsets)], axis=-1)

  # ---------------------------------------------------------------------------------------------
  # The LSTM: vector_lstm's loop on this decoder's own `rnn` and `output_projection`.

  def teacher_forced(self, z, fed, controls=None, fused=False, compute_dtype=tf.float32,
                     dropout_seed=None):
    """Outputs [B, T, 27] given z [B, Z] and the values fed at every step [B, T, 27] (each
    step reads the previous step's); with a `dropout_seed`, the layers' input dropout."""
    return vector_lstm.teacher_forced(
        self.rnn, self.output_projection, z, fed, controls, control_depth=self.control_depth,
        fused=fused, compute_dtype=compute_dtype, dropout_keep_prob=self.dropout_keep_prob,
        dropout_seed=dropout_seed)

  def autoregressive(self, z, *, targets=None, controls=None, sampling_probability=0.0,
                     temperature=1.0, seed, compute_dtype=tf.float32):
    """Step-by-step decoding that feeds back samples: free-running at `temperature` without
    `targets` [B, T, 27]; with them, each example feeds back its own sample (temperature 1,
    whatever `temperature` says) with probability `sampling_probability` at every step, else the
    targets. Returns (outputs [B, T, 27], values fed/sampled [B, T, 27])."""
    return vector_lstm.autoregressive(
        self.rnn, self.output_projection, self.output_depth, z, self.num_steps, self._sample_step,
        control_depth=self.control_depth, targets=targets, controls=controls,
        sampling_probability=sampling_probability,
        temperature=temperature if targets is None else 1.0, seed=seed,
        compute_dtype=compute_dtype)

  # ---------------------------------------------------------------------------------------------
  # The contract.

  def reconstruct(self, z, targets, sampling_probability=0.0, controls=None, *, seed, fused=False,
                  compute_dtype=tf.float32, dropout_seed=None):
    """Outputs [B, T, 27] for the targets, teacher forced or with scheduled sampling; dropout
    with a training step's `dropout_seed` (module docstring)."""
    values = self.values(targets)

    def scheduled_values():
      return self.autoregressive(tf.stop_gradient(z), targets=values, controls=controls,
                                 sampling_probability=sampling_probability, seed=seed,
                                 compute_dtype=compute_dtype)[1]

    fed = base.fed_values(values, sampling_probability, scheduled_values)
    return self.teacher_forced(z, tf.stop_gradient(fed), controls, fused, compute_dtype,
                               dropout_seed)

  def reconstruction_loss(self, outputs, targets, lengths):
    """(r_loss [B], metrics); see the module docstring."""
    hits, velocities, offsets = (tf.cast(targets[name], tf.float32)
                                 for name in (HITS, VELOCITIES, OFFSETS))
    hit_probabilities, velocity_outputs, offset_outputs = self.activations(
        tf.cast(outputs, tf.float32))
    hits_loss = -tf.reduce_sum(
        hits * tf.math.log(hit_probabilities + LOG_LOSS_EPSILON)
        + (1.0 - hits) * tf.math.log(1.0 - hit_probabilities + LOG_LOSS_EPSILON), axis=-1)
    velocities_loss = tf.reduce_sum(tf.square(velocities - velocity_outputs), axis=-1)
    offsets_loss = tf.reduce_sum(tf.square(offsets - offset_outputs), axis=-1)
    mask = tf.sequence_mask(lengths, tf.shape(hits)[1], dtype=tf.float32)
    valid_steps = tf.reduce_sum(mask)
    correct = tf.cast(tf.equal(hit_probabilities > 0.5, hits > 0.5), tf.float32)

    def per_step(term):
      return base.Metric(tf.reduce_sum(term * mask) / valid_steps, valid_steps)

    metrics = {
        'hits_loss': per_step(hits_loss),
        'velocities_loss': per_step(velocities_loss),
        'offsets_loss': per_step(offsets_loss),
        'hit_accuracy': per_step(tf.reduce_mean(correct, axis=-1)),
    }
    r_loss = tf.reduce_sum((hits_loss + velocities_loss + offsets_loss) * mask, axis=1)
    return r_loss, metrics

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running {hits, velocities, offsets}, [B, T, 9] each, from codes z [B, Z]."""
    _, values = self.autoregressive(z, controls=controls, temperature=temperature, seed=seed,
                                    compute_dtype=compute_dtype)
    return self.split(values)

  def original_variable_names(self):
    return base.core_variable_names('decoder', self)
