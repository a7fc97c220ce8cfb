r"""Training throughput of one config, batch size and mode, with its FLOP rate and efficiency.

    python benchmarks/train_speed.py --config=cat-mel_2bar_small --batch=64 --mode=graph \
        [--steps=10] [--warmup=1] [--max_seconds=60] [--no_matmul]

Modes (config.train settings; see flops.MODES):
  eager     the same step run eagerly (tf.config.run_functions_eagerly)
  graph     tf.function, step-wise fp32 LSTM: the default         jit_compile=False, fp32
  fused     tf.function, TensorFlow's fused BlockLSTM kernel      fused_lstm=True
  xla       tf.function(jit_compile=True), step-wise fp32 LSTM   jit_compile=True
  bf16      tf.function, step-wise LSTM, bfloat16 matmuls        mixed_precision=True
  xla-bf16  both

The step is the training program's own: `train.make_train_step` on a `train.TrainState` (Adam,
global-norm clipping, the clip-to-zero rule, the strategy, the schedules), fed one fixed batch of
random label windows through a distributed tf.data iterator. If that API cannot be imported, an
equivalent step is built here (Adam + clip_by_global_norm) and the JSON says so
("step_source": "benchmark"). Like the training loop, every step waits for its loss.

Timing: the first step (tracing, compiling) is reported as `first_step_s`, `--warmup` more steps are
run untimed, then up to `--steps` steps are timed, stopping early once `--max_seconds` have passed
(at least one step is timed). Then the matmul yardstick is measured in the same process at the
step's own matmul shapes (matmul.effective_rate) and the efficiency is
  efficiency = executed model GFLOP/s / effective matmul GFLOP/s   (in the step's compute dtype).
`peak_rss_mb` is this process's peak RSS (ru_maxrss): run one measurement per process.
Prints one JSON line ("train"); with `--profile_steps=N`, first a "train_profile" line: N more
steps traced by TensorFlow's profiler, their op time summed by op type (see `profile`).
"""
import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position
import flops  # pylint: disable=g-import-not-at-top,wrong-import-position

# Configs too large for batch 64/512 on a 2-core CPU in a few minutes (and, for hierdec-mel_16bar,
# in memory: the original needs ~9 GB at batch 8): they are measured at this batch instead.
BATCH_CAPS = {'hierdec-mel_16bar': 8, 'cat-mel_2bar_big': 8}


def batch_for(config_name, requested):
  return min(requested, BATCH_CAPS.get(config_name, requested))


def make_config(name, batch_size, mode):
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(name)
  settings = flops.mode_settings(mode)
  config.train.batch_size = batch_size
  config.train.jit_compile = settings['jit_compile']
  config.train.mixed_precision = settings['mixed_precision']
  config.train.fused_lstm = settings['fused']
  return config


def random_batch(config, batch_size, seed=0):
  """A batch dict of random label windows (speed does not depend on the values)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  converter = contract.get_converter(config)
  rng = np.random.default_rng(seed)
  labels = np.stack([rng.integers(0, part.depth, [batch_size, converter.window_steps])
                     for part in converter.parts], axis=-1).astype(np.int32)
  batch = {'labels': labels, 'lengths': np.full([batch_size], converter.window_steps, np.int32)}
  controls = None
  if converter.control_depth:
    controls = rng.integers(0, converter.control_depth,
                            [batch_size, converter.window_steps]).astype(np.int32)
    batch['controls'] = controls
  batch['inputs'] = converter.inputs_from_labels(labels, controls).astype(np.float32)
  return converter, batch


def build_step(config, mode, batch):
  """(step() -> loss float, step_source): one training step on the fixed batch."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  converter, batch = batch
  try:
    from music_vae_lite.training import distribute  # pylint: disable=g-import-not-at-top
    from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
    state_class, make_train_step = train.TrainState, train.make_train_step
    strategy = distribute.make_strategy('default')
  except (ImportError, AttributeError) as e:
    benchutil.log(f'train_speed: train.make_train_step unavailable ({e}); '
                  'using the benchmark step.')
    return _benchmark_step(config, mode, converter, batch), 'benchmark'

  state = state_class(config, strategy, converter)
  train_step = make_train_step(state)
  dataset = tf.data.Dataset.from_tensors(batch).repeat()
  iterator = iter(strategy.experimental_distribute_dataset(dataset))

  def step():
    return float(train_step(iterator, state.next_seed())['loss'])

  return step, 'train.make_train_step'


def _benchmark_step(config, mode, converter, batch):
  """The same computation as train.make_train_step without a strategy: Adam + global-norm clip."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_keras  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import losses  # pylint: disable=g-import-not-at-top
  from music_vae_lite.nn import model_registry  # pylint: disable=g-import-not-at-top
  train_config = config.train
  model = model_registry.build_model(config, converter)
  optimizer = tf_keras.optimizers.Adam(train_config.learning_rate)
  fused = flops.mode_settings(mode)['fused']
  dtype = tf.bfloat16 if train_config.mixed_precision else tf.float32
  variables = model.trainable_variables
  batch = {name: tf.constant(value) for name, value in batch.items()}

  @tf.function(jit_compile=train_config.jit_compile)
  def loss_and_gradients(step, seed):
    with tf.GradientTape() as tape:
      loss, _ = losses.compute_loss(model, batch, step, config.model, seed, fused=fused,
                                    compute_dtype=dtype)
    return loss, tape.gradient(loss, variables)

  @tf.function
  def train_step(seed):
    loss, gradients = loss_and_gradients(optimizer.iterations, seed)
    gradients, _ = tf.clip_by_global_norm(gradients, train_config.grad_clip)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss

  generator = tf.random.Generator.from_seed(train_config.seed)
  return lambda: float(train_step(generator.make_seeds(1)[:, 0]))


def profile(step, num_steps, top=15):
  """Where a step's time goes: `num_steps` more steps traced by TensorFlow's profiler, its op
  statistics (framework_op_stats) summed by op type. Returns {steps, wall_ms_per_step,
  op_self_ms_per_step (summed over the threads that ran ops: above the wall time when ops ran in
  parallel), ops_per_step, types: [{type, self_ms_per_step, share, ops_per_step}], top first}.
  The traced steps run slower than untraced ones; the shares are what matters."""
  import tempfile  # pylint: disable=g-import-not-at-top
  import json  # pylint: disable=g-import-not-at-top
  import glob  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.python.profiler.internal import _pywrap_profiler_plugin  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  with tempfile.TemporaryDirectory() as folder:
    tf.profiler.experimental.start(folder)
    start = time.perf_counter()
    for _ in range(num_steps):
      step()
    wall = time.perf_counter() - start
    tf.profiler.experimental.stop()
    data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(
        glob.glob(os.path.join(folder, '**', '*.xplane.pb'), recursive=True),
        'framework_op_stats', {})
  if not ok:
    raise RuntimeError(f'the profiler gave no op statistics: {data[:200]!r}')
  table = json.loads(data)[0]
  columns = [column['id'] for column in table['cols']]
  by_type = {}
  for row in table['rows']:
    values = dict(zip(columns, (cell['v'] for cell in row['c'])))
    if values['type'] == 'IDLE':
      continue
    entry = by_type.setdefault(values['type'], [0.0, 0])
    entry[0] += values['total_self_time'] / 1e3  # us -> ms
    entry[1] += int(values['occurrences'])
  total = sum(ms for ms, _ in by_type.values())
  types = sorted(by_type.items(), key=lambda item: -item[1][0])
  return dict(
      steps=num_steps, wall_ms_per_step=round(wall * 1e3 / num_steps, 1),
      op_self_ms_per_step=round(total / num_steps, 1),
      ops_per_step=round(sum(n for _, n in by_type.values()) / num_steps),
      types=[dict(type=name, self_ms_per_step=round(ms / num_steps, 2),
                  share=round(ms / total, 4), ops_per_step=round(n / num_steps))
             for name, (ms, n) in types[:top]])


def run(config_name, batch_size, mode, *, steps=10, warmup=1, max_seconds=60.0, matmul=True,
        matmul_quick=False, profile_steps=0):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import matmul as matmul_lib  # pylint: disable=g-import-not-at-top
  settings = flops.mode_settings(mode)
  config = make_config(config_name, batch_size, mode)
  from music_vae_lite.training import distribute  # pylint: disable=g-import-not-at-top
  distribute.set_cpu_threads(config.train)  # as mvl_train does, before other TensorFlow work
  counts = flops.training_counts(config, mode)
  tf.config.run_functions_eagerly(settings['eager'])

  start = time.perf_counter()
  step, step_source = build_step(config, mode, random_batch(config, batch_size, config.train.seed))
  loss = step()
  first_step_s = time.perf_counter() - start
  for _ in range(warmup):
    loss = step()
  timed, start = 0, time.perf_counter()
  while timed < max(steps, 1):
    loss = step()
    timed += 1
    if time.perf_counter() - start >= max_seconds:
      break
  seconds = time.perf_counter() - start
  peak_rss = benchutil.peak_rss_mb()  # before the yardstick allocates anything

  steps_per_s = timed / seconds
  examples_per_s = steps_per_s * batch_size
  model_gflops = examples_per_s * counts['train_flops'] / 1e9
  record = dict(
      config=config_name, batch=batch_size, mode=mode, step_source=step_source,
      decoder_path=counts['path'], fused_lstm=counts['fused'],
      steps_timed=timed, seconds=round(seconds, 3), steps_per_s=round(steps_per_s, 4),
      examples_per_s=round(examples_per_s, 2), first_step_s=round(first_step_s, 2),
      train_gflop_per_example=round(counts['train_flops'] / 1e9, 4),
      model_gflops=round(model_gflops, 2),
      nominal_gflops=round(examples_per_s * counts['nominal_train_flops'] / 1e9, 2),
      peak_rss_mb=peak_rss, loss=round(loss, 4) if math.isfinite(loss) else str(loss))
  if matmul:
    tf.config.run_functions_eagerly(False)
    timing = dict(min_seconds=0.01, repeats=3) if matmul_quick else {}
    dtype = 'bfloat16' if settings['mixed_precision'] else 'float32'
    rate = matmul_lib.effective_rate(config, mode, batch_size, dtype, **timing)
    record.update(matmul_dtype=dtype, matmul_gflops=round(rate, 2),
                  efficiency=round(model_gflops / rate, 4))
    if dtype == 'bfloat16':
      rate32 = matmul_lib.effective_rate(config, mode, batch_size, 'float32', **timing)
      record.update(matmul_fp32_gflops=round(rate32, 2),
                    efficiency_vs_fp32=round(model_gflops / rate32, 4))
  if profile_steps:
    tf.config.run_functions_eagerly(settings['eager'])
    benchutil.emit('train_profile', config=config_name, batch=batch_size, mode=mode,
                   **profile(step, profile_steps))
  return benchutil.emit('train', **record)


def _first_line(error):
  """The informative line of a TF error: its message, without the 'Graph execution error' banner
  and the traceback of the node that raised it."""
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  useful = [line for line in lines if not line.startswith(('Graph execution error', 'Detected at',
                                                          'File ', '[[', 'tf2xla conversion'))]
  return (useful or lines or [type(error).__name__])[0][:500]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', required=True)
  parser.add_argument('--batch', type=int, default=64)
  parser.add_argument('--mode', default='graph', choices=sorted(flops.MODES))
  parser.add_argument('--steps', type=int, default=10, help='timed steps (at most)')
  parser.add_argument('--warmup', type=int, default=1, help='untimed steps after the first')
  parser.add_argument('--max_seconds', type=float, default=60.0,
                      help='stop timing after the step that passes this many seconds')
  parser.add_argument('--no_matmul', action='store_true', help='skip the matmul yardstick')
  parser.add_argument('--quick_matmul', action='store_true', help='short yardstick timings')
  parser.add_argument('--profile_steps', type=int, default=0,
                      help='after the timing, trace this many more steps with TensorFlow\'s '
                           'profiler and print where their time goes by op type')
  args = parser.parse_args()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    run(args.config, args.batch, args.mode, steps=args.steps, warmup=args.warmup,
        max_seconds=args.max_seconds, matmul=not args.no_matmul, matmul_quick=args.quick_matmul,
        profile_steps=args.profile_steps)
  except (tf.errors.OpError, ValueError, NotImplementedError) as e:
    # A mode a config cannot run in (e.g. an op without an XLA kernel) is a result too.
    benchutil.emit('train_error', config=args.config, batch=args.batch, mode=args.mode,
                   error=f'{type(e).__name__}: {_first_line(e)}',
                   peak_rss_mb=benchutil.peak_rss_mb())
    sys.exit(1)


if __name__ == '__main__':
  main()
