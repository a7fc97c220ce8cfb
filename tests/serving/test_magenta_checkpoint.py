"""Original Magenta checkpoints: our models reproduce the original's numbers from its own
checkpoints (../shared/magenta_fixtures: melody, drums, hierarchical melody and hierarchical trio),
the families without a fixture (hierarchical encoder, chords, flat trio) are recognised and load
by name, parameter counts equal the original's, and importing handles bundles, optimizer state,
wrong configs, unsupported families and damaged files."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib
import shutil
import subprocess
import sys
import tarfile

import note_seq
import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.serving import magenta_checkpoint
from music_vae_lite.serving import trained_model

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / 'shared' / 'magenta_fixtures'
SUPPORTED = ('cat-mel_2bar_small', 'cat-drums_2bar_small', 'hierdec-mel_16bar',
             'hierdec-trio_16bar')
UNSUPPORTED = {'hier-multiperf_vel_1bar_med': 'multi-instrument performance'}
TOLERANCE = dict(rtol=1e-5, atol=1e-5)  # the fixtures' README: measured differences <= 6e-6

pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f'Magenta fixtures not found at {FIXTURES} (shared/ beside the '
    'repository)')


def fixture(name):
  return FIXTURES / name


def golden(name):
  return np.load(fixture(name) / 'golden.npz', allow_pickle=False)


def hparams(name):
  with open(fixture(name) / 'hparams.json') as f:
    return json.load(f)


def tfrecord_sequences(path):
  return [note_seq.NoteSequence.FromString(record.numpy())
          for record in tf.data.TFRecordDataset(str(path))]


def notes(sequence):
  return sorted((n.pitch, round(n.start_time, 6), round(n.end_time, 6), n.velocity, n.is_drum)
                for n in sequence.notes)


def fixture_arrays(name):
  reader = tf.train.load_checkpoint(str(fixture(name) / 'model.ckpt'))
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n != 'global_step'}


@pytest.fixture(scope='module', params=SUPPORTED)
def loaded(request):
  name = request.param
  model, config, report = magenta_checkpoint.load_model(str(fixture(name) / 'model.ckpt'))
  return name, model, config, report


def part_labels(depths, one_hots):
  """Labels [..., T, P] of the original's concatenated one-hots [..., T, sum V] (trio: 90|90|512),
  `depths` the parts' class counts."""
  bounds = np.cumsum(depths)[:-1]
  return np.stack([part.argmax(-1) for part in np.split(one_hots, bounds, axis=-1)],
                  axis=-1).astype(np.int32)


def free_running(model, z, num_bars=None):
  """(logits [N, T, sum V], tokens [N, T, P]) of a greedy decode from z, bar by bar for
  hierarchical decoders (every core decoder on its own: trio's see only their own tokens);
  `num_bars`: only the first bars (a bar depends only on the bars before it)."""
  decoder = model.decoder
  if hasattr(decoder, 'bar_embeddings'):
    codes, steps, cores = decoder.bar_embeddings(z), decoder.steps_per_bar, decoder.cores
    codes = codes[:, :num_bars]
  else:
    codes, steps, cores = z[:, tf.newaxis], decoder.num_steps, [decoder.core]
  logits, tokens = [], []
  for core in cores:
    core_logits, core_tokens, _ = core.autoregressive(
        codes, steps, core.start_tokens(tf.shape(z)[0]), temperature=0.0,
        seed=tf.constant([0, 0]))
    logits.append(core_logits.numpy())
    tokens.append(core_tokens.numpy())
  return np.concatenate(logits, axis=-1), np.concatenate(tokens, axis=-1)


def check_free_running_decode(name, model, num_bars=None):
  """The greedy decode from the golden mu has the golden step logits and tokens."""
  g = golden(name)
  logits, tokens = free_running(model, tf.constant(g['mu']), num_bars)
  steps = tokens.shape[1]
  np.testing.assert_allclose(logits, g['decode_rnn_output'][:, :steps], **TOLERANCE)
  np.testing.assert_array_equal(
      tokens, part_labels(model.decoder.output_depths, g['decode_samples'][:, :steps]))
  return tokens


def test_config_is_inferred_from_the_variables(loaded):
  name, model, config, report = loaded
  info = hparams(name)
  assert config.name == info['magenta_config']
  assert config.model.z_size == info['hparams']['z_size']
  assert list(config.model.enc_rnn_size) == info['hparams']['enc_rnn_size']
  assert list(config.model.dec_rnn_size) == info['hparams']['dec_rnn_size']
  assert model.num_steps == info['hparams']['max_seq_len']
  # Every checkpoint variable but global_step maps, and every variable of ours is filled.
  assert report['restored'] == len(info['checkpoint_variables']) - 1
  assert len(model.original_variable_names()) == report['restored']
  assert model.num_parameters() == info['num_model_parameters']
  assert report['global_step'] == info['training']['num_steps']
  assert report['skipped'] == {}


def test_encoder_matches_the_original(loaded):
  name, model, _, _ = loaded
  g = golden(name)
  posterior = model.posterior(g['inputs'], g['lengths'])
  np.testing.assert_allclose(posterior.mean().numpy(), g['mu'], **TOLERANCE)
  np.testing.assert_allclose(posterior.stddev().numpy(), g['sigma'], **TOLERANCE)


def test_teacher_forced_logits_and_loss_match_the_original(loaded):
  name, model, _, _ = loaded
  g = golden(name)
  labels = part_labels(model.decoder.output_depths, g['x_target'])
  assert (g['x_length'] == labels.shape[1]).all()  # every golden window is full length
  logits = model.decoder.reconstruct(tf.constant(g['mu']), labels, 0.0,
                                     seed=tf.constant([0, 0])).numpy()
  np.testing.assert_allclose(logits, g['rnn_output'], **TOLERANCE)
  r_loss, _ = model.decoder.reconstruction_loss(logits, labels, g['x_length'])
  np.testing.assert_allclose(r_loss.numpy(), g['r_loss'], rtol=1e-5, atol=1e-3)
  # The fused (whole-sequence kernel) path gives the same logits.
  fused = model.decoder.reconstruct(tf.constant(g['mu']), labels, 0.0, seed=tf.constant([0, 0]),
                                    fused=True).numpy()
  np.testing.assert_allclose(fused, g['rnn_output'], **TOLERANCE)


def test_free_running_decode_matches_the_original(loaded):
  name, model, config, _ = loaded
  # Trio: 3 step-by-step decodes of 256 steps take seconds; the first 4 bars check every piece
  # (bar lines included) here, test_trio_free_running_decode_of_all_bars the rest.
  num_bars = 4 if name == 'hierdec-trio_16bar' else None
  tokens = check_free_running_decode(name, model, num_bars)
  # The decoded NoteSequences equal the original's.
  if num_bars is None:
    converter = magenta_checkpoint.contract.get_converter(config)
    ours = converter.from_tensors(tokens)
    theirs = tfrecord_sequences(fixture(name) / 'decoded.tfrecord')
    assert [notes(s) for s in ours] == [notes(s) for s in theirs]


@pytest.mark.slow
def test_trio_free_running_decode_of_all_bars():
  name = 'hierdec-trio_16bar'
  model, config, _ = magenta_checkpoint.load_model(str(fixture(name) / 'model.ckpt'))
  tokens = check_free_running_decode(name, model)
  converter = magenta_checkpoint.contract.get_converter(config)
  theirs = tfrecord_sequences(fixture(name) / 'decoded.tfrecord')
  assert [notes(s) for s in converter.from_tensors(tokens)] == [notes(s) for s in theirs]


@pytest.mark.parametrize('name', ['cat-mel_2bar_small', 'hierdec-trio_16bar'])
def test_trained_model_from_magenta_encodes_and_decodes_like_the_original(name):
  g = golden(name)
  model = trained_model.TrainedModel.from_magenta(str(fixture(name)))
  assert model.config.name == name and model.run_dir is None
  _, mu, sigma = model.encode(tfrecord_sequences(fixture(name) / 'inputs.tfrecord'), seed=0)
  np.testing.assert_allclose(mu, g['mu'], **TOLERANCE)
  np.testing.assert_allclose(sigma, g['sigma'], **TOLERANCE)
  np.testing.assert_array_equal(model.decode_to_labels(g['mu'], temperature=0),
                                part_labels(model.converter.output_depths, g['decode_samples']))


# Families without an original fixture: small checkpoints in the original's names and shapes
# (`expected_shapes` of the config with small sizes; those shapes are the original's by the
# layout the fixtures confirm, plus the widths named in each case).
SMALL = {'z_size': 8, 'enc_rnn_size': (12,), 'dec_rnn_size': (10, 10)}
WITHOUT_FIXTURE = {
    # config: (a variable only that family has, its shape for SMALL)
    'hier-mel_16bar': (
        'encoder/hierarchical_level_1/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/'
        'lstm_cell/kernel', [2 * 12 + 12, 48]),
    'hier-trio_16bar': (
        'encoder/hierarchical_level_0/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/'
        'lstm_cell/kernel', [692 + 12, 48]),
    'flat-trio_16bar': ('decoder/multi_rnn_cell/cell_0/lstm_cell/kernel', [692 + 8 + 10, 40]),
    # Chords: 49 triad classes after the melody in the encoder input, after z in the decoder's.
    'cat-mel_2bar_med_chords': ('decoder/multi_rnn_cell/cell_0/lstm_cell/kernel',
                                [90 + 8 + 49 + 10, 40]),
}


def small_config(name):
  config = config_lib.load_config(name)
  config.model.update(SMALL)
  return config


def random_arrays(shapes, seed=0):
  rng = np.random.default_rng(seed)
  return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


@pytest.mark.parametrize('name', sorted(WITHOUT_FIXTURE))
def test_families_without_a_fixture_are_inferred_and_load_by_name(name, tmp_path):
  shapes = magenta_checkpoint.expected_shapes(small_config(name))
  variable, shape = WITHOUT_FIXTURE[name]
  assert shapes[variable] == shape
  arrays = random_arrays(shapes)
  prefix = magenta_checkpoint.write_original_checkpoint(str(tmp_path / 'model.ckpt'), arrays, 9)
  model, config, report = magenta_checkpoint.load_model(prefix)
  assert config.name == name, report['config_note']
  assert report['config_note'] == (
      f"the variable shapes match config {name} with --config.model.z_size=8 "
      f"--config.model.enc_rnn_size='(12,)' --config.model.dec_rnn_size='(10,10)'")
  assert report['restored'] == len(arrays) and report['global_step'] == 9
  for original, ours in model.original_variable_names().items():
    np.testing.assert_array_equal(ours.numpy(), arrays[original])


def test_a_chord_conditioned_import_encodes_and_decodes_with_its_controls(tmp_path):
  shapes = magenta_checkpoint.expected_shapes(small_config('cat-mel_2bar_med_chords'))
  prefix = magenta_checkpoint.write_original_checkpoint(
      str(tmp_path / 'model.ckpt'), {n: 0.3 * a for n, a in random_arrays(shapes).items()})
  model, config, _ = magenta_checkpoint.load_model(prefix)
  converter = magenta_checkpoint.contract.get_converter(config)
  assert (converter.input_depth, converter.control_depth) == (139, 49)
  rng = np.random.default_rng(1)
  labels = rng.integers(0, 90, size=[2, 32, 1]).astype(np.int32)
  controls = rng.integers(0, 49, size=[2, 32]).astype(np.int32)
  inputs = converter.inputs_from_labels(labels, controls)
  z = model.posterior(inputs, [32, 32]).mean()
  seed = tf.constant([0, 0])
  logits = model.decoder.reconstruct(z, labels, 0.0, controls, seed=seed).numpy()
  other = model.decoder.reconstruct(z, labels, 0.0, (controls + 1) % 49, seed=seed).numpy()
  assert np.abs(logits - other).max() > 1e-3  # the chords reach the decoder
  samples = model.decoder.sample(z, 0.0, controls, seed=seed).numpy()
  assert samples.shape == (2, 32, 1)


def shapes_of(name, **model):
  """Variable shapes of config `name`'s model with `model` overrides, without building weights."""
  config = config_lib.load_config(name)
  config.model.update(model)
  return magenta_checkpoint.expected_shapes(config)


def widened(shapes, extra_inputs, output_depth=90):
  """hier-mel_16bar's shapes with `extra_inputs` more input rows in the encoder's first layer and
  the core decoder's (whose outputs become `output_depth` wide, 90 before)."""
  first_layers = ('encoder/hierarchical_level_0/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/'
                  'lstm_cell/kernel', 'core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel')
  shapes = {name: [shape[0] + extra_inputs] + shape[1:] if name in first_layers else shape
            for name, shape in shapes.items()}
  shapes['core_decoder/decoder/output_projection/kernel'][1] = output_depth
  shapes['core_decoder/decoder/output_projection/bias'] = [output_depth]
  return shapes


@pytest.mark.parametrize('change, family', [
    # Multi-instrument performance: 490-wide events in and out.
    (lambda s: widened(s, 490 - 90, 490), 'multi-instrument performance'),
    (lambda s: {**s, 'control_preprocessing/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/'
                'lstm_cell/kernel': [49 + 4, 16]}, 'control preprocessing'),
    (lambda s: {**s, 'encoder/hierarchical_level_2/cell_0/bidirectional_rnn/fw/multi_rnn_cell/'
                'cell_0/lstm_cell/bias': [48]}, 'a hierarchical encoder of more than two levels'),
    (lambda s: {**s, 'decoder/hierarchical_level_1/cell_0/lstm_cell/bias': [40]},
     'a conductor of more than one level'),
    # Melody with 12 control classes: no family of ours has that.
    (lambda s: widened(s, 12),
     'a hierarchical encoder of inputs 102 wide, a hierarchical decoder with outputs 90 wide plus '
     '12 control classes. This library reads these families: cat-mel_2bar_small, '
     'cat-mel_2bar_big: a bidirectional encoder of inputs 90 wide, a flat decoder'),
])
def test_unsupported_structures_are_named_from_the_shapes(change, family):
  shapes = change(shapes_of('hier-mel_16bar', **SMALL))
  with pytest.raises(magenta_checkpoint.UnsupportedFamilyError,
                     match='^not supported yet: ' + family.replace('.', r'\.')) as error:
    magenta_checkpoint.infer_config(shapes)
  assert '\n' not in str(error.value)


# Parameter counts of the original configs, from the original's shapes (each config's docstring
# has the arithmetic; the reference gives 231.0 M for hierdec-trio_16bar).
ORIGINAL_PARAMETERS = {
    'hierdec-trio_16bar': 230_975_156,
    'flat-trio_16bar': 251_279_028,
    'hier-trio_16bar': 122_529_460,
    'cat-mel_2bar_med_chords': 17_478_234,
    'cat-mel_2bar_small': 4_423_770,
    'cat-drums_2bar_small': 4_636_672,
    'cat-drums_2bar_big': 137_582_080,
    'groovae_2bar_humanize': 4_085_019,
    'groovae_4bar': 4_085_019,
    'groovae_2bar_tap_fixed_velocity': 4_085_019,
    'groovae_2bar_tap_fixed_velocity_note_dropout': 4_085_019,
    'groovae_2bar_add_closed_hh': 4_085_019,
    'groovae_2bar_hits_control': 4_131_099,
    'nade-drums_2bar_reduced': 13_819_273,
    'nade-drums_2bar_full': 14_391_741,
}


@pytest.mark.parametrize('name', sorted(ORIGINAL_PARAMETERS))
def test_parameter_counts_equal_the_originals(name):
  shapes = magenta_checkpoint.expected_shapes(config_lib.load_config(name))
  assert sum(int(np.prod(shape)) for shape in shapes.values()) == ORIGINAL_PARAMETERS[name]


@pytest.mark.parametrize('name', sorted(UNSUPPORTED))
def test_unsupported_families_are_named_not_crashed_on(name, tmp_path):
  run_dir = tmp_path / 'run'
  with pytest.raises(magenta_checkpoint.UnsupportedFamilyError,
                     match=f'model.ckpt: not supported yet: {UNSUPPORTED[name]}') as error:
    magenta_checkpoint.import_checkpoint(str(fixture(name)), str(run_dir))
  assert '\n' not in str(error.value)
  assert not run_dir.exists()  # nothing written


def test_wrong_config_names_the_variables_and_the_config_that_fits(tmp_path):
  config = config_lib.load_config('cat-mel_2bar_small')
  with pytest.raises(magenta_checkpoint.MagentaCheckpointError) as error:
    magenta_checkpoint.import_checkpoint(str(fixture('cat-drums_2bar_small')),
                                         str(tmp_path / 'run'), config)
  message = str(error.value)
  assert 'decoder/output_projection/bias: checkpoint [512], config [90]' in message
  assert ("Use --config=cat-drums_2bar_small with --config.model.z_size=32 "
          "--config.model.enc_rnn_size='(64,)' --config.model.dec_rnn_size='(48,48)'") in message
  assert '\n' not in message and not (tmp_path / 'run').exists()


def test_non_default_sizes_import_with_overrides(tmp_path):
  config = config_lib.load_config('hierdec-mel_16bar')
  config.model.z_size = 32
  config.model.enc_rnn_size = (64, 64)
  config.model.dec_rnn_size = (48, 48)
  run_dir, report = magenta_checkpoint.import_checkpoint(
      str(fixture('hierdec-mel_16bar') / 'model.ckpt'), str(tmp_path / 'run'), config)
  assert report['checkpoint'].endswith('ckpt-704') and report['restored'] == 26
  assert checkpoints.load_config(run_dir).model.to_dict() == json.loads(config.model.to_json())


def test_optimizer_state_is_skipped_and_cudnn_scopes_renamed(tmp_path):
  arrays = fixture_arrays('cat-drums_2bar_small')
  stored = dict(arrays)
  for name, value in arrays.items():
    stored[f'{name}/Adam'] = np.full_like(value, 7.0)
    stored[f'{name}/Adam_1'] = np.full_like(value, 7.0)
  stored['beta1_power'], stored['beta2_power'] = np.float32(0.9), np.float32(0.999)
  stored = {name.replace('/lstm_cell/', '/cudnn_compatible_lstm_cell/'): value
            for name, value in stored.items()}
  prefix = magenta_checkpoint.write_original_checkpoint(str(tmp_path / 'ckpt' / 'model.ckpt'),
                                                        stored, global_step=5)
  model, _, report = magenta_checkpoint.load_model(prefix)
  assert len(report['skipped']) == 2 * len(arrays) + 2 and 'beta1_power' in report['skipped']
  assert len(report['renamed']) == 8 and report['global_step'] == 5
  assert 'Skipped 34 optimizer variable(s)' in magenta_checkpoint.format_report(report)
  for name, variable in model.original_variable_names().items():
    np.testing.assert_array_equal(variable.numpy(), arrays[name])


def test_tar_bundle_prefix_and_directory_give_the_same_model(tmp_path):
  source = fixture('cat-drums_2bar_small')
  bundle = tmp_path / 'cat-drums_2bar_small.tar'
  with tarfile.open(bundle, 'w') as tar:  # released bundles keep a folder inside
    for name in ('model.ckpt.index', 'model.ckpt.data-00000-of-00001'):
      tar.add(source / name, arcname=f'cat-drums_2bar_small/{name}')
  arrays = fixture_arrays('cat-drums_2bar_small')
  for index, path in enumerate((bundle, source, source / 'model.ckpt', source / 'model.ckpt.index')):
    run_dir, _ = magenta_checkpoint.import_checkpoint(str(path), str(tmp_path / f'run{index}'))
    model = magenta_checkpoint.build_model(checkpoints.load_config(run_dir))
    checkpoints.restore(tf.train.Checkpoint(model=model), checkpoints.latest_checkpoint(run_dir))
    for name, variable in model.original_variable_names().items():
      np.testing.assert_array_equal(variable.numpy(), arrays[name])


def test_existing_run_is_never_overwritten(tmp_path):
  run_dir = tmp_path / 'run'
  magenta_checkpoint.import_checkpoint(str(fixture('cat-drums_2bar_small')), str(run_dir))
  before = {p.name: p.read_bytes() for p in (run_dir / 'train').iterdir()}
  with pytest.raises(checkpoints.RunDirError, match='already holds a run'):
    magenta_checkpoint.import_checkpoint(str(fixture('hierdec-mel_16bar')), str(run_dir))
  assert {p.name: p.read_bytes() for p in (run_dir / 'train').iterdir()} == before


@pytest.mark.parametrize('damage', ['index', 'data', 'tar'])
def test_damaged_checkpoints_give_a_one_line_error(tmp_path, damage):
  source = fixture('cat-drums_2bar_small')
  folder = tmp_path / 'ckpt'
  shutil.copytree(source, folder, ignore=lambda d, names: [n for n in names if 'model.ckpt' not in n])
  if damage == 'tar':
    path = tmp_path / 'bundle.tar'
    path.write_bytes((source / 'model.ckpt.index').read_bytes()[:100])  # not a tar archive
  else:
    victim = folder / ('model.ckpt.index' if damage == 'index' else
                       'model.ckpt.data-00000-of-00001')
    victim.write_bytes(victim.read_bytes()[:victim.stat().st_size // 2])
    path = folder / 'model.ckpt'
  with pytest.raises(magenta_checkpoint.MagentaCheckpointError) as error:
    magenta_checkpoint.import_checkpoint(str(path), str(tmp_path / 'run'))
  message = str(error.value)
  assert '\n' not in message and str(path) in message
  assert not (tmp_path / 'run').exists()


def program(name, *flags):
  return subprocess.run([sys.executable, '-m', f'music_vae_lite.cli.{name}', *flags],
                        capture_output=True, text=True, timeout=180, cwd=REPO)


@pytest.mark.parametrize('name', [
    'hierdec-mel_16bar',
    pytest.param('cat-mel_2bar_small', marks=pytest.mark.slow),
    pytest.param('cat-drums_2bar_small', marks=pytest.mark.slow),
    pytest.param('hierdec-trio_16bar', marks=pytest.mark.slow)])
def test_mvl_import_then_mvl_sample_and_mvl_interpolate(tmp_path, name):
  run_dir = tmp_path / 'run'
  result = program('import_checkpoint', f'--magenta_checkpoint={fixture(name)}',
                   f'--run_dir={run_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'the variable shapes match config {name}' in result.stdout
  result = program('sample', f'--run_dir={run_dir}', '--num_outputs=2',
                   f'--output_dir={tmp_path / "samples"}', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list((tmp_path / 'samples').glob('*.mid'))) == 2
  first, second = sorted((fixture(name) / 'inputs').glob('*.mid'))[:2]
  result = program('interpolate', f'--run_dir={run_dir}', f'--input_midi_1={first}',
                   f'--input_midi_2={second}', '--num_outputs=3',
                   f'--output_dir={tmp_path / "morph"}', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list((tmp_path / 'morph').glob('*-of-003.mid'))) == 3
  # Every track is one of the family's parts (trio: melody, bass program, drums on channel 10).
  parts = magenta_checkpoint.contract.get_converter(checkpoints.load_config(run_dir)).parts
  allowed = {(part.program, part.is_drum) for part in parts}
  for path in [*(tmp_path / 'samples').glob('*.mid'), *(tmp_path / 'morph').glob('*.mid')]:
    tracks = {(track.program, track.is_drum)
              for track in pretty_midi.PrettyMIDI(str(path)).instruments}
    assert tracks and tracks <= allowed, (path.name, tracks)


def test_mvl_import_reports_an_unsupported_family_in_one_line(tmp_path):
  result = program('import_checkpoint',
                   f'--magenta_checkpoint={fixture("hier-multiperf_vel_1bar_med")}',
                   f'--run_dir={tmp_path / "run"}')
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('mvl_import: error: '), result.stderr
  assert 'model.ckpt: not supported yet: multi-instrument performance' in last
  assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('name', SUPPORTED)
def test_converters_give_the_original_tensors_for_the_inputs(name):
  g = golden(name)
  config = config_lib.load_config(hparams(name)['magenta_config'])
  config.data.max_windows_per_sequence = None  # every window, in order
  converter = magenta_checkpoint.contract.get_converter(config)
  for index, sequence in enumerate(tfrecord_sequences(fixture(name) / 'inputs.tfrecord')):
    labels = np.asarray(converter.to_tensors(sequence).labels[0])
    np.testing.assert_array_equal(labels, part_labels(converter.output_depths,
                                                      g['outputs'][index]))
    np.testing.assert_array_equal(converter.inputs_from_labels(labels[np.newaxis])[0],
                                  g['inputs'][index])


# -------------------------------------------------------------------------------------------------
# GrooVAE: the fixture, and synthetic checkpoints of every GrooVAE config.

GROOVAE = ('groovae_2bar_humanize', 'groovae_4bar', 'groovae_2bar_tap_fixed_velocity',
           'groovae_2bar_tap_fixed_velocity_note_dropout', 'groovae_2bar_add_closed_hh',
           'groovae_2bar_hits_control')


def test_the_groovae_fixture_imports_and_reproduces():
  """mvl_import's path (from_magenta) on the original's groovae_2bar_humanize checkpoint: the
  config is inferred (its folder names it), and encode and greedy decode give the original's."""
  name = 'groovae_2bar_humanize'
  g = golden(name)
  model = trained_model.TrainedModel.from_magenta(str(fixture(name)), batch_size=8)
  assert model.config.name == name and model.z_size == 32
  assert model.model.num_parameters() == hparams(name)['num_model_parameters']
  targets = model.model.decoder.split(g['outputs'])
  _, mu, sigma = model.encode_labels({n: np.asarray(a) for n, a in targets.items()}, seed=0)
  np.testing.assert_allclose(mu, g['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, g['sigma'], atol=1e-4)
  decoded = model.decode_to_labels(g['mu'], 0.0, seed=0)
  samples = g['decode_samples']
  np.testing.assert_array_equal(decoded['hits'], samples[..., :9])
  np.testing.assert_allclose(decoded['velocities'], samples[..., 9:18], atol=1e-3)
  np.testing.assert_allclose(decoded['offsets'], samples[..., 18:], atol=1e-3)


@pytest.mark.parametrize('name', [
    name if name in ('groovae_2bar_humanize', 'groovae_2bar_hits_control')
    else pytest.param(name, marks=pytest.mark.slow) for name in GROOVAE])
def test_groovae_configs_are_told_apart_by_the_name_in_their_path(name, tmp_path):
  """The GrooVAE configs differ only in how they read their data (and hits_control in its
  widths): a checkpoint in a folder (or bundle) named after its config loads as that config."""
  shapes = magenta_checkpoint.expected_shapes(small_config(name))
  arrays = random_arrays(shapes)
  prefix = magenta_checkpoint.write_original_checkpoint(str(tmp_path / name / 'model.ckpt'),
                                                        arrays, 3)
  model, config, report = magenta_checkpoint.load_model(prefix)
  assert config.name == name, report['config_note']
  assert config.model.z_size == 8 and list(config.model.dec_rnn_size) == [10, 10]
  assert report['restored'] == len(arrays)
  for original, ours in model.original_variable_names().items():
    np.testing.assert_array_equal(ours.numpy(), arrays[original])
  unnamed = magenta_checkpoint.write_original_checkpoint(str(tmp_path / 'ckpt' / 'model.ckpt'),
                                                         arrays, 3)
  if name == 'groovae_2bar_hits_control':  # its widths alone say which it is
    assert magenta_checkpoint.load_model(unnamed)[1].name == name
  else:
    with pytest.raises(magenta_checkpoint.MagentaCheckpointError,
                       match='fit configs groovae_2bar_humanize, groovae_4bar, .*pass '
                       '--config=NAME') as error:
      magenta_checkpoint.load_model(unnamed)
    assert '\n' not in str(error.value)
    config = config_lib.load_config(name)
    config.model.update(SMALL)
    assert magenta_checkpoint.load_model(unnamed, config)[1].name == name


@pytest.mark.slow
def test_a_groovae_bundle_imports_as_the_config_it_is_named_after(tmp_path):
  shapes = magenta_checkpoint.expected_shapes(small_config('groovae_4bar'))
  prefix = magenta_checkpoint.write_original_checkpoint(str(tmp_path / 'files' / 'model.ckpt'),
                                                        random_arrays(shapes), 5)
  bundle = tmp_path / 'groovae_4bar.tar'
  with tarfile.open(bundle, 'w') as tar:
    for path in (tmp_path / 'files').iterdir():
      tar.add(path, arcname=f'groovae_4bar/{path.name}')
  run_dir, report = magenta_checkpoint.import_checkpoint(str(bundle), str(tmp_path / 'run'))
  config = checkpoints.load_config(run_dir)
  assert config.name == 'groovae_4bar' and config.data.slice_bars == 4, report['config_note']
  model = trained_model.TrainedModel(run_dir, batch_size=2)
  decoded = model.decode_to_labels(np.zeros([1, 8], np.float32), 0.0, seed=0)
  assert decoded['hits'].shape == (1, 64, 9)


def test_a_hits_control_import_decodes_the_hits_it_is_given(tmp_path):
  shapes = magenta_checkpoint.expected_shapes(small_config('groovae_2bar_hits_control'))
  prefix = magenta_checkpoint.write_original_checkpoint(
      str(tmp_path / 'model.ckpt'), {n: 0.5 * a for n, a in random_arrays(shapes).items()})
  run_dir, _ = magenta_checkpoint.import_checkpoint(prefix, str(tmp_path / 'run'))
  model = trained_model.TrainedModel(run_dir, batch_size=2)
  assert (model.converter.input_depth, model.converter.control_depth) == (36, 9)
  hits = (np.random.default_rng(2).random([32, 9]) < 0.3).astype(np.float32)
  z = np.random.default_rng(3).standard_normal([2, 8]).astype(np.float32)
  first = model.decode_to_labels(z, 0.0, seed=0, controls=hits)
  second = model.decode_to_labels(z, 0.0, seed=0, controls=1.0 - hits)
  assert np.abs(first['velocities'] - second['velocities']).max() > 1e-3
  with pytest.raises(ValueError, match='conditioned on controls'):
    model.decode_to_labels(z, 0.0, seed=0)
