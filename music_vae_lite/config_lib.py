"""Finds and loads named configs: `--config=cat-mel_2bar_small` or `--config=path/to/config.py`."""
import difflib
import json
import importlib.resources
import importlib.util
import os

import ml_collections

from music_vae_lite.families import registry
from music_vae_lite import files
from music_vae_lite.nn.decoders import registry as decoder_registry

RUN_CONFIG_FILE = 'config.json'  # in a run directory: the config it was trained with

_NOT_CONFIGS = ('__init__.py', 'base.py')


def available_configs():
  """Names of the configs shipped in `configs/` (installed as `music_vae_lite.configs`)."""
  files = importlib.resources.files('music_vae_lite.configs').iterdir()
  return sorted(f.name[:-3] for f in files if f.name.endswith('.py') and f.name not in _NOT_CONFIGS)


def config_path(name_or_path):
  """The file of a named config, or the given path; a clear ValueError for an unknown name."""
  path, sep, arg = name_or_path.partition(':')
  if path.endswith('.py') or os.sep in path:
    if not os.path.isfile(path):
      raise ValueError(f'Config file {path!r} does not exist.')
    return name_or_path
  if path not in available_configs():
    raise ValueError(
        f'Unknown config {path!r}. Available configs: {", ".join(available_configs())}; '
        'or pass the path of a config file.')
  return str(importlib.resources.files('music_vae_lite.configs') / f'{path}.py') + sep + arg


def load_config(name_or_path):
  """Loads a config by name or path (for the Python API and tests)."""
  path = config_path(name_or_path).partition(':')[0]
  spec = importlib.util.spec_from_file_location('_music_vae_lite_config', path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def resolve_config_argv(argv, flag='config'):
  """Rewrites `--config=NAME` in argv into the config's file path, so `config_flags` can load it."""
  resolved = []
  prefix = f'--{flag}='
  for arg in argv:
    if arg.startswith(prefix):
      arg = prefix + config_path(arg[len(prefix):])
    resolved.append(arg)
  return resolved


def flatten_config(value, prefix=''):
  """{'model.z_size': 8, ...}: every leaf of a (nested) ConfigDict or dict, lists for tuples."""
  if isinstance(value, (dict, ml_collections.ConfigDict)):
    items = value.items() if isinstance(value, dict) else value.to_dict().items()
    flat = {}
    for key, item in items:
      flat.update(flatten_config(item, f'{prefix}{key}.'))
    return flat
  return {prefix[:-1]: list(value) if isinstance(value, tuple) else value}


# -------------------------------------------------------------------------------------------------
# Checking a config before anything is built from it.

# Values with a fixed set of choices (the modules that use them check again at run time).
_CHOICES = {
    'data.encoding': tuple(sorted(registry.ENCODINGS)),
    'model.encoder': ('bidirectional', 'hierarchical'),
    'model.decoder': tuple(sorted(decoder_registry.DECODERS)),
    'model.sampling_schedule': ('constant', 'exponential', 'inverse_sigmoid'),
    'train.freeze': ('none', 'encoder', 'encoder_and_conductor'),
}
_POSITIVE = ('data.slice_bars', 'model.z_size', 'model.segment_bars', 'train.batch_size', 'train.log_every',
             'train.summary_every', 'train.image_every', 'train.checkpoint_every',
             'train.keep_checkpoints', 'train.eval_every', 'train.eval_batches')
_NOT_NEGATIVE = ('data.max_windows_per_sequence', 'train.num_steps', 'train.max_minutes',
                 'data.transpose',
                 'model.free_bits', 'model.max_beta', 'model.sampling_rate', 'train.min_learning_rate', 'train.grad_clip')
_SECTIONS = ('data', 'model', 'train')
# The sections whose keys their owner declares and checks: the options of the family
# config.data.encoding names (its converter's OPTIONS), and of the decoder config.model.decoder
# names (its OPTIONS; checked when the model is built, since decoders need TensorFlow).
_OWNED_SECTIONS = ('family', 'decoder')
# Keys that moved into the owners' sections (issue 20): a run directory written before holds them
# in data and model. gap_bars goes to a family that has it (trio), split_parts to the decoder
# where it was set; both are dropped otherwise (they did nothing there).
_MOVED = {'data.gap_bars': 'family.gap_bars', 'model.split_parts': 'decoder.split_parts'}


class ConfigError(ValueError):
  """A config value is unknown, missing or out of range."""


def owner_options(defaults, given, section, owner):
  """The options of a family or decoder: its `defaults` updated by `given` (config.family or
  config.decoder: a ConfigDict, a dict or None). ValueError naming `section.<key>` for an option
  `owner` (e.g. 'the melody family') does not have."""
  if given is None:
    given = {}
  elif isinstance(given, ml_collections.ConfigDict):
    given = given.to_dict()
  unknown = sorted(set(given) - set(defaults))
  if unknown:
    keys = ', '.join(f'{section}.{key}' for key in unknown)
    known = ', '.join(sorted(defaults)) or 'none'
    raise ValueError(f'{keys}: {owner} has no such option (its options: {known}).')
  return {**defaults, **given}


def _move_legacy_keys(config):
  """Moves the keys of `_MOVED` that an older config holds into the owners' sections."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  for old, new in _MOVED.items():
    section, name = old.split('.')
    if section not in config or name not in config[section]:
      continue
    value = config[section][name]
    with config.unlocked(), config[section].unlocked():
      del config[section][name]
      new_section, new_name = new.split('.')
      if new_section == 'family':
        owner = contract.converter_class(config.data.encoding)
        keep = new_name in owner.OPTIONS
      else:
        keep = bool(value)
      if keep and new_name not in config[new_section]:
        config[new_section][new_name] = value


def _schema():
  from music_vae_lite.configs import base  # pylint: disable=g-import-not-at-top
  return flatten_config(base.get_base_config())


def validate(config, source='the config'):
  """Checks every key and value of `config` against the base config; ConfigError naming `source`,
  the key and the reason. Returns the config, with keys that only newer versions know (absent from
  an older run's config.json) filled in with their defaults."""
  schema = _schema()
  flat = flatten_config(config)
  missing_sections = [s for s in _SECTIONS if not any(k.startswith(s + '.') for k in flat)]
  if missing_sections:
    raise ConfigError(f'{source} has no {", ".join(missing_sections)} section(s).')
  with config.unlocked():
    for section in _OWNED_SECTIONS:
      if not isinstance(config.get(section), ml_collections.ConfigDict):
        if config.get(section):
          raise ConfigError(f'{source}: {section} must be a section of options, got '
                            f'{config[section]!r}.')
        config[section] = ml_collections.ConfigDict()
  if flat.get('data.encoding') in registry.ENCODINGS:
    _move_legacy_keys(config)
  flat = {key: value for key, value in flatten_config(config).items()
          if key.split('.')[0] not in _OWNED_SECTIONS}
  unknown = sorted(set(flat) - set(schema) - {'name'})
  if unknown:
    hints = []
    for key in unknown:
      close = difflib.get_close_matches(key, list(schema), n=1)
      hints.append(f'{key}' + (f' (did you mean {close[0]}?)' if close else ''))
    raise ConfigError(f'{source}: unknown key(s): {", ".join(hints)}.')
  problems = []
  for key, allowed in _CHOICES.items():
    if key in flat and flat[key] not in allowed:
      problems.append(f'{key}={flat[key]!r} (expected one of {", ".join(allowed)})')
  for key in _POSITIVE:
    value = flat.get(key)
    if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool)
                              or value < 1 or int(value) != value):
      problems.append(f'{key}={value!r} (expected a whole number >= 1)')
  for key in _NOT_NEGATIVE:
    value = flat.get(key)
    if value is not None and (not isinstance(value, (int, float)) or value < 0):
      problems.append(f'{key}={value!r} (expected a number >= 0)')
  cap = flat.get('data.max_windows_per_sequence')
  if isinstance(cap, float) and int(cap) != cap:
    problems.append(f'data.max_windows_per_sequence={cap!r} (expected a whole number; 0 or None '
                    'keeps every window)')
  for key in ('model.enc_rnn_size', 'model.dec_rnn_size', 'model.conductor_rnn_size'):
    value = flat.get(key)
    may_be_empty = key == 'model.conductor_rnn_size'  # () means dec_rnn_size
    if value is not None and (not isinstance(value, (list, tuple)) or (not value and not may_be_empty)
                              or any(not isinstance(v, int) or isinstance(v, bool) or v < 1
                                     for v in value)):
      problems.append(f'{key}={value!r} (expected a {"" if may_be_empty else "non-empty "}list of '
                      'layer sizes >= 1)')
  segment_bars, slice_bars = flat.get('model.segment_bars'), flat.get('data.slice_bars')
  if (isinstance(segment_bars, int) and isinstance(slice_bars, int) and segment_bars >= 1
      and slice_bars % segment_bars):
    problems.append(f'model.segment_bars={segment_bars} (expected a divisor of data.slice_bars='
                    f'{slice_bars})')
  keep = flat.get('model.dropout_keep_prob')
  if keep is not None and not 0 < keep <= 1:
    problems.append(f'model.dropout_keep_prob={keep!r} (expected a number in (0, 1])')
  if flat.get('train.learning_rate', 1) <= 0:
    problems.append(f'train.learning_rate={flat["train.learning_rate"]!r} (expected > 0)')
  for key in ('train.decay_rate', 'model.beta_rate'):
    value = flat.get(key)
    if value is not None and not 0 <= value <= 1:
      problems.append(f'{key}={value!r} (expected a number in [0, 1])')
  rules = flat.get('train.init_rename')
  if rules:
    from music_vae_lite.training import renames  # pylint: disable=g-import-not-at-top
    try:
      renames.parse(rules)
    except ValueError as e:
      problems.append(f'train.init_rename: {e}')
  fraction = flat.get('data.eval_fraction')
  if fraction is not None and not 0 <= fraction < 1:
    problems.append(f'data.eval_fraction={fraction!r} (expected a number in [0, 1))')
  if problems:
    raise ConfigError(f'{source}: bad value(s): {"; ".join(problems)}.')
  _check_family(config, source)
  missing = sorted(set(schema) - set(flat))
  if missing:
    with config.unlocked():
      for key in missing:
        section, name = key.split('.', 1)
        setattr(config[section], name, schema[key])
  return config


def _check_family(config, source):
  """The family checks its options (config.family, filled in with its defaults) and the data
  settings it is built from."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  family = contract.converter_class(config.data.encoding)
  try:
    options = family.options(config.family)
    contract.get_converter(config)
  except ValueError as e:
    raise ConfigError(f'{source}: {e}') from e
  with config.unlocked():
    config.family = ml_collections.ConfigDict(options)


def load_run_config(run_dir):
  """The config a run was trained with (`run_dir/config.json`), as a checked ConfigDict.

  RunDirError when the file is missing or not JSON, ConfigError when a key or value is wrong."""
  path = os.path.join(run_dir, RUN_CONFIG_FILE)
  if not os.path.isfile(path):
    raise files.RunDirError(f'{run_dir!r} has no {RUN_CONFIG_FILE}: it is not a music_vae_lite run '
                            'directory (pass the directory given to mvl_train as --run_dir).')
  try:
    with open(path) as f:
      config = ml_collections.ConfigDict(json.load(f))
  except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as e:
    raise files.RunDirError(f'{path} is not a valid config file: {e}.') from e
  return validate(config, path)
