"""tf.distribute plumbing for training: picking a strategy, worker roles, sharded input.

Training always runs under a strategy, so one code path serves every setup:
- 'default': `OneDeviceStrategy` on the first GPU, else the CPU.
- 'mirrored': `MirroredStrategy`, synchronous data parallelism over this machine's GPUs.
- 'multi_worker': `MultiWorkerMirroredStrategy`; the cluster and this worker's role come from the
  TF_CONFIG environment variable (task type 'worker', or 'chief' plus workers). Worker 0 (or the
  chief) is the chief: it writes summaries, evaluates and saves to run_dir/train.

`config.train.batch_size` is the *global* batch: each replica gets batch_size / num_replicas.
Where the original divided the batch by the number of sync workers (SyncReplicasOptimizer), this
is the same rule.
"""
import json
import os

from absl import logging
import numpy as np
import tensorflow as tf

from music_vae_lite.families import contract
from music_vae_lite.pipeline import input_pipeline

STRATEGIES = ('default', 'mirrored', 'multi_worker')


def set_cpu_threads(train_config):
  """With config.train.parallel_directions, TensorFlow runs two ops at a time on half the CPU
  cores each (inter-op 2, intra-op cores // 2) instead of one op at a time on all of them; returns
  whether its threads are so set. Call it before any other TensorFlow work: once TensorFlow has
  started its thread pools they cannot change (a warning says so and training goes on).

  Why: a small step's ops (batch 32-64, LSTMs of 256-512 units) are too small to share out over
  cores, so with the default the cores mostly wake each other up; two at a time lets the encoder's
  forward and backward LSTMs run side by side. On a 2-core Zen 3, cpu-mel_2bar at batch 32 trains
  about 20% faster and cat-mel_2bar_small at batch 64 about 13%; the hierarchical 16-bar model and
  batch 512, whose ops are larger, run 4-6% slower (benchmarks/README.md, "Threads"). Not an
  original setting."""
  if not train_config.get('parallel_directions', False):
    return False
  intra = max(1, len(os.sched_getaffinity(0)) // 2)
  try:
    tf.config.threading.set_inter_op_parallelism_threads(2)
    tf.config.threading.set_intra_op_parallelism_threads(intra)
  except RuntimeError:
    if (tf.config.threading.get_inter_op_parallelism_threads(),
        tf.config.threading.get_intra_op_parallelism_threads()) != (2, intra):
      logging.warning('config.train.parallel_directions: TensorFlow had started already; its '
                      'threads stay as they are.')
    return False
  return True


def make_strategy(name='default'):
  """The tf.distribute strategy called `name` (one of STRATEGIES). Create it before other TF work:
  the multi-worker strategy must start its collective runtime first."""
  if name == 'default':
    gpus = tf.config.list_logical_devices('GPU')
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else '/cpu:0')
  if name == 'mirrored':
    return tf.distribute.MirroredStrategy()
  if name == 'multi_worker':
    if not os.environ.get('TF_CONFIG'):
      raise ValueError('--strategy=multi_worker reads the cluster from the TF_CONFIG environment '
                       'variable, which is not set (see the tf.distribute multi-worker guide).')
    try:
      json.loads(os.environ['TF_CONFIG'])
    except json.JSONDecodeError as e:
      raise ValueError(f'TF_CONFIG is not valid JSON: {e}.') from e
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f'Unknown strategy {name!r}: expected one of {", ".join(STRATEGIES)}.')


def worker_role(strategy):
  """(is_chief, worker_id) of this process; (True, 0) outside multi-worker training."""
  resolver = getattr(strategy, 'cluster_resolver', None)
  if resolver is None or not resolver.task_type:
    return True, 0
  task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
  has_chief = 'chief' in resolver.cluster_spec().as_dict()
  is_chief = task_type == 'chief' or (task_type == 'worker' and task_id == 0 and not has_chief)
  # A unique number per process, for file names: the chief is 0, workers count from 1 with a chief.
  worker_id = 0 if task_type == 'chief' else task_id + (1 if has_chief else 0)
  return is_chief, worker_id


def per_replica_batch_size(strategy, global_batch_size):
  replicas = strategy.num_replicas_in_sync
  if global_batch_size % replicas:
    raise ValueError(f'config.train.batch_size={global_batch_size} does not split evenly over '
                     f'{replicas} replicas; use a multiple of {replicas}.')
  return global_batch_size // replicas


def derived_seed(*numbers):
  """A non-negative int63 seed mixing several integers (e.g. config seed, step, worker)."""
  state = np.random.SeedSequence([int(n) for n in numbers]).generate_state(1, np.uint64)[0]
  return int(state >> np.uint64(1))


def distribute_windows(strategy, windows, converter, global_batch_size, *, seed, transpose=0,
                       start_step=0):
  """A distributed, endlessly repeating dataset of training batches (augmented: see
  input_pipeline.make_dataset) from windows (a WindowSet, or what make_dataset takes).

  Each input pipeline (one per worker) reads its own share of the windows (every k-th window) with
  its own seed, and batches them at the per-replica batch size; the strategy hands one batch to
  each local replica, so every step sees `global_batch_size` windows in all. Batches are a function
  of (seed, step): starting at `start_step` gives the batches an uninterrupted run sees from there.
  """
  batch_size = per_replica_batch_size(strategy, global_batch_size)
  arrays = converter.window_arrays(windows)
  num_windows = contract.num_windows(arrays)

  def dataset_fn(context):
    every = slice(context.input_pipeline_id, None, context.num_input_pipelines)
    shard = {name: array[every] for name, array in arrays.items()}
    if not contract.num_windows(shard):
      raise ValueError(f'Only {num_windows} training windows for {context.num_input_pipelines} '
                       'workers: every worker needs at least one.')
    return input_pipeline.make_dataset(
        shard, converter, batch_size, seed=derived_seed(seed, context.input_pipeline_id),
        augment=True, transpose=transpose, shuffle=True, repeat=True, drop_remainder=True,
        # Each step takes one batch from this pipeline for each of its local replicas.
        start_batch=start_step * (context.num_replicas_in_sync // context.num_input_pipelines))

  return strategy.distribute_datasets_from_function(dataset_fn)
