"""Shared helpers of the benchmark scripts: quiet TensorFlow, JSON output lines, machine facts.

Every measurement is printed as one JSON object on one line of stdout (`emit`), so `run_all.py`
(and anyone else) can collect them with `json.loads` per line; everything else goes to stderr.
"""
import json
import os
import resource
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
DATA_MIDI = os.path.join(REPO, 'data', 'midi')
PYTHON = sys.executable


def emit(kind, **fields):
  """Prints one measurement as a JSON line: {"kind": kind, ...fields, "load1": ..., "time": ...}.

  The 1-minute load average is recorded with every line: on a 2-core machine a load above ~2
  means other work shared the cores and the numbers are lower than the machine can do.
  """
  record = {'kind': kind}
  record.update(fields)
  record['load1'] = round(os.getloadavg()[0], 2)
  record['time'] = time.strftime('%Y-%m-%dT%H:%M:%S')
  print(json.dumps(record, sort_keys=False), flush=True)
  return record


def log(message):
  print(message, file=sys.stderr, flush=True)


def peak_rss_mb():
  """Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
  return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def cpu_flags():
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('flags'):
          return set(line.split(':', 1)[1].split())
  except OSError:
    pass
  return set()


def cpu_model():
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
  except OSError:
    pass
  return 'unknown'


def has_native_bf16():
  """True when the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX-BF16: the package's own
  test, model_registry.native_bf16_cpu). Elsewhere TF still runs bfloat16 matmuls, but by
  converting to float32, so they are no faster."""
  if REPO not in sys.path:
    sys.path.insert(0, REPO)
  from music_vae_lite.nn import model_registry  # pylint: disable=g-import-not-at-top
  return model_registry.native_bf16_cpu() is not None


def machine_info():
  return {'cpu': cpu_model(), 'cores': os.cpu_count(), 'native_bf16': has_native_bf16(),
          'amx': 'amx_tile' in cpu_flags()}


def json_lines(text):
  """The JSON objects among the lines of `text` (other lines are ignored)."""
  records = []
  for line in text.splitlines():
    line = line.strip()
    if line.startswith('{'):
      try:
        records.append(json.loads(line))
      except json.JSONDecodeError:
        pass
  return records
