"""The MusicVAE: flat and hierarchical bidirectional LSTM encoders, and the model that joins an
encoder q(z|x) to a decoder p(x|z) (nn/decoders/) as a config describes.

Everything is a `tf.Module` holding plain `tf.Variable`s laid out as the original's checkpoint
variables (see `original_variable_names`), so a loader for Magenta checkpoints can map them by name.

Shapes: B batch, T steps, D input depth, Z latent size.
"""
import tensorflow as tf
import tensorflow_probability as tfp

from music_vae_lite.nn import lstm
from music_vae_lite.nn.decoders import registry as decoder_registry

tfd = tfp.distributions


class BidirectionalLstmEncoder(tf.Module):
  """Stacked bidirectional LSTM layers that respect sequence lengths (padding never reaches a
  valid step). Layer k+1 reads `[fw, bw]` outputs of layer k. Output: the final forward and backward
  `h` of the last layer, concatenated, [B, 2 * units[-1]]."""

  def __init__(self, input_depth, sizes, seed, name='encoder'):
    super().__init__(name=name)
    seeds = lstm.split_seeds(seed, 2 * len(sizes))
    with self.name_scope:
      self.forward, self.backward = [], []
      for k, units in enumerate(sizes):
        layer_input = input_depth if k == 0 else 2 * sizes[k - 1]
        self.forward.append(lstm.LstmLayer(layer_input, units, seeds[2 * k], name=f'cell_{k}_fw'))
        self.backward.append(lstm.LstmLayer(layer_input, units, seeds[2 * k + 1], name=f'cell_{k}_bw'))
    self.output_size = 2 * sizes[-1]

  def __call__(self, inputs, lengths, fused=False, compute_dtype=tf.float32, dropout=None):
    """`dropout`: None, or (keep probability, stateless seed) for training: each layer's input
    through lstm.input_dropout, with a mask of its own for each direction (the original wraps
    every cell in its own DropoutWrapper)."""
    x = tf.transpose(inputs, [1, 0, 2])  # time-major
    batch_size = tf.shape(inputs)[0]
    lengths = tf.cast(lengths, tf.int32)
    keep_prob, seed = dropout or (1.0, None)
    seeds = ([None] * 2 * len(self.forward) if seed is None
             else lstm.split_seeds(seed, 2 * len(self.forward)))
    for k, (fw, bw) in enumerate(zip(self.forward, self.backward)):
      x_fw, x_bw = (lstm.input_dropout(x, keep_prob, seeds[2 * k + d]) for d in (0, 1))
      h_fw, _ = fw.sequence(x_fw, fw.zero_state(batch_size), fused, compute_dtype)
      # Reversing only the first `length` steps makes the backward pass start at each sequence's end.
      x_reversed = tf.reverse_sequence(x_bw, lengths, seq_axis=0, batch_axis=1)
      h_bw_reversed, _ = bw.sequence(x_reversed, bw.zero_state(batch_size), fused, compute_dtype)
      h_bw = tf.reverse_sequence(h_bw_reversed, lengths, seq_axis=0, batch_axis=1)
      x = tf.concat([h_fw, h_bw], axis=-1)
    last = tf.stack([tf.maximum(lengths - 1, 0), tf.range(batch_size)], axis=1)
    final = tf.concat([tf.gather_nd(h_fw, last), tf.gather_nd(h_bw_reversed, last)], axis=-1)
    # An empty sequence (a bar past the end, in the hierarchical encoder) keeps the zero state.
    return tf.where((lengths > 0)[:, tf.newaxis], final, tf.zeros_like(final))


class HierarchicalLstmEncoder(tf.Module):
  """The original's hierarchical encoder: level 0 encodes every segment (a bar) on its own with a
  bidirectional LSTM; level 1 runs another one over the sequence of segment encodings. Each level
  has its own weights, shared across segments. Output: [B, 2 * units[-1]] like the flat encoder.

  Lengths: level 0 gets each segment's share of the sequence length (0 for segments past the end,
  which encode to zeros, as the original's dynamic_rnn leaves them); level 1 sees every segment.
  """

  def __init__(self, input_depth, sizes, seed, segment_steps=16, name='encoder'):
    super().__init__(name=name)
    seeds = lstm.split_seeds(seed, 2)
    self.segment_steps = segment_steps
    with self.name_scope:
      self.levels = [
          BidirectionalLstmEncoder(input_depth, sizes, seeds[0], name='hierarchical_level_0'),
          BidirectionalLstmEncoder(2 * sizes[-1], sizes, seeds[1], name='hierarchical_level_1'),
      ]
    self.output_size = 2 * sizes[-1]

  def __call__(self, inputs, lengths, fused=False, compute_dtype=tf.float32, dropout=None):
    batch_size, num_steps = tf.shape(inputs)[0], inputs.shape[1]
    keep_prob, seed = dropout or (1.0, None)
    level_dropout = ([None, None] if seed is None
                     else [(keep_prob, s) for s in lstm.split_seeds(seed, 2)])
    num_segments = num_steps // self.segment_steps
    depth = inputs.shape[2]
    segments = tf.reshape(inputs, [batch_size * num_segments, self.segment_steps, depth])
    starts = tf.range(num_segments) * self.segment_steps
    segment_lengths = tf.clip_by_value(tf.cast(lengths, tf.int32)[:, tf.newaxis] - starts, 0,
                                       self.segment_steps)
    encodings = self.levels[0](segments, tf.reshape(segment_lengths, [-1]), fused, compute_dtype,
                               level_dropout[0])
    encodings = tf.reshape(encodings, [batch_size, num_segments, self.levels[0].output_size])
    return self.levels[1](encodings, tf.fill([batch_size], num_segments), fused, compute_dtype,
                          level_dropout[1])


class MusicVAE(tf.Module):
  """Encoder q(z|x) plus the decoder p(x|z) that config.model.decoder names (nn/decoders/).

  Args:
    model_config: `config.model` (z_size, enc_rnn_size, dec_rnn_size, conductor_rnn_size,
      encoder, decoder, segment_bars, dropout_keep_prob: the encoder's and, for a decoder that
      has it (`Decoder.DROPOUT`), the decoder's input dropout in training).
    family: the data family (contract.Converter): its encoder input width, window length and the
      target arrays the decoder writes.
    seed: integer seed for the initial weights.
    decoder_config: `config.decoder`, the decoder's options.
  """

  def __init__(self, model_config, family, seed=0, decoder_config=None, name='music_vae'):
    super().__init__(name=name)
    self.z_size = model_config.z_size
    self.family = family
    self.num_steps = num_steps = family.window_steps
    seeds = lstm.split_seeds(tf.constant([seed, 0], tf.int64), 4)
    enc_sizes = list(model_config.enc_rnn_size)
    # Hierarchical encoder: segments of this many steps (a bar by default).
    segment_steps = 16 * int(model_config.get('segment_bars', 1))
    decoder_class = decoder_registry.decoder_class(model_config.decoder)
    # Run directories written before the option existed have none: no dropout.
    self.dropout_keep_prob = float(model_config.get('dropout_keep_prob', 1.0))
    if self.dropout_keep_prob < 1.0 and not decoder_class.DROPOUT:
      raise ValueError(f'config.model.dropout_keep_prob={self.dropout_keep_prob}: the '
                       f'{model_config.decoder} decoder has no dropout (the groove decoder has); '
                       'use 1.0.')
    with self.name_scope:
      encoder = getattr(model_config, 'encoder', 'bidirectional')
      if encoder == 'bidirectional':
        self.encoder = BidirectionalLstmEncoder(family.input_depth, enc_sizes, seeds[0])
      elif encoder == 'hierarchical':
        if num_steps % segment_steps:
          raise ValueError(f'The hierarchical encoder needs whole segments of {segment_steps} '
                           f'steps, not {num_steps} steps.')
        self.encoder = HierarchicalLstmEncoder(family.input_depth, enc_sizes, seeds[0],
                                               segment_steps=segment_steps)
      else:
        raise ValueError(f"config.model.encoder must be 'bidirectional' or 'hierarchical', "
                         f'not {encoder!r}.')
      # The original initialises mu and sigma kernels from N(0, 0.001), biases zero: sigma ~ 0.69.
      self.mu = lstm.Dense(2 * enc_sizes[-1], self.z_size, seeds[1], stddev=0.001, name='mu')
      self.sigma = lstm.Dense(2 * enc_sizes[-1], self.z_size, seeds[2], stddev=0.001,
                         activation=tf.nn.softplus, name='sigma')
      self.decoder = decoder_class.from_config(family, model_config, seeds[3], decoder_config)

  def posterior(self, inputs, lengths, fused=False, compute_dtype=tf.float32, dropout_seed=None):
    """q(z|x) = N(mu, diag(sigma^2)) for inputs [B, T, D] of the given lengths [B] (D includes the
    controls' one-hot, for a conditioned model). `dropout_seed`: a training step's, for the
    encoder's dropout (config.model.dropout_keep_prob); None: none."""
    dropout = None if dropout_seed is None else (self.dropout_keep_prob, dropout_seed)
    encoding = self.encoder(inputs, lengths, fused, compute_dtype, dropout)
    return tfd.MultivariateNormalDiag(loc=self.mu(encoding), scale_diag=self.sigma(encoding))

  def num_parameters(self):
    return sum(int(v.shape.num_elements()) for v in self.trainable_variables)

  def original_variable_names(self):
    """{name in the original's checkpoints: our variable}, for loading Magenta checkpoints."""
    names = {'encoder/mu/kernel': self.mu.kernel, 'encoder/mu/bias': self.mu.bias,
             'encoder/sigma/kernel': self.sigma.kernel, 'encoder/sigma/bias': self.sigma.bias}
    levels = ([('encoder', self.encoder)] if isinstance(self.encoder, BidirectionalLstmEncoder)
              else [(f'encoder/hierarchical_level_{i}', level)
                    for i, level in enumerate(self.encoder.levels)])
    for scope, encoder in levels:
      for k, (fw, bw) in enumerate(zip(encoder.forward, encoder.backward)):
        for direction, layer in (('fw', fw), ('bw', bw)):
          prefix = f'{scope}/cell_{k}/bidirectional_rnn/{direction}/multi_rnn_cell/cell_0/lstm_cell'
          names.update({f'{prefix}/kernel': layer.kernel, f'{prefix}/bias': layer.bias})

    names.update(self.decoder.original_variable_names())
    return names
