"""One LSTM layer in the original MusicVAE's variable layout, with a fused and a step-wise path.

Layout (the original's `LSTMBlockCell`, so its checkpoints map one to one): `kernel` has shape
`[input_size + units, 4 * units]`, its rows are `[x ; h]` and its column blocks are the gates
`(i, c~, f, o)`; `bias` has shape `[4 * units]`, starts at zero, and a forget bias of 1.0 is added at
run time (it is never stored). No peepholes, no cell clipping.

Two ways to run a whole sequence, chosen by `fused`:
- fused: `tf.raw_ops.BlockLSTM`, TensorFlow's fused kernel for a whole sequence and its gradient
  (the op the original runs on; same gate order). Not available under XLA, float32/float16 only.
- step-wise: the input projection of every step is computed in one matmul outside the loop, and the
  loop does only `h @ W_h` and the gate arithmetic. Works under `jit_compile=True` and in bfloat16.
"""
import tensorflow as tf

FORGET_BIAS = 1.0


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
    gates = tf.matmul(tf.cast(x, compute_dtype), tf.cast(self.input_kernel, compute_dtype))
    return tf.cast(gates, compute_dtype) + tf.cast(self.gates_bias(), compute_dtype)

  def sequence(self, x, initial_state, fused=True, compute_dtype=tf.float32):
    """Runs time-major inputs `x` [T, B, input_size]; returns (h for every step [T, B, u], final state).

    The final state is the state after the last of the T steps; callers with shorter sequences pick
    the step they need from the returned outputs.
    """
    if fused and compute_dtype == tf.float32:
      return self._fused_sequence(x, initial_state)
    return self._stepwise_sequence(self.project_inputs(x, compute_dtype), initial_state, compute_dtype)

  def _fused_sequence(self, x, initial_state):
    c0, h0 = initial_state
    zeros = tf.zeros([self.units])
    _, cs, _, _, _, _, hs = tf.raw_ops.BlockLSTM(
        seq_len_max=tf.cast(tf.shape(x)[0], tf.int64), x=x, cs_prev=c0, h_prev=h0, w=self.kernel,
        wci=zeros, wcf=zeros, wco=zeros, b=self.bias, forget_bias=FORGET_BIAS, cell_clip=-1.0,
        use_peephole=False)
    return hs, (cs[-1], hs[-1])

  def _stepwise_sequence(self, input_gates, initial_state, compute_dtype):
    num_steps = input_gates.shape[0]
    outputs = tf.TensorArray(tf.float32, size=num_steps)
    state = initial_state
    for t in tf.range(num_steps):
      state = self.step(input_gates[t], state, compute_dtype)
      outputs = outputs.write(t, state[1])
    return outputs.stack(), state
