"""The original's `flat-trio_16bar` (251,279,028 parameters): 16-bar trios (melody, bass, drums;
90 + 90 + 512 classes, 692-wide one-hot input), a bidirectional encoder and one flat 3-layer
decoder over all three parts (the original's MultiOutCategoricalLstmDecoder: its step input is the
previous step's three one-hots side by side, 692 wide, plus z; its output is 692 logits, one
softmax per part).

Parameters, from the original's shapes (LSTM layer: (input + units) * 4 units + 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction):
- encoder 149,783,552: layer 0 2 * (692 + 2048 + 1) * 8192 = 44,908,544; layer 1
  2 * (4096 + 2048 + 1) * 8192 = 100,679,680; mu and sigma 2 * (4096 * 512 + 512) = 4,195,328.
- decoder 101,495,476: initial state 512 * 12288 + 12288 = 6,303,744; cell 0
  (692 + 512 + 2048 + 1) * 8192 = 26,648,576; cells 1 and 2 (2048 + 2048 + 1) * 8192 = 33,562,624
  each; output projection 2048 * 692 + 692 = 1,417,908.
Total 251,279,028 (about 251.3 M; the same formula gives the reference's 235.3 M for
flat-mel_16bar).
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'flat-trio_16bar'
  config.data.encoding = 'trio'
  config.data.slice_bars = 16
  config.family.gap_bars = 2
  config.model.encoder = 'bidirectional'
  config.model.decoder = 'flat'
  config.model.z_size = 512
  config.model.enc_rnn_size = (2048, 2048)
  config.model.dec_rnn_size = (2048, 2048, 2048)
  config.model.free_bits = 0.0  # the original's defaults: no free bits, beta 1
  config.model.max_beta = 1.0
  config.train.batch_size = 256
  return config
