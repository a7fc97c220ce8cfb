"""A 2-bar GrooVAE humanize model sized to train on a 2-core CPU (not an original config).

`groovae_2bar_humanize`'s family and objective (humanize, free bits 48, beta 0.2, teacher forcing,
dropout keep probability 0.3), with the size and recipe changed for short CPU runs:
- the encoder 256 wide per direction instead of 512 and z of 128 instead of 256: the encoder is
  over half of the original's parameters and of its cost per window (a bidirectional layer reads
  every step twice), while a groove window (27 values per step, mostly zeros) holds far less than
  a 512-wide encoder or 256 latent dimensions can carry; the decoder keeps the original's two
  layers of 256, which write the velocities and offsets;
- batch 32 and learning rate 3e-3 (decaying by 0.9999 per step), the recipe measured for
  cpu-mel_2bar (benchmarks/README.md, "Model quality"): more updates for the same CPU time;
- the original's dropout is kept: its drum corpus (the Groove MIDI Dataset, 13.6 hours) is
  small, and a drum folder of your own is likely smaller.
No drum corpus is bundled, so this recipe is not tuned on held-out drums as cpu-mel_2bar's was;
its cost per training window is measured in benchmarks/README.md ("GrooVAE").

Parameters: encoder 2 * (27 + 256 + 1) * 1024 = 581,632, mu and sigma 2 * (512 * 128 + 128) =
131,328; decoder initial state 128 * 1024 + 1024 = 132,096, cell 0 (27 + 128 + 256 + 1) * 1024 =
421,888, cell 1 (256 + 256 + 1) * 1024 = 525,312, output projection 256 * 27 + 27 = 6,939:
1,799,195 in all.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_groove_config('cpu-groove_2bar')
  config.family.humanize = True
  config.model.z_size = 128
  config.model.enc_rnn_size = (256,)
  config.train.batch_size = 32
  config.train.learning_rate = 3e-3
  config.train.num_steps = 20000
  config.train.eval_every = 500
  return config
