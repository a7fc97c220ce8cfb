"""A tiny model for tests and smoke runs: seconds per hundred steps on a CPU (not an original config)."""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'tiny-drums_2bar'
  config.data.encoding = 'drums'
  config.data.slice_bars = 2
  config.model.decoder = 'flat'
  config.model.z_size = 8
  config.model.enc_rnn_size = [32]
  config.model.dec_rnn_size = [32, 32]
  config.model.max_beta = 0.2
  config.train.batch_size = 8
  config.train.num_steps = 20
  config.train.log_every = 5
  config.train.summary_every = 5
  config.train.image_every = 10
  config.train.checkpoint_every = 10
  config.train.keep_checkpoints = 2
  config.train.eval_every = 10
  config.train.eval_batches = 2
  return config
