"""Import time and memory of a full-size original checkpoint (`mvl_import`'s work).

    python benchmarks/import_speed.py [--config=hierdec-mel_16bar] [--work_dir=/tmp/mvl_import_bench]

1. Writes a synthetic checkpoint with the real shapes and the original's variable names
   (`magenta_checkpoint.write_original_checkpoint`: random weights, global_step; nothing is
   downloaded), in a subprocess of its own.
2. In a fresh subprocess, runs `magenta_checkpoint.import_checkpoint` (config inferred from the
   shapes, weights copied into our model one tensor at a time, our checkpoint and config.json
   written) and measures its wall time and the growth of the peak resident set size over the
   process's size just before the import (TensorFlow and the library already loaded). The growth
   divided by the weights' size is the number of copies of the weights held at once.
3. In another fresh subprocess, the same steps one by one, for the time of each.

Prints one JSON line per measurement (see benchutil.py).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position


def _rss_mb():
  with open('/proc/self/status') as f:
    for line in f:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 1024.0
  return float('nan')


def make_checkpoint(config_name, prefix):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import magenta_checkpoint  # pylint: disable=g-import-not-at-top
  shapes = magenta_checkpoint.expected_shapes(config_lib.load_config(config_name))
  rng = np.random.default_rng(0)
  arrays = {name: (rng.standard_normal(shape, dtype=np.float32) * 0.01) for name, shape in
            shapes.items()}
  magenta_checkpoint.write_original_checkpoint(prefix, arrays, global_step=12345)
  size = sum(a.nbytes for a in arrays.values())
  benchutil.log(f'wrote {prefix}: {len(arrays)} variables, {size / 2**20:.1f} MiB')


def measure_total(prefix, run_dir):
  from music_vae_lite.serving import magenta_checkpoint  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top,unused-import
  before = _rss_mb()
  start = time.perf_counter()
  _, report = magenta_checkpoint.import_checkpoint(prefix, run_dir)
  seconds = time.perf_counter() - start
  weights_mb = report['parameters'] * 4 / 2**20
  growth = benchutil.peak_rss_mb() - before
  benchutil.emit('import_total', config=report['config_note'], parameters=report['parameters'],
                 weights_mb=round(weights_mb, 1), seconds=round(seconds, 2),
                 rss_before_mb=round(before, 1), peak_rss_mb=benchutil.peak_rss_mb(),
                 peak_growth_mb=round(growth, 1), weight_copies=round(growth / weights_mb, 2))


def measure_phases(prefix, run_dir):
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import magenta_checkpoint  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  times = {}
  start = time.perf_counter()
  config, _ = magenta_checkpoint.infer_config(magenta_checkpoint.read_shapes(prefix))
  times['infer_config_s'] = time.perf_counter() - start
  start = time.perf_counter()
  reader = tf.train.load_checkpoint(prefix)
  model = magenta_checkpoint.build_model(config, reader.get_tensor)  # as in load_model
  times['build_model_from_checkpoint_s'] = time.perf_counter() - start
  start = time.perf_counter()
  checkpoints.make_manager(tf.train.Checkpoint(model=model), run_dir, keep=1).save(
      checkpoint_number=0)
  times['save_s'] = time.perf_counter() - start
  benchutil.emit('import_phases', **{k: round(v, 2) for k, v in times.items()})


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--config', default='hierdec-mel_16bar')
  parser.add_argument('--work_dir', default='/tmp/mvl_import_bench')
  parser.add_argument('--step', choices=['all', 'make', 'total', 'phases'], default='all')
  args = parser.parse_args()
  prefix = os.path.join(args.work_dir, 'synthetic', 'model.ckpt')
  if args.step == 'make':
    return make_checkpoint(args.config, prefix)
  if args.step in ('total', 'phases'):
    run_dir = os.path.join(args.work_dir, f'run_{args.step}')
    shutil.rmtree(run_dir, ignore_errors=True)
    return (measure_total if args.step == 'total' else measure_phases)(prefix, run_dir)
  if not os.path.isfile(prefix + '.index'):
    os.makedirs(args.work_dir, exist_ok=True)
    subprocess.run([benchutil.PYTHON, __file__, '--step=make', f'--config={args.config}',
                    f'--work_dir={args.work_dir}'], check=True)
  for step in ('total', 'phases'):  # fresh processes: peak RSS belongs to one measurement
    subprocess.run([benchutil.PYTHON, __file__, f'--step={step}', f'--config={args.config}',
                    f'--work_dir={args.work_dir}'], check=True)
  return None


if __name__ == '__main__':
  main()
