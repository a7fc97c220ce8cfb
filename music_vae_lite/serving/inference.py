"""Inference apart from training: a `tf.Module` whose methods encode, decode, sample and interpolate.

    module = InferenceModule(model, config, converter)       # model: a restored models.MusicVAE
    out = module.sample(tf.constant(4), tf.constant(0.5), tf.constant([1, 0]))   # out['tokens']

Every method is a `tf.function` with a fixed input signature (any batch size, one trace each), so
the module is what `TrainedModel` calls and what `tf.saved_model.save` exports as it is (see
export.py): each method takes and returns tensors only, in dictionaries with named outputs.
This module imports the network (models.py, via model_registry) but never the training loop.

Randomness is stateless: every method that draws takes an int32 `seed` [2], and the same seed gives
the same result, in Python and in a loaded SavedModel. Temperature 0 decodes greedily (argmax).

What decode, sample and interpolate return is the family's (`contract.Converter.export_outputs`).
A label family (melody, drums, trio, chords) returns tokens [N, T, P]: one column per part
(melody; drums; or melody, bass, drums for trio), what a client turns into notes, described by
`metadata()` (JSON). Melody-kind tokens are 0 no event (the previous note goes on), 1 note off,
k >= 2 note on of MIDI pitch k + 19; `<part>_events` [N, T] gives the same steps as MIDI pitches
with -2 for no event and -1 for note off (note_seq's melody convention). Drum tokens are 9-bit masks
(bit c: drum class c is hit); `drum_hits` [N, T, 9] unpacks them, and the metadata lists each
class's MIDI pitches (the first is the one to play).

A family with controls (chords: 49 triad classes) takes them as one more input of decode, sample
and interpolate: `controls` [T] (the same for every row; the family's control spec), and the
encoder's inputs carry their one-hot after the parts'.
"""
import json

import tensorflow as tf

# The encoding of what decode/sample/interpolate return, for clients without music_vae_lite.
METADATA_VERSION = 1


def encoding_metadata(config, converter):
  """A JSON-serialisable description of the model's inputs and outputs (the family's
  `describe()`), and its config."""
  return {'format': 'music_vae_lite', 'version': METADATA_VERSION,
          'encoding': converter.describe(), 'config': config.to_dict()}


def slerp(p0, p1, t):
  """Spherical interpolation between vectors p0, p1 [D] at fractions t [K]: [K, D], in float64.

  Falls back to linear interpolation where the angle is about 0 (or 180 degrees) or a vector is
  zero, where slerp's 1/sin(omega) is undefined."""
  p0, p1 = tf.cast(p0, tf.float64), tf.cast(p1, tf.float64)
  t = tf.reshape(tf.cast(t, tf.float64), [-1, 1])
  norm0, norm1 = tf.norm(p0), tf.norm(p1)
  nonzero = tf.logical_and(norm0 > 0, norm1 > 0)
  tiny = tf.constant(1e-300, tf.float64)
  cos_omega = tf.clip_by_value(
      tf.reduce_sum(p0 / tf.maximum(norm0, tiny) * (p1 / tf.maximum(norm1, tiny))), -1.0, 1.0)
  omega = tf.acos(cos_omega)
  sin_omega = tf.sin(omega)
  linear = tf.logical_or(tf.logical_not(nonzero), tf.abs(sin_omega) < 1e-6)
  lerp = (1.0 - t) * p0 + t * p1
  spherical = ((tf.sin((1.0 - t) * omega) * p0 + tf.sin(t * omega) * p1)
               / tf.where(linear, tf.ones_like(sin_omega), sin_omega))
  return tf.where(linear, lerp, spherical)


def interpolation_points(z_start, z_end, num_steps):
  """num_steps points [num_steps, D] (float32) along the slerp from z_start to z_end, ends included."""
  fractions = tf.linspace(tf.constant(0.0, tf.float64), 1.0, num_steps)
  return tf.cast(slerp(z_start, z_end, fractions), tf.float32)


class InferenceModule(tf.Module):
  """A MusicVAE's inference operations as `tf.function`s (exportable with tf.saved_model.save).

  Args:
    model: a models.MusicVAE (its variables restored).
    config: the run's ConfigDict (carried in `metadata()`).
    converter: its data family (contract.Converter): inputs, controls, exported outputs.
    compute_dtype: the matmul dtype (tf.float32 or tf.bfloat16).
    fused: run the encoder with the fused LSTM kernel (model_registry.use_fused_kernels).
  """

  def __init__(self, model, config, converter, compute_dtype=tf.float32, fused=False,
               name='music_vae_inference'):
    super().__init__(name=name)
    self.model = model
    self.converter = converter
    self.encoding = converter.encoding
    self._dtype = tf.as_dtype(compute_dtype)
    self._fused = fused
    self._metadata_json = json.dumps(encoding_metadata(config, converter), sort_keys=True)
    num_steps, z_size = converter.window_steps, model.z_size
    seed = tf.TensorSpec([2], tf.int32, name='seed')
    temperature = tf.TensorSpec([], tf.float32, name='temperature')
    # Each method is a tf.function made here, where the shapes are known; as attributes of a
    # tf.Module they are saved with it.
    self.encode = tf.function(self._encode, input_signature=[
        tf.TensorSpec([None, num_steps, converter.input_depth], tf.float32, name='inputs'),
        tf.TensorSpec([None], tf.int32, name='lengths'), seed])
    # A conditioned family's methods take its controls (e.g. [T]) as their last input.
    control = converter.control_spec
    controls = ([tf.TensorSpec(control.shape, control.dtype, name='controls')]
                if control is not None else [])
    self.decode = tf.function(self._decode, input_signature=[
        tf.TensorSpec([None, z_size], tf.float32, name='z'), temperature, seed] + controls)
    self.sample = tf.function(self._sample, input_signature=[
        tf.TensorSpec([], tf.int32, name='n'), temperature, seed] + controls)
    self.interpolate = tf.function(self._interpolate, input_signature=[
        tf.TensorSpec([z_size], tf.float32, name='z_start'),
        tf.TensorSpec([z_size], tf.float32, name='z_end'),
        tf.TensorSpec([], tf.int32, name='num_steps'), temperature, seed] + controls)
    self.metadata = tf.function(self._metadata, input_signature=[])

  def signatures(self):
    """{name: concrete function} for tf.saved_model.save; serving_default is `sample`."""
    functions = {name: getattr(self, name).get_concrete_function()
                 for name in ('encode', 'decode', 'sample', 'interpolate', 'metadata')}
    functions['serving_default'] = functions['sample']
    return functions

  # The bodies, traced once each by the tf.functions above.

  def _encode(self, inputs, lengths, seed):
    """The posterior of inputs [N, T, D] of the given lengths [N]: {z (a draw), mu, sigma}."""
    posterior = self.model.posterior(inputs, lengths, self._fused, self._dtype)
    mu, sigma = posterior.mean(), posterior.stddev()
    z = mu + sigma * tf.random.stateless_normal(tf.shape(mu), seed)
    return {'z': z, 'mu': mu, 'sigma': sigma}

  def _tokens_and_events(self, z, temperature, seed, controls):
    if controls is not None:  # the same controls for every row
      controls = tf.broadcast_to(controls, tf.concat([tf.shape(z)[:1], tf.shape(controls)], 0))
    samples = self.model.decoder.sample(z, temperature, controls, seed=seed,
                                        compute_dtype=self._dtype)
    return self.converter.export_outputs(samples)

  def _decode(self, z, temperature, seed, controls=None):
    """The family's outputs (tokens [N, T, P] and each part's events or drum_hits for a label
    family) decoded from z [N, z_size]."""
    return self._tokens_and_events(z, temperature, seed, controls)

  def _sample(self, n, temperature, seed, controls=None):
    """n draws from the prior: {z [n, z_size], and the family's outputs}."""
    z_seed, decode_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    z = tf.random.stateless_normal(tf.stack([n, self.model.z_size]), z_seed)
    return dict(self._tokens_and_events(z, temperature, decode_seed, controls), z=z)

  def _interpolate(self, z_start, z_end, num_steps, temperature, seed, controls=None):
    """Decodes num_steps points of the slerp from z_start to z_end, both ends included."""
    z = interpolation_points(z_start, z_end, num_steps)
    return dict(self._tokens_and_events(z, temperature, seed, controls), z=z)

  def _metadata(self):
    """The encoding and config as JSON (see encoding_metadata)."""
    return {'metadata_json': tf.constant(self._metadata_json)}
