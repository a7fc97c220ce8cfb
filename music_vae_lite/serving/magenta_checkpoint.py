"""Reading the original Magenta MusicVAE's TF1 checkpoints into our models.

    prefix = find_checkpoint('cat-mel_2bar_big.tar', scratch_dir)   # .tar, prefix or directory
    config, note = infer_config(read_shapes(prefix))                 # or a named config
    model, config, report = load_model(prefix)                      # config inferred
    import_checkpoint('cat-mel_2bar_big.tar', 'runs/mel_big')        # an ordinary run directory

The original's checkpoints name every variable by its TF1 scope (`encoder/mu/kernel`, ...); our
models keep the same layout, and `MusicVAE.original_variable_names()` says which of our variables
each name is. A checkpoint holds the model variables plus `global_step`; self-trained ones also hold
Adam's slots (`<var>/Adam`, `<var>/Adam_1`) and `beta1_power` / `beta2_power`, which are skipped
and reported (fine-tuning starts a fresh optimizer). The released checkpoints were written in the
`LSTMBlockCell` layout even when trained with cuDNN; a `cudnn_compatible_lstm_cell` scope (the same
layout under another name) is renamed, opaque cuDNN parameter blobs are refused.

Families: the config is inferred from the shapes (`infer_config`): the encoder (bidirectional, or
hierarchical: `encoder/hierarchical_level_{0,1}/...`), the decoder (flat, or the conductor over one
core decoder or, for trio, one per part: `core_decoder/core_decoder_{k}/...`), the input and output
widths and the control depth (decoder cell_0 rows = outputs + code + controls + units), matched to
the converters of the configs in ORIGINAL_CONFIGS: melody, drums, melody with chords, trio,
GrooVAE (a flat decoder of 27-wide outputs: hits, velocities, offsets), NADE drums (a NADE decoder,
`decoder/nade/*`: its widths D and H come from `w_enc` [D, 1, H], and the output projection is
H + D wide). Families this library does not implement yet (multi-instrument performance, control
preprocessing, residual cells) are recognised by their variable names or widths and refused with
UnsupportedFamilyError ("not supported yet: <family>") before anything is built or written.
Configs of one family may differ only in how they read their data, which no variable shows (the
GrooVAE configs: humanize, tapify, 2 or 4 bars, ...). Such a checkpoint is matched to the config
its path names (a released bundle is named after its config: groovae_4bar.tar; or a directory of
that name), else refused with the list of configs that fit; `--config` chooses one.
The hierarchical encoder's segment length (16 steps, a bar) is not in the checkpoint: every
original config with that encoder (hier-mel_16bar, hier-trio_16bar) uses it.

Memory: `load_model` creates each of the model's variables from its checkpoint tensor, one at a
time (no random initial weights are drawn first), so an import holds one copy of the weights plus
the largest tensor and what the save of the new checkpoint needs: 1.55 copies for a full-size
hierdec-mel_16bar (benchmarks/import_speed.py).

This module does not import the training loop (train.py).
"""
import os
import re
import tarfile
import tempfile
from typing import NamedTuple

from absl import logging
import numpy as np
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.nn import model_registry

# The original configs this library implements, by the name of the config that trained the
# checkpoint (Magenta's `--config`): candidates when inferring a config from shapes, tried in this
# order (the first of a family is the one that takes size overrides).
ORIGINAL_CONFIGS = ('cat-mel_2bar_small', 'cat-mel_2bar_big', 'cat-drums_2bar_small',
                    'cat-drums_2bar_big', 'cat-mel_2bar_med_chords', 'hierdec-mel_16bar',
                    'hier-mel_16bar', 'hierdec-trio_16bar', 'hier-trio_16bar', 'flat-trio_16bar',
                    'groovae_2bar_humanize', 'groovae_4bar', 'groovae_2bar_tap_fixed_velocity',
                    'groovae_2bar_tap_fixed_velocity_note_dropout', 'groovae_2bar_add_closed_hh',
                    'groovae_2bar_hits_control', 'nade-drums_2bar_reduced',
                    'nade-drums_2bar_full')
GROOVE_WIDTH = 27  # GrooVAE's outputs per step: 9 hits, 9 velocities, 9 offsets
GLOBAL_STEP = 'global_step'
_OPTIMIZER_RE = re.compile(r'(/Adam(_\d+)?$)|(^beta[12]_power(_\d+)?$)')
_CUDNN_SCOPE = '/cudnn_compatible_lstm_cell/'
# (variable-name pattern, family) for what we cannot build yet; checked in this order. Families
# whose names are ours but whose widths are not (multi-instrument performance) are refused by
# `_family`, from the shapes.
_UNSUPPORTED = (
    (re.compile(r'opaque_kernel|cudnn_lstm/'), 'cuDNN opaque LSTM parameters (re-export the '
     'checkpoint in the LSTMBlockCell layout)'),
    (re.compile(r'^control_preprocessing/'), 'control preprocessing (the bidirectional LSTM '
     'over the controls of BidirectionalLstmControlPreprocessingDecoder)'),
    (re.compile(r'input_projection_wrapper/'), 'residual LSTM cells'),
    (re.compile(r'^decoder/hierarchical_level_[1-9]'), 'a conductor of more than one level'),
    (re.compile(r'^encoder/hierarchical_level_[2-9]'), 'a hierarchical encoder of more than two '
     'levels'),
)
_BIDIRECTIONAL = '{scope}/cell_{{k}}/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/{{v}}'
_ENC = _BIDIRECTIONAL.format(scope='encoder')
# The hierarchical encoder's levels: 0 reads each bar, 1 the sequence of bar encodings.
_ENC_LEVELS = tuple(_BIDIRECTIONAL.format(scope=f'encoder/hierarchical_level_{level}')
                    for level in (0, 1))
_DEC = '{scope}/multi_rnn_cell/cell_{{k}}/lstm_cell/{{v}}'
_FLAT_SCOPE = 'decoder'
_CORE_SCOPE = 'core_decoder/decoder'
_SPLIT_CORE_SCOPE = 'core_decoder/core_decoder_{i}/decoder'
_CONDUCTOR = 'decoder/hierarchical_level_0/cell_{k}/lstm_cell/{v}'
_NADE_ENC = 'decoder/nade/w_enc'  # [D, 1, H]: the NADE's bits and hidden units


class MagentaCheckpointError(ValueError):
  """An original checkpoint cannot be found, read or mapped (the message says which and why)."""


class UnsupportedFamilyError(MagentaCheckpointError):
  """The checkpoint belongs to a model family this library does not implement yet."""


# -------------------------------------------------------------------------------------------------
# Finding and reading the checkpoint.


def _extract_tar(path, scratch_dir):
  """Extracts the checkpoint files of a .tar bundle into scratch_dir; returns the first prefix.

  Only regular files are written, under their base names (no paths from the archive are trusted)."""
  prefix = None
  try:
    with tarfile.open(path) as bundle:
      for member in bundle:
        name = os.path.basename(member.name)
        if not member.isfile() or not ('.index' in name or '.data-' in name):
          continue
        source = bundle.extractfile(member)
        with open(os.path.join(scratch_dir, name), 'wb') as target:
          while chunk := source.read(1 << 24):
            target.write(chunk)
        if name.endswith('.index') and prefix is None:
          prefix = os.path.join(scratch_dir, name[:-len('.index')])
  except (tarfile.TarError, EOFError, OSError) as e:
    reason = str(e).strip().splitlines()[-1].strip(' -.()') or type(e).__name__
    raise MagentaCheckpointError(f'{path}: not a readable .tar bundle (not a tar archive, or '
                                 f'truncated: {reason}).') from e
  if prefix is None:
    raise MagentaCheckpointError(f'{path}: the .tar bundle holds no checkpoint (no *.index file).')
  return prefix


def find_checkpoint(path, scratch_dir=None):
  """The checkpoint prefix of a released `.tar` bundle (extracted into `scratch_dir`), a directory
  (its `checkpoint` state file's newest, else its only `*.index`), or a prefix (a `.index` or
  `.data-*` file name is accepted too)."""
  path = os.fspath(path)
  if os.path.isfile(path) and (path.endswith('.tar') or tarfile.is_tarfile(path)):
    if scratch_dir is None:
      raise ValueError('A .tar bundle needs a scratch directory to be extracted into.')
    return _extract_tar(path, scratch_dir)
  if os.path.isdir(path):
    prefix = tf.train.latest_checkpoint(path)
    if prefix:
      return prefix
    indexes = sorted(name for name in os.listdir(path) if name.endswith('.index'))
    if len(indexes) != 1:
      found = f'{len(indexes)} checkpoints ({", ".join(indexes)})' if indexes else 'no checkpoint'
      raise MagentaCheckpointError(f'{path}: the directory holds {found}; pass a checkpoint prefix '
                                   'such as DIR/model.ckpt.')
    return os.path.join(path, indexes[0][:-len('.index')])
  prefix = re.sub(r'(\.index|\.data-\d+-of-\d+)$', '', path)
  if os.path.isfile(prefix + '.index'):
    return prefix
  raise MagentaCheckpointError(f'No checkpoint at {path!r} (expected a .tar bundle, a directory, '
                               f'or a prefix P with P.index beside it).')


def _read_error(prefix, error):
  message = str(getattr(error, 'message', error)).strip().splitlines()[0]
  return MagentaCheckpointError(f'{prefix}: the checkpoint cannot be read (corrupt or truncated?): '
                                f'{message}')


def _reader(prefix):
  try:
    return tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as e:
    raise _read_error(prefix, e) from e


def read_shapes(prefix):
  """{variable name: shape list} of a checkpoint; a one-line error if its index is unreadable."""
  return {name: list(shape) for name, shape in _reader(prefix).get_variable_to_shape_map().items()}


def _canonical(name):
  return name.replace(_CUDNN_SCOPE, '/lstm_cell/')


def split_variables(shapes):
  """(model {canonical name: (stored name, shape)}, skipped {name: shape}, renamed [names]).

  Skipped: `global_step`, Adam's slots and beta powers. Raises UnsupportedFamilyError for a
  family we do not implement (checked before anything else)."""
  if '_CHECKPOINTABLE_OBJECT_GRAPH' in shapes:
    raise MagentaCheckpointError('this is a TensorFlow 2 checkpoint (one of ours?), not one written '
                                 "by the original's TF1 code: use its run directory directly")
  for pattern, family in _UNSUPPORTED:
    hits = sorted(name for name in shapes if pattern.search(name))
    if hits:
      raise UnsupportedFamilyError(f'not supported yet: {family} (the checkpoint has e.g. '
                                   f'{hits[0]})')
  model, skipped, renamed = {}, {}, []
  for name, shape in shapes.items():
    if name == GLOBAL_STEP or _OPTIMIZER_RE.search(name):
      skipped[name] = shape
      continue
    canonical = _canonical(name)
    if canonical != name:
      renamed.append(name)
    model[canonical] = (name, shape)
  return model, skipped, renamed


# -------------------------------------------------------------------------------------------------
# Configs: the shapes a config implies, and the config the shapes imply.


def _build(config):
  return model_registry.build_model(config)


def _creation_order(config):
  """The original name of every variable `config`'s model creates, in creation order (None for
  a variable without one), from a build in a throwaway graph (nothing is allocated)."""
  created = []

  def record(next_creator, **kwargs):
    created.append(next_creator(**kwargs))
    return created[-1]

  with tf.Graph().as_default(), tf.variable_creator_scope(record):
    names = {id(v): name for name, v in _build(config).original_variable_names().items()}
  return [names.get(id(v)) for v in created]


def build_model(config, initial_values=None):
  """Our model for `config`, its weights initialised from config.train.seed, or taken from
  `initial_values(original name)` as each variable is created.

  Creating the variables from the checkpoint's tensors means nothing else is allocated: no random
  initial values (for 176 M parameters, seconds and, in TensorFlow's temporaries, about another
  copy of the weights) and no second buffer to copy into."""
  if initial_values is None:
    return _build(config)
  order = iter(_creation_order(config))
  given = {}

  def from_checkpoint(next_creator, **kwargs):
    name = next(order)
    if name is not None:
      kwargs['initial_value'] = lambda: initial_values(name)
    variable = next_creator(**kwargs)
    given[id(variable)] = name
    return variable

  with tf.variable_creator_scope(from_checkpoint):
    model = _build(config)
  # The graph build and this one run the same code, so the orders agree; checked all the same.
  for name, variable in model.original_variable_names().items():
    if given.get(id(variable)) != name:
      raise RuntimeError(f'Variable creation order changed: {name} got the value of '
                         f'{given.get(id(variable))}.')
  return model


def expected_shapes(config):
  """{original name: shape} of the model `config` builds, without allocating its weights: the
  model is built in a throwaway graph, where variables are never initialised."""
  with tf.Graph().as_default():
    return {name: variable.shape.as_list()
            for name, variable in _build(config).original_variable_names().items()}


def _sizes(shapes, pattern):
  """Layer widths [units_0, units_1, ...] from the biases [4 * units] of a stack of LSTM cells."""
  sizes = []
  while (name := pattern.format(k=len(sizes), v='bias')) in shapes:
    sizes.append(shapes[name][0] // 4)
  return sizes


class Family(NamedTuple):
  """What a checkpoint's variable shapes say about the model that wrote it (or what a config
  builds): everything but the number of steps, which no variable shows."""
  encoder: str  # 'bidirectional' or 'hierarchical' (config.model.encoder)
  decoder: str  # 'flat', 'hierarchical', 'groove' or 'nade' (config.model.decoder)
  split_parts: bool  # one core decoder per part (config.decoder.split_parts)
  input_depth: int  # encoder input: every part's input, then the controls' one-hot
  core_depths: tuple  # output width of each core decoder: (sum of parts,), or one per part
  control_depth: int  # control classes fed to the decoder (0: none)

  def describe(self):
    controls = f' plus {self.control_depth} control classes' if self.control_depth else ''
    cores = (f'{len(self.core_depths)} core decoders of outputs '
             f'{" + ".join(map(str, self.core_depths))}' if self.split_parts
             else f'outputs {self.core_depths[0]} wide')
    return (f'a {self.encoder} encoder of inputs {self.input_depth} wide, a {self.decoder} decoder '
            f'with {cores}{controls}')


def config_family(config):
  """The Family of the model `config` builds (the widths come from its data converter)."""
  converter = contract.get_converter(config)
  split_parts = bool(config.get('decoder', {}).get('split_parts', False))
  return Family(encoder=config.model.get('encoder', 'bidirectional'),
                decoder=config.model.decoder, split_parts=split_parts,
                input_depth=converter.input_depth,
                core_depths=(tuple(converter.output_depths) if split_parts
                             else (converter.output_depth,)),
                control_depth=converter.control_depth)


def _family(shapes):
  """(Family, z_size, enc sizes, dec sizes, decoder options) read off the variable shapes (the
  options: config.decoder's values the shapes show, the NADE's nade_num_hidden).

  Raises UnsupportedFamilyError for structures this library does not build (multi-instrument
  performance events, different sizes across levels or cores) and
  MagentaCheckpointError when a variable every MusicVAE has is missing."""
  def need(name):
    if name not in shapes:
      raise MagentaCheckpointError(f'not a MusicVAE checkpoint we can read: no variable {name}')
    return shapes[name]

  def unsupported(what):
    return UnsupportedFamilyError(f'not supported yet: {what}')

  z_size = need('encoder/mu/kernel')[1]
  # Encoder: one bidirectional stack, or the hierarchical encoder's two (per bar, then over the
  # bar encodings), each of the same sizes (the original builds both from enc_rnn_size).
  if _ENC_LEVELS[0].format(k=0, v='bias') in shapes:
    encoder = 'hierarchical'
    enc_sizes, top_sizes = (_sizes(shapes, level) for level in _ENC_LEVELS)
    if top_sizes != enc_sizes:
      raise unsupported(f'a hierarchical encoder whose levels differ in size ({enc_sizes} and '
                        f'{top_sizes}; ours build both from enc_rnn_size)')
    input_depth = need(_ENC_LEVELS[0].format(k=0, v='kernel'))[0] - enc_sizes[0]
  else:
    encoder = 'bidirectional'
    need(_ENC.format(k=0, v='bias'))
    enc_sizes = _sizes(shapes, _ENC)
    input_depth = need(_ENC.format(k=0, v='kernel'))[0] - enc_sizes[0]
  # Decoder: flat, or the conductor over one core decoder or one per part (trio).
  if _CONDUCTOR.format(k=0, v='bias') in shapes:
    decoder = 'hierarchical'
    if _DEC.format(scope=_SPLIT_CORE_SCOPE.format(i=0)).format(k=0, v='bias') in shapes:
      scopes = []
      while _DEC.format(scope=(scope := _SPLIT_CORE_SCOPE.format(i=len(scopes)))).format(
          k=0, v='bias') in shapes:
        scopes.append(scope)
    else:
      scopes = [_CORE_SCOPE]
  else:
    decoder, scopes = ('nade' if _NADE_ENC in shapes else 'flat'), [_FLAT_SCOPE]
  core_sizes = [_sizes(shapes, _DEC.format(scope=scope)) for scope in scopes]
  dec_sizes = core_sizes[0]
  if not dec_sizes:
    need(_DEC.format(scope=scopes[0]).format(k=0, v='bias'))
  if any(sizes != dec_sizes for sizes in core_sizes):
    raise unsupported(f'core decoders of different sizes ({", ".join(map(str, core_sizes))}; '
                      'ours share dec_rnn_size)')
  if decoder == 'hierarchical' and (conductor := _sizes(shapes, _CONDUCTOR)) != dec_sizes:
    raise unsupported(f'a conductor of sizes {conductor} with a bar decoder of sizes '
                      f'{dec_sizes} (ours share dec_rnn_size)')
  # Each core's step input is [previous output, code, controls]: the code is z (flat, NADE) or
  # the conductor's top h (hierarchical); the rest of cell_0's input rows are the controls.
  code_size = dec_sizes[-1] if decoder == 'hierarchical' else z_size
  core_depths = tuple(need(f'{scope}/output_projection/bias')[0] for scope in scopes)
  decoder_options = {}
  if decoder == 'nade':  # outputs the D bits; the projection gives the NADE's H + D biases
    num_bits, _, decoder_options['nade_num_hidden'] = shapes[_NADE_ENC]
    core_depths = (num_bits,)
  # Families we know by their widths alone: GrooVAE's flat decoder is laid out as a categorical
  # one (its outputs are hits, velocities and offsets); multi-instrument performance is named so
  # that the message says what it is.
  if decoder == 'flat' and core_depths == (GROOVE_WIDTH,):
    decoder = 'groove'
  if sum(core_depths) == 490:
    raise unsupported('multi-instrument performance (490-wide performance events, e.g. '
                      'hier-multiperf_vel_1bar_med)')
  control_depths = {need(_DEC.format(scope=scope).format(k=0, v='kernel'))[0] - depth
                    - code_size - dec_sizes[0] for scope, depth in zip(scopes, core_depths)}
  if len(control_depths) != 1 or min(control_depths) < 0:
    raise unsupported(f'decoder input widths that fit no known layout (controls of '
                      f'{sorted(control_depths)} classes)')
  family = Family(encoder, decoder, len(scopes) > 1, input_depth, core_depths,
                  control_depths.pop())
  return family, z_size, enc_sizes, dec_sizes, decoder_options


def _candidates(family):
  """The configs of ORIGINAL_CONFIGS of `family`, in order; UnsupportedFamilyError if none."""
  families = [(config, config_family(config))
              for config in map(config_lib.load_config, ORIGINAL_CONFIGS)]
  candidates = [config for config, candidate in families if candidate == family]
  if not candidates:
    names = {}  # description -> configs of that family
    for config, candidate in families:
      names.setdefault(candidate.describe(), []).append(config.name)
    known = '; '.join(f'{", ".join(configs)}: {description}'
                      for description, configs in names.items())
    raise UnsupportedFamilyError(f'not supported yet: {family.describe()}. This library reads '
                                 f'these families: {known}')
  return candidates


def supported_variables(shapes):
  """`split_variables`, after checking the family is one we implement (also by shapes: GrooVAE
  differs from our models only in its widths)."""
  model_shapes, skipped, renamed = split_variables(shapes)
  _candidates(_family({name: shape for name, (_, shape) in model_shapes.items()})[0])
  return model_shapes, skipped, renamed


def _mismatches(config, model_shapes):
  """Lines naming the variables whose shapes differ between `config` and the checkpoint."""
  expected = expected_shapes(config)
  stored = {name: shape for name, (_, shape) in model_shapes.items()}
  lines = [f'{name}: checkpoint {stored[name]}, config {expected[name]}'
           for name in sorted(set(stored) & set(expected)) if stored[name] != expected[name]]
  lines += [f'only in the checkpoint: {name} {stored[name]}'
            for name in sorted(set(stored) - set(expected))]
  lines += [f'only in the config: {name} {expected[name]}'
            for name in sorted(set(expected) - set(stored))]
  return lines


def _overrides(config, z_size, enc_sizes, dec_sizes, decoder_options):
  """{flag: value} of the model sizes and decoder options that differ from `config`'s (applied
  to it)."""
  changed = {}
  for key, value in (('z_size', z_size), ('enc_rnn_size', enc_sizes),
                     ('dec_rnn_size', dec_sizes)):
    if list(np.atleast_1d(config.model[key])) != list(np.atleast_1d(value)):
      changed[f'--config.model.{key}'] = value
      config.model[key] = tuple(value) if isinstance(value, list) else value
  for key, value in decoder_options.items():
    if config.decoder.get(key) != value:
      changed[f'--config.decoder.{key}'] = value
      config.decoder[key] = value
  return changed


def _format_overrides(overrides):
  """Flags as a shell takes them: --config.model.enc_rnn_size='(64,)' for the tuples."""
  return ' '.join(f"{flag}='{tuple(value)}'".replace(' ', '') if isinstance(value, list)
                  else f'{flag}={value}' for flag, value in overrides.items())


def name_hints(path):
  """The names of ORIGINAL_CONFIGS in a checkpoint's path, nearest last: a released bundle's file
  name (groovae_4bar.tar, cat-drums_2bar_small.lokl.tar) or a directory's."""
  parts = os.path.normpath(os.fspath(path)).split(os.sep)
  return [part.split('.')[0] for part in parts if part.split('.')[0] in ORIGINAL_CONFIGS]


def _reads_data_alike(a, b):
  """Whether two configs read their windows alike (what no variable shows: window length, the
  family's options)."""
  return (a.data.encoding == b.data.encoding and a.data.slice_bars == b.data.slice_bars
          and a.get('family', {}).to_dict() == b.get('family', {}).to_dict())


def infer_config(shapes, hints=()):
  """(config, note): the original config whose family (`Family`: encoder, decoder, widths,
  controls) the variable shapes show, with its sizes overridden where the checkpoint's differ;
  `note` says what was chosen. Where configs that fit read their data differently (GrooVAE's),
  the last of `hints` (config names, e.g. `name_hints(path)`) among them decides;
  MagentaCheckpointError
  naming them without one.

  The number of bars is not stored in a checkpoint: it comes from the chosen config (2 bars for
  the cat- models, 16 for the trio and hierarchical ones, as in every original config of those
  families)."""
  model_shapes, _, _ = split_variables(shapes)
  family, z_size, enc_sizes, dec_sizes, decoder_options = _family(
      {name: shape for name, (_, shape) in model_shapes.items()})
  candidates = _candidates(family)
  exact = [c for c in candidates if not _mismatches(c, model_shapes)]
  fitting = exact or candidates
  hinted = [c for name in reversed(list(hints)) for c in fitting if c.name == name]
  if hinted:
    fitting = hinted[:1]
  elif any(not _reads_data_alike(c, fitting[0]) for c in fitting[1:]):
    raise MagentaCheckpointError(
        f'the variable shapes fit configs {", ".join(c.name for c in fitting)}, which read their '
        'data differently, and the checkpoint does not say which trained it: pass --config=NAME '
        '(a bundle or directory named after its config, e.g. groovae_4bar.tar, is recognised)')
  if exact:
    return fitting[0], f'the variable shapes match config {fitting[0].name}'
  config = fitting[0]
  overrides = _overrides(config, z_size, enc_sizes, dec_sizes, decoder_options)
  if _mismatches(config, model_shapes):
    raise MagentaCheckpointError('the checkpoint fits no config of this library: '
                                 + '; '.join(_mismatches(config, model_shapes)[:5]))
  return config, (f'the variable shapes match config {config.name} with '
                  f'{_format_overrides(overrides)}')


def check_config(config, shapes):
  """Raises MagentaCheckpointError naming the variables that do not fit `config`, and the
  config (with overrides, if needed) whose shapes would."""
  model_shapes, _, _ = split_variables(shapes)
  lines = _mismatches(config, model_shapes)
  if not lines:
    return
  try:
    _, note = infer_config(shapes)
    hint = f'Use --config={note.split("config ", 1)[1]}' if 'config ' in note else ''
  except MagentaCheckpointError as e:
    hint = f'No config of this library fits: {e}'
  shown = lines[:6] + ([f'... and {len(lines) - 6} more'] if len(lines) > 6 else [])
  raise MagentaCheckpointError(
      f'config {config.name or "(unnamed)"} does not fit the checkpoint; {len(lines)} '
      f'variable(s) differ: ' + '; '.join(shown) + (f'. {hint}.' if hint else '.'))


# -------------------------------------------------------------------------------------------------
# Loading.


def load_model(prefix, config=None, hints=None):
  """(model, config, report) with the checkpoint's weights; `config` None = inferred (where the
  shapes fit configs that read their data differently, from `hints`, config names: by default
  those in the prefix's path, see `infer_config`).

  `report`: dict with 'config_note', 'global_step', 'restored' (count), 'skipped'
  {name: shape} (optimizer state), 'renamed' [names]. Every model variable of the checkpoint must
  map to one of ours with the same shape and none of ours may be left out (checked before any
  weight is read)."""
  reader = _reader(prefix)
  shapes = {name: list(shape) for name, shape in reader.get_variable_to_shape_map().items()}
  try:
    model_shapes, skipped, renamed = split_variables(shapes)
    if config is None:
      config, note = infer_config(shapes, name_hints(prefix) if hints is None else hints)
    else:
      check_config(config, shapes)
      note = f'config {config.name or "(given)"} as given'
  except MagentaCheckpointError as e:
    raise type(e)(f'{prefix}: {e}') from e  # the message names the file
  try:
    # Each variable is created from its tensor: one tensor at a time beyond the model's weights.
    model = build_model(config, lambda name: reader.get_tensor(model_shapes[name][0]))
    step = int(reader.get_tensor(GLOBAL_STEP)) if GLOBAL_STEP in shapes else 0
  except (tf.errors.OpError, ValueError, IndexError) as e:  # IndexError: a truncated .data file
    raise _read_error(prefix, e) from e
  report = {'config_note': note, 'global_step': step,
            'restored': len(model.original_variable_names()),
            'parameters': model.num_parameters(),
            'skipped': {name: shape for name, shape in sorted(skipped.items())
                        if name != GLOBAL_STEP},
            'renamed': sorted(renamed)}
  return model, config, report


def format_report(report):
  lines = [f'Config: {report["config_note"]}.',
           f'Restored {report["restored"]} variables ({report["parameters"]:,} parameters) at the '
           f'original global_step {report["global_step"]}.']
  if report['renamed']:
    lines.append(f'Renamed {len(report["renamed"])} cuDNN-compatible cell scope(s) to lstm_cell.')
  if report['skipped']:
    lines.append(f'Skipped {len(report["skipped"])} optimizer variable(s) (Adam slots, beta powers;'
                 ' fine-tuning starts a fresh optimizer), e.g. ' +
                 ', '.join(list(report['skipped'])[:3]) + '.')
  return '\n'.join(lines)


def import_checkpoint(source, run_dir, config=None, scratch_dir=None):
  """Writes an original checkpoint (`.tar`, prefix or directory) as a run directory of ours:
  run_dir/config.json and run_dir/train/ckpt-<original global_step>. Returns (run_dir, report).

  `run_dir` must not already hold a run: nothing existing is overwritten. Everything is read and
  checked before anything is written; config.json is written last, so a failed save leaves no
  run that looks complete."""
  run_dir = os.fspath(run_dir)
  if os.path.exists(os.path.join(run_dir, checkpoints.CONFIG_FILE)) or (
      os.path.isdir(checkpoints.train_dir(run_dir)) and os.listdir(checkpoints.train_dir(run_dir))):
    raise checkpoints.RunDirError(f'{run_dir} already holds a run; import into a new --run_dir.')
  with tempfile.TemporaryDirectory(dir=scratch_dir) as scratch:
    prefix = find_checkpoint(source, scratch)
    model, config, report = load_model(prefix, config, name_hints(source))
  checkpoints.ensure_writable_dir(run_dir, 'run directory')
  manager = checkpoints.make_manager(tf.train.Checkpoint(model=model), run_dir, keep=1)
  report['checkpoint'] = manager.save(checkpoint_number=report['global_step'])
  checkpoints.save_config(run_dir, config)
  logging.info('Imported %s into %s.', source, run_dir)
  return run_dir, report


def write_original_checkpoint(prefix, arrays, global_step=0):
  """Writes {name: array} plus `global_step` in the original's format (a TF1 Saver V2 checkpoint,
  plain names, no object graph): synthetic checkpoints for tests and benchmarks/import_speed.py."""
  names = sorted(arrays) + [GLOBAL_STEP]
  tensors = [tf.convert_to_tensor(arrays[name]) for name in names[:-1]]
  tensors.append(tf.constant(global_step, tf.int64))
  os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[''] * len(names),
                    tensors=tensors)
  return prefix
