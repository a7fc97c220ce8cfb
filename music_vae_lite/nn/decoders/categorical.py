"""Categorical decoders p(x|z): one class per part and step, for the label families
(families/label_windows.py: labels int32 [B, T, P]), with LSTM decoders flat (`flat`) or under a
"conductor" (`hierarchical`), optionally conditioned on a per-step control class (chords).

They implement the decoder contract (base.py): the outputs are logits [B, T, sum V]; the loss is
each part's softmax cross-entropy, summed; the metrics are next-step accuracy (argmax = target)
and note-on accuracy (only the steps whose target strikes a note or a drum, `Part.first_onset`),
over all parts and, for several parts, per part; a sample is one class per part, from the
logits / temperature; the class sampled (or the target, teacher forced) is fed back.

Shapes: B batch, T steps, P parts, V_p classes of part p, Z latent size. Decoder inputs are the
previous step's target tokens (nothing at t = 0). Since each is a one-hot vector, its projection is
a row of the kernel: we gather rows instead of multiplying one-hots.
"""
import tensorflow as tf

from music_vae_lite.nn import lstm
from music_vae_lite.nn.decoders import base


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
    seeds = lstm.split_seeds(seed, 2)
    self.output_depths = tuple(int(d) for d in output_depths)
    self.output_depth = sum(self.output_depths)
    self.control_depth = int(control_depth)
    self.code_size = code_size
    with self.name_scope:
      self.rnn = lstm.LstmStack(self.output_depth + code_size + self.control_depth, sizes,
                                code_size, seeds[0], name='rnn')
      self.output_projection = lstm.Dense(sizes[-1], self.output_depth, seeds[1],
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
    seeds = lstm.split_seeds(seed, len(self.output_depths))
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
        sample_seed, coin_seed = lstm.split_seeds(step_seeds[t], 2)
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


class CategoricalDecoder(base.Decoder):
  """What the flat and hierarchical categorical decoders share: the parts (the family's
  label_windows.Part: names, class counts, where notes start), the loss and the metrics."""

  def __init__(self, family, name=None):
    super().__init__(family, family.window_steps, name=name)
    if not getattr(family, 'parts', ()):
      raise ValueError(f'The {self.name_in_config} decoder writes class labels per part; the '
                       f'{family.encoding} family has no parts.')
    control = family.control_spec
    if control is not None and not (control.is_integer and len(control.shape) == 1):
      raise ValueError(f'The {self.name_in_config} decoder takes a control class per step; the '
                       f'{family.encoding} family\'s controls are {control.dtype} '
                       f'{list(control.shape)}.')
    self.parts = tuple(family.parts)
    self.output_depths = tuple(part.depth for part in self.parts)
    self.output_depth = sum(self.output_depths)

  @classmethod
  def from_config(cls, family, model_config, seed, decoder_config=None):
    """The decoder of `family` with config.model's sizes and config.decoder's options."""
    return cls(family, list(model_config.dec_rnn_size), model_config.z_size, seed,
               **cls.options(decoder_config))

  def note_on(self, labels):
    """1.0 where a part's target strikes a note or a drum (labels >= its first_onset), float32
    [..., T, P]: the steps that note-on accuracy counts."""
    first_onsets = tf.constant([part.first_onset for part in self.parts], tf.int32)
    return tf.cast(tf.cast(labels, tf.int32) >= first_onsets, tf.float32)

  def reconstruction_loss(self, logits, labels, lengths):
    """Categorical cross-entropy of every part, summed over parts and valid steps: (r_loss [B],
    metrics). Metrics: `accuracy` (argmax = target, over valid steps and parts; weighted by
    windows), `note_on_accuracy` (the same on steps whose target strikes a note or a drum;
    weighted by those steps; 0 in a batch without any), and for several parts the same per part
    (`accuracy/<part>`, `note_on_accuracy/<part>`)."""
    labels = tf.cast(labels, tf.int32)
    mask = tf.sequence_mask(lengths, tf.shape(labels)[1], dtype=tf.float32)
    xent, correct = 0.0, []
    for k, part_logits in enumerate(tf.split(logits, list(self.output_depths), axis=-1)):
      xent += tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels[..., k],
                                                             logits=part_logits)
      correct.append(tf.equal(tf.argmax(part_logits, -1, output_type=tf.int32), labels[..., k]))
    correct = tf.cast(tf.stack(correct, axis=-1), tf.float32) * mask[..., tf.newaxis]
    note_on = self.note_on(labels) * mask[..., tf.newaxis]
    windows = tf.cast(tf.shape(labels)[0], tf.float32)
    metrics = {
        'accuracy': base.Metric(tf.reduce_sum(correct) / (tf.reduce_sum(mask) * len(self.parts)),
                                windows),
        'note_on_accuracy': base.Metric(
            tf.math.divide_no_nan(tf.reduce_sum(correct * note_on), tf.reduce_sum(note_on)),
            tf.reduce_sum(note_on)),
    }
    if len(self.parts) > 1:
      for k, part in enumerate(self.parts):
        metrics[f'accuracy/{part.name}'] = base.Metric(
            tf.reduce_sum(correct[..., k]) / tf.reduce_sum(mask), windows)
        metrics[f'note_on_accuracy/{part.name}'] = base.Metric(
            tf.math.divide_no_nan(tf.reduce_sum(correct[..., k] * note_on[..., k]),
                                  tf.reduce_sum(note_on[..., k])),
            tf.reduce_sum(note_on[..., k]))
    return tf.reduce_sum(xent * mask, axis=1), metrics


class FlatDecoder(CategoricalDecoder):
  """z drives one categorical LSTM decoder over the whole sequence and every part (the original's
  CategoricalLstmDecoder, or MultiOutCategoricalLstmDecoder for several parts)."""
  name_in_config = 'flat'

  def __init__(self, family, sizes, z_size, seed, name='flat_decoder'):
    super().__init__(family, name=name)
    with self.name_scope:
      self.core = CategoricalLstmDecoder(self.output_depths, sizes, z_size, seed,
                                         self.control_depth, name='decoder')

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

    fed = base.fed_values(labels, sampling_probability, scheduled_tokens)
    return self.core.teacher_forced_logits(z, self.core.previous_tokens(fed), fused, compute_dtype,
                                           controls=controls)

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running samples [B, T, P] from codes z."""
    return self.core.autoregressive(z[:, tf.newaxis], self.num_steps,
                                    self.core.start_tokens(tf.shape(z)[0]), controls=controls,
                                    temperature=temperature, seed=seed,
                                    compute_dtype=compute_dtype)[1]

  def original_variable_names(self):
    return base.core_variable_names('decoder', self.core)


class HierarchicalDecoder(CategoricalDecoder):
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

  A "bar" here is a segment of `steps_per_bar` steps: one bar in every original config
  (config.model.segment_bars = 1); 2-bar segments (the original's level lengths [8, 32]) let a
  bar decoder taken from a trained 2-bar model write exactly what it was trained on.
  `conductor_sizes` (config.model.conductor_rnn_size) differ from the bar decoder's only when
  asked: the original always uses the same sizes.

  `conductor_projection` (config.decoder.conductor_projection; not in the original): when > 0, a
  linear layer of that width on the conductor's top output gives the embeddings, so they can
  leave (-1, 1), where an LSTM's h stays, and a conductor can be wider than the bar decoder's code.
  It is for a bar decoder taken from a trained 2-bar model, which writes from that model's z: 8% of
  its posterior means lie outside (-1, 1), and from means clipped to (-1, 1) it writes held-out
  windows at 0.86 teacher-forced accuracy instead of 0.94 (benchmarks/README.md, "16 bars").
  """

  name_in_config = 'hierarchical'
  OPTIONS = {'split_parts': False, 'conductor_projection': 0}

  def __init__(self, family, sizes, z_size, seed, steps_per_bar=16, split_parts=False,
               conductor_sizes=None, conductor_projection=0, name='hierarchical_decoder'):
    super().__init__(family, name=name)
    num_steps = self.num_steps
    if not isinstance(split_parts, bool):
      raise ValueError(f'decoder.split_parts must be True or False, got {split_parts!r}.')
    if (isinstance(conductor_projection, bool) or not isinstance(conductor_projection, int)
        or conductor_projection < 0):
      raise ValueError('decoder.conductor_projection must be a width (an integer > 0) or 0 for '
                       f'none, got {conductor_projection!r}.')
    if num_steps % steps_per_bar:
      raise ValueError(f'{num_steps} steps do not split into bars of {steps_per_bar}.')
    self.num_bars = num_steps // steps_per_bar
    self.steps_per_bar = steps_per_bar
    # Which parts (indices) each bottom decoder writes.
    self.core_parts = ([[k] for k in range(len(self.parts))] if split_parts
                       else [list(range(len(self.parts)))])
    seeds = lstm.split_seeds(seed, 1 + len(self.core_parts))
    with self.name_scope:
      # The conductor has a 1-wide zero input and, as in the original, the core decoder's layer
      # sizes unless `conductor_sizes` says otherwise (its top layer is the segment embedding).
      conductor_sizes = list(conductor_sizes or sizes)
      self.conductor = lstm.LstmStack(1, conductor_sizes, z_size, seeds[0], name='conductor')
      self.embedding_size = conductor_projection or conductor_sizes[-1]
      if conductor_projection:
        # Its own seed (folded, not split), so that every other initial value stays as it was.
        self.conductor_projection = lstm.Dense(
            conductor_sizes[-1], conductor_projection,
            tf.random.experimental.stateless_fold_in(seed, 1), name='conductor_projection')
      cores = [
          CategoricalLstmDecoder([self.output_depths[k] for k in part_indices], sizes,
                                 self.embedding_size, seeds[1 + i], self.control_depth,
                                 name='core_decoder' if len(self.core_parts) == 1
                                 else f'core_decoder_{i}')
          for i, part_indices in enumerate(self.core_parts)]
      # One attribute or the other, so that a one-core model's checkpoints keep their paths.
      if split_parts:
        self.split_cores = cores
      else:
        self.core = cores[0]

  @classmethod
  def from_config(cls, family, model_config, seed, decoder_config=None):
    """The decoder of `family` with config.model's sizes (conductor_rnn_size: the conductor's,
    () for dec_rnn_size), its segments of config.model.segment_bars bars and config.decoder's
    options."""
    segment_steps = family.window_steps // family.slice_bars * int(
        model_config.get('segment_bars', 1))
    return cls(family, list(model_config.dec_rnn_size), model_config.z_size, seed,
               steps_per_bar=segment_steps,
               conductor_sizes=list(model_config.get('conductor_rnn_size') or ()) or None,
               **cls.options(decoder_config))

  @property
  def cores(self):
    """The bottom decoders, in part order."""
    return self.split_cores if hasattr(self, 'split_cores') else [self.core]

  def bar_embeddings(self, z, fused=False, compute_dtype=tf.float32):
    """The conductor's embedding for every bar, [B, U, u]."""
    zeros = tf.zeros([self.num_bars, tf.shape(z)[0], 1])
    outputs = self.conductor.run(zeros, self.conductor.initial_states(z), fused, compute_dtype)
    if hasattr(self, 'conductor_projection'):
      outputs = self.conductor_projection(tf.cast(outputs, tf.float32))
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
    seeds = [seed] if len(self.cores) == 1 else lstm.split_seeds(seed, len(self.cores))
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

    fed = base.fed_values(labels, sampling_probability, scheduled_tokens)
    return self.logits_from_embeddings(embeddings, labels, fused, compute_dtype, previous=fed,
                                       controls=controls)

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    """Free-running samples [B, T, P]; each bar starts from the previous bar's last sample."""
    embeddings = self.bar_embeddings(z, fused=False, compute_dtype=compute_dtype)
    return self._bar_by_bar(embeddings, labels=None, controls=controls, sampling_probability=0.0,
                            temperature=temperature, seed=seed, compute_dtype=compute_dtype)[1]

  def original_variable_names(self):
    if len(self.cores) == 1:
      names = base.core_variable_names('core_decoder/decoder', self.cores[0])
    else:
      names = {}
      for i, core in enumerate(self.cores):
        names.update(base.core_variable_names(f'core_decoder/core_decoder_{i}/decoder', core))
    for k, layer in enumerate(self.conductor.layers):  # no multi_rnn_cell/ in the conductor's path
      names[f'decoder/hierarchical_level_0/cell_{k}/lstm_cell/kernel'] = layer.kernel
      names[f'decoder/hierarchical_level_0/cell_{k}/lstm_cell/bias'] = layer.bias
    names['decoder/hierarchical_level_0/initial_state/kernel'] = self.conductor.initial_state.kernel
    names['decoder/hierarchical_level_0/initial_state/bias'] = self.conductor.initial_state.bias
    return names
