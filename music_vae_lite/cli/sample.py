r"""mvl_sample: draws melodies or drum patterns from a trained model's prior.

  mvl_sample --run_dir=runs/mel --num_outputs=5 --temperature=0.5 --output_dir=out [--seed=1] [--bf16]
  mvl_sample --run_dir=runs/mel_chords --chords="C G Am F"      # a chord-conditioned model
  mvl_sample --run_dir=runs/mel --attribute=note_density:+1.0 --attribute=pitch_height:-0.5

Writes <config>_sample_<time>-NNN-of-MMM.mid for each sample and one piano-roll PNG of them all
(<config>_sample_<time>.png). --checkpoint=run_dir/train/ckpt-N picks a checkpoint instead of the
newest. Temperature 0 decodes greedily (argmax); the default 0.5 is the original's.
--attribute=NAME:STRENGTH moves every draw along an attribute vector (made once by
mvl_attributes): the same seed gives the same draws with and without it.
"""
import os
import sys
import time

from absl import app
from absl import flags

from music_vae_lite.cli import common

# TensorFlow and the library are imported in main(), after the flags are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_BF16 = common.define_bf16_flag()
_CHORDS = common.define_chords_flag()
_ATTRIBUTE, _ATTRIBUTE_VECTORS = common.define_attribute_flags()
_NUM_OUTPUTS = flags.DEFINE_integer('num_outputs', 5, 'Number of samples.', lower_bound=1)
_TEMPERATURE = flags.DEFINE_float('temperature', 0.5, 'Sampling temperature; 0 = argmax.',
                                  lower_bound=0.0)
_SEED = flags.DEFINE_integer('seed', None, 'Random seed (the same seed gives the same samples).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '/tmp/music_vae_lite/generated',
                                  'Where to write the MIDI files and the PNG.')

def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_sample'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    common.check_output_dir(_OUTPUT_DIR.value)
    strengths = common.parse_attributes(_ATTRIBUTE.value)
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite import pianoroll  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_sample'):
    temperature = trained_model.check_temperature(_TEMPERATURE.value)
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value, _BF16.value)
    controls = common.controls_from_flag(model, _CHORDS.value)
    if strengths:
      common.load_attribute_vectors(model, _ATTRIBUTE_VECTORS.value)
    labels = model.sample_labels(_NUM_OUTPUTS.value, temperature, _SEED.value, controls,
                                 strengths or None)
    sequences = model.to_note_sequences(labels, controls)
    output_dir = checkpoints.ensure_writable_dir(_OUTPUT_DIR.value)
    stamp = time.strftime('%Y-%m-%d_%H%M%S')
    base = common.unused_base(output_dir,
                              f'{common.safe_name(model.config.name or "model")}_sample_{stamp}')
    total = len(sequences)
    for index, sequence in enumerate(sequences):
      contract.write_midi(sequence, os.path.join(output_dir,
                                                   f'{base}-{index + 1:03d}-of-{total:03d}.mid'))
    shown = pianoroll.write_column_png(os.path.join(output_dir, f'{base}.png'), labels,
                                       model.converter)
    note = f' (it shows the first {shown})' if shown < total else ''
    print(f'Wrote {total} MIDI file(s) and {base}.png{note} to {output_dir}.')


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
