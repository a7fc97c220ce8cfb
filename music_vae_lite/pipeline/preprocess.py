"""MIDI files or a TFRecord of NoteSequences -> a cache of label windows, with a report.

Reads every input (a folder of MIDI files searched recursively, one MIDI file, or a TFRecord of
serialized `NoteSequence` protos, the original MusicVAE's input format), converts each sequence
into label windows with a converter from `contract.py`, and says what happened to every file:
why it could not be read, how many windows it gave, and why windows were rejected.

Differences from the original MusicVAE, which converts NoteSequences on the fly inside its tf.data
pipeline (and then caches the result, freezing random choices): here conversion happens once, up
front, in a pool of worker processes, and the windows are kept in memory or in a cache folder
(`windows.npz` + `report.json`). Random transposition is done later, per epoch, by
`input_pipeline.make_dataset`. A file that fails never stops the run; it is named in the report
with its reason.

Failure reasons (stable prefixes, used to group them in summaries): 'empty file', 'not a regular
file' (a FIFO, a device), 'not a MIDI file', 'corrupt MIDI: ...' (also 'corrupt MIDI: truncated:
...'), 'unsupported MIDI: ...' (SMPTE time division), 'unreadable: ...' (also a folder that cannot
be listed, named with a trailing '/'), 'too large: ...' (the file size), 'too large to parse: ...'
(too many ticks or events for the MIDI reader, or the worker ran out of its memory cap or died),
'too long: ...', 'timed out: ...' (CPU time), 'no notes', 'conversion failed: ...' (the converter
raised), and for TFRecords 'corrupt record: ...', 'not a NoteSequence record ...' and 'corrupt
TFRecord: ...'. In a TFRecord each record counts as one "file" of the report, named by its
`filename` (else its `id`).

Hostile input: a MIDI file's chunks are walked cheaply (`midi_guard.py`) before the MIDI reader,
which allocates per tick and per event, sees it. Worker processes run with a cap on their address
space (`worker_memory_mb`) and on CPU time per file; a worker that dies anyway (a crash in C code,
the OOM killer) costs only its file: the files it may have held are retried one by one in fresh
workers, the one that kills its worker again is reported, and the run goes on. File names are
reported printable (`printable_name`): bytes that are not UTF-8 as '\\xNN', control characters
(a newline) as '\\xNN', so every name is valid UTF-8 on one line in reports, caches and the
train/eval split, while the file itself is still opened by its real name.
"""
import collections
import concurrent.futures
import concurrent.futures.process
import contextlib
import dataclasses
import json
import multiprocessing
import os
import re
import shlex
import signal
import stat
import sys
import threading
import time
from typing import Iterator, NamedTuple
import warnings

from absl import logging
import numpy as np

with warnings.catch_warnings():
  # pydub, imported by note_seq, warns about a missing ffmpeg that we never use.
  warnings.simplefilter('ignore', RuntimeWarning)
  import note_seq

from music_vae_lite.families import contract
from music_vae_lite import files
from music_vae_lite.pipeline import limits
from music_vae_lite.pipeline import midi_guard

try:
  import resource  # pylint: disable=g-import-not-at-top  (Unix only)
except ImportError:  # pragma: no cover
  resource = None

MIDI_SUFFIXES = ('.mid', '.midi')
CACHE_FILE = 'windows.npz'
REPORT_FILE = 'report.json'
# 2: labels [N, T, P] (one column per part) and, for families with controls, controls [N, T].
# 3: every array a family declares (contract.Converter.window_spec), under its name.
CACHE_FORMAT_VERSION = 3
DEFAULT_MAX_FILE_MB = limits.DEFAULT_MAX_FILE_MB
DEFAULT_MAX_BARS = limits.DEFAULT_MAX_BARS
DEFAULT_FILE_TIMEOUT_S = limits.DEFAULT_FILE_TIMEOUT_S
DEFAULT_MAX_TICKS = limits.DEFAULT_MAX_TICKS
DEFAULT_MAX_EVENTS = limits.DEFAULT_MAX_EVENTS
DEFAULT_WORKER_MEMORY_MB = limits.DEFAULT_WORKER_MEMORY_MB
PROGRESS_EVERY_S = 5.0
_MB = 1024 * 1024


class NoWindowsError(ValueError):
  """An input gave no windows at all; the message says why (from the report)."""


class _Limits(NamedTuple):
  max_file_mb: float
  max_bars: int
  timeout_s: float  # CPU seconds per file; 0 = none
  max_ticks: int = DEFAULT_MAX_TICKS
  max_events: int = DEFAULT_MAX_EVENTS
  worker_memory_mb: float = DEFAULT_WORKER_MEMORY_MB


@dataclasses.dataclass(frozen=True)
class _Task:
  """One unit of work: a MIDI file to read, or a serialized NoteSequence from a TFRecord."""
  source: str  # printable (see printable_name)
  path: str | None = None  # the real name, as the OS gave it
  serialized: bytes | None = None
  error: str | None = None  # already failed while listing (e.g. a TFRecord record that won't parse)


class _FileResult(NamedTuple):
  source: str
  arrays: dict  # the file's windows {name: [n, ...]} (the converter's window_spec)
  rejected: dict  # reason -> count, from the converter
  error: str | None  # why the file could not be read (then there is no window)
  explanation: str | None  # why a readable file gave no window

  @property
  def num_windows(self):
    return contract.num_windows(self.arrays)


@dataclasses.dataclass
class WindowSet:
  """Windows with the file each came from.

  arrays: the windows, {name: [N, ...]} as the family declares them (contract.Converter's
  window_spec, e.g. labels int32 [N, T, P] and controls int32 [N, T]); source_ids: int32 [N],
  indices into `sources` (relative file names, every input file in order, including those that
  failed); encoding: the family (config.data.encoding); slice_bars: window length in bars;
  report: the preprocessing report (a JSON-serialisable dict).
  """
  arrays: dict
  source_ids: np.ndarray
  sources: list
  encoding: str
  slice_bars: int
  report: dict

  def __len__(self):
    return len(self.source_ids)

  @property
  def labels(self):
    """The `labels` array (label families), or None."""
    return self.arrays.get('labels')

  @property
  def controls(self):
    """The `controls` array (families with stored controls), or None."""
    return self.arrays.get(contract.CONTROLS)

  def subset(self, mask):
    """The windows where `mask` ([N] bool) is true, with the same sources and a report copy."""
    return WindowSet({name: array[mask] for name, array in self.arrays.items()},
                     self.source_ids[mask], self.sources, self.encoding, self.slice_bars,
                     dict(self.report))


def _slice_bars(converter):
  return converter.window_steps // contract.STEPS_PER_BAR


# ---------------------------------------------------------------------------------------------
# Listing the inputs.


# Characters that would break a report line or a terminal: C0 and C1 controls, DEL, and the two
# Unicode line separators (str.splitlines splits at them).
_UNPRINTABLE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def printable_name(name):
  """`name` (str as the OS gives it, or bytes) as valid, one-line UTF-8 text.

  Bytes that are not UTF-8 (os.fsdecode turns them into lone surrogates, which cannot be encoded,
  written to JSON or hashed) become '\\xNN', control characters '\\xNN' too; any other name is
  returned unchanged, so the train/eval split of ordinary names does not move. Different names
  can, rarely, print the same (a name that holds a literal '\\xff'); listings add '#2', '#3'.
  """
  raw = name if isinstance(name, bytes) else os.fsencode(name)
  text = raw.decode('utf-8', 'backslashreplace')
  return _UNPRINTABLE.sub(lambda match: f'\\x{ord(match.group()):02x}', text)


def _unique(name, seen):
  seen[name] += 1
  return name if seen[name] == 1 else f'{name}#{seen[name]}'


def _is_midi_name(path):
  return path.lower().endswith(MIDI_SUFFIXES)


def _looks_like_midi(path):
  try:
    with open(path, 'rb') as f:
      return f.read(4) == b'MThd'
  except OSError:
    return False


def _input_kind(input_path):
  if not os.path.exists(input_path):
    raise FileNotFoundError(
        f'Input {input_path!r} does not exist (expected a folder of MIDI files, a MIDI file or a '
        'TFRecord of NoteSequences).')
  if os.path.isdir(input_path):
    return 'midi_folder'
  if not os.path.isfile(input_path):  # reading a FIFO would wait forever
    raise ValueError(f'Input {printable_name(input_path)} is not a regular file (a FIFO, a socket '
                     'or a device?); expected a folder of MIDI files, a MIDI file or a TFRecord.')
  if _is_midi_name(input_path) or _looks_like_midi(input_path):
    return 'midi_file'
  return 'tfrecord'


def _midi_tasks(folder):
  """Tasks for the MIDI files under `folder`, sorted by relative path, plus a failed task for each
  folder that cannot be listed. Sources are '/'-separated so names match on every machine.

  Symbolic links to folders are not followed (so a link loop cannot hang the walk); links to files
  are read, and a link that loops or dangles is reported as unreadable.
  """
  found, unlisted = [], []

  def on_error(error):
    path = error.filename if error.filename is not None else folder
    unlisted.append((os.path.relpath(path, folder), error))

  for root, dirs, names in os.walk(folder, onerror=on_error):
    dirs.sort()
    for name in names:
      if _is_midi_name(name):
        found.append(os.path.relpath(os.path.join(root, name), folder))
  entries = [(relative, None) for relative in found] + unlisted
  tasks, seen = [], collections.Counter()
  for relative, error in sorted(entries, key=lambda entry: entry[0].replace(os.sep, '/')):
    shown = printable_name(relative.replace(os.sep, '/'))
    if error is None:
      tasks.append(_Task(_unique(shown, seen), path=os.path.join(folder, relative)))
    else:
      source = _unique(shown.rstrip('/') + '/', seen)
      reason = _short(error.strerror or error)
      tasks.append(_Task(source, error=f'unreadable: {reason} (folder not searched)'))
  return tasks


def _tfrecord_tasks(path):
  """Yields one task per record; the TFRecord is read here, in the parent process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (slow; only needed for TFRecords)
  seen = collections.Counter()
  index = -1
  try:
    for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
      try:
        sequence = note_seq.NoteSequence.FromString(record)
        error = None if sequence.notes else _not_a_note_sequence(sequence, record)
        name = (f'record_{index:06d}' if error else
                printable_name(sequence.filename or sequence.id or f'record_{index:06d}'))
      except Exception as e:  # pylint: disable=broad-except  (protobuf DecodeError and friends)
        name, error = f'record_{index:06d}', f'corrupt record: {_short(e)}'
      # Keep source names unique, or two records would share one split side.
      yield _Task(_unique(name, seen), serialized=record, error=error)
  except tf.errors.OpError as e:
    # A damaged TFRecord cannot be read past the damage; name it and keep what came before.
    source = f'{os.path.basename(path)}@record_{index + 1:06d}'
    detail = re.sub(r'\{\{.*?\}\}\s*', '', e.message)  # drop TF's "{{function_node ...}}"
    yield _Task(source, error=f'corrupt TFRecord: {_short(detail)}')


def _not_a_note_sequence(sequence, record):
  """Why a record without notes is not a NoteSequence at all, or None if it may be one.

  Other protos often parse as a NoteSequence: a tf.train.Example's field 1 lands in `id`, giving
  an empty sequence with a garbled name, which would otherwise be reported as 'no notes'.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (already loaded by the caller)
  try:
    example = tf.train.Example.FromString(record)
    if example.features.feature and example.ByteSize() == len(record):  # nothing left over
      return 'not a NoteSequence record (a tf.train.Example)'
  except Exception:  # pylint: disable=broad-except  (not an Example either)
    pass
  from google.protobuf import unknown_fields  # pylint: disable=g-import-not-at-top
  if len(unknown_fields.UnknownFieldSet(sequence)) or _UNPRINTABLE.search(sequence.id):
    return 'not a NoteSequence record (no notes, and unknown fields or a binary id)'
  return None


def _list_tasks(input_path):
  """(tasks iterator, number of tasks or None when not known in advance, input kind)."""
  kind = _input_kind(input_path)
  if kind == 'midi_folder':
    tasks = _midi_tasks(input_path)
    return iter(tasks), len(tasks), kind
  if kind == 'midi_file':
    name = printable_name(os.path.basename(input_path))
    return iter([_Task(name, path=input_path)]), 1, kind
  import tensorflow  # pylint: disable=g-import-not-at-top,unused-import  (before any worker starts)
  return _tfrecord_tasks(input_path), None, kind


# ---------------------------------------------------------------------------------------------
# Reading and converting one file (runs in the worker processes).


def _short(error, limit=120):
  """One line, at most `limit` characters, of an exception or message."""
  text = ' '.join(str(error).split()) or type(error).__name__
  return text if len(text) <= limit else text[:limit - 3] + '...'


def _midi_error_detail(error):
  # note_seq wraps pretty_midi's errors as "Midi decoding error <class 'X'>: message".
  match = re.match(r"Midi decoding error <class '([\w.]+)'>: ?(.*)", str(error), re.DOTALL)
  if match:
    return _short(match.group(2) or match.group(1))
  return _short(error)


def _length_in_bars(sequence):
  """Length in 4/4 bars at the sequence's own tempos (what quantization will see)."""
  tempos = sorted((t.time, t.qpm) for t in sequence.tempos if t.qpm > 0)
  if not tempos or tempos[0][0] > 0:
    tempos.insert(0, (0.0, note_seq.constants.DEFAULT_QUARTERS_PER_MINUTE))
  quarters = 0.0
  for i, (start, qpm) in enumerate(tempos):
    end = tempos[i + 1][0] if i + 1 < len(tempos) else sequence.total_time
    end = min(end, sequence.total_time)
    if end > start:
      quarters += (end - start) * qpm / 60.0
  return quarters / 4.0


@contextlib.contextmanager
def _time_limit(seconds, state):
  """Sets state['fired'] and raises TimeoutError in this thread after `seconds` of CPU time.

  CPU time (ITIMER_PROF: this process, user + system), not wall-clock, so that a machine busy with
  other work does not fail good files. Needs Unix signals and the main thread; elsewhere no limit.
  The flag matters: note_seq catches every exception while parsing and re-raises its own, so the
  caller tells a timeout from a parse error by the flag, not by the exception type.
  """
  usable = (seconds and seconds > 0 and hasattr(signal, 'SIGPROF') and
            threading.current_thread() is threading.main_thread())
  if not usable:
    yield
    return

  def on_alarm(signum, frame):
    del signum, frame
    state['fired'] = True
    raise TimeoutError()

  previous = signal.signal(signal.SIGPROF, on_alarm)
  signal.setitimer(signal.ITIMER_PROF, seconds)
  try:
    yield
  finally:
    signal.setitimer(signal.ITIMER_PROF, 0)
    signal.signal(signal.SIGPROF, previous)


def _timed_out(limits):
  return f'timed out: > {limits.timeout_s:g} s of CPU time'


def _out_of_memory():
  cap = _worker_state.get('memory_cap_mb')
  return ('too large to parse: out of memory' +
          (f' (worker memory cap {cap:g} MB)' if cap else ''))


def _is_memory_error(error):
  # note_seq turns every error into "Midi decoding error <class '...MemoryError'>: ...".
  return (isinstance(error, MemoryError) or
          re.match(r"Midi decoding error <class '[\w.]*MemoryError'>", str(error)) is not None)


def _parse_midi(data, limits):
  """(NoteSequence, None) or (None, reason) for the bytes of a MIDI file (see midi_guard)."""
  if not data:
    return None, 'empty file'
  if not data.startswith(b'MThd'):
    return None, 'not a MIDI file'
  problem = midi_guard.check_midi(
      data, midi_guard.MidiLimits(limits.max_bars, limits.max_ticks, limits.max_events))
  if problem:
    return None, problem
  try:
    return note_seq.midi_to_note_sequence(data), None
  except Exception as e:  # pylint: disable=broad-except  (mido/pretty_midi raise many kinds)
    if _is_memory_error(e):
      return None, _out_of_memory()
    return None, f'corrupt MIDI: {_midi_error_detail(e)}'


def _read_task(task, limits):
  """(NoteSequence, None) or (None, reason)."""
  if task.error:
    return None, task.error
  if task.serialized is not None:
    try:
      sequence = note_seq.NoteSequence.FromString(task.serialized)
    except Exception as e:  # pylint: disable=broad-except
      return None, f'corrupt record: {_short(e)}'
  else:
    try:
      info = os.stat(task.path)
      if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader forever
        return None, 'not a regular file'
      if info.st_size == 0:
        return None, 'empty file'
      if info.st_size > limits.max_file_mb * _MB:
        return None, (f'too large: {info.st_size / _MB:.1f} MB > {limits.max_file_mb:g} MB '
                      'limit')
      with open(task.path, 'rb') as f:
        data = f.read()
    except OSError as e:
      return None, f'unreadable: {_short(e.strerror or e)}'
    sequence, error = _parse_midi(data, limits)
    if error:
      return None, error
  return _checked_sequence(sequence, limits)


def _checked_sequence(sequence, limits):
  """(sequence, None), or (None, reason) for one without notes or too long to convert."""
  if not sequence.notes:
    return None, 'no notes'
  bars = _length_in_bars(sequence)
  if bars > limits.max_bars:
    return None, f'too long: {bars:.0f} bars > {limits.max_bars} bar limit'
  return sequence, None


def _process_task(task, converter, limits):
  """Reads and converts one file; never raises for a bad file."""
  empty = converter.empty_arrays()
  state = {'fired': False}
  try:
    with _time_limit(limits.timeout_s, state):
      sequence, error = _read_task(task, limits)
      if error:
        # The alarm may have fired inside note_seq, which made it a 'corrupt MIDI' error.
        reason = _timed_out(limits) if state['fired'] else error
        return _FileResult(task.source, empty, {}, reason, None)
      result = converter.to_tensors(sequence)
      arrays = converter.window_arrays(result.arrays)
  except Exception as e:  # pylint: disable=broad-except
    if state['fired']:
      return _FileResult(task.source, empty, {}, _timed_out(limits), None)
    if isinstance(e, MemoryError):
      return _FileResult(task.source, empty, {}, _out_of_memory(), None)
    # A sequence the converter (or note_seq under it) cannot handle: one odd file must not end a
    # long run, so it is reported with the exception, and logged with its traceback.
    logging.exception('Converting %s failed', task.source)
    return _FileResult(task.source, empty, {},
                       f'conversion failed: {type(e).__name__}: {_short(e)}', None)
  if state['fired']:  # the alarm fired inside note_seq, which turned it into a parse error
    return _FileResult(task.source, empty, {}, _timed_out(limits), None)
  explanation = None
  if not contract.num_windows(arrays):  # the converter's phrases, e.g. '3/4 time (...)'
    explanation = '; '.join(result.details) or result.explain()
  return _FileResult(task.source, arrays, dict(result.rejected), None, explanation)


_worker_state = {}


def _cap_memory(megabytes):
  """Caps this process's address space at its present size + `megabytes`; the cap in MB or None.

  Relative to the present size because a worker spawned by a program that has loaded TensorFlow
  starts with ~1.7 GB of address space (mostly reserved, not used).
  """
  if not megabytes or megabytes <= 0 or resource is None or not hasattr(resource, 'RLIMIT_AS'):
    return None
  try:
    with open('/proc/self/statm') as f:
      present = int(f.read().split()[0]) * os.sysconf('SC_PAGE_SIZE')
  except (OSError, ValueError):
    present = 0
  _, hard = resource.getrlimit(resource.RLIMIT_AS)
  cap = present + int(megabytes * _MB)
  if hard != resource.RLIM_INFINITY:
    cap = min(cap, hard)
  try:
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
  except (ValueError, OSError):
    return None
  return megabytes


def _init_worker(converter, limits):
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  _worker_state['converter'] = converter
  _worker_state['limits'] = limits
  _worker_state['memory_cap_mb'] = _cap_memory(limits.worker_memory_mb)


def _cap_cpu_time(limits):
  """Kills this worker (SIGXCPU) if the next file takes well over its CPU time limit.

  A backstop for code that never returns to Python, where the timer's exception cannot land.
  """
  if not limits.timeout_s or resource is None or not hasattr(resource, 'RLIMIT_CPU'):
    return
  usage = resource.getrusage(resource.RUSAGE_SELF)
  _, hard = resource.getrlimit(resource.RLIMIT_CPU)
  soft = int(usage.ru_utime + usage.ru_stime + 2 * limits.timeout_s + 5)
  if hard != resource.RLIM_INFINITY:
    soft = min(soft, hard)
  try:
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
  except (ValueError, OSError):
    pass


def _process_in_worker(task):
  _cap_cpu_time(_worker_state['limits'])
  return _process_task(task, _worker_state['converter'], _worker_state['limits'])


def _death_reason(exitcode, limits):
  """The report reason for a file whose worker process died with `exitcode`."""
  if exitcode is not None and exitcode < 0:
    try:
      name = signal.Signals(-exitcode).name
    except ValueError:
      name = f'signal {-exitcode}'
    if hasattr(signal, 'SIGXCPU') and -exitcode == signal.SIGXCPU:
      return f'{_timed_out(limits)} (the worker was stopped)'
    if -exitcode == signal.SIGKILL:
      return ('too large to parse: the worker process was killed (SIGKILL, as the '
              'out-of-memory killer does)')
    return f'too large to parse: the worker process died ({name})'
  return f'too large to parse: the worker process died (exit status {exitcode})'


def _results_from_workers(tasks, converter, limits, num_workers):
  """Results of `tasks`, in order, from `num_workers` worker processes.

  Forked when that is safe (it starts in milliseconds: note_seq is already loaded), spawned when
  the parent has imported TensorFlow or runs other threads, which do not survive a fork (spawned
  workers re-import note_seq and the main module, seconds each). A process pool executor rather than
  multiprocessing.Pool, because Pool hangs forever when a worker dies (a crash in C code, the OOM
  killer). When one dies, the pool is broken and every file still in it fails with it: those files
  are retried one at a time in a one-worker pool, the file that kills that worker too is reported
  with how it died, and a fresh pool takes the rest. At most a few tasks per worker are in flight,
  so a large TFRecord is never all in memory.
  """
  fork_is_safe = ('fork' in multiprocessing.get_all_start_methods() and
                  'tensorflow' not in sys.modules and threading.active_count() == 1)
  context = multiprocessing.get_context('fork' if fork_is_safe else 'spawn')
  broken = concurrent.futures.process.BrokenProcessPool

  def new_pool(size):
    return concurrent.futures.ProcessPoolExecutor(size, mp_context=context,
                                                  initializer=_init_worker,
                                                  initargs=(converter, limits))

  def alone(suspects):
    """Runs each task in a one-worker pool, replaced whenever a task kills it."""
    pool = None
    try:
      for task in suspects:
        pool = pool or new_pool(1)
        future = pool.submit(_process_in_worker, task)
        processes = list((getattr(pool, '_processes', None) or {}).values())
        try:
          yield future.result()
        except broken:
          # The pool's manager thread reaps the dead worker; waiting for it here as well races
          # it for waitpid (the loser reads no exit status), so let the shutdown reap it first.
          pool.shutdown(wait=True)
          pool = None
          codes = [p.exitcode for p in processes if p.exitcode is not None]
          reason = _death_reason(codes[0] if codes else None, limits)
          logging.warning('preprocess: %s: %s', task.source, reason)
          yield _FileResult(task.source, converter.empty_arrays(), {}, reason, None)
    finally:
      if pool is not None:
        pool.shutdown(wait=True)

  tasks = iter(tasks)
  pending = collections.deque()
  executor = new_pool(num_workers)
  try:
    while True:
      for task in tasks:
        pending.append((task, executor.submit(_process_in_worker, task)))
        if len(pending) >= 8 * num_workers:
          break
      if not pending:
        return
      task, future = pending[0]
      try:
        result = future.result()
      except broken:
        # Finished results still count; every other file in flight is a suspect.
        logging.warning('preprocess: a worker process died while %d files were in flight; '
                        'retrying them one at a time', len(pending))
        executor.shutdown(wait=True)
        done = {id(f): f.result() for _, f in pending
                if f.done() and not f.cancelled() and f.exception() is None}
        suspects = [t for t, f in pending if id(f) not in done]
        retried = alone(suspects)
        for _, f in pending:
          yield done[id(f)] if id(f) in done else next(retried)
        retried.close()
        pending.clear()
        executor = new_pool(num_workers)
        continue
      pending.popleft()
      yield result
  finally:
    executor.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------
# Public API.


def read_note_sequences(path, *, max_file_mb=DEFAULT_MAX_FILE_MB,
                        max_bars=DEFAULT_MAX_BARS) -> Iterator[tuple]:
  """Yields (source_name, NoteSequence or None, error reason or None) for every input file.

  `path` is a folder of MIDI files (recursive, sorted), a MIDI file or a TFRecord of NoteSequences.
  Raises FileNotFoundError if it does not exist; a bad file is yielded with its reason.
  """
  limits = _Limits(max_file_mb, max_bars, 0)
  tasks, _, _ = _list_tasks(path)
  for task in tasks:
    sequence, error = _read_task(task, limits)
    yield task.source, sequence, error


def read_midi_bytes(data, *, max_bars=DEFAULT_MAX_BARS):
  """(NoteSequence, None) or (None, reason) for the bytes of one MIDI file (an upload), checked as
  a file of the input folder is, with the same reasons ('not a MIDI file', 'corrupt MIDI: ...',
  'too long: ...', 'no notes', ...). No CPU-time limit: that needs the main thread."""
  limits = _Limits(float('inf'), max_bars, 0)
  sequence, error = _parse_midi(data, limits)
  if error:
    return None, error
  return _checked_sequence(sequence, limits)


def preprocess(input_path, converter, num_workers=2, *, max_file_mb=DEFAULT_MAX_FILE_MB,
               max_bars=DEFAULT_MAX_BARS, file_timeout_s=DEFAULT_FILE_TIMEOUT_S,
               worker_memory_mb=DEFAULT_WORKER_MEMORY_MB, max_ticks=DEFAULT_MAX_TICKS,
               max_events=DEFAULT_MAX_EVENTS):
  """Converts every file under `input_path` into windows; returns a WindowSet with its report.

  Args:
    input_path: a folder of MIDI files (searched recursively for .mid/.midi, any case, in sorted
      order), a single MIDI file, or a TFRecord of serialized NoteSequences.
    converter: a `melody.MelodyConverter` or `drums.DrumsConverter`.
    num_workers: worker processes (forked, or spawned if this process has imported TensorFlow);
      1 converts in this process. Results do not depend on it.
    max_file_mb: larger MIDI files are rejected before they are read.
    max_bars: sequences longer than this (in 4/4 bars at their tempo, or of quarter notes in the
      MIDI file's ticks) are rejected.
    file_timeout_s: reading + converting one file taking more CPU time than this fails it ('timed
      out'); needs Unix signals, so it only applies in worker processes or in the main thread.
      0 = no limit.
    worker_memory_mb: address space a worker process may add to its size at start-up; a file
      needing more fails ('too large to parse'). 0 = no cap. Like the CPU-time backstop that kills
      a worker stuck in C code, it needs worker processes: none with num_workers=1 or one file.
    max_ticks, max_events: MIDI files whose last event lies beyond `max_ticks` or which hold more
      than `max_events` events are rejected ('too large to parse') before the MIDI reader, which
      allocates per tick and per event, sees them.

  Returns:
    A WindowSet, possibly empty: see `report['windows_kept']` and `explain_no_windows(report)`.

  Raises:
    FileNotFoundError: `input_path` does not exist.
    ValueError: num_workers < 1, or `input_path` is not a folder or a regular file (a FIFO).
  """
  if num_workers < 1:
    raise ValueError(f'num_workers must be >= 1, got {num_workers}.')
  start = time.time()
  limits = _Limits(float(max_file_mb), int(max_bars), float(file_timeout_s), int(max_ticks),
                   int(max_events), float(worker_memory_mb))
  tasks, total, kind = _list_tasks(input_path)
  if total is not None:  # starting more processes than files only costs time
    num_workers = max(1, min(num_workers, total))
  slice_bars = _slice_bars(converter)

  sources, failures, windows_per_file, no_windows = [], {}, {}, {}
  rejected = collections.Counter()
  array_parts, id_parts = [], []
  num_windows = 0
  last_log = start

  def results():
    if num_workers == 1:
      for task in tasks:
        yield _process_task(task, converter, limits)
      return
    yield from _results_from_workers(tasks, converter, limits, num_workers)

  for result in results():
    source_id = len(sources)
    sources.append(result.source)
    rejected.update(result.rejected)
    if result.error:
      failures[result.source] = result.error
    else:
      windows_per_file[result.source] = result.num_windows
      if result.explanation is not None:
        no_windows[result.source] = result.explanation
    if result.num_windows:
      array_parts.append(result.arrays)
      id_parts.append(np.full([result.num_windows], source_id, np.int32))
      num_windows += result.num_windows
    now = time.time()
    if now - last_log >= PROGRESS_EVERY_S:
      last_log = now
      logging.info('preprocess: %d/%s files, %d windows, %.1f files/s', len(sources),
                   total if total is not None else '?', num_windows, len(sources) / (now - start))

  window_steps = converter.window_steps
  arrays = ({name: np.concatenate([part[name] for part in array_parts]) for name in array_parts[0]}
            if array_parts else converter.empty_arrays())
  source_ids = np.concatenate(id_parts) if id_parts else np.zeros([0], np.int32)
  report = {
      'input': printable_name(os.path.abspath(input_path)),
      'input_kind': kind,
      'encoding': converter.encoding,
      'family_options': converter.window_options(),
      'slice_bars': slice_bars,
      'window_steps': window_steps,
      'max_windows_per_sequence': getattr(converter, 'max_windows_per_sequence', None),
      'num_workers': num_workers,
      'files_total': len(sources),
      'files_read': len(sources) - len(failures),
      'files_failed': len(failures),
      'failures': failures,
      'windows_per_file': windows_per_file,
      'no_windows': no_windows,
      'rejected': dict(sorted(rejected.items())),
      'windows_kept': num_windows,
      'seconds': round(time.time() - start, 3),
  }
  logging.info('preprocess: %d files (%d failed), %d windows in %.1f s', len(sources),
               len(failures), num_windows, report['seconds'])
  return WindowSet(arrays, source_ids, sources, converter.encoding, slice_bars, report)


def _counter_text(counts, limit=8):
  """'reason (count), ...', most frequent first, at most `limit` reasons."""
  items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
  text = ', '.join(f'{reason} ({count})' for reason, count in items[:limit])
  if len(items) > limit:
    text += f' and {len(items) - limit} other reasons ({sum(n for _, n in items[limit:])})'
  return text


def explain_no_windows(report):
  """Why an input gave no windows, e.g. "all 12 files rejected: 3/4 time (10), no notes (2)"."""
  total = report['files_total']
  if total == 0:
    if report['input_kind'] == 'midi_folder':
      return f'no MIDI files (.mid/.midi) found under {report["input"]}'
    return f'no records in {report["input"]}'
  # Group by the reason without its details: 'corrupt MIDI: <detail>' -> 'corrupt MIDI',
  # '3/4 time (only time signatures with ...)' -> '3/4 time'.
  reasons = collections.Counter(reason.split(':')[0] for reason in report['failures'].values())
  reasons.update(re.sub(r' \([^()]*\)', '', reason) for reason in report['no_windows'].values())
  files = '1 file' if total == 1 else f'all {total} files'
  return f'{files} rejected: {_counter_text(reasons)}'


def format_report(report):
  """A readable multi-line summary of a preprocessing report."""
  options = ''.join(f', family.{name}={value!r}'
                    for name, value in report.get('family_options', {}).items())
  lines = [
      f'Input: {report["input"]} ({report["input_kind"]})',
      f'Encoding: {report["encoding"]}{options}, {report["slice_bars"]}-bar windows '
      f'({report["window_steps"]} steps), at most {report["max_windows_per_sequence"]} per '
      'sequence',
      f'Files: {report["files_total"]} total, {report["files_read"]} read, '
      f'{report["files_failed"]} failed',
  ]
  for source, reason in report['failures'].items():
    lines.append(f'  failed  {source}: {reason}')
  if report['no_windows']:
    lines.append(f'Files read but giving no window: {len(report["no_windows"])}')
    for source, reason in report['no_windows'].items():
      lines.append(f'  none    {source}: {reason}')
  lines.append(f'Windows kept: {report["windows_kept"]} from '
               f'{sum(1 for n in report["windows_per_file"].values() if n)} files')
  if report['rejected']:
    lines.append(f'Rejected by the converter: {_counter_text(report["rejected"])}')
  if not report['windows_kept']:
    lines.append(f'No windows: {explain_no_windows(report)}')
  lines.append(f'Time: {report["seconds"]:.1f} s with {report["num_workers"]} worker(s)')
  return '\n'.join(lines)


def _stored(array):
  """An array as the cache stores it: integers in the smallest unsigned type that holds them
  (labels of 512 classes in 16 bits, a drum roll in 8), everything else as it is."""
  array = np.asarray(array)
  if np.issubdtype(array.dtype, np.integer) and (not array.size or array.min() >= 0):
    top = int(array.max()) if array.size else 0
    return array.astype(next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64)
                             if top <= np.iinfo(t).max))
  return array


def write_cache(window_set, output_dir):
  """Writes `output_dir/windows.npz` (numeric and unicode arrays only) and `output_dir/report.json`.

  Every array of the windows is stored under its name (`array_<name>`, with `array_names` and
  their dtypes in `array_dtypes`), whatever the family. Both files are written atomically, so an
  existing good cache survives a failure. A window set with no windows is refused (ValueError):
  it could only make a later training run fail. Returns the path of windows.npz.
  """
  if not len(window_set):
    raise ValueError(f'Refusing to write an empty cache to {output_dir}: '
                     f'{explain_no_windows(window_set.report)}')
  os.makedirs(output_dir, exist_ok=True)
  report_json = json.dumps(window_set.report, indent=2, sort_keys=False)
  names = list(window_set.arrays)
  arrays = {
      'format_version': np.int32(CACHE_FORMAT_VERSION),
      'array_names': np.array(names, dtype=np.str_).reshape([-1]),
      'array_dtypes': np.array([np.asarray(window_set.arrays[name]).dtype.name for name in names],
                               dtype=np.str_).reshape([-1]),
      **{f'array_{name}': _stored(window_set.arrays[name]) for name in names},
      'source_ids': np.asarray(window_set.source_ids, np.int32),
      'sources': np.array(list(window_set.sources), dtype=np.str_).reshape([-1]),
      'encoding': np.array(window_set.encoding, dtype=np.str_),
      'slice_bars': np.int32(window_set.slice_bars),
      'report_json': np.array(report_json, dtype=np.str_),
  }
  cache_path = os.path.join(output_dir, CACHE_FILE)
  files.atomic_write(cache_path, lambda f: np.savez_compressed(f, **arrays))
  files.atomic_write(os.path.join(output_dir, REPORT_FILE), report_json + '\n')
  return cache_path


def _rebuild_command(cache_path, arrays):
  """The mvl_preprocess command that rebuilds a cache, from the report it holds."""
  try:
    report = json.loads(str(arrays['report_json']))
  except (KeyError, ValueError):
    report = {}
  cap = report.get('max_windows_per_sequence')
  flags = [f'--input={shlex.quote(str(report.get("input", "YOUR_MIDI_FOLDER")))}',
           f'--output={shlex.quote(os.path.dirname(os.path.abspath(cache_path)))}',
           f'--encoding={report.get("encoding", arrays.get("encoding", "ENCODING"))}',
           f'--slice_bars={report.get("slice_bars", arrays.get("slice_bars", 2))}',
           f'--max_windows_per_sequence={cap or 0}']
  return 'mvl_preprocess ' + ' '.join(flags)


def read_cache(path):
  """Loads a cache written by `write_cache` (a folder or its windows.npz) without pickle. A cache
  of another format gets a one-line error with the command that rebuilds it."""
  cache_path = os.path.join(path, CACHE_FILE) if os.path.isdir(path) else path
  try:
    with np.load(cache_path, allow_pickle=False) as data:
      arrays = {key: data[key] for key in data.files}
  except (OSError, ValueError) as e:
    raise ValueError(f'Cannot read the window cache {cache_path}: {_short(e)}') from e
  if 'format_version' not in arrays:
    raise ValueError(f'{cache_path} is not a music_vae_lite window cache: missing '
                     'format_version.')
  version = int(arrays['format_version'])
  if version != CACHE_FORMAT_VERSION:
    raise ValueError(f'{cache_path} has cache format {version}, written by '
                     + ('an earlier' if version < CACHE_FORMAT_VERSION else 'a later')
                     + f' version (this one reads format {CACHE_FORMAT_VERSION}); rebuild it '
                     f'with {_rebuild_command(cache_path, arrays)}')
  missing = {'array_names', 'array_dtypes', 'source_ids', 'sources', 'encoding', 'slice_bars',
             'report_json'} - set(arrays)
  names = [str(name) for name in arrays.get('array_names', [])]
  missing |= {f'array_{name}' for name in names} - set(arrays)
  if missing or not names:
    raise ValueError(f'{cache_path} is not a music_vae_lite window cache: missing '
                     f'{", ".join(sorted(missing)) or "arrays"}.')
  source_ids = arrays['source_ids'].astype(np.int32)
  windows = {name: arrays[f'array_{name}'].astype(str(dtype))
             for name, dtype in zip(names, arrays['array_dtypes'])}
  if source_ids.ndim != 1 or any(array.shape[:1] != source_ids.shape
                                 for array in windows.values()):
    raise ValueError(f'{cache_path} is damaged: '
                     + ', '.join(f'{name} {array.shape}' for name, array in windows.items())
                     + f', source_ids {source_ids.shape}.')
  # Caches written before names were escaped may hold undecodable or multi-line names.
  return WindowSet(windows, source_ids, [printable_name(str(s)) for s in arrays['sources']],
                   str(arrays['encoding']), int(arrays['slice_bars']),
                   json.loads(str(arrays['report_json'])))


def _cache_file(path):
  if os.path.isdir(path) and os.path.isfile(os.path.join(path, CACHE_FILE)):
    return os.path.join(path, CACHE_FILE)
  if os.path.isfile(path) and path.endswith('.npz'):
    return path
  return None


def load_examples(path, converter, *, num_workers=1, max_file_mb=DEFAULT_MAX_FILE_MB,
                  max_bars=DEFAULT_MAX_BARS, file_timeout_s=DEFAULT_FILE_TIMEOUT_S):
  """Windows for `converter` from a cache folder, a MIDI folder, a MIDI file or a TFRecord.

  A cache (a folder holding windows.npz, or the .npz itself) must have the converter's encoding,
  window length and options that shape windows (contract.Converter.WINDOW_OPTIONS; ValueError
  naming the file and both values otherwise). Anything else is
  preprocessed here, by default in this process: a program that has imported TensorFlow gets
  spawned workers, which re-import its main module (TensorFlow included) before doing any work,
  so more workers only pay off for large inputs. In this process the raw-byte checks of
  `midi_guard` still keep the MIDI reader's per-tick and per-event allocations bounded, but there
  is no memory cap and no CPU-time backstop for code stuck outside Python: for an untrusted corpus,
  `mvl_preprocess` (capped worker processes) and training from its cache is the safer path.

  Raises:
    FileNotFoundError: `path` does not exist.
    ValueError: a cache made for another encoding, window length or family options, or a damaged
      cache.
    NoWindowsError (a ValueError): no windows at all; the message gives the reasons per file.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'{path!r} does not exist (expected a cache folder with {CACHE_FILE}, a folder of MIDI '
        'files, a MIDI file or a TFRecord of NoteSequences).')
  cache_path = _cache_file(path)
  if cache_path:
    window_set = read_cache(cache_path)
    slice_bars = _slice_bars(converter)
    wanted = converter.window_options()
    # With family options other than the defaults, only --config sets them all.
    rebuild = (f'mvl_preprocess --encoding={converter.encoding} --slice_bars={slice_bars}'
               if wanted == converter.window_options(defaults=True) else
               'mvl_preprocess --config=CONFIG (the config you train with)')
    if (window_set.encoding, window_set.slice_bars) != (converter.encoding, slice_bars):
      raise ValueError(
          f'The window cache {cache_path} holds {window_set.encoding} windows of '
          f'{window_set.slice_bars} bars, but the config needs {converter.encoding} windows of '
          f'{slice_bars} bars. Rebuild it ({rebuild}) or point to a matching cache.')
    # Caches written before the options were recorded hold the defaults: mvl_preprocess could
    # not set them.
    cached = window_set.report.get('family_options', converter.window_options(defaults=True))
    if cached != wanted:
      def listed(options):
        return ', '.join(f'family.{name}={options.get(name)!r}' for name in sorted(wanted))
      raise ValueError(
          f'The window cache {cache_path} holds {window_set.encoding} windows of '
          f'{listed(cached)}, but the config needs {listed(wanted)}. Rebuild it with the config '
          f'you train with (mvl_preprocess --config=CONFIG '
          f'--input={shlex.quote(str(window_set.report.get("input", "YOUR_MIDI_FOLDER")))} '
          f'--output={shlex.quote(os.path.dirname(cache_path))}) or point to a matching cache.')
    try:
      window_set.arrays = converter.window_arrays(window_set.arrays)
    except ValueError as e:
      raise ValueError(f'{cache_path} is damaged: {e}') from e
    cached_cap = window_set.report.get('max_windows_per_sequence')
    wanted_cap = getattr(converter, 'max_windows_per_sequence', None)
    if cached_cap != wanted_cap:  # usable, but not the data the config describes: say so
      logging.warning('The window cache %s keeps %s windows per file; the config asks for %s. '
                      'Rebuild it with mvl_preprocess --max_windows_per_sequence=%s to train on '
                      'what the config describes.', cache_path,
                      'every' if cached_cap is None else f'at most {cached_cap}',
                      'every window' if wanted_cap is None else f'at most {wanted_cap}',
                      wanted_cap or 0)
  else:
    window_set = preprocess(path, converter, num_workers, max_file_mb=max_file_mb,
                            max_bars=max_bars, file_timeout_s=file_timeout_s)
  if not len(window_set):
    raise NoWindowsError(f'No windows from {path}: {explain_no_windows(window_set.report)}.')
  return window_set
