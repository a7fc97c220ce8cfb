"""What mvl_studio's page asks of a model, on JSON values, without HTTP (server.py carries it).

The server keeps no state between requests: every phrase the page shows travels as its labels
(int [T][P], the model's own grid) and, for a chord model, its controls (chord classes [T]); the
page sends them back to morph, grid or download them. So a phrase sampled, uploaded or morphed is
one kind of thing, any of them can start a morph or a grid, and nothing a request names is ever
looked up on disk. Every value a request carries is checked here and a bad one is a ValueError
whose message the page shows as it is, worded as the programs word theirs (mvl_interpolate's
"cannot read ...", TrainedModel's "No 2-bar melody window: 3/4 time.").

A phrase, as the page gets it:
  labels   int [T][P]: one column per part (label_windows.Part: melody 0..89, drums 0..511), for
           a label family; a family of other arrays (GrooVAE: hits, velocities, offsets) sends
  arrays   {name: [T][...]} instead, as its converter declares them (window_spec)
  controls int [T] (chord classes) or null
  notes    [part, pitch, start step, end step] of every note and drum hit (drum hits at their
           class's first pitch, info's drum_lanes), for drawing and playing; a family of other
           arrays gives [part, pitch, start, end, velocity 1..127], start and end in steps off
           the grid where the notes are (GrooVAE's timing offsets)
  chords   [start step, end step, symbol, [MIDI pitches of its triad]] of every chord, or []
"""
import math

import numpy as np
from note_seq import chord_symbols_lib

from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import label_windows
from music_vae_lite.pipeline import preprocess
from music_vae_lite.serving import attribute_vectors as vectors_lib
from music_vae_lite.serving import groove
from music_vae_lite.serving import trained_model

# Bounds on one request's work, so that one click cannot occupy the server for minutes.
MAX_SAMPLES = 64
MAX_MORPH_STEPS = 32
MAX_GRID_SIZE = 9
MAX_TEMPERATURE = 10.0
# An attribute slider's range, in multiples of its vector (mvl_sample --attribute takes any
# strength; the measured effect, benchmarks/attributes.py, spans -2..+2).
MAX_STRENGTH = 3.0
# The multiples of the sliders' offset that a shifted phrase is shown at, as mvl_interpolate
# --input_midi --attribute writes them (0: the phrase's own reconstruction).
SHIFT_SCALES = (0.0, 0.5, 1.0, 1.5, 2.0)
# A chord pad sounds in the octave below middle C.
_CHORD_ROOT_PITCH = 48


def _number(request, key, default, low, high, integer=False):
  """request[key] (or the default) as a number in [low, high]; ValueError naming the field."""
  value = request.get(key, default)
  if value is None:
    value = default
  kind = 'a whole number' if integer else 'a number'
  if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
    raise ValueError(f'{key} must be {kind} from {low} to {high}, got {value!r}.')
  if integer and value != int(value):
    raise ValueError(f'{key} must be {kind} from {low} to {high}, got {value!r}.')
  if not low <= value <= high:
    raise ValueError(f'{key} must be from {low} to {high}, got {value!r}.')
  return int(value) if integer else float(value)


def _integers(value, what, shape):
  """`value` (nested JSON lists) as an int64 array; ValueError naming `what` unless it is a
  rectangular array of whole numbers (floats, booleans and huge numbers are refused, not cast)."""
  try:
    array = np.asarray(value)
  except (TypeError, ValueError):
    array = None
  if array is None or array.dtype.kind not in 'iu' and array.size:
    raise ValueError(f'{what} must be a {shape} array of whole numbers.')
  return array.astype(np.int64)


def _seed(request):
  seed = request.get('seed')
  if seed is None:
    return None
  return _number(request, 'seed', None, 0, 2**31 - 1, integer=True)


class StudioApi:
  """The operations of the page on one TrainedModel (any family: melody, drums, trio, chords,
  GrooVAE)."""

  def __init__(self, model):
    self.model = model
    self.converter = model.converter
    self.has_labels = isinstance(self.converter, label_windows.LabelConverter)
    if not self.has_labels:
      # A family of other arrays is drawn and played from its decoded notes, as one part.
      empty = {spec.name: np.zeros(spec.shape, spec.dtype) for spec in self.converter.window_spec}
      kinds = [kind for kind, _ in self.converter.picture_parts(self.converter.targets(empty))]
      if len(kinds) != 1:
        raise ValueError(f'mvl_studio draws a family of other arrays than class labels as one '
                         f'part; the {self.converter.encoding} family has {len(kinds)}.')
      self.parts = [{'name': kinds[0], 'kind': kinds[0], 'program': 0}]
    else:
      self.parts = [{'name': part.name, 'kind': part.kind, 'program': part.program}
                    for part in self.converter.parts]
    # Chords are the controls a family stores; GrooVAE's hits_as_controls derives its own.
    self.has_chords = bool(self.converter.control_depth) and self.converter.stores_controls
    self.attributes, self.attributes_note = self._load_attribute_vectors()
    # What a GrooVAE model does to drums, as the button names it (Humanize, Drumify, ...).
    self.groove_action = (groove.job(self.converter) if self.converter.encoding == 'groove'
                          else None)

  def _load_attribute_vectors(self):
    """(the attributes of the run's attribute vectors, None), or ([], why there are none: the
    message that says how to make them) for a family with attributes; ([], None) without."""
    if not self.converter.attributes:
      return [], None
    try:
      vectors = self.model.load_attribute_vectors()
    except vectors_lib.AttributeVectorsError as e:
      return [], str(e)
    by_name = {attribute.name: attribute for attribute in self.converter.attributes}
    return [{'name': name, 'unit': by_name[name].unit, 'description': by_name[name].description}
            for name in vectors.names if name in by_name], None

  # ----------------------------------------------------------------------------------------------
  # Phrases in and out.

  def phrase(self, labels, controls=None):
    """One window (the family's targets: labels [T, P], or a dict of arrays) as the page gets
    it (see the module docstring)."""
    if not self.has_labels:
      if not isinstance(labels, dict):  # the bare array of a family of one array (drum rolls)
        labels = {self.converter.target_names[0]: labels}
      window = {name: np.asarray(array) for name, array in labels.items()}
      [sequence] = self.converter.from_tensors(contract.stack([window]))
      step = contract.STEP_SECONDS
      notes = [[0, int(note.pitch), round(note.start_time / step, 4),
                round(note.end_time / step, 4), int(note.velocity)]
               for note in sorted(sequence.notes, key=lambda n: (n.start_time, n.pitch))]
      return {'arrays': {name: array.tolist() for name, array in window.items()},
              'controls': None, 'notes': notes, 'chords': []}
    labels = np.asarray(labels)
    notes = []
    for index, part in enumerate(self.converter.parts):
      notes.extend([index, int(pitch), int(start), int(end)]
                   for start, end, pitch in part.notes(labels[:, index]))
    return {'labels': labels.tolist(),
            'controls': None if controls is None else np.asarray(controls).tolist(),
            'notes': notes,
            'chords': [] if controls is None else self._chord_spans(controls)}

  def _chord_spans(self, controls):
    from music_vae_lite.families import chords  # pylint: disable=g-import-not-at-top
    spans, start = [], 0
    controls = np.asarray(controls).tolist()
    for step in range(1, len(controls) + 1):
      if step == len(controls) or controls[step] != controls[start]:
        symbol = chords.chord_symbol(controls[start])
        pitches = [] if controls[start] == 0 else sorted(
            _CHORD_ROOT_PITCH + pitch_class
            for pitch_class in chord_symbols_lib.chord_symbol_pitches(symbol))
        spans.append([start, step, symbol, pitches])
        start = step
    return spans

  def _phrase_input(self, value, what):
    """(labels [T, P], controls [T] or None) of a phrase the page sent back; ValueError naming
    `what` when it is not one of this model's windows."""
    if not self.has_labels:
      return self._arrays_input(value, what), None
    if not isinstance(value, dict) or 'labels' not in value:
      raise ValueError(f'{what}: expected a phrase with its labels.')
    steps, parts = self.model.num_steps, len(self.converter.parts)
    labels = _integers(value['labels'], f'{what}: labels', f'[{steps}][{parts}]')
    if labels.shape != (steps, parts):
      raise ValueError(f'{what}: labels must be [{steps}][{parts}] for this model (a phrase of '
                       f'another model?), got shape {list(labels.shape)}.')
    try:
      self.converter.check_labels(labels)
    except ValueError as e:
      raise ValueError(f'{what}: {e}') from None
    controls = value.get('controls')
    if not self.has_chords:
      return labels.astype(np.int32), None
    if controls is None:
      raise ValueError(f'{what}: this chord model needs the phrase\'s chords (controls).')
    controls = _integers(controls, f'{what}: controls', f'[{steps}]')
    try:
      controls = self.model.check_controls(controls)
    except ValueError as e:
      raise ValueError(f'{what}: {e}') from None
    return labels.astype(np.int32), controls

  def _arrays_input(self, value, what):
    """One window's arrays {name: array} of a phrase the page sent back, for a family of other
    arrays than class labels; ValueError naming `what` when they are not this model's."""
    specs = self.converter.window_spec
    arrays = value.get('arrays') if isinstance(value, dict) else None
    names = ', '.join(spec.name for spec in specs)
    if not isinstance(arrays, dict) or sorted(arrays) != sorted(spec.name for spec in specs):
      raise ValueError(f'{what}: expected a phrase with its arrays ({names}).')
    window = {}
    for spec in specs:
      try:
        array = np.asarray(arrays[spec.name])
        if array.dtype.kind not in 'iuf':
          raise ValueError(f'{spec.name} must be an array of numbers.')
        window[spec.name] = spec.check(array[None], self.converter.encoding)[0]
      except ValueError as e:
        raise ValueError(f'{what}: {e}') from None
    return window

  def _strengths(self, request):
    """{attribute: strength} of the request's `attributes` (strengths 0 left out), or None;
    ValueError naming an unknown attribute or a strength out of range."""
    value = request.get('attributes')
    if value is None or value == {}:
      return None
    if not isinstance(value, dict):
      raise ValueError('attributes must map attribute names to strengths, e.g. '
                       '{"note_density": 1.0}.')
    if not self.attributes:
      raise ValueError(self.attributes_note or f'the {self.converter.encoding} family has no '
                       'attributes.')
    names = [attribute['name'] for attribute in self.attributes]
    strengths = {}
    for name, strength in value.items():
      if name not in names:
        raise ValueError(f'Unknown attribute {name!r}; this model\'s attributes: '
                         f'{", ".join(names)}.')
      strength = _number(value, name, 0.0, -MAX_STRENGTH, MAX_STRENGTH)
      if strength:
        strengths[name] = strength
    return strengths or None

  def _chords(self, request):
    """Controls [T] from the request's progression ("C G Am F"), or None when it gives none."""
    text = request.get('chords')
    if text is None or (isinstance(text, str) and not text.strip()):
      return None
    if not isinstance(text, str):
      raise ValueError('chords must be text such as "C G Am F".')
    if not self.has_chords:
      raise ValueError(f'chords: this {self.converter.encoding} model is not conditioned on '
                       'chords.')
    from music_vae_lite.families import chords  # pylint: disable=g-import-not-at-top
    return chords.parse_chords(text, self.model.num_steps)

  # ----------------------------------------------------------------------------------------------
  # The operations.

  def info(self, max_upload_bytes):
    """What the page needs to know about the model and the server's limits."""
    config = self.model.config
    # Drum lanes at the pitches the family writes (GrooVAE's drum map may differ from drums');
    # a map of other than the nine classes (NADE's 61 pitches) is drawn on the nine lanes.
    pitch_classes = getattr(self.converter, 'pitch_classes', drums.DRUM_PITCH_CLASSES)
    if len(pitch_classes) != len(drums.DRUM_NAMES):
      pitch_classes = drums.DRUM_PITCH_CLASSES
    return {
        'name': config.name or 'model',
        'encoding': self.converter.encoding,
        'parts': self.parts,
        'num_steps': self.model.num_steps,
        'steps_per_bar': contract.STEPS_PER_BAR,
        'steps_per_quarter': contract.STEPS_PER_QUARTER,
        'qpm': contract.OUTPUT_QPM,
        'z_size': self.model.z_size,
        'step': int(self.model.step),
        'drum_lanes': [{'name': name, 'pitch': int(pitches[0])} for name, pitches in
                       zip(drums.DRUM_NAMES, pitch_classes)],
        # What the page offers: each capability is one panel or control (chords: a progression
        # field for a chord-conditioned model).
        # attributes: sliders that move z along the run's attribute vectors (mvl_attributes).
        # groove: a dropped drum file through the model (humanize, drumify, ...).
        'capabilities': ['sample', 'morph', 'grid'] + (['chords'] if self.has_chords else [])
                        + (['attributes'] if self.attributes else [])
                        + (['groove'] if self.groove_action else []),
        'groove_action': self.groove_action,
        'default_chords': 'C G Am F' if self.has_chords else None,
        # Without vectors, a family that has attributes says how to make them.
        'attributes': self.attributes,
        'attributes_note': self.attributes_note,
        'shift_scales': list(SHIFT_SCALES),
        'limits': {'max_upload_bytes': max_upload_bytes, 'max_samples': MAX_SAMPLES,
                   'max_morph_steps': MAX_MORPH_STEPS, 'max_grid_size': MAX_GRID_SIZE,
                   'max_temperature': MAX_TEMPERATURE, 'max_strength': MAX_STRENGTH},
    }

  def sample(self, request):
    """{'phrases': [...]}: n phrases from the prior (a chord model: along the request's chords,
    which it needs), moved along the attribute vectors by the request's `attributes`
    ({name: strength}; as mvl_sample --attribute)."""
    n = _number(request, 'n', 4, 1, MAX_SAMPLES, integer=True)
    temperature = _number(request, 'temperature', 0.5, 0.0, MAX_TEMPERATURE)
    controls = self._chords(request)
    if self.has_chords and controls is None:
      raise ValueError('chords: this chord model samples along a progression; give one, '
                       'e.g. "C G Am F".')
    strengths = self._strengths(request)
    labels = self.model.sample_labels(n, temperature, _seed(request), controls, strengths)
    return {'phrases': [self.phrase(window, controls) for window in contract.unbatch(labels)]}

  def shift(self, request):
    """{'phrases': [...]}: the request's `phrase` encoded (posterior mean), moved by scale x
    sum(strength x vector) of its `attributes` for each scale of SHIFT_SCALES and decoded (at the
    request's temperature, 0 by default: argmax keeps what the vectors do not move), as
    mvl_interpolate --input_midi --attribute writes them."""
    labels, controls = self._phrase_input(request.get('phrase'), 'phrase')
    strengths = self._strengths(request)
    if strengths is None:
      raise ValueError('attributes: move at least one slider away from 0.')
    temperature = _number(request, 'temperature', 0.0, 0.0, MAX_TEMPERATURE)
    shifted = self.model.shift_labels(labels, strengths, SHIFT_SCALES, temperature,
                                      _seed(request), controls)
    return {'phrases': [self.phrase(window, controls) for window in contract.unbatch(shifted)]}

  def groove(self, request):
    """{'phrases': [phrase]}: the request's `phrase` (a window of a drum performance) through a
    GrooVAE model: encoded as the family's options read it (humanize: the hits without velocity
    and timing; tapify: one tapped rhythm; add_instruments: without those drums), posterior mean,
    decoded at the request's temperature (0 by default: the most likely hits), as mvl_groove
    does it window by window."""
    if not self.groove_action:
      raise ValueError(f'groove: this {self.converter.encoding} model is not a GrooVAE model.')
    window, _ = self._phrase_input(request.get('phrase'), 'phrase')
    temperature = _number(request, 'temperature', 0.0, 0.0, MAX_TEMPERATURE)
    decoded = self.model.regroove(contract.stack([window]), temperature, _seed(request))
    return {'phrases': [self.phrase(contract.unbatch(decoded)[0])]}

  def windows(self, midi, name):
    """{'name', 'phrases', 'first'}: every window of an uploaded MIDI file (its bytes; `name`
    only names it in messages), and the one the programs would pick (the first that starts with
    a note)."""
    sequence, error = preprocess.read_midi_bytes(midi)
    if error:
      raise ValueError(f'cannot read {name}: {error}.')
    try:
      labels, controls, first = self.model.windows(sequence, name=name)
    except trained_model.NoWindowError as e:
      raise ValueError(str(e)) from None
    return {'name': name, 'first': int(first),
            'phrases': [self.phrase(window, None if controls is None else controls[index])
                        for index, window in enumerate(labels)]}

  def morph(self, request):
    """{'phrases': [...]}: `steps` phrases along the slerp between the posterior means of the
    request's `start` and `end` phrases, both ends included (as mvl_interpolate). A chord model
    follows the request's chords, else the start's."""
    start, start_controls = self._phrase_input(request.get('start'), 'start')
    end, end_controls = self._phrase_input(request.get('end'), 'end')
    steps = _number(request, 'steps', 8, 2, MAX_MORPH_STEPS, integer=True)
    temperature = _number(request, 'temperature', 0.5, 0.0, MAX_TEMPERATURE)
    controls = self._chords(request)
    if controls is None:
      controls = start_controls
    labels = self.model.interpolate_labels(start, end, steps, temperature, _seed(request),
                                           controls, start_controls, end_controls)
    return {'phrases': [self.phrase(window, controls) for window in contract.unbatch(labels)]}

  def grid(self, request):
    """{'rows': [[phrase]]}: a size x size grid between four corner phrases (top left, top right,
    bottom left, bottom right), by slerp along each row's ends, then down each column, between
    the corners' posterior means. A chord model follows the request's chords, else the first
    corner's."""
    corners = request.get('corners')
    if not isinstance(corners, list) or len(corners) != 4:
      raise ValueError('corners: expected four phrases (top left, top right, bottom left, '
                       'bottom right).')
    names = ('top left', 'top right', 'bottom left', 'bottom right')
    inputs = [self._phrase_input(corner, f'{name} corner')
              for corner, name in zip(corners, names)]
    size = _number(request, 'size', 5, 2, MAX_GRID_SIZE, integer=True)
    temperature = _number(request, 'temperature', 0.5, 0.0, MAX_TEMPERATURE)
    seed = _seed(request)
    corner_controls = np.stack([c for _, c in inputs]) if self.has_chords else None
    _, mu, _ = self.model.encode_labels(contract.stack([labels for labels, _ in inputs]), seed,
                                        corner_controls)
    fractions = np.linspace(0.0, 1.0, size)
    top = trained_model.slerp(mu[0], mu[1], fractions)  # [size, D], one per column
    bottom = trained_model.slerp(mu[2], mu[3], fractions)
    # z[row, column]: down column `column` from its top to its bottom point.
    z = np.stack([trained_model.slerp(top[column], bottom[column], fractions)
                  for column in range(size)], axis=1)
    controls = self._chords(request)
    if controls is None and self.has_chords:
      controls = corner_controls[0]
    labels = contract.unbatch(
        self.model.decode_to_labels(z.reshape(size * size, -1), temperature, seed, controls))
    return {'rows': [[self.phrase(labels[row * size + column], controls)
                      for column in range(size)] for row in range(size)]}

  def midi(self, request):
    """The bytes of one MIDI file holding the request's phrases one after another (one phrase:
    as mvl_sample writes it; several: as mvl_interpolate's morph file)."""
    phrases = request.get('phrases')
    if not isinstance(phrases, list) or not 1 <= len(phrases) <= MAX_GRID_SIZE**2:
      raise ValueError(f'phrases: expected a list of 1 to {MAX_GRID_SIZE**2} phrases.')
    sequences = []
    for index, value in enumerate(phrases):
      labels, controls = self._phrase_input(value, f'phrase {index + 1}')
      sequences.extend(self.model.to_note_sequences(contract.stack([labels]), controls))
    return contract.midi_bytes(contract.concatenate_windows(sequences))
