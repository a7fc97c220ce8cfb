"""A tiny 16-bar trio model (conductor over one core decoder per part), for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_tiny_config('tiny-trio_16bar', 'trio', 16, 'hierarchical')
  config.family.gap_bars = 2
  config.decoder.split_parts = True
  return config
