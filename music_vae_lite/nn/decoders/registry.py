"""The registry of decoders: config.model.decoder -> the decoder class that implements it.

Adding a decoder is one line here (plus its module beside this one, one per output
distribution). Kept free of imports, like the family registry, so that a config can be checked
before TensorFlow loads; `decoder_class` imports the named module on use.
"""
import importlib

DECODERS = {
    'flat': 'music_vae_lite.nn.decoders.categorical:FlatDecoder',
    'hierarchical': 'music_vae_lite.nn.decoders.categorical:HierarchicalDecoder',
    'groove': 'music_vae_lite.nn.decoders.groove:GrooveDecoder',
    'nade': 'music_vae_lite.nn.decoders.nade:NadeDecoder',
}


def decoder_class(name):
  """The decoder class registered as `name` (config.model.decoder), its module imported."""
  if name not in DECODERS:
    raise ValueError(f'config.model.decoder must be one of {", ".join(sorted(DECODERS))}, not '
                     f'{name!r}.')
  module_name, class_name = DECODERS[name].split(':')
  return getattr(importlib.import_module(module_name), class_name)
