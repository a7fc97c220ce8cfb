"""A tiny 16-bar melody model with a hierarchical decoder, for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  return base.get_tiny_config('tiny-hierdec-mel_16bar', 'melody', 16, 'hierarchical')
