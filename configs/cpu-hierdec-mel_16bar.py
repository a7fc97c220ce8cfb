"""A hierarchical 16-bar melody model sized for a 2-core CPU (not an original config).

Same architecture as `hierdec-mel_16bar` (conductor + per-bar decoder, teacher forcing), narrower.
Trained with the 2-bar recipe's schedule (benchmarks/README.md, "Model quality"; issue #9): no
transposition, learning rate 3e-3 decaying by 0.9999 per step (was 1e-3 by 0.9995), and beta ramped
from 0 by 0.9995 per step (was 0.2 from step 0). The old recipe's posterior had collapsed after 300
steps (0 active units, teacher-forced accuracy 0.554); with this one, 31 of 128 dimensions are
active by step 600 and all 128 by step 1,000 (teacher-forced 0.630 / 0.683, sampled 0.479 / 0.496,
note-on 0.254 / 0.385 at steps 600 / 2,000; -ELBO 1.35 nats per step, below the trigram's 1.418).
Every 16-bar window of a tune instead of 5 made no difference at 2,000 steps, and neither did the
2-bar model's KL weight and decoder (max_beta 0.05, no free bits, one 512-wide layer: 0.679 / 0.537
at 2,000 steps, at about 1.4x the time per step).
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cpu-hierdec-mel_16bar'
  config.data.slice_bars = 16
  config.data.transpose = 0
  config.model.decoder = 'hierarchical'
  config.model.z_size = 128
  config.model.enc_rnn_size = [256]
  config.model.dec_rnn_size = [256, 256]
  config.model.free_bits = 64.0
  config.model.max_beta = 0.2
  config.model.beta_rate = 0.9995
  config.train.batch_size = 32
  config.train.learning_rate = 3e-3
  config.train.decay_rate = 0.9999
  config.train.num_steps = 3000
  config.train.checkpoint_every = 500
  config.train.eval_every = 500
  config.train.image_every = 500
  return config
