"""One LSTM layer in the original MusicVAE's variable layout, with a fused and a step-wise path.

Layout (the original's `LSTMBlockCell`, so its checkpoints map one to one): `kernel` has shape
`[input_size + units, 4 * units]`, its rows are `[x ; h]` and its column blocks are the gates
`(i, c~, f, o)`; `bias` has shape `[4 * units]`, starts at zero, and a forget bias of 1.0 is added at
run time (it is never stored). No peepholes, no cell clipping.

Two ways to run a whole sequence, chosen by `fused`:
- step-wise (the default): the input projection of every step is computed in one matmul outside the
  loop, and the loop does only `h @ W_h` and the gate arithmetic; its backward pass is written by
  hand (`stepwise_lstm`). Works under `jit_compile=True` and in bfloat16. The fastest path on the
  CPUs we measured (benchmarks/README.md): 2x the fused kernel at batch 64, 1.15x at batch 512.
- fused: `tf.raw_ops.BlockLSTM`, TensorFlow's fused kernel for a whole sequence and its gradient
  (the op the original runs on; same gate order). Not available under XLA, float32/float16 only.
  Its backward pass is slow at small batches, so it is kept for comparison only.
"""
import tensorflow as tf

FORGET_BIAS = 1.0


def dense_matmul(x, kernel):
  """`x @ kernel` for inputs of any leading shape [..., K] and a kernel [K, N].

  Flattened to one 2-D product: `tf.matmul` of a 3-D input would broadcast the kernel to every
  leading index, and its gradient would then build one kernel-sized tensor per time step.
  """
  flat = tf.matmul(tf.reshape(x, [-1, tf.shape(x)[-1]]), kernel)
  return tf.reshape(flat, tf.concat([tf.shape(x)[:-1], [tf.shape(kernel)[-1]]], 0))


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
      self.kernel = tf.Variable(glorot_uniform([input_size + units, 4 * units], seed), name='kernel')
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

  def step(self, input_gates, state, compute_dtype=tf.float32):
    """One step, given the input's contribution to the gates (`x @ W_x + bias`, [B, 4u])."""
    c, h = state
    gates = input_gates + tf.matmul(tf.cast(h, compute_dtype),
                                    tf.cast(self.recurrent_kernel, compute_dtype))
    gates = tf.cast(gates, tf.float32)
    i, j, f, o = tf.split(gates, 4, axis=-1)
    c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(j)
    h = tf.sigmoid(o) * tf.tanh(c)
    return c, h

  def project_inputs(self, x, compute_dtype=tf.float32):
    """`x @ W_x + bias` for inputs of any leading shape: the hoisted part of every step's gates."""
    gates = dense_matmul(tf.cast(x, compute_dtype), tf.cast(self.input_kernel, compute_dtype))
    return tf.cast(gates, compute_dtype) + tf.cast(self.gates_bias(), compute_dtype)

  def sequence(self, x, initial_state, fused=False, compute_dtype=tf.float32):
    """Runs time-major inputs `x` [T, B, input_size]; returns (h for every step [T, B, u], final state).

    The final state is the state after the last of the T steps; callers with shorter sequences pick
    the step they need from the returned outputs.
    """
    if fused and compute_dtype == tf.float32:
      return self._fused_sequence(x, initial_state)
    return self.sequence_from_gates(self.project_inputs(x, compute_dtype), initial_state, compute_dtype)

  def _fused_sequence(self, x, initial_state):
    c0, h0 = initial_state
    zeros = tf.zeros([self.units])
    _, cs, _, _, _, _, hs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=c0, h_prev=h0, w=self.kernel,
        wci=zeros, wcf=zeros, wco=zeros, b=self.bias, forget_bias=FORGET_BIAS, cell_clip=-1.0,
        use_peephole=False)
    return hs, (cs[-1], hs[-1])

  def sequence_from_gates(self, input_gates, initial_state, compute_dtype=tf.float32):
    """Runs precomputed input gates [T, B, 4u] (`x @ W_x + bias`, e.g. gathered rows for one-hot
    inputs); returns (h for every step [T, B, u], final state)."""
    hs, c, h = stepwise_lstm(input_gates, initial_state[0], initial_state[1],
                             tf.cast(self.recurrent_kernel, compute_dtype))
    return hs, (c, h)


def _gates(pre_activations):
  i, j, f, o = tf.split(pre_activations, 4, axis=-1)
  return tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f), tf.sigmoid(o)


@tf.custom_gradient
def stepwise_lstm(input_gates, c0, h0, recurrent_kernel):
  """An LSTM over precomputed input gates [T, B, 4u] (bias and forget bias included).

  Returns (h for every step [T, B, u] in float32, final c, final h). Matmuls run in the dtype of
  `recurrent_kernel` (float32 or bfloat16); cell arithmetic in float32.

  The gradient is written by hand, as TensorFlow's fused kernel does it: the backward loop does only
  the per-step `dgates @ W_h^T`; the weight gradient is one large matmul over all steps afterwards,
  instead of T small ones accumulated inside the loop.
  """
  dtype = recurrent_kernel.dtype

  def forward(carry, gates_x):
    c, h = carry[0], carry[1]
    pre = tf.cast(gates_x + tf.matmul(tf.cast(h, dtype), recurrent_kernel), tf.float32)
    i, j, f, o = _gates(pre)
    c = f * c + i * j
    h = o * tf.tanh(c)
    return c, h, tf.concat([i, j, f, o], -1)

  cs, hs, acts = tf.scan(forward, input_gates, initializer=(c0, h0, tf.tile(tf.zeros_like(c0), [1, 4])))

  def grad(d_hs, d_c_final, d_h_final):
    c_prev = tf.concat([c0[tf.newaxis], cs[:-1]], 0)
    h_prev = tf.concat([h0[tf.newaxis], hs[:-1]], 0)
    kernel_t = tf.transpose(recurrent_kernel)

    def backward(carry, step):
      d_c, d_h = carry[0], carry[1]
      d_h_out, c, c_before, act = step
      i, j, f, o = tf.split(act, 4, axis=-1)
      d_h = d_h + d_h_out
      tanh_c = tf.tanh(c)
      d_c = d_c + d_h * o * (1.0 - tanh_c ** 2)
      d_pre = tf.concat([d_c * j * i * (1.0 - i), d_c * i * (1.0 - j ** 2),
                         d_c * c_before * f * (1.0 - f), d_h * tanh_c * o * (1.0 - o)], -1)
      d_h_prev = tf.cast(tf.matmul(tf.cast(d_pre, dtype), kernel_t), tf.float32)
      return d_c * f, d_h_prev, d_pre

    # Gradients arriving at the final state start the backward recurrence at the last step.
    d_c_final = tf.zeros_like(c0) if d_c_final is None else d_c_final
    d_h_final = tf.zeros_like(h0) if d_h_final is None else d_h_final
    d_hs = tf.zeros_like(hs) if d_hs is None else d_hs
    d_cs, d_hs_prev, d_pres = tf.scan(backward, (d_hs, cs, c_prev, acts), reverse=True,
                                      initializer=(d_c_final, d_h_final, tf.zeros_like(acts[0])))
    units = tf.shape(h0)[-1]
    d_kernel = tf.matmul(tf.cast(tf.reshape(h_prev, [-1, units]), dtype),
                         tf.cast(tf.reshape(d_pres, [-1, 4 * units]), dtype), transpose_a=True)
    return tf.cast(d_pres, input_gates.dtype), d_cs[0], d_hs_prev[0], d_kernel

  return (hs, cs[-1], hs[-1]), grad
