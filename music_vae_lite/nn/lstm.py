"""One LSTM layer in the original MusicVAE's variable layout, with a fused and a step-wise path.

Layout (the original's `LSTMBlockCell`, so its checkpoints map one to one): `kernel` has shape
`[input_size + units, 4 * units]`, its rows are `[x ; h]` and its column blocks are the gates
`(i, c~, f, o)`; `bias` has shape `[4 * units]`, starts at zero, and a forget bias of 1.0 is added at
run time (it is never stored). No peepholes, no cell clipping.

Two ways to run a whole sequence, chosen by `fused`:
- step-wise (the default): the input projection of every step is computed in one matmul outside the
  loop, and the loop does only `h @ W_h` and the gate arithmetic; its backward pass is written by
  hand (`stepwise_lstm`). Works under `jit_compile=True` and in bfloat16. The fastest path on the
  CPUs we measured (benchmarks/README.md): a `cat-mel_2bar_small` training step runs 3.8x faster
  than with the fused kernel at batch 64 and 2x at batch 512.
- fused: `tf.raw_ops.BlockLSTM`, TensorFlow's fused kernel for a whole sequence and its gradient
  (the op the original runs on; same gate order). Not available under XLA, float32/float16 only.
  Its backward pass is slow at small batches, so it is kept for comparison only.

Built of it, for the encoders and decoders: `Dense` (a dense layer with the original's
initialisers), `LstmStack` (stacked layers plus the dense + tanh map from a code to their initial
states) and `split_seeds`.
"""
import tensorflow as tf

FORGET_BIAS = 1.0


def dense_matmul(x, kernel, bias=None):
  """`x @ kernel (+ bias)` for inputs of any leading shape [..., K], a kernel [K, N] and a bias [N].

  Flattened to one 2-D product: `tf.matmul` of a 3-D input would broadcast the kernel to every
  leading index, and its gradient would then build one kernel-sized tensor per time step. The bias
  goes in with `tf.nn.bias_add`, whose gradient (BiasAddGrad) is 4x faster than the generic
  broadcast-sum of `+` over [T * B, N].
  """
  flat = tf.matmul(tf.reshape(x, [-1, tf.shape(x)[-1]]), kernel)
  if bias is not None:
    flat = tf.nn.bias_add(flat, bias)
  return tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [tf.shape(kernel)[-1]]], 0))


def prepare_kernel(kernel, dtype):
  """`kernel` [K, N] cast to `dtype` and laid out for `times_kernel`, once, outside a loop.

  bfloat16 kernels are kept transposed ([N, K]): oneDNN's bf16 product with a transposed right
  operand is as fast or faster at every shape the models use, and about 2x faster at the batches
  of 2-16 rows of generation. float32 kernels stay as they are: there the transposed form is slower
  (up to 8x at 16 rows).
  """
  kernel = tf.cast(kernel, dtype)
  return tf.transpose(kernel) if dtype == tf.bfloat16 else kernel


def times_kernel(x, prepared_kernel):
  """`x @ kernel` for a kernel from `prepare_kernel`, in the kernel's dtype."""
  return tf.matmul(tf.cast(x, prepared_kernel.dtype), prepared_kernel,
                   transpose_b=prepared_kernel.dtype == tf.bfloat16)


def glorot_uniform(shape, seed):
  """TF1's default initializer for the LSTM kernel (glorot uniform over the whole [in+units, 4u])."""
  limit = (6.0 / (shape[0] + shape[1])) ** 0.5
  return tf.random.stateless_uniform(shape, seed=seed, minval=-limit, maxval=limit)


class LstmLayer(tf.Module):
  """A single LSTM layer; state is a `(c, h)` pair of `[batch, units]` tensors."""

  def __init__(self, input_size, units, seed, name='lstm_cell'):
    super().__init__(name=name)
    self.input_size = input_size
    self.units = units
    with self.name_scope:
      shape = [input_size + units, 4 * units]
      # A callable initial value, so that an importer can skip computing it (magenta_checkpoint).
      self.kernel = tf.Variable(lambda: glorot_uniform(shape, seed), shape=shape, name='kernel')
      self.bias = tf.Variable(tf.zeros([4 * units]), name='bias')

  @property
  def input_kernel(self):
    return self.kernel[:self.input_size]

  @property
  def recurrent_kernel(self):
    return self.kernel[self.input_size:]

  def gates_bias(self):
    """The bias with the run-time forget bias folded in (gate blocks i, c~, f, o)."""
    u = self.units
    return self.bias + tf.concat([tf.zeros([2 * u]), tf.fill([u], FORGET_BIAS), tf.zeros([u])], 0)

  def zero_state(self, batch_size, dtype=tf.float32):
    zeros = tf.zeros([batch_size, self.units], dtype)
    return zeros, zeros

  def project_inputs(self, x, compute_dtype=tf.float32, input_kernel=None):
    """`x @ W_x + bias` for inputs of any leading shape: the hoisted part of every step's gates."""
    input_kernel = self.input_kernel if input_kernel is None else input_kernel
    return dense_matmul(tf.cast(x, compute_dtype), tf.cast(input_kernel, compute_dtype),
                        tf.cast(self.gates_bias(), compute_dtype))

  def split_kernel(self, *input_sizes):
    """The kernel's row blocks: inputs of `input_sizes` (summing to input_size), then W_h.

    One `tf.split` rather than several slices: its gradient is one concat, where every slice's
    gradient would build a zero tensor of the whole kernel's size.
    """
    return tf.split(self.kernel, list(input_sizes or [self.input_size]) + [self.units], axis=0)

  def sequence(self, x, initial_state, fused=False, compute_dtype=tf.float32):
    """Runs time-major inputs `x` [T, B, input_size]; returns (h for every step [T, B, u], final state).

    The final state is the state after the last of the T steps; callers with shorter sequences pick
    the step they need from the returned outputs.
    """
    if fused and compute_dtype == tf.float32:
      return self._fused_sequence(x, initial_state)
    input_kernel, recurrent_kernel = self.split_kernel()
    return self.sequence_from_gates(self.project_inputs(x, compute_dtype, input_kernel),
                                    initial_state, compute_dtype, recurrent_kernel)

  def _fused_sequence(self, x, initial_state):
    c0, h0 = initial_state
    zeros = tf.zeros([self.units])
    _, cs, _, _, _, _, hs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=c0, h_prev=h0, w=self.kernel,
        wci=zeros, wcf=zeros, wco=zeros, b=self.bias, forget_bias=FORGET_BIAS, cell_clip=-1.0,
        use_peephole=False)
    return hs, (cs[-1], hs[-1])

  def sequence_from_gates(self, input_gates, initial_state, compute_dtype=tf.float32,
                          recurrent_kernel=None):
    """Runs precomputed input gates [T, B, 4u] (`x @ W_x + bias`, e.g. gathered rows for one-hot
    inputs); returns (h for every step [T, B, u], final state). `recurrent_kernel`: W_h, when the
    caller has split the kernel already (see split_kernel)."""
    recurrent_kernel = self.recurrent_kernel if recurrent_kernel is None else recurrent_kernel
    hs, c, h = stepwise_lstm(input_gates, initial_state[0], initial_state[1],
                             tf.cast(recurrent_kernel, compute_dtype))
    return hs, (c, h)


def cell(pre_activations, c):
  """The LSTM cell's arithmetic, in float32: (new c, new h, activations) from the gate
  pre-activations [B, 4u] (any float dtype) and the previous c. `activations` are what the
  backward pass needs: the gates (i, c~, f, o) and tanh(new c)."""
  i, j, f, o = tf.split(tf.cast(pre_activations, tf.float32), 4, axis=-1)
  i, j, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f), tf.sigmoid(o)
  c = f * c + i * j
  tanh_c = tf.tanh(c)
  return c, o * tanh_c, (i, j, f, o, tanh_c)


def _steps_array(size, like, width=None, dtype=tf.float32):
  """A TensorArray of `size` steps shaped like `like` ([B, u]), or [B, width]."""
  shape = like.shape if width is None else tf.TensorShape([like.shape[0], width])
  # Not cleared after a read: eager mode would otherwise free a step's value once read.
  return tf.TensorArray(dtype, size=size, element_shape=shape, clear_after_read=False)


@tf.custom_gradient
def stepwise_lstm(input_gates, c0, h0, recurrent_kernel):
  """An LSTM over precomputed input gates [T, B, 4u] (bias and forget bias included).

  Returns (h for every step [T, B, u] in float32, final c, final h). Matmuls run in the dtype of
  `recurrent_kernel` (float32 or bfloat16); cell arithmetic in float32.

  The gradient is written by hand, as TensorFlow's fused kernel does it: the backward loop does only
  the per-step `dgates @ W_h^T` and the gate derivatives (with the fused SigmoidGrad and TanhGrad
  ops, one op each); the weight gradient is one large matmul over all steps afterwards, instead of
  T small ones accumulated inside the loop.

  Both loops are plain `tf.while_loop`s rather than `tf.scan`, to copy less: a step reads its input
  as a slice of a contiguous tensor (no copy); the cell states, gates and tanh(c) the backward pass
  needs stay in TensorArrays, one per quantity (never concatenated, split or stacked); the backward
  loop carries the state gradients instead of stacking them. Together these make a layer's forward
  and backward pass about 20 % faster than `tf.scan` with one concatenated activation tensor at
  `cat-mel_2bar_small`'s shapes.
  """
  dtype = recurrent_kernel.dtype
  num_steps = tf.shape(input_gates)[0]
  forward_kernel = prepare_kernel(recurrent_kernel, dtype)

  def forward(t, c, h, hs, cs, activations):
    c, h, step_activations = cell(input_gates[t] + times_kernel(h, forward_kernel), c)
    return (t + 1, c, h, hs.write(t, h), cs.write(t + 1, c),
            tuple(array.write(t, a) for array, a in zip(activations, step_activations)))

  # cs holds T + 1 states: c0 first, so step t reads its previous state at index t.
  _, c, h, hs, cs, activations = tf.while_loop(
      lambda t, *_: t < num_steps, forward,
      (0, c0, h0, _steps_array(num_steps, h0), _steps_array(num_steps + 1, c0).write(0, c0),
       tuple(_steps_array(num_steps, c0) for _ in range(5))))
  hs = hs.stack()

  def grad(d_hs, d_c_final, d_h_final):
    # d_pre @ W_h^T, with W_h^T laid out like any kernel (for bf16 that is W_h itself).
    backward_kernel = prepare_kernel(tf.transpose(recurrent_kernel), dtype)

    def backward(t, d_c, d_h, d_pres):
      i, j, f, o, tanh_c = (array.read(t) for array in activations)
      d_h = d_h + d_hs[t]
      d_c = d_c + tf.raw_ops.TanhGrad(y=tanh_c, dy=d_h * o)
      d_pre = tf.concat([tf.raw_ops.SigmoidGrad(y=i, dy=d_c * j),
                         tf.raw_ops.TanhGrad(y=j, dy=d_c * i),
                         tf.raw_ops.SigmoidGrad(y=f, dy=d_c * cs.read(t)),
                         tf.raw_ops.SigmoidGrad(y=o, dy=d_h * tanh_c)], -1)
      d_pre = tf.cast(d_pre, dtype)  # stored in the matmul dtype: no second cast after the loop
      d_h_prev = tf.cast(times_kernel(d_pre, backward_kernel), tf.float32)
      return t - 1, d_c * f, d_h_prev, d_pres.write(t, d_pre)

    # Gradients arriving at the final state start the backward recurrence at the last step.
    d_c_final = tf.zeros_like(c0) if d_c_final is None else d_c_final
    d_h_final = tf.zeros_like(h0) if d_h_final is None else d_h_final
    d_hs = tf.zeros_like(hs) if d_hs is None else d_hs
    _, d_c0, d_h0, d_pres = tf.while_loop(
        lambda t, *_: t >= 0, backward,
        (num_steps - 1, d_c_final, d_h_final,
         _steps_array(num_steps, c0, recurrent_kernel.shape[1], dtype)))
    d_pres = d_pres.stack()
    # The weight gradient sums h_{t-1}^T d_pre_t over steps: h0 for the first, hs[:-1] after.
    units = recurrent_kernel.shape[0]
    d_kernel = tf.matmul(tf.cast(h0, dtype), d_pres[0], transpose_a=True) + tf.matmul(
        tf.cast(tf.reshape(hs[:-1], [-1, units]), dtype),
        tf.reshape(d_pres[1:], [-1, 4 * units]), transpose_a=True)
    return tf.cast(d_pres, input_gates.dtype), d_c0, d_h0, d_kernel

  return (hs, c, h), grad


def input_dropout(x, keep_prob, seed):
  """`x` with each value kept with probability `keep_prob` and scaled by 1 / keep_prob, else 0
  (the original's DropoutWrapper(input_keep_prob)): a fresh draw for every value, step and
  example, from the stateless `seed`. `seed` None or keep_prob 1: `x` itself."""
  if seed is None or keep_prob >= 1.0:
    return x
  return tf.nn.experimental.stateless_dropout(x, rate=1.0 - keep_prob, seed=seed)


def split_seeds(seed, count):
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
        kernel = lambda: glorot_uniform(shape, seed)
      else:
        kernel = lambda: tf.random.stateless_normal(shape, seed=seed, stddev=stddev)
      # A callable initial value, so that an importer can skip computing it (magenta_checkpoint).
      self.kernel = tf.Variable(kernel, shape=shape, name='kernel')
      self.bias = tf.Variable(tf.zeros([units]), name='bias')

  def __call__(self, x):
    y = dense_matmul(x, self.kernel, self.bias)
    return self.activation(y) if self.activation else y


class LstmStack(tf.Module):
  """Stacked LSTM layers (the original's MultiRNNCell) plus the dense + tanh map from a code
  (z, or a conductor embedding) to the initial state of every layer, packed `[c0, h0, c1, h1, ...]`."""

  def __init__(self, input_size, sizes, code_size, seed, name=None):
    super().__init__(name=name)
    seeds = split_seeds(seed, len(sizes) + 1)
    with self.name_scope:
      self.layers = []
      for k, units in enumerate(sizes):
        layer_input = input_size if k == 0 else sizes[k - 1]
        self.layers.append(LstmLayer(layer_input, units, seeds[k], name=f'cell_{k}'))
      self.initial_state = Dense(code_size, 2 * sum(sizes), seeds[-1], stddev=0.001,
                                 activation=tf.tanh, name='initial_state')

  def initial_states(self, code):
    """Initial `(c, h)` of every layer from a code [N, code_size]."""
    flat = tf.split(self.initial_state(code), [u for u in self.sizes for _ in (0, 1)], axis=-1)
    return [(flat[2 * k], flat[2 * k + 1]) for k in range(len(self.layers))]

  @property
  def sizes(self):
    return [layer.units for layer in self.layers]

  def run(self, x, states, fused, compute_dtype, dropout_keep_prob=1.0, dropout_seed=None):
    """All layers over time-major inputs [T, N, input]; returns the top layer's outputs [T, N, u].
    With a `dropout_seed`, every layer's input goes through `input_dropout` first."""
    seeds = ([None] * len(self.layers) if dropout_seed is None
             else split_seeds(dropout_seed, len(self.layers)))
    for layer, state, seed in zip(self.layers, states, seeds):
      x = input_dropout(x, dropout_keep_prob, seed)
      x, _ = layer.sequence(x, state, fused=fused, compute_dtype=compute_dtype)
    return x

  def step_weights(self, batch_size, compute_dtype):
    """The weights `step` multiplies, prepared once, outside the loop that calls `step`: layer 0's
    W_h (its input gates come precomputed), then each higher layer's whole [x; h] kernel and its
    bias broadcast to [batch_size, 4u]. (Added as a 1-D bias, grappler would fuse it into the
    matmul, and that fused kernel is 1.3x slower per step at generation's batch sizes.)"""
    weights = [prepare_kernel(self.layers[0].recurrent_kernel, compute_dtype)]
    for layer in self.layers[1:]:
      bias = tf.cast(layer.gates_bias(), compute_dtype)
      weights.append((prepare_kernel(layer.kernel, compute_dtype),
                      tf.broadcast_to(bias, [batch_size, 4 * layer.units])))
    return weights

  def step(self, first_layer_gates, states, weights):
    """One step of every layer, given layer 0's input gates and `step_weights`; returns (top h,
    new states). Higher layers multiply [x; h] by their kernel in one matmul, not two: at the small
    batches of generation a step is bound by reading the weights, once each."""
    c, h = states[0]
    c, h, _ = cell(first_layer_gates + times_kernel(h, weights[0]), c)
    new_states = [(c, h)]
    for (c, h), (kernel, bias) in zip(states[1:], weights[1:]):
      x_h = tf.concat([new_states[-1][1], h], -1)
      c, h, _ = cell(times_kernel(x_h, kernel) + bias, c)
      new_states.append((c, h))
    return new_states[-1][1], new_states
