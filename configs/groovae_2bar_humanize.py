"""The original's `groovae_2bar_humanize` (4,085,019 parameters): 2-bar drum performances (hits,
velocities, timing offsets of 9 drum classes) from quantized, flat-velocity input, with the
GrooVAE decoder.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction): encoder 2 * (27 + 512 + 1) * 2048 =
2,211,840, mu and sigma 2 * (1024 * 256 + 256) = 524,800; decoder initial state
256 * 1024 + 1024 = 263,168, cell 0 (27 + 256 + 256 + 1) * 1024 = 552,960, cell 1
(256 + 256 + 1) * 1024 = 525,312, output projection 256 * 27 + 27 = 6,939.

Differs from the original: it trains with dropout (keep probability 0.3) on every LSTM layer's
input, which this model does not have yet; and it reads inference input with the reduced drum
map, where this config reads everything with the Roland map it trains on (families/groove.py).
The original trains on the Groove MIDI Dataset (tfds groove/2bar-midionly); give
`mvl_train --examples` a folder of drum MIDI with velocities and timing.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'groovae_2bar_humanize'
  config.data.encoding = 'groove'
  config.data.slice_bars = 2
  config.data.max_windows_per_sequence = 20  # the original's max_tensors_per_notesequence
  config.family.humanize = True
  config.model.decoder = 'groove'
  config.model.z_size = 256
  config.model.enc_rnn_size = (512,)
  config.model.dec_rnn_size = (256, 256)
  config.model.free_bits = 48.0
  config.model.max_beta = 0.2
  return config
