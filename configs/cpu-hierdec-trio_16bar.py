"""A hierarchical 16-bar trio model sized for a 2-core CPU (not an original config).

Same architecture as `hierdec-trio_16bar` (conductor over one core decoder per part: melody, bass,
drums; teacher forcing), narrower. No transposition: the original's trio configs have no
augmenter.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cpu-hierdec-trio_16bar'
  config.data.encoding = 'trio'
  config.data.slice_bars = 16
  config.family.gap_bars = 2
  config.model.decoder = 'hierarchical'
  config.decoder.split_parts = True
  config.model.z_size = 128
  config.model.enc_rnn_size = (256,)
  config.model.dec_rnn_size = (256, 256)
  config.model.free_bits = 64.0
  config.model.max_beta = 0.2
  config.train.batch_size = 32
  config.train.decay_rate = 0.9995
  config.train.num_steps = 3000
  config.train.checkpoint_every = 500
  config.train.eval_every = 500
  config.train.image_every = 500
  return config
