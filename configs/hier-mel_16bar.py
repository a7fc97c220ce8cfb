"""The original's `hier-mel_16bar` (72.5 M parameters): 16-bar melodies with a hierarchical encoder
(a bidirectional LSTM per bar, then one over the 16 bar encodings) and the conductor decoder.
Magenta.js expects this encoder of 16-bar models."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'hier-mel_16bar'
  config.data.slice_bars = 16
  config.model.encoder = 'hierarchical'
  config.model.decoder = 'hierarchical'
  config.model.z_size = 512
  config.model.enc_rnn_size = (1024,)
  config.model.dec_rnn_size = (1024, 1024)
  config.model.free_bits = 256.0
  config.model.max_beta = 0.2
  return config
