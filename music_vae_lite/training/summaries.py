"""TensorBoard summaries of a run: scalars, the config as text, piano-roll images.

Train summaries go to run_dir/train, evaluation summaries to run_dir/eval, as in the original.
Scalar names follow the original (reference section 2.3): `loss`, `losses/r_loss`, `losses/kl_loss`,
`losses/kl_bits`, `losses/kl_beta`, `learning_rate`, `global_norm`, `sampling_probability`. Unlike
the original we also write `metrics/accuracy` (teacher-forced, or with the scheduled-sampling
probability of the step) during training, and evaluation adds note-on accuracies, the number of
active latent units and a histogram of the KL per z dimension (train.EVAL_METRICS, EVAL_HISTOGRAMS),
which show underfitting and posterior collapse. Only the chief of a multi-worker run writes summaries.
"""
import json
import os

import numpy as np
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib


class Writers:
  """The train and eval summary writers of a run directory (no-op writers when not the chief)."""

  def __init__(self, run_dir, enabled=True):
    self.enabled = enabled
    if enabled:
      self.train = tf.summary.create_file_writer(os.path.join(run_dir, checkpoints.TRAIN_DIR))
      self.eval = tf.summary.create_file_writer(os.path.join(run_dir, checkpoints.EVAL_DIR))
    else:
      self.train = self.eval = tf.summary.create_noop_writer()

  def flush(self):
    self.train.flush()
    self.eval.flush()

  def close(self):
    self.train.close()
    self.eval.close()


def write_scalars(writer, step, scalars):
  """Writes {name: number or scalar tensor} at `step`."""
  with writer.as_default(step=int(step)):
    for name, value in scalars.items():
      tf.summary.scalar(name, float(np.asarray(value)))


def write_histograms(writer, step, histograms):
  """Writes {name: 1-D array} at `step` as histograms of its values (e.g. KL per z dimension)."""
  with writer.as_default(step=int(step)):
    for name, values in histograms.items():
      tf.summary.histogram(name, np.asarray(values, np.float64))


def write_images(writer, step, images):
  """Writes {name: uint8 image [H, W, 3]} at `step`, PNG-encoded."""
  with writer.as_default(step=int(step)):
    for name, image in images.items():
      tf.summary.image(name, np.asarray(image, np.uint8)[np.newaxis])


def config_markdown(config):
  """The config as a two-column markdown table (TensorBoard renders text summaries as markdown)."""
  rows = ['| key | value |', '|---|---|']
  for key, value in sorted(config_lib.flatten_config(config).items()):
    rows.append(f'| `{key}` | `{json.dumps(value)}` |')
  return '\n'.join(rows)


def write_run_description(writer, step, config, examples):
  """The config and the examples path as text summaries (like the original's `hparams` and
  `examples_path`)."""
  with writer.as_default(step=int(step)):
    tf.summary.text('config', config_markdown(config))
    tf.summary.text('examples_path', str(examples))
