"""The 16-bar melody model to train on a 2-core CPU (not an original config): a hierarchical encoder
and decoder shaped so that the quick start's 2-bar model (`cpu-mel_2bar`) starts it and teaches it.

    mvl_train --config=cpu-hier-mel_16bar --init_from=runs/quickstart \
        --config.train.conductor_teacher=runs/quickstart ...

The successor of `cpu-hierdec-mel_16bar` (issue #19; benchmarks/README.md, "16 bars", has every
lever measured). Its shape follows the 2-bar model, so that train.init_rename can map that model's
weights onto it:
- segments of 2 bars (model.segment_bars; the original's hier-mel_16bar uses 2-bar segments in its
  encoder too): the encoder's first level reads 2 bars at a time with the 2-bar model's encoder
  cells, a second level (new) reads the 8 segment states;
- a conductor 512 wide whose linear projection (decoder.conductor_projection) gives 256-wide
  embeddings, as wide as the 2-bar model's z, so that the 2-bar decoder (one LSTM layer 512 wide,
  its z-to-state layer and output layer) writes each 2-bar segment from the conductor's embedding
  as it wrote a phrase from its z, and the embeddings can reach its codes outside (-1, 1);
- z of 256 dimensions, as wide as the 2-bar model's, so that its q(z|x) layers (mu and sigma)
  start this model's too (the original's 16-bar configs use 512: here 256 won in two seeds,
  benchmarks, tenth round); no free bits and max_beta 0.05 (the 2-bar recipe; the original uses 256
  free bits and beta 0.2), teacher forcing, batch 32, learning rate 3e-3 decaying by 0.9999 per
  step, every 16-bar window of a tune (a bar apart).
The teacher (config.train.conductor_teacher, training/conductor_teacher.py): the 2-bar model's
posterior of each 2-bar segment scores the conductor's embedding for it, first alone for
train.conductor_opening_steps steps (training/conductor_opening.py; about 10 minutes on an idle
2-core Zen 3), then beside the reconstruction at weight 0.05 for the rest of the run.
Trained from scratch the same model's posterior collapses (0 active units by step 1,000); from the
2-bar model every dimension is active from the start.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cpu-hier-mel_16bar'
  config.data.slice_bars = 16
  config.data.transpose = 0
  config.data.max_windows_per_sequence = None
  config.model.encoder = 'hierarchical'
  config.model.decoder = 'hierarchical'
  config.model.segment_bars = 2
  config.model.z_size = 256  # the 2-bar model's: its mu and sigma layers fit (512 lost, tenth round)
  config.model.enc_rnn_size = [256]
  config.model.conductor_rnn_size = [512]
  config.model.dec_rnn_size = [512]
  config.model.free_bits = 0.0
  config.model.max_beta = 0.05
  config.model.beta_rate = 0.9995
  config.decoder.conductor_projection = 256
  config.train.conductor_opening_steps = 3500  # 2,000 lose, 5,000 tie (benchmarks, ninth round)
  config.train.batch_size = 32
  config.train.learning_rate = 3e-3
  config.train.decay_rate = 0.9999
  config.train.num_steps = 3000
  config.train.checkpoint_every = 500
  config.train.eval_every = 500
  config.train.image_every = 500
  # A cpu-mel_2bar run's names onto this model's: its decoder is the bar decoder, its encoder
  # cells read each 2-bar segment (its mu and sigma layers keep their names and load as they are).
  config.train.init_rename = ('^decoder/=core_decoder/decoder/',
                              '^encoder/cell_=encoder/hierarchical_level_0/cell_')
  return config
