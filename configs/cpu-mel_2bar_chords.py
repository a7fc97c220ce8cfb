"""`cpu-mel_2bar` conditioned on chords (not an original config): the same sizes and training
recipe (see configs/cpu-mel_2bar.py for how each choice was measured), with the chord of every
step (49 triad classes, `music_vae_lite.families.chords`) appended to the encoder and decoder inputs, as
`cat-mel_2bar_med_chords` does. Tunes without chord annotations get note_seq's inferred chords.
"""
from music_vae_lite import config_lib


def get_config():
  config = config_lib.load_config('cpu-mel_2bar')
  config.name = 'cpu-mel_2bar_chords'
  config.data.encoding = 'melody_chords'
  return config
