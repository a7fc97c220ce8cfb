"""The original's `cat-drums_2bar_big` (137,582,080 parameters): 2-bar drum patterns, 512-way
output, 10-wide roll input, at cat-mel_2bar_big's sizes; for GPUs.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction): encoder 2 * (10 + 2048 + 1) * 8192 =
33,734,656, mu and sigma 2 * (4096 * 512 + 512) = 4,195,328; decoder initial state
512 * 12,288 + 12,288 = 6,303,744, cell 0 (512 + 512 + 2048 + 1) * 8192 = 25,174,016 (previous
class, z, h), cells 1 and 2 2 * (2048 + 2048 + 1) * 8192 = 67,125,248, output projection
2048 * 512 + 512 = 1,049,088.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cat-drums_2bar_big'
  config.data.encoding = 'drums'
  config.data.slice_bars = 2
  config.model.z_size = 512
  config.model.enc_rnn_size = (2048,)
  config.model.dec_rnn_size = (2048, 2048, 2048)
  config.model.free_bits = 48.0
  config.model.max_beta = 0.2
  config.model.sampling_schedule = 'inverse_sigmoid'
  config.model.sampling_rate = 1000.0
  return config
