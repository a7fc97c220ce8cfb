r"""mvl_train: trains a MusicVAE, resuming from the run directory's newest checkpoint.

  mvl_train --config=cat-mel_2bar_small --run_dir=runs/mel --examples=data/midi \
      [--num_steps=N] [--config.train.batch_size=64 ...] [--strategy=default|mirrored|multi_worker]

--examples: a MIDI folder or file, a NoteSequence TFRecord, or a cache made by mvl_preprocess.
To resume, pass the same --run_dir (--config may then be left out: the run's config.json is used).
Fine-tuning: --init_from=RUN_DIR_OR_CHECKPOINT (ours, e.g. made by mvl_import, or an original Magenta
checkpoint) starts a new run from those weights with a fresh optimizer at step 0 and prints which
variables were restored, newly initialised or skipped; --config.train.freeze=encoder (or
encoder_and_conductor) keeps those parts fixed; a lower --config.train.learning_rate=1e-4 is usual.
--init_rename=PATTERN=REPLACEMENT (repeatable) maps the source's variable names onto this model's,
e.g. to start a 16-bar model's bar decoder from a trained 2-bar model (README, "16 bars"); without
it, the config's own rules apply (config.train.init_rename: cpu-hier-mel_16bar carries them).
SIGINT / SIGTERM stop after the current step with a checkpoint, then exit with status 130 / 143 (so
a scheduler can tell an early stop from the end). A resumed run continues exactly: it ends with the
same weights as one that was never interrupted. A damaged newest checkpoint is named and the one
before it is used; --resume_from=N (or ckpt-N) picks another. One trainer per run directory.
Summaries: tensorboard --logdir=RUN_DIR.
"""
import os
import signal
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from music_vae_lite import config_lib
from music_vae_lite.cli import common
from music_vae_lite.training import renames

# TensorFlow and the library are imported in main(), after the flags are checked, so that --help
# and a mistake answer at once instead of after TensorFlow's start-up.
STRATEGIES = ('default', 'mirrored', 'multi_worker')  # = distribute.STRATEGIES

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Config name (e.g. cat-mel_2bar_small) or path of a config file. Any value can '
    'be overridden: --config.train.batch_size=64. Optional when resuming a run directory.',
    lock_config=True)
_RUN_DIR = flags.DEFINE_string('run_dir', None, 'Run directory: config, checkpoints, summaries.')
_EXAMPLES = flags.DEFINE_string(
    'examples', None, 'MIDI folder or file, NoteSequence TFRecord, or mvl_preprocess cache folder.')
_NUM_STEPS = flags.DEFINE_integer('num_steps', None, 'Train up to this global step '
                                  '(overrides config.train.num_steps).', lower_bound=0)
_STRATEGY = flags.DEFINE_enum('strategy', 'default', STRATEGIES,
                              'default: one device; mirrored: all local GPUs; multi_worker: '
                              'MultiWorkerMirroredStrategy, cluster from TF_CONFIG.')
_INIT_FROM = flags.DEFINE_string(
    'init_from', None, 'Start a new run from these weights: a run directory or checkpoint, or an '
    'original Magenta checkpoint (.tar, prefix or directory). Fresh optimizer, step 0. Ignored '
    'when --run_dir already has a checkpoint.')
_INIT_RENAME = flags.DEFINE_multi_string(
    'init_rename', [], 'With --init_from: PATTERN=REPLACEMENT (a regular expression and its '
    'replacement) mapping the source\'s variable names onto this model\'s; repeat for several '
    'rules; the first matching rule applies. E.g. a 16-bar model\'s bar decoder from a 2-bar '
    'model: --init_rename=^decoder/=core_decoder/decoder/. Without it, the config\'s own rules '
    '(config.train.init_rename; cpu-hier-mel_16bar has them) apply.')
_RESUME_FROM = flags.DEFINE_string(
    'resume_from', None, 'Resume from this checkpoint of --run_dir (a step such as 2000, or '
    'ckpt-2000) instead of the newest readable one.')
flags.mark_flags_as_required(['run_dir', 'examples'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_train'):
    common.check_examples(_EXAMPLES.value)
    common.check_output_dir(_RUN_DIR.value, 'run_dir')
    config = _CONFIG.value
    if config is None:
      if not os.path.isfile(os.path.join(_RUN_DIR.value, config_lib.RUN_CONFIG_FILE)):
        raise ValueError(f'--config is required: {_RUN_DIR.value} holds no run to resume '
                         '(no config.json).')
      config = config_lib.load_run_config(_RUN_DIR.value)  # resuming: the run's own config
      logging.info('No --config: using %s.',
                   os.path.join(_RUN_DIR.value, config_lib.RUN_CONFIG_FILE))
    else:
      config_lib.validate(config, '--config')
    if _INIT_RENAME.value and not _INIT_FROM.value:
      raise ValueError('--init_rename needs --init_from (the weights it renames).')
    renames.parse(_INIT_RENAME.value)
    if _NUM_STEPS.value is not None:
      with config.unlocked():
        config.train.num_steps = _NUM_STEPS.value
  from music_vae_lite.training import distribute  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_train'):
    # Threads, then the strategy: both must be set before other TF work.
    distribute.set_cpu_threads(config.train)
    strategy = distribute.make_strategy(_STRATEGY.value)
    result = train.train_and_evaluate(config, _RUN_DIR.value, _EXAMPLES.value, strategy=strategy,
                                      init_from=_INIT_FROM.value,
                                      init_rename=_INIT_RENAME.value,
                                      resume_from=_RESUME_FROM.value)
  if result.stopped_by:  # the shell's convention for a process ended by a signal: 128 + number
    sys.exit(128 + signal.Signals[result.stopped_by].value)


def run():
  common.run_program(main, sys.modules[__name__], with_config=True)


if __name__ == '__main__':
  run()
