"""The original's `hierdec-trio_16bar` (230,975,156 parameters): 16-bar trios (melody, bass, drums;
90 + 90 + 512 classes, 692-wide one-hot input), a bidirectional encoder, and the conductor over
three core decoders, one per part, each fed only its own previous token plus the bar embedding.

Parameters, from the original's shapes (LSTM layer: (input + units) * 4 units + 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction):
- encoder 149,783,552: layer 0 2 * (692 + 2048 + 1) * 8192 = 44,908,544; layer 1
  2 * (4096 + 2048 + 1) * 8192 = 100,679,680; mu and sigma 2 * (4096 * 512 + 512) = 4,195,328.
- conductor 14,696,448: initial state 512 * 4096 + 4096 = 2,101,248; cell 0 (1 + 1024 + 1) * 4096
  = 4,202,496 (its step input is a 1-wide zero); cell 1 (1024 + 1024 + 1) * 4096 = 8,392,704.
- core decoders 66,495,156, each: initial state from the bar embedding 1024 * 4096 + 4096 =
  4,198,400; cell 0 (depth + 1024 + 1024 + 1) * 4096; cell 1 8,392,704; output projection
  1025 * depth. Melody and bass (depth 90): 4,198,400 + 8,761,344 + 8,392,704 + 92,250 =
  21,444,698 each; drums (depth 512): 4,198,400 + 10,489,856 + 8,392,704 + 524,800 = 23,605,760.
Total 149,783,552 + 14,696,448 + 66,495,156 = 230,975,156 (the reference's 231.0 M; the same
formula gives 835,956 for the sizes of ../shared/magenta_fixtures/hierdec-trio_16bar, its
checkpoint's count).
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'hierdec-trio_16bar'
  config.data.encoding = 'trio'
  config.data.slice_bars = 16
  config.family.gap_bars = 2
  config.model.encoder = 'bidirectional'
  config.model.decoder = 'hierarchical'
  config.decoder.split_parts = True
  config.model.z_size = 512
  config.model.enc_rnn_size = (2048, 2048)
  config.model.dec_rnn_size = (1024, 1024)
  config.model.free_bits = 256.0
  config.model.max_beta = 0.2
  config.train.batch_size = 256
  return config
