r"""mvl_interpolate: morphs between two MIDI files through the latent space, or moves one phrase
along attribute vectors.

  mvl_interpolate --run_dir=runs/mel --input_midi_1=a.mid --input_midi_2=b.mid --num_outputs=5 \
      --output_dir=out [--window_1=k] [--window_2=k] [--temperature=0.5] [--seed=1] [--bf16]
  mvl_interpolate --run_dir=runs/mel --input_midi=a.mid --attribute=note_density:+1.0 \
      --output_dir=out [--window=k] [--num_outputs=5] [--temperature=0]

Each input is converted like the training data and one of its windows is encoded (posterior mean):
by default the first window that starts with a note, so a pickup or a leading rest is skipped, or
the one chosen with --window_1 / --window_2 (1 = the first); the program says which it used. The
two means are interpolated spherically (slerp) at num_outputs evenly spaced points, both ends
included, and each point is decoded. Writes each step as
<config>_interpolate_<time>-NNN-of-MMM.mid, the whole morph as one MIDI file (steps one after
another, <...>-morph.mid) and a piano roll of the steps (<...>.png). An input that gives no window
is reported with the reason (e.g. "3/4 time"); one that gives several is reported too. A
chord-conditioned model follows --chords="C G Am F", or by default the first input's chords.

With --input_midi and --attribute (attribute vectors made by mvl_attributes), the phrase's window
is encoded and moved by 0, 0.5, 1, 1.5 and 2 times the sum of strength x vector (--num_outputs
evenly spaced multiples from 0 to 2; 0 is the plain reconstruction) and each step is decoded, by
default greedily (--temperature=0), so that only what the vector moves changes. The files are named
<config>_attribute_<time>-NNN-of-MMM.mid, -morph.mid and .png as above.
"""
import os
import sys
import time

from absl import app
from absl import flags

from music_vae_lite import files
from music_vae_lite.cli import common

# TensorFlow and the library are imported where used, after the flags are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_BF16 = common.define_bf16_flag()
_CHORDS = common.define_chords_flag()
_ATTRIBUTE, _ATTRIBUTE_VECTORS = common.define_attribute_flags()
_INPUT_1 = flags.DEFINE_string('input_midi_1', None, 'The MIDI file to start from.')
_INPUT_2 = flags.DEFINE_string('input_midi_2', None, 'The MIDI file to end at.')
_INPUT = flags.DEFINE_string('input_midi', None, 'The MIDI file to move along --attribute '
                             '(instead of --input_midi_1 and --input_midi_2).')
_WINDOW = flags.DEFINE_integer('window', None, 'Which window of --input_midi to move (1 = the '
                               'first; default: the first that starts with a note).',
                               lower_bound=1)
_NUM_OUTPUTS = flags.DEFINE_integer('num_outputs', 5, 'Interpolation steps, both ends included '
                                    '(with --attribute: multiples of the vector from 0 to 2).',
                                    lower_bound=2)
_WINDOW_1 = flags.DEFINE_integer('window_1', None, 'Which window of --input_midi_1 to encode '
                                 '(1 = the first; default: the first that starts with a note).',
                                 lower_bound=1)
_WINDOW_2 = flags.DEFINE_integer('window_2', None, 'The same for --input_midi_2.', lower_bound=1)
_TEMPERATURE = flags.DEFINE_float('temperature', None, 'Decoding temperature; 0 = argmax '
                                  '(default: 0.5 for a morph, 0 with --attribute).',
                                  lower_bound=0.0)
_SEED = flags.DEFINE_integer('seed', None, 'Random seed (the same seed gives the same output).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '/tmp/music_vae_lite/generated',
                                  'Where to write the MIDI files and the PNG.')
MAX_ATTRIBUTE_SCALE = 2.0

def input_window(model, path, flag, window):
  """(window, controls or None) of the window to encode for one input file (see
  TrainedModel.extract), saying which one was used."""
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  sequence = common.read_midi(path, flag)
  try:
    targets, controls, index, count = model.extract(
        sequence, None if window is None else window - 1, name=f'--{flag} {path}')
  except trained_model.NoWindowError as e:
    raise ValueError(str(e)) from e
  how = 'chosen' if window is not None else (
      'the first that starts with a note' if model.converter.starts_with_note(targets)
      else 'none starts with a note')
  print(f'--{flag} {os.path.basename(path)}: window {index + 1} of {count} ({how}; choose '
        f'another with --{flag.replace("input_midi", "window")}=k).')
  return targets, controls


def check_mode_flags():
  """The two modes' inputs: --input_midi_1 and --input_midi_2, or --input_midi with --attribute.
  Returns {name: strength} (empty for a morph)."""
  strengths = common.parse_attributes(_ATTRIBUTE.value)
  if _INPUT.value is not None:
    if _INPUT_1.value is not None or _INPUT_2.value is not None:
      raise ValueError('Give --input_midi (with --attribute) or --input_midi_1 and '
                       '--input_midi_2, not both.')
    if not strengths:
      raise ValueError('--input_midi needs --attribute=NAME:STRENGTH (e.g. note_density:+1.0).')
    if _WINDOW_1.value is not None or _WINDOW_2.value is not None:
      raise ValueError('--window_1 and --window_2 go with a morph; use --window with --input_midi.')
    files.check_midi_file(_INPUT.value, 'input_midi')
    return strengths
  if _INPUT_1.value is None or _INPUT_2.value is None:
    raise ValueError('Give --input_midi_1 and --input_midi_2 (a morph), or --input_midi with '
                     '--attribute (a shift).')
  if strengths or _WINDOW.value is not None:
    raise ValueError('--attribute and --window go with --input_midi (one phrase to move), not '
                     'with --input_midi_1 and --input_midi_2.')
  files.check_midi_file(_INPUT_1.value, 'input_midi_1')
  files.check_midi_file(_INPUT_2.value, 'input_midi_2')
  return strengths


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_interpolate'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    strengths = check_mode_flags()
    common.check_output_dir(_OUTPUT_DIR.value)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite import pianoroll  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_interpolate'):
    default_temperature = 0.0 if strengths else 0.5
    temperature = trained_model.check_temperature(
        default_temperature if _TEMPERATURE.value is None else _TEMPERATURE.value)
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value, _BF16.value)
    controls = common.controls_from_flag(model, _CHORDS.value)
    if strengths:
      common.load_attribute_vectors(model, _ATTRIBUTE_VECTORS.value)
      model.attribute_offset(strengths)  # names checked before anything is decoded
      phrase, phrase_controls = input_window(model, _INPUT.value, 'input_midi', _WINDOW.value)
      if controls is None:
        controls = phrase_controls
      scales = np.linspace(0.0, MAX_ATTRIBUTE_SCALE, _NUM_OUTPUTS.value)
      labels = model.shift_labels(phrase, strengths, scales, temperature, _SEED.value, controls)
      print('Steps: ' + ', '.join(f'{scale:g} x' for scale in scales) + ' ('
            + ' '.join(f'{strength:+g} {name}' for name, strength in strengths.items()) + ').')
    else:
      start, start_controls = input_window(model, _INPUT_1.value, 'input_midi_1',
                                           _WINDOW_1.value)
      end, end_controls = input_window(model, _INPUT_2.value, 'input_midi_2', _WINDOW_2.value)
      # A chord-conditioned model follows --chords, else the first input's chords.
      if controls is None:
        controls = start_controls
      labels = model.interpolate_labels(start, end, _NUM_OUTPUTS.value, temperature, _SEED.value,
                                        controls, start_controls, end_controls)
    sequences = model.to_note_sequences(labels, controls)
    output_dir = checkpoints.ensure_writable_dir(_OUTPUT_DIR.value)
    stamp = time.strftime('%Y-%m-%d_%H%M%S')
    name = common.safe_name(model.config.name or 'model')
    kind = 'attribute' if strengths else 'interpolate'
    base = os.path.join(output_dir, common.unused_base(output_dir, f'{name}_{kind}_{stamp}'))
    total = len(sequences)
    for index, sequence in enumerate(sequences):
      contract.write_midi(sequence, f'{base}-{index + 1:03d}-of-{total:03d}.mid')
    contract.write_midi(contract.concatenate_windows(sequences), f'{base}-morph.mid')
    shown = pianoroll.write_column_png(f'{base}.png', labels, model.converter)
    note = f' of the first {shown} steps' if shown < total else ''
    print(f'Wrote {total} steps, the morph and a piano roll{note} to {output_dir} '
          f'({os.path.basename(base)}*).')


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
