r"""mvl_attributes: attribute vectors of a trained model (denser, higher, more syncopated, ...).

  mvl_attributes --run_dir=runs/mel --examples=data/midi [--output=vectors.json] \
      [--effect_phrases=256] [--seed=0]

Encodes every window of the examples (posterior means) and, for each attribute of the model's
family (melody: c_diatonic, note_density, average_interval, syncopation_16th, syncopation_8th,
pitch_height, pitch_range; drums: density, hihat_share, kick_snare_balance, syncopation; GrooVAE:
the drums' four and loudness, dynamics, laid_back, swing), takes the mean z of the windows in the attribute's top quartile minus that of its bottom quartile. The
vectors come from the files the run trained on (by its config.data.eval_fraction); their effect is
measured on the held-out files: each vector is added at strengths -2, -1, +1, +2 to up to
--effect_phrases held-out phrases, and the change of every attribute is reported in units of its
spread, with the share of phrases that moved the intended way and of note-ons kept.

Writes run_dir/attribute_vectors.json (where mvl_sample --attribute, mvl_interpolate --attribute
and TrainedModel.shift find them) and a heat map of the effect (attribute_vectors_effect.png);
--output writes a copy of the JSON (and its PNG) elsewhere too.
"""
import os
import sys

from absl import app
from absl import flags

from music_vae_lite.cli import common

# TensorFlow and the library are imported in main(), after the flags are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_EXAMPLES = flags.DEFINE_string(
    'examples', None, 'The corpus: MIDI folder or file, NoteSequence TFRecord, or mvl_preprocess '
    'cache folder (every window of every file is used).')
_OUTPUT = flags.DEFINE_string('output', None, 'Also write the vectors and their effect to this '
                              'JSON file (and a PNG beside it).')
_EFFECT_PHRASES = flags.DEFINE_integer('effect_phrases', 256, 'Held-out phrases to measure the '
                                       'effect on (0: skip the measurement).', lower_bound=0)
_SEED = flags.DEFINE_integer('seed', 0, 'Picks the phrases the effect is measured on.')
flags.mark_flags_as_required(['examples'])


def _png_path(json_path):
  return os.path.splitext(json_path)[0] + '_effect.png'


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_attributes'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    common.check_examples(_EXAMPLES.value)
    output = None
    if _OUTPUT.value:
      output = os.path.abspath(_OUTPUT.value)
      if os.path.isdir(output):
        raise ValueError(f'--output: {output!r} is a folder; give a file name.')
      common.check_output_dir(os.path.dirname(output), 'output')
  from music_vae_lite.serving import attribute_vectors  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_attributes'):
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value)
    vectors = model.attribute_vectors(_EXAMPLES.value, effect_phrases=_EFFECT_PHRASES.value,
                                      seed=_SEED.value, save=True)
    written = [os.path.join(model.run_dir, attribute_vectors.FILE_NAME)]
    if output:
      written.append(vectors.save(output))
    pictures = [attribute_vectors.write_effect_png(_png_path(path), vectors) for path in written]
    written += [picture for picture in pictures if picture]
    print('\n'.join(attribute_vectors.format_report(vectors)))
    print('Wrote ' + ', '.join(written) + '.')


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
