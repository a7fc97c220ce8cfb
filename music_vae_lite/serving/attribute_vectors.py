"""Attribute vectors: directions in z that raise one musical attribute (the paper's section 5).

For each attribute of the model's family (contract.Converter.attributes: melody.py, drums.py) the
corpus windows are encoded to their posterior
means; the vector is the mean z of the windows in the attribute's top quartile minus the mean z of
those in its bottom quartile. Adding `strength` times the vector to a phrase's z and decoding
moves the attribute up (strength > 0) or down.

Quartiles: the windows at or above the 75th percentile against those at or below the 25th. A
discrete attribute can tie across the middle half (most fiddle-tune windows have no 8th-note
syncopation: both percentiles are 0); then the tied value stays on one side only: the top is the
windows above it (if there are enough), else the bottom is the windows below it. For a mostly-zero
attribute that is "windows with the attribute" against "windows without", as the paper phrases
it. Each side needs `MIN_SIDE_WINDOWS` windows.

The effect of the vectors (`measure_effect`) is what the paper's figure shows: each vector is
added at several strengths to held-out phrases, each result decoded greedily (argmax, so the
change comes from z alone), and every attribute of the result is compared with the phrase decoded
from its unshifted z (not with the input, so reconstruction errors do not count as effects). A
change is given in units of the attribute's spread (its standard deviation over the corpus the
vectors came from). Also reported: the share of phrases whose own attribute moved the intended
way, and the share of the unshifted decode's note-ons (step and pitch, or step and drum) that the
shifted one keeps. (The paper reports percent changes; spreads keep attributes of different units
and near-zero means comparable.)

The saved file (`FILE_NAME` in the run directory, JSON) holds the vectors and how they were made;
`AttributeVectors.check_model` refuses a file made for another model: another z size or config,
or other weights (the posterior mean of a fixed probe window differs).
"""
import dataclasses
import json
import math
import os

import numpy as np

from music_vae_lite import config_lib
from music_vae_lite import files
from music_vae_lite.families import contract

FILE_NAME = 'attribute_vectors.json'
FORMAT = 1
MIN_WINDOWS = 20  # windows with a defined value, for an attribute's quartiles
MIN_SIDE_WINDOWS = 5  # windows in each of the top and bottom quartiles
STRENGTHS = (-2.0, -1.0, 1.0, 2.0)  # measure_effect's default strengths (0 is the reference)
# What must agree between the model that made the vectors and the one that uses them.
_CONFIG_SECTIONS = ('model', 'data.encoding', 'data.slice_bars', 'data.min_pitch',
                    'data.max_pitch')
_PROBE_TOLERANCE = 0.05  # relative distance of the probe's mu, allowing for bfloat16 matmuls


class AttributeVectorsError(ValueError):
  """A vectors file that cannot be used with this model, or an unknown attribute (one line)."""


def quartile_vector(mu, values, name):
  """(vector float64 [D], statistics dict) of one attribute: top minus bottom quartile mean z.

  Args:
    mu: posterior means [N, D] of the corpus windows.
    values: the attribute of each window, [N] (NaN where undefined: left out).
    name: the attribute's name, for errors.
  Raises AttributeVectorsError when there are too few windows for quartiles.
  """
  defined = np.isfinite(values)
  mu, values = np.asarray(mu, np.float64)[defined], np.asarray(values, np.float64)[defined]
  if len(values) < MIN_WINDOWS:
    raise AttributeVectorsError(
        f'{name}: {len(values)} window(s) with a value, too few for quartiles (need '
        f'{MIN_WINDOWS}); give a larger corpus.')
  lower, upper = np.quantile(values, [0.25, 0.75])
  bottom, top = values <= lower, values >= upper
  if lower == upper:  # a tie across the middle half: the tied value joins one side only
    if (values > upper).sum() >= MIN_SIDE_WINDOWS:
      top = values > upper
    else:
      bottom = values < lower
  if bottom.sum() < MIN_SIDE_WINDOWS or top.sum() < MIN_SIDE_WINDOWS:
    raise AttributeVectorsError(
        f'{name}: the corpus barely varies in it: {int(bottom.sum())} window(s) in the bottom '
        f'quartile and {int(top.sum())} in the top (quartiles {lower:.4g} and {upper:.4g}); need '
        f'{MIN_SIDE_WINDOWS} each.')
  vector = mu[top].mean(0) - mu[bottom].mean(0)
  stats = {
      'num_windows': int(len(values)), 'mean': float(values.mean()),
      'std': float(values.std()), 'lower_quartile': float(lower), 'upper_quartile': float(upper),
      'bottom_windows': int(bottom.sum()), 'top_windows': int(top.sum()),
      'bottom_mean': float(values[bottom].mean()), 'top_mean': float(values[top].mean()),
      'vector_norm': float(np.linalg.norm(vector)),
  }
  return vector, stats


def onsets_kept(reference, shifted, converter):
  """Share of the note-ons of each reference window that the shifted window has too (same part,
  row and step of the family's picture: a melody's pitch, a drum's class), float64 [N] (NaN:
  none to keep). Windows as the family's targets [N, ...]."""
  kept = []
  for before, after in zip(contract.unbatch(reference), contract.unbatch(shifted)):
    old = _onsets(converter, before)
    kept.append(len(old & _onsets(converter, after)) / len(old) if old else np.nan)
  return np.asarray(kept, np.float64)


def _onsets(converter, window):
  """{(part, row, start step)} of one window's notes (converter.picture_parts)."""
  return {(k, row, start) for k, (_, notes) in enumerate(converter.picture_parts(window))
          for row, start, *_ in notes}


def _moved(before, after, sign):
  """[N] bool: the attribute moved strictly the way of `sign` (NaN on either side: not moved)."""
  with np.errstate(invalid='ignore'):
    return np.isfinite(before) & np.isfinite(after) & (np.sign(after - before) == sign)


def measure_effect(decode, attribute_values, mu, vectors, spreads, converter, bounds,
                   strengths=STRENGTHS):
  """The effect of every vector on every attribute (see the module docstring).

  Args:
    decode: z [N, D] -> windows as the family's targets, e.g. labels [N, T, P] (greedy
      decoding).
    attribute_values: such windows -> {name: float64 [N]}.
    mu: posterior means of the phrases, [N, D].
    vectors: {name: vector [D]}, in the order of the rows of the matrix.
    spreads: {name: the attribute's standard deviation over the corpus}.
    converter: the family (its pictures give the note-ons kept).
    bounds: {name: (lowest, highest) value the attribute can take, None where open}.
    strengths: the multiples of each vector to try (0, the reference, is always decoded).
  Returns a JSON-ready dict: `strengths`, `num_phrases`, `attributes` (the columns); per vector
  and strength (keys like '+1'): `change` {attribute: mean change in spreads}, `moved` (share of
  phrases whose own attribute moved the intended way), `movable_moved` (the same among phrases not
  already at the attribute's bound in that direction), `note_ons_kept`; and `matrix`, the mean
  change at strength +1 (rows: vectors, columns: attributes), with `diagonal_ratio` per vector:
  its own entry over the mean absolute other entry of its row.
  """
  names = list(vectors)
  mu = np.asarray(mu, np.float32)
  reference = decode(mu)
  before = attribute_values(reference)
  result = {'strengths': [float(s) for s in strengths], 'num_phrases': int(len(mu)),
            'attributes': names, 'vectors': {}}
  for name in names:
    rows = {}
    low, high = bounds.get(name, (None, None))
    for strength in strengths:
      shifted = decode((mu + strength * np.asarray(vectors[name], np.float32)).astype(np.float32))
      after = attribute_values(shifted)
      change = {}
      for column in names:
        delta = (after[column] - before[column]) / spreads[column]
        change[column] = _finite_mean(delta)
      sign = 1.0 if strength > 0 else -1.0
      moved = _moved(before[name], after[name], sign)
      limit = high if strength > 0 else low
      movable = np.isfinite(before[name])
      if limit is not None:
        movable &= before[name] != limit
      rows[_strength_key(strength)] = {
          'change': change,
          'moved': float(moved.mean()),
          'movable_moved': float(moved[movable].mean()) if movable.any() else None,
          'movable_phrases': int(movable.sum()),
          'note_ons_kept': _finite_mean(onsets_kept(reference, shifted, converter)),
      }
    result['vectors'][name] = rows
  if 1.0 in strengths:
    matrix = [[result['vectors'][row]['+1']['change'][column] for column in names]
              for row in names]
    result['matrix'] = matrix
    result['diagonal_ratio'] = {name: diagonal_ratio(matrix, i) for i, name in enumerate(names)}
  return result


def diagonal_ratio(matrix, row):
  """The row's own entry over the mean absolute value of its other entries (None when that mean
  is 0 or the own entry is missing)."""
  others = [abs(v) for j, v in enumerate(matrix[row]) if j != row and v is not None]
  own = matrix[row][row]
  mean_other = float(np.mean(others)) if others else 0.0
  return None if own is None or mean_other == 0 else float(own / mean_other)


def _finite_mean(values):
  values = np.asarray(values, np.float64)
  values = values[np.isfinite(values)]
  return float(values.mean()) if len(values) else None


def _strength_key(strength):
  return f'{strength:+g}'


@dataclasses.dataclass
class AttributeVectors:
  """Attribute vectors of one model, with what they were made from (the saved file's content).

  vectors: {name: float64 [z_size]}; stats: {name: quartile statistics (quartile_vector)};
  model: {'config_name', 'encoding', 'z_size', 'step', 'checkpoint', 'config' (the run's config
  as a dict), 'probe_mu' (posterior mean of the probe window)}; corpus: {'examples', 'split',
  'num_windows', 'num_files'}; effect: measure_effect's result, or None; skipped: {name: why}
  for the family's attributes that got no vector (the corpus barely varies in them).
  """
  vectors: dict
  stats: dict
  model: dict
  corpus: dict
  effect: dict | None = None
  skipped: dict = dataclasses.field(default_factory=dict)  # name -> why it has no vector

  @property
  def names(self):
    return list(self.vectors)

  def to_json(self):
    return {
        'format': FORMAT,
        'model': self.model,
        'corpus': self.corpus,
        'attributes': {name: dict(self.stats[name], vector=[float(v) for v in self.vectors[name]])
                       for name in self.vectors},
        'effect': self.effect,
        'skipped': self.skipped,
    }

  @classmethod
  def from_json(cls, data, source='the vectors file'):
    try:
      if data.get('format') != FORMAT:
        raise AttributeVectorsError(f'{source} is not an attribute vectors file of format '
                                    f'{FORMAT} (written by mvl_attributes).')
      attributes = data['attributes']
      vectors = {name: np.asarray(entry['vector'], np.float64)
                 for name, entry in attributes.items()}
      stats = {name: {k: v for k, v in entry.items() if k != 'vector'}
               for name, entry in attributes.items()}
      return cls(vectors, stats, data['model'], data['corpus'], data.get('effect'),
                 dict(data.get('skipped') or {}))
    except (KeyError, TypeError, AttributeError) as e:
      raise AttributeVectorsError(f'{source} is damaged: missing or wrong entry {e}.') from e

  def save(self, path):
    files.atomic_write(path, json.dumps(self.to_json(), indent=1) + '\n')
    return os.fspath(path)

  @classmethod
  def load(cls, path):
    """The vectors saved at `path`; AttributeVectorsError (one line) if missing or damaged."""
    if not os.path.isfile(path):
      raise AttributeVectorsError(f'No attribute vectors at {path}: make them with mvl_attributes '
                                  '--run_dir=RUN --examples=YOUR_CORPUS.')
    try:
      with open(path) as f:
        data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
      raise AttributeVectorsError(f'{path} is not readable JSON: {e}.') from e
    if not isinstance(data, dict):
      raise AttributeVectorsError(f'{path} is not an attribute vectors file.')
    return cls.from_json(data, path)

  def check_model(self, config, probe_mu, source='the attribute vectors'):
    """AttributeVectorsError unless these vectors were made by a model with this config (z size,
    model and data sections) and these weights (the probe window's posterior mean)."""
    theirs = self.model.get('z_size')
    if theirs != config.model.z_size:
      raise AttributeVectorsError(
          f'{source} were made for a model with a z of {theirs} dimensions; this model has '
          f'{config.model.z_size}. Make vectors for this model with mvl_attributes.')
    old = config_lib.flatten_config(self.model.get('config', {}))
    new = config_lib.flatten_config(config)
    keys = sorted(k for k in set(old) | set(new)
                  if any(k == s or k.startswith(s + '.') for s in _CONFIG_SECTIONS))
    differing = [k for k in keys if old.get(k) != new.get(k)]
    if differing:
      key = differing[0]
      raise AttributeVectorsError(
          f'{source} were made for a model with another config ({key}: {old.get(key)!r} there, '
          f'{new.get(key)!r} here' + (f', and {len(differing) - 1} more' if len(differing) > 1
                                      else '') + '). Make vectors for this model with '
          'mvl_attributes.')
    theirs = np.asarray(self.model.get('probe_mu', []), np.float64)
    probe_mu = np.asarray(probe_mu, np.float64)
    if (theirs.shape != probe_mu.shape or np.linalg.norm(theirs - probe_mu)
        > _PROBE_TOLERANCE * max(np.linalg.norm(probe_mu), 1.0)):
      raise AttributeVectorsError(
          f'{source} were made with other weights (step {self.model.get("step")} of '
          f'{self.model.get("checkpoint")}): the encoder maps a test window elsewhere. Make '
          'vectors for this checkpoint with mvl_attributes.')

  def shift(self, strengths):
    """The z offset sum(strength * vector) for {name: strength}, float32 [z_size]."""
    unknown = [name for name in strengths if name not in self.vectors]
    if unknown and unknown[0] in self.skipped:
      raise AttributeVectorsError(f'{unknown[0]} has no vector: {self.skipped[unknown[0]]}')
    if unknown:
      raise AttributeVectorsError(f'Unknown attribute {unknown[0]!r}; this model\'s attributes: '
                                  + ', '.join(self.names) + '.')
    size = len(next(iter(self.vectors.values())))
    offset = np.zeros(size, np.float64)
    for name, strength in strengths.items():
      if not math.isfinite(float(strength)):
        raise AttributeVectorsError(f'The strength of {name} must be a finite number, got '
                                    f'{strength!r}.')
      offset += float(strength) * self.vectors[name]
    return offset.astype(np.float32)



def format_report(vectors):
  """Lines of text: each attribute's quartiles and vector, then the effect matrix at +1."""
  corpus, model = vectors.corpus, vectors.model
  lines = [f'Attribute vectors of {model.get("config_name") or "the model"} (step '
           f'{model.get("step")}) from {corpus.get("num_windows")} windows of '
           f'{corpus.get("examples")} ({corpus.get("split")}):',
           f'  {"attribute":<20} {"unit":<22} {"bottom <=":>10} {"top >=":>10} '
           f'{"windows":>11} {"spread":>8} {"|vector|":>9}']
  for name in vectors.names:
    s = vectors.stats[name]
    lines.append(f'  {name:<20} {s.get("unit", ""):<22} {s["lower_quartile"]:>10.3f} '
                 f'{s["upper_quartile"]:>10.3f} {s["bottom_windows"]:>5}/{s["top_windows"]:<5} '
                 f'{s["std"]:>8.3g} {s["vector_norm"]:>9.3g}')
  effect = vectors.effect
  if not effect or 'matrix' not in effect:
    return lines
  names = effect['attributes']
  lines.append(f'Effect on {effect["num_phrases"]} {effect.get("split", "")} phrases (argmax '
               'decoding): the mean change of each attribute (columns, numbered as the rows), in '
               'corpus spreads, when +1 x the vector of the row is added; moved: the share of '
               'phrases whose own attribute rose (of those not already at its limit); kept: the '
               'share of note-ons kept; ratio: the own change over the mean absolute other one.')
  lines.append(f'  {"vector":<24}' + ''.join(f'{f"({j + 1})":>7}' for j in range(len(names)))
               + f'{"moved":>14}{"kept":>7}{"ratio":>7}')
  for i, name in enumerate(names):
    row = effect['vectors'][name]['+1']
    cells = ''.join(f'{"-" if v is None else f"{v:+.2f}":>7}' for v in effect['matrix'][i])
    movable = row['movable_moved']
    moved = f'{row["moved"]:.0%} ({"-" if movable is None else f"{movable:.0%}"})'
    lines.append(f'  {f"({i + 1}) {name}":<24}{cells}{moved:>14}'
                 f'{_percent(row["note_ons_kept"]):>7}{_ratio(effect["diagonal_ratio"][name]):>7}')
  return lines


def _percent(value):
  return '-' if value is None else f'{value:.0%}'


def _ratio(value):
  return '-' if value is None else f'{value:.1f}'


def write_effect_png(path, vectors):
  """The effect matrix at +1 as a heat map PNG (heatmap.py), with each row's moved share and
  note-ons kept; None when the vectors hold no effect."""
  from music_vae_lite import heatmap  # pylint: disable=g-import-not-at-top
  effect = vectors.effect
  if not effect or 'matrix' not in effect:
    return None
  names = effect['attributes']
  notes = [f'moved {_percent(effect["vectors"][n]["+1"]["moved"])}, kept '
           f'{_percent(effect["vectors"][n]["+1"]["note_ons_kept"])}, ratio '
           f'{_ratio(effect["diagonal_ratio"][n])}' for n in names]
  title = (f'{vectors.model.get("config_name") or "model"}, step {vectors.model.get("step")}: '
           f'change of each attribute (columns, in corpus spreads) when +1 x a vector (rows) is '
           f'added, {effect["num_phrases"]} {effect.get("split", "")} phrases')
  return heatmap.write_png(path, effect['matrix'], [f'+ {n}' for n in names], names,
                           title=title, notes=notes)
