"""Run directories: the saved config, checkpoints (save, find, restore with clear errors), files
written atomically.

A run directory describes itself (like nanoGPT's checkpoints): loading a model needs nothing else.

    run_dir/config.json     the full config the run was trained with (`config.to_json()`)
    run_dir/train/          checkpoints ckpt-<step>.index / .data-*, the `checkpoint` state file,
                            TensorBoard events of training
    run_dir/eval/           TensorBoard events of the periodic evaluation
    run_dir/workers/<id>/   multi-worker training only: each non-chief worker's own checkpoints
                            (copies of the chief's state; kept so they can be compared)

Why a killed save never replaces the last good checkpoint: `tf.train.CheckpointManager.save` first
writes the new `ckpt-<step>` files completely (TF writes them to a temporary directory and merges
them into place), and only afterwards, from a write callback, rewrites the `checkpoint` state file
with an atomic rename. Until that rename the state file names the previous checkpoint, which is what
`latest_checkpoint` and resuming read. A trainer removes the leftovers of interrupted saves
(`ckpt-N_temp*`) when it starts, under the run directory's lock (`remove_stale_temporaries`).
tests/training/test_train.py and tests/training/test_reliability.py check this by killing savers.
"""
import errno
import fcntl
import os
import re
import shutil
import tempfile

from absl import logging
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite import files

CONFIG_FILE = config_lib.RUN_CONFIG_FILE
TRAIN_DIR = 'train'
EVAL_DIR = 'eval'
WORKERS_DIR = 'workers'
CHECKPOINT_NAME = 'ckpt'
_VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'  # dropped from reported names, for readability
# Checkpoint keys that say nothing about the model's shape.
_BOOKKEEPING_KEYS = ('_CHECKPOINTABLE_OBJECT_GRAPH', 'save_counter/.ATTRIBUTES/VARIABLE_VALUE')


class CheckpointMismatchError(ValueError):
  """A checkpoint's variables do not fit the model built from the config."""


# Written here for the programs' TensorFlow-free checks; the same names as ever for callers.
RunDirError = files.RunDirError
atomic_write = files.atomic_write
ensure_writable_dir = files.ensure_writable_dir
check_creatable_dir = files.check_creatable_dir


# -------------------------------------------------------------------------------------------------
# The config stored in the run directory.


def save_config(run_dir, config):
  atomic_write(os.path.join(run_dir, CONFIG_FILE), config.to_json(indent=2, sort_keys=True) + '\n')


def load_config(run_dir):
  """The config a run was trained with (`run_dir/config.json`), checked; see config_lib."""
  return config_lib.load_run_config(run_dir)


def config_differences(old, new, sections=None):
  """Lines 'key: old -> new' for every leaf that differs (optionally only under `sections`)."""
  old, new = config_lib.flatten_config(old), config_lib.flatten_config(new)
  keys = sorted(set(old) | set(new))
  if sections:
    keys = [k for k in keys if k.split('.')[0] in sections]
  missing = '<absent>'
  return [f'{k}: {old.get(k, missing)!r} -> {new.get(k, missing)!r}'
          for k in keys if old.get(k, missing) != new.get(k, missing)]


# -------------------------------------------------------------------------------------------------
# Finding checkpoints.


def train_dir(run_dir):
  return os.path.join(run_dir, TRAIN_DIR)


def latest_checkpoint(run_dir):
  """The prefix of the newest complete checkpoint of a run, or None."""
  return tf.train.latest_checkpoint(train_dir(run_dir))


def run_checkpoints(run_dir):
  """Prefixes of every checkpoint the run's state file lists, oldest first."""
  state = tf.train.get_checkpoint_state(train_dir(run_dir))  # paths already joined to the folder
  return list(state.all_model_checkpoint_paths) if state else []


def checkpoint_step(prefix):
  """The step a `.../ckpt-<step>` prefix was saved at."""
  return int(prefix.rsplit('-', 1)[1])


def resolve(path):
  """(checkpoint prefix, run directory) for a run directory, its train/ directory or a checkpoint
  prefix (`run_dir/train/ckpt-200`, with or without `.index`)."""
  path = os.path.normpath(os.fspath(path))
  if path.endswith('.index'):
    path = path[:-len('.index')]
  if os.path.isdir(path):
    run_dir = os.path.dirname(path) if os.path.basename(path) == TRAIN_DIR else path
    if not os.path.isfile(os.path.join(run_dir, CONFIG_FILE)):
      raise RunDirError(f'{path!r} is not a music_vae_lite run directory (no {CONFIG_FILE}).')
    prefix = latest_checkpoint(run_dir)
    if prefix is None:
      raise RunDirError(f'The run directory {run_dir!r} has no checkpoint yet '
                        f'({train_dir(run_dir)} holds no complete checkpoint).')
    return prefix, run_dir
  if os.path.isfile(path + '.index'):
    directory = os.path.dirname(path)
    run_dir = os.path.dirname(directory) if os.path.basename(directory) == TRAIN_DIR else directory
    return path, run_dir
  raise RunDirError(f'No run directory or checkpoint at {path!r}.')


# -------------------------------------------------------------------------------------------------
# Saving and restoring.


def make_manager(checkpoint, run_dir, keep, is_chief=True, worker_id=0):
  """A CheckpointManager saving `ckpt-<step>` into run_dir/train (chief) or run_dir/workers/<id>."""
  directory = checkpoint_directory(run_dir, is_chief, worker_id)
  return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep,
                                    checkpoint_name=CHECKPOINT_NAME)


def _shapes(prefix):
  # Optimizer slots (Keras: optimizer/_variables/<n>) mirror the model's shapes: only noise here.
  return {name.replace(_VALUE_SUFFIX, ''): list(shape)
          for name, shape in tf.train.list_variables(prefix)
          if name not in _BOOKKEEPING_KEYS and '.OPTIMIZER_SLOT' not in name
          and not name.startswith('optimizer/_variables/')}


def _live_shapes(root):
  """{checkpoint key without suffix: shape} of the variables `root` would save."""
  try:
    # The checkpoint's own traversal (private API) names objects exactly as a save would.
    from tensorflow.python.checkpoint import graph_view  # pylint: disable=g-import-not-at-top
    from tensorflow.python.checkpoint import util  # pylint: disable=g-import-not-at-top
    objects, _, _, _, names = util.objects_ids_and_slot_variables_and_paths(
        graph_view.ObjectGraphView(root), skip_slot_variables=True)
    shapes = {names[obj]: list(obj.shape) for obj in objects if isinstance(obj, tf.Variable)}
  except (ImportError, AttributeError, TypeError, ValueError):
    # Public fallback: write the live objects and list what was written.
    with tempfile.TemporaryDirectory() as tmp:
      return _shapes(root.write(os.path.join(tmp, 'live')))
  return {name: shape for name, shape in shapes.items()
          if name != 'save_counter' and not name.startswith('optimizer/_variables/')}


def describe_mismatch(root, prefix):
  """Lines naming the variables whose shapes differ between the checkpoint and `root`'s objects,
  and those present on one side only. Empty when everything `root` holds fits."""
  stored, live = _shapes(prefix), _live_shapes(root)
  # Compare only the parts `root` holds (a model-only root may read a training checkpoint).
  roots = {key.split('/')[0] for key in live}
  stored = {k: v for k, v in stored.items() if k.split('/')[0] in roots}
  lines = [f'  {k}: checkpoint {stored[k]}, model {live[k]}'
           for k in sorted(set(stored) & set(live)) if stored[k] != live[k]]
  lines += [f'  only in the checkpoint: {k} {stored[k]}' for k in sorted(set(stored) - set(live))]
  lines += [f'  only in the model: {k} {live[k]}' for k in sorted(set(live) - set(stored))]
  return lines


def restore(root, prefix, config_note=''):
  """Restores `root` (a tf.train.Checkpoint) from `prefix`, requiring every object in `root` to
  be found with its shape.

  The shapes are compared before anything is read, so a mismatch changes nothing and raises
  CheckpointMismatchError naming the variables and both shapes; `config_note` is appended to it
  (e.g. the differences between the configs).
  """
  lines = describe_mismatch(root, prefix)
  if lines:
    shown = lines[:30] + ([f'  ... and {len(lines) - 30} more'] if len(lines) > 30 else [])
    raise CheckpointMismatchError(
        f'Checkpoint {prefix} does not fit the model built from this config '
        f'(was it trained with another config?):\n' + '\n'.join(shown) + config_note)
  status = root.read(prefix)
  status.assert_existing_objects_matched()
  # A model-only root leaves the optimizer's values unread on purpose: no warnings about them.
  status.expect_partial()
  return status


def checkpoint_directory(run_dir, is_chief=True, worker_id=0):
  """Where a trainer saves: run_dir/train (chief) or run_dir/workers/<id>."""
  return train_dir(run_dir) if is_chief else os.path.join(run_dir, WORKERS_DIR, str(worker_id))


def restore_newest_readable(root, prefixes, config_note=''):
  """Restores `root` from the newest of `prefixes` (oldest first, as CheckpointManager lists them)
  that can be read; returns that prefix, or None when `prefixes` is empty.

  A damaged checkpoint (truncated or zeroed files, a missing data file) is named with the reason
  and skipped in favour of the one before it. A checkpoint of another model
  (CheckpointMismatchError) is not damage: it is raised at once. RunDirError when none is readable.
  """
  problems = []
  for prefix in reversed(list(prefixes)):
    try:
      restore(root, prefix, config_note)
    except CheckpointMismatchError:
      raise
    # What TF's readers raise on damaged files (IndexError: "Read less bytes than requested").
    except (tf.errors.OpError, ValueError, OSError, IndexError, KeyError, RuntimeError) as e:
      reason = first_line(e)
      logging.warning('Checkpoint %s cannot be read (%s); trying the one before it.', prefix,
                      reason)
      problems.append(f'{prefix}: {reason}')
      continue
    if problems:
      logging.warning('Using %s instead of the newer, damaged checkpoint(s).', prefix)
    return prefix
  if problems:
    raise RunDirError('No readable checkpoint: ' + '; '.join(problems) + '.')
  return None


def restore_model(model, path):
  """Restores `model` from a trained run as every program reads one: a run directory (or its
  train/) gives its newest readable checkpoint (a damaged newest one is named and the one before
  it used), a checkpoint prefix gives that checkpoint. Returns the prefix restored.
  Raises RunDirError (no run or checkpoint there) and CheckpointMismatchError (another model's)."""
  prefix, run_dir = resolve(path)
  candidates = run_checkpoints(run_dir) if os.path.isdir(os.fspath(path)) else [prefix]
  return restore_newest_readable(tf.train.Checkpoint(model=model), candidates)


def first_line(error, limit=200):
  """The first line of an exception's message (TF errors keep theirs in `.message`), shortened."""
  text = str(getattr(error, 'message', None) or error).strip()
  line = text.splitlines()[0] if text else 'unknown error'
  return line if len(line) <= limit else line[:limit - 3] + '...'


def find_checkpoint(prefixes, wanted):
  """The prefix among `prefixes` named by `wanted`: a step number, 'ckpt-N' or a full prefix."""
  wanted = str(wanted)
  for prefix in prefixes:
    if wanted in (prefix, os.path.basename(prefix), str(checkpoint_step(prefix))):
      return prefix
  known = ', '.join(os.path.basename(p) for p in prefixes) or 'none'
  raise RunDirError(f'No checkpoint {wanted!r} in this run directory (it has: {known}).')


_TEMP_CHECKPOINT = re.compile(rf'^{CHECKPOINT_NAME}-\d+_temp')


def remove_stale_temporaries(directory):
  """Removes what killed saves left behind in `directory` (`ckpt-N_temp*` folders and files).

  Call it only while holding the run directory's lock: a live save writes such folders too."""
  if not os.path.isdir(directory):
    return []
  removed = []
  for name in sorted(os.listdir(directory)):
    if _TEMP_CHECKPOINT.match(name):
      path = os.path.join(directory, name)
      shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
      removed.append(name)
  if removed:
    logging.info('Removed %d leftover(s) of interrupted saves in %s: %s', len(removed), directory,
                 ', '.join(removed))
  return removed


class RunDirLock:
  """An exclusive lock on a trainer's checkpoint directory for as long as it trains.

  A second trainer on the same run directory stops with a message naming the holder's PID instead
  of interleaving checkpoints. The lock is an flock on `<directory>/.lock`: the kernel releases it
  when the holder exits, also on SIGKILL, so a stale lock file never blocks.
  """

  def __init__(self, directory):
    self.path = os.path.join(directory, '.lock')
    self._fd = None

  def __enter__(self):
    os.makedirs(os.path.dirname(self.path), exist_ok=True)
    fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      holder = os.pread(fd, 64, 0).decode('ascii', 'replace').strip() or 'unknown'
      os.close(fd)
      if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
        raise RunDirError(
            f'{os.path.dirname(self.path)} is in use by another trainer (PID {holder}): two '
            'trainers on one run directory would overwrite each other\'s checkpoints. Wait for it '
            'to finish, stop it, or use another --run_dir.') from e
      raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'{os.getpid()}\n'.encode('ascii'), 0)
    self._fd = fd
    return self

  def __exit__(self, *exc_info):
    if self._fd is not None:
      fcntl.flock(self._fd, fcntl.LOCK_UN)
      os.close(self._fd)
      self._fd = None
