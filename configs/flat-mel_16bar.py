"""The original's `flat-mel_16bar` (235,250,778 parameters): 16-bar melodies with a flat 3-layer
2048-wide decoder, the paper's baseline for the hierarchical decoder.

Parameters, from the original's shapes (LSTM layer: (input + units) * 4 units + 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction):
- encoder 139,920,384: layer 0 2 * (90 + 2048 + 1) * 8192 = 35,045,376; layer 1
  2 * (4096 + 2048 + 1) * 8192 = 100,679,680; mu and sigma 2 * (4096 * 512 + 512) = 4,195,328.
- decoder 95,330,394: initial state 512 * 12288 + 12288 = 6,303,744; cell 0
  (90 + 512 + 2048 + 1) * 8192 = 21,716,992; cells 1 and 2 (2048 + 2048 + 1) * 8192 = 33,562,624
  each; output projection 2048 * 90 + 90 = 184,410.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'flat-mel_16bar'
  config.data.slice_bars = 16
  config.model.decoder = 'flat'
  config.model.z_size = 512
  config.model.enc_rnn_size = (2048, 2048)
  config.model.dec_rnn_size = (2048, 2048, 2048)
  config.model.free_bits = 256.0
  config.model.max_beta = 0.2
  return config
