r"""mvl_export: writes a trained model as a TensorFlow SavedModel or for Magenta.js.

  mvl_export --run_dir=runs/mel --format=saved_model --output_dir=exports/mel_saved_model
  mvl_export --run_dir=runs/mel --format=magenta_js --output_dir=exports/mel_js

saved_model: signatures encode, decode, sample, interpolate, metadata and serving_default (= sample)
for tf.saved_model.load or TF Serving; needs neither music_vae_lite nor TensorFlow Probability.
magenta_js: config.json, weights_manifest.json and float32 shards for `new mm.MusicVAE(url)` of
@magenta/music; models Magenta.js cannot run (several encoder layers, decoder layers of different
sizes, hierarchical decoders) are refused with the reason. --output_dir must be new or empty; the
export appears there only when complete. --checkpoint=run_dir/train/ckpt-N picks a checkpoint
instead of the newest. See README.md, "Take your model anywhere".
"""
import sys

from absl import app
from absl import flags

from music_vae_lite import files
from music_vae_lite.cli import common

# TensorFlow and the library are imported in main(), after the flags are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_FORMAT = flags.DEFINE_enum('format', None, ['saved_model', 'magenta_js'],
                            'What to write: a TensorFlow SavedModel or a Magenta.js model folder.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'New (or empty) folder to write the export to.')
flags.mark_flags_as_required(['format', 'output_dir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_export'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    files.check_new_dir(_OUTPUT_DIR.value, '--output_dir folder')
  from music_vae_lite.serving import export  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_export'):
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value)
    path = export.export(model, _FORMAT.value, _OUTPUT_DIR.value)
    print(f'Wrote the {_FORMAT.value} export of {model.checkpoint_path} to {path}.')


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
