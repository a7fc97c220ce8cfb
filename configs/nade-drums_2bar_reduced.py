"""The original's `nade-drums_2bar_reduced` (13,819,273 parameters): 2-bar drum patterns as a roll
of the 9 reduced drum classes, written by an LSTM decoder with an RNN-NADE output layer, so the
drums of a step are predicted jointly.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction; D = 9 drum classes, H = 128 NADE hidden
units): encoder 2 * (10 + 1024 + 1) * 4096 = 8,478,720, mu and sigma 2 * (2048 * 256 + 256) =
1,049,088; decoder initial state 256 * 2048 + 2048 = 526,336, cell 0 (9 + 256 + 512 + 1) * 2048
= 1,593,344, cell 1 (512 + 512 + 1) * 2048 = 2,099,200, output projection (the NADE's biases)
512 * (128 + 9) + 137 = 70,281, NADE weights 2 * 9 * 128 = 2,304.

No drum corpus comes with this library: give `mvl_train --examples` a folder of drum MIDI. Its
log-likelihood is exact where the original's adds 1e-6 inside each log (nn/decoders/nade.py).
"""
from music_vae_lite.configs import base


def get_config():
  config = base.get_base_config()
  config.name = 'nade-drums_2bar_reduced'
  config.data.encoding = 'drum_roll'
  config.data.slice_bars = 2
  config.family.drum_map = 'reduced'
  config.model.decoder = 'nade'
  config.decoder.nade_num_hidden = 128
  config.model.z_size = 256
  config.model.enc_rnn_size = (1024,)
  config.model.dec_rnn_size = (512, 512)
  config.model.free_bits = 48.0
  config.model.max_beta = 0.2
  config.model.sampling_schedule = 'inverse_sigmoid'
  config.model.sampling_rate = 1000.0
  return config
