"""What the programs share: quiet start-up, the --run_dir / --checkpoint flags, one-line user errors.

Programs import TensorFlow and the library inside main(), so that --help answers at once.
"""
import contextlib
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# pydub, imported by note_seq, warns about a missing ffmpeg that is never used.
warnings.filterwarnings('ignore', message="Couldn't find ffmpeg", category=RuntimeWarning)

from absl import flags  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import logging  # pylint: disable=g-import-not-at-top,wrong-import-position

# Bad flags, files and checkpoints raise these; the programs report them in one line.
USER_ERRORS = (ValueError, OSError, FloatingPointError)


def define_model_flags():
  """--run_dir and --checkpoint, for the programs that use a trained model."""
  run_dir = flags.DEFINE_string('run_dir', None, 'Run directory (its newest checkpoint is used).')
  checkpoint = flags.DEFINE_string('checkpoint', None, 'A checkpoint prefix, e.g. '
                                   'run_dir/train/ckpt-2000 (instead of --run_dir).')
  return run_dir, checkpoint


def define_bf16_flag():
  """--bf16, for the programs that generate."""
  return flags.DEFINE_bool(
      'bf16', False, 'Run the matmuls in bfloat16 (float32 weights and cell arithmetic): 1.4-1.8x '
      'faster generation on CPUs with native bf16 (AVX512-BF16, AMX), slower on other CPUs. '
      'Outputs at the same seed can differ from float32 in a few notes.')


def load_trained_model(run_dir, checkpoint, bf16=False):
  """The TrainedModel named by exactly one of --run_dir and --checkpoint."""
  from music_vae_lite import trained_model  # pylint: disable=g-import-not-at-top
  if (run_dir is None) == (checkpoint is None):
    raise ValueError('Give exactly one of --run_dir and --checkpoint.')
  model = trained_model.TrainedModel(run_dir or checkpoint,
                                     compute_dtype='bfloat16' if bf16 else None)
  logging.info('Loaded %s (step %d, %s matmuls).', model.checkpoint_path, model.step,
               model.compute_dtype)
  return model


@contextlib.contextmanager
def user_errors(program):
  """Turns a user error into `<program>: error: <message>` and exit status 1, without a traceback."""
  try:
    yield
  except USER_ERRORS as e:
    logging.debug('Error details:', exc_info=True)
    sys.exit(f'{program}: error: {e}')
