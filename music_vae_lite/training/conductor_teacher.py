"""A trained short model teaches a hierarchical model's conductor what to say (not in the original).

    mvl_train --config=cpu-hier-mel_16bar --init_from=runs/quickstart \
        --config.train.conductor_teacher=runs/quickstart

Why. A 16-bar model started from the 2-bar quick start (`cpu-hier-mel_16bar`) gets its bar decoder
from the 2-bar decoder, which writes a 2-bar segment from a 256-wide code; but its conductor, which
must emit those codes, starts random, and it learns them only through the reconstruction loss, one
LSTM removed (benchmarks/README.md, "16 bars"). The 2-bar model's encoder already knows a good code
for every segment: its posterior q2(c | segment). This module adds to the training loss, for every
segment k of every window, the conductor's embedding e_k scored under that posterior:

    conductor_nats = sum_k sum_d (e_kd - mu2_kd)^2 / (2 sigma2_kd^2)        [B], nats

i.e. -log q2(e_k | segment k) up to its constant: dimensions the 2-bar model is sure of count most,
those it leaves near the prior hardly at all. loss += conductor_teacher_weight * mean(conductor_nats).
The teacher's weights never change (its outputs are constants to the gradient). The term only
trains; evaluation and the reported ELBO leave it out, so runs with and without it compare.
"""

from absl import logging
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite.families import contract
from music_vae_lite.nn import model_registry


class ConductorTeacher:
  """The frozen encoder of a trained model whose windows are one segment of the student's.

  Args:
    path: the teacher's run directory or checkpoint (ours), e.g. the run `--init_from` names.
    student_config: the hierarchical model's config (its family, segments and conductor width
      must fit the teacher).
  Raises:
    ValueError: naming the teacher and the reason when it cannot teach this model.
  """

  def __init__(self, path, student_config):
    try:
      _, run_dir = checkpoints.resolve(path)
    except checkpoints.RunDirError as e:
      raise ValueError(f'config.train.conductor_teacher={path}: {e}') from e
    self.config = checkpoints.load_config(run_dir)
    self.converter = contract.get_converter(self.config)
    student = student_config.model
    segment_bars = int(student.get('segment_bars', 1))
    # The embedding's width: the conductor's top layer, or the linear layer on it.
    conductor_width = (student_config.get('decoder', {}).get('conductor_projection') or
                       list(student.get('conductor_rnn_size') or student.dec_rnn_size)[-1])
    problems = []
    if student.decoder != 'hierarchical':
      problems.append(f'the model has a {student.decoder} decoder, no conductor')
    if self.config.data.encoding != student_config.data.encoding:
      problems.append(f'its encoding is {self.config.data.encoding}, the model\'s '
                      f'{student_config.data.encoding}')
    student_depth = contract.get_converter(student_config).input_depth
    if self.converter.input_depth != student_depth:  # e.g. one conditioned on chords, one not
      problems.append(f'its encoder reads {self.converter.input_depth} values per step, the '
                      f'model\'s {student_depth}')
    if int(self.config.data.slice_bars) != segment_bars:
      problems.append(f'its windows are {self.config.data.slice_bars} bars, the model\'s segments '
                      f'{segment_bars} (config.model.segment_bars)')
    if int(self.config.model.z_size) != int(conductor_width):
      problems.append(f'its z has {self.config.model.z_size} dimensions, the conductor\'s '
                      f'embedding {conductor_width} (config.model.conductor_rnn_size, or '
                      'config.decoder.conductor_projection where it is set)')
    if problems:
      raise ValueError(f'config.train.conductor_teacher={path}: cannot teach this model: '
                       + '; '.join(problems) + '.')
    self.model = model_registry.build_model(self.config, self.converter)
    restored = checkpoints.restore_model(self.model, path)
    logging.info('Conductor teacher: %s (weight %s).', restored,
                 student_config.train.conductor_teacher_weight)
    self.segment_steps = self.converter.window_steps
    self.weight = float(student_config.train.conductor_teacher_weight)

  def segment_posterior(self, inputs, lengths, fused=False):
    """(mu, sigma), each [B, U, z], of the teacher's q(c | segment) for every segment of inputs
    [B, U * S, D] of the given lengths [B], and the segments' mask [B, U] (1 where a segment has
    steps)."""
    batch_size, num_steps, depth = tf.shape(inputs)[0], inputs.shape[1], inputs.shape[2]
    num_segments = num_steps // self.segment_steps
    segments = tf.reshape(inputs, [-1, self.segment_steps, depth])
    starts = tf.range(num_segments) * self.segment_steps
    segment_lengths = tf.clip_by_value(lengths[:, None] - starts[None, :], 0, self.segment_steps)
    posterior = self.model.posterior(segments, tf.reshape(segment_lengths, [-1]), fused)
    shape = [batch_size, num_segments, -1]
    mu = tf.reshape(tf.stop_gradient(posterior.mean()), shape)
    sigma = tf.reshape(tf.stop_gradient(posterior.stddev()), shape)
    return mu, sigma, tf.cast(segment_lengths > 0, tf.float32)

  def conductor_nats(self, embeddings, inputs, lengths, fused=False):
    """-log q_teacher(embedding | segment), without its constant, summed over a window's segments:
    [B] nats, for the conductor's embeddings [B, U, z]."""
    return scaled_distance(embeddings, *self.segment_posterior(inputs, lengths, fused))


def scaled_distance(embeddings, mu, sigma, mask):
  """sum_k mask_k sum_d (e_kd - mu_kd)^2 / (2 sigma_kd^2): [B] nats, for embeddings, mu and sigma
  [B, U, z] and the segments' mask [B, U] (the module docstring's conductor_nats)."""
  embeddings = tf.cast(embeddings, tf.float32)
  per_segment = tf.reduce_sum(tf.square((embeddings - mu) / sigma), axis=-1) / 2.0
  return tf.reduce_sum(per_segment * mask, axis=-1)


def from_config(config):
  """The config's teacher (config.train.conductor_teacher), or None when it names none."""
  path = config.train.get('conductor_teacher') or ''
  return ConductorTeacher(path, config) if path else None
