"""A trained MusicVAE for encoding, decoding, sampling and interpolating NoteSequences.

    model = TrainedModel('runs/mel_2bar')              # a run directory, or a checkpoint prefix
    melodies = model.sample(4, temperature=0.5, seed=1)
    z, mu, sigma = model.encode([ns1, ns2])
    morph = model.interpolate(ns1, ns2, num_steps=5)
    model.attribute_vectors('data/midi')                # once: saved in the run directory
    denser = model.shift(ns1, {'note_density': 1.0})   # the phrase, moved along a vector
    higher = model.sample(4, attributes={'pitch_height': 0.5})
    humanized = drum_model.groove(quantized_drums)    # GrooVAE: a whole performance, any length

The run directory describes itself (run_dir/config.json, see checkpoints.py), so nothing else is
needed. Construction reads the config and restores the weights (no graph is built); each operation
is one `tf.function` of an `inference.InferenceModule` (`model.inference`, the module that
`mvl_export` saves), with a batch dimension of any size, traced on first use and reused: the whole
autoregressive sampling loop runs as one graph per operation. Nothing here imports the training
loop. Inputs go in chunks of at most
`batch_size` rows and are not padded. (The original pads every call to its `max_batch_size`.
Encoding 2 windows with the full hierdec-mel_16bar took 3.2 s padded to 8 rows and 2.2 s unpadded,
on 2 CPU cores.)

`compute_dtype='bfloat16'` runs the matmuls in bfloat16 (weights cast once per call, cell
arithmetic in float32). On CPUs with native bf16 (AVX512-BF16, AMX) generation is 1.4-1.8x faster
(benchmarks/README.md). Logits stay within about 1e-2 of float32, so a sample at the same seed can
differ in a few notes. The default is the dtype the model was trained in.

Temperature: decoding divides the logits by it. 0 is allowed and means greedy (argmax) decoding;
negative or non-finite temperatures are rejected. Like the original, the API defaults to 1.0 while
the programs default to 0.5.
"""
import math
import os

from absl import logging
import ml_collections
import numpy as np
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite.families import contract
from music_vae_lite.serving import attribute_vectors as vectors_lib
from music_vae_lite.serving import groove as groove_lib
from music_vae_lite.serving import inference
from music_vae_lite.nn import model_registry


class NoWindowError(ValueError):
  """A NoteSequence gives no window the model can encode (the message says why)."""


def slerp(p0, p1, t):
  """Spherical interpolation between vectors p0 and p1 at fractions t (a number or an array [K]).

  Returns float64 [K, D] (or [D] for a scalar t). Falls back to linear interpolation where the
  angle is about 0 (or 180 degrees) or a vector is zero, where slerp's 1/sin(omega) is undefined.
  (The computation is inference.slerp, the one the exported `interpolate` runs.)
  """
  t_array = np.asarray(t, np.float64)
  result = inference.slerp(np.asarray(p0, np.float64), np.asarray(p1, np.float64), t_array).numpy()
  return result[0] if t_array.ndim == 0 else result


def check_temperature(temperature):
  """The temperature as a float; ValueError unless it is finite and >= 0 (0 = argmax)."""
  try:
    value = float(temperature)
  except (TypeError, ValueError) as e:
    raise ValueError(f'temperature must be a number, got {temperature!r}.') from e
  if not math.isfinite(value) or value < 0:
    raise ValueError(f'temperature must be >= 0 (0 = greedy argmax decoding), got {temperature}.')
  return value


def _seed_or_random(seed):
  """A seed in [0, 2^31) (int32, for XLA-compatible stateless ops): from `seed`, or fresh."""
  return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0] >> np.uint32(1))


class TrainedModel:
  """A MusicVAE restored from a run directory or checkpoint.

  Args:
    path: a run directory (its newest checkpoint is used), its train/ folder, or a checkpoint
      prefix such as run_dir/train/ckpt-2000.
    batch_size: the most rows one call of a compiled function takes; longer inputs go in chunks.
    compute_dtype: 'float32' or 'bfloat16' for the matmuls; default: the config's training dtype.
  Raises:
    checkpoints.RunDirError: no run directory or checkpoint at `path`.
    checkpoints.CheckpointMismatchError: the checkpoint does not fit the stored config.
  """

  def __init__(self, path, batch_size=32, compute_dtype=None):
    if batch_size < 1:
      raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    if compute_dtype not in (None, 'float32', 'bfloat16'):
      raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16', got {compute_dtype!r}.")
    self.checkpoint_path, self.run_dir = checkpoints.resolve(path)
    self.config = checkpoints.load_config(self.run_dir)
    self.converter = contract.get_converter(self.config)
    # For inputs, every window in order (training keeps a random subset of at most
    # max_windows_per_sequence), so window k is the k-th window of the piece.
    all_windows = ml_collections.ConfigDict(self.config.to_dict())
    all_windows.data.max_windows_per_sequence = None
    self._input_converter = contract.get_converter(all_windows)
    self.batch_size = batch_size
    self.model = model_registry.build_model(self.config, self.converter)
    self.checkpoint_path = checkpoints.restore_model(self.model, path)
    self.step = checkpoints.checkpoint_step(self.checkpoint_path)
    dtype = model_registry.compute_dtype(self.config.train) if compute_dtype is None else (
        tf.as_dtype(compute_dtype))
    self.compute_dtype = dtype.name
    # The model keeps the fused kernel to float32 itself.
    self.inference = inference.InferenceModule(
        self.model, self.config, self.converter, dtype,
        fused=model_registry.use_fused_kernels(self.config.train))
    self._attribute_vectors = None  # loaded on first use (load_attribute_vectors)

  @classmethod
  def from_magenta(cls, checkpoint, config=None, batch_size=32, compute_dtype=None):
    """A TrainedModel from a checkpoint of the original Magenta MusicVAE (for notebooks).

    Args:
      checkpoint: a released `.tar` bundle, a checkpoint prefix (DIR/model.ckpt) or a directory.
      config: the original config's name (e.g. 'hierdec-mel_16bar'), a ConfigDict (for
        non-standard sizes), or None to infer it from the variable names and shapes.
    Raises:
      magenta_checkpoint.UnsupportedFamilyError: a model family we do not implement yet.
      magenta_checkpoint.MagentaCheckpointError: unreadable checkpoint or a config that does not fit.
    The weights pass through a temporary run directory (deleted before this returns), so
    `run_dir` is None; `mvl_import` writes a lasting one.
    """
    import tempfile  # pylint: disable=g-import-not-at-top
    from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
    from music_vae_lite.serving import magenta_checkpoint  # pylint: disable=g-import-not-at-top
    if isinstance(config, str):
      config = config_lib.load_config(config)
    with tempfile.TemporaryDirectory() as scratch:
      run_dir, report = magenta_checkpoint.import_checkpoint(
          checkpoint, os.path.join(scratch, 'run'), config, scratch_dir=scratch)
      model = cls(run_dir, batch_size, compute_dtype)
    logging.info('%s', magenta_checkpoint.format_report(report))
    model.run_dir, model.checkpoint_path = None, os.fspath(checkpoint)
    model.step = report['global_step']
    return model

  @property
  def z_size(self):
    return self.config.model.z_size

  @property
  def num_steps(self):
    return self.converter.window_steps

  def _chunks(self, array):
    """Yields consecutive chunks of at most batch_size rows."""
    for start in range(0, len(array), self.batch_size):
      yield array[start:start + self.batch_size]

  # ------------------------------------------------------------------------------------------
  # NoteSequences <-> windows.

  def extract(self, note_sequence, window=None, name='input'):
    """(window, controls [T] or None, window index, number of windows) of one NoteSequence: the
    window as the family's targets (labels [T, P] for a label family), and its stored controls.

    Args:
      note_sequence: an unquantized NoteSequence.
      window: which window (0-based); None picks the first that starts with a note (a melody
        note-on or a drum hit at its first step), so a piece's pickup or leading rest is skipped;
        failing that, the first window.
      name: how to name the input in errors.
    Raises NoWindowError with the converter's explanation when there is no window, or when
    `window` is beyond the number found."""
    windows, controls, first = self.windows(note_sequence, name)
    count = len(windows)
    window = first if window is None else window
    if not 0 <= window < count:
      raise NoWindowError(f'{name} has {count} window(s); window {window + 1} does not exist.')
    return windows[window], None if controls is None else controls[window], window, count

  def windows(self, note_sequence, name='input'):
    """(windows, controls [N, T] or None, first) of one NoteSequence: every window in order, as a
    list of the family's targets (label windows [T, P]) with their stored controls; `first` is
    the window `extract` picks by default (the first that starts with a note, else 0). Raises
    NoWindowError with the converter's explanation when there is none."""
    result = self._input_converter.to_tensors(note_sequence)
    if not result.num_windows:
      raise NoWindowError(f'{name}: {result.explain()}')
    windows = contract.unbatch(self.converter.targets(result.arrays))
    first = next((i for i, targets in enumerate(windows)
                  if self.converter.starts_with_note(targets)), 0)
    controls = result.arrays.get(contract.CONTROLS)
    return windows, None if controls is None else np.asarray(controls), first

  def extract_window(self, note_sequence, window=None, name='input'):
    """(window, window index, number of windows) of one NoteSequence (see extract)."""
    targets, _, window, count = self.extract(note_sequence, window, name)
    return targets, window, count

  def _windows(self, note_sequences):
    windows, controls = [], []
    for index, sequence in enumerate(note_sequences):
      targets, window_controls, _, count = self.extract(sequence, 0, name=f'NoteSequence {index}')
      if count > 1:
        logging.warning('NoteSequence %d gives %d windows; encoding the first.', index, count)
      windows.append(targets)
      controls.append(window_controls)
    return contract.stack(windows), (np.stack(controls) if self.converter.stores_controls
                                      else None)

  def check_controls(self, controls, rows=None):
    """The decoder's controls for a conditioned model (chords: int32 [T]), the same for every
    row, or one per row ([rows, T]); None for a model without controls. ValueError when they are
    missing, extra or out of range."""
    spec = self.converter.control_spec
    if spec is None:
      if controls is not None:
        raise ValueError(f'This {self.converter.encoding} model takes no controls (chords).')
      return None
    shape = tuple(spec.shape)
    if controls is None:
      if self.converter.stores_controls:  # chords, which users give
        hint = '(chords)', ', e.g. from chords.parse_chords("C G Am F", num_steps)'
      else:  # controls the family derives from its windows (GrooVAE's hits)
        hint = f'({spec.name} derived from a window, e.g. its hits)', ''
      raise ValueError(f'This {self.converter.encoding} model is conditioned on controls '
                       f'{hint[0]}: pass controls [{", ".join(map(str, shape))}]{hint[1]}.')
    controls = np.asarray(controls)
    if controls.shape not in (shape, (rows,) + shape):
      expected = ', '.join(map(str, shape))
      raise ValueError(f'controls must have shape [{expected}]'
                       + (f' or [{rows}, {expected}]' if rows is not None else '')
                       + f', got {controls.shape}.')
    # The converter checks the classes (as it does for training windows).
    return spec.check(controls.reshape((-1,) + shape), self.converter.encoding).reshape(
        controls.shape)

  # ------------------------------------------------------------------------------------------
  # The API.

  def encode_labels(self, labels, seed=None, controls=None):
    """(z, mu, sigma), each float32 [N, z_size], for windows given as the family's targets
    (label windows [N, T, P], or [N, T] for a one-part family) and, for a conditioned model,
    their controls ([N, T] or [T])."""
    arrays = self._arrays(labels, controls)
    seed = _seed_or_random(seed)
    outputs = []
    num = contract.num_windows(arrays)
    for index, start in enumerate(range(0, num, self.batch_size)):
      chunk = {name: array[start:start + self.batch_size] for name, array in arrays.items()}
      inputs = self.converter.encoder_inputs(chunk)
      lengths = self.converter.lengths(chunk)
      out = self.inference.encode(inputs, lengths, tf.constant([seed, index], tf.int32))
      outputs.append([out['z'].numpy(), out['mu'].numpy(), out['sigma'].numpy()])
    return tuple(np.concatenate(parts) for parts in zip(*outputs))

  def encode(self, note_sequences, seed=None):
    """(z, mu, sigma) for NoteSequences, one window each (the first, with a warning, if several;
    a conditioned model reads their chords too).

    Raises NoWindowError naming the sequence and the reason when one gives no window."""
    if not len(note_sequences):
      raise ValueError('encode needs at least one NoteSequence.')
    labels, controls = self._windows(note_sequences)
    return self.encode_labels(labels, seed, controls)

  def _arrays(self, windows, controls=None):
    """The windows' arrays (contract.Converter.window_arrays), controls [T] given once being
    broadcast to every window. A family that derives its decoder's controls from its windows
    (stores none) needs none to encode."""
    targets = windows if isinstance(windows, dict) else np.asarray(windows)
    if controls is not None and self.converter.control_spec is not None:
      if not self.converter.stores_controls:
        controls = None
      else:
        first = next(iter(targets.values())) if isinstance(targets, dict) else targets
        controls = np.asarray(controls)
        if controls.shape == tuple(self.converter.control_spec.shape):
          controls = np.broadcast_to(controls, (len(first),) + controls.shape)
    return self.converter.window_arrays(targets, controls)

  def _controls_input(self, controls):
    """The extra argument of the inference functions: [controls] or nothing."""
    return [] if controls is None else [tf.constant(controls, self.converter.control_spec.dtype)]

  def decode_to_labels(self, z, temperature=1.0, seed=None, controls=None):
    """Windows decoded from z [N, z_size], as the family's targets (label windows int32
    [N, T, P]); a conditioned model follows controls [T]."""
    temperature = check_temperature(temperature)
    controls = self.check_controls(controls)
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != self.z_size:
      raise ValueError(f'z must have shape [N, {self.z_size}], got {z.shape}.')
    if not len(z):
      return self.converter.targets(self.converter.empty_arrays())
    seed = _seed_or_random(seed)
    outputs = []
    for index, chunk in enumerate(self._chunks(z)):
      out = self.inference.decode(chunk, tf.constant(temperature, tf.float32),
                                  tf.constant([seed, index], tf.int32),
                                  *self._controls_input(controls))
      outputs.append(self._targets(out))
    return contract.concatenate(outputs)

  def _targets(self, outputs):
    """The targets (numpy) in the outputs of an inference function."""
    return tf.nest.map_structure(np.asarray, self.converter.targets_of_outputs(outputs))

  def to_note_sequences(self, labels, controls=None):
    """NoteSequences of windows given as the family's targets (label windows [N, T, P]); a
    conditioned model writes its controls ([T] or [N, T]) in as chord symbols."""
    if controls is not None:
      first = next(iter(labels.values())) if isinstance(labels, dict) else labels
      spec = self.converter.control_spec
      controls = np.broadcast_to(controls, (len(first),) + tuple(spec.shape))
    return self.converter.from_tensors(labels, controls)

  def decode(self, z, temperature=1.0, seed=None, controls=None):
    """NoteSequences decoded from z [N, z_size] (120 qpm, velocity 80)."""
    return self.to_note_sequences(self.decode_to_labels(z, temperature, seed, controls), controls)

  def sample_labels(self, n, temperature=1.0, seed=None, controls=None, attributes=None):
    """n windows (the family's targets, label windows [n, T, P]) from z ~ N(0, I) (a
    conditioned model: following controls [T]).
    Chunk k (at most batch_size rows) is the exported `sample` at seed [s, k], s derived from
    `seed`: with n <= batch_size, a SavedModel given the same seed pair returns the same windows.

    `attributes` {name: strength}, e.g. {'note_density': 1.0, 'pitch_height': -0.5}, moves every
    draw by the sum of strength x attribute vector (see shift); the draws and decoding seeds are
    the same as without, so strength 0 gives the plain samples."""
    if n < 1:
      raise ValueError(f'n must be >= 1, got {n}.')
    temperature = tf.constant(check_temperature(temperature), tf.float32)
    controls = self.check_controls(controls)
    offset = None if attributes is None else self.attribute_offset(attributes)
    seed = _seed_or_random(seed)
    outputs = []
    for index, start in enumerate(range(0, n, self.batch_size)):
      count = min(self.batch_size, n - start)
      chunk_seed = tf.constant([seed, index], tf.int32)
      if offset is None:
        out = self.inference.sample(tf.constant(count, tf.int32), temperature, chunk_seed,
                                    *self._controls_input(controls))
      else:  # the exported `sample`'s draws (inference.InferenceModule._sample), then moved
        z_seed, decode_seed = tf.unstack(tf.random.experimental.stateless_split(chunk_seed, 2))
        z = tf.random.stateless_normal([count, self.z_size], z_seed) + offset
        out = self.inference.decode(z, temperature, decode_seed, *self._controls_input(controls))
      outputs.append(self._targets(out))
    return contract.concatenate(outputs)

  def sample(self, n, temperature=1.0, seed=None, controls=None, attributes=None):
    """n NoteSequences from z ~ N(0, I); the same seed gives the same sequences. `attributes`:
    {name: strength} to move them along attribute vectors (see sample_labels)."""
    return self.to_note_sequences(
        self.sample_labels(n, temperature, seed, controls, attributes), controls)

  def interpolate_labels(self, start, end, num_steps, temperature=1.0, seed=None, controls=None,
                         start_controls=None, end_controls=None):
    """Windows [num_steps, ...] decoded along the slerp between the posterior means of two
    windows (the family's targets: label windows [T, P]), endpoints included. A conditioned
    model encodes each end with its own controls (`start_controls`, `end_controls`, [T]) and
    decodes every point with `controls` (default: the start's)."""
    if num_steps < 2:
      raise ValueError(f'num_steps must be >= 2 (it includes both ends), got {num_steps}.')
    ends_controls = None
    if self.converter.control_spec is not None:
      start_controls = self.check_controls(start_controls if start_controls is not None
                                           else controls)
      end_controls = self.check_controls(end_controls if end_controls is not None
                                         else start_controls)
      ends_controls = np.stack([start_controls, end_controls])
      controls = start_controls if controls is None else controls
    _, mu, _ = self.encode_labels(contract.stack([start, end]), seed, ends_controls)
    # The points the exported `interpolate` decodes (the same tokens when num_steps <= batch_size).
    z = inference.interpolation_points(mu[0], mu[1], num_steps).numpy()
    return self.decode_to_labels(z, temperature, seed, controls)

  def interpolate(self, start_sequence, end_sequence, num_steps, temperature=1.0, seed=None,
                  start_window=None, end_window=None, controls=None):
    """NoteSequences morphing from one sequence to the other.

    `start_window` / `end_window` pick the window (0-based) of each sequence; by default the first
    that starts with a note (see extract). A conditioned model follows `controls` [T] (default: the
    start window's chords)."""
    start, start_controls, _, _ = self.extract(start_sequence, start_window, name='start sequence')
    end, end_controls, _, _ = self.extract(end_sequence, end_window, name='end sequence')
    controls = start_controls if controls is None else controls
    labels = self.interpolate_labels(start, end, num_steps, temperature, seed, controls,
                                     start_controls, end_controls)
    return self.to_note_sequences(labels, controls)

  # ------------------------------------------------------------------------------------------
  # GrooVAE on whole performances (serving/groove.py).

  def groove_windows(self, note_sequence, temperature=0.0, seed=None, name='input'):
    """A drum performance of any length through a GrooVAE model, window by window: a
    groove.Groove (the joined NoteSequence, and the input and decoded windows for pictures).

    Every window of the sequence (groove.split) is encoded as the family's options make the
    encoder's input (humanize: quantized hits with flat velocities; tapify: taps;
    add_instruments: the kit without the added classes), decoded from its posterior mean at
    `temperature` (hits drawn from Bernoulli(logit / temperature), 0 = a hit where the logit is
    positive; velocities and offsets are the decoder's values), and the windows are joined back
    in the input's time (groove.join).

    Raises ValueError (one line) for a model that is not a GrooVAE model, and
    groove.GrooveInputError naming `name` for a sequence without drums or with bars that are not
    16 steps long."""
    groove_lib.check_family(self.converter, f'This model ({self.config.name or "unnamed"})')
    temperature = check_temperature(temperature)
    split_input = groove_lib.split(self._input_converter, note_sequence, name)
    outputs = self.regroove(split_input.arrays, temperature, seed)
    return groove_lib.Groove(groove_lib.join(self.converter, outputs, split_input),
                             split_input.arrays, outputs, split_input.places)

  def regroove(self, windows, temperature=0.0, seed=None):
    """GrooVAE windows {hits, velocities, offsets} [N, T, 9] through the model: each encoded as the
    family's options make the input, decoded from its posterior mean at `temperature` (a
    hits_as_controls model: under the window's own hits); the decoded windows, the same shape."""
    _, mu, _ = self.encode_labels(windows, seed)
    controls = self.converter.decoder_controls(self.converter.window_arrays(windows))
    if controls is not None:  # derived from the windows (the hits)
      controls = np.asarray(controls)
    return self._decode_rows(mu, controls, temperature, seed)

  def groove(self, note_sequence, temperature=0.0, seed=None, name='input'):
    """The drum performance `note_sequence` (unquantized, 4/4 or 2/2, any length) humanized,
    drumified or completed, as the model's family options say: one NoteSequence with the input's
    tempos, time signatures and length (see groove_windows)."""
    return self.groove_windows(note_sequence, temperature, seed, name).sequence

  # ------------------------------------------------------------------------------------------
  # Attributes and attribute vectors (contract.Converter.attributes, serving/attribute_vectors.py).

  @property
  def attribute_names(self):
    """The names of this family's attributes (melody.py, drums.py)."""
    return [attribute.name for attribute in self.converter.attributes]

  def attribute_values(self, windows):
    """{name: float64 [N]}: this family's attributes of windows given as its targets (label
    windows [N, T, P]) or arrays (NaN where one is undefined, e.g. the average interval of a
    window with one note)."""
    return self.converter.attribute_values(windows)

  def probe_mu(self):
    """The posterior mean [z_size] of an all-zero window (for labels: all rests; controls 0): a
    fingerprint of the encoder's weights, stored with attribute vectors to recognise the model
    they belong to."""
    arrays = {spec.name: np.zeros((1,) + tuple(spec.shape), spec.dtype)
              for spec in self.converter.window_spec}
    return self.encode_labels(arrays, seed=0)[1][0]

  def _decode_rows(self, z, controls, temperature=0.0, seed=0):
    """decode_to_labels with controls per row ([N, T], or None): rows sharing controls are
    decoded together."""
    if controls is None:
      return self.decode_to_labels(z, temperature, seed)
    unique, groups = np.unique(np.asarray(controls), axis=0, return_inverse=True)
    groups = groups.reshape(-1)
    order = np.concatenate([np.flatnonzero(groups == index) for index in range(len(unique))])
    decoded = contract.concatenate([
        self.decode_to_labels(z[groups == index], temperature, seed, row_controls)
        for index, row_controls in enumerate(unique)])
    return _take(decoded, np.argsort(order))

  def attribute_vectors(self, examples, effect_phrases=256, strengths=vectors_lib.STRENGTHS,
                        seed=0, save=True):
    """Attribute vectors of this model from a corpus, with their measured effect, saved in the
    run directory (`attribute_vectors.json`) so that `shift`, `sample(attributes=...)` and the
    programs find them.

    Args:
      examples: a MIDI folder or file, a NoteSequence TFRecord or an mvl_preprocess cache (every
        window of every file is used), a preprocess.WindowSet, or windows as the family's targets
        (label windows [N, T, P]).
      effect_phrases: how many held-out windows the effect is measured on (0: not measured).
      strengths: the multiples of each vector the effect is measured at.
      seed: picks the effect phrases.
      save: write the file into the run directory (a model without one, e.g. from_magenta, keeps
        them in memory only).
    For a corpus of files, the vectors come from the files the run trained on and the effect is
    measured on the held-out ones (input_pipeline.split_by_source with the run's eval_fraction);
    with no held-out file, or bare windows, both use the same windows (the result says so).
    An attribute the corpus barely varies in gets no vector (a warning; `skipped` says why).
    Returns a vectors_lib.AttributeVectors (also loaded into this model).
    Raises AttributeVectorsError when the family has no attributes or the corpus has too few
    windows for quartiles.
    """
    from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
    from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
    if not self.converter.attributes:
      raise vectors_lib.AttributeVectorsError(
          f'The {self.converter.encoding} family names no attributes to make vectors of.')
    name = 'the windows given'
    if isinstance(examples, (str, os.PathLike)):
      name = os.fspath(examples)
      examples = preprocess.load_examples(name, self._input_converter)
    if isinstance(examples, preprocess.WindowSet):
      corpus, held_out = input_pipeline.split_by_source(
          examples, self.config.data.eval_fraction)
      split = 'train'
      if not len(held_out):
        corpus, held_out, split = examples, examples, 'all (no held-out files)'
      labels, controls = self.converter.targets(corpus.arrays), corpus.controls
      held_labels, held_controls = self.converter.targets(held_out.arrays), held_out.controls
      num_files = len(set(int(i) for i in corpus.source_ids))
    else:
      if self.converter.stores_controls:
        raise ValueError('A conditioned model needs windows with their controls (a corpus or a '
                         'WindowSet), not bare windows.')
      labels = self.converter.targets(self.converter.window_arrays(examples))
      controls = held_controls = None
      held_labels, split, num_files = labels, 'all', None
    num_windows = _count(labels)
    if num_windows < vectors_lib.MIN_WINDOWS:
      raise vectors_lib.AttributeVectorsError(
          f'{name}: {num_windows} window(s) ({split} split), too few for quartiles: '
          f'attribute vectors need at least {vectors_lib.MIN_WINDOWS}.')
    _, mu, _ = self.encode_labels(labels, seed=0, controls=controls)
    registry = {attribute.name: attribute for attribute in self.converter.attributes}
    vectors, stats, skipped = {}, {}, {}
    for attribute_name, values in self.attribute_values(labels).items():
      try:
        vectors[attribute_name], stats[attribute_name] = vectors_lib.quartile_vector(
            mu, values, attribute_name)
      except vectors_lib.AttributeVectorsError as e:  # one attribute: the others are still useful
        skipped[attribute_name] = str(e)
        logging.warning('No vector for %s', e)
        continue
      stats[attribute_name]['unit'] = registry[attribute_name].unit
    if not vectors:
      raise vectors_lib.AttributeVectorsError(
          f'{name}: no attribute varies enough for quartiles (' + next(iter(skipped.values()))
          + ')')
    effect = None
    if effect_phrases:
      rng = np.random.default_rng(seed)
      chosen = np.sort(rng.permutation(_count(held_labels))[:effect_phrases])
      phrase_controls = None if held_controls is None else held_controls[chosen]
      _, phrase_mu, _ = self.encode_labels(_take(held_labels, chosen), seed=0,
                                           controls=phrase_controls)
      effect = vectors_lib.measure_effect(
          lambda z: self._decode_rows(z, phrase_controls), self.attribute_values, phrase_mu,
          vectors, {n: stats[n]['std'] or 1.0 for n in vectors}, self.converter,
          {n: registry[n].bounds for n in vectors}, strengths)
      effect['split'] = 'held-out' if split == 'train' else split
    result = vectors_lib.AttributeVectors(
        vectors, stats,
        model={'config_name': self.config.name, 'encoding': self.converter.encoding,
               'z_size': self.z_size, 'step': self.step, 'checkpoint': self.checkpoint_path,
               'config': self.config.to_dict(),
               'probe_mu': [float(v) for v in self.probe_mu()]},
        corpus={'examples': name, 'split': split, 'num_windows': num_windows,
                'num_files': num_files},
        effect=effect, skipped=skipped)
    if save and self.run_dir is not None:
      result.save(os.path.join(self.run_dir, vectors_lib.FILE_NAME))
    self._attribute_vectors = result
    return result

  def load_attribute_vectors(self, path=None):
    """The attribute vectors saved at `path` (default: the run directory's), checked against this
    model (AttributeVectorsError, one line, for another model's vectors or a missing file)."""
    if path is None:
      if self.run_dir is None:
        raise vectors_lib.AttributeVectorsError(
            'This model has no run directory: make vectors with attribute_vectors(corpus) or '
            'pass the path of a vectors file.')
      path = os.path.join(self.run_dir, vectors_lib.FILE_NAME)
    loaded = vectors_lib.AttributeVectors.load(path)
    loaded.check_model(self.config, self.probe_mu(), source=f'The attribute vectors in {path}')
    if loaded.model.get('step') != self.step:
      logging.warning('The attribute vectors in %s were made at step %s; this model is at step '
                      '%d.', path, loaded.model.get('step'), self.step)
    self._attribute_vectors = loaded
    return loaded

  def attribute_offset(self, strengths):
    """The z offset sum(strength x vector), float32 [z_size], of {name: strength} (the run's
    vectors are loaded on first use). AttributeVectorsError names an unknown attribute."""
    if self._attribute_vectors is None:
      self.load_attribute_vectors()
    return self._attribute_vectors.shift(strengths)

  def shift_labels(self, labels, strengths, scales=(1.0,), temperature=0.0, seed=None,
                   controls=None):
    """Windows [len(scales), ...] (the family's targets: label windows [len(scales), T, P]): one
    window (labels [T, P]) encoded (posterior mean), moved by scale x sum(strength x vector) for
    each scale, and decoded (a conditioned model: with its controls [T]). Scale 0 is the plain
    reconstruction."""
    offset = self.attribute_offset(strengths)
    window_controls = None if controls is None else np.asarray(controls)[None]
    _, mu, _ = self.encode_labels(contract.stack([labels]), seed, window_controls)
    z = mu[0] + np.asarray(scales, np.float32)[:, None] * offset
    return self.decode_to_labels(z.astype(np.float32), temperature, seed, controls)

  def shift(self, note_sequence, strengths, scale=1.0, temperature=0.0, seed=None, window=None):
    """A NoteSequence: the phrase moved along attribute vectors, e.g.
    shift(melody, {'note_density': 1.0, 'pitch_height': -0.5}).

    The window (`window`, 0-based; by default the first that starts with a note, see extract) is
    encoded to its posterior mean, moved by scale x sum(strength x vector) and decoded. The
    default temperature 0 (argmax) keeps what the vectors do not move; the vectors are the run
    directory's (attribute_vectors, load_attribute_vectors)."""
    labels, controls, _, _ = self.extract(note_sequence, window)
    shifted = self.shift_labels(labels, strengths, [scale], temperature, seed, controls)
    return self.to_note_sequences(shifted, controls)[0]


def _count(targets):
  """The number of windows of targets [N, ...] (an array or {name: array})."""
  return contract.num_windows(targets) if isinstance(targets, dict) else len(targets)


def _take(targets, rows):
  """The windows `rows` of targets [N, ...] (an array or {name: array})."""
  if isinstance(targets, dict):
    return {name: np.asarray(array)[rows] for name, array in targets.items()}
  return np.asarray(targets)[rows]
