"""A tiny 2-bar drums model with a flat decoder, for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  return base.get_tiny_config('tiny-drums_2bar', 'drums', 2, 'flat')
