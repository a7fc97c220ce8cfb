"""The original's `cat-mel_2bar_med_chords` (17,478,234 parameters): 2-bar melodies conditioned on
chords (49 triad classes per step, `music_vae_lite.families.chords`), flat decoder, teacher forcing.

As the original: the chord one-hot is appended to the encoder input (90 + 49 = 139 wide) and to
every decoder step input after z (90 + 256 + 49 = 395 wide); transposition (-3, 3) moves the
chords with the melody; no program filter. Parameter count from the original's shapes (an
LSTMBlockCell layer of input i and size h has (i + h) * 4h + 4h parameters):
  encoder, bidirectional [1024]: 2 * ((139 + 1024) * 4096 + 4096)      =  9,535,488
  mu and sigma, 2048 -> 256:     2 * (2048 * 256 + 256)                 =  1,049,088
  decoder cell 0, input 395:     (395 + 512) * 2048 + 2048              =  1,859,584
  decoder cells 1 and 2:         2 * ((512 + 512) * 2048 + 2048)        =  4,198,400
  z_to_initial_state:            256 * (3 * 2 * 512) + 3072             =    789,504
  output_projection:             512 * 90 + 90                          =     46,170
  total                                                                 = 17,478,234
(The same arithmetic gives `cat-mel_2bar_small`'s 4,423,770, which magenta-js's checkpoint size
confirms.) The original truncates melodies to 100 bars before slicing (`max_bars`); we do not.
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'cat-mel_2bar_med_chords'
  config.data.encoding = 'melody_chords'
  config.data.slice_bars = 2
  config.data.transpose = 3
  config.model.z_size = 256
  config.model.enc_rnn_size = (1024,)
  config.model.dec_rnn_size = (512, 512, 512)
  config.model.free_bits = 0.0
  config.model.max_beta = 1.0
  config.model.beta_rate = 0.0
  config.model.sampling_schedule = 'constant'
  config.model.sampling_rate = 0.0
  return config
