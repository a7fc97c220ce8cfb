"""Exports a trained model to run without music_vae_lite: a TensorFlow SavedModel, or Magenta.js.

SavedModel (`export_saved_model`): the `inference.InferenceModule` of the model, with signatures
`encode` (inputs, lengths, seed -> z, mu, sigma), `decode` (z, temperature, seed -> tokens and
melody_events or drum_hits), `sample` (n, temperature, seed), `interpolate` (z_start, z_end,
num_steps, temperature, seed), `metadata` (-> the encoding and config as JSON) and
`serving_default` (= sample). The same JSON is the asset `assets/music_vae_lite.json`. It loads with
plain `tf.saved_model.load` (TensorFlow Probability is not needed) and in TF Serving.

Magenta.js (`export_magenta_js`): the folder `mm.MusicVAE(url)` of `@magenta/music` loads:
`config.json` (type MusicVAE and the data converter with its arguments), `weights_manifest.json`
and little-endian float32 shards of at most 4 MiB, under the original's variable names
(`MusicVAE.original_variable_names`), the layout Magenta.js reads. Magenta.js runs only some
models; `magenta_js_unsupported_reason` names what stands in the way of the others. Magenta.js
encodes with the posterior mean and decodes without lengths, like our `mu` and full-length windows;
its NoteSequence -> tensor extraction is its own (e.g. its polyphony rule differs from ours), so
compare models on tensors, as tests/serving/test_export.py does.

Both write into a hidden folder beside `output_dir` and rename it into place when complete, so an
interrupted export leaves no partial model, and an existing non-empty folder is never touched.
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from music_vae_lite.families import contract
from music_vae_lite import files

FORMATS = ('saved_model', 'magenta_js')
MAX_SHARD_BYTES = 4 * 1024 * 1024  # tfjs's default shard size; browsers cache files this size
METADATA_ASSET = 'music_vae_lite.json'


class UnsupportedExportError(ValueError):
  """The model cannot be exported to the requested format (the message says why)."""


def _write_into_place(output_dir, write):
  """Runs write(folder) on a hidden staging folder beside output_dir, then renames it into place."""
  output_dir = files.check_new_dir(output_dir, 'export folder')
  parent = os.path.dirname(output_dir)
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f'.{os.path.basename(output_dir)}.partial-', dir=parent)
  try:
    os.chmod(staging, 0o777 & ~files._umask())  # pylint: disable=protected-access
    write(staging)
    if os.path.isdir(output_dir):
      os.rmdir(output_dir)  # empty, checked above
    os.rename(staging, output_dir)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return output_dir


# -------------------------------------------------------------------------------------------------
# SavedModel.


def export_saved_model(trained_model, output_dir):
  """Writes trained_model's inference module as a SavedModel to output_dir; returns the path."""
  module = trained_model.inference

  def write(folder):
    asset_dir = tempfile.mkdtemp(prefix='.assets-', dir=os.path.dirname(folder))
    try:
      asset_path = os.path.join(asset_dir, METADATA_ASSET)
      with open(asset_path, 'w') as f:
        f.write(module.metadata()['metadata_json'].numpy().decode('utf-8'))
      module.metadata_file = tf.saved_model.Asset(asset_path)
      # The LSTM's hand-written gradient (lstm.py) is for training; an inference export drops it.
      tf.saved_model.save(module, folder, signatures=module.signatures(),
                          options=tf.saved_model.SaveOptions(experimental_custom_gradients=False))
    finally:
      if hasattr(module, 'metadata_file'):
        del module.metadata_file  # the live module keeps no link to the deleted file
      shutil.rmtree(asset_dir, ignore_errors=True)

  return _write_into_place(output_dir, write)


# -------------------------------------------------------------------------------------------------
# Magenta.js.


def magenta_js_unsupported_reason(config):
  """Why Magenta.js (@magenta/music 1.x) cannot run this model, in one line; None if it can.

  Its MusicVAE reads one flat bidirectional encoder layer (or, for models with segments, the
  hierarchical encoder), splits the decoder's initial state into equal parts per layer, and knows
  the data converters whose families name one (`magenta_js_converter`: melody, drums and
  GrooVAE's humanize and tapify models)."""
  model = config.model
  name = config.get('name') or 'this model'
  family_reason = contract.get_converter(config).magenta_js_unsupported_reason()
  if family_reason:
    return f'{family_reason} ({name}).'

  encoder = model.get('encoder', 'bidirectional')
  if model.decoder == 'hierarchical' and encoder != 'hierarchical':
    return (f'{name} has a hierarchical decoder and a flat encoder; Magenta.js runs segmented '
            '(16-bar) models only with the hierarchical encoder too (e.g. hier-mel_16bar).')
  if model.decoder != 'hierarchical' and encoder == 'hierarchical':
    return (f'{name} has a hierarchical encoder and a flat decoder; Magenta.js runs the '
            'hierarchical encoder only together with the hierarchical decoder.')
  if len(model.enc_rnn_size) != 1:
    return (f'Magenta.js runs only a single-layer bidirectional encoder; {name} has '
            f'{len(model.enc_rnn_size)} layers (enc_rnn_size={list(model.enc_rnn_size)}).')
  if config.get('decoder', {}).get('conductor_projection'):
    return (f'{name} has a linear layer on its conductor (decoder.conductor_projection), which '
            'Magenta.js\'s hierarchical decoder does not have.')
  if list(model.get('conductor_rnn_size') or model.dec_rnn_size) != list(model.dec_rnn_size):
    return (f'{name} has a conductor of sizes {list(model.conductor_rnn_size)} and a bar decoder '
            f'of sizes {list(model.dec_rnn_size)}; the Magenta.js export is checked only for '
            'equal sizes, as in the original configs.')
  if len(set(model.dec_rnn_size)) != 1:
    return ('Magenta.js splits the decoder\'s initial state into equal parts, so every decoder '
            f'layer must have the same size; {name} has dec_rnn_size={list(model.dec_rnn_size)}.')
  return None


def magenta_js_spec(converter, num_segments=None):
  """config.json of the Magenta.js model: type MusicVAE, the family's data converter spec
  (`magenta_js_converter`) and its controls (`extraControls`, where it has some:
  `magenta_js_controls`). `num_segments`: a hierarchical model's segments (Magenta.js's
  numSegments; one per bar in the original configs)."""
  spec = {'type': 'MusicVAE', 'dataConverter': converter.magenta_js_converter(num_segments)}
  if converter.magenta_js_controls():
    spec['extraControls'] = converter.magenta_js_controls()
  return spec


def magenta_js_weights(model):
  """(manifest entries, bytes): every variable under its original name, float32 little-endian."""
  entries, chunks = [], []
  for name, variable in sorted(model.original_variable_names().items()):
    value = np.asarray(variable.numpy(), dtype='<f4')
    entries.append({'name': name, 'shape': list(value.shape), 'dtype': 'float32'})
    chunks.append(value.tobytes())
  return entries, b''.join(chunks)


def export_magenta_js(trained_model, output_dir):
  """Writes the Magenta.js files of trained_model to output_dir; returns the path.

  Raises UnsupportedExportError (before writing anything) for a model Magenta.js cannot run."""
  reason = magenta_js_unsupported_reason(trained_model.config)
  if reason:
    raise UnsupportedExportError(f'Cannot export to Magenta.js: {reason}')
  entries, data = magenta_js_weights(trained_model.model)
  num_shards = max(1, -(-len(data) // MAX_SHARD_BYTES))
  paths = [f'group1-shard{k + 1}of{num_shards}' for k in range(num_shards)]

  def write(folder):
    for k, path in enumerate(paths):
      with open(os.path.join(folder, path), 'wb') as f:
        f.write(data[k * MAX_SHARD_BYTES:(k + 1) * MAX_SHARD_BYTES])
    with open(os.path.join(folder, 'weights_manifest.json'), 'w') as f:
      json.dump([{'paths': paths, 'weights': entries}], f, indent=1)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
      model_config = trained_model.config.model
      num_segments = (trained_model.converter.slice_bars // model_config.get('segment_bars', 1)
                      if model_config.decoder == 'hierarchical' else None)
      json.dump(magenta_js_spec(trained_model.converter, num_segments), f, indent=1)

  return _write_into_place(output_dir, write)


def export(trained_model, output_format, output_dir):
  """export_saved_model or export_magenta_js, by name ('saved_model' or 'magenta_js')."""
  if output_format == 'saved_model':
    return export_saved_model(trained_model, output_dir)
  if output_format == 'magenta_js':
    return export_magenta_js(trained_model, output_dir)
  raise ValueError(f'Unknown export format {output_format!r}: expected one of {", ".join(FORMATS)}.')
