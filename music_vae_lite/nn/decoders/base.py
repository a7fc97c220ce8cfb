"""The decoder contract: what training, evaluation, inference and export call on a decoder p(x|z),
whatever its output distribution (one module per distribution beside this one; registry.py names
them for config.model.decoder).

A decoder is built for a family (families/contract.py) and reconstructs the family's target
arrays, in the form `family.targets` gives them (one tensor for a family with one target array,
e.g. labels int32 [B, T, P]; else {name: tensor}), conditioned on the family's per-step controls
where it has them. It owns its output distribution:
- `reconstruct(z, targets, sampling_probability, controls, *, seed, fused, compute_dtype)`: the
  distribution's parameters for every step ("outputs", e.g. logits [B, T, W]) given z [B, Z],
  teacher forced (sampling probability 0) or with scheduled sampling, where each step is fed the
  decoder's own sample with that probability. What is fed back is the decoder's business: a
  class (categorical), real values (GrooVAE), a multi-hot vector (NADE).
  A decoder with dropout (`DROPOUT`: config.model.dropout_keep_prob on its layers' inputs) also
  takes `dropout_seed` (a training step's stateless seed; None: no dropout).
- `reconstruction_loss(outputs, targets, lengths)`: (r_loss [B]: -log p(x|z) in nats, summed
  over the valid steps, {name: Metric}): the figures it reports. Training summaries write each
  Metric's value as `metrics/<name>`; the evaluator averages each over batches weighted by its
  weight (`metrics/teacher_forced_<name>`, `metrics/sampled_<name>`). A name 'x/<part>' is part
  <part>'s share of 'x' (mvl_evaluate lists them under `parts`).
- `sample(z, temperature, controls, *, seed, compute_dtype)`: free-running targets (the same
  structure as `targets`); temperature 0 is the most likely value at every step.
- `original_variable_names()`: {name in the original's checkpoints: variable}.
- `OPTIONS`: its options in `config.decoder` with their defaults (keyword arguments of its
  constructor); `options(config.decoder)` checks them.
Every decoder is constructed as `cls(family, model_config, seed, **options)`.
"""
from typing import NamedTuple

import tensorflow as tf

from music_vae_lite import config_lib


class Metric(NamedTuple):
  """A figure a decoder reports for a batch: its `value` (a scalar) and the `weight` of the batch
  in a mean over batches (e.g. its windows, or its note-on steps for a note-on accuracy)."""
  value: tf.Tensor
  weight: tf.Tensor


class Decoder(tf.Module):
  """The contract of every decoder p(x|z); see the module docstring.

  Args:
    family: the data family (contract.Converter) whose target arrays it writes.
    num_steps: steps per window (family.window_steps).
  """
  OPTIONS = {}
  name_in_config = None  # the registry name, for messages
  DROPOUT = False  # whether reconstruct takes a dropout_seed (config.model.dropout_keep_prob)

  def __init__(self, family, num_steps, name=None):
    super().__init__(name=name)
    self.family = family
    self.num_steps = num_steps
    self.control_depth = family.control_depth

  @classmethod
  def options(cls, decoder_config=None):
    """`OPTIONS` updated by `config.decoder`; ValueError naming an option it does not have."""
    return config_lib.owner_options(cls.OPTIONS, decoder_config, 'decoder',
                                    f'the {cls.name_in_config or cls.__name__} decoder')

  def reconstruct(self, z, targets, sampling_probability=0.0, controls=None, *, seed, fused=False,
                  compute_dtype=tf.float32):
    raise NotImplementedError

  def reconstruction_loss(self, outputs, targets, lengths):
    raise NotImplementedError

  def sample(self, z, temperature=1.0, controls=None, *, seed, compute_dtype=tf.float32):
    raise NotImplementedError

  def original_variable_names(self):
    raise NotImplementedError


def fed_values(targets, sampling_probability, scheduled):
  """What each step gets as its next input: the targets under teacher forcing, else what
  `scheduled()` (a pass that feeds back the decoder's own samples with `sampling_probability`)
  fed. A Python 0 decides at graph-build time, a tensor at run time."""
  if isinstance(sampling_probability, (int, float)):
    return scheduled() if sampling_probability > 0 else targets
  return tf.cond(sampling_probability > 0, scheduled, lambda: targets)


def core_variable_names(prefix, core):
  """The original's names of an autoregressive LSTM decoder's weights: `core` has `.rnn` (an
  lstm stack with `.layers` and `.initial_state`) and `.output_projection`."""
  names = {}
  for k, layer in enumerate(core.rnn.layers):
    names[f'{prefix}/multi_rnn_cell/cell_{k}/lstm_cell/kernel'] = layer.kernel
    names[f'{prefix}/multi_rnn_cell/cell_{k}/lstm_cell/bias'] = layer.bias
  for dense, name in ((core.rnn.initial_state, 'z_to_initial_state'),
                      (core.output_projection, 'output_projection')):
    names.update({f'{prefix}/{name}/kernel': dense.kernel, f'{prefix}/{name}/bias': dense.bias})
  return names
