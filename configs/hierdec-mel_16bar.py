"""The original's `hierdec-mel_16bar` (176.1 M parameters): 16-bar melodies, conductor + bar decoder."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'hierdec-mel_16bar'
  config.data.slice_bars = 16
  config.model.decoder = 'hierarchical'
  config.model.z_size = 512
  config.model.enc_rnn_size = (2048, 2048)
  config.model.dec_rnn_size = (1024, 1024)
  config.model.free_bits = 256.0
  config.model.max_beta = 0.2
  return config
