r"""Do attribute vectors do what they say? The paper's effect matrix, on held-out phrases.

  python benchmarks/attributes.py --run_dir=runs/quickstart [--examples=data/midi] \
      [--phrases=256] [--z=mean] [--windows=0] [--fraction=0.25] [--method=difference] \
      [--scale=none] [--strengths=-2,-1,-0.5,0.5,1,2] [--cache=runs/quickstart/bench_z.npz] \
      [--png=benchmarks/figures/attribute_effect.png] [--json=out.json]

The vectors come from the windows of the files the run trained on (its own file split), every
window of each file: for each attribute, the mean z of the windows in the top `--fraction` minus
that of the bottom `--fraction` (0.25: quartiles, exactly what mvl_attributes does; other
fractions split by rank). The variants, to see what helps:
- `--z=sample`: a draw from each posterior instead of its mean; `--windows=N`: a random N of the
  training windows.
- `--method=regression`: conditional vectors: the z change per spread of each attribute with the
  others held fixed (least squares of the centred posterior means on all standardised
  attributes), times the attribute's quartile gap in spreads; it partials out correlated
  attributes (denser phrases have more 16th syncopation).
- `--method=probe`: the other way round: a ridge regression of each attribute on z (a linear
  probe w, value ~ w . z), and the vector gap * w / |w|^2: the shortest move in z that raises the
  probe's prediction by the attribute's quartile gap (top mean minus bottom mean).
- `--scale=unit`: every vector rescaled to the vectors' mean norm (they differ in direction only);
  `--scale=calibrated`: each rescaled so that adding it to 256 training phrases (not the held-out
  ones) moves its own attribute by the attribute's quartile gap on average (`--calibration_steps`
  proportional corrections, the scale within 1/`--max_scale`..`--max_scale`).
Then, on up to `--phrases` windows of the held-out files, each vector is added at `--strengths`
times and the results are decoded greedily (serving/attribute_vectors.measure_effect): the change
of every attribute in corpus spreads, the share of phrases whose own attribute moved the intended
way, and of note-ons kept. `--cache` keeps the training windows' encodings between runs.

Prints one JSON line per vector and strength, then markdown tables (the matrix at +1; the own
attribute and note-ons kept at every strength) and whether each vector meets the bar of issue 23
(own attribute moved the intended way in >= 80% of phrases at +1; own change >= 2 x the mean
absolute change of the others). Writes the matrix as a PNG (`--png`) and everything as JSON.
"""
import json
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)

from benchmarks import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS


def define_flags():
  """The program's flags, defined only when it runs as a program (absl flags are global: a test
  that imports this module beside another program's must not meet them twice)."""
  flags.DEFINE_string('run_dir', None, 'A trained run.', required=True)
  flags.DEFINE_string('examples', os.path.join(REPO, 'data', 'midi'),
                      'The corpus (MIDI folder or window cache).')
  flags.DEFINE_integer('phrases', 256, 'Held-out phrases to measure on, at most.')
  flags.DEFINE_enum('z', 'mean', ['mean', 'sample'], 'Vectors from posterior means or draws.')
  flags.DEFINE_integer('windows', 0, 'Use a random N training windows (0: all).')
  flags.DEFINE_float('fraction', 0.25, 'Top and bottom share of windows contrasted.')
  flags.DEFINE_enum('method', 'difference', ['difference', 'regression', 'probe'],
                    'Top minus bottom mean z, conditional (regression) vectors, or '
                    'linear-probe directions.')
  flags.DEFINE_enum('scale', 'none', ['none', 'unit', 'calibrated'],
                    'Rescale the vectors: not at all, to their mean norm, or to the gap.')
  flags.DEFINE_list('strengths', ['-2', '-1', '-0.5', '0.5', '1', '2'],
                    'Multiples of each vector to measure (1 is needed for the matrix).')
  flags.DEFINE_integer('calibration_steps', 1, 'Corrections of the scale.')
  flags.DEFINE_float('max_scale', 4.0, 'Calibrated scales stay within 1/x..x.')
  flags.DEFINE_string('cache', None, 'An .npz keeping the training windows\' encodings.')
  flags.DEFINE_string('png', None, 'Write the matrix at +1 as a PNG here.')
  flags.DEFINE_string('json', None, 'Write the whole result as JSON here.')
  flags.DEFINE_integer('seed', 0, 'Picks windows, phrases and posterior draws.')


TARGET_MOVED, TARGET_RATIO = 0.8, 2.0
CALIBRATION_PHRASES = 256


def fraction_vector(z, values, fraction):
  """Top-`fraction` minus bottom-`fraction` mean z by rank (ties by order), NaN values left out;
  `fraction` 0.25 is close to vectors_lib.quartile_vector, which splits at the quartile values."""
  defined = np.isfinite(values)
  z, values = z[defined], values[defined]
  order = np.argsort(values, kind='stable')
  count = max(1, int(round(fraction * len(values))))
  return z[order[-count:]].mean(0) - z[order[:count]].mean(0)


def encodings(model, labels, controls, count):
  """(z, mu) of the training windows, from --cache when it holds them for this checkpoint."""
  if FLAGS.cache and os.path.isfile(FLAGS.cache):
    cached = np.load(FLAGS.cache)
    if (int(cached['step']) == model.step and int(cached['seed']) == FLAGS.seed
        and cached['mu'].shape[0] == count):
      return cached['z'], cached['mu']
  z, mu, _ = model.encode_labels(labels, seed=FLAGS.seed, controls=controls)
  if FLAGS.cache:
    np.savez(FLAGS.cache, z=z, mu=mu, step=model.step, seed=FLAGS.seed)
  return z, mu


def regression_vectors(z, values, gaps):
  """Conditional vectors: least squares of centred z on every standardised attribute (NaN: the
  mean), each attribute's coefficients times its gap in spreads."""
  names = list(values)
  columns = []
  for name in names:
    column = np.asarray(values[name], np.float64)
    defined = np.isfinite(column)
    column = np.where(defined, column, column[defined].mean())
    columns.append((column - column.mean()) / column.std())
  design = np.stack(columns, axis=1)
  coefficients, *_ = np.linalg.lstsq(design, z - z.mean(0), rcond=None)  # [K, D]
  return {name: coefficients[k] * gaps[name] for k, name in enumerate(names)}


def probe_vectors(z, values, gaps, spreads, ridge=1e-3):
  """Linear-probe vectors: for each attribute (standardised; NaN windows left out) the ridge
  regression w on centred z, and gap * w / |w|^2 (gap in spreads, so the prediction rises by the
  quartile gap)."""
  vectors = {}
  for name, column in values.items():
    column = np.asarray(column, np.float64)
    defined = np.isfinite(column)
    x = z[defined] - z[defined].mean(0)
    y = (column[defined] - column[defined].mean()) / spreads[name]
    w = np.linalg.solve(x.T @ x + ridge * len(x) * np.eye(x.shape[1]), x.T @ y)
    benchutil.log(f'{name}: probe R^2 {1 - np.mean((y - x @ w) ** 2) / np.mean(y ** 2):.2f}')
    vectors[name] = gaps[name] * w / (w @ w)
  return vectors


def calibrated(model, mu, vectors, spreads, gaps):
  """Each vector rescaled so that adding it to these phrases moves its own attribute by its gap
  (in spreads) on average: `--calibration_steps` proportional corrections from scale 1, each
  scale kept within [1 / --max_scale, --max_scale]."""
  before = model.attribute_values(model.decode_to_labels(mu, 0.0, 0))
  scaled = {}
  for name, vector in vectors.items():
    scale = 1.0
    for _ in range(FLAGS.calibration_steps):
      shifted = model.decode_to_labels(mu + (scale * vector).astype(np.float32), 0.0, 0)
      change = np.nanmean((model.attribute_values(shifted)[name] - before[name]) / spreads[name])
      new_scale = scale * gaps[name] / change if change > 0 else FLAGS.max_scale
      benchutil.log(f'{name}: change {change:+.2f} spreads at scale {scale:.2f}, gap '
                    f'{gaps[name]:.2f}')
      scale = float(np.clip(new_scale, 1 / FLAGS.max_scale, FLAGS.max_scale))
    benchutil.log(f'{name}: scale {scale:.2f}')
    scaled[name] = vector * scale
  return scaled


def markdown(result):
  """Markdown tables of a measure_effect result."""
  names = result['attributes']
  lines = ['| vector (+1) | ' + ' | '.join(names) + ' | moved | kept | ratio |',
           '|---' * (len(names) + 4) + '|']
  for i, name in enumerate(names):
    row = result['vectors'][name]['+1']
    cells = [f'**{v:+.2f}**' if j == i else f'{v:+.2f}' for j, v in enumerate(result['matrix'][i])]
    ratio = result['diagonal_ratio'][name]
    lines.append(f'| {name} | ' + ' | '.join(cells) + f' | {row["moved"]:.0%} | '
                 f'{row["note_ons_kept"]:.0%} | {"-" if ratio is None else f"{ratio:.1f}"} |')
  keys = [f'{s:+g}' for s in result['strengths']]
  lines += ['', '| vector: own change (moved) / kept | ' + ' | '.join(keys) + ' |',
            '|---' * (len(keys) + 1) + '|']
  for name in names:
    cells = []
    for key in keys:
      row = result['vectors'][name][key]
      cells.append(f'{row["change"][name]:+.2f} ({row["moved"]:.0%}) / '
                   f'{row["note_ons_kept"]:.0%}')
    lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def main(argv):
  del argv
  import ml_collections  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import attribute_vectors as vectors_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  started = time.time()
  model = trained_model.TrainedModel(FLAGS.run_dir, batch_size=256)
  every_window = ml_collections.ConfigDict(model.config.to_dict())
  every_window.data.max_windows_per_sequence = 0
  window_set = preprocess.load_examples(FLAGS.examples, contract.get_converter(every_window))
  train_set, held_out = input_pipeline.split_by_source(window_set, model.config.data.eval_fraction)
  rng = np.random.default_rng(FLAGS.seed)
  if FLAGS.windows:
    train_set = train_set.subset(np.isin(np.arange(len(train_set)),
                                         rng.permutation(len(train_set))[:FLAGS.windows]))
  labels, controls = model.converter.targets(train_set.arrays), train_set.controls
  z, mu = encodings(model, labels, controls, len(train_set))
  values = model.attribute_values(labels)
  registry = {attribute.name: attribute for attribute in model.converter.attributes}
  source = mu if FLAGS.z == 'mean' else z
  vectors, spreads, gaps = {}, {}, {}
  for name, attribute_values in values.items():
    defined = attribute_values[np.isfinite(attribute_values)]
    if defined.std() == 0:
      benchutil.log(f'{name}: no spread in the corpus; skipped.')
      continue
    vector, stats = vectors_lib.quartile_vector(source, attribute_values, name)
    if FLAGS.fraction != 0.25:
      vector = fraction_vector(source, attribute_values, FLAGS.fraction)
    vectors[name], spreads[name] = vector, stats['std']
    gaps[name] = (stats['top_mean'] - stats['bottom_mean']) / stats['std']
  if FLAGS.method == 'regression':
    vectors = regression_vectors(source, {n: values[n] for n in vectors}, gaps)
  elif FLAGS.method == 'probe':
    vectors = probe_vectors(source, {n: values[n] for n in vectors}, gaps, spreads)
  if FLAGS.scale == 'unit':
    mean_norm = np.mean([np.linalg.norm(v) for v in vectors.values()])
    vectors = {n: v * mean_norm / np.linalg.norm(v) for n, v in vectors.items()}
  elif FLAGS.scale == 'calibrated':
    calibration = rng.permutation(len(train_set))[:CALIBRATION_PHRASES]
    vectors = calibrated(model, mu[calibration], vectors, spreads, gaps)
  phrases = np.sort(rng.permutation(len(held_out))[:FLAGS.phrases])
  held_out = held_out.subset(np.isin(np.arange(len(held_out)), phrases))
  phrase_controls = held_out.controls
  _, phrase_mu, _ = model.encode_labels(model.converter.targets(held_out.arrays), seed=0,
                                        controls=phrase_controls)
  result = vectors_lib.measure_effect(
      lambda zs: model._decode_rows(zs, phrase_controls),  # pylint: disable=protected-access
      model.attribute_values, phrase_mu, vectors, spreads, model.converter,
      {n: registry[n].bounds for n in vectors},
      tuple(float(x) for x in FLAGS.strengths))
  settings = {'run_dir': FLAGS.run_dir, 'step': model.step, 'config': model.config.name,
              'z': FLAGS.z, 'fraction': FLAGS.fraction, 'method': FLAGS.method,
              'scale': FLAGS.scale, 'calibration_steps': FLAGS.calibration_steps,
              'max_scale': FLAGS.max_scale,
              'vector_windows': int(len(train_set)), 'held_out_windows': int(len(held_out)),
              'phrases': int(len(phrases)),
              'vector_norms': {n: round(float(np.linalg.norm(v)), 3) for n, v in vectors.items()}}
  for name in vectors:
    for key, row in result['vectors'][name].items():
      benchutil.emit('attribute_effect', vector=name, strength=key, own_change=row['change'][name],
                     moved=row['moved'], movable_moved=row['movable_moved'],
                     note_ons_kept=row['note_ons_kept'], **{k: settings[k] for k in (
                         'config', 'step', 'z', 'fraction', 'method', 'scale',
                         'vector_windows', 'phrases')})
  print(markdown(result))
  passed = []
  for name in vectors:
    moved = result['vectors'][name]['+1']['moved']
    ratio = result['diagonal_ratio'][name]
    ok = moved >= TARGET_MOVED and ratio is not None and ratio >= TARGET_RATIO
    passed.append(ok)
    print(f'{name}: moved {moved:.0%} at +1, ratio {"-" if ratio is None else f"{ratio:.1f}"}: '
          + ('meets the bar' if ok else 'misses the bar'))
  print(f'{sum(passed)} of {len(passed)} vectors meet the bar; {time.time() - started:.0f} s, load '
        f'{os.getloadavg()[0]:.1f}.')
  result['split'] = 'held-out'
  if FLAGS.png:
    shown = vectors_lib.AttributeVectors(vectors, {}, {'config_name': model.config.name,
                                                       'step': model.step}, {}, result)
    vectors_lib.write_effect_png(FLAGS.png, shown)
  if FLAGS.json:
    with open(FLAGS.json, 'w') as f:
      json.dump({'settings': settings, 'effect': result}, f, indent=1)


if __name__ == '__main__':
  define_flags()
  app.run(main)
