r"""mvl_groove: plays a drum MIDI file through a GrooVAE model, window by window: humanizes a
quantized pattern, drumifies a tapped rhythm or adds an instrument, as the model was trained to.

  mvl_groove --run_dir=runs/groove --input_midi=beat.mid --output_dir=out [--temperature=0]
      [--seed=1] [--bf16]

The input (4/4 or 2/2, any length, any tempo) is cut into the model's windows (2 or 4 bars; the
last one padded with silence); each window is encoded as the model's family options make its
input (humanize: the hits alone, quantized, flat velocities; tapify: one tap per step;
add_instruments: the kit without the added drums), decoded from its posterior mean, and the
windows are joined back into one MIDI file with the input's tempo, time signature and length.
Hits are drawn at --temperature (0, the default: a hit wherever the model gives it more than even
odds); velocities and timing are the model's.

Writes <input>_groove_<config>_<time>.mid and a picture of every window, the input beside the
output (.png: velocity as shade, timing as a shift off the grid, with a tick from the grid
step), and says how the output plays against the input: the hits kept per drum, the steps
struck (the rhythm, whatever the drums: what Drumify keeps), the drums played, the timing and the
velocities. Nothing existing is overwritten: a name
that is taken gets _2, _3, ... The run must be a GrooVAE model (the groove family); the input
must hold drum notes (MIDI channel 10).
"""
import os
import sys
import time

from absl import app
from absl import flags

from music_vae_lite import config_lib
from music_vae_lite import files
from music_vae_lite.cli import common

# TensorFlow and the model are imported in main(), after the flags, the run's family and the input
# are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_BF16 = common.define_bf16_flag()
_INPUT = flags.DEFINE_string('input_midi', None, 'The drum MIDI file to play through the model '
                             '(4/4 or 2/2, any length).')
_TEMPERATURE = flags.DEFINE_float('temperature', 0.0, 'Hit sampling temperature; 0 = a hit '
                                  'wherever the model gives it more than even odds.',
                                  lower_bound=0.0)
_SEED = flags.DEFINE_integer('seed', None, 'Random seed (the same seed gives the same output).')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '/tmp/music_vae_lite/generated',
                                  'Where to write the MIDI file and the PNG.')


def check_input():
  """(run config, family converter, input NoteSequence, its name in messages), all checked
  before TensorFlow loads: a GrooVAE run, a readable drum file that the model can cut."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import groove as groove_lib  # pylint: disable=g-import-not-at-top
  common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
  if _INPUT.value is None:
    raise ValueError('Give --input_midi, the drum MIDI file to play through the model.')
  files.check_midi_file(_INPUT.value, 'input_midi')
  common.check_output_dir(_OUTPUT_DIR.value)
  run_dir = common.run_dir_of(_RUN_DIR.value, _CHECKPOINT.value)
  config = config_lib.load_run_config(run_dir)
  converter = contract.get_converter(config)
  groove_lib.check_family(converter, f'The run {run_dir!r} ({config.name or "unnamed"})')
  name = f'--input_midi {_INPUT.value}'
  sequence = common.read_midi(_INPUT.value, 'input_midi')
  sequence.total_time = max(sequence.total_time, groove_lib.file_length(_INPUT.value))
  groove_lib.split(converter, sequence, name)  # its errors now, not after loading the model
  return config, converter, sequence, name


def describe(result, groove_lib, job):
  """Lines: how the output plays against the input."""
  kept, dropped, added = groove_lib.compare_hits(result.inputs, result.outputs, result.places)
  steps_kept, steps_dropped, steps_added = groove_lib.compare_steps(
      result.inputs, result.outputs, result.places)
  before = groove_lib.performance_stats(result.inputs, result.places)
  after = groove_lib.performance_stats(result.outputs, result.places)
  tempos = sorted({round(60.0 / place.step_seconds / 4, 2) for place in result.places})
  bars = sum(place.num_steps for place in result.places) / 16

  def kit(counts):
    return ', '.join(f'{name} {count}' for name, count in counts.items()) or 'no hit'

  def timing(stats):
    return (f'{stats["mean_abs_offset"]:.3f} step ({stats["mean_abs_offset_ms"]:.1f} ms) on '
            'average' if stats['hits'] else 'no hit')

  def dynamics(stats):
    return (f'{stats["velocity_mean"]:.0f} +- {stats["velocity_std"]:.1f}' if stats['hits']
            else 'no hit')

  return [
      f'{job}: {bars:g} bar(s) at {", ".join(f"{t:g}" for t in tempos)} qpm in '
      f'{len(result.places)} window(s).',
      f'Hits: {kept} of the input\'s {kept + dropped} kept, {dropped} dropped, {added} added.',
      f'Steps struck: {steps_kept} of the input\'s {steps_kept + steps_dropped} '
      f'({steps_dropped} left silent), {steps_added} more.',
      f'Drums: {kit(groove_lib.drum_counts(result.outputs, result.places))} (input: '
      f'{kit(groove_lib.drum_counts(result.inputs, result.places))}).',
      f'Onsets off the grid: {timing(after)} (input: {timing(before)}).',
      f'Velocities: {dynamics(after)} (input: {dynamics(before)}).']


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_groove'):
    config, converter, sequence, name = check_input()
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite import pianoroll  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import groove as groove_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_groove'):
    temperature = trained_model.check_temperature(_TEMPERATURE.value)
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value, _BF16.value)
    result = model.groove_windows(sequence, temperature, _SEED.value, name)
    output_dir = checkpoints.ensure_writable_dir(_OUTPUT_DIR.value)
    stem = os.path.splitext(os.path.basename(_INPUT.value))[0]
    base = common.unused_base(output_dir, f'{common.safe_name(stem)}_groove_'
                              f'{common.safe_name(config.name or "model")}_'
                              f'{time.strftime("%Y-%m-%d_%H%M%S")}')
    contract.write_midi(result.sequence, os.path.join(output_dir, f'{base}.mid'))
    rows = [[window_in, window_out] for window_in, window_out in zip(
        contract.unbatch(result.inputs), contract.unbatch(result.outputs))]
    shown = rows[:pianoroll.MAX_PICTURE_WINDOWS]
    pianoroll.write_png(os.path.join(output_dir, f'{base}.png'),
                        pianoroll.render(shown, converter))
    print('\n'.join(describe(result, groove_lib, groove_lib.job(converter))))
    note = f' (the picture shows the first {len(shown)} windows)' if len(shown) < len(rows) else ''
    print(f'Wrote {base}.mid and {base}.png (input left, output right){note} to {output_dir}.')


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
