r"""Does a GrooVAE humanize, and drumify? Trains a groove config on swung, accented drum
performances built in code, then plays held-out performances through it (`TrainedModel.groove`,
what mvl_groove runs): quantized versions of them for a humanize config, tapped versions of them
(one note per struck step) for a tapify config (issue 20).

  python benchmarks/groove_humanize.py [--config=tiny-groove_2bar] [--steps=1500] [--minutes=0] \
      [--train_files=160] [--test_files=24] [--work_dir=/tmp/groove_humanize] \
      [--config.model.z_size=32 ...]

The corpus (`performance`): 8-bar drum performances at 90-130 qpm, each with its own swing
(8th-note off-beats late by 0.15-0.35 of a step, 16th-note off-beats by a third of that), a
laid-back snare and a pushed kick, hits jittered by 0.04 of a step (s.d.), and accents (hi-hat
loud on the beat, soft off it; snare backbeats loud, ghost notes soft) with velocity noise of 6
(s.d.). Patterns are drawn per bar from a few kick, snare and hi-hat figures. The test files come
from another seed: no test performance was trained on. The model's input is each test
performance quantized (onsets on the grid, velocity 100); the figures compare, per hit of the
performance:
- timing: the mean |onset - grid step| (steps) of the performance, of the output and of the input
  (0), and the mean |output onset - performed onset| over hits both have (the input's is the
  performance's own mean offset); beside them a stronger baseline, each hit moved by the mean
  offset of its drum and step of the bar in the training data;
- dynamics: velocity s.d. of the performance, output and input (0), and the mean |velocity error|
  against the performance (the same per-position baseline);
- hits: kept, dropped and added (per input hit).
With a tapify config (`--config.family.tapify=True`, the job mvl_groove calls Drumify) the input
is each test performance tapped: at every step where it strikes, one open hi-hat note at the
onset and velocity of the step's loudest hit (what a user tapping the rhythm on one pad gives),
and the figures say whether the taps became the performance's kit:
- drum classes per window (2 bars, those where the performance strikes) of the input (1), the
  output and the performance;
- the rhythm: the share of the output's struck steps that were tapped, and of tapped steps that
  the output strikes;
- the kit: F1 of the output's hits (step and drum) against the performance's, beside two
  baselines: the taps as they are (one open hi-hat per tap), and the per-position kit (at every
  tapped step, each drum struck at that step of the bar in more than half of the training bars
  that strike there: what a model that read only positions could do).
Prints one JSON line per figure ({"figure", "value", ...}); logs go to stderr. The run directory
(<work_dir>/run) is resumed if it already holds the steps.
"""
import collections
import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from ml_collections import config_flags
import note_seq
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from music_vae_lite.families import contract  # pylint: disable=wrong-import-position


def define_flags():
  """The program's flags, defined only when it runs as a program: the tests import this module
  beside other benchmarks that define flags of the same names (absl flags are global)."""
  config_flags.DEFINE_config_file('config', os.path.join(REPO, 'configs', 'tiny-groove_2bar.py'),
                                  'A groove config (name or file).', lock_config=False)
  flags.DEFINE_integer('steps', 1500, 'Training steps.')
  flags.DEFINE_float('minutes', 0.0, 'Also stop training after this many minutes (0: no limit).')
  flags.DEFINE_integer('batch_size', 64, 'Training batch size.')
  flags.DEFINE_integer('train_files', 160, 'Performances to train on (8 bars each).')
  flags.DEFINE_integer('test_files', 24, 'Held-out performances to humanize or drumify.')
  flags.DEFINE_string('work_dir', '/tmp/groove_humanize', 'Corpus and run directory.')
  flags.DEFINE_float('temperature', 0.0, 'Hit temperature of the groove call.')


BARS = 8
KICK, SNARE, CLOSED_HAT, OPEN_HAT = 36, 38, 42, 46
KICK_FIGURES = ((0, 8), (0, 6, 8), (0, 8, 10), (0, 3, 8, 11), (0, 10))
SNARE_FIGURES = ((4, 12), (4, 12, 15), (4, 7, 12), (4, 12, 14))
GHOSTS = {15, 7, 14}  # soft snare notes of the figures above


def performance(rng, bars=BARS):
  """One swung, accented drum performance: (NoteSequence, qpm)."""
  qpm = float(rng.uniform(90, 130))
  step = 60.0 / qpm / 4
  swing = float(rng.uniform(0.15, 0.35))
  sixteenths = rng.random() < 0.4
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(qpm=qpm)
  sequence.time_signatures.add(numerator=4, denominator=4)
  for bar in range(bars):
    kicks = KICK_FIGURES[rng.integers(len(KICK_FIGURES))]
    snares = SNARE_FIGURES[rng.integers(len(SNARE_FIGURES))]
    hats = range(0, 16, 1 if sixteenths else 2)
    hits = ([(s, KICK, 105, -0.05) for s in kicks]
            + [(s, SNARE, 35 if s in GHOSTS else 110, 0.08) for s in snares]
            + [(s, CLOSED_HAT, 100 if s % 4 == 0 else (65 if s % 2 == 0 else 45), 0.0)
               for s in hats])
    for s, pitch, velocity, bias in hits:
      late = bias + (swing if s % 4 == 2 else swing / 3 if s % 2 == 1 else 0.0)
      late += rng.normal(0.0, 0.04)
      start = (bar * 16 + s + float(np.clip(late, -0.45, 0.45))) * step
      sequence.notes.add(start_time=max(start, 0.0), end_time=max(start, 0.0) + step,
                         pitch=pitch, instrument=9, is_drum=True,
                         velocity=int(np.clip(round(velocity + rng.normal(0.0, 6.0)), 1, 127)))
  sequence.total_time = bars * 16 * step
  return sequence, qpm


def quantized(sequence, qpm):
  """The performance with every onset on its grid step and velocity 100 (the model's input)."""
  step = 60.0 / qpm / 4
  flat = note_seq.NoteSequence()
  flat.CopyFrom(sequence)
  for note in flat.notes:
    note.start_time = round(note.start_time / step) * step
    note.end_time = note.start_time + step
    note.velocity = 100
  return flat


def tapped(sequence):
  """The performance as a user tapping it on one pad: at every step where it strikes, one open
  hi-hat note (46) at the onset and velocity of the step's loudest hit (the model's input for a
  tapify config)."""
  qpm = sequence.tempos[0].qpm
  step = 60.0 / qpm / 4
  loudest = {}
  for note in sequence.notes:
    key = round(note.start_time / step)
    if key not in loudest or note.velocity > loudest[key].velocity:
      loudest[key] = note
  taps = note_seq.NoteSequence()
  taps.CopyFrom(sequence)
  del taps.notes[:]
  for note in sorted(loudest.values(), key=lambda n: n.start_time):
    taps.notes.add(start_time=note.start_time, end_time=note.end_time, pitch=OPEN_HAT,
                   velocity=note.velocity, instrument=9, is_drum=True)
  return taps


def write_corpus(folder, count, seed):
  """`count` performances as MIDI files in `folder` (kept if already there); their sequences."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  sequences = []
  for index in range(count):
    sequence, qpm = performance(rng)
    path = os.path.join(folder, f'performance_{index:03d}.mid')
    if not os.path.exists(path):
      contract.write_midi(sequence, path)
    sequences.append((sequence, qpm))
  return sequences


def position_means(converter, sequences):
  """Mean offset and velocity per (step of the bar, drum) of the training performances' hits:
  arrays [16, 9] (NaN where no hit), the per-position baseline."""
  from music_vae_lite.serving import groove as groove_lib  # pylint: disable=g-import-not-at-top
  sums = collections.defaultdict(lambda: np.zeros(3))
  for sequence, _ in sequences:
    arrays = groove_lib.split(converter, sequence).arrays
    hits = arrays['hits'] > 0.5
    for window, step, drum in zip(*np.nonzero(hits)):
      sums[step % 16, drum] += [1.0, arrays['offsets'][window, step, drum],
                                arrays['velocities'][window, step, drum]]
  offsets, velocities = np.full([16, 9], np.nan), np.full([16, 9], np.nan)
  for (position, drum), (count, offset, velocity) in sums.items():
    offsets[position, drum], velocities[position, drum] = offset / count, velocity / count
  return offsets, velocities


def position_kit(converter, sequences):
  """The per-position kit baseline: bool [16, 9], the drums struck at a step of the bar in more
  than half of the training bars that strike anything there."""
  from music_vae_lite.serving import groove as groove_lib  # pylint: disable=g-import-not-at-top
  struck, drums = np.zeros(16), np.zeros([16, 9])
  for sequence, _ in sequences:
    hits = groove_lib.split(converter, sequence).arrays['hits'] > 0.5
    bars = hits.reshape(-1, 16, hits.shape[-1])
    struck += bars.any(axis=-1).sum(axis=0)
    drums += bars.sum(axis=0)
  return drums > 0.5 * np.maximum(struck, 1)[:, np.newaxis]


def f1(predicted, truth):
  true_positives = np.sum(predicted & truth)
  return 2.0 * true_positives / max(np.sum(predicted) + np.sum(truth), 1)


def emit(figure, value, **extra):
  record = {'figure': figure, 'value': round(float(value), 4), **extra,
            'load1': round(os.getloadavg()[0], 2)}
  print(json.dumps(record), flush=True)


def main(argv):
  del argv
  FLAGS = flags.FLAGS  # pylint: disable=invalid-name
  from music_vae_lite.serving import groove as groove_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  config = FLAGS.config
  config.train.num_steps = FLAGS.steps
  config.train.max_minutes = FLAGS.minutes
  config.train.batch_size = FLAGS.batch_size
  config.train.checkpoint_every = config.train.eval_every = max(1, min(500, FLAGS.steps))
  config.train.eval_batches = 4
  config.data.max_windows_per_sequence = 0
  config = config_lib.validate(config, 'the config')
  work = FLAGS.work_dir
  train_set = write_corpus(os.path.join(work, 'train'), FLAGS.train_files, seed=1)
  test_set = write_corpus(os.path.join(work, 'test'), FLAGS.test_files, seed=2)
  run_dir = os.path.join(work, 'run')
  started = time.time()
  train.train_and_evaluate(config, run_dir, os.path.join(work, 'train'))
  print(f'Trained to {run_dir} in {time.time() - started:.0f} s.', file=sys.stderr)
  model = trained_model.TrainedModel(run_dir, batch_size=256)
  converter = model._input_converter  # pylint: disable=protected-access  (every window kept)
  mean_offsets, mean_velocities = position_means(converter, train_set)
  drumify = bool(config.family.get('tapify', False))
  kit = position_kit(converter, train_set) if drumify else None
  totals = collections.defaultdict(list)
  for index, (sequence, qpm) in enumerate(test_set):
    truth = groove_lib.split(converter, sequence)
    model_input = tapped(sequence) if drumify else quantized(sequence, qpm)
    result = model.groove_windows(model_input, FLAGS.temperature, seed=index)
    # A hit played late on the last step makes the performance a step longer than its quantized
    # version: the windows both have are compared.
    count = min(truth.num_windows, len(result.places))
    inside = groove_lib._inside  # pylint: disable=protected-access
    performed = inside(truth.arrays['hits'][:count], truth.places[:count])
    played = inside(result.outputs['hits'][:count], result.places[:count])
    both = performed & played
    positions = np.nonzero(both)[1] % 16, np.nonzero(both)[2]
    true_offsets = truth.arrays['offsets'][:count] / 2.0  # steps early
    out_offsets = result.outputs['offsets'][:count] / 2.0
    true_velocity = truth.arrays['velocities'][:count] * 127
    out_velocity = np.clip(np.round(result.outputs['velocities'][:count] * 127), 1, 127)
    if drumify:
      given = inside(result.inputs['hits'][:count], result.places[:count])  # the taps' windows
      taps = performed.any(axis=-1)  # [W, T]: the steps tapped
      struck = played.any(axis=-1)
      position = np.arange(taps.shape[1]) % 16
      # Per window the performance strikes in (not the one-step tail a late last hit adds).
      striking = performed.any(axis=(1, 2))
      for who, hits in (('input', given), ('output', played), ('data', performed)):
        totals[f'{who}_classes'].extend(hits.any(axis=1).sum(axis=-1)[striking])
      totals['struck_tapped'].append((struck & taps).sum())
      totals['struck'].append(struck.sum())
      totals['taps'].append(taps.sum())
      totals['output_kit'].append((played, performed))
      totals['input_kit'].append((given, performed))
      totals['position_kit'].append((taps[..., np.newaxis] & kit[position], performed))
    totals['performed'].append(performed.sum())
    totals['kept'].append(both.sum())
    totals['added'].append((played & ~performed).sum())
    totals['data_offset'].extend(np.abs(true_offsets[performed]))
    totals['output_offset'].extend(np.abs(out_offsets[played]))
    totals['output_timing_error'].extend(np.abs(out_offsets[both] - true_offsets[both]))
    totals['input_timing_error'].extend(np.abs(true_offsets[both]))
    totals['position_timing_error'].extend(
        np.abs(mean_offsets[positions] / 2.0 - true_offsets[both]))
    totals['data_velocity'].extend(true_velocity[performed])
    totals['output_velocity'].extend(out_velocity[played])
    totals['output_velocity_error'].extend(np.abs(out_velocity[both] - true_velocity[both]))
    totals['input_velocity_error'].extend(np.abs(100 - true_velocity[both]))
    totals['position_velocity_error'].extend(
        np.abs(mean_velocities[positions] * 127 - true_velocity[both]))
  budget = {'config': config.name, 'steps': model.step, 'test_files': len(test_set),
            'job': 'drumify' if drumify else 'humanize'}
  if drumify:
    for who in ('input', 'output', 'data'):
      emit(f'{who}_drum_classes_per_window', np.mean(totals[f'{who}_classes']), **budget)
    emit('output_struck_steps_tapped_share', sum(totals['struck_tapped']) / max(
        sum(totals['struck']), 1), **budget)
    emit('tapped_steps_struck_share', sum(totals['struck_tapped']) / sum(totals['taps']),
         **budget)
    for who in ('output', 'input', 'position'):
      pairs = totals[f'{who}_kit']
      emit(f'{who}_kit_f1', f1(np.concatenate([p.ravel() for p, _ in pairs]),
                               np.concatenate([t.ravel() for _, t in pairs])), **budget)
  performed = sum(totals['performed'])
  emit('hits_kept_share', sum(totals['kept']) / performed, **budget)
  emit('hits_added_per_input_hit', sum(totals['added']) / performed, **budget)
  for what in ('data', 'output'):
    emit(f'{what}_mean_abs_offset_steps', np.mean(totals[f'{what}_offset']), **budget)
    emit(f'{what}_velocity_sd', np.std(totals[f'{what}_velocity']), **budget)
  # The quantized input's timing and dynamics (the humanize baseline; taps keep the loudest
  # hit's, so for drumify they are not a baseline of the kit).
  baselines = ('output', 'position') if drumify else ('output', 'input', 'position')
  if not drumify:
    emit('input_mean_abs_offset_steps', 0.0, **budget)
    emit('input_velocity_sd', 0.0, **budget)
  for who in baselines:
    emit(f'{who}_timing_error_steps', np.nanmean(totals[f'{who}_timing_error']), **budget)
    emit(f'{who}_velocity_error', np.nanmean(totals[f'{who}_velocity_error']), **budget)


if __name__ == '__main__':
  define_flags()
  app.run(main)
