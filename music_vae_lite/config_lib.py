"""Finds and loads named configs: `--config=cat-mel_2bar_small` or `--config=path/to/config.py`."""
import importlib.resources
import importlib.util
import os

import ml_collections

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
