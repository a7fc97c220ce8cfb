"""The original's `cat-mel_2bar_small`: 2-bar melodies, flat decoder, scheduled sampling."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cat-mel_2bar_small'
  config.data.slice_bars = 2
  config.data.transpose = 5
  config.model.z_size = 256
  config.model.enc_rnn_size = (512,)
  config.model.dec_rnn_size = (256, 256)
  config.model.max_beta = 0.2
  config.model.beta_rate = 0.99999
  config.model.sampling_schedule = 'inverse_sigmoid'
  config.model.sampling_rate = 1000.0
  return config
