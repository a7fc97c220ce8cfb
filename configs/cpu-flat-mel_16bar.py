"""A flat 16-bar melody model for a 2-core CPU (not an original config): the baseline that
`cpu-hier-mel_16bar` is compared with (`benchmarks/quality.py --compare_config`), as the paper
compares `flat-mel_16bar` with `hierdec-mel_16bar`.

It is the quick start's `cpu-mel_2bar` over 256 steps instead of 32 (one bidirectional encoder
layer 256 wide, z of 256, one decoder LSTM 512 wide), with the same data and training schedule as
`cpu-hier-mel_16bar`, so that the same 2-bar run starts every one of its weights
(`--init_from=runs/quickstart`, no renaming): the strongest flat model the same start and the same
wall time give. (A flat model with the hierarchical one's z of 512 could restore only the encoder
and output layer: its decoder's input is wider.)
"""
import importlib


def get_config():
  config = importlib.import_module('music_vae_lite.configs.cpu-hier-mel_16bar').get_config()
  config.name = 'cpu-flat-mel_16bar'
  config.model.encoder = 'bidirectional'
  config.model.decoder = 'flat'
  config.model.segment_bars = 1
  config.model.z_size = 256
  config.model.conductor_rnn_size = []
  config.decoder = type(config.decoder)()  # the conductor's projection: no conductor here
  # No opening (it trains a hierarchical encoder and a conductor); a teacher cannot teach it.
  config.train.conductor_opening_steps = 0
  config.train.init_rename = ()
  return config
