r"""The paper-sized 16-bar hierarchical model (`hierdec-mel_16bar`, 176.1 M parameters) on one GPU:
training examples/s and peak GPU memory per kernel mode, and the time to the paper's step count.

    python benchmarks/gpu/hierdec_16bar.py [--batch=512] [--modes=graph,bf16,fused,xla,xla-bf16]
        [--steps=20] [--paper_steps=100000]

Each mode runs in its own process (so one mode's memory does not count against the next), through
`train_speed.run`'s step: the training program's own `train.make_train_step` (Adam, clipping, the
schedules) on a fixed batch of random windows. Modes (benchmarks/flops.py):
  graph     fp32, our step-wise LSTM (the variables of the original's checkpoints)
  bf16      bfloat16 matmuls with float32 master weights (config.train.mixed_precision)
  fused     TensorFlow's fused BlockLSTM kernel, which has a GPU implementation and the same
            variables (config.train.fused_lstm); cuDNN's LSTM lays its weights out differently
            (one opaque buffer, two biases), so it is not used: a checkpoint would not load
  xla, xla-bf16  the step compiled with XLA (config.train.jit_compile), fp32 / bf16
Prints one JSON line per mode and a table: examples/s, s/step, peak GPU memory, and the hours to
`--paper_steps` steps at the paper's batch of 512 (the paper trained its 16-bar models for about
100k steps; reference section 6). Without a GPU it stops with one line, unless --allow_cpu (a smoke
run, e.g. with --config=tiny-hierdec-mel_16bar).
"""
import argparse
import json
import os
import subprocess
import sys

BENCH = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BENCH)

MODES = ('graph', 'bf16', 'fused', 'xla', 'xla-bf16')


def measure(config, batch, mode, steps):
  """One mode in this process: train_speed's record plus the peak GPU memory (MB, or None)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import train_speed  # pylint: disable=g-import-not-at-top
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    tf.config.experimental.reset_memory_stats('GPU:0')
  record = train_speed.run(config, batch, mode, steps=steps, warmup=2, max_seconds=120.0,
                           matmul=False)
  peak = (tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2**20) if gpus else None
  record.update(gpu_peak_mb=None if peak is None else round(peak, 1),
                device=tf.config.experimental.get_device_details(gpus[0]).get('device_name')
                if gpus else 'CPU')
  print('GPU_RESULT ' + json.dumps(record), flush=True)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', default='hierdec-mel_16bar')
  parser.add_argument('--batch', type=int, default=512)
  parser.add_argument('--modes', default=','.join(MODES))
  parser.add_argument('--steps', type=int, default=20, help='timed steps per mode (at most)')
  parser.add_argument('--paper_steps', type=int, default=100_000)
  parser.add_argument('--allow_cpu', action='store_true', help='run without a GPU (smoke test)')
  parser.add_argument('--one_mode', help=argparse.SUPPRESS)  # the child process's own mode
  args = parser.parse_args()
  if args.one_mode:
    return measure(args.config, args.batch, args.one_mode, args.steps)
  modes = [m.strip() for m in args.modes.split(',') if m.strip()]
  unknown = sorted(set(modes) - set(MODES))
  if unknown:
    sys.exit(f'hierdec_16bar.py: unknown mode(s) {", ".join(unknown)}; expected {", ".join(MODES)}.')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.config.list_physical_devices('GPU') and not args.allow_cpu:
    sys.exit('hierdec_16bar.py: TensorFlow sees no GPU here (tf.config.list_physical_devices); '
             'pass --allow_cpu for a smoke run on the CPU.')
  rows = []
  for mode in modes:
    child = subprocess.run([sys.executable, os.path.abspath(__file__), f'--config={args.config}',
                            f'--batch={args.batch}', f'--steps={args.steps}', f'--one_mode={mode}'],
                           capture_output=True, text=True, check=False)
    lines = [l for l in child.stdout.splitlines() if l.startswith('GPU_RESULT ')]
    if child.returncode or not lines:
      error = (child.stderr.strip().splitlines() or ['no output'])[-1]
      print(json.dumps({'mode': mode, 'error': error[:300]}), flush=True)
      rows.append((mode, None))
      continue
    record = json.loads(lines[-1][len('GPU_RESULT '):])
    print(json.dumps(record), flush=True)
    rows.append((mode, record))
  print(f'\n{args.config}, batch {args.batch}:')
  print(f'{"mode":10} {"examples/s":>11} {"s/step":>8} {"peak GPU MB":>12} '
        f'{"h to " + str(args.paper_steps) + " steps at 512":>26}')
  for mode, record in rows:
    if record is None:
      print(f'{mode:10} failed (see its JSON line)')
      continue
    step_s = 1.0 / record['steps_per_s']
    hours = args.paper_steps * 512 / record['examples_per_s'] / 3600
    peak = record['gpu_peak_mb']
    print(f'{mode:10} {record["examples_per_s"]:11.1f} {step_s:8.3f} '
          f'{"-" if peak is None else f"{peak:.0f}":>12} {hours:26.1f}')


if __name__ == '__main__':
  main()
