"""A tiny 2-bar NADE drums model (drum roll of the 9 reduced classes) for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_tiny_config('tiny-nade-drums_2bar', 'drum_roll', 2, 'nade')
  config.decoder.nade_num_hidden = 16
  return config
