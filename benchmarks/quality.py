r"""Quality benchmark: trains a config for a fixed number of steps on data/, then measures the model
on the held-out files beside trivial baselines on the same windows (issue #9).

  python benchmarks/quality.py --config=cpu-mel_2bar --steps=600 [--config.train.batch_size=64 ...]
  python benchmarks/quality.py --config=cpu-hier-mel_16bar --minutes=30 \
      --init_from=runs/quickstart --config.train.conductor_teacher=runs/quickstart \
      --compare_config=cpu-flat-mel_16bar

Training stops after --steps or --minutes of wall-clock time, whichever comes first; with
--compare_config a second model is trained for the same budget on the same windows and measured
alike (the paper's flat against hierarchical comparison). Prints one JSON line per figure on
stdout ({"figure": ..., "value": ..., "config": ..., "budget": ...}); logs go to stderr. The run
directory (default /tmp/quality/<config>-<budget>; the compared model's beside it) is resumed if it
already holds the steps, so figures can be recomputed without training again.

The held-out windows are always those of the files `split_by_source` holds out, extracted with at
most --eval_max_windows windows per file whatever the config trains on, so configs that change
the data (e.g. more windows per file) are scored on the same windows. Figures:
- teacher_forced_accuracy, sampled_accuracy (free running, temperature 1), their note-on-only
  versions, r_loss (nats per window), kl_bits, active_units: train.evaluate, one pass, z ~ q(z|x).
- baseline_no_event_accuracy, baseline_bigram_accuracy (and note-on accuracy): on the same windows;
  the bigram's counts come from the training windows (untransposed).
- neg_elbo_nats_per_step (r_loss + KL in nats, over steps) beside baseline_trigram_nats_per_step: a
  Witten-Bell smoothed trigram that also conditions on the position in the bar.
- argmax reconstruction from the posterior mean (temperature 0): exact-match rate, step and note-on
  accuracy.
- sample statistics at --temperature (the programs' default 0.5) beside the held-out windows':
  notes per window, share of melodic intervals over an octave, share of windows spanning more
  than two octaves, share of windows without a note.
- interpolation of --pairs held-out pairs at temperature 0: share of ends within 4 of 32 steps
  (Hamming; 1/8 of the steps for other lengths) of their inputs, and share of pairs whose distance to the start never falls and to the
  end never rises along the path.
"""
import collections
import json
import math
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging
from ml_collections import config_flags
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top,wrong-import-position
from music_vae_lite.families import contract  # pylint: disable=wrong-import-position
from music_vae_lite.families import melody  # pylint: disable=wrong-import-position

NO_EVENT, NOTE_OFF, FIRST_NOTE = (melody.MELODY_NO_EVENT, melody.MELODY_NOTE_OFF,
                                  melody.MELODY_FIRST_NOTE)
STEPS_PER_BAR = contract.STEPS_PER_BAR
HAMMING_TOLERANCE = 1 / 8  # of the steps (4 of 32): an interpolation end "reproduces" its input

def define_flags():
  """The program's flags, defined only when it runs as a program: the tests import this module
  beside modules that define flags of the same names (absl flags are global)."""
  config_flags.DEFINE_config_file('config', None, 'Config name or file; override values '
                                  'with --config.x.y=z.', lock_config=True)
  flags.DEFINE_integer('steps', None, 'Training steps.', lower_bound=0)
  flags.DEFINE_float('minutes', None, 'Training time in wall-clock minutes (stops at '
                     '--steps or --minutes, whichever comes first).', lower_bound=0)
  flags.DEFINE_string(
      'compare_config', None, 'A second config (e.g. cpu-flat-mel_16bar beside '
      'cpu-hierdec-mel_16bar) trained for the same budget on the same windows, then measured alike.')
  flags.DEFINE_string('init_from', None, 'Start --config from these weights '
                      '(mvl_train --init_from).')
  flags.DEFINE_multi_string('init_rename', [], 'mvl_train --init_rename rules for '
                            '--config (default: its train.init_rename).')
  flags.DEFINE_string('examples', os.path.join(REPO, 'data', 'midi'), 'Training data.')
  flags.DEFINE_string('run_dir', None, 'Run directory (default /tmp/quality/NAME-STEPS).')
  flags.DEFINE_integer('eval_max_windows', 5, 'Held-out windows per file.')
  flags.DEFINE_string(
      'eval_examples', None, 'Score on the held-out files of this folder instead of --examples\'s '
      '(files are held out by their name relative to the folder, so a folder holding the same '
      'subfolders as an older corpus is scored on that corpus\'s held-out files).')
  flags.DEFINE_integer('num_samples', 512, 'Samples for the sample statistics.')
  flags.DEFINE_float('temperature', 0.5, 'Sampling temperature for the statistics.')
  flags.DEFINE_integer('pairs', 20, 'Interpolation pairs.')
  flags.DEFINE_integer('interpolation_steps', 9, 'Outputs per pair, ends too.')
  flags.DEFINE_integer('seed', 0, 'Seed for z, samples and the pair choice.')
  flags.mark_flags_as_required(['config'])


FLAGS = flags.FLAGS


# ----------------------------------------------------------------------------------------------
# Baselines and statistics on label windows (numpy only; tested in tests/benchmarks/test_quality_metrics.py).

def no_event_accuracy(labels):
  """Accuracy of always predicting "no event" (label 0)."""
  return float(np.mean(np.asarray(labels) == NO_EVENT))


def note_on_share(labels):
  return float(np.mean(np.asarray(labels) >= FIRST_NOTE))


class Bigram:
  """Predicts the most frequent next label after the previous one (a start symbol at step 0)."""

  def __init__(self, train_labels, depth=90):
    self.start = depth
    counts = np.zeros([depth + 1, depth], np.int64)
    train_labels = np.asarray(train_labels)
    previous = self._previous(train_labels)
    np.add.at(counts, (previous.ravel(), train_labels.ravel()), 1)
    # A previous label never seen in training: predict the overall most frequent label.
    fallback = np.argmax(counts.sum(0))
    self.prediction = np.where(counts.sum(1) > 0, np.argmax(counts, axis=1), fallback)

  def _previous(self, labels):
    return np.concatenate([np.full([len(labels), 1], self.start), labels[:, :-1]], axis=1)

  def predict(self, labels):
    """Teacher-forced predictions [N, T] for windows [N, T]."""
    return self.prediction[self._previous(np.asarray(labels))]


class TrigramWithBarPosition:
  """p(x_t | x_{t-2}, x_{t-1}, t mod 16), Witten-Bell interpolated down to (t mod 16, x_{t-1}),
  then x_{t-1}, then an add-one unigram. Steps before the window's start see a start symbol."""

  def __init__(self, train_labels, depth=90):
    self.depth = depth
    self.unigram = np.bincount(np.asarray(train_labels).ravel(), minlength=depth) + 1.0
    self.unigram /= self.unigram.sum()
    self.counts = [collections.defaultdict(collections.Counter) for _ in range(3)]
    for window in np.asarray(train_labels):
      for context, label in self._contexts(window):
        for order, key in enumerate(context):
          self.counts[order][key][label] += 1

  def _contexts(self, window):
    start = self.depth
    for t, label in enumerate(window):
      p1 = int(window[t - 1]) if t >= 1 else start
      p2 = int(window[t - 2]) if t >= 2 else start
      position = t % STEPS_PER_BAR
      # Lowest order first: (x_{t-1}), (position, x_{t-1}), (position, x_{t-2}, x_{t-1}).
      yield ((p1,), (position, p1), (position, p2, p1)), int(label)

  def probability(self, context, label):
    p = self.unigram[label]
    for order, key in enumerate(context):
      counter = self.counts[order].get(key)
      if not counter:
        continue
      total, types = sum(counter.values()), len(counter)
      p = (counter[label] + types * p) / (total + types)
    return p

  def nats_per_step(self, labels):
    """Mean -log p over every step of the windows [N, T]."""
    total, steps = 0.0, 0
    for window in np.asarray(labels):
      for context, label in self._contexts(window):
        total -= math.log(self.probability(context, label))
        steps += 1
    return total / steps


def window_statistics(labels):
  """Sample statistics of melody windows [N, T]: notes per window, share of intervals between
  consecutive notes larger than an octave, share of windows spanning more than two octaves, share
  of windows with no note."""
  notes, leaps, intervals, wide, empty = [], 0, 0, 0, 0
  for window in np.asarray(labels):
    pitches = window[window >= FIRST_NOTE].astype(np.int64)
    notes.append(len(pitches))
    if not len(pitches):
      empty += 1
      continue
    steps = np.abs(np.diff(pitches))
    leaps += int(np.sum(steps > 12))
    intervals += len(steps)
    wide += int(pitches.max() - pitches.min() > 24)
  count = len(notes)
  return {'notes_per_window': float(np.mean(notes)),
          'leap_over_octave_share': leaps / intervals if intervals else 0.0,
          'range_over_two_octaves_share': wide / count,
          'empty_window_share': empty / count}


def hamming(a, b):
  return int(np.sum(np.asarray(a) != np.asarray(b)))


def interpolation_figures(paths, starts, ends, tolerance):
  """(share of ends within `tolerance` steps of their inputs, share of pairs with both ends reproduced,
  share of pairs whose Hamming distance to the start never falls and to the end never rises).
  paths [P, K, T], starts and ends [P, T]."""
  ends_ok, both_ok, monotonic = 0, 0, 0
  for path, start, end in zip(paths, starts, ends):
    first, last = hamming(path[0], start) <= tolerance, hamming(path[-1], end) <= tolerance
    ends_ok += int(first) + int(last)
    both_ok += int(first and last)
    to_start = np.array([hamming(p, start) for p in path])
    to_end = np.array([hamming(p, end) for p in path])
    monotonic += int(np.all(np.diff(to_start) >= 0) and np.all(np.diff(to_end) <= 0))
  pairs = len(paths)
  return ends_ok / (2 * pairs), both_ok / pairs, monotonic / pairs


# ----------------------------------------------------------------------------------------------

def _emit(figure, value, **extra):
  line = {'figure': figure, 'value': value}
  line.update(extra)
  print(json.dumps(line), flush=True)


def _train(config, run_dir, window_set, steps, minutes, init_from=None, init_rename=()):
  """Trains `config` for `steps` steps or `minutes` of wall-clock time (whichever ends first),
  resuming `run_dir`; returns (TrainResult, {figure: value} of the speed)."""
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  with config.unlocked():
    config.train.num_steps = steps if steps is not None else 10**9
    config.train.max_minutes = minutes or 0.0
  previous = checkpoints.latest_checkpoint(run_dir) if os.path.isdir(run_dir) else None
  start_step = checkpoints.checkpoint_step(previous) if previous else 0
  start, start_cpu = time.time(), time.process_time()
  result = train.train_and_evaluate(config, run_dir, window_set, init_from=init_from,
                                    init_rename=init_rename)
  wall, cpu = time.time() - start, time.process_time() - start_cpu
  speed = {'train_steps': result.step}
  if result.step > start_step:  # examples/s of the steps trained now (not when only resumed)
    examples = (result.step - start_step) * config.train.batch_size
    # On a shared machine wall time says little: the CPU seconds bound an idle machine's time.
    speed.update(train_wall_s=round(wall, 1), train_cpu_s=round(cpu, 1),
                 train_examples_per_s=round(examples / wall, 1),
                 train_examples_per_cpu_s=round(examples / cpu, 1),
                 load1=round(os.getloadavg()[0], 2))
  return result, speed


def _model_figures(model, config, converter, eval_set, step, emit):
  """Every figure of one trained model on the held-out windows (see the module docstring)."""
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  eval_labels = eval_set.labels[..., 0]
  metrics = train.evaluate(model.model, config, eval_set, step=step, batch_size=256,
                           converter=converter, seed=FLAGS.seed)
  for name in ('metrics/teacher_forced_accuracy', 'metrics/sampled_accuracy',
               'metrics/teacher_forced_note_on_accuracy', 'metrics/sampled_note_on_accuracy',
               'losses/r_loss', 'losses/r_loss_per_step', 'losses/kl_bits',
               'latent/active_units'):
    emit(name.split('/')[-1], round(float(metrics[name]), 4))
  window_steps = eval_labels.shape[1]
  emit('neg_elbo_nats_per_step',
       round((metrics['losses/r_loss'] + metrics['losses/kl_nats']) / window_steps, 4))

  _, mu, _ = model.encode_labels(eval_set.labels, seed=FLAGS.seed)
  reconstructed = model.decode_to_labels(mu, temperature=0.0, seed=FLAGS.seed)[..., 0]
  emit('argmax_reconstruction_exact_match',
       round(float(np.mean(np.all(reconstructed == eval_labels, axis=1))), 4))
  emit('argmax_reconstruction_accuracy', round(float(np.mean(reconstructed == eval_labels)), 4))
  if converter.encoding == 'melody':
    on = eval_labels >= FIRST_NOTE
    emit('argmax_reconstruction_note_on_accuracy',
         round(float(np.mean(reconstructed[on] == eval_labels[on])), 4))

    samples = model.sample_labels(FLAGS.num_samples, temperature=FLAGS.temperature,
                                  seed=FLAGS.seed)[..., 0]
    data_stats, sample_stats = window_statistics(eval_labels), window_statistics(samples)
    for name, data_value in data_stats.items():
      value = sample_stats[name]
      emit(f'sample_{name}', round(value, 4), data=round(data_value, 4),
           ratio=round(value / data_value, 3) if data_value else None,
           temperature=FLAGS.temperature)

  rng = np.random.default_rng(FLAGS.seed)
  pairs = rng.choice(len(eval_labels), size=[FLAGS.pairs, 2], replace=False)
  paths = [model.interpolate_labels(eval_set.labels[a], eval_set.labels[b],
                                    FLAGS.interpolation_steps, temperature=0.0,
                                    seed=FLAGS.seed)[..., 0] for a, b in pairs]
  tolerance = int(window_steps * HAMMING_TOLERANCE)
  ends, both, monotonic = interpolation_figures(paths, eval_labels[pairs[:, 0]],
                                                eval_labels[pairs[:, 1]], tolerance)
  emit('interpolation_ends_reproduced_share', round(ends, 4), tolerance=tolerance)
  emit('interpolation_pairs_both_ends_reproduced_share', round(both, 4), pairs=FLAGS.pairs)
  emit('interpolation_monotonic_share', round(monotonic, 4), pairs=FLAGS.pairs)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  if FLAGS.steps is None and FLAGS.minutes is None:
    raise app.UsageError('Give --steps, --minutes or both (training stops at whichever comes first).')
  import ml_collections  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top

  config = FLAGS.config
  steps, minutes = FLAGS.steps, FLAGS.minutes
  budget = (f'{steps}' if minutes is None else f'{minutes:g}min' if steps is None
            else f'{steps}-{minutes:g}min')
  run_dir = FLAGS.run_dir or os.path.join('/tmp/quality', f'{config.name}-{budget}')
  context = {'config': config.name, 'budget': budget}
  emit = lambda figure, value, **extra: _emit(figure, value, **context, **extra)

  converter = contract.get_converter(config)
  window_set = preprocess.load_examples(FLAGS.examples, converter)
  reference = ml_collections.ConfigDict(config.to_dict())
  reference.data.max_windows_per_sequence = FLAGS.eval_max_windows
  eval_examples = FLAGS.eval_examples or FLAGS.examples
  if (reference.data.max_windows_per_sequence == config.data.max_windows_per_sequence
      and eval_examples == FLAGS.examples):
    reference_set = window_set
  else:
    reference_set = preprocess.load_examples(eval_examples, contract.get_converter(reference))
  train_set, _ = input_pipeline.split_by_source(window_set, config.data.eval_fraction)
  _, eval_set = input_pipeline.split_by_source(reference_set, config.data.eval_fraction)
  # The baselines and statistics read one melody part: [N, T] (the model takes [N, T, 1]).
  eval_labels, train_labels = eval_set.labels[..., 0], train_set.labels[..., 0]
  emit('train_windows', len(train_set))
  emit('eval_windows', len(eval_set), files=eval_set.report['split']['eval_files'])
  if converter.encoding == 'melody':
    emit('baseline_no_event_accuracy', round(no_event_accuracy(eval_labels), 4))
    bigram = Bigram(train_labels, converter.output_depth).predict(eval_labels)
    correct = bigram == eval_labels
    emit('baseline_bigram_accuracy', round(float(np.mean(correct)), 4))
    emit('baseline_bigram_note_on_accuracy',
         round(float(np.mean(correct[eval_labels >= FIRST_NOTE])), 4))
    trigram = TrigramWithBarPosition(train_labels, converter.output_depth)
    emit('baseline_trigram_nats_per_step', round(trigram.nats_per_step(eval_labels), 4))

  # The model, then (with --compare_config) the other one, for the same budget on the same data.
  runs = [(config, run_dir, FLAGS.init_from, FLAGS.init_rename)]
  if FLAGS.compare_config:
    from music_vae_lite import config_lib as lib  # pylint: disable=g-import-not-at-top
    other = lib.load_config(FLAGS.compare_config)
    if other.data.to_dict() != config.data.to_dict():
      raise app.UsageError(f'--compare_config={FLAGS.compare_config} reads other data than '
                           f'{config.name} (config.data differs); compare models of one dataset.')
    # Started from the same weights: each config maps them by its own train.init_rename.
    runs.append((other, f'{run_dir}-vs-{other.name}', FLAGS.init_from, ()))
  for model_config, model_dir, init_from, init_rename in runs:
    model_emit = lambda figure, value, name=model_config.name, **extra: _emit(
        figure, value, config=name, budget=budget, **extra)
    result, speed = _train(model_config, model_dir, window_set, steps, minutes, init_from,
                           init_rename)
    for figure, value in speed.items():
      model_emit(figure, value)
    model = trained_model.TrainedModel(model_dir, batch_size=256)
    _model_figures(model, model_config, converter, eval_set, result.step, model_emit)
    logging.info('Done: %s', model_dir)


if __name__ == '__main__':
  define_flags()
  app.run(main, argv=config_lib.resolve_config_argv(sys.argv))
