"""The original's `groovae_2bar_hits_control` (4,131,099 parameters): 2-bar drum performances
whose hits are given: the decoder reads the true hits as a 9-wide control at every step
(hits_as_controls) and learns their velocities and offsets. The original's config is named
`groovae_2bar_hits_control_tfds`; its README and checkpoint call it groovae_2bar_hits_control.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction): encoder 2 * (27 + 9 + 512 + 1) * 2048 =
2,248,704 (the encoder reads the 9 controls after the 27 inputs), mu and sigma
2 * (1024 * 256 + 256) = 524,800; decoder initial state 256 * 1024 + 1024 = 263,168, cell 0
(27 + 256 + 9 + 256 + 1) * 1024 = 562,176 (previous values, z, controls, h), cell 1
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
  config = base.get_groove_config('groovae_2bar_hits_control')
  config.family.hits_as_controls = True
  return config
