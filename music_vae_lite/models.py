"""The MusicVAE networks: flat and hierarchical bidirectional LSTM encoders, flat and hierarchical
LSTM decoders.

Everything is a `tf.Module` holding plain `tf.Variable`s laid out as the original's checkpoint
variables (see `original_variable_names`), so a loader for Magenta checkpoints can map them by name.

Shapes: B batch, T steps, D input depth, V output classes (vocabulary), Z latent size.
Decoder inputs are the previous step's target token (nothing at t = 0). Since that input is a one-hot
vector, its projection is a row of the kernel: we gather rows instead of multiplying one-hots.
"""
import tensorflow as tf
import tensorflow_probability as tfp

from music_vae_lite import lstm

tfd = tfp.distributions


def _seeds(seed, count):
  """`count` independent stateless seeds derived from one."""
  return tf.unstack(tf.random.experimental.stateless_split(seed, count))


class Dense(tf.Module):
  """A dense layer; `stddev` given = the original's N(0, stddev) kernels, else glorot uniform."""

  def __init__(self, input_size, units, seed, stddev=None, activation=None, name=None):
    super().__init__(name=name)
    self.activation = activation
    with self.name_scope:
      shape = [input_size, units]
      if stddev is None:
        kernel = lambda: lstm.glorot_uniform(shape, seed)
      else:
        kernel = lambda: tf.random.stateless_normal(shape, seed=seed, stddev=stddev)
      # A callable initial value, so that an importer can skip computing it (magenta_checkpoint).
      self.kernel = tf.Variable(kernel, shape=shape, name='kernel')
      self.bias = tf.Variable(tf.zeros([units]), name='bias')

  def __call__(self, x):
    y = lstm.dense_matmul(x, self.kernel, self.bias)
    return self.activation(y) if self.activation else y


class LstmStack(tf.Module):
  """Stacked LSTM layers (the original's MultiRNNCell) plus the dense + tanh map from a code
  (z, or a conductor embedding) to the initial state of every layer, packed `[c0, h0, c1, h1, ...]`."""

  def __init__(self, input_size, sizes, code_size, seed, name=None):
    super().__init__(name=name)
    seeds = _seeds(seed, len(sizes) + 1)
    with self.name_scope:
      self.layers = []
      for k, units in enumerate(sizes):
        layer_input = input_size if k == 0 else sizes[k - 1]
        self.layers.append(lstm.LstmLayer(layer_input, units, seeds[k], name=f'cell_{k}'))
      self.initial_state = Dense(code_size, 2 * sum(sizes), seeds[-1], stddev=0.001,
                                 activation=tf.tanh, name='initial_state')

  def initial_states(self, code):
    """Initial `(c, h)` of every layer from a code [N, code_size]."""
    flat = tf.split(self.initial_state(code), [u for u in self.sizes for _ in (0, 1)], axis=-1)
    return [(flat[2 * k], flat[2 * k + 1]) for k in range(len(self.layers))]

  @property
  def sizes(self):
    return [layer.units for layer in self.layers]

  def run(self, x, states, fused, compute_dtype):
    """All layers over time-major inputs [T, N, input]; returns the top layer's outputs [T, N, u]."""
    for layer, state in zip(self.layers, states):
      x, _ = layer.sequence(x, state, fused=fused, compute_dtype=compute_dtype)
    return x

  def step_weights(self, batch_size, compute_dtype):
    """The weights `step` multiplies, prepared once, outside the loop that calls `step`: layer 0's
    W_h (its input gates come precomputed), then each higher layer's whole [x; h] kernel and its
    bias broadcast to [batch_size, 4u]. (Added as a 1-D bias, grappler would fuse it into the
    matmul, and that fused kernel is 1.3x slower per step at generation's batch sizes.)"""
    weights = [lstm.prepare_kernel(self.layers[0].recurrent_kernel, compute_dtype)]
    for layer in self.layers[1:]:
      bias = tf.cast(layer.gates_bias(), compute_dtype)
      weights.append((lstm.prepare_kernel(layer.kernel, compute_dtype),
                      tf.broadcast_to(bias, [batch_size, 4 * layer.units])))
    return weights

  def step(self, first_layer_gates, states, weights):
    """One step of every layer, given layer 0's input gates and `step_weights`; returns (top h,
    new states). Higher layers multiply [x; h] by their kernel in one matmul, not two: at the small
    batches of generation a step is bound by reading the weights, once each."""
    c, h = states[0]
    c, h, _ = lstm.cell(first_layer_gates + lstm.times_kernel(h, weights[0]), c)
    new_states = [(c, h)]
    for (c, h), (kernel, bias) in zip(states[1:], weights[1:]):
      x_h = tf.concat([new_states[-1][1], h], -1)
      c, h, _ = lstm.cell(lstm.times_kernel(x_h, kernel) + bias, c)
      new_states.append((c, h))
    return new_states[-1][1], new_states


class BidirectionalLstmEncoder(tf.Module):
  """Stacked bidirectional LSTM layers that respect sequence lengths (padding never reaches a
  valid step). Layer k+1 reads `[fw, bw]` outputs of layer k. Output: the final forward and backward
  `h` of the last layer, concatenated, [B, 2 * units[-1]]."""

  def __init__(self, input_depth, sizes, seed, name='encoder'):
    super().__init__(name=name)
    seeds = _seeds(seed, 2 * len(sizes))
    with self.name_scope:
      self.forward, self.backward = [], []
      for k, units in enumerate(sizes):
        layer_input = input_depth if k == 0 else 2 * sizes[k - 1]
        self.forward.append(lstm.LstmLayer(layer_input, units, seeds[2 * k], name=f'cell_{k}_fw'))
        self.backward.append(lstm.LstmLayer(layer_input, units, seeds[2 * k + 1], name=f'cell_{k}_bw'))
    self.output_size = 2 * sizes[-1]

  def __call__(self, inputs, lengths, fused=False, compute_dtype=tf.float32):
    x = tf.transpose(inputs, [1, 0, 2])  # time-major
    batch_size = tf.shape(inputs)[0]
    lengths = tf.cast(lengths, tf.int32)
    for fw, bw in zip(self.forward, self.backward):
      h_fw, _ = fw.sequence(x, fw.zero_state(batch_size), fused, compute_dtype)
      # Reversing only the first `length` steps makes the backward pass start at each sequence's end.
      x_reversed = tf.reverse_sequence(x, lengths, seq_axis=0, batch_axis=1)
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
    seeds = _seeds(seed, 2)
    self.segment_steps = segment_steps
    with self.name_scope:
      self.levels = [
          BidirectionalLstmEncoder(input_depth, sizes, seeds[0], name='hierarchical_level_0'),
          BidirectionalLstmEncoder(2 * sizes[-1], sizes, seeds[1], name='hierarchical_level_1'),
      ]
    self.output_size = 2 * sizes[-1]

  def __call__(self, inputs, lengths, fused=False, compute_dtype=tf.float32):
    batch_size, num_steps = tf.shape(inputs)[0], inputs.shape[1]
    num_segments = num_steps // self.segment_steps
    depth = inputs.shape[2]
    segments = tf.reshape(inputs, [batch_size * num_segments, self.segment_steps, depth])
    starts = tf.range(num_segments) * self.segment_steps
    segment_lengths = tf.clip_by_value(tf.cast(lengths, tf.int32)[:, tf.newaxis] - starts, 0,
                                       self.segment_steps)
    encodings = self.levels[0](segments, tf.reshape(segment_lengths, [-1]), fused, compute_dtype)
    encodings = tf.reshape(encodings, [batch_size, num_segments, self.levels[0].output_size])
    return self.levels[1](encodings, tf.fill([batch_size], num_segments), fused, compute_dtype)


class CategoricalLstmDecoder(tf.Module):
  """Autoregressive LSTM decoder over one or more categorical parts: the original's
  CategoricalLstmDecoder (one part) or MultiOutCategoricalLstmDecoder (several parts, e.g. the
  flat trio's 90 + 90 + 512). The code (z, or a conductor embedding) sets the initial state of
  every layer. Each step's input is `[previous token of every part, one-hot; code; control,
  one-hot]`, the original's order; the output projection gives the parts' logits side by side.

  Tokens are [N, T, P] class indices; index V_p of part p (one past its classes) is "no token",
  the decoder's first input, whose one-hot is all zeros.
  """

  def __init__(self, output_depths, sizes, code_size, seed, control_depth=0, name='decoder'):
    super().__init__(name=name)
    seeds = _seeds(seed, 2)
    self.output_depths = tuple(int(d) for d in output_depths)
    self.output_depth = sum(self.output_depths)
    self.control_depth = int(control_depth)
    self.code_size = code_size
    with self.name_scope:
      self.rnn = LstmStack(self.output_depth + code_size + self.control_depth, sizes, code_size,
                           seeds[0], name='rnn')
      self.output_projection = Dense(sizes[-1], self.output_depth, seeds[1],
                                     name='output_projection')

  def _first_layer(self, code, compute_dtype):
    """Layer 0's input side, from one split of its [tokens; code; control; h] kernel: (for each
    part the input gates of each previous token plus a zero row, index V_p, for 'no token'; the
    code's gates with the bias, constant over a sequence; the control classes' gates or None;
    W_h)."""
    first = self.rnn.layers[0]
    blocks = first.split_kernel(*self.output_depths, self.code_size,
                                *([self.control_depth] if self.control_depth else []))
    token_kernels, code_kernel = blocks[:len(self.output_depths)], blocks[len(self.output_depths)]
    zero_row = tf.zeros([1, 4 * first.units], compute_dtype)
    token_gates = [tf.concat([tf.cast(kernel, compute_dtype), zero_row], axis=0)
                   for kernel in token_kernels]
    control_gates = tf.cast(blocks[-2], compute_dtype) if self.control_depth else None
    code_gates = tf.nn.bias_add(tf.matmul(tf.cast(code, compute_dtype),
                                          tf.cast(code_kernel, compute_dtype)),
                                tf.cast(first.gates_bias(), compute_dtype))
    return token_gates, code_gates, control_gates, blocks[-1]

  @staticmethod
  def _token_gates(token_gates, tokens):
    """Sum over parts of each part's input gates for its token; tokens [..., P]."""
    gates = tf.gather(token_gates[0], tokens[..., 0])
    for k in range(1, len(token_gates)):
      gates += tf.gather(token_gates[k], tokens[..., k])
    return gates

  def _check_controls(self, controls):
    if self.control_depth and controls is None:
      raise ValueError(f'This decoder is conditioned on {self.control_depth} control classes; '
                       'pass controls [B, T].')
    return None if not self.control_depth else tf.cast(controls, tf.int32)

  def previous_tokens(self, labels):
    """Teacher-forcing inputs [N, T, P]: the targets shifted right by one, 'no token' first."""
    start = tf.broadcast_to(tf.constant(self.output_depths, tf.int32),
                            tf.stack([tf.shape(labels)[0], 1, len(self.output_depths)]))
    return tf.concat([start, labels[:, :-1]], axis=1)

  def start_tokens(self, batch_size):
    """'No token' for every part, [N, P]: the first step's input."""
    return tf.broadcast_to(tf.constant(self.output_depths, tf.int32),
                           tf.stack([batch_size, len(self.output_depths)]))

  def split_logits(self, logits):
    """[..., sum V] -> one [..., V_p] per part."""
    return tf.split(logits, list(self.output_depths), axis=-1)

  def teacher_forced_logits(self, code, previous, fused=False, compute_dtype=tf.float32,
                            controls=None):
    """Logits [N, T, sum V] given the code [N, C], each step's previous tokens [N, T, P] and, for
    a conditioned decoder, each step's control class [N, T]."""
    controls = self._check_controls(controls)
    states = self.rnn.initial_states(code)
    num_steps = previous.shape[1]
    time_major = tf.transpose(previous, [1, 0, 2])
    if fused and compute_dtype == tf.float32:
      # The fused kernel wants real inputs: one-hot previous tokens (zeros for 'no token'), code
      # and controls.
      pieces = [tf.one_hot(time_major[..., k], depth)
                for k, depth in enumerate(self.output_depths)]
      pieces.append(tf.tile(code[tf.newaxis], [num_steps, 1, 1]))
      if controls is not None:
        pieces.append(tf.one_hot(tf.transpose(controls), self.control_depth))
      outputs = self.rnn.run(tf.concat(pieces, -1), states, True, compute_dtype)
    else:
      token_gates, code_gates, control_gates, recurrent_kernel = self._first_layer(
          code, compute_dtype)
      gates = self._token_gates(token_gates, time_major) + code_gates[tf.newaxis]
      if controls is not None:
        gates += tf.gather(control_gates, tf.transpose(controls))
      first, rest = self.rnn.layers[0], self.rnn.layers[1:]
      outputs, _ = first.sequence_from_gates(gates, states[0], compute_dtype, recurrent_kernel)
      for layer, state in zip(rest, states[1:]):
        outputs, _ = layer.sequence(outputs, state, fused=False, compute_dtype=compute_dtype)
    return tf.transpose(self.output_projection(outputs), [1, 0, 2])

  def _sample_tokens(self, logits, temperature, seed):
    """One token per part [N, P] from the step's logits [N, sum V]."""
    if len(self.output_depths) == 1:
      return _sample(logits, temperature, seed)[:, tf.newaxis]
    seeds = _seeds(seed, len(self.output_depths))
    return tf.stack([_sample(part_logits, temperature, part_seed)
                     for part_logits, part_seed in zip(self.split_logits(logits), seeds)], axis=1)

  def autoregressive(self, codes, steps_per_code, start_token, *, labels=None, controls=None,
                     sampling_probability=0.0, temperature=1.0, seed, compute_dtype=tf.float32):
    """Step-by-step decoding that feeds back samples, in U segments of `steps_per_code` steps.

    Segment u starts from the state that code u sets (`codes` [N, U, C]: the hierarchical decoder's
    bar embeddings, or U = 1 for the flat decoder), gets that code at every step, and is first fed
    the tokens the previous segment ended with (`start_token` [N, P] for the first).
    With `labels` [N, T, P] (scheduled sampling): at each step each example independently feeds
    back its own sample (temperature 1) with probability `sampling_probability`, else the true
    tokens. Without `labels`: free-running sampling at `temperature` (0 = argmax).
    `controls` [N, T]: every step's control class, for a conditioned decoder.
    Returns (logits [N, T, sum V], tokens fed/sampled [N, T, P], last input tokens [N, P]),
    T = U * S.

    One graph of two nested loops whatever U is, with the weights cast (and laid out) once before
    them: tracing cost does not grow with the number of bars.
    """
    controls = self._check_controls(controls)
    num_codes = codes.shape[1]
    num_steps = num_codes * steps_per_code
    flat_codes = tf.reshape(codes, [-1, codes.shape[-1]])

    def per_code(x):  # [N * U, ...] -> [N, U, ...]
      return tf.reshape(x, tf.concat([[-1, num_codes], tf.shape(x)[1:]], 0))

    # Every segment's initial state and code gates at once, before the loops.
    initial_states = [(per_code(c), per_code(h)) for c, h in self.rnn.initial_states(flat_codes)]
    token_gates, code_gates, control_gates, _ = self._first_layer(flat_codes, compute_dtype)
    code_gates = per_code(code_gates)
    step_controls = (None if controls is None
                     else tf.gather(control_gates, controls))  # [N, T, 4u]
    weights = self.rnn.step_weights(tf.shape(codes)[0], compute_dtype)
    step_seeds = tf.random.experimental.stateless_split(seed, num_steps)
    logits_ta = tf.TensorArray(tf.float32, size=num_steps)
    tokens_ta = tf.TensorArray(tf.int32, size=num_steps)
    token = tf.cast(start_token, tf.int32)

    def input_gates(token, segment_gates, t):
      gates = self._token_gates(token_gates, token) + segment_gates
      if step_controls is not None:
        gates += step_controls[:, tf.minimum(t, num_steps - 1)]
      return gates

    for u in tf.range(num_codes):
      states = [(c[:, u], h[:, u]) for c, h in initial_states]
      segment_gates = code_gates[:, u]
      # Layer 0's input gates are made at the end of the step before and carried into the next.
      # (Summed inside the step with its recurrent product, the chain of adds is rewritten by
      # grappler into an accumulator whose temporary variable collides between iterations:
      # AlreadyExistsError in large graphs, e.g. the fused encoder at batch 512.)
      gates = input_gates(token, segment_gates, u * steps_per_code)
      for step in tf.range(steps_per_code):
        t = u * steps_per_code + step
        top, states = self.rnn.step(gates, states, weights)
        logits = self.output_projection(top)
        sample_seed, coin_seed = _seeds(step_seeds[t], 2)
        if labels is None:
          token = self._sample_tokens(logits, temperature, sample_seed)
        else:
          sampled = self._sample_tokens(logits, 1.0, sample_seed)
          use_sample = tf.random.stateless_uniform(tf.shape(token)[:1], coin_seed) < (
              sampling_probability)
          token = tf.where(use_sample[:, tf.newaxis], sampled, labels[:, t])
        logits_ta = logits_ta.write(t, logits)
        tokens_ta = tokens_ta.write(t, token)
        gates = input_gates(token, segment_gates, t + 1)
    logits = tf.transpose(logits_ta.stack(), [1, 0, 2])
    return logits, tf.transpose(tokens_ta.stack(), [1, 0, 2]), token


def _sample(logits, temperature, seed):
  """A categorical sample of logits / temperature (argmax at temperature 0), by the Gumbel-max
  trick: the same distribution as tf.random.categorical, and compilable by XLA."""
  greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
  if isinstance(temperature, (int, float)) and temperature == 0:
    return greedy
  temperature = tf.convert_to_tensor(temperature, tf.float32)
  uniform = tf.random.stateless_uniform(tf.shape(logits), seed, minval=1e-20, maxval=1.0)
  gumbel = -tf.math.log(-tf.math.log(uniform))
  drawn = tf.argmax(logits / tf.maximum(temperature, 1e-6) + gumbel, axis=-1, output_type=tf.int32)
  return tf.where(temperature > 0, drawn, greedy)


def _fed_tokens(labels, sampling_probability, scheduled_tokens):
  """The token each step gets as its next input: the targets under teacher forcing, else what the
  scheduled-sampling loop fed. A Python 0 decides at graph-build time, a tensor at run time."""
  if isinstance(sampling_probability, (int, float)):
    return scheduled_tokens() if sampling_probability > 0 else labels
  return tf.cond(sampling_probability > 0, scheduled_tokens, lambda: labels)


class Decoder(tf.Module):
  """The contract of every decoder p(x|z): what training, evaluation and inference call.

  - `reconstruct(z, labels, sampling_probability, controls, *, seed, ...)`: logits
    [B, T, sum V] for the targets [B, T, P], teacher forced (p = 0) or with scheduled sampling;
  - `sample(z, temperature, controls, *, seed, ...)`: free-running labels [B, T, P] (argmax at 0);
  - `reconstruction_loss(logits, labels, lengths)`: the loss and per-step figures of its own
    output distribution (here categorical per part: the decoder owns its loss, as in Magenta);
  - `original_variable_names()`: {name in the original's checkpoints: variable}.
  `parts` are the converter's (converters.Part): names, class counts, where notes start.
  """

  def __init__(self, parts, num_steps, control_depth=0, name=None):
    super().__init__(name=name)
    self.parts = tuple(parts)
    self.output_depths = tuple(part.depth for part in self.parts)
    self.output_depth = sum(self.output_depths)
    self.num_steps = num_steps
    self.control_depth = control_depth

  def reconstruction_loss(self, logits, labels, lengths):
    """Categorical cross-entropy of every part, summed.

    Returns (r_loss [B]: nats summed over valid steps and parts, {'correct' [B, T, P] (1 where the
    argmax is the target, on valid steps), 'note_on' [B, T, P] (valid steps whose target strikes
    a note or a drum), 'mask' [B, T]}).
    """
    labels = tf.cast(labels, tf.int32)
    mask = tf.sequence_mask(lengths, tf.shape(labels)[1], dtype=tf.float32)
    xent, correct = 0.0, []
    for k, part_logits in enumerate(tf.split(logits, list(self.output_depths), axis=-1)):
      xent += tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., k],
                                                             logits=part_logits)
      correct.append(tf.equal(tf.argmax(part_logits, -1, output_type=tf.int32), labels[..., k]))
    correct = tf.cast(tf.stack(correct, axis=-1), tf.float32) * mask[..., tf.newaxis]
    first_onsets = tf.constant([part.first_onset for part in self.parts], tf.int32)
    note_on = tf.cast(labels >= first_onsets, tf.float32) * mask[..., tf.newaxis]
    return tf.reduce_sum(xent * mask, axis=1), {'correct': correct, 'note_on': note_on,
                                                 'mask': mask}


class FlatDecoder(Decoder):
  """z drives one categorical LSTM decoder over the whole sequence and every part (the original's
  CategoricalLstmDecoder, or MultiOutCategoricalLstmDecoder for several parts)."""

  def __init__(self, parts, sizes, z_size, num_steps, seed, control_depth=0, name='flat_decoder'):
    super().__init__(parts, num_steps, control_depth, name=name)
    with self.name_scope:
      self.core = CategoricalLstmDecoder(self.output_depths, sizes, z_size, seed, control_depth,
                                         name='decoder')

  def reconstruct(self, z, labels, sampling_probability=0.0, controls=None, *, seed, fused=False,
                  compute_dtype=tf.float32):
    """Logits [B, T, sum V] for the targets `labels` [B, T, P], teacher forced or with scheduled
    sampling.

    Scheduled sampling runs in two passes with the same result as one: a step-by-step pass without
    gradients decides which token each step is fed (its own sample or the target), then one
    teacher-forced pass over those tokens gives the logits and the gradients. Sampled tokens carry
    no gradient in the original either, and the second pass takes the fast whole-sequence path.
    """
    labels = tf.cast(labels, tf.int32)

    def scheduled_tokens():
      return self.core.autoregressive(tf.stop_gradient(z)[:, tf.newaxis], self.num_steps,
                                      self.core.start_tokens(tf.shape(z)[0]), labels=labels,
                                      controls=controls,
                                      sampling_probability=sampling_probability, seed=seed,
                                      compute_dtype=compute_dtype)[1]

    fed = _fed_tokens(labels, sampling_probability, scheduled_tokens)
    return self.core.teacher_forced_logits(z, self.core.previous_tokens(fed), fused, compute_dtype,
                                           controls=controls)

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running samples [B, T, P] from codes z."""
    return self.core.autoregressive(z[:, tf.newaxis], self.num_steps,
                                    self.core.start_tokens(tf.shape(z)[0]), controls=controls,
                                    temperature=temperature, seed=seed,
                                    compute_dtype=compute_dtype)[1]

  def original_variable_names(self):
    return _core_variable_names('decoder', self.core)


def _core_variable_names(prefix, core):
  names = {}
  for k, layer in enumerate(core.rnn.layers):
    names[f'{prefix}/multi_rnn_cell/cell_{k}/lstm_cell/kernel'] = layer.kernel
    names[f'{prefix}/multi_rnn_cell/cell_{k}/lstm_cell/bias'] = layer.bias
  for dense, name in ((core.rnn.initial_state, 'z_to_initial_state'),
                      (core.output_projection, 'output_projection')):
    names.update({f'{prefix}/{name}/kernel': dense.kernel, f'{prefix}/{name}/bias': dense.bias})
  return names


class HierarchicalDecoder(Decoder):
  """The "conductor" decoder for long sequences (the original's HierarchicalLstmDecoder).

  A conductor LSTM, initialised from z and fed zeros (the original's `disable_autoregression=True`,
  used by every config), emits one embedding per bar: its top layer's h. For each bar a bottom
  categorical LSTM decoder is initialised from that bar's embedding (dense + tanh, shared across bars)
  and gets the embedding concatenated to every step's input. Its state resets every bar; only the
  previous token carries across bar lines.

  With `split_parts` (the original's trio: SplitMultiOutLstmDecoder) each part has its own bottom
  decoder, fed only its own previous token and the embedding; else one bottom decoder writes every
  part. Under teacher forcing the bars are independent given the embeddings, so all bars of a
  batch run as one batch of B x U short sequences instead of U x steps_per_bar sequential steps.
  """

  def __init__(self, parts, sizes, z_size, num_steps, seed, steps_per_bar=16, split_parts=False,
               control_depth=0, name='hierarchical_decoder'):
    super().__init__(parts, num_steps, control_depth, name=name)
    if num_steps % steps_per_bar:
      raise ValueError(f'{num_steps} steps do not split into bars of {steps_per_bar}.')
    self.num_bars = num_steps // steps_per_bar
    self.steps_per_bar = steps_per_bar
    # Which parts (indices) each bottom decoder writes.
    self.core_parts = ([[k] for k in range(len(self.parts))] if split_parts
                       else [list(range(len(self.parts)))])
    seeds = _seeds(seed, 1 + len(self.core_parts))
    with self.name_scope:
      # The conductor has the core decoder's layer sizes and a 1-wide zero input, as in the original.
      self.conductor = LstmStack(1, sizes, z_size, seeds[0], name='conductor')
      cores = [
          CategoricalLstmDecoder([self.output_depths[k] for k in part_indices], sizes, sizes[-1],
                                 seeds[1 + i], control_depth,
                                 name='core_decoder' if len(self.core_parts) == 1
                                 else f'core_decoder_{i}')
          for i, part_indices in enumerate(self.core_parts)]
      # One attribute or the other, so that a one-core model's checkpoints keep their paths.
      if split_parts:
        self.split_cores = cores
      else:
        self.core = cores[0]

  @property
  def cores(self):
    """The bottom decoders, in part order."""
    return self.split_cores if hasattr(self, 'split_cores') else [self.core]

  def bar_embeddings(self, z, fused=False, compute_dtype=tf.float32):
    """The conductor's embedding for every bar, [B, U, u]."""
    zeros = tf.zeros([self.num_bars, tf.shape(z)[0], 1])
    outputs = self.conductor.run(zeros, self.conductor.initial_states(z), fused, compute_dtype)
    # The number of bars stays static when the batch is not (TrainedModel's functions).
    return tf.ensure_shape(tf.transpose(outputs, [1, 0, 2]), [None, self.num_bars, None])

  def _to_bars(self, x):
    """[B, U * S, ...] -> [B * U, S, ...]."""
    return tf.reshape(x, tf.concat([[-1, self.steps_per_bar], tf.shape(x)[2:]], 0))

  def _core_tokens(self, tokens, i):
    return tf.gather(tokens, self.core_parts[i], axis=-1)

  def logits_from_embeddings(self, embeddings, labels, fused=False, compute_dtype=tf.float32,
                             previous=None, controls=None):
    """Teacher-forced logits [B, T, sum V] given the bar embeddings [B, U, u] and targets
    [B, T, P] (or, with `previous`, the tokens fed at each step [B, T, P] in place of the
    targets)."""
    batch_size = tf.shape(labels)[0]
    fed = tf.cast(labels if previous is None else previous, tf.int32)
    codes = tf.reshape(embeddings, [-1, embeddings.shape[-1]])
    bar_controls = None if controls is None else self._to_bars(controls)
    logits = []
    for i, core in enumerate(self.cores):
      # Shift over the whole sequence first: bar u's first input is bar u-1's last token.
      previous_bars = self._to_bars(core.previous_tokens(self._core_tokens(fed, i)))
      core_logits = core.teacher_forced_logits(codes, previous_bars, fused, compute_dtype,
                                               controls=bar_controls)
      logits.append(tf.reshape(core_logits, [batch_size, self.num_steps, core.output_depth]))
    return logits[0] if len(logits) == 1 else tf.concat(logits, axis=-1)

  def _bar_by_bar(self, embeddings, *, labels, controls, sampling_probability, temperature, seed,
                  compute_dtype):
    """Step-by-step decoding of every bar from its embedding [B, U, u] (see autoregressive);
    each bottom decoder runs its own loop (they see only their own tokens)."""
    seeds = [seed] if len(self.cores) == 1 else _seeds(seed, len(self.cores))
    logits, tokens = [], []
    for i, core in enumerate(self.cores):
      core_logits, core_tokens, _ = core.autoregressive(
          embeddings, self.steps_per_bar, core.start_tokens(tf.shape(embeddings)[0]),
          labels=None if labels is None else self._core_tokens(labels, i), controls=controls,
          sampling_probability=sampling_probability, temperature=temperature, seed=seeds[i],
          compute_dtype=compute_dtype)
      logits.append(core_logits)
      tokens.append(core_tokens)
    if len(self.cores) == 1:
      return logits[0], tokens[0]
    return tf.concat(logits, axis=-1), tf.concat(tokens, axis=-1)

  def reconstruct(self, z, labels, sampling_probability=0.0, controls=None, *, seed, fused=False,
                  compute_dtype=tf.float32):
    """Logits [B, T, sum V] for the targets, teacher forced or with scheduled sampling (two
    passes, see FlatDecoder). With scheduled sampling the token carried into a new bar follows the
    same per-step rule."""
    labels = tf.cast(labels, tf.int32)
    embeddings = self.bar_embeddings(z, fused, compute_dtype)

    def scheduled_tokens():
      return self._bar_by_bar(tf.stop_gradient(embeddings), labels=labels, controls=controls,
                              sampling_probability=sampling_probability, temperature=1.0,
                              seed=seed, compute_dtype=compute_dtype)[1]

    fed = _fed_tokens(labels, sampling_probability, scheduled_tokens)
    return self.logits_from_embeddings(embeddings, labels, fused, compute_dtype, previous=fed,
                                       controls=controls)

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running samples [B, T, P]; each bar starts from the previous bar's last sample."""
    embeddings = self.bar_embeddings(z, fused=False, compute_dtype=compute_dtype)
    return self._bar_by_bar(embeddings, labels=None, controls=controls, sampling_probability=0.0,
                            temperature=temperature, seed=seed, compute_dtype=compute_dtype)[1]

  def original_variable_names(self):
    if len(self.cores) == 1:
      names = _core_variable_names('core_decoder/decoder', self.cores[0])
    else:
      names = {}
      for i, core in enumerate(self.cores):
        names.update(_core_variable_names(f'core_decoder/core_decoder_{i}/decoder', core))
    for k, layer in enumerate(self.conductor.layers):  # no multi_rnn_cell/ in the conductor's path
      names[f'decoder/hierarchical_level_0/cell_{k}/lstm_cell/kernel'] = layer.kernel
      names[f'decoder/hierarchical_level_0/cell_{k}/lstm_cell/bias'] = layer.bias
    names['decoder/hierarchical_level_0/initial_state/kernel'] = self.conductor.initial_state.kernel
    names['decoder/hierarchical_level_0/initial_state/bias'] = self.conductor.initial_state.bias
    return names


class MusicVAE(tf.Module):
  """Encoder q(z|x) plus a flat or hierarchical decoder p(x|z).

  Args:
    model_config: `config.model` (z_size, enc_rnn_size, dec_rnn_size, encoder, decoder,
      split_parts).
    parts: the converter's parts (converters.Part), in output order: e.g. (melody,), or
      (melody, bass, drums) for trio.
    num_steps: sequence length T.
    control_depth: classes of the per-step control (e.g. 49 triads), 0 for none.
    seed: integer seed for the initial weights.
  """

  def __init__(self, model_config, parts, num_steps, control_depth=0, seed=0, name='music_vae'):
    super().__init__(name=name)
    self.z_size = model_config.z_size
    self.num_steps = num_steps
    self.parts = tuple(parts)
    self.control_depth = control_depth
    # The encoder reads every part (one-hot, or a drum roll), then the controls' one-hot.
    self.input_depth = sum(part.input_depth for part in self.parts) + control_depth
    self.output_depth = sum(part.depth for part in self.parts)
    seeds = _seeds(tf.constant([seed, 0], tf.int64), 4)
    enc_sizes, dec_sizes = list(model_config.enc_rnn_size), list(model_config.dec_rnn_size)
    with self.name_scope:
      encoder = getattr(model_config, 'encoder', 'bidirectional')
      if encoder == 'bidirectional':
        self.encoder = BidirectionalLstmEncoder(self.input_depth, enc_sizes, seeds[0])
      elif encoder == 'hierarchical':
        if num_steps % 16:
          raise ValueError(f'The hierarchical encoder needs whole bars, not {num_steps} steps.')
        self.encoder = HierarchicalLstmEncoder(self.input_depth, enc_sizes, seeds[0])
      else:
        raise ValueError(f"config.model.encoder must be 'bidirectional' or 'hierarchical', "
                         f'not {encoder!r}.')
      # The original initialises mu and sigma kernels from N(0, 0.001), biases zero: sigma ~ 0.69.
      self.mu = Dense(2 * enc_sizes[-1], self.z_size, seeds[1], stddev=0.001, name='mu')
      self.sigma = Dense(2 * enc_sizes[-1], self.z_size, seeds[2], stddev=0.001,
                         activation=tf.nn.softplus, name='sigma')
      split_parts = bool(getattr(model_config, 'split_parts', False))
      if model_config.decoder == 'flat':
        if split_parts:
          raise ValueError('config.model.split_parts needs the hierarchical decoder (the flat '
                           'decoder writes every part with one LSTM, as the original\'s flat trio).')
        self.decoder = FlatDecoder(self.parts, dec_sizes, self.z_size, num_steps, seeds[3],
                                   control_depth=control_depth)
      elif model_config.decoder == 'hierarchical':
        self.decoder = HierarchicalDecoder(self.parts, dec_sizes, self.z_size, num_steps, seeds[3],
                                           split_parts=split_parts, control_depth=control_depth)
      else:
        raise ValueError(f"config.model.decoder must be 'flat' or 'hierarchical', "
                         f'not {model_config.decoder!r}.')

  def posterior(self, inputs, lengths, fused=False, compute_dtype=tf.float32):
    """q(z|x) = N(mu, diag(sigma^2)) for inputs [B, T, D] of the given lengths [B] (D includes the
    controls' one-hot, for a conditioned model)."""
    encoding = self.encoder(inputs, lengths, fused, compute_dtype)
    return tfd.MultivariateNormalDiag(loc=self.mu(encoding), scale_diag=self.sigma(encoding))

  @staticmethod
  def prior(z_size):
    return tfd.MultivariateNormalDiag(loc=tf.zeros([z_size]), scale_diag=tf.ones([z_size]))

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
