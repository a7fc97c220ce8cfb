r"""Inference latency: whole-process wall time of mvl_sample / mvl_interpolate, and the warm
in-process time of the same calls through the Python API.

    python benchmarks/inference.py [--configs=cat-mel_2bar_small,hierdec-mel_16bar] [--quick]
                                   [--num_outputs=16] [--work_dir=DIR]

For each config a run directory with an *untrained* model (random weights from config.train.seed;
speed does not depend on the values) is written with the training program's checkpoint layout
(run_dir/config.json + run_dir/train/ckpt-0), in its own process. Then, each in its own process:
- "startup":    `python -c "import tensorflow"` and
                `python -c "import music_vae_lite.serving.trained_model"` (the floor under every
                program's wall time);
- "process":    `mvl_sample --num_outputs=16` and `mvl_interpolate --num_outputs=16` (two MIDI files
                of data/midi that give a window of the config's length), wall time from launch to
                exit, and the child's peak RSS;
- "warm":       TrainedModel(run_dir).sample(16) and .interpolate(ns1, ns2, 16), the first call
                (which traces the graphs) and the median of `--repeats` calls after it.
Each "process" and "warm" measurement runs in float32 and, where the CPU has native bf16, again in
bfloat16 (`--bf16`, `TrainedModel(compute_dtype='bfloat16')`); `compute_dtype` says which.
Temperature 0.5 (the programs' default), fixed seeds. Prints one JSON line per measurement.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_CONFIGS = ('cat-mel_2bar_small', 'hierdec-mel_16bar')
QUICK_CONFIGS = ('tiny-mel_2bar', 'tiny-hierdec-mel_16bar')
TEMPERATURE = 0.5
SEED = 1


def timed_process(argv, timeout):
  """(wall seconds, child peak RSS MiB, return code, output) of running argv to completion."""
  start = time.perf_counter()
  process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             cwd=benchutil.REPO)
  deadline = start + timeout
  output = b''
  # os.wait4 gives this child's own rusage (peak RSS); read the pipe meanwhile so it cannot fill.
  os.set_blocking(process.stdout.fileno(), False)
  while True:
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    chunk = process.stdout.read()
    if chunk:
      output += chunk
    if pid:
      break
    if time.perf_counter() > deadline:
      process.kill()
      pid, status, usage = os.wait4(process.pid, 0)
      break
    time.sleep(0.02)
  wall = time.perf_counter() - start
  process.returncode = os.waitstatus_to_exitcode(status)
  rest = process.stdout.read()
  output += rest or b''
  peak_rss_mb = round(usage.ru_maxrss / 1024.0, 1)
  return wall, peak_rss_mb, process.returncode, output.decode(errors='replace')


def program(name):
  """The argv prefix that runs a console program: the installed script, else `python -m`."""
  script = os.path.join(os.path.dirname(benchutil.PYTHON), name)
  if os.path.isfile(script):
    return [script]
  return [benchutil.PYTHON, '-m', f'music_vae_lite.cli.{name[len("mvl_"):]}']


def make_run_dir(config_name, run_dir):
  """Writes an untrained model of `config_name` as a run directory (config.json + ckpt-0)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(config_name)
  model = train.build_model(config)
  checkpoints.save_config(run_dir, config)
  manager = checkpoints.make_manager(tf.train.Checkpoint(model=model), run_dir, keep=1)
  return manager.save(checkpoint_number=0)


def find_inputs(config_name, count=2):
  """The first `count` MIDI files of data/midi (sorted) that give a window for the config."""
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  converter = contract.get_converter(config_lib.load_config(config_name))
  found = []
  for root, _, files in sorted(os.walk(benchutil.DATA_MIDI)):
    for name in sorted(files):
      if not name.lower().endswith(preprocess.MIDI_SUFFIXES):
        continue
      path = os.path.join(root, name)
      entries = list(preprocess.read_note_sequences(path))
      if entries and entries[0][1] is not None and len(converter.to_tensors(entries[0][1]).labels):
        found.append(path)
        if len(found) == count:
          return found
  raise FileNotFoundError(f'Fewer than {count} files of {benchutil.DATA_MIDI} give a '
                          f'{config_name} window.')


def compute_dtypes():
  """float32, and bfloat16 where the CPU runs it natively (elsewhere it is emulated and slow)."""
  return ('float32', 'bfloat16') if benchutil.has_native_bf16() else ('float32',)


def warm_calls(run_dir, midi_1, midi_2, num_outputs, repeats, compute_dtype='float32'):
  """In this process: first and warm times of TrainedModel.sample / .interpolate."""
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  start = time.perf_counter()
  model = trained_model.TrainedModel(run_dir, compute_dtype=compute_dtype)
  load_s = time.perf_counter() - start
  sequences = [next(iter(preprocess.read_note_sequences(path)))[1] for path in (midi_1, midi_2)]
  calls = {
      'sample': lambda: model.sample(num_outputs, temperature=TEMPERATURE, seed=SEED),
      'interpolate': lambda: model.interpolate(sequences[0], sequences[1], num_outputs,
                                               temperature=TEMPERATURE, seed=SEED),
  }
  for name, call in calls.items():
    start = time.perf_counter()
    outputs = call()
    first_s = time.perf_counter() - start
    times = []
    for _ in range(repeats):
      start = time.perf_counter()
      call()
      times.append(time.perf_counter() - start)
    benchutil.emit('inference_warm', config=model.config.name, call=name, num_outputs=len(outputs),
                   compute_dtype=model.compute_dtype, batch_size=model.batch_size,
                   load_s=round(load_s, 3),
                   first_call_s=round(first_s, 3),
                   warm_s=round(statistics.median(times), 3), repeats=repeats,
                   peak_rss_mb=benchutil.peak_rss_mb())


def run_all(config_names, num_outputs, repeats, work_dir, timeout):
  this = os.path.abspath(__file__)
  for argv, what in (([benchutil.PYTHON, '-c', 'import tensorflow'], 'import tensorflow'),
                     ([benchutil.PYTHON, '-c', 'import music_vae_lite.serving.trained_model'],
                      'import music_vae_lite.serving.trained_model')):
    wall, rss, code, output = timed_process(argv, timeout)
    benchutil.emit('inference_startup', what=what, wall_s=round(wall, 3), peak_rss_mb=rss,
                   returncode=code, **({'output': output[-2000:]} if code else {}))
  for config_name in config_names:
    run_dir = os.path.join(work_dir, config_name)
    start = time.perf_counter()
    wall, rss, code, output = timed_process(
        [benchutil.PYTHON, this, '--make_run_dir', f'--configs={config_name}',
         f'--run_dir={run_dir}'],
        timeout)
    if code:
      benchutil.emit('inference_error', config=config_name, step='make_run_dir',
                     output=output[-3000:])
      continue
    benchutil.log(f'inference: wrote an untrained {config_name} to {run_dir} '
                  f'({time.perf_counter() - start:.1f} s)')
    midi_1, midi_2 = find_inputs(config_name)
    out_dir = os.path.join(work_dir, f'{config_name}-out')
    commands = {
        'mvl_sample': program('mvl_sample') + [
            f'--run_dir={run_dir}', f'--num_outputs={num_outputs}', f'--temperature={TEMPERATURE}',
            f'--seed={SEED}', f'--output_dir={out_dir}'],
        'mvl_interpolate': program('mvl_interpolate') + [
            f'--run_dir={run_dir}', f'--input_midi_1={midi_1}', f'--input_midi_2={midi_2}',
            f'--num_outputs={num_outputs}', f'--temperature={TEMPERATURE}', f'--seed={SEED}',
            f'--output_dir={out_dir}'],
    }
    for dtype in compute_dtypes():
      for name, argv in commands.items():
        argv = argv + (['--bf16'] if dtype == 'bfloat16' else [])
        wall, rss, code, output = timed_process(argv, timeout)
        benchutil.emit('inference_process', config=config_name, program=name,
                       compute_dtype=dtype, num_outputs=num_outputs, wall_s=round(wall, 3),
                       peak_rss_mb=rss, returncode=code,
                       **({'output': output[-3000:]} if code else {}))
      wall, rss, code, output = timed_process(
          [benchutil.PYTHON, this, '--warm', f'--run_dir={run_dir}', f'--midi_1={midi_1}',
           f'--midi_2={midi_2}', f'--num_outputs={num_outputs}', f'--repeats={repeats}',
           f'--compute_dtype={dtype}'], timeout)
      records = benchutil.json_lines(output)
      for record in records:
        print(json.dumps(record), flush=True)
      if code or not records:
        benchutil.emit('inference_error', config=config_name, step=f'warm {dtype}',
                       output=output[-3000:])
    shutil.rmtree(run_dir, ignore_errors=True)  # the big configs' checkpoints are ~0.5-0.7 GB


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--configs', default=None, help='comma-separated config names')
  parser.add_argument('--quick', action='store_true', help='tiny configs, to check the script')
  parser.add_argument('--num_outputs', type=int, default=16)
  parser.add_argument('--repeats', type=int, default=3, help='warm calls timed (median)')
  parser.add_argument('--work_dir', default=None, help='where run directories go (default: temp)')
  parser.add_argument('--timeout', type=float, default=600.0, help='per process, seconds')
  # Internal: the parts run in their own processes.
  parser.add_argument('--make_run_dir', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--warm', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--run_dir', help=argparse.SUPPRESS)
  parser.add_argument('--midi_1', help=argparse.SUPPRESS)
  parser.add_argument('--midi_2', help=argparse.SUPPRESS)
  parser.add_argument('--compute_dtype', default='float32', help=argparse.SUPPRESS)
  args = parser.parse_args()
  configs = (args.configs.split(',') if args.configs
             else list(QUICK_CONFIGS if args.quick else DEFAULT_CONFIGS))
  if args.make_run_dir:
    make_run_dir(configs[0], args.run_dir)
  elif args.warm:
    warm_calls(args.run_dir, args.midi_1, args.midi_2, args.num_outputs, args.repeats,
               args.compute_dtype)
  elif args.work_dir:
    os.makedirs(args.work_dir, exist_ok=True)
    run_all(configs, args.num_outputs, args.repeats, args.work_dir, args.timeout)
  else:
    with tempfile.TemporaryDirectory(prefix='mvl_bench_') as work_dir:
      run_all(configs, args.num_outputs, args.repeats, work_dir, args.timeout)


if __name__ == '__main__':
  main()
