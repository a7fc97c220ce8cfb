"""The network a config describes and how it computes: shared by training and inference.

Training (train.py) and inference (inference.py, trained_model.py) both build the MusicVAE from a
config here, so that inference never imports the training loop (its optimizer, distribution
strategy and summaries).
"""
import functools

import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.nn import models
from music_vae_lite.nn.decoders import registry as decoder_registry

# CPU flags (Linux /proc/cpuinfo) of the x86 extensions that multiply bfloat16 in hardware.
NATIVE_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')


@functools.lru_cache(maxsize=None)
def native_bf16_cpu(cpuinfo='/proc/cpuinfo'):
  """The CPU flag by which this machine multiplies bfloat16 in hardware ('avx512_bf16' or
  'amx_bf16', from the `flags` line of `cpuinfo`), or None.

  Without either (older x86 such as AMD Zen 2-3 or Intel before Cooper Lake, other systems, or no
  /proc/cpuinfo) TensorFlow still runs bfloat16 matmuls, but by converting to float32: slower
  than float32 itself.
  """
  try:
    with open(cpuinfo) as f:
      for line in f:
        if line.startswith('flags'):
          flags = set(line.split(':', 1)[1].split())
          return next((flag for flag in NATIVE_BF16_FLAGS if flag in flags), None)
  except OSError:
    pass
  return None


def compute_dtype(train_config):
  """The matmul dtype of a config: bfloat16 under `mixed_precision`, or with
  `bf16_on_native_cpu` when the model runs on a CPU that multiplies bfloat16 natively (no GPU
  visible, `native_bf16_cpu()`); else float32."""
  if train_config.mixed_precision:
    return tf.bfloat16
  if (train_config.get('bf16_on_native_cpu', False) and native_bf16_cpu()
      and not tf.config.list_physical_devices('GPU')):
    return tf.bfloat16
  return tf.float32


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
