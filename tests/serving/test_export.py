"""Tests of inference apart from training and of the exports (SavedModel, Magenta.js).

The SavedModel is loaded in a fresh Python process that never imports music_vae_lite; the
Magenta.js export is run by the real @magenta/music in Node (`-m js`, see test_magenta_js_parity).
"""
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from music_vae_lite import config_lib
from music_vae_lite.serving import export
from music_vae_lite import files
from music_vae_lite.serving import trained_model

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)

MAGENTA_JS_VERSION = '1.23.1'
MAGENTA_JS_PARITY = os.path.join(os.path.dirname(__file__), 'magenta_js', 'parity.js')
_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')


def _perturbed_model(run_dir, seed):
  """A TrainedModel of run_dir whose weights are redrawn large enough that mu and the decodes depend
  clearly on the inputs and z (an untrained model's mu is ~1e-4, too small to compare)."""
  model = trained_model.TrainedModel(run_dir, batch_size=8)
  rng = np.random.default_rng(seed)
  for variable in model.model.variables:
    # Kernels [fan_in, units]: unit-scale pre-activations at any width; biases small.
    scale = 0.1 if len(variable.shape) == 1 else 1.5 / np.sqrt(variable.shape[0])
    variable.assign(rng.normal(0.0, scale, variable.shape).astype(np.float32))
  return model


@pytest.fixture(scope='module',
                params=['tiny-mel_2bar', 'tiny-drums_2bar', 'tiny-nade-drums_2bar'])
def model(request, tmp_path_factory):
  run_dir = str(tmp_path_factory.mktemp('run') / request.param)
  return _perturbed_model(helpers.make_untrained_run_dir(run_dir, request.param), seed=len(run_dir))


def _windows(model, count, seed):
  """Windows [count, T, ...] the converter accepts: label windows [count, T, 1] (drum labels are
  any 9-bit masks), or drum rolls [count, T, D] with a fifth of the bits set."""
  rng = np.random.default_rng(seed)
  if model.converter.encoding == 'drum_roll':
    return (rng.random([count, model.num_steps, model.converter.output_depth]) < 0.2).astype(
        np.uint8)
  return rng.integers(0, model.converter.output_depth,
                      [count, model.num_steps, 1]).astype(np.int32)


# -------------------------------------------------------------------------------------------------
# Inference does not need the training loop.


def test_trained_model_and_mvl_sample_do_not_import_the_training_loop(tmp_path):
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'))
  script = f'''
import sys
from music_vae_lite.serving import trained_model
trained_model.TrainedModel({run_dir!r}).sample_labels(2, 0.5, seed=0)
sys.argv = ['mvl_sample', '--run_dir={run_dir}', '--num_outputs=1', '--output_dir={tmp_path}/out']
from music_vae_lite.cli import sample
try:
  sample.run()
except SystemExit as e:
  assert not e.code, e.code
training = ('training.train', 'training.losses', 'pipeline.input_pipeline', 'training.distribute',
            'training.summaries', 'training.warm_start', 'pipeline.preprocess', 'training.schedules')
print(sorted(m for m in sys.modules if m in ['music_vae_lite.' + t for t in training]))
'''
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          env=_ENV, timeout=300, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip().splitlines()[-1] == '[]'
  assert any(name.endswith('.mid') for name in os.listdir(tmp_path / 'out'))


def test_exported_slerp_matches_the_numpy_definition():
  p0, p1 = np.array([1.0, 0.0, 0.5]), np.array([0.2, 2.0, -1.0])
  t = np.linspace(0, 1, 7)
  omega = np.arccos(np.dot(p0, p1) / np.linalg.norm(p0) / np.linalg.norm(p1))
  expected = (np.sin((1 - t)[:, None] * omega) * p0 + np.sin(t[:, None] * omega) * p1) / np.sin(omega)
  np.testing.assert_allclose(trained_model.slerp(p0, p1, t), expected, atol=1e-12)


# -------------------------------------------------------------------------------------------------
# SavedModel.

_CLEAN_LOAD = r'''
import json, sys
import numpy as np
import tensorflow as tf
request = json.load(open(sys.argv[1]))
results = {}
for name, job in request.items():
  loaded = tf.saved_model.load(job['path'])
  encode, decode = loaded.signatures['encode'], loaded.signatures['decode']
  labels = np.array(job['labels'])
  encoded = encode(inputs=tf.constant(job['inputs'], tf.float32),
                   lengths=tf.fill([len(labels)], labels.shape[1]), seed=tf.constant([1, 2]))
  decoded = decode(z=tf.constant(job['z'], tf.float32), temperature=tf.constant(0.0),
                   seed=tf.constant([3, 4]))
  seed = tf.constant(job['sample_seed'], tf.int32)
  sampled = loaded.signatures['sample'](n=tf.constant(job['n']), temperature=tf.constant(0.8),
                                        seed=seed)
  served = loaded.signatures['serving_default'](n=tf.constant(job['n']),
                                                temperature=tf.constant(0.8), seed=seed)
  mu = encoded['mu'].numpy()
  between = loaded.interpolate(tf.constant(mu[0]), tf.constant(mu[1]), tf.constant(4),
                               tf.constant(0.0), tf.constant([5, 6]))  # the tf.function itself
  metadata = json.loads(loaded.signatures['metadata']()['metadata_json'].numpy().decode())
  asset = json.load(open(loaded.metadata_file.asset_path.numpy().decode()))
  results[name] = {
      'mu': mu.tolist(), 'sigma': encoded['sigma'].numpy().tolist(),
      'decoded': decoded['tokens'].numpy().tolist(),
      'events': {k: v.numpy().tolist() for k, v in decoded.items() if k != 'tokens'},
      'sampled': sampled['tokens'].numpy().tolist(), 'served': served['tokens'].numpy().tolist(),
      'interpolated': between['tokens'].numpy().tolist(), 'metadata': metadata,
      'asset_equal': asset == metadata, 'signatures': sorted(loaded.signatures)}
results['imported'] = sorted({m.split('.')[0] for m in sys.modules} &
                             {'music_vae_lite', 'tensorflow_probability'})
print(json.dumps(results))
'''


@pytest.fixture(scope='module')
def saved_models(tmp_path_factory):
  """Both encodings exported and loaded in one clean process: (models, results by config name)."""
  folder = tmp_path_factory.mktemp('saved')
  models, request = {}, {}
  for name in ('tiny-mel_2bar', 'tiny-drums_2bar'):
    run_dir = helpers.make_untrained_run_dir(str(folder / f'run_{name}'), name)
    model = _perturbed_model(run_dir, seed=len(name))
    path = export.export_saved_model(model, str(folder / f'export_{name}'))
    labels = _windows(model, 3, seed=1)
    request[name] = {
        'path': path, 'labels': labels.tolist(),
        'inputs': model.converter.inputs_from_labels(labels).tolist(),
        'z': np.random.default_rng(2).standard_normal([3, model.z_size]).tolist(),
        # TrainedModel.sample_labels(n, seed=7) runs `sample` at [derived seed, chunk 0].
        'sample_seed': [trained_model._seed_or_random(7), 0],  # pylint: disable=protected-access
        'n': 3}
    models[name] = model
  request_path = folder / 'request.json'
  request_path.write_text(json.dumps(request))
  script = folder / 'load.py'
  script.write_text(_CLEAN_LOAD)
  # A separate interpreter in an empty folder: music_vae_lite is neither imported nor on the path.
  result = subprocess.run([sys.executable, '-I', str(script), str(request_path)],
                          capture_output=True, text=True, env=_ENV, cwd=str(folder), timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return models, request, json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('name', ['tiny-mel_2bar', 'tiny-drums_2bar'])
def test_saved_model_loads_without_the_library_and_matches_trained_model(saved_models, name):
  models, request, results = saved_models
  model, job, got = models[name], request[name], results[name]
  assert results['imported'] == []  # neither music_vae_lite nor TFP in the loading process
  assert got['signatures'] == ['decode', 'encode', 'interpolate', 'metadata', 'sample',
                               'serving_default']
  labels = np.array(job['labels'])
  _, mu, sigma = model.encode_labels(labels, seed=0)
  print(f'{name}: max |mu_saved - mu| = {np.abs(np.array(got["mu"]) - mu).max():.2e}')
  np.testing.assert_allclose(got['mu'], mu, atol=1e-5)
  np.testing.assert_allclose(got['sigma'], sigma, atol=1e-5)
  assert np.abs(mu).max() > 0.1  # a comparison of real values, not of numbers near 0
  decoded = model.decode_to_labels(np.array(job['z'], np.float32), 0.0)
  np.testing.assert_array_equal(got['decoded'], decoded)
  assert len(np.unique(decoded)) > 2
  sampled = model.sample_labels(3, temperature=0.8, seed=7)
  np.testing.assert_array_equal(got['sampled'], sampled)
  np.testing.assert_array_equal(got['served'], sampled)
  np.testing.assert_array_equal(got['interpolated'],
                                model.interpolate_labels(labels[0], labels[1], 4, temperature=0.0))
  # The token meanings a client needs, and the outputs that spell them out.
  encoding = got['metadata']['encoding']
  assert got['asset_equal'] and got['metadata']['config']['name'] == name
  assert encoding['encoding'] == model.converter.encoding and encoding['num_steps'] == 32
  tokens = np.array(got['decoded'])[..., 0]
  assert [part['name'] for part in encoding['parts']] == [encoding['encoding']]
  if encoding['encoding'] == 'melody':
    events = np.array(got['events']['melody_events'])
    np.testing.assert_array_equal(events[tokens >= 2], tokens[tokens >= 2] + 19)
    np.testing.assert_array_equal(events[tokens < 2], tokens[tokens < 2] - 2)
  else:
    hits = np.array(got['events']['drum_hits'])
    np.testing.assert_array_equal((hits * 2 ** np.arange(9)).sum(-1), tokens)
    assert encoding['parts'][0]['drum_pitch_classes'][0] == [36, 35]


# -------------------------------------------------------------------------------------------------
# Magenta.js files.


def test_magenta_js_files_hold_every_original_variable(model, tmp_path, monkeypatch):
  monkeypatch.setattr(export, 'MAX_SHARD_BYTES', 20000)  # several shards from a tiny model
  folder = export.export_magenta_js(model, str(tmp_path / 'js'))
  spec = json.loads((tmp_path / 'js' / 'config.json').read_text())
  assert spec['type'] == 'MusicVAE'
  args = spec['dataConverter']['args']
  assert args['numSteps'] == 32
  if model.converter.encoding == 'melody':
    assert spec['dataConverter']['type'] == 'MelodyConverter'
    assert (args['minPitch'], args['maxPitch']) == (21, 108)
  elif model.converter.encoding == 'drum_roll':
    assert spec['dataConverter']['type'] == 'DrumRollConverter'
    assert args['pitchClasses'][2][-1] == 22 and len(args['pitchClasses']) == 9
  else:
    assert spec['dataConverter']['type'] == 'DrumsConverter'
    assert args['pitchClasses'][2][-1] == 22  # our map, not Magenta.js's default
  [group] = json.loads((tmp_path / 'js' / 'weights_manifest.json').read_text())
  sizes = [os.path.getsize(os.path.join(folder, path)) for path in group['paths']]
  assert len(sizes) > 1 and max(sizes) <= 20000
  data = b''.join((tmp_path / 'js' / path).read_bytes() for path in group['paths'])
  variables = model.model.original_variable_names()
  assert sorted(w['name'] for w in group['weights']) == sorted(variables)
  offset = 0
  for weight in group['weights']:
    count = int(np.prod(weight['shape']))
    value = np.frombuffer(data, '<f4', count, offset).reshape(weight['shape'])
    np.testing.assert_array_equal(value, variables[weight['name']].numpy())
    offset += 4 * count
  assert offset == len(data)


@pytest.mark.parametrize('overrides, reason', [
    ({'decoder': 'hierarchical'}, 'hierarchical encoder'),
    ({'encoder': 'hierarchical'}, 'flat decoder'),
    ({'enc_rnn_size': (32, 32)}, 'single-layer bidirectional encoder'),
    ({'dec_rnn_size': (32, 16)}, 'same size'),
])
def test_models_magenta_js_cannot_run_get_a_one_line_reason(overrides, reason):
  config = config_lib.load_config('tiny-mel_2bar')
  for key, value in overrides.items():
    setattr(config.model, key, value)
  message = export.magenta_js_unsupported_reason(config)
  assert reason in message and '\n' not in message
  assert export.magenta_js_unsupported_reason(config_lib.load_config('cat-drums_2bar_small')) is None


def test_mvl_export_refuses_without_writing(tmp_path):
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'hier'), 'tiny-hierdec-mel_16bar')
  program = [sys.executable, '-m', 'music_vae_lite.cli.export', f'--run_dir={run_dir}']
  result = subprocess.run(program + ['--format=magenta_js', f'--output_dir={tmp_path}/js'],
                          capture_output=True, text=True, env=_ENV, timeout=300, check=False)
  assert result.returncode == 1
  assert 'mvl_export: error: Cannot export to Magenta.js:' in result.stderr
  assert 'hierarchical encoder' in result.stderr
  assert not os.path.exists(tmp_path / 'js')
  assert not [n for n in os.listdir(tmp_path) if n.startswith('.js')]  # no staging folder left
  (tmp_path / 'full').mkdir()
  (tmp_path / 'full' / 'keep.txt').write_text('mine')
  result = subprocess.run(program + ['--format=saved_model', f'--output_dir={tmp_path}/full'],
                          capture_output=True, text=True, env=_ENV, timeout=300, check=False)
  assert result.returncode == 1 and 'not empty' in result.stderr
  assert os.listdir(tmp_path / 'full') == ['keep.txt']
  with pytest.raises(files.RunDirError, match='not empty'):
    files.check_new_dir(str(tmp_path / 'full'))


# -------------------------------------------------------------------------------------------------
# Parity with the real Magenta.js (Node, pure-JS CPU backend).


def _magenta_js_modules():
  """node_modules holding @magenta/music MAGENTA_JS_VERSION, installed once from npm into a cache
  folder ($MVL_MAGENTA_JS_CACHE, default ~/.cache/music_vae_lite/magenta-js-<version>)."""
  if not shutil.which('node') or not shutil.which('npm'):
    pytest.skip('Node.js and npm are not installed: the Magenta.js parity test needs them.')
  cache = os.environ.get('MVL_MAGENTA_JS_CACHE') or os.path.join(
      os.path.expanduser('~'), '.cache', 'music_vae_lite', f'magenta-js-{MAGENTA_JS_VERSION}')
  modules = os.path.join(cache, 'node_modules')
  package = os.path.join(modules, '@magenta', 'music', 'package.json')
  installed = os.path.isfile(package) and json.load(open(package))['version'] == MAGENTA_JS_VERSION
  if not installed:
    os.makedirs(cache, exist_ok=True)
    # --ignore-scripts: nothing is built; tfjs runs on its pure-JS CPU backend.
    result = subprocess.run(['npm', 'install', '--prefix', cache, '--no-audit', '--no-fund',
                             '--ignore-scripts', f'@magenta/music@{MAGENTA_JS_VERSION}'],
                            capture_output=True, text=True, timeout=900, check=False)
    if result.returncode:
      pytest.fail(f'npm could not install @magenta/music@{MAGENTA_JS_VERSION} into {cache}:\n'
                  + result.stderr[-2000:])
  return modules


class _QuietHandler(http.server.SimpleHTTPRequestHandler):

  def log_message(self, *args):
    pass


def _run_magenta_js(modules, folder, request):
  """Serves `folder` on 127.0.0.1 (Magenta.js in Node fetches an absolute http URL) and runs
  parity.js on the request; returns its JSON result."""
  server = http.server.ThreadingHTTPServer(
      ('127.0.0.1', 0), functools.partial(_QuietHandler, directory=folder))
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    request_path = os.path.join(os.path.dirname(folder), 'request.json')
    with open(request_path, 'w') as f:
      json.dump(request, f)
    url = f'http://127.0.0.1:{server.server_address[1]}'
    result = subprocess.run(['node', MAGENTA_JS_PARITY, url, request_path], capture_output=True,
                            text=True, timeout=600, check=False,
                            env=dict(os.environ, NODE_PATH=modules))
  finally:
    server.shutdown()
    server.server_close()
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


# Checkpoints trained by the original Magenta code (cat-mel_2bar_small at full size), beside ours.
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), os.pardir,
                        'shared', 'magenta_fixtures')


@pytest.mark.js
@pytest.mark.parametrize('config_name', ['tiny-mel_2bar', 'tiny-drums_2bar', 'cat-drums_2bar_small',
                                         'tiny-hier-mel_16bar', 'tiny-nade-drums_2bar',
                                         'magenta:cat-mel_2bar_small',
                                         'magenta:cat-drums_2bar_small',
                                         'magenta:nade-drums_2bar_reduced'])
def test_magenta_js_parity(config_name, tmp_path):
  """Our export in the real Magenta.js: encodeTensors mu and argmax decodeTensors equal ours
  (NADE drums: the bits of decodeTensors, which Magenta.js's NADE takes at p >= 0.5)."""
  modules = _magenta_js_modules()
  if config_name.startswith('magenta:'):  # trained weights, imported from an original checkpoint
    fixture = os.path.join(FIXTURES, config_name.split(':')[1])
    if not os.path.isdir(fixture):
      pytest.skip(f'Magenta fixtures not found at {fixture}.')
    model = trained_model.TrainedModel.from_magenta(fixture, batch_size=8)
  else:
    run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'), config_name)
    model = _perturbed_model(run_dir, seed=3)
  folder = export.export_magenta_js(model, str(tmp_path / 'js'))
  windows = _windows(model, 4, seed=4)
  inputs = model.converter.encoder_inputs(model.converter.window_arrays(windows)).numpy()
  z = np.random.default_rng(5).standard_normal([4, model.z_size]).astype(np.float32)
  got = _run_magenta_js(modules, folder, {'inputs': inputs.tolist(), 'z': z.tolist()})
  _, mu, _ = model.encode_labels(windows, seed=0)
  print(f'{config_name}: max |mu_js - mu| = {np.abs(np.array(got["mu"]) - mu).max():.2e}')
  np.testing.assert_allclose(got['mu'], mu, atol=1e-5)
  assert np.abs(mu).max() > 0.05
  # Argmax (NADE: p >= 0.5), not a low temperature: near-ties would make low-temperature draws
  # differ.
  decoded = model.decode_to_labels(z, 0.0)
  if model.converter.encoding == 'drum_roll':
    np.testing.assert_array_equal(got['values'], decoded)
    assert 0 < decoded.sum() < decoded.size
  else:
    np.testing.assert_array_equal(got['tokens'], decoded[..., 0])


@pytest.mark.js
@pytest.mark.parametrize('config_name', ['tiny-groove_2bar', 'tiny-groove_2bar:hits_as_controls',
                                         'magenta:groovae_2bar_humanize'])
def test_magenta_js_parity_groove(config_name, tmp_path):
  """A GrooVAE export in the real Magenta.js (its GrooveConverter and GrooveDecoder): the
  encodeTensors mean and the greedy decodeTensors (hits exactly, velocities and offsets) equal
  ours; with hits_as_controls, Magenta.js's extraControls carry the hits to both halves."""
  modules = _magenta_js_modules()
  if config_name.startswith('magenta:'):
    fixture = os.path.join(FIXTURES, config_name.split(':')[1])
    if not os.path.isdir(fixture):
      pytest.skip(f'Magenta fixtures not found at {fixture}.')
    model = trained_model.TrainedModel.from_magenta(fixture, batch_size=8)
  else:
    config = config_lib.load_config(config_name.split(':')[0])
    if config_name.endswith(':hits_as_controls'):
      config.family.hits_as_controls = True
    model = _perturbed_model(helpers.make_untrained_run_dir(str(tmp_path / 'run'), config), 3)
  folder = export.export_magenta_js(model, str(tmp_path / 'js'))
  spec = json.loads((tmp_path / 'js' / 'config.json').read_text())
  assert spec['dataConverter']['type'] == 'GrooveConverter'
  rng = np.random.default_rng(4)
  hits = (rng.random([4, model.num_steps, 9]) < 0.3).astype(np.float32)
  if model.converter.hits_as_controls:
    hits[:] = hits[0]  # Magenta.js takes one control sequence for the whole batch
  arrays = {'hits': hits, 'velocities': hits * rng.uniform(0.2, 1.0, hits.shape),
            'offsets': hits * rng.uniform(-0.9, 0.9, hits.shape)}
  arrays = {name: array.astype(np.float32) for name, array in arrays.items()}
  z = rng.standard_normal([4, model.z_size]).astype(np.float32)
  request = {'inputs': model.converter.encoder_inputs(arrays).numpy()[..., :27].tolist(),
             'z': z.tolist()}
  controls = None
  if model.converter.hits_as_controls:
    controls = hits[0]
    request['controls'] = {'hits': controls.tolist()}
  got = _run_magenta_js(modules, folder, request)
  _, mu, _ = model.encode_labels(arrays, seed=0)
  print(f'{config_name}: max |mu_js - mu| = {np.abs(np.array(got["mu"]) - mu).max():.2e}')
  np.testing.assert_allclose(got['mu'], mu, atol=1e-5)
  assert np.abs(mu).max() > 0.05
  decoded = model.decode_to_labels(z, 0.0, seed=0, controls=controls)
  values = np.array(got['values'], np.float32)
  assert decoded['hits'].any()
  np.testing.assert_array_equal(values[..., :9], decoded['hits'])
  np.testing.assert_allclose(values[..., 9:18], decoded['velocities'], atol=1e-4)
  np.testing.assert_allclose(values[..., 18:], decoded['offsets'], atol=1e-4)


@pytest.mark.parametrize('options, reason', [
    ({'add_instruments': (2,)}, 'no add_instruments'),
    ({'tapify': True}, 'drops the velocities with tapify and only then'),
    ({'fixed_velocities': True}, 'drops the velocities with tapify and only then'),
])
def test_groove_options_magenta_js_cannot_read_get_a_reason(options, reason):
  config = config_lib.load_config('tiny-groove_2bar')
  config.family.humanize = False
  config.family.update(options)
  message = export.magenta_js_unsupported_reason(config)
  assert reason in message and '\n' not in message
  for name in ('groovae_2bar_humanize', 'groovae_4bar', 'groovae_2bar_tap_fixed_velocity',
               'groovae_2bar_tap_fixed_velocity_note_dropout', 'groovae_2bar_hits_control'):
    assert export.magenta_js_unsupported_reason(config_lib.load_config(name)) is None, name
  assert 'add_instruments' in export.magenta_js_unsupported_reason(
      config_lib.load_config('groovae_2bar_add_closed_hh'))
