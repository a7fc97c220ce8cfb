"""The flat autoregressive LSTM loop of decoders whose steps read back a vector of real values (the
original's BaseLstmDecoder with a float sample): one implementation, which NADE's multi-hot drum
rolls (nade.py, through `VectorLstm`) and GrooVAE's hits, velocities and offsets (groove.py,
through the module functions on its own `rnn` and `output_projection`) both run.

z sets the initial state of every layer (dense + tanh, `z_to_initial_state`); each step's input
is `[previous step's values (zeros at t = 0); z; controls]`, the original's order; the output
projection of the top layer's h gives the step's outputs, which the decoder that owns this LSTM
interprets (its distribution's parameters) and samples from. Variables are laid out and named as
every flat decoder's (`base.core_variable_names`).

The loop is written as functions of the LSTM stack and the output projection rather than only as
methods of `VectorLstm`, because the groove decoder holds those two as its own attributes: runs
trained since the groove family landed save them at `decoder/rnn/...` and
`decoder/output_projection/...` in the checkpoint's object graph, where a `VectorLstm` attribute
would move them to `decoder/core/...` and break restoring those runs.
"""
import tensorflow as tf

from music_vae_lite.nn import lstm


def check_controls(control_depth, controls, batch_size, num_steps):
  """The controls as float32 [B, T, C] ([B, T, 0] when `control_depth` is 0); ValueError when
  the decoder is conditioned on controls and none are given."""
  if not control_depth:
    return tf.zeros([batch_size, num_steps, 0])
  if controls is None:
    raise ValueError(f'This decoder is conditioned on {control_depth} controls per step; '
                     'pass controls [B, T, C].')
  return tf.cast(controls, tf.float32)


def teacher_forced(rnn, output_projection, z, fed, controls=None, *, control_depth, fused=False,
                   compute_dtype=tf.float32, dropout_keep_prob=1.0, dropout_seed=None):
  """Outputs [B, T, W] of `rnn` (an lstm.LstmStack) and `output_projection` (an lstm.Dense)
  given z [B, Z] and the values fed [B, T, V] (step t reads step t - 1's), in one pass over the
  whole sequence; with a `dropout_seed`, every layer's input dropout (lstm.LstmStack.run)."""
  batch_size, num_steps = tf.shape(fed)[0], fed.shape[1]
  fed = tf.cast(fed, tf.float32)
  previous = tf.concat([tf.zeros_like(fed[:, :1]), fed[:, :-1]], axis=1)
  codes = tf.broadcast_to(z[:, tf.newaxis], [batch_size, num_steps, z.shape[-1]])
  inputs = tf.concat([previous, codes,
                      check_controls(control_depth, controls, batch_size, num_steps)], axis=-1)
  outputs = rnn.run(tf.transpose(inputs, [1, 0, 2]), rnn.initial_states(z), fused, compute_dtype,
                    dropout_keep_prob, dropout_seed)
  return tf.transpose(output_projection(outputs), [1, 0, 2])


def autoregressive(rnn, output_projection, value_depth, z, num_steps, sample_step, *,
                   control_depth, targets=None, controls=None, sampling_probability=0.0,
                   temperature=1.0, seed, compute_dtype=tf.float32):
  """Step-by-step decoding of `rnn` and `output_projection` that feeds back samples.

  `sample_step(outputs [N, W], temperature, seed)` -> the step's values [N, V] (float32,
  V = `value_depth`). Without `targets`: free-running at `temperature`. With `targets` [B, T, V]
  (scheduled sampling): at every step each example feeds back its own sample (at `temperature`)
  with probability `sampling_probability`, else the targets. Returns (outputs [B, T, W], the
  values sampled or fed [B, T, V]).
  """
  batch_size = tf.shape(z)[0]
  controls = check_controls(control_depth, controls, batch_size, num_steps)
  states = rnn.initial_states(z)
  input_kernel, _ = rnn.layers[0].split_kernel()
  weights = rnn.step_weights(batch_size, compute_dtype)
  step_seeds = tf.random.experimental.stateless_split(seed, num_steps)
  outputs_ta = tf.TensorArray(tf.float32, size=num_steps)
  values_ta = tf.TensorArray(tf.float32, size=num_steps)
  value = tf.zeros([batch_size, value_depth])
  for t in tf.range(num_steps):
    step_input = tf.concat([value, z, controls[:, t]], axis=-1)
    gates = rnn.layers[0].project_inputs(step_input, compute_dtype, input_kernel)
    top, states = rnn.step(gates, states, weights)
    outputs = tf.cast(output_projection(top), tf.float32)
    sample_seed, coin_seed = lstm.split_seeds(step_seeds[t], 2)
    sampled = sample_step(outputs, temperature, sample_seed)
    if targets is None:
      value = sampled
    else:
      use_sample = tf.random.stateless_uniform([batch_size], coin_seed) < sampling_probability
      value = tf.where(use_sample[:, tf.newaxis], sampled, tf.cast(targets[:, t], tf.float32))
    outputs_ta = outputs_ta.write(t, outputs)
    values_ta = values_ta.write(t, value)
  return (tf.transpose(outputs_ta.stack(), [1, 0, 2]),
          tf.transpose(values_ta.stack(), [1, 0, 2]))


class VectorLstm(tf.Module):
  """An LSTM stack fed back `value_depth` real values per step, giving `output_depth` outputs:
  the loop above on its own variables.

  Args:
    value_depth: width of the values fed back (the targets of a step).
    output_depth: width of the output projection.
    sizes: the layers' units (config.model.dec_rnn_size).
    z_size: width of the code z.
    control_depth: width of the per-step controls (0: none).
    seed: stateless seed [2] of the initial weights.
  """

  def __init__(self, value_depth, output_depth, sizes, z_size, control_depth, seed,
               name='decoder'):
    super().__init__(name=name)
    self.value_depth, self.output_depth = int(value_depth), int(output_depth)
    self.control_depth = int(control_depth)
    seeds = lstm.split_seeds(seed, 2)
    with self.name_scope:
      self.rnn = lstm.LstmStack(self.value_depth + z_size + self.control_depth, sizes, z_size,
                                seeds[0], name='rnn')
      self.output_projection = lstm.Dense(sizes[-1], self.output_depth, seeds[1],
                                          name='output_projection')

  def teacher_forced(self, z, fed, controls=None, fused=False, compute_dtype=tf.float32):
    """Outputs [B, T, W] given z [B, Z] and the values fed [B, T, V]; see `teacher_forced`."""
    return teacher_forced(self.rnn, self.output_projection, z, fed, controls,
                          control_depth=self.control_depth, fused=fused,
                          compute_dtype=compute_dtype)

  def autoregressive(self, z, num_steps, sample_step, *, targets=None, controls=None,
                     sampling_probability=0.0, temperature=1.0, seed,
                     compute_dtype=tf.float32):
    """Step-by-step decoding that feeds back samples; see `autoregressive`."""
    return autoregressive(self.rnn, self.output_projection, self.value_depth, z, num_steps,
                          sample_step, control_depth=self.control_depth, targets=targets,
                          controls=controls, sampling_probability=sampling_probability,
                          temperature=temperature, seed=seed, compute_dtype=compute_dtype)
