"""The original's `hier-trio_16bar` (122,529,460 parameters): 16-bar trios (melody, bass, drums;
90 + 90 + 512 classes, 692-wide one-hot input) with the hierarchical encoder (a bidirectional LSTM
over each bar, then one over the 16 bar encodings) and hierdec-trio's decoder (the conductor over
three core decoders, one per part).

Parameters, from the original's shapes (LSTM layer: (input + units) * 4 units + 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction):
- encoder 41,337,856: bar level 2 * (692 + 1024 + 1) * 4096 = 14,065,664; sequence level (reads
  the 2048-wide bar encodings) 2 * (2048 + 1024 + 1) * 4096 = 25,174,016; mu and sigma
  2 * (2048 * 512 + 512) = 2,098,176.
- conductor 14,696,448 and core decoders 66,495,156, as hierdec-trio_16bar (see its docstring).
Total 41,337,856 + 14,696,448 + 66,495,156 = 122,529,460 (about 122.5 M; the same formula gives
hier-mel_16bar's 72.5 M).
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'hier-trio_16bar'
  config.data.encoding = 'trio'
  config.data.slice_bars = 16
  config.family.gap_bars = 2
  config.model.encoder = 'hierarchical'
  config.model.decoder = 'hierarchical'
  config.decoder.split_parts = True
  config.model.z_size = 512
  config.model.enc_rnn_size = (1024,)
  config.model.dec_rnn_size = (1024, 1024)
  config.model.free_bits = 256.0
  config.model.max_beta = 0.2
  config.train.batch_size = 256
  return config
