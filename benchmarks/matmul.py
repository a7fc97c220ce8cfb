r"""The machine yardstick: tf.matmul GFLOP/s at the shapes the models multiply.

    python benchmarks/matmul.py [--configs=cat-mel_2bar_small,...] [--batches=64,512]
                                [--dtypes=float32,bfloat16] [--quick]

For each config and batch it takes the matmuls one training step executes (benchmarks/flops.py,
'graph' mode for float32, 'bf16' mode for bfloat16), each as its forward product [M, K] x [K, N]
and the backward pass's two, [M, N] x [N, K] (input gradient) and [K, M] x [M, N] (weight
gradient), measures every distinct shape and prints one JSON line per shape ("matmul") and one
per config, batch and dtype ("matmul_effective"): the rate at which the step's own matmuls would
run if the step did nothing else, i.e. total FLOPs / sum over shapes of (FLOPs / measured rate).
That effective rate is the denominator of the training efficiency (train_speed.py measures it
again in its own process). A large square product (REFERENCE_SHAPE) gives the machine's best rate.

Timing: each shape runs as a chain of dependent products inside one tf.function (no Python or
eager dispatch per product, which would dominate small shapes); the chain is lengthened until it
takes at least `min_seconds`, then timed `repeats` times; the median rate is reported (and the best,
as `best_gflops`). bfloat16 is measured only where the CPU has native bf16 (AVX512-BF16 / AMX);
elsewhere TF emulates it through float32 and the comparison says nothing about the hardware.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position
import flops  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_CONFIGS = ('cat-mel_2bar_small', 'cat-drums_2bar_small', 'cpu-mel_2bar',
                   'cpu-hierdec-mel_16bar', 'cat-mel_2bar_big', 'hierdec-mel_16bar')
# A large square product: the machine's best matmul rate, for comparison with other machines.
REFERENCE_SHAPE = (1024, 1024, 1024)
# Matmuls below this share of a step's FLOPs are left out of the effective rate (they barely move it
# and would double the measuring time).
MIN_SHARE = 0.005


def _chain_function():
  """A tf.function running `count` products a @ b one after another inside one graph.

  Each product waits for the previous one (a control dependency), like an RNN's steps, so the
  rate is that of sequential products, and no per-call Python or eager dispatch cost is counted:
  only the in-graph cost a training step pays too."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  @tf.function
  def chain(a, b, count):
    def body(i, previous):
      with tf.control_dependencies([previous]):
        return i + 1, tf.matmul(a, b)
    return tf.while_loop(lambda i, _: i < count, body, (tf.constant(1), tf.matmul(a, b)),
                         parallel_iterations=1)[1]

  return chain


def measure(m, k, n, dtype, *, min_seconds=0.05, repeats=5):
  """{'gflops': median rate, 'best_gflops': best rate} of [m, k] x [k, n] products in `dtype`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  dtype = tf.as_dtype(dtype)
  a = tf.cast(tf.random.stateless_normal([m, k], seed=[1, 2]), dtype)
  b = tf.cast(tf.random.stateless_normal([k, n], seed=[3, 4]), dtype)
  chain = _chain_function()
  flop = 2.0 * m * k * n
  chain(a, b, tf.constant(3)).numpy()  # traces; warms up the kernels
  count = 3
  while True:  # grow the count until one run fills min_seconds
    start = time.perf_counter()
    chain(a, b, tf.constant(count)).numpy()
    elapsed = time.perf_counter() - start
    if elapsed >= min_seconds:
      break
    count = max(count + 1, int(count * min(10.0, 1.2 * min_seconds / max(elapsed, 1e-6))))
  rates = [flop * count / elapsed / 1e9]
  for _ in range(repeats - 1):
    start = time.perf_counter()
    chain(a, b, tf.constant(count)).numpy()
    rates.append(flop * count / (time.perf_counter() - start) / 1e9)
  return {'gflops': statistics.median(rates), 'best_gflops': max(rates)}


def step_matmuls(config, mode, batch_size):
  """[(layer names, (M, K, N), FLOPs per step, share of the step's FLOPs)] of the distinct matmul
  shapes one training step runs (forward and backward), biggest layer first; shapes below
  MIN_SHARE left out."""
  counts = flops.training_counts(config, mode)
  by_shape = {}
  for matmul in counts['matmuls']:
    m, k, n = matmul.shape(batch_size)
    step_flops = matmul.flops_per_example() * batch_size
    # The forward product and the backward pass's two: dX = dY W^T and dW = X^T dY.
    for shape, suffix in (((m, k, n), ''), ((m, n, k), ' dX'), ((k, m, n), ' dW')):
      by_shape.setdefault(shape, []).append((step_flops, matmul.name + suffix))
  grand_total = sum(f for layers in by_shape.values() for f, _ in layers)
  result = []
  for shape, layers in sorted(by_shape.items()):
    total = sum(f for f, _ in layers)
    if total >= MIN_SHARE * grand_total:
      names = [name for _, name in sorted(layers, reverse=True)]
      result.append((names, shape, total, total / grand_total))
  return result


def effective_rate(config, mode, batch_size, dtype, *, min_seconds=0.05, repeats=5, emit=None,
                   cache=None):
  """The FLOP-weighted harmonic mean of the measured rates at the step's matmul shapes (GFLOP/s).

  `emit(shape_record)` is called per shape if given; `cache` ({(shape, dtype): result}) avoids
  measuring a shape twice in one process."""
  cache = {} if cache is None else cache
  total_flops, total_seconds = 0.0, 0.0
  for names, shape, step_flops, share in step_matmuls(config, mode, batch_size):
    key = (shape, dtype)
    if key not in cache:
      cache[key] = measure(*shape, dtype, min_seconds=min_seconds, repeats=repeats)
      if emit:
        emit(dict(shape=list(shape), dtype=dtype, config=config.name, batch=batch_size,
                  layers=names[:4] + ([f'+{len(names) - 4} more'] if len(names) > 4 else []),
                  share=round(share, 3), **{k: round(v, 2) for k, v in cache[key].items()}))
    total_flops += step_flops
    total_seconds += step_flops / (cache[key]['gflops'] * 1e9)
  return total_flops / total_seconds / 1e9


def dtypes_to_measure(requested):
  dtypes = []
  for dtype in requested:
    if dtype == 'bfloat16' and not benchutil.has_native_bf16():
      benchutil.log('matmul: this CPU has no native bfloat16 (no AVX512-BF16 / AMX): skipping it.')
      continue
    dtypes.append(dtype)
  return dtypes


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', default=','.join(DEFAULT_CONFIGS))
  parser.add_argument('--batches', default='64,512',
                      help='batch sizes; hierdec-mel_16bar and cat-mel_2bar_big always use 8')
  parser.add_argument('--dtypes', default='float32,bfloat16')
  parser.add_argument('--min_seconds', type=float, default=0.05, help='shortest timed chain')
  parser.add_argument('--repeats', type=int, default=5, help='timings per shape (median)')
  parser.add_argument('--quick', action='store_true', help='short timings (to check the script)')
  args = parser.parse_args()
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  import train_speed  # pylint: disable=g-import-not-at-top
  min_seconds, repeats = (0.01, 3) if args.quick else (args.min_seconds, args.repeats)
  cache = {}
  for dtype in dtypes_to_measure(args.dtypes.split(',')):
    result = measure(*REFERENCE_SHAPE, dtype, min_seconds=min_seconds * 4, repeats=repeats)
    benchutil.emit('matmul', shape=list(REFERENCE_SHAPE), dtype=dtype, layers=['reference'],
                   **{k: round(v, 2) for k, v in result.items()}, **benchutil.machine_info())
  for name in args.configs.split(','):
    config = config_lib.load_config(name)
    batches = sorted({train_speed.batch_for(name, int(b)) for b in args.batches.split(',')})
    for batch_size in batches:
      for dtype in dtypes_to_measure(args.dtypes.split(',')):
        mode = 'bf16' if dtype == 'bfloat16' else 'graph'
        rate = effective_rate(
            config, mode, batch_size, dtype, min_seconds=min_seconds, repeats=repeats, cache=cache,
            emit=lambda record: benchutil.emit('matmul', **record))
        benchutil.emit('matmul_effective', config=name, batch=batch_size, dtype=dtype, mode=mode,
                       gflops=round(rate, 2), **benchutil.machine_info())


if __name__ == '__main__':
  main()
