"""A tiny 16-bar melody model with the hierarchical encoder and decoder, for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_tiny_config('tiny-hier-mel_16bar', 'melody', 16, 'hierarchical')
  config.model.encoder = 'hierarchical'
  return config
