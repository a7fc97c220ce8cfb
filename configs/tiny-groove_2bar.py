"""A tiny 2-bar GrooVAE model (humanize) for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_tiny_config('tiny-groove_2bar', 'groove', 2, 'groove')
  config.data.max_windows_per_sequence = 20
  config.family.humanize = True
  return config
