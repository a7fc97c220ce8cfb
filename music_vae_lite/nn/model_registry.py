"""The network a config describes and how it computes: shared by training and inference.

Training (train.py) and inference (inference.py, trained_model.py) both build the MusicVAE from a
config here, so that inference never imports the training loop (its optimizer, distribution
strategy and summaries).
"""
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.nn import models
from music_vae_lite.nn.decoders import registry as decoder_registry


def compute_dtype(train_config):
  """The matmul dtype the model was trained in: bfloat16 under mixed precision, else float32."""
  return tf.bfloat16 if train_config.mixed_precision else tf.float32


def use_fused_kernels(train_config):
  # The fused LSTM kernel (BlockLSTM) has no XLA implementation; the step-wise path compiles.
  return train_config.fused_lstm and not train_config.jit_compile


def check_decoder_options(config):
  """The decoder's options (`config.decoder`, checked by the decoder config.model.decoder names);
  config_lib.ConfigError naming the option otherwise. (config_lib.validate checks everything else
  before TensorFlow loads; decoders need it.)"""
  try:
    return decoder_registry.decoder_class(config.model.decoder).options(config.get('decoder'))
  except ValueError as e:
    raise config_lib.ConfigError(f'{config.get("name") or "the config"}: {e}') from e


def build_model(config, converter=None):
  """The MusicVAE described by `config` (its weights initialised from config.train.seed): an
  encoder and the decoder config.model.decoder names, for the converter's family
  (registry.ENCODINGS names the converter of every family)."""
  check_decoder_options(config)
  converter = converter or contract.get_converter(config)
  return models.MusicVAE(config.model, converter, seed=config.train.seed,
                         decoder_config=config.get('decoder'))
