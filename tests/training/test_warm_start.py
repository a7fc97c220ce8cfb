"""Fine-tuning: a new run starts from imported (or our own) weights with a restore report, and
frozen parts of the model stay bit-identical."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pathlib  # pylint: disable=g-import-not-at-top,wrong-import-position
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.serving import magenta_checkpoint
from music_vae_lite.training import train
from music_vae_lite.training import warm_start

import helpers  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / 'shared' / 'magenta_fixtures'
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f'Magenta fixtures not found at {FIXTURES} (shared/ beside the '
    'repository)')


def fixture_arrays(name):
  reader = tf.train.load_checkpoint(str(FIXTURES / name / 'model.ckpt'))
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if n != 'global_step'}


def midi_subset(folder, count=24):
  """The first `count` tunes of data/midi (random melodies where the corpus is absent)."""
  files = helpers.first_build_tunes(REPO / 'data' / 'midi')
  if not files:
    return helpers.write_melody_midis(str(folder), num_files=count, bars=20)
  os.makedirs(folder)
  for index, path in enumerate(files[:count]):
    shutil.copy(path, folder / f'{index:02d}_{path.name}')
  return str(folder)


def short_run(config, **train):
  config.train.update(dict(num_steps=2, log_every=1, summary_every=1, image_every=1000,
                           checkpoint_every=1000, eval_every=1000, eval_batches=1), **train)
  return config


@needs_fixtures
def test_restore_report_lists_every_variable(tmp_path):
  run_dir, _ = magenta_checkpoint.import_checkpoint(str(FIXTURES / 'hierdec-mel_16bar'),
                                                    str(tmp_path / 'imported'))
  arrays = fixture_arrays('hierdec-mel_16bar')
  for source in (run_dir, str(FIXTURES / 'hierdec-mel_16bar' / 'model.ckpt')):
    config = checkpoints.load_config(run_dir)
    config.train.seed = 7  # other initial weights than the donor's
    model = magenta_checkpoint.build_model(config)
    report = warm_start.restore_initial_weights(model, source)
    assert [name for name, _ in report['restored']] == sorted(arrays)
    assert report['initialised'] == [] and report['skipped'] == []
    text = warm_start.format_report(report)
    assert all(f'    {name} {list(value.shape)}' in text for name, value in arrays.items())
    for name, variable in model.original_variable_names().items():
      np.testing.assert_array_equal(variable.numpy(), arrays[name])


def test_different_shapes_are_skipped_and_reported(tmp_path):
  source = helpers.make_untrained_run_dir(str(tmp_path / 'source'), 'tiny-mel_2bar')
  config = config_lib.load_config('tiny-mel_2bar')
  config.model.dec_rnn_size = (32, 16)  # layer 1 and the output projection change shape
  model = magenta_checkpoint.build_model(config)
  report = warm_start.restore_initial_weights(model, source)
  skipped = {name: (theirs, ours) for name, theirs, ours in report['skipped']}
  assert skipped['decoder/output_projection/kernel'] == ([32, 90], [16, 90])
  assert skipped['decoder/multi_rnn_cell/cell_1/lstm_cell/kernel'] == ([64, 128], [48, 64])
  assert 'encoder/mu/kernel' in dict(report['restored'])
  assert set(dict(report['initialised'])) == set(skipped)
  # A model nothing fits is refused rather than trained from scratch by mistake.
  config.model.update(z_size=4, enc_rnn_size=(16,), dec_rnn_size=(24, 24))
  with pytest.raises(ValueError, match='no variable fits this model'):
    warm_start.restore_initial_weights(magenta_checkpoint.build_model(config), source)


@pytest.mark.parametrize('z_size', [16, 8])
def test_a_two_bar_model_starts_the_bar_decoder_and_segment_encoder_of_a_16_bar_model(tmp_path,
                                                                                    z_size):
  """--init_rename maps a 2-bar model's decoder onto a 16-bar model's bar decoder (2-bar segments,
  a conductor as wide as the 2-bar z) and its encoder onto the per-segment encoder level; with the
  2-bar model's z size (8 in both tiny configs, 256 in cpu-hier-mel_16bar) its q(z|x) layers fit
  and start the 16-bar model's too, with another they are skipped."""
  source = helpers.make_untrained_run_dir(str(tmp_path / 'source'), 'tiny-mel_2bar')
  two_bar = magenta_checkpoint.build_model(checkpoints.load_config(source))
  checkpoints.restore(tf.train.Checkpoint(model=two_bar), checkpoints.latest_checkpoint(source))
  donor = two_bar.original_variable_names()
  config = config_lib.load_config('tiny-hierdec-mel_16bar')
  config.model.update(encoder='hierarchical', segment_bars=2,
                      conductor_rnn_size=(config.model.z_size,))  # both tiny configs: z 8
  config.model.z_size = z_size
  config.train.seed = 3
  model = magenta_checkpoint.build_model(config)
  rules = ['^decoder/=core_decoder/decoder/', '^encoder/cell_=encoder/hierarchical_level_0/cell_']
  report = warm_start.restore_initial_weights(model, source, rename=rules)
  ours = model.original_variable_names()
  restored = dict(report['restored'])
  posterior_layers = {'encoder/mu/kernel', 'encoder/mu/bias', 'encoder/sigma/kernel',
                      'encoder/sigma/bias'}
  fits = z_size == two_bar.z_size
  # kernels and biases: bar decoder 2 cells, initial state, projection; encoder fw, bw; mu, sigma
  assert len(restored) == 8 + 4 + (4 if fits else 0)
  assert posterior_layers <= set(restored) if fits else not posterior_layers & set(restored)
  for name in restored:
    source_name = name.replace('core_decoder/', '').replace('hierarchical_level_0/', '')
    np.testing.assert_array_equal(ours[name].numpy(), donor[source_name].numpy(), err_msg=name)
  assert {name for name, _, _ in report['skipped']} == (set() if fits else posterior_layers)
  assert all(name.startswith(('decoder/hierarchical_level_0/', 'encoder/hierarchical_level_1/',
                              'encoder/mu', 'encoder/sigma'))
             for name, _ in report['initialised'])
  with pytest.raises(ValueError, match="expected PATTERN=REPLACEMENT"):
    warm_start.restore_initial_weights(model, source, rename=['decoder'])
  with pytest.raises(ValueError, match='not a regular expression'):
    warm_start.restore_initial_weights(model, source, rename=['(=x'])


def test_a_16_bar_config_carries_its_own_rename_rules(tmp_path):
  """With --init_from and no --init_rename, a config's train.init_rename maps the source's names
  (cpu-hier-mel_16bar holds the rules that start it from the quick start's 2-bar model)."""
  source = helpers.make_untrained_run_dir(str(tmp_path / 'source'), 'tiny-mel_2bar')
  two_bar = magenta_checkpoint.build_model(checkpoints.load_config(source))
  checkpoints.restore(tf.train.Checkpoint(model=two_bar), checkpoints.latest_checkpoint(source))
  donor = two_bar.original_variable_names()['decoder/output_projection/kernel'].numpy()
  config = config_lib.load_config('tiny-hierdec-mel_16bar')
  config.model.update(encoder='hierarchical', segment_bars=2,
                      conductor_rnn_size=(config.model.z_size,))
  sixteen_bar = config_lib.load_config('cpu-hier-mel_16bar')
  config.train.init_rename = sixteen_bar.train.init_rename
  # The quick start's q(z|x) starts the 16-bar model's only while their z sizes agree.
  assert sixteen_bar.model.z_size == config_lib.load_config('cpu-mel_2bar').model.z_size
  config = short_run(config, num_steps=1, batch_size=4, learning_rate=1e-12, seed=3)
  result = train.train_and_evaluate(config, str(tmp_path / 'run'),
                                    midi_subset(tmp_path / 'midi', count=8), init_from=source)
  model = magenta_checkpoint.build_model(config)
  checkpoints.restore(tf.train.Checkpoint(model=model), result.checkpoint)
  kernel = model.original_variable_names()['core_decoder/decoder/output_projection/kernel']
  np.testing.assert_allclose(kernel.numpy(), donor, atol=1e-6)  # one step at lr 1e-12
  config.train.init_rename = ('decoder',)
  with pytest.raises(config_lib.ConfigError, match='train.init_rename.*PATTERN=REPLACEMENT'):
    config_lib.validate(config)


def test_freeze_choices_are_checked():
  model = magenta_checkpoint.build_model(config_lib.load_config('tiny-mel_2bar'))
  with pytest.raises(ValueError, match='needs a hierarchical model'):
    warm_start.frozen_variables(model, 'encoder_and_conductor')
  with pytest.raises(ValueError, match='must be one of'):
    warm_start.frozen_variables(model, 'decoder')
  assert len(warm_start.frozen_variables(model, 'encoder')) == 8  # fw, bw, mu, sigma: kernel, bias


@needs_fixtures
def test_fine_tuning_keeps_frozen_encoder_and_conductor_bit_identical(tmp_path):
  imported, _ = magenta_checkpoint.import_checkpoint(str(FIXTURES / 'hierdec-mel_16bar'),
                                                     str(tmp_path / 'imported'))
  config = short_run(checkpoints.load_config(imported), batch_size=4,
                     freeze='encoder_and_conductor')
  result = train.train_and_evaluate(config, str(tmp_path / 'tuned'), midi_subset(tmp_path / 'midi'),
                                    init_from=imported)
  assert result.step == 2 and result.checkpoint.endswith('ckpt-2')  # a fresh step count
  model = magenta_checkpoint.build_model(config)
  checkpoints.restore(tf.train.Checkpoint(model=model), result.checkpoint)
  arrays = fixture_arrays('hierdec-mel_16bar')
  changed = []
  for name, variable in model.original_variable_names().items():
    if name.startswith(('encoder/', 'decoder/hierarchical_level_0/')):
      np.testing.assert_array_equal(variable.numpy(), arrays[name], err_msg=name)
    elif not np.array_equal(variable.numpy(), arrays[name]):
      changed.append(name)
  assert len(changed) == 8  # every variable of the bar decoder learned


@pytest.mark.slow  # two programs, a real-size cat-mel_2bar_small: about a minute on 2 cores
@needs_fixtures
def test_mvl_train_init_from_an_imported_fixture(tmp_path):
  def program(name, *flags):
    result = subprocess.run([sys.executable, '-m', f'music_vae_lite.cli.{name}', *flags],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return result

  imported = tmp_path / 'imported'
  program('import_checkpoint', f'--magenta_checkpoint={FIXTURES / "cat-mel_2bar_small"}',
          f'--run_dir={imported}')
  tuned = tmp_path / 'tuned'
  result = program('train', '--config=cat-mel_2bar_small', f'--run_dir={tuned}',
                   f'--examples={midi_subset(tmp_path / "midi")}', f'--init_from={imported}',
                   '--num_steps=2', '--config.train.batch_size=8', '--config.train.freeze=encoder',
                   '--config.train.learning_rate=1e-4', '--config.train.eval_batches=1')
  arrays = fixture_arrays('cat-mel_2bar_small')
  assert 'restored (16):' in result.stderr
  assert all(f'    {name} {list(value.shape)}' in result.stderr for name, value in arrays.items())
  prefix = checkpoints.latest_checkpoint(str(tuned))
  assert prefix.endswith('ckpt-2')
  model = magenta_checkpoint.build_model(checkpoints.load_config(str(tuned)))
  checkpoints.restore(tf.train.Checkpoint(model=model), prefix)
  for name, variable in model.original_variable_names().items():
    same = np.array_equal(variable.numpy(), arrays[name])
    assert same == name.startswith('encoder/'), name


@needs_fixtures
def test_training_continues_an_imported_run_with_a_fresh_optimizer(tmp_path):
  run_dir, _ = magenta_checkpoint.import_checkpoint(str(FIXTURES / 'cat-mel_2bar_small'),
                                                    str(tmp_path / 'run'))
  config = short_run(checkpoints.load_config(run_dir), num_steps=1312, batch_size=4)
  result = train.train_and_evaluate(config, run_dir, midi_subset(tmp_path / 'midi', count=8))
  assert result.step == 1312 and result.checkpoint.endswith('ckpt-1312')  # 1311 + 1
  values = helpers.checkpoint_values(result.checkpoint)
  assert int(values['step/.ATTRIBUTES/VARIABLE_VALUE']) == 1312
  assert any(name.startswith('optimizer/') for name in values)  # a complete training checkpoint


@needs_fixtures
def test_init_from_an_unsupported_family_is_refused_in_one_line():
  model = magenta_checkpoint.build_model(config_lib.load_config('tiny-mel_2bar'))
  with pytest.raises(magenta_checkpoint.UnsupportedFamilyError,
                     match='model.ckpt: not supported yet: multi-instrument performance') as error:
    warm_start.restore_initial_weights(model, str(FIXTURES / 'hier-multiperf_vel_1bar_med'))
  assert '\n' not in str(error.value)


@needs_fixtures
def test_init_from_the_original_groovae_checkpoint():
  """--init_from with the original's GrooVAE checkpoint: every weight of a model of its sizes
  is restored; a humanize model with other sizes keeps only what fits."""
  config = config_lib.load_config('groovae_2bar_humanize')
  config.model.update(z_size=32, enc_rnn_size=(64,), dec_rnn_size=(48, 48))
  model = magenta_checkpoint.build_model(config)
  report = warm_start.restore_initial_weights(model, str(FIXTURES / 'groovae_2bar_humanize'))
  assert len(report['restored']) == len(model.original_variable_names())
  assert not report['skipped'] and not report['initialised']
  reader = tf.train.load_checkpoint(str(FIXTURES / 'groovae_2bar_humanize' / 'model.ckpt'))
  for name, variable in model.original_variable_names().items():
    np.testing.assert_array_equal(variable.numpy(), reader.get_tensor(name))
