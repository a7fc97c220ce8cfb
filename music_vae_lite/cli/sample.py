r"""mvl_sample: draws melodies or drum patterns from a trained model's prior.

  mvl_sample --run_dir=runs/mel --num_outputs=5 --temperature=0.5 --output_dir=out [--seed=1]

Writes <config>_sample_<time>-NNN-of-MMM.mid for each sample and one piano-roll PNG of them all
(<config>_sample_<time>.png). --checkpoint=run_dir/train/ckpt-N picks a checkpoint instead of the
newest. Temperature 0 decodes greedily (argmax); the default 0.5 is the original's.
"""
import os
import sys
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# pydub, imported by note_seq, warns about a missing ffmpeg that is never used.
warnings.filterwarnings('ignore', message="Couldn't find ffmpeg", category=RuntimeWarning)

from absl import app  # pylint: disable=g-import-not-at-top,wrong-import-position
from absl import flags
from absl import logging

# TensorFlow and the library are imported in main(), so that --help answers at once.

_RUN_DIR = flags.DEFINE_string('run_dir', None, 'Run directory (its newest checkpoint is used).')
_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'A checkpoint prefix, e.g. '
                                  'run_dir/train/ckpt-2000 (instead of --run_dir).')
_NUM_OUTPUTS = flags.DEFINE_integer('num_outputs', 5, 'Number of samples.', lower_bound=1)
_TEMPERATURE = flags.DEFINE_float('temperature', 0.5, 'Sampling temperature; 0 = argmax.')
_SEED = flags.DEFINE_integer('seed', None, 'Random seed (the same seed gives the same samples).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '/tmp/music_vae_lite/generated',
                                  'Where to write the MIDI files and the PNG.')

_USER_ERRORS = (ValueError, OSError)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite import converters  # pylint: disable=g-import-not-at-top
  from music_vae_lite import pianoroll  # pylint: disable=g-import-not-at-top
  from music_vae_lite import trained_model  # pylint: disable=g-import-not-at-top
  try:
    if (_RUN_DIR.value is None) == (_CHECKPOINT.value is None):
      raise ValueError('Give exactly one of --run_dir and --checkpoint.')
    path = _RUN_DIR.value or _CHECKPOINT.value
    temperature = trained_model.check_temperature(_TEMPERATURE.value)
    output_dir = checkpoints.ensure_writable_dir(_OUTPUT_DIR.value)
    model = trained_model.TrainedModel(path)
    logging.info('Loaded %s (step %d).', model.checkpoint_path, model.step)
    labels = model.sample_labels(_NUM_OUTPUTS.value, temperature, _SEED.value)
    sequences = model.converter.from_tensors(labels)
    base = f'{model.config.name or "model"}_sample_{time.strftime("%Y-%m-%d_%H%M%S")}'
    total = len(sequences)
    for index, sequence in enumerate(sequences):
      converters.write_midi(sequence, os.path.join(output_dir,
                                                   f'{base}-{index + 1:03d}-of-{total:03d}.mid'))
    png = pianoroll.write_png(os.path.join(output_dir, f'{base}.png'),
                              pianoroll.render([[window] for window in labels],
                                               model.converter.encoding))
    print(f'Wrote {total} MIDI file(s) and {os.path.basename(png)} to {output_dir}.')
  except _USER_ERRORS as e:
    logging.debug('Error details:', exc_info=True)
    sys.exit(f'mvl_sample: error: {e}')


def run():
  app.run(main)


if __name__ == '__main__':
  run()
