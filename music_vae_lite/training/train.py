"""Training and evaluation: the compiled train step, the loop with its checkpoints, summaries,
evaluation and piano-roll images, and `evaluate` for held-out data.

`train_and_evaluate(config, run_dir, examples)` is what `mvl_train` runs. The loop:
- holds an exclusive lock on its checkpoint directory (a second trainer stops with the holder's
  PID), removes what killed saves left behind, and resumes from the newest readable checkpoint in
  run_dir/train (model, Adam slots, the global step, the random generator; a damaged newest one is
  named and skipped). The learning rate, beta and sampling schedules derive from the step, and the
  data stream (order and transpositions) is a function of (seed, batch number), so a resumed run
  continues with exactly the batches an uninterrupted run sees: killed at any moment and resumed,
  it ends bit-identical to the uninterrupted run on the same machine and thread settings (the
  original cannot resume exactly: its tf.data pipeline restarts from scratch).
- one step = one `tf.function` that runs every replica under the strategy, all-reduces (sums) the
  gradients, takes their global norm, clips it to `grad_clip`, zeroes all gradients when the norm
  is >= `grad_norm_clip_to_zero` (the original's rule; Adam's moments still move) and applies Adam
  (TF1 defaults: beta1 0.9, beta2 0.999, epsilon 1e-8) with lr = (lr0 - lr_min) * decay^step +
  lr_min. With `config.train.jit_compile` the loss and gradients (the forward and backward LSTMs,
  nearly all the work) are compiled by XLA; the cross-replica reduction and the update stay
  outside XLA, which cannot compile the strategy's cross-replica calls.
- multi-worker: each worker restores from its own checkpoint directory (run_dir/train for the
  chief, run_dir/workers/<id> for the others; they must agree, which is checked). A stop signal
  must reach every worker: a worker that stops alone leaves the others waiting.
- every step the loss is checked, and before every save the updated weights (finite, with a finite
  loss and gradient on a fixed batch): a NaN or infinite value stops training with
  NonFiniteLossError naming the step and the last finite checkpoint; such a state is never saved.
- SIGINT / SIGTERM finish the current step, save a checkpoint and return (a second signal aborts
  at once; an interrupted save never replaces the last good checkpoint, see checkpoints.py).

Differences from the original: train summaries include `metrics/accuracy`; evaluation reports both
the teacher-forced and the free-running ("sampled", sampling probability 1) accuracy under explicit
names, instead of one `metrics/accuracy` whose meaning depends on the config.
"""
import dataclasses
import math
import os
import signal
import threading
import time

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf
import tf_keras

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.training import conductor_opening
from music_vae_lite.training import conductor_teacher
from music_vae_lite.training import distribute
from music_vae_lite.pipeline import input_pipeline
from music_vae_lite.training import losses
from music_vae_lite.nn import model_registry
from music_vae_lite import pianoroll
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import schedules
from music_vae_lite.training import summaries
from music_vae_lite.training import warm_start

# Scalars written to run_dir/eval and returned by `evaluate`, besides the decoder's metrics (for
# each metric <name> it reports: metrics/teacher_forced_<name> and metrics/sampled_<name>).
EVAL_METRICS = ('loss', 'losses/r_loss', 'losses/r_loss_per_step', 'losses/kl_loss',
                'losses/kl_bits', 'losses/kl_nats', 'losses/kl_beta', 'losses/sampled_r_loss',
                'latent/active_units')
# The loss terms the evaluator reports, from its teacher-forced pass.
_EVAL_LOSSES = ('loss', 'losses/r_loss', 'losses/r_loss_per_step', 'losses/kl_loss',
                'losses/kl_bits', 'losses/kl_nats', 'losses/kl_beta')
# Per-dimension values written to run_dir/eval as histograms (over the z dimensions).
EVAL_HISTOGRAMS = ('latent/kl_bits_per_dimension',)
# A dimension is active when its posterior mean varies over the windows by more than this
# (Burda et al. 2016); an inactive one carries no information about x: it has collapsed.
ACTIVE_UNIT_VARIANCE = 0.01
IMAGE_WINDOWS = 4  # windows per piano-roll summary image
IMAGE_SAMPLE_TEMPERATURE = 0.5  # like the CLI default


class NonFiniteLossError(FloatingPointError):
  """The loss became NaN or infinite; training stopped without saving the bad state."""


# The network and its dtype come from model_registry, which inference shares without this module.
compute_dtype = model_registry.compute_dtype
use_fused_kernels = model_registry.use_fused_kernels
build_model = model_registry.build_model


class DecayedLearningRate(tf_keras.optimizers.schedules.LearningRateSchedule):
  """`schedules.learning_rate` as a Keras schedule, evaluated at the optimizer's iteration count
  (which is the global step: it increments once per train step, also when gradients are zeroed)."""

  def __init__(self, train_config):
    self.train_config = ml_collections.FrozenConfigDict(train_config)

  def __call__(self, step):
    return schedules.learning_rate(step, self.train_config)

  def get_config(self):
    return {'learning_rate': self.train_config.learning_rate,
            'min_learning_rate': self.train_config.min_learning_rate,
            'decay_rate': self.train_config.decay_rate}


class FusedAdam(tf_keras.optimizers.Adam):
  """Keras's Adam (same slots, checkpoint layout and formula) whose dense update of a variable is
  one fused kernel, `ResourceApplyAdam`, instead of about a dozen element-wise ops.

  Each of those ops reads and writes a whole parameter-sized tensor: for a model of a few million
  parameters they cost more memory traffic per step than the LSTMs' small matmuls at batch 32-64.
  The kernel computes m += (g - m)(1 - beta1), v += (g^2 - v)(1 - beta2), var -= alpha m /
  (sqrt(v) + epsilon) with alpha = lr sqrt(1 - beta2^t) / (1 - beta1^t), the formula of
  `tf_keras.optimizers.Adam.update_step`, in one pass. Sparse gradients and XLA-compiled updates
  (`jit_compile`, where XLA fuses them itself) keep Keras's own update.
  """

  def update_step(self, gradient, variable):
    if isinstance(gradient, tf.IndexedSlices) or self.jit_compile or self.amsgrad:
      return super().update_step(gradient, variable)
    dtype = variable.dtype
    local_step = tf.cast(self.iterations + 1, dtype)
    index = self._index_dict[self._var_key(variable)]
    return tf.raw_ops.ResourceApplyAdam(
        var=variable.handle, m=self._momentums[index].handle, v=self._velocities[index].handle,
        beta1_power=tf.pow(tf.cast(self.beta_1, dtype), local_step),
        beta2_power=tf.pow(tf.cast(self.beta_2, dtype), local_step),
        lr=tf.cast(self.learning_rate, dtype), beta1=tf.cast(self.beta_1, dtype),
        beta2=tf.cast(self.beta_2, dtype), epsilon=tf.cast(self.epsilon, dtype), grad=gradient)


def make_optimizer(train_config):
  return FusedAdam(learning_rate=DecayedLearningRate(train_config), beta_1=0.9, beta_2=0.999,
                   epsilon=1e-8, jit_compile=train_config.jit_compile)


class TrainState:
  """Model, optimizer, global step and random generator, and the checkpoint that holds them.

  The model and optimizer live under the strategy's scope (mirrored variables). The generator does
  not: it is advanced on the host once per step to give that step's seed, identically on every
  worker, and each replica folds its replica id into the seed.
  """

  def __init__(self, config, strategy, converter):
    self.config = config
    self.strategy = strategy
    with strategy.scope():
      self.model = build_model(config, converter)
      self.optimizer = make_optimizer(config.train)
      # Build the Adam slots now, so a restore finds them and fills them.
      self.optimizer.build(self.model.trainable_variables)
    self.rng = tf.random.Generator.from_seed(config.train.seed)
    self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                          step=self.optimizer.iterations, rng=self.rng)

  @property
  def step(self):
    """The global step: the number of train steps taken."""
    return int(self.optimizer.iterations.numpy())

  def next_seed(self):
    # int32: XLA's stateless random kernels take int32 seeds only.
    return self.rng.uniform_full_int([2], tf.int32)


def make_train_step(state, teacher=None):
  """The compiled train step: `train_step(distributed_iterator, seed) -> {name: scalar}`.
  `teacher`: the run's conductor_teacher.ConductorTeacher, if any."""
  strategy, config = state.strategy, state.config
  model, optimizer = state.model, state.optimizer
  train_config = config.train
  num_replicas = strategy.num_replicas_in_sync
  variables = warm_start.trainable_variables(model, train_config)  # minus frozen ones
  fused, dtype = use_fused_kernels(train_config), compute_dtype(train_config)

  def loss_and_gradients(batch, step, seed):
    with tf.GradientTape() as tape:
      loss, metrics = losses.compute_loss(model, batch, step, config.model, seed, fused=fused,
                                          compute_dtype=dtype, training=True,
                                          conductor_teacher=teacher)
      # Gradients are summed over replicas below; each replica's mean loss divided by the number of
      # replicas makes that sum the gradient of the mean loss over the global batch.
      scaled_loss = loss / num_replicas
    return metrics, tape.gradient(scaled_loss, variables)

  if train_config.jit_compile:
    loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

  def replica_step(batch, seed):
    context = tf.distribute.get_replica_context()
    seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group)
    metrics, gradients = loss_and_gradients(batch, optimizer.iterations, seed)
    gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    metrics = context.all_reduce(tf.distribute.ReduceOp.SUM,
                                 {name: value / num_replicas for name, value in metrics.items()})
    global_norm = tf.linalg.global_norm(gradients)
    clipped, _ = tf.clip_by_global_norm(gradients, train_config.grad_clip, use_norm=global_norm)
    # The original's rule: at a norm >= grad_norm_clip_to_zero (or a NaN norm) every gradient is 0.
    # One branch passes the clipped gradients on untouched (no parameter-sized select per step).
    keep = global_norm < train_config.grad_norm_clip_to_zero
    clipped = [tf.convert_to_tensor(g) for g in clipped]
    gradients = tf.cond(keep, lambda: clipped, lambda: [tf.zeros_like(g) for g in clipped])
    optimizer.apply_gradients(zip(gradients, variables), skip_gradients_aggregation=True)
    metrics['global_norm'] = global_norm
    return metrics

  @tf.function
  def train_step(iterator, seed):
    per_replica = strategy.run(replica_step, args=(next(iterator), seed))
    # Every replica holds the same all-reduced values: take the first local one.
    return {name: strategy.experimental_local_results(value)[0]
            for name, value in per_replica.items()}

  return train_step


class Evaluator:
  """Teacher-forced and free-running metrics of a model on held-out windows.

  Teacher-forced: every decoder step gets the true previous value (sampling probability 0).
  Sampled: every step gets the model's own sample (probability 1, temperature 1), as in the
  original's eval of scheduled-sampling configs. Both use z drawn from q(z|x), like training. The
  step only matters for `loss` (through beta). The decoder says what it measures
  (decoders/base.py): each of its metrics <name> is reported as metrics/teacher_forced_<name> and
  metrics/sampled_<name>, averaged over batches with the decoder's weights (e.g. note-on
  accuracy by note-on steps). Latent: `latent/active_units` counts the dimensions whose
  posterior mean has variance > ACTIVE_UNIT_VARIANCE over the windows, and
  `latent/kl_bits_per_dimension` [Z] is each dimension's mean KL in bits (a histogram summary).
  """

  def __init__(self, model, config, converter):
    self.converter = converter
    self.config = config
    fused, dtype = use_fused_kernels(config.train), compute_dtype(config.train)

    @tf.function(jit_compile=config.train.jit_compile)
    def eval_batch(batch, step, seed):
      _, forced, forced_weights = losses.compute_loss(
          model, batch, step, config.model, seed, sampling_probability=0.0, fused=fused,
          compute_dtype=dtype, with_weights=True)
      _, sampled, sampled_weights = losses.compute_loss(
          model, batch, step, config.model, seed, sampling_probability=1.0, fused=fused,
          compute_dtype=dtype, with_weights=True)
      posterior = model.posterior(batch['inputs'], batch['lengths'], fused, dtype)
      metrics = {name: (forced[name], forced_weights[name]) for name in _EVAL_LOSSES}
      metrics['losses/sampled_r_loss'] = (sampled['losses/r_loss'],
                                          sampled_weights['losses/r_loss'])
      for name in forced:
        if name.startswith('metrics/'):
          metric = name[len('metrics/'):]
          metrics[f'metrics/teacher_forced_{metric}'] = (forced[name], forced_weights[name])
          metrics[f'metrics/sampled_{metric}'] = (sampled[name], sampled_weights[name])
      return metrics, posterior.mean(), losses.per_dimension_kl(posterior)

    self._eval_batch = eval_batch

  def dataset(self, windows, batch_size, num_batches=None):
    """Batches for evaluation of windows (a WindowSet, or what make_dataset takes): in order;
    `num_batches` (repeating the windows if there are fewer) or one pass over every window (the
    last batch may be smaller)."""
    if num_batches is None:
      return input_pipeline.make_dataset(windows, self.converter, batch_size, seed=0,
                                         shuffle=False, repeat=False, drop_remainder=False)
    return input_pipeline.make_dataset(windows, self.converter, batch_size, seed=0, shuffle=False,
                                       repeat=True, drop_remainder=True).take(num_batches)

  def __call__(self, dataset, step, seed=0, progress=None):
    """EVAL_METRICS, the decoder's metrics and EVAL_HISTOGRAMS over the batches of `dataset`,
    plus 'num_windows'.

    Each figure is the mean of its batch values weighted by their weights (the loss terms by
    windows, the decoder's metrics by the decoder's weights). `progress`, if given, is called
    with the number of windows done after every batch."""
    totals, weights, count = {}, {}, 0
    means, kl_per_dimension = [], 0.0
    step = tf.constant(step, tf.int64)
    for index, batch in enumerate(dataset):
      batch_seed = tf.constant([seed, index], tf.int32)
      metrics, mu, kl = self._eval_batch(batch, step, batch_seed)
      for name, (value, weight) in metrics.items():
        weight = float(weight)
        totals[name] = totals.get(name, 0.0) + float(value) * weight
        weights[name] = weights.get(name, 0.0) + weight
      means.append(mu.numpy().astype(np.float64))
      kl_per_dimension = kl_per_dimension + tf.reduce_sum(kl, axis=0).numpy().astype(np.float64)
      count += int(mu.shape[0])
      if progress:
        progress(count)
    if not count:
      raise ValueError('Nothing to evaluate: the dataset gave no batch.')
    results = {name: total / weights[name] if weights[name] else float('nan')
               for name, total in totals.items()}
    results['latent/active_units'] = int(np.sum(np.var(np.concatenate(means), axis=0) >
                                                ACTIVE_UNIT_VARIANCE))
    results['latent/kl_bits_per_dimension'] = kl_per_dimension / count / math.log(2.0)
    results['num_windows'] = count
    return results


def evaluate(model, config, windows, *, step, batch_size=None, seed=0, converter=None,
             progress=None):
  """EVAL_METRICS and the decoder's metrics (see Evaluator) over every window of `windows` (a
  WindowSet, or what input_pipeline.make_dataset takes; one pass), with 'num_windows'.

  `progress(windows_done)` is called after every batch."""
  converter = converter or contract.get_converter(config)
  evaluator = Evaluator(model, config, converter)
  batch_size = batch_size or config.train.batch_size
  return evaluator(evaluator.dataset(windows, batch_size), step, seed, progress)


class ImageMaker:
  """Piano rolls of fixed windows beside their reconstructions (argmax decoding from the posterior
  mean) and of samples from fixed prior draws, so pictures from different steps compare directly."""

  def __init__(self, model, config, converter, windows, seed):
    self.converter = converter
    arrays = {name: array[:IMAGE_WINDOWS]
              for name, array in converter.window_arrays(windows).items()}
    self.targets = converter.targets(arrays)
    self.inputs = converter.encoder_inputs(arrays).numpy()
    self.lengths = converter.lengths(arrays).numpy()
    # Samples get the controls of the shown windows (a conditioned model needs some).
    controls = converter.decoder_controls(arrays)
    self.controls = None if controls is None else np.asarray(controls)
    self.z = np.random.default_rng(seed).standard_normal(
        [len(self.inputs), config.model.z_size]).astype(np.float32)
    self.seed = tf.constant([seed, 1], tf.int32)
    dtype = compute_dtype(config.train)

    @tf.function
    def reconstruct_and_sample(inputs, lengths, z, seed, controls):
      mu = model.posterior(inputs, lengths, use_fused_kernels(config.train), dtype).mean()
      reconstructions = model.decoder.sample(mu, 0.0, controls, seed=seed, compute_dtype=dtype)
      samples = model.decoder.sample(z, IMAGE_SAMPLE_TEMPERATURE, controls, seed=seed,
                                     compute_dtype=dtype)
      return reconstructions, samples

    self._fn = reconstruct_and_sample

  def __call__(self):
    reconstructions, samples = self._fn(self.inputs, self.lengths, self.z, self.seed,
                                        self.controls)
    inputs, reconstructions, samples = (contract.unbatch(x) for x in (
        self.targets, reconstructions, samples))
    return {
        'images/input_and_reconstruction': pianoroll.render(
            [[x, y] for x, y in zip(inputs, reconstructions)], self.converter),
        'images/sample': pianoroll.render([[sample] for sample in samples], self.converter,
                                          colours=pianoroll.COLUMN_COLOURS[2:]),
    }


class _StopSignals:
  """Turns SIGINT / SIGTERM into a request to stop after the current step (main thread only).
  A second signal raises KeyboardInterrupt at once."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.received = None
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    if self.received:
      raise KeyboardInterrupt(f'Second signal ({signal.Signals(signum).name}): aborting.')
    self.received = signal.Signals(signum).name
    logging.warning('Got %s: finishing the current step, saving a checkpoint, then stopping '
                    '(send it again to abort without saving).', self.received)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in self.SIGNALS:
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc_info):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass
class TrainResult:
  step: int  # the global step reached
  metrics: dict  # the last step's train metrics (floats), empty if no step ran
  eval_metrics: dict  # the last evaluation's metrics, empty if none ran
  checkpoint: str | None  # the last checkpoint saved or restored
  stopped_by: str | None = None  # the signal that stopped training early, if any
  time_limit_reached: bool = False  # stopped by config.train.max_minutes


def _format_duration(seconds):
  seconds = int(round(seconds))
  hours, rest = divmod(seconds, 3600)
  minutes, seconds = divmod(rest, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}' if hours else f'{minutes}:{seconds:02d}'


def _load_window_set(examples, converter):
  if isinstance(examples, preprocess.WindowSet):
    window_steps = examples.slice_bars * contract.STEPS_PER_BAR
    if (examples.encoding, window_steps) != (converter.encoding, converter.window_steps):
      stored = contract.CONTROLS in examples.arrays
      raise ValueError(f'The examples hold {examples.encoding} windows of {window_steps} steps'
                       + (' with controls' if stored else '')
                       + f', the config needs {converter.encoding} windows of '
                       f'{converter.window_steps} steps'
                       + (' with controls' if converter.stores_controls else '') + '.')
    if not len(examples):
      raise ValueError('The examples hold no windows.')
    try:
      examples.arrays = converter.window_arrays(examples.arrays)
    except ValueError as e:
      raise ValueError(f'The examples do not fit the {converter.encoding} family: {e}') from e
    return examples
  try:
    return preprocess.load_examples(examples, converter)
  except preprocess.NoWindowsError as e:
    report = getattr(e, 'report', None)  # the full extraction report, when the error carries it
    if report is None:
      raise
    raise preprocess.NoWindowsError(f'{e}\n{preprocess.format_report(report)}') from e


def _sync_across_workers(strategy, step):
  """Checks every worker resumed at the same step (each restores from its own directory)."""
  if not strategy.extended._in_multi_worker_mode():  # pylint: disable=protected-access
    return
  # With n replicas, all steps are equal exactly when n * sum(s^2) == (sum s)^2.
  value = tf.constant([step, step * step], tf.float64)
  sums = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(lambda: value), axis=None)
  total, squares = (float(x) for x in sums.numpy())
  if strategy.num_replicas_in_sync * squares != total * total:
    raise checkpoints.RunDirError(
        f'Workers resumed from different steps (this one from {step}): their checkpoint '
        'directories (run_dir/train and run_dir/workers/<id>) disagree. Remove the newer '
        'checkpoints so that all match, or start a new run directory.')


def _resume(state, manager, run_dir, config, resume_from=None):
  """Restores the newest readable checkpoint of `manager` (or the one named by `resume_from`: a
  step, 'ckpt-N' or a prefix) into `state`, if there is one; returns its path.

  A damaged newest checkpoint is named and the one before it is used. A mismatch error lists how
  run_dir/config.json differs from `config`, the likely cause."""
  changes = []
  if os.path.isfile(os.path.join(run_dir, checkpoints.CONFIG_FILE)):
    changes = checkpoints.config_differences(checkpoints.load_config(run_dir), config)
  config_note = ''.join(f'\n  {line}' for line in changes)
  if config_note:
    config_note = '\nrun_dir/config.json differs from this config in:' + config_note
  candidates = list(manager.checkpoints)
  if resume_from is not None:
    chosen = checkpoints.find_checkpoint(candidates, resume_from)
    candidates = [prefix for prefix in candidates if prefix == chosen]
  try:
    model_only = warm_start.resume_model_only(state, candidates[-1] if candidates else None)
  except (ValueError, OSError, IndexError, RuntimeError, tf.errors.OpError):
    model_only = None  # a damaged newest checkpoint: restore_newest_readable names and skips it
  if model_only:
    return model_only
  last_checkpoint = checkpoints.restore_newest_readable(state.checkpoint, candidates, config_note)
  if last_checkpoint:
    logging.info('Resumed from %s (step %d).', last_checkpoint, state.step)
    if changes:
      # Changing train settings (e.g. num_steps) is routine; a changed model or data is notable.
      routine = all(line.startswith('train.') for line in changes)
      (logging.info if routine else logging.warning)('Continuing with a changed config:%s',
                                                     config_note)
  return last_checkpoint


def _state_is_finite(state, batch):
  """Whether the weights are finite and give a finite loss and gradient norm on `batch`: checked
  before every save, so a checkpoint never holds a state that fails at once on resume (an update
  can leave huge but finite weights whose next step is NaN)."""
  for variable in state.model.variables:
    if not np.all(np.isfinite(variable.numpy())):
      return False
  with tf.GradientTape() as tape:
    loss, _ = losses.compute_loss(state.model, batch, state.optimizer.iterations,
                                  state.config.model, tf.constant([0, 0], tf.int32),
                                  sampling_probability=0.0)
  norm = tf.linalg.global_norm(tape.gradient(loss, state.model.trainable_variables))
  return math.isfinite(float(loss)) and math.isfinite(float(norm))


PROGRESS_SECONDS = 5.0  # the longest time between two progress lines


def _log_progress(step, num_steps, loss, rate, batch_size, seconds_left=math.inf):
  """One progress line; its ETA is the sooner of the last step and the time limit (max_minutes)."""
  steps_s = (num_steps - step) / rate if rate else math.inf
  if seconds_left < steps_s:
    eta = f'{_format_duration(max(seconds_left, 0.0))} (time limit)'
  elif rate:
    eta = _format_duration(steps_s)
  else:
    eta = '?'
  logging.info('step %d/%d: loss %.4f, %.2f steps/s, %.1f examples/s, ETA %s', step, num_steps,
               loss, rate, rate * batch_size, eta)


def _log_eval(step, metrics):
  """One line: the decoder's metrics over all parts (teacher-forced, then sampled), r_loss, KL and
  active units."""
  figures = [f'{name[len("metrics/"):].replace("_", " ")} {value:.4f}'
             for prefix in ('metrics/teacher_forced_', 'metrics/sampled_')
             for name, value in metrics.items() if name.startswith(prefix) and '/' not in
             name[len('metrics/'):]]
  logging.info('eval at step %d: %s, r_loss %.3f, kl_bits %.3f, active units %d', step,
               ', '.join(figures), metrics['losses/r_loss'], metrics['losses/kl_bits'],
               metrics['latent/active_units'])


def train_and_evaluate(config, run_dir, examples, *, strategy=None, init_from=None,
                       init_rename=(), resume_from=None):
  """Trains `config` on `examples` up to config.train.num_steps, resuming from run_dir.

  Args:
    config: the full config (ml_collections ConfigDict).
    run_dir: the run directory (see checkpoints.py); created if needed.
    examples: a preprocessed cache folder, a MIDI folder or file, a NoteSequence TFRecord, or a
      `preprocess.WindowSet`. Files are split into train and eval by `config.data.eval_fraction`.
    strategy: a tf.distribute.Strategy; the default is one device (distribute.make_strategy).
    init_from: a run directory or checkpoint (ours or an original Magenta one) whose weights a
      new run starts from, with a fresh optimizer and step 0 (warm_start.py); ignored when
      run_dir already has a checkpoint.
    init_rename: 'PATTERN=REPLACEMENT' rules mapping init_from's variable names onto this
      model's (warm_start.restore_initial_weights), e.g. a 2-bar model's decoder onto a 16-bar
      model's bar decoder; when empty, config.train.init_rename (the config's own rules).
    resume_from: resume from this checkpoint of run_dir (a step, 'ckpt-N' or a prefix) instead of
      the newest readable one.
  Returns:
    TrainResult.
  Raises:
    NonFiniteLossError: the loss or the weights became NaN or infinite (the message names the
      step and the last finite checkpoint, which is all that was saved).
    checkpoints.RunDirError: another trainer holds run_dir, no readable checkpoint, a failed save.
    checkpoints.CheckpointMismatchError: run_dir holds a checkpoint of a different model.
    ValueError / FileNotFoundError: unusable examples (with the extraction report), bad settings.
  """
  config_lib.validate(config)
  model_registry.check_decoder_options(config)  # before the data is loaded
  teacher = conductor_teacher.from_config(config)  # a bad teacher: refused before anything is written
  init_rename = tuple(init_rename) or tuple(config.train.get('init_rename', ()))
  if strategy is None:
    distribute.set_cpu_threads(config.train)
    strategy = distribute.make_strategy('default')
  conductor_opening.check(config, teacher, strategy)
  is_chief, worker_id = distribute.worker_role(strategy)
  train_config = config.train
  converter = contract.get_converter(config)
  distribute.per_replica_batch_size(strategy, train_config.batch_size)  # fail early if uneven
  checkpoints.check_creatable_dir(run_dir, 'run directory')  # created once the examples load

  window_set = _load_window_set(examples, converter)
  train_set, eval_set = input_pipeline.split_by_source(window_set, config.data.eval_fraction)
  split = train_set.report['split']
  logging.info('Examples %s: %d windows for training from %d files, %d for evaluation from %d '
               'files.', examples if isinstance(examples, str) else 'given', len(train_set),
               split['train_files'], len(eval_set), split['eval_files'])
  if not len(train_set):
    raise ValueError(f'No training windows in {examples}: every file was held out for evaluation.')
  if train_config.batch_size > len(train_set):
    logging.warning('The batch (%d windows) is larger than the training set (%d windows): every '
                    'batch repeats windows. Add data or lower --config.train.batch_size.',
                    train_config.batch_size, len(train_set))
  checkpoints.ensure_writable_dir(run_dir, 'run directory')
  directory = checkpoints.checkpoint_directory(run_dir, is_chief, worker_id)
  with checkpoints.RunDirLock(directory):
    checkpoints.remove_stale_temporaries(directory)
    return _train(config, run_dir, examples, strategy, init_from, init_rename, resume_from,
                  window_set, train_set, eval_set, converter, is_chief, worker_id, teacher)


def _train(config, run_dir, examples, strategy, init_from, init_rename, resume_from, window_set,
           train_set, eval_set, converter, is_chief, worker_id, teacher):
  """The body of train_and_evaluate, run while holding the run directory's lock."""
  train_config = config.train
  num_steps = int(train_config.num_steps)
  state = TrainState(config, strategy, converter)
  manager = checkpoints.make_manager(state.checkpoint, run_dir, train_config.keep_checkpoints,
                                     is_chief, worker_id)
  last_checkpoint = _resume(state, manager, run_dir, config, resume_from)
  warm_start.initialise_run(state.model, init_from, last_checkpoint, rename=init_rename)
  _sync_across_workers(strategy, state.step)
  if is_chief:
    checkpoints.save_config(run_dir, config)

  start_step = state.step
  result = TrainResult(start_step, {}, {}, last_checkpoint)
  if start_step >= num_steps:
    logging.info('Already at step %d of %d: nothing to train.', start_step, num_steps)
    return result

  writers = summaries.Writers(run_dir, enabled=is_chief)
  summaries.write_run_description(writers.train, start_step, config,
                                  examples if isinstance(examples, str) else
                                  window_set.report.get('input', 'a WindowSet'))
  # The time limit counts this session's training: the opening, if any, and the steps (so not the
  # data loading before them).
  max_seconds = 60.0 * float(train_config.get('max_minutes', 0.0))
  deadline = math.inf
  # A new run only: a resumed one had its opening. Before the input pipeline starts: its
  # background threads halve the opening's speed on 2 cores.
  opened = last_checkpoint is None and int(train_config.get('conductor_opening_steps', 0)) > 0
  if opened:
    deadline = time.time() + max_seconds if max_seconds > 0 else math.inf
    conductor_opening.run(state.model, teacher, train_set, converter, config,
                          eval_set=eval_set if is_chief else None, writer=writers.train,
                          eval_writer=writers.eval, deadline=deadline)
  # Batches are a function of (seed, step), so a resumed run continues the very same stream.
  dataset = distribute.distribute_windows(
      strategy, train_set, converter, train_config.batch_size,
      seed=distribute.derived_seed(train_config.seed), transpose=config.data.transpose,
      start_step=start_step)
  iterator = iter(dataset)
  train_step = make_train_step(state, teacher)

  evaluator = eval_dataset = image_maker = None
  if is_chief:
    if len(eval_set):
      evaluator = Evaluator(state.model, config, converter)
      eval_dataset = evaluator.dataset(eval_set, train_config.batch_size,
                                       train_config.eval_batches)
    else:
      logging.warning('No held-out windows (eval_fraction=%s, %d files): evaluation is skipped.',
                      config.data.eval_fraction, train_set.report['split']['train_files'])
    image_maker = ImageMaker(state.model, config, converter,
                             eval_set if len(eval_set) else train_set,
                             train_config.seed)

  finite_check_batch = next(iter(input_pipeline.make_dataset(
      train_set.subset(np.arange(len(train_set)) < train_config.batch_size), converter,
      min(train_config.batch_size, len(train_set)), seed=0, shuffle=False, repeat=False)))

  def save(step):
    if not _state_is_finite(state, finite_check_batch):
      kept = (f'the last finite checkpoint is {result.checkpoint}' if result.checkpoint
              else 'no checkpoint had been saved')
      raise NonFiniteLossError(
          f'The weights after step {step} are not finite or give a non-finite loss: training '
          f'stopped without saving them; {kept}. Try a lower learning rate or check the data.')
    try:
      result.checkpoint = manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as e:
      kept = result.checkpoint or 'none'
      raise checkpoints.RunDirError(
          f'Could not save the checkpoint of step {step} in {manager.directory}: '
          f'{checkpoints.first_line(e)} (disk full?). The last '
          f'good checkpoint is {kept}; training stopped.') from e
    logging.info('Saved checkpoint %s.', result.checkpoint)

  step = start_step
  last_saved = start_step if last_checkpoint else None
  if opened:  # saved at once, so that a resumed run skips the opening
    save(step)
    last_saved = step
  logging.info('Training %s from step %d to %d on %d replica(s), global batch %d, matmuls in '
               '%s%s.', config.name or 'model', start_step, num_steps,
               strategy.num_replicas_in_sync, train_config.batch_size,
               compute_dtype(train_config).name,
               '' if train_config.mixed_precision or compute_dtype(train_config) == tf.float32
               else f' (this CPU multiplies bfloat16 natively: {model_registry.native_bf16_cpu()})')
  clock_start, clock_step = None, step
  last_logged = time.time()
  if not opened and max_seconds > 0:
    deadline = last_logged + max_seconds
  out_of_time = False
  last_metrics = None
  try:
    with _StopSignals() as stop:
      while step < num_steps and not stop.received and not out_of_time:
        metrics = train_step(iterator, state.next_seed())
        loss = float(metrics['loss'])  # a sync every step, so a NaN is caught at its own step
        if not math.isfinite(loss):
          kept = (f'the last good checkpoint is {result.checkpoint}' if result.checkpoint
                  else 'no checkpoint had been saved')
          raise NonFiniteLossError(
              f'The loss is {loss} at step {step}: training stopped. Nothing was saved after '
              f'the last good state; {kept}. Try a lower learning rate or check the data.')
        if step % train_config.summary_every == 0:
          scalars = {name: float(value) for name, value in metrics.items()}
          scalars['learning_rate'] = float(schedules.learning_rate(step, train_config))
          summaries.write_scalars(writers.train, step, scalars)
        step += 1
        now = time.time()
        out_of_time = now >= deadline
        if clock_start is None:  # time from the end of the first step: it includes compilation
          clock_start, clock_step = now, step
        # Every log_every steps, and at least every few seconds, so short runs show progress too.
        if (step % train_config.log_every == 0 or step == num_steps
            or now - last_logged >= PROGRESS_SECONDS):
          elapsed = now - clock_start
          rate = (step - clock_step) / elapsed if elapsed > 0 and step > clock_step else 0.0
          _log_progress(step, num_steps, loss, rate, train_config.batch_size,
                        seconds_left=deadline - now)
          last_logged = now
        if is_chief and image_maker and (step % train_config.image_every == 0):
          summaries.write_images(writers.train, step, image_maker())
        if evaluator and (step % train_config.eval_every == 0 or step == num_steps
                          or out_of_time):
          result.eval_metrics = evaluator(eval_dataset, step, train_config.seed)
          summaries.write_scalars(writers.eval, step, {
              name: value for name, value in result.eval_metrics.items()
              if name not in EVAL_HISTOGRAMS})
          summaries.write_histograms(writers.eval, step, {
              name: result.eval_metrics[name] for name in EVAL_HISTOGRAMS})
          _log_eval(step, result.eval_metrics)
        if step % train_config.checkpoint_every == 0:
          save(step)
          last_saved = step
        last_metrics = metrics
      result.stopped_by = stop.received
      result.time_limit_reached = out_of_time
      if out_of_time:
        logging.info('The time limit of %s minutes is reached at step %d.',
                     train_config.max_minutes, step)
      if last_saved != step:
        save(step)
  finally:
    writers.flush()
  result.step = step
  if last_metrics is not None:
    result.metrics = {name: float(value) for name, value in last_metrics.items()}
  if result.stopped_by:
    logging.info('Stopped by %s at step %d.', result.stopped_by, step)
  else:
    logging.info('Finished at step %d.', step)
  return result
