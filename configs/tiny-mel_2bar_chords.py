"""A tiny chord-conditioned 2-bar melody model with a flat decoder, for tests and smoke runs."""
from music_vae_lite.configs import base


def get_config():
  return base.get_tiny_config('tiny-mel_2bar_chords', 'melody_chords', 2, 'flat')
