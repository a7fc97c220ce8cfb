"""The original's `cat-drums_2bar_small`: 2-bar drum patterns, 512-way output, 10-wide roll input."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cat-drums_2bar_small'
  config.data.encoding = 'drums'
  config.data.slice_bars = 2
  config.model.z_size = 256
  config.model.enc_rnn_size = (512,)
  config.model.dec_rnn_size = (256, 256)
  config.model.free_bits = 48.0
  config.model.max_beta = 0.2
  config.model.sampling_schedule = 'inverse_sigmoid'
  config.model.sampling_rate = 1000.0
  return config
