"""The original's `nade-drums_2bar_full` (14,391,741 parameters; a checkpoint of it is published):
2-bar drum patterns as a roll of 61 drum classes, one per General MIDI drum pitch (the original's
FULL_DRUM_PITCH_CLASSES), written by an LSTM decoder with an RNN-NADE output layer. A step may
strike any of the 2**61 subsets, which no class label can hold; the NADE predicts its bits jointly.

Parameters, from the original's shapes (LSTM layer: (input + units + 1) * 4 units; dense:
inputs * outputs + outputs; encoder sizes per direction; D = 61 classes, H = 128 NADE hidden
units): encoder 2 * (62 + 1024 + 1) * 4096 = 8,904,704, mu and sigma 2 * (2048 * 256 + 256) =
1,049,088; decoder initial state 256 * 2048 + 2048 = 526,336, cell 0 (61 + 256 + 512 + 1) * 2048
= 1,699,840, cell 1 (512 + 512 + 1) * 2048 = 2,099,200, output projection (the NADE's biases)
512 * (128 + 61) + 189 = 96,957, NADE weights 2 * 61 * 128 = 15,616.

No drum corpus comes with this library: give `mvl_train --examples` a folder of drum MIDI. Its
log-likelihood is exact where the original's adds 1e-6 inside each log (nn/decoders/nade.py).
"""
from music_vae_lite import config_lib


def get_config():
  """`nade-drums_2bar_reduced`'s hyperparameters, as in the original, over the full map."""
  config = config_lib.load_config('nade-drums_2bar_reduced')
  config.name = 'nade-drums_2bar_full'
  config.family.drum_map = 'full'
  return config
