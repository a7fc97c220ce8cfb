r"""Runs every benchmark, each measurement in its own process, and prints the summary tables.

    python benchmarks/run_all.py            # the full table (see benchmarks/README.md for times)
    python benchmarks/run_all.py --quick    # tiny configs and short timings: checks the scripts
    python benchmarks/run_all.py --sections=train,inference --jsonl=results.jsonl --markdown=t.md
    python benchmarks/run_all.py --configs=cat-mel_2bar_small,cpu-mel_2bar   # fewer trainings

Every measurement is printed as one JSON line as soon as it is made (see benchutil.emit), then the
Markdown tables of benchmarks/README.md. Sections (all by default):
  matmul      the machine yardstick (matmul.py) at the step shapes of every config and batch
  modes       one flat (scheduled sampling) and one hierarchical (teacher forcing) config at batch
              64 in every training mode: eager (the flat one only), graph (tf.function), fused,
              xla, bf16, xla-bf16
  train       every shipped config at batch 64 and 512 in the default mode (8 for the two
              GPU-sized configs), with peak RSS
  inference   mvl_sample / mvl_interpolate processes and warm API calls (inference.py)
  preprocess  files/s and windows/s over data/midi with 1 and 2 worker processes
A failed or timed-out measurement prints a "*_error" line with the tail of its output and the run
goes on.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position

SECTIONS = ('matmul', 'modes', 'train', 'inference', 'preprocess')
SHIPPED = ('cat-mel_2bar_small', 'cat-drums_2bar_small', 'cpu-mel_2bar', 'cpu-hierdec-mel_16bar',
           'cat-mel_2bar_big', 'hierdec-mel_16bar')
MODES = ('eager', 'graph', 'fused', 'xla', 'bf16', 'xla-bf16')


def plan(quick, steps, max_seconds, configs=SHIPPED):
  """[(section, label, argv, timeout seconds)] of the processes to run (full mode: only the
  training runs of `configs`)."""
  here = benchutil.BENCH_DIR
  python = benchutil.PYTHON

  def script(name, *args):
    return [python, os.path.join(here, name), *args]

  def train(config, batch, mode, timed_steps=steps, warmup=1):
    args = [f'--config={config}', f'--batch={batch}', f'--mode={mode}', f'--steps={timed_steps}',
            f'--warmup={warmup}', f'--max_seconds={max_seconds}']
    if quick:
      args.append('--quick_matmul')
    return script('train_speed.py', *args)

  jobs = []
  if quick:
    jobs.append(('matmul', 'matmul', script(
        'matmul.py', '--configs=tiny-mel_2bar,tiny-hierdec-mel_16bar', '--batches=8', '--quick'),
                 300))
    for mode in ('eager', 'graph', 'xla', 'bf16'):
      jobs.append(('modes', f'tiny-mel_2bar b8 {mode}', train('tiny-mel_2bar', 8, mode), 300))
    for config in ('tiny-drums_2bar', 'tiny-hierdec-mel_16bar'):
      jobs.append(('train', f'{config} b8', train(config, 8, 'graph'), 300))
    jobs.append(('inference', 'inference', script('inference.py', '--quick', '--repeats=2'), 600))
    jobs.append(('preprocess', 'preprocess', script(
        'preprocess_speed.py', '--configs=cat-mel_2bar_small', '--max_files=100'), 300))
    return jobs

  import train_speed  # pylint: disable=g-import-not-at-top
  # The yardstick again, at every config's shapes (train_speed.py measures its own too).
  jobs.append(('matmul', 'matmul', script('matmul.py', f'--configs={",".join(configs)}',
                                          '--batches=64,512', '--min_seconds=0.03', '--repeats=3'),
               600))
  measured = set()
  for config in [c for c in ('cat-mel_2bar_small', 'cpu-hierdec-mel_16bar') if c in configs]:
    for mode in MODES if config == 'cat-mel_2bar_small' else MODES[1:]:  # eager once is enough
      # Eager runs every op from Python: a few steps are plenty (and all there is time for).
      timed = min(steps, 3) if mode == 'eager' else steps
      jobs.append(('modes', f'{config} b64 {mode}', train(config, 64, mode, timed), 600))
    measured.add((config, 64))
  if 'cat-mel_2bar_small' in configs:  # the batch-512 targets: fp32 efficiency, bf16 speed-up
    for mode in ('graph', 'fused', 'bf16'):
      jobs.append(('modes', f'cat-mel_2bar_small b512 {mode}',
                   train('cat-mel_2bar_small', 512, mode, steps), 900))
    measured.add(('cat-mel_2bar_small', 512))
  for config in configs:
    for batch in sorted({train_speed.batch_for(config, b) for b in (64, 512)}):
      if (config, batch) in measured:
        continue
      # The two GPU-sized configs take tens of seconds per step here: the first step is the
      # warm-up (it already ran the whole graph once), then one or two timed steps.
      big = config in train_speed.BATCH_CAPS
      jobs.append(('train', f'{config} b{batch}',
                   train(config, batch, 'graph', min(steps, 2) if big else steps,
                         0 if big else 1), 1200))
  jobs.append(('inference', 'inference', script('inference.py'), 1500))
  jobs.append(('preprocess', 'preprocess', script('preprocess_speed.py'), 600))
  return jobs


def run_job(label, argv, timeout, records, jsonl):
  """Runs one process, echoing its JSON lines as they come; returns the records it printed."""
  benchutil.log(f'run_all: {label}: {" ".join(os.path.basename(a) for a in argv[1:])}')
  start = time.perf_counter()
  found = []
  with tempfile.TemporaryFile() as stderr:
    # Its own process group, so that a timeout also ends the programs and workers it started.
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True,
                               cwd=benchutil.REPO, start_new_session=True)

    def kill_group():
      try:
        os.killpg(process.pid, signal.SIGKILL)
      except ProcessLookupError:
        pass

    # A watchdog kills a process that runs past its time, even one that prints nothing.
    watchdog = threading.Timer(timeout, kill_group)
    watchdog.start()
    try:
      for line in process.stdout:  # lines arrive as the child flushes them
        for record in benchutil.json_lines(line):
          found.append(record)
          records.append(record)
          print(json.dumps(record), flush=True)
          if jsonl:
            jsonl.write(json.dumps(record) + '\n')
            jsonl.flush()
      process.wait()
    finally:
      watchdog.cancel()
    code = f'timeout after {timeout:.0f} s' if process.returncode == -signal.SIGKILL and \
        time.perf_counter() - start >= timeout else process.returncode
    reported = any(r['kind'].endswith('error') for r in found)  # the child said what failed
    if not found or (code != 0 and not reported):
      stderr.seek(0)
      tail = stderr.read().decode(errors='replace')[-3000:]
      record = {'kind': 'error', 'label': label, 'returncode': code, 'stderr_tail': tail}
      records.append(record)
      print(json.dumps(record), flush=True)
  benchutil.log(f'run_all: {label}: {time.perf_counter() - start:.1f} s')
  return found


# ---------------------------------------------------------------------------------------------
# Tables.


def _table(header, rows):
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '|'.join('---' for _ in header) + '|']
  lines += ['| ' + ' | '.join(str(cell) for cell in row) + ' |' for row in rows]
  return '\n'.join(lines)


def _fmt(value, digits=1):
  if value is None:
    return ''
  if isinstance(value, float):
    return f'{value:.{digits}f}'
  return str(value)


def _pct(value):
  return '' if value is None else f'{100 * value:.0f}%'


def markdown(records, default_mode):
  out = []
  by_kind = {}
  for record in records:
    by_kind.setdefault(record['kind'], []).append(record)
  loads = [r['load1'] for r in records if 'load1' in r]
  machine = next((r for r in by_kind.get('matmul', []) if 'cpu' in r), None)
  if machine:
    out.append(f'Machine: {machine["cpu"]}, {machine["cores"]} cores, native bf16: '
               f'{machine["native_bf16"]}.')
  if loads:
    out.append(f'1-minute load average during the run: {min(loads):.1f} to {max(loads):.1f} '
               '(above ~2 on 2 cores, other work shared the machine).')

  matmuls = by_kind.get('matmul', [])
  if matmuls:
    reference = {r['dtype']: r for r in matmuls if r.get('layers') == ['reference']}
    effective = {}
    for r in by_kind.get('matmul_effective', []):
      effective.setdefault((r['config'], r['batch']), {})[r['dtype']] = r['gflops']
    out.append('\n### 1. Machine yardstick: tf.matmul GFLOP/s (median; best in brackets)\n')
    rows = [[f'reference {"x".join(map(str, r["shape"]))}', dtype, _fmt(r['gflops']),
             f'({_fmt(r["best_gflops"])})'] for dtype, r in sorted(reference.items())]
    out.append(_table(['shape', 'dtype', 'GFLOP/s', 'best'], rows))
    if effective:
      out.append('\nEffective rate at each step\'s own matmul shapes (FLOP-weighted):\n')
      rows = [[config, batch, _fmt(rates.get('float32')), _fmt(rates.get('bfloat16'))]
              for (config, batch), rates in effective.items()]
      out.append(_table(['config', 'batch', 'fp32 GFLOP/s', 'bf16 GFLOP/s'], rows))

  trains = by_kind.get('train', [])
  failed_trains = by_kind.get('train_error', [])
  if trains or failed_trains:
    out.append('\n### 2. Training throughput (warm-up excluded) and 5. peak RSS\n')
    rows = []
    for r in trains:
      rows.append([r['config'], r['batch'], r['mode'], r['decoder_path'], _fmt(r['examples_per_s']),
                   _fmt(r['steps_per_s'], 3), _fmt(r['first_step_s']), _fmt(r['model_gflops']),
                   _fmt(r.get('matmul_gflops')), _pct(r.get('efficiency')),
                   _fmt(r['peak_rss_mb'] / 1024, 2)])
    out.append(_table(['config', 'batch', 'mode', 'decoder path', 'examples/s', 'steps/s',
                       'first step s', 'model GFLOP/s', 'matmul GFLOP/s', 'efficiency',
                       'peak RSS GiB'], rows))
    if failed_trains:
      out.append('\nModes that could not run:\n')
      out += [f'- {r["config"]} b{r["batch"]} {r["mode"]}: {r["error"][:300]}'
              for r in failed_trains]
    best = {}
    for r in trains:
      key = (r['config'], r['batch'])
      best.setdefault(key, []).append(r)
    notes = []
    for (config, batch), group in best.items():
      if len(group) < 2:
        continue
      fastest = max(group, key=lambda r: r['examples_per_s'])
      default = next((r for r in group if r['mode'] == default_mode), None)
      if default and fastest is not default:
        notes.append(f'- {config} b{batch}: fastest mode **{fastest["mode"]}**, '
                     f'{fastest["examples_per_s"] / default["examples_per_s"]:.2f}x the default '
                     f'({default_mode}).')
      elif default:
        notes.append(f'- {config} b{batch}: the default mode ({default_mode}) is the fastest.')
    if notes:
      out.append('\nModes compared:\n' + '\n'.join(notes))

  startups = by_kind.get('inference_startup', [])
  processes = by_kind.get('inference_process', [])
  warms = by_kind.get('inference_warm', [])
  if startups or processes or warms:
    out.append('\n### 3. Inference latency (16 outputs)\n')
    if startups:
      out.append(_table(['start-up', 'wall s', 'peak RSS GiB'],
                        [[f'`python -c "{r["what"]}"`',
                          _fmt(r['wall_s'], 2), _fmt(r['peak_rss_mb'] / 1024, 2)]
                         for r in startups]))
      out.append('')
    dtype_of = lambda r: r.get('compute_dtype', 'float32')
    warm_by = {(r['config'], r['call'], dtype_of(r)): r for r in warms}
    rows = []
    for r in processes:
      call = 'sample' if r['program'] == 'mvl_sample' else 'interpolate'
      warm = warm_by.get((r['config'], call, dtype_of(r)), {})
      rows.append([r['config'], r['program'] + (' --bf16' if dtype_of(r) == 'bfloat16' else ''),
                   _fmt(r['wall_s'], 2), _fmt(r['peak_rss_mb'] / 1024, 2),
                   f'TrainedModel.{call}', _fmt(warm.get('first_call_s'), 2),
                   _fmt(warm.get('warm_s'), 3)])
    out.append(_table(['config', 'program', 'process wall s', 'peak RSS GiB', 'API call',
                       'first call s', 'warm call s'], rows))

  preprocessing = by_kind.get('preprocess', [])
  if preprocessing:
    out.append('\n### 4. Preprocessing data/midi\n')
    rows = [[r['config'], r['workers'], r['files'], r['windows'], _fmt(r['seconds'], 2),
             _fmt(r['files_per_s']), _fmt(r['windows_per_s'])] for r in preprocessing]
    out.append(_table(['config (windows)', 'processes', 'files', 'windows', 'seconds', 'files/s',
                       'windows/s'], rows))

  # Training modes that could not run are listed under their table; the rest here.
  errors = by_kind.get('error', []) + [r for k, v in by_kind.items()
                                       if k.endswith('_error') and k != 'train_error' for r in v]
  if errors:
    out.append('\n### Failed measurements\n')
    for r in errors:
      lines = (r.get('stderr_tail') or r.get('output') or '').strip().splitlines()
      out.append(f'- {r.get("label") or r.get("config")} ({r.get("step", "")}): return code '
                 f'{r.get("returncode", "")}: {lines[-1] if lines else "no output"}')
  return '\n'.join(out)


def default_mode():
  """The training mode the shipped configs use by default (config.train in configs/base.py)."""
  import flops  # pylint: disable=g-import-not-at-top
  from music_vae_lite.configs import base  # pylint: disable=g-import-not-at-top
  train = base.get_base_config().train
  for mode, (jit_compile, mixed_precision, eager, fused) in flops.MODES.items():
    if (not eager and fused is None
        and (jit_compile, mixed_precision) == (train.jit_compile, train.mixed_precision)):
      return mode
  return 'graph'


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--quick', action='store_true', help='tiny configs, short timings')
  parser.add_argument('--sections', default=','.join(SECTIONS))
  parser.add_argument('--steps', type=int, default=None, help='timed training steps (at most)')
  parser.add_argument('--max_seconds', type=float, default=None,
                      help='stop timing a training run after this many seconds')
  parser.add_argument('--configs', default=','.join(SHIPPED),
                      help='configs of the matmul, modes and train sections (full mode)')
  parser.add_argument('--jsonl', default=None, help='also append the JSON lines to this file')
  parser.add_argument('--markdown', default=None, help='also write the tables to this file')
  args = parser.parse_args()
  sections = args.sections.split(',')
  unknown = set(sections) - set(SECTIONS)
  if unknown:
    parser.error(f'unknown sections {sorted(unknown)}; choose from {", ".join(SECTIONS)}')
  steps = args.steps or (3 if args.quick else 10)
  max_seconds = args.max_seconds or (5.0 if args.quick else 20.0)

  records = []
  start = time.perf_counter()
  jsonl = open(args.jsonl, 'a') if args.jsonl else None  # pylint: disable=consider-using-with
  try:
    for section, label, argv, timeout in plan(args.quick, steps, max_seconds,
                                              args.configs.split(',')):
      if section in sections:
        run_job(label, argv, timeout, records, jsonl)
  finally:
    if jsonl:
      jsonl.close()
  tables = markdown(records, default_mode())
  tables += (f'\n\nTotal time {time.perf_counter() - start:.0f} s'
             f'{" (--quick: tiny configs, not a measurement)" if args.quick else ""}; '
             f'{time.strftime("%Y-%m-%d %H:%M")}.')
  print('\n' + tables)
  if args.markdown:
    with open(args.markdown, 'w') as f:
      f.write(tables + '\n')


if __name__ == '__main__':
  main()
