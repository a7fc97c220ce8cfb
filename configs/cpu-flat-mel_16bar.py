"""A flat 16-bar melody model sized for a 2-core CPU (not an original config): the baseline that
`cpu-hierdec-mel_16bar` is compared with (`benchmarks/quality.py --compare_config`), as the paper
compares `flat-mel_16bar` with `hierdec-mel_16bar`.

Everything but the decoder is `cpu-hierdec-mel_16bar`'s (encoder, z, KL schedule, training): one
LSTM decoder over all 256 steps, as wide as the hierarchical model's bar decoder, so that the two
differ only in the conductor and in where the decoder's state is reset.
"""
import importlib


def get_config():
  config = importlib.import_module('music_vae_lite.configs.cpu-hierdec-mel_16bar').get_config()
  config.name = 'cpu-flat-mel_16bar'
  config.model.decoder = 'flat'
  config.model.encoder = 'bidirectional'
  config.model.segment_bars = 1
  config.model.conductor_rnn_size = ()
  return config
