"""Helpers shared by the test modules: small MIDI corpora, run directories, event and checkpoint
readers. (tests/ is on sys.path under pytest, so test modules `import helpers`.)"""
import os

import note_seq
import numpy as np
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import distribute
from music_vae_lite.training import train

TRAIN_SCALARS = ('loss', 'losses/r_loss', 'losses/kl_loss', 'losses/kl_bits', 'losses/kl_beta',
                 'learning_rate', 'global_norm', 'sampling_probability', 'metrics/accuracy')


def first_build_tunes(corpus):
  """The MIDI files of the corpus's first build (ryans/, oneills/), sorted; [] without a corpus.

  Tests that take "the first N tunes" read these, so that the 2/4, Aird's and Northumbrian
  folders added later (whose names sort first) do not change what they train on."""
  return sorted(path for path in corpus.rglob('*.mid') if path.parent.name in ('oneills', 'ryans'))


def write_melody_midis(folder, num_files=8, bars=6, seed=0, numerator=4):
  """Random monophonic melodies (pitches 55..79, 4/4 unless told) as MIDI files."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  bar_seconds = numerator * 0.5  # 120 qpm, quarter-note beats
  for index in range(num_files):
    sequence = note_seq.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(qpm=120)
    sequence.time_signatures.add(numerator=numerator, denominator=4)
    time = 0.0
    while time < bars * bar_seconds - 1e-6:
      duration = 0.125 * int(rng.integers(1, 5))
      sequence.notes.add(pitch=int(rng.integers(55, 80)), start_time=time,
                         end_time=time + duration, velocity=80)
      time += duration
    sequence.total_time = time
    note_seq.sequence_proto_to_midi_file(sequence, os.path.join(folder, f'tune_{index:02d}.mid'))
  return folder


def tiny_config(**train_overrides):
  config = config_lib.load_config('tiny-mel_2bar')
  config.data.eval_fraction = 0.25
  for name, value in train_overrides.items():
    setattr(config.train, name, value)
  return config


def make_untrained_run_dir(run_dir, config_name='tiny-mel_2bar'):
  """A run directory holding a config (a name, or a ConfigDict) and a step-0 checkpoint of an
  untrained model (instant)."""
  config = (config_lib.load_config(config_name) if isinstance(config_name, str)
            else config_name)
  state = train.TrainState(config, distribute.make_strategy('default'),
                           contract.get_converter(config))
  checkpoints.make_manager(state.checkpoint, run_dir, keep=1).save(checkpoint_number=0)
  checkpoints.save_config(run_dir, config)
  return run_dir


def read_events(directory):
  """{tag: [(step, value)]} from the TensorBoard event files in a directory."""
  found = {}
  for name in sorted(os.listdir(directory)):
    if not name.startswith('events.out.tfevents'):
      continue
    for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name)):
      for value in event.summary.value:
        found.setdefault(value.tag, []).append((event.step, tf.make_ndarray(value.tensor)))
  return found


def checkpoint_values(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
          if name not in ('_CHECKPOINTABLE_OBJECT_GRAPH',
                          'save_counter/.ATTRIBUTES/VARIABLE_VALUE')}


def write_trio_midis(folder, num_files=6, bars=18, seed=0):
  """Melody (program 0) + bass (program 33) + drums, 4/4 at 120 qpm, random but in bar-long
  patterns, as MIDI files: enough for a few 16-bar trio windows each."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  step = 0.125
  for index in range(num_files):
    sequence = note_seq.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(qpm=120)
    sequence.time_signatures.add(numerator=4, denominator=4)
    for bar in range(bars):
      start = bar * 16
      for beat in range(4):
        sequence.notes.add(pitch=int(rng.integers(60, 80)), velocity=80, instrument=0, program=0,
                           start_time=(start + 4 * beat) * step,
                           end_time=(start + 4 * beat + 3) * step)
      root = int(rng.integers(36, 48))
      sequence.notes.add(pitch=root, velocity=80, instrument=1, program=33,
                         start_time=start * step, end_time=(start + 8) * step)
      sequence.notes.add(pitch=root + 7, velocity=80, instrument=1, program=33,
                         start_time=(start + 8) * step, end_time=(start + 16) * step)
      for s, pitch in ((0, 36), (4, 38), (8, 36), (12, 38)):
        sequence.notes.add(pitch=pitch, velocity=80, instrument=9, is_drum=True,
                           start_time=(start + s) * step, end_time=(start + s + 1) * step)
    sequence.total_time = bars * 16 * step
    note_seq.sequence_proto_to_midi_file(sequence, os.path.join(folder, f'trio_{index:02d}.mid'))
  return folder


def random_windows(encoding, steps, count=64, num_files=8, seed=0):
  """WindowSet of random windows of a family whose attributes vary from window to window."""
  rng = np.random.default_rng(seed)
  busy = rng.random([count, 1, 1]) * rng.random([count, steps, 1])  # density differs per window
  if encoding == 'drums':
    labels = rng.integers(1, 512, size=[count, steps, 1]) * (busy > 0.3)
  else:
    labels = rng.integers(30, 70, size=[count, steps, 1]) * (busy > 0.3)
  return preprocess.WindowSet({'labels': labels.astype(np.int32)},
                              np.arange(count, dtype=np.int32) % num_files,
                              [f'file_{i}.mid' for i in range(num_files)], encoding,
                              steps // 16, {})


# (step, pitch, velocity, steps late (negative: early)) of 2 bars of drums: kick, snare and closed
# hi-hat with varied velocities, some hits off the grid.
DRUM_PERFORMANCE = ((0, 36, 110, 0.0), (2, 42, 50, 0.2), (4, 38, 100, -0.1), (6, 42, 64, 0.0),
                    (8, 36, 90, 0.1), (10, 42, 40, -0.2), (12, 38, 120, 0.0), (14, 42, 70, 0.1),
                    (16, 36, 100, 0.0), (20, 38, 80, 0.0), (24, 36, 60, 0.0), (28, 38, 127, -0.25))


def drum_performance(hits=DRUM_PERFORMANCE, bars=2, qpm=120.0, *, tempos=(),
                     time_signature=None):
  """A drum NoteSequence of hits (step, pitch, velocity, steps late) at `qpm` (the steps are
  sixteenths at that tempo), `bars` bars long; `tempos`: more (time in seconds, qpm) changes;
  `time_signature`: (numerator, denominator) at the start, which also sets the bar's length
  (none by default: 4/4, as note_seq reads a sequence without one)."""
  step = 60.0 / qpm / 4
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(time=0.0, qpm=qpm)
  for time, tempo in tempos:
    sequence.tempos.add(time=time, qpm=tempo)
  if time_signature is not None:
    sequence.time_signatures.add(time=0.0, numerator=time_signature[0],
                                 denominator=time_signature[1])
  for at, pitch, velocity, late in hits:
    start = (at + late) * step
    sequence.notes.add(start_time=start, end_time=start + step, pitch=pitch, velocity=velocity,
                       instrument=9, is_drum=True)
  numerator, denominator = time_signature or (4, 4)
  sequence.total_time = bars * numerator * (16 // denominator) * step
  return sequence


def write_drum_midis(folder, num_files=6, bars=4, seed=0, pitches=(36, 38, 42, 46, 49),
                     humanize=False):
  """`num_files` random drum MIDI files of `bars` bars in `folder`: each drum struck on half of the
  8th-note steps and a tenth of the others, at velocity 100 on the grid, or (`humanize`) at
  random velocities and up to 0.3 of a step off it. Returns the folder."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  for k in range(num_files):
    hits = []
    for step in range(bars * contract.STEPS_PER_BAR):
      for pitch in pitches:
        if rng.random() < (0.5 if step % 2 == 0 else 0.1):
          velocity, late = ((int(rng.integers(40, 127)), float(rng.uniform(-0.3, 0.3)))
                            if humanize else (100, 0.0))
          hits.append((step, pitch, velocity, late))
    contract.write_midi(drum_performance(hits, bars=bars), os.path.join(folder, f'drums_{k}.mid'))
  return folder
