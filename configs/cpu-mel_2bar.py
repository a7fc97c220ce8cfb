"""A 2-bar melody model sized to train to useful quality on a 2-core CPU in minutes to an hour.

Not an original config. Same architecture as `cat-mel_2bar_small`, narrower, with a smaller batch and
schedules shortened to match a run of a few thousand steps instead of 50k.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cpu-mel_2bar'
  config.data.slice_bars = 2
  config.data.transpose = 5
  config.model.z_size = 128
  config.model.enc_rnn_size = [256]
  config.model.dec_rnn_size = [256, 256]
  config.model.max_beta = 0.2
  config.model.beta_rate = 0.9995
  config.model.sampling_schedule = 'inverse_sigmoid'
  config.model.sampling_rate = 200.0
  config.train.batch_size = 128
  config.train.decay_rate = 0.9995
  config.train.num_steps = 3000
  config.train.checkpoint_every = 500
  config.train.eval_every = 500
  config.train.image_every = 500
  return config
