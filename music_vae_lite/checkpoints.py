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
`latest_checkpoint` and resuming read. Leftover partial files of an interrupted save are simply
overwritten by the next save of that step. tests/test_train.py checks this by killing savers.
"""
import json
import os
import tempfile

import ml_collections
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite import files

CONFIG_FILE = 'config.json'
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
  """The config a run was trained with (`run_dir/config.json`), as a ConfigDict."""
  path = os.path.join(run_dir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise RunDirError(f'{run_dir!r} has no {CONFIG_FILE}: it is not a music_vae_lite run directory '
                      '(pass the directory given to mvl_train as --run_dir).')
  try:
    with open(path) as f:
      return ml_collections.ConfigDict(json.load(f))
  except (json.JSONDecodeError, TypeError) as e:
    raise RunDirError(f'{path} is not a valid config file: {e}.') from e


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
  directory = train_dir(run_dir) if is_chief else os.path.join(run_dir, WORKERS_DIR, str(worker_id))
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
