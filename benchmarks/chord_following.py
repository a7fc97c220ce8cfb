r"""Does a chord-conditioned model follow its chords? Chord-tone share of sampled melodies.

  python benchmarks/chord_following.py --run_dir=runs/chords --examples=CACHE_OR_MIDI [--num=256]

For the held-out windows of the examples (the run's own file split), samples one melody per window
from the prior, conditioned on that window's chords, and measures the share of sampled note-ons
whose pitch class belongs to the chord sounding at that step. Beside it, on the same samples:
the share against the chords of another window (a random pairing: what fits by chance, given the
key and the melody's own habits), and the held-out melodies' own share against their chords (what
the data does). One JSON line per figure. A model that follows its chords scores near the data
and well above the random pairing.
"""
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import note_seq
from note_seq import chord_symbols_lib
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

FLAGS = flags.FLAGS


def define_flags():
  """The program's flags, defined only when it runs as a program (absl flags are global: a test
  that imports this module beside another program's must not meet them twice)."""
  flags.DEFINE_string('run_dir', None, 'A run of a *_chords config.', required=True)
  flags.DEFINE_string('examples', None, 'MIDI folder or window cache.', required=True)
  flags.DEFINE_integer('num', 256, 'Held-out windows (samples) to use, at most.')
  flags.DEFINE_float('temperature', 0.5, 'Sampling temperature.')
  flags.DEFINE_integer('seed', 0, 'Seed.')


def chord_tone_share(labels, controls):
  """Share of note-ons (melody labels >= 2) whose pitch class is in the step's chord; steps
  without a chord are left out. labels [N, T], controls [N, T]."""
  from music_vae_lite.families import chords  # pylint: disable=g-import-not-at-top
  pitch_classes = {}
  hits = total = 0
  for window, window_controls in zip(labels, controls):
    for label, control in zip(window, window_controls):
      if label < 2 or control == 0:
        continue
      if control not in pitch_classes:
        symbol = chords.chord_symbol(int(control))
        pitch_classes[control] = {p % 12 for p in chord_symbols_lib.chord_symbol_pitches(symbol)}
      total += 1
      hits += (int(label) + 19) % 12 in pitch_classes[control]
  return hits / total if total else float('nan')


def main(argv):
  del argv
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  model = trained_model.TrainedModel(FLAGS.run_dir, batch_size=256)
  if not model.converter.control_depth:
    raise app.UsageError(f'{FLAGS.run_dir} is not a chord-conditioned model.')
  window_set = preprocess.load_examples(FLAGS.examples, model.converter)
  _, held_out = input_pipeline.split_by_source(window_set, model.config.data.eval_fraction)
  rng = np.random.default_rng(FLAGS.seed)
  chosen = rng.permutation(len(held_out))[:FLAGS.num]
  labels, controls = held_out.labels[chosen, :, 0], held_out.controls[chosen]
  samples = np.stack([
      model.sample_labels(1, FLAGS.temperature, seed=FLAGS.seed * 100003 + i,
                          controls=controls[i])[0, :, 0]
      for i in range(len(chosen))])
  others = controls[rng.permutation(len(chosen))]
  figures = {
      'sampled_chord_tone_share': chord_tone_share(samples, controls),
      'sampled_vs_other_windows_chords': chord_tone_share(samples, others),
      'data_chord_tone_share': chord_tone_share(labels, controls),
      'data_vs_other_windows_chords': chord_tone_share(labels, others),
  }
  for name, value in figures.items():
    print(json.dumps({'figure': name, 'value': round(value, 4), 'windows': len(chosen),
                      'temperature': FLAGS.temperature, 'step': model.step}))


if __name__ == '__main__':
  define_flags()
  app.run(main)
