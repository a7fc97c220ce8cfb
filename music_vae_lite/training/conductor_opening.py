"""The conductor's opening (not in the original): before joint training, the top of a hierarchical
model learns from its teacher's codes alone, with no bar decoder in the loop.

    mvl_train --config=cpu-hier-mel_16bar --init_from=runs/quickstart \
        --config.train.conductor_teacher=runs/quickstart      # config.train.conductor_opening_steps

Why. A 16-bar model started from the 2-bar quick start has a bar decoder that already writes a
2-bar segment well from that model's code, and an encoder whose first level already reads one;
what it lacks is the path between them: the encoder's second level, q(z|x) and the conductor, which
must say the right code for each segment (training/conductor_teacher.py). In joint training the
bar decoder costs nearly all of a step, so that path sees few windows in a CPU budget. Here the
first level and the bar decoder are frozen, so each window is fixed data: its segments' encodings
in, the teacher's posterior (mu, sigma) of each segment out. Those are computed once, for each
distinct segment once (windows a bar apart share most segments); a step then runs two short LSTMs
over the segments, at nearly 40 times the windows per second of a joint step (benchmarks/README.md,
"16 bars", seventh round).

What trains: the encoder's second level, mu and sigma, the conductor (and its projection,
config.decoder.conductor_projection). Each step minimises, over a batch of training windows,

    conductor_nats(e(z), teacher) + max_beta * KL cost(q(z|x)),   z ~ q(z|x)

(conductor_nats: the teacher's term, conductor_teacher.scaled_distance; the KL cost as in
training, free bits included, at the full beta: the opening has no ramp). Its own Adam
(config.train.conductor_opening_learning_rate) is dropped afterwards; joint training then starts
from step 0 with the run's optimizer. The opening runs only in a new run (not on resume), stops
early at the run's time limit (config.train.max_minutes counts it), and its figures go to
TensorBoard as opening/conductor_nats and opening/kl_bits at opening steps (in `eval`, the same
term on held-out windows: a guide to overfitting, not to reconstruction; benchmarks/README.md).
"""
import hashlib
import math
import time

from absl import logging
import numpy as np
import tensorflow as tf

from music_vae_lite.nn import models
from music_vae_lite.training import conductor_teacher as teacher_lib
from music_vae_lite.training import losses
from music_vae_lite.training import summaries

_CHUNK = 256  # windows per encoder batch while the codes are computed
_HELD_OUT_WINDOWS = 512  # held-out windows scored at each log step (evenly spaced; cheap)


def check(config, teacher, strategy):
  """Raises ValueError naming the setting when config.train.conductor_opening_steps cannot run
  (before anything is written)."""
  steps = int(config.train.get('conductor_opening_steps', 0))
  if not steps:
    return
  where = f'config.train.conductor_opening_steps={steps}'
  if teacher is None:
    raise ValueError(f'{where} needs a teacher (config.train.conductor_teacher=RUN, e.g. the run '
                     '--init_from names), or set it to 0.')
  if config.model.get('encoder', 'bidirectional') != 'hierarchical':
    raise ValueError(f'{where} needs a hierarchical encoder (config.model.encoder), whose first '
                     'level it keeps fixed; this model\'s encoder is flat.')
  # Segments of another length than the teacher's windows: the teacher refuses the model itself.
  if strategy.num_replicas_in_sync != 1:
    raise ValueError(f'{where} runs on one replica, not {strategy.num_replicas_in_sync}; set it '
                     'to 0 for distributed training.')


def _segment_codes(model, teacher, window_set, converter):
  """(encodings [M, E], mu [M, Z], sigma [M, Z], mask [M], index [N, U]) for the M distinct
  segments of the windows: the model's first-level encoding and the teacher's posterior of each
  segment, 1 where it has steps, and the row of each window's segment u."""
  level0 = model.encoder.levels[0]
  steps = model.encoder.segment_steps

  @tf.function
  def encode(segments, lengths):
    encoding = level0(segments, lengths)
    posterior = teacher.model.posterior(segments, lengths)
    return (encoding, posterior.mean(), posterior.stddev(),
            tf.cast(lengths > 0, tf.float32))  # an empty segment (past a window's end): no code

  rows, keys = {}, []
  segments_to_encode, lengths_to_encode = [], []
  outputs = []

  def flush():
    if segments_to_encode:
      outputs.append([o.numpy() for o in encode(tf.constant(np.stack(segments_to_encode)),
                                                tf.constant(lengths_to_encode, tf.int32))])
      segments_to_encode.clear()
      lengths_to_encode.clear()

  for start in range(0, len(window_set), _CHUNK):
    arrays = {name: array[start:start + _CHUNK] for name, array in window_set.arrays.items()}
    inputs = np.asarray(converter.encoder_inputs(arrays), np.float32)
    lengths = np.asarray(converter.lengths(arrays)).reshape(len(inputs), -1)[:, 0]
    num_segments = inputs.shape[1] // steps
    for window, length in zip(inputs, lengths):
      for u in range(num_segments):
        segment = window[u * steps:(u + 1) * steps]
        segment_length = int(np.clip(length - u * steps, 0, steps))
        key = (hashlib.blake2b(segment.tobytes(), digest_size=16).digest()
               + segment_length.to_bytes(4, 'little'))
        if key not in rows:
          rows[key] = len(rows)
          segments_to_encode.append(segment)
          lengths_to_encode.append(segment_length)
          if len(segments_to_encode) == _CHUNK * num_segments:
            flush()
        keys.append(rows[key])
  flush()
  encodings, mu, sigma, mask = (np.concatenate(parts) for parts in zip(*outputs))
  index = np.asarray(keys, np.int32).reshape(len(window_set), -1)
  return encodings, mu, sigma, mask, index


def run(model, teacher, train_set, converter, config, *, eval_set=None, writer=None,
        eval_writer=None, deadline=math.inf):
  """The opening: config.train.conductor_opening_steps steps (fewer if `deadline`, a time.time(),
  comes first) on the windows of `train_set`. At each log step it also scores up to
  _HELD_OUT_WINDOWS windows of `eval_set` (z at the posterior mean), written as
  opening/conductor_nats to `eval_writer`, beside the training batch's in `writer`. Returns the
  number of steps taken."""
  train_config, model_config = config.train, config.model
  num_steps = int(train_config.conductor_opening_steps)
  started = time.time()
  codes = _segment_codes(model, teacher, train_set, converter)
  logging.info('Conductor opening: %d windows, %d distinct segments encoded in %.0f s.',
               len(codes[-1]), len(codes[0]), time.time() - started)
  encodings, mu, sigma, mask, index = (tf.constant(a) for a in codes)
  held_out = None
  if eval_set is not None and len(eval_set):
    picked = np.zeros(len(eval_set), bool)
    picked[np.linspace(0, len(eval_set) - 1, min(len(eval_set), _HELD_OUT_WINDOWS)).astype(int)] = 1
    held_out = [tf.constant(a) for a in _segment_codes(model, teacher, eval_set.subset(picked),
                                                       converter)]
  level1 = model.encoder.levels[1]
  decoder = model.decoder

  def conductor_nats_of(encodings, mu, sigma, mask, rows, z_noise=None):
    """[B] conductor nats of the windows whose segments' rows are `rows`, and their posterior."""
    encoding = level1(tf.gather(encodings, rows), tf.fill([tf.shape(rows)[0]], rows.shape[1]))
    posterior = models.tfd.MultivariateNormalDiag(loc=model.mu(encoding),
                                                  scale_diag=model.sigma(encoding))
    z = posterior.mean()
    if z_noise is not None:
      z += posterior.stddev() * z_noise
    return teacher_lib.scaled_distance(decoder.bar_embeddings(z), tf.gather(mu, rows),
                                       tf.gather(sigma, rows), tf.gather(mask, rows)), posterior

  @tf.function
  def held_out_conductor_nats():
    nats, _ = conductor_nats_of(*held_out)
    return tf.reduce_mean(nats)
  variables = (list(level1.trainable_variables) + list(model.mu.trainable_variables)
               + list(model.sigma.trainable_variables)
               + list(decoder.conductor.trainable_variables))
  if hasattr(decoder, 'conductor_projection'):
    variables += list(decoder.conductor_projection.trainable_variables)
  optimizer = tf.keras.optimizers.Adam(float(train_config.conductor_opening_learning_rate))
  batch_size = int(train_config.conductor_opening_batch_size)
  num_windows = int(index.shape[0])
  beta = float(model_config.max_beta)

  @tf.function
  def step(seed):
    pick_seed, z_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    rows = tf.gather(index, tf.random.stateless_uniform([batch_size], pick_seed, 0, num_windows,
                                                        tf.int32))
    with tf.GradientTape() as tape:
      conductor_nats, posterior = conductor_nats_of(
          encodings, mu, sigma, mask, rows,
          tf.random.stateless_normal([batch_size, int(model_config.z_size)], z_seed))
      kl, kl_cost = losses.kl_cost(posterior, model_config)
      loss = tf.reduce_mean(conductor_nats) + beta * tf.reduce_mean(kl_cost)
    # Not clipped: the joint training's clip at norm 1 would shrink every step of a term this
    # large (norms in the hundreds); the stand-alone trial's clip at 1,000 bound only at first.
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables))
    return tf.reduce_mean(conductor_nats), tf.reduce_mean(kl) / losses.LN2

  seeds = tf.random.Generator.from_seed(int(train_config.seed) + 1)
  taken = 0
  while taken < num_steps and time.time() < deadline:
    conductor_nats, kl_bits = step(seeds.uniform_full_int([2], tf.int32))
    taken += 1
    if taken % int(train_config.log_every) == 0 or taken == num_steps:
      figures = {'opening/conductor_nats': float(conductor_nats),
                 'opening/kl_bits': float(kl_bits)}
      held_out_nats = float(held_out_conductor_nats()) if held_out else math.nan
      logging.info('Conductor opening step %d/%d: conductor_nats %.0f per window (held-out %.0f), '
                   'KL %.0f bits.', taken, num_steps, figures['opening/conductor_nats'],
                   held_out_nats, figures['opening/kl_bits'])
      if writer is not None:
        summaries.write_scalars(writer, taken, figures)
      if held_out and eval_writer is not None:
        summaries.write_scalars(eval_writer, taken, {'opening/conductor_nats': held_out_nats})
  logging.info('Conductor opening: %d steps in %.0f s.', taken, time.time() - started)
  return taken
