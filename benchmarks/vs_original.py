r"""Training and generation speed beside the original MusicVAE, in one sitting on one machine.

    python benchmarks/vs_original.py --original_src=SRC --original_python=PY \
        [--work_dir=DIR] [--measure=b32,b64,b512,hier8,hier32,gen] [--quiet_load=0.5] \
        [--steps_small=201 --steps_512=41 --steps_hier8=4 --steps_hier32=81] \
        [--jsonl=FILE] [--markdown=FILE]
    python benchmarks/vs_original.py --table_from=FILE   # the table of earlier --jsonl records

SRC is a source tree of the original (github.com/magenta/magenta at commit 526d3eb) and PY a Python
with the original's dependencies; how to get both is in the original_bench tool's README (the
project never depends on the original; nothing of it is imported here). The original runs through
that tool's `run_original.sh` (its trainer and generator unchanged, except a data-pipeline patch
TensorFlow 2.21 needs); pass its path with --run_original if it is not found beside this checkout.

Every measurement runs three times, interleaved, each process alone: ours, the original, ours, so
a drift of the machine shows as a gap between the two runs of ours. All read one TFRecord of
NoteSequences made from data/midi (`note_seq.midi_file_to_note_sequence` per file), written once
to the work directory.

| measurement | ours (mvl_train) | the original (music_vae_train) |
|---|---|---|
| b32 | `cpu-mel_2bar`, batch 32 | `cat-mel_2bar_small` re-shaped as `cpu-mel_2bar` (the tool's `small32`) |
| b64 | `cat-mel_2bar_small`, batch 64 | `cat-mel_2bar_small`, batch 64 |
| b512 | `cat-mel_2bar_small`, batch 512 (fp32, then bf16 with `--bf16_b512`) | the same, fp32 |
| hier8 | `hierdec-mel_16bar`, batch 8 | `hierdec-mel_16bar`, batch 8 (Grappler off, as the tool runs it) |
| hier32 | `cpu-hierdec-mel_16bar`, batch 32 | `hierdec-mel_16bar` re-shaped as `cpu-hierdec-mel_16bar` (its z, layer sizes, free bits, beta) |
| gen | `mvl_sample` / `mvl_interpolate`, 16 outputs, from the b64 and hier8 runs; warm `TrainedModel` calls | `music_vae_generate` from its b64 and hier8 runs |

Training rate: examples/s over the steps after the first `--skip_steps` (graph building, the first
pass), as the tool measures the original: ours from the timestamps of the training log's progress
lines (every 100 steps and at least every 5 s), the original from its `global_step/sec` summaries
(every 100 steps). A run shorter than twice `--skip_steps` (the `--steps_*` flags: short runs for a
loaded machine, or slow models) leaves out its first third instead, and the original's rate then
comes from its checkpoints' times (saved every 60 s; the rate between the second and the last),
which needs a run of three minutes or more. Evaluation, images and checkpoints of
ours fall outside that window (their intervals are longer than the runs), as the original's
trainer does none of these in-process. Generation: the whole process's wall time (start-up,
restoring the checkpoint, generating, writing MIDI); ours also the first and warm in-process calls,
the original the time its log gives for generating alone.

Load: before each run the script can wait (`--quiet_load`) until the 1-minute load average is below
the given value. Each run records the load average at its start and the CPU time that *other*
processes used while it ran (from /proc/stat, minus the run's own CPU time), in cores: on a 2-core
machine 0.1 means another job took about 5% of the machine. Each run's line says both; only runs
with little other load compare.

Prints one JSON line per run, then a Markdown table (also to --markdown).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position
import inference  # pylint: disable=g-import-not-at-top,wrong-import-position

MEASUREMENTS = ('b32', 'b64', 'b512', 'hier8', 'hier32', 'gen')
# (our config, batch, the tool's measurement for the original, its batch variable)
TRAINING = {
    'b32': ('cpu-mel_2bar', 32, 'small32'),
    'b64': ('cat-mel_2bar_small', 64, 'small64'),
    'b512': ('cat-mel_2bar_small', 512, 'smalldef'),
    'hier8': ('hierdec-mel_16bar', 8, 'hier'),
    'hier32': ('cpu-hierdec-mel_16bar', 32, 'hier'),
}
# The tool's `small32` re-shapes cat-mel_2bar_small with these hparams; they must be cpu-mel_2bar's.
SMALL32_HPARAMS = {'z_size': 256, 'enc_rnn_size': (256,), 'dec_rnn_size': (512,),
                   'sampling_schedule': 'constant', 'sampling_rate': 0.0, 'max_beta': 0.05,
                   'beta_rate': 0.9995}
_LOG_LINE = re.compile(r'^I(\d{4}) (\d\d):(\d\d):(\d\d\.\d+) .*\] step (\d+)/(\d+):')


# ---------------------------------------------------------------------------------------------
# Machine load.


def _busy_seconds():
  """CPU seconds all processes have spent busy since boot (from /proc/stat), or None."""
  try:
    with open('/proc/stat') as f:
      fields = [float(x) for x in f.readline().split()[1:]]
  except (OSError, ValueError):
    return None
  # user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
  busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0.0)
  return busy / os.sysconf('SC_CLK_TCK')


def wait_for_quiet(threshold, max_wait_s):
  """Waits until the 1-minute load average is below `threshold` (checked every 15 s), at most
  `max_wait_s`; returns the seconds waited."""
  if not threshold:
    return 0.0
  start = time.time()
  while os.getloadavg()[0] >= threshold and time.time() - start < max_wait_s:
    time.sleep(15)
  return round(time.time() - start, 1)


def run_process(argv, *, env=None, timeout, cwd=benchutil.REPO):
  """Runs argv; returns (output, record of wall s, own CPU s, others' load in cores, load1 at
  start, return code)."""
  load_start = os.getloadavg()[0]
  busy_start, start = _busy_seconds(), time.perf_counter()
  process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                             env=env)
  os.set_blocking(process.stdout.fileno(), False)
  output, deadline = b'', start + timeout
  while True:
    pid, status, usage = os.wait4(process.pid, os.WNOHANG)
    output += process.stdout.read() or b''
    if pid:
      break
    if time.perf_counter() > deadline:
      process.kill()
      pid, status, usage = os.wait4(process.pid, 0)
      break
    time.sleep(0.05)
  output += process.stdout.read() or b''
  wall = time.perf_counter() - start
  own_cpu = usage.ru_utime + usage.ru_stime
  busy_end = _busy_seconds()
  others = None
  if busy_start is not None and busy_end is not None and wall > 0:
    others = max(0.0, (busy_end - busy_start - own_cpu) / wall)
  record = {'wall_s': round(wall, 2), 'cpu_s': round(own_cpu, 2), 'load1_start': load_start,
            'others_cores': None if others is None else round(others, 2),
            'peak_rss_mb': round(usage.ru_maxrss / 1024.0, 1),
            'returncode': os.waitstatus_to_exitcode(status)}
  return output.decode(errors='replace'), record


# ---------------------------------------------------------------------------------------------
# Data.


def make_tfrecord(path):
  """A TFRecord of one NoteSequence per MIDI file of data/midi (sorted, ids = relative paths)."""
  if os.path.isfile(path):
    return path
  import note_seq  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  count = 0
  with tf.io.TFRecordWriter(path + '.tmp') as writer:
    for root, _, files in sorted(os.walk(benchutil.DATA_MIDI)):
      for name in sorted(files):
        if not name.lower().endswith(('.mid', '.midi')):
          continue
        full = os.path.join(root, name)
        sequence = note_seq.midi_file_to_note_sequence(full)
        sequence.id = os.path.relpath(full, benchutil.DATA_MIDI)
        writer.write(sequence.SerializeToString())
        count += 1
  os.replace(path + '.tmp', path)
  benchutil.log(f'vs_original: wrote {count} NoteSequences of data/midi to {path}')
  return path


# ---------------------------------------------------------------------------------------------
# Ours.


def training_rate_from_log(output, batch_size, skip_steps):
  """(examples/s, steps in the window) between the first progress line at or after
  `skip_steps` and the last one, from the absl timestamps of mvl_train's log."""
  points = []
  day_offset, last_day = 0.0, None
  for line in output.splitlines():
    match = _LOG_LINE.match(line)
    if not match:
      continue
    day, hours, minutes, seconds, step = match.group(1), *match.group(2, 3, 4, 5)
    if last_day is not None and day != last_day:
      day_offset += 86400.0  # past midnight
    last_day = day
    points.append((int(step), day_offset + int(hours) * 3600 + int(minutes) * 60 + float(seconds)))
  window = [(step, t) for step, t in points if step >= skip_steps]
  if len(window) < 2:
    return None, 0
  (first_step, first_t), (last_step, last_t) = window[0], window[-1]
  if last_t <= first_t:
    return None, 0
  return (last_step - first_step) * batch_size / (last_t - first_t), last_step - first_step


def steps_to_skip(steps, wanted):
  """The steps left out at the start of a run of `steps`: `wanted`, or a third of a run shorter
  than twice that (then the original's rate comes from its checkpoints' times, see above)."""
  return wanted if steps > 2 * wanted else max(1, steps // 3)


def train_ours(config_name, batch_size, steps, run_dir, examples, skip_steps, timeout, bf16=False,
               extra_flags=()):
  argv = inference.program('mvl_train') + [
      f'--config={config_name}', f'--examples={examples}', f'--run_dir={run_dir}',
      f'--num_steps={steps}', f'--config.train.batch_size={batch_size}',
      '--config.train.log_every=100'] + list(extra_flags)
  if bf16:
    argv.append('--config.train.mixed_precision=True')
  subprocess.run(['rm', '-rf', run_dir], check=True)
  output, record = run_process(argv, timeout=timeout)
  rate, window = training_rate_from_log(output, batch_size, skip_steps)
  record.update(examples_per_s=None if rate is None else round(rate, 2), window_steps=window)
  if record['returncode'] or rate is None:
    record['output'] = output[-3000:]
  return record


def generate_ours(run_dir, config_name, work_dir, timeout, num_outputs):
  """Whole-process mvl_sample / mvl_interpolate, then warm TrainedModel calls in one process."""
  midi_1, midi_2 = inference.find_inputs(config_name)
  out_dir = os.path.join(work_dir, 'ours_generated')
  records = []
  for name, extra in (('sample', []),
                      ('interpolate', [f'--input_midi_1={midi_1}', f'--input_midi_2={midi_2}'])):
    argv = inference.program(f'mvl_{name}') + [
        f'--run_dir={run_dir}', f'--num_outputs={num_outputs}',
        f'--temperature={inference.TEMPERATURE}', f'--seed={inference.SEED}',
        f'--output_dir={out_dir}'] + extra
    output, record = run_process(argv, timeout=timeout)
    record.update(call=name, kind='process')
    if record['returncode']:
      record['output'] = output[-3000:]
    records.append(record)
  output, record = run_process(
      [benchutil.PYTHON, inference.__file__, '--warm', f'--run_dir={run_dir}',
       f'--midi_1={midi_1}', f'--midi_2={midi_2}', f'--num_outputs={num_outputs}',
       '--repeats=3'], timeout=timeout)
  for warm in benchutil.json_lines(output):
    records.append(dict(record, call=warm['call'], kind='warm', first_call_s=warm['first_call_s'],
                        warm_s=warm['warm_s']))
  if record['returncode']:
    records.append(dict(record, kind='warm_error', output=output[-3000:]))
  return records


# ---------------------------------------------------------------------------------------------
# The original, through the tool's run_original.sh.


def _hparam(value):
  """`value` as the original's hparams parser reads it: lists in brackets, whole floats as
  integers (its `free_bits` is an int in some configs, and an int parses as a float too)."""
  if isinstance(value, (list, tuple)):
    return '[' + ','.join(_hparam(v) for v in value) + ']'
  if isinstance(value, float) and value.is_integer():
    return str(int(value))
  return str(value)


def original_hparams(config_name):
  """The original's hparams that give `config_name`'s model shape and objective."""
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  model = config_lib.load_config(config_name).model
  hparams = {'z_size': model.z_size, 'enc_rnn_size': tuple(model.enc_rnn_size),
             'dec_rnn_size': tuple(model.dec_rnn_size), 'free_bits': model.free_bits,
             'max_beta': model.max_beta, 'beta_rate': model.beta_rate,
             'sampling_schedule': model.sampling_schedule, 'sampling_rate': model.sampling_rate}
  return ','.join(f'{name}={_hparam(value)}' for name, value in hparams.items())


def small32_matches_cpu_mel_2bar():
  """Whether the tool's `small32` shape is still cpu-mel_2bar's (else the b32 row says so)."""
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  model = config_lib.load_config('cpu-mel_2bar').model
  return all((tuple(model[name]) if isinstance(value, tuple) else model[name]) == value
             for name, value in SMALL32_HPARAMS.items())


def run_original(tool, measure, env_extra, args, timeout):
  """Runs one measurement of run_original.sh; returns its ANCHOR records."""
  env = dict(os.environ)
  env.update(MAGENTA_SRC=args.original_src, PYTHON=args.original_python,
             EXAMPLES=args.examples, BENCH_DIR=os.path.join(args.work_dir, 'original'),
             MEASURE=measure, REPEATS='1', SMALL_STEPS=str(args.steps_small),
             DEF_STEPS=str(args.steps_512), GEN_OUTPUTS=str(args.num_outputs))
  env.pop('PYTHONPATH', None)
  env.update(env_extra)
  output, record = run_process(['bash', tool], env=env, timeout=timeout)
  anchors = []
  for line in output.splitlines():
    if line.startswith('ANCHOR train ') or line.startswith('ANCHOR generate '):
      fields = dict(item.split('=', 1) for item in line.split()[2:] if '=' in item)
      anchors.append(dict(record, **fields))
  if record['returncode'] or not anchors:
    record['output'] = output[-3000:]
    anchors.append(dict(record, error=True))
  return anchors


# ---------------------------------------------------------------------------------------------
# The sitting.


def emit(records, jsonl, **fields):
  record = benchutil.emit('vs_original', **fields)
  records.append(record)
  if jsonl:
    with open(jsonl, 'a') as f:
      f.write(json.dumps(record) + '\n')
  return record


def sitting(args):
  records = []
  tool = args.run_original
  ours_runs = {}

  def quiet():
    return wait_for_quiet(args.quiet_load, args.quiet_max_wait)

  for measure in args.measure:
    if measure in TRAINING:
      config_name, batch, original_measure = TRAINING[measure]
      steps = {'b512': args.steps_512, 'hier8': args.steps_hier8,
               'hier32': args.steps_hier32}.get(measure, args.steps_small)
      skip = steps_to_skip(steps, args.skip_steps)
      original_env = {}
      if measure.startswith('hier'):
        original_env = {'HIER_BATCH': str(batch), 'HIER_STEPS': str(steps)}
        if measure == 'hier32':
          original_env['EXTRA_HPARAMS'] = original_hparams(config_name)
      for round_number, who in enumerate(('ours', 'original', 'ours')):
        waited = quiet()
        if who == 'ours':
          run_dir = os.path.join(args.work_dir, 'ours', f'{measure}_{round_number}')
          record = train_ours(config_name, batch, steps, run_dir, args.examples, skip,
                              args.timeout, extra_flags=args.ours_flag)
          ours_runs.setdefault(measure, run_dir)
          emit(records, args.jsonl, measure=measure, who='ours', config=config_name, batch=batch,
               steps=steps, waited_s=waited, **record)
        else:
          for anchor in run_original(tool, original_measure, original_env, args, args.timeout):
            rate = anchor.get('examples_per_sec')
            emit(records, args.jsonl, measure=measure, who='original', config=anchor.get(
                'config', original_measure), batch=batch, steps=steps, waited_s=waited,
                 examples_per_s=float(rate) if rate not in (None, 'nan') else None,
                 **{k: v for k, v in anchor.items()
                    if k not in ('examples_per_sec', 'config', 'batch')})
      if measure == 'b512' and args.bf16_b512:
        waited = quiet()
        record = train_ours(config_name, batch, steps, os.path.join(args.work_dir, 'ours',
                                                                    'b512_bf16'),
                            args.examples, skip, args.timeout, bf16=True)
        emit(records, args.jsonl, measure=measure, who='ours_bf16', config=config_name,
             batch=batch, steps=steps, waited_s=waited, native_bf16=benchutil.has_native_bf16(),
             **record)
    elif measure == 'gen':
      for who in ('ours', 'original', 'ours'):
        waited = quiet()
        if who == 'ours':
          for key, config_name in (('b64', 'cat-mel_2bar_small'), ('hier8', 'hierdec-mel_16bar')):
            if key not in ours_runs:
              continue
            for record in generate_ours(ours_runs[key], config_name, args.work_dir, args.timeout,
                                        args.num_outputs):
              emit(records, args.jsonl, measure='gen', who='ours', config=config_name,
                   waited_s=waited, **record)
        else:
          env = {'HIER_BATCH': '8'}
          for anchor in run_original(tool, 'gen', env, args, args.timeout):
            emit(records, args.jsonl, measure='gen', who='original', waited_s=waited,
                 **{k: v for k, v in anchor.items()})
  return records


# ---------------------------------------------------------------------------------------------
# The table.


def _load(record):
  others = record.get('others_cores')
  return (f"{record.get('load1_start', float('nan')):.2f} / "
          f"{'?' if others is None else f'{others:.2f}'}")


def markdown(records):
  lines = [f'Machine: {benchutil.cpu_model()}, {os.cpu_count()} cores, native bf16: '
           f'{benchutil.has_native_bf16()}. Load: the 1-minute load average at the start of each '
           'run / the cores other processes used during it.', '',
           '| measurement | ours, examples/s (load) | original, examples/s (load) | ours / original |',
           '|---|---|---|---|']
  for measure in MEASUREMENTS:
    if measure == 'gen':
      continue
    ours = [r for r in records if r['measure'] == measure and r['who'] == 'ours']
    original = [r for r in records if r['measure'] == measure and r['who'] == 'original']
    if not ours and not original:
      continue
    config_name, batch, _ = TRAINING[measure]
    label = f'{measure}: {config_name}, batch {batch}'
    if measure == 'b32' and not small32_matches_cpu_mel_2bar():
      label += ' (the original\'s small32 shape differs from cpu-mel_2bar now)'
    ours_text = ', '.join(f"{r['examples_per_s']} ({_load(r)})" for r in ours)
    original_text = ', '.join(f"{r['examples_per_s']} ({_load(r)})" for r in original)
    ours_rates = [r['examples_per_s'] for r in ours if r.get('examples_per_s')]
    original_rates = [r['examples_per_s'] for r in original if r.get('examples_per_s')]
    ratio = (f'{statistics.median(ours_rates) / statistics.median(original_rates):.2f}x'
             if ours_rates and original_rates else '')
    lines.append(f'| {label} | {ours_text} | {original_text} | {ratio} |')
    for record in records:
      if record['measure'] == measure and record['who'] == 'ours_bf16' and original_rates:
        lines.append(f"| {measure} bf16 (ours) against the original's fp32 | "
                     f"{record['examples_per_s']} ({_load(record)}), native bf16: "
                     f"{record['native_bf16']} | | "
                     f"{record['examples_per_s'] / statistics.median(original_rates):.2f}x |")
  gen = [r for r in records if r['measure'] == 'gen']
  if gen:
    lines += ['', '| generation, 16 outputs | ours: process wall s (load); first / warm call s '
              '| original: process wall s (load); generating s | ours / original (process) |',
              '|---|---|---|---|']
    for config_name in ('cat-mel_2bar_small', 'hierdec-mel_16bar'):
      for call in ('sample', 'interpolate'):
        ours = [r for r in gen if r['who'] == 'ours' and r.get('config') == config_name
                and r.get('call') == call]
        mode = 'sample' if call == 'sample' else 'interpolate'
        original = [r for r in gen if r['who'] == 'original'
                    and r.get('label', '').startswith('small' if config_name.startswith('cat')
                                                      else 'hier')
                    and r.get('mode') == mode]
        processes = [r for r in ours if r['kind'] == 'process']
        warm = [r for r in ours if r['kind'] == 'warm']
        ours_text = ', '.join(f"{r['wall_s']} ({_load(r)})" for r in processes)
        if warm:
          ours_text += '; ' + ', '.join(f"{r['first_call_s']} / {r['warm_s']}" for r in warm)
        original_text = ', '.join(f"{r.get('wall_s')} ({_load(r)}); {r.get('generate_s')}"
                                  for r in original)
        ratio = ''
        ours_walls = [r['wall_s'] for r in processes if not r['returncode']]
        original_walls = [float(r['wall_s']) for r in original if r.get('rc', '0') == '0']
        if ours_walls and original_walls:
          ratio = f'{statistics.median(original_walls) / statistics.median(ours_walls):.2f}x faster'
        lines.append(f'| {config_name} {call} | {ours_text} | {original_text} | {ratio} |')
  return '\n'.join(lines)


def write_table(records, path):
  table = markdown(records)
  print(table)
  if path:
    with open(path, 'w') as f:
      f.write(table + '\n')


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--original_src', help='source tree of magenta/magenta at 526d3eb (holds '
                      'magenta/)')
  parser.add_argument('--original_python', help="python with the original's dependencies")
  parser.add_argument('--run_original', default=None,
                      help='path of the original_bench tool\'s run_original.sh')
  parser.add_argument('--work_dir', default='/tmp/mvl_vs_original')
  parser.add_argument('--measure', default=','.join(MEASUREMENTS))
  parser.add_argument('--steps_small', type=int, default=401, help='steps of b32 and b64')
  parser.add_argument('--steps_512', type=int, default=201)
  parser.add_argument('--steps_hier8', type=int, default=6)
  parser.add_argument('--steps_hier32', type=int, default=201)
  parser.add_argument('--skip_steps', type=int, default=100,
                      help='steps left out of the rate at the start of a run')
  parser.add_argument('--num_outputs', type=int, default=16)
  parser.add_argument('--bf16_b512', action='store_true',
                      help='also train ours at batch 512 in bf16 (meaningful with native bf16)')
  parser.add_argument('--quiet_load', type=float, default=0.0,
                      help='before each run wait until the 1-minute load is below this')
  parser.add_argument('--quiet_max_wait', type=float, default=3600.0)
  parser.add_argument('--timeout', type=float, default=3600.0, help='per process, seconds')
  parser.add_argument('--ours_flag', action='append', default=[],
                      help='a further mvl_train flag for our runs (repeatable), e.g. '
                           '--ours_flag=--config.train.parallel_directions=True')
  parser.add_argument('--jsonl', default=None, help='append every record to this file')
  parser.add_argument('--markdown', default=None, help='write the table to this file')
  parser.add_argument('--table_from', default=None,
                      help='print the table of the records in this JSON-lines file (--jsonl of '
                      'earlier sittings) and run nothing')
  args = parser.parse_args()
  if args.table_from:
    with open(args.table_from) as f:
      write_table([json.loads(line) for line in f if line.strip()], args.markdown)
    return
  if not args.original_src or not args.original_python:
    parser.error('--original_src and --original_python are required (or --table_from).')
  args.measure = [m for m in args.measure.split(',') if m]
  unknown = sorted(set(args.measure) - set(MEASUREMENTS))
  if unknown:
    parser.error(f'unknown --measure {", ".join(unknown)}: expected some of '
                 f'{", ".join(MEASUREMENTS)}')
  if not os.path.isdir(os.path.join(args.original_src, 'magenta', 'models', 'music_vae')):
    parser.error(f'--original_src={args.original_src} holds no magenta/models/music_vae.')
  if not os.access(args.original_python, os.X_OK):
    parser.error(f'--original_python={args.original_python} is not an executable.')
  if args.run_original is None:
    for candidate in (os.path.join(benchutil.REPO, '..', 'shared', 'tools', 'original_bench'),
                      os.path.join(benchutil.REPO, '..', '..', 'shared', 'tools',
                                   'original_bench')):
      if os.path.isfile(os.path.join(candidate, 'run_original.sh')):
        args.run_original = os.path.abspath(os.path.join(candidate, 'run_original.sh'))
        break
    else:
      parser.error('run_original.sh not found beside this checkout: pass --run_original.')
  os.makedirs(args.work_dir, exist_ok=True)
  args.examples = make_tfrecord(os.path.join(args.work_dir, 'data_midi.tfrecord'))
  write_table(sitting(args), args.markdown)


if __name__ == '__main__':
  main()
