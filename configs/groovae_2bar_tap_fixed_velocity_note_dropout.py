"""The original's `groovae_2bar_tap_fixed_velocity_note_dropout` (4,085,019
parameters): groovae_2bar_tap_fixed_velocity, trained with note dropout (max_note_dropout_probability
0.8: each training window drops the input's hits with a probability drawn up to 0.8, soft ones
first), so that it makes a full kit from sparse taps.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction): encoder 2 * (27 + 512 + 1) * 2048 =
2,211,840, mu and sigma 2 * (1024 * 256 + 256) = 524,800; decoder initial state
256 * 1024 + 1024 = 263,168, cell 0 (27 + 256 + 256 + 1) * 1024 = 552,960, cell 1
(256 + 256 + 1) * 1024 = 525,312, output projection 256 * 27 + 27 = 6,939.

As the original, it trains with dropout (keep probability 0.3) on every LSTM layer's input, in the
encoder and the decoder, and with teacher forcing. Differs from the original: it reads inference
input with the Roland drum map it trains on, where the original reads it with the reduced map
(families/groove.py). The original trains on the Groove MIDI Dataset (tfds
groove/2bar-midionly); give `mvl_train --examples` a folder of drum MIDI with velocities and
timing.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_groove_config('groovae_2bar_tap_fixed_velocity_note_dropout')
  config.family.tapify = True
  config.family.fixed_velocities = True
  config.family.max_note_dropout_probability = 0.8
  return config
