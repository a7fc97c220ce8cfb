"""Faults while training: exact resume after kills, non-finite states, damaged checkpoints, a
second trainer, full disks, bad configs, signals."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import errno  # pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.training import distribute
from music_vae_lite.pipeline import input_pipeline
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def midi_dir(tmp_path_factory):
  return helpers.write_melody_midis(str(tmp_path_factory.mktemp('midi')), num_files=6)


@pytest.fixture(scope='module')
def window_set(midi_dir):
  return preprocess.load_examples(midi_dir, contract.get_converter(helpers.tiny_config()))


def _config(num_steps, **overrides):
  settings = dict(num_steps=num_steps, checkpoint_every=4, eval_every=1000, image_every=1000,
                  summary_every=1)
  settings.update(overrides)
  config = helpers.tiny_config(**settings)
  config.data.transpose = 3  # transposition draws are part of the stream that must replay
  return config


def _assert_same_weights(prefix_a, prefix_b):
  a, b = helpers.checkpoint_values(prefix_a), helpers.checkpoint_values(prefix_b)
  assert set(a) == set(b)
  for name in a:
    np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ---------------------------------------------------------------------------------------------
# Exact resume.


def test_the_data_stream_is_a_function_of_the_batch_number(window_set):
  converter = contract.get_converter(helpers.tiny_config())
  labels = window_set.labels[:11]  # 11 windows, batches of 4: batches straddle epochs

  def batches(start, count):
    dataset = input_pipeline.make_dataset(labels, converter, 4, seed=7, transpose=5,
                                          start_batch=start)
    return [b['labels'].numpy() for b in dataset.take(count)]

  whole = batches(0, 9)
  for start in (1, 2, 3, 5, 8):
    for got, expected in zip(batches(start, 9 - start), whole[start:]):
      np.testing.assert_array_equal(got, expected)


def test_resume_after_a_stop_ends_bit_identical(tmp_path, window_set):
  straight = train.train_and_evaluate(_config(10), str(tmp_path / 'straight'), window_set)
  train.train_and_evaluate(_config(5), str(tmp_path / 'resumed'), window_set)  # saves ckpt-4, 5
  resumed = train.train_and_evaluate(_config(10), str(tmp_path / 'resumed'), window_set)
  assert resumed.step == straight.step == 10
  _assert_same_weights(straight.checkpoint, resumed.checkpoint)
  # The same loss curve: every train summary of the resumed run equals the uninterrupted one's.
  a = helpers.read_events(tmp_path / 'straight' / 'train')['loss']
  b = helpers.read_events(tmp_path / 'resumed' / 'train')['loss']
  assert dict((step, float(v)) for step, v in a) == dict((step, float(v)) for step, v in b)


_KILL_LOOP_STEPS = 60


def _train_command(run_dir, examples, num_steps=_KILL_LOOP_STEPS):
  return [sys.executable, '-m', 'music_vae_lite.cli.train', '--config=tiny-mel_2bar',
          f'--run_dir={run_dir}', f'--examples={examples}', f'--num_steps={num_steps}',
          '--config.train.checkpoint_every=3', '--config.train.eval_every=1000',
          '--config.train.image_every=1000', '--config.data.eval_fraction=0.25',
          '--config.data.transpose=3', '--config.train.keep_checkpoints=2']


def _kill_and_resume(run_dir, examples, kills, seed):
  """Runs mvl_train, SIGKILLs it `kills` times at random moments after its first progress line
  (often during a save), then lets it finish. Returns the number of steps redone."""
  rng = random.Random(seed)
  for _ in range(kills):
    process = subprocess.Popen(_train_command(run_dir, examples), cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
      for line in process.stderr:
        if 'step ' in line or 'Already at step' in line:
          break
      time.sleep(rng.uniform(0.0, 1.5))
      process.kill()
      process.wait(timeout=120)
    finally:
      if process.poll() is None:
        process.kill()
      process.stderr.close()
  result = subprocess.run(_train_command(run_dir, examples), cwd=REPO, capture_output=True,
                          text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  return result


# Slow both ways (77 s for 2 kills on 2 cores): the default suite keeps SIGKILL-and-resume through
# mvl_train itself (tests/cli/test_programs.py, test_train_survives_sigkill_and_resumes_to_the_same_end).
@pytest.mark.parametrize('kills', [pytest.param(2, marks=pytest.mark.slow),
                                   pytest.param(10, marks=pytest.mark.slow)])
def test_sigkills_at_random_moments_then_resume_end_bit_identical(tmp_path, midi_dir, kills):
  straight = subprocess.run(_train_command(tmp_path / 'straight', midi_dir), cwd=REPO,
                            capture_output=True, text=True, timeout=600)
  assert straight.returncode == 0, straight.stderr[-3000:]
  _kill_and_resume(tmp_path / 'killed', midi_dir, kills, seed=kills)
  killed_train = tmp_path / 'killed' / 'train'
  assert not [name for name in os.listdir(killed_train) if '_temp' in name]
  latest = checkpoints.latest_checkpoint(str(tmp_path / 'killed'))
  assert latest.endswith(f'ckpt-{_KILL_LOOP_STEPS}')
  _assert_same_weights(checkpoints.latest_checkpoint(str(tmp_path / 'straight')), latest)
  for prefix in tf.train.get_checkpoint_state(str(killed_train)).all_model_checkpoint_paths:
    helpers.checkpoint_values(prefix)  # every listed checkpoint loads


# ---------------------------------------------------------------------------------------------
# Non-finite states, damaged checkpoints, full disks.


def test_a_state_with_huge_or_non_finite_weights_is_never_saved(tmp_path, window_set):
  # A learning rate this large drives the weights to huge values within a few steps.
  config = _config(40, checkpoint_every=1, learning_rate=1e9, min_learning_rate=1e9,
                   grad_norm_clip_to_zero=1e30, grad_clip=1e30)
  run_dir = str(tmp_path / 'run')
  with pytest.raises(train.NonFiniteLossError, match='(not finite|is nan|is inf)') as error:
    train.train_and_evaluate(config, run_dir, window_set)
  latest = checkpoints.latest_checkpoint(run_dir)
  if latest:  # what was saved is finite and resumes to a finite loss
    assert os.path.basename(latest) in str(error.value)
    state = train.TrainState(config, distribute.make_strategy('default'),
                             contract.get_converter(config))
    checkpoints.restore(state.checkpoint, latest)
    batch = next(iter(input_pipeline.make_dataset(window_set.labels[:8], state.model and
                                                  contract.get_converter(config), 8,
                                                  seed=0, shuffle=False, repeat=False)))
    assert train._state_is_finite(state, batch)  # pylint: disable=protected-access


def test_finite_check_catches_huge_weights_that_are_still_finite(window_set):
  config = _config(1)
  converter = contract.get_converter(config)
  state = train.TrainState(config, distribute.make_strategy('default'), converter)
  batch = next(iter(input_pipeline.make_dataset(window_set.labels[:8], converter, 8, seed=0,
                                                shuffle=False, repeat=False)))
  assert train._state_is_finite(state, batch)  # pylint: disable=protected-access
  saved = [v.numpy() for v in state.model.trainable_variables]
  for variable in state.model.trainable_variables:  # huge, finite: the next step overflows
    variable.assign(tf.fill(variable.shape, 1e37))
  assert all(np.all(np.isfinite(v.numpy())) for v in state.model.trainable_variables)
  assert train._state_is_finite(state, batch) is False  # pylint: disable=protected-access
  for variable, value in zip(state.model.trainable_variables, saved):
    variable.assign(value)
  kernel = state.model.trainable_variables[0]
  kernel.assign(tf.fill(kernel.shape, np.nan))
  assert train._state_is_finite(state, batch) is False  # pylint: disable=protected-access


# Slow (32 s each): the default suite keeps the same fallback (checkpoints.restore_newest_readable)
# through TrainedModel, test_a_trained_model_falls_back_from_a_damaged_newest_checkpoint.
@pytest.mark.parametrize('damage', [pytest.param('truncated data', marks=pytest.mark.slow),
                                    pytest.param('zeroed data', marks=pytest.mark.slow),
                                    pytest.param('truncated index', marks=pytest.mark.slow)])
def test_a_damaged_newest_checkpoint_is_named_and_the_one_before_is_used(tmp_path, window_set,
                                                                          damage, caplog):
  run_dir = tmp_path / 'run'
  train.train_and_evaluate(_config(8), str(run_dir), window_set)  # ckpt-4 and ckpt-8
  newest = run_dir / 'train' / 'ckpt-8'
  data = next((run_dir / 'train').glob('ckpt-8.data-*'))
  if damage == 'truncated data':
    data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 3])
  elif damage == 'zeroed data':
    data.write_bytes(bytes(len(data.read_bytes())))
  else:
    index = pathlib.Path(str(newest) + '.index')
    index.write_bytes(index.read_bytes()[:20])
  caplog.set_level('WARNING')
  result = train.train_and_evaluate(_config(12), str(run_dir), window_set)
  assert result.step == 12
  assert any('ckpt-8 cannot be read' in r.getMessage() for r in caplog.records), caplog.text
  # It resumed from ckpt-4: the same end as a run that was stopped there.
  reference = tmp_path / 'reference'
  train.train_and_evaluate(_config(4), str(reference), window_set)
  _assert_same_weights(train.train_and_evaluate(_config(12), str(reference),
                                                window_set).checkpoint, result.checkpoint)


def test_resume_from_a_chosen_checkpoint(tmp_path, window_set):
  run_dir = str(tmp_path / 'run')
  train.train_and_evaluate(_config(8), run_dir, window_set)
  result = train.train_and_evaluate(_config(6), run_dir, window_set, resume_from='4')
  assert result.step == 6
  with pytest.raises(checkpoints.RunDirError, match="No checkpoint 'ckpt-3'.*it has: .*ckpt-6"):
    train.train_and_evaluate(_config(6), run_dir, window_set, resume_from='ckpt-3')


def test_a_full_disk_during_a_save_is_one_clear_error(tmp_path, window_set, monkeypatch):
  run_dir = str(tmp_path / 'run')
  train.train_and_evaluate(_config(4), run_dir, window_set)

  def no_space(self, checkpoint_number=None, **kwargs):
    del self, checkpoint_number, kwargs
    raise OSError(errno.ENOSPC, 'No space left on device')

  monkeypatch.setattr(tf.train.CheckpointManager, 'save', no_space)
  with pytest.raises(checkpoints.RunDirError,
                     match='Could not save the checkpoint of step 8.*No space left on device.*'
                           'last good checkpoint is .*ckpt-4'):
    train.train_and_evaluate(_config(8), run_dir, window_set)
  assert checkpoints.latest_checkpoint(run_dir).endswith('ckpt-4')


# ---------------------------------------------------------------------------------------------
# One trainer per run directory; leftovers of killed saves.


def test_a_second_trainer_on_the_same_run_directory_is_refused(tmp_path, window_set):
  run_dir = tmp_path / 'run'
  with checkpoints.RunDirLock(str(run_dir / 'train')):
    with pytest.raises(checkpoints.RunDirError, match=f'in use by another trainer \\(PID {os.getpid()}\\)'):
      train.train_and_evaluate(_config(4), str(run_dir), window_set)
  # Released (as the kernel releases it when a holder is SIGKILLed): the lock file stays, harmless.
  assert (run_dir / 'train' / '.lock').exists()
  assert train.train_and_evaluate(_config(4), str(run_dir), window_set).step == 4


def test_leftovers_of_killed_saves_are_removed_on_start(tmp_path, window_set):
  run_dir = tmp_path / 'run'
  train.train_and_evaluate(_config(4), str(run_dir), window_set)
  leftover = run_dir / 'train' / 'ckpt-8_temp'
  leftover.mkdir()
  (leftover / 'part-00000-of-00001.data-00000-of-00001').write_bytes(b'\0' * 100)
  train.train_and_evaluate(_config(5), str(run_dir), window_set)
  assert not leftover.exists()


# ---------------------------------------------------------------------------------------------
# Configs and signals through the program.


@pytest.mark.parametrize('override, message', [
    ('--config.train.checkpoint_every=0', 'train.checkpoint_every=0 (expected a whole number >= 1)'),
    ('--config.train.log_every=0', 'train.log_every=0'),
    ('--config.model.z_size=0', 'model.z_size=0'),
    ("--config.model.sampling_schedule=linear", "model.sampling_schedule='linear'"),
])
def test_bad_config_values_get_one_line_before_tensorflow(tmp_path, midi_dir, override, message):
  result = subprocess.run(
      [sys.executable, '-m', 'music_vae_lite.cli.train', '--config=tiny-mel_2bar',
       f'--run_dir={tmp_path / "run"}', f'--examples={midi_dir}', override],
      cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 1, result.stderr
  assert message in result.stderr and 'Traceback' not in result.stderr, result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert not (tmp_path / 'run').exists()


def test_a_run_config_missing_a_section_or_with_an_unknown_key_is_named(tmp_path):
  run_dir = tmp_path / 'run'
  run_dir.mkdir()
  config = config_lib.load_config('tiny-mel_2bar').to_dict()
  config['model']['z_sise'] = 3
  (run_dir / 'config.json').write_text(__import__('json').dumps(config))
  with pytest.raises(config_lib.ConfigError, match='unknown key.*model.z_sise.*did you mean '
                                                   'model.z_size'):
    config_lib.load_run_config(str(run_dir))
  del config['model']
  (run_dir / 'config.json').write_text(__import__('json').dumps(config))
  with pytest.raises(config_lib.ConfigError, match='has no model section'):
    config_lib.load_run_config(str(run_dir))


def test_a_run_config_of_an_earlier_version_has_its_options_moved_to_their_owners(tmp_path):
  # Before the family and decoder sections, every run's config held data.gap_bars (trio's) and
  # model.split_parts (the hierarchical decoder's).
  run_dir = tmp_path / 'run'
  run_dir.mkdir()

  def load(name, **old_keys):
    config = config_lib.load_config(name).to_dict()
    del config['family'], config['decoder']
    config['data']['gap_bars'] = old_keys.get('gap_bars', 2)
    config['model']['split_parts'] = old_keys.get('split_parts', False)
    (run_dir / 'config.json').write_text(__import__('json').dumps(config))
    return config_lib.load_run_config(str(run_dir))

  config = load('tiny-trio_16bar', gap_bars=3, split_parts=True)
  assert config.family.to_dict() == {'gap_bars': 3}
  assert config.decoder.to_dict() == {'split_parts': True}
  assert 'gap_bars' not in config.data and 'split_parts' not in config.model
  config = load('tiny-mel_2bar')  # where they did nothing they go
  assert config.family.to_dict() == {} and config.decoder.to_dict() == {}
  # The family checks its own options (and fills in its defaults).
  assert load('tiny-trio_16bar').family.to_dict() == {'gap_bars': 2}
  config = config_lib.load_config('tiny-mel_2bar')
  config.family.gap_bars = 2
  with pytest.raises(config_lib.ConfigError, match=r'family.gap_bars: the melody family has no '
                     r'such option \(its options: none\)'):
    config_lib.validate(config, 'my config')


def test_sigterm_saves_and_exits_143(tmp_path, midi_dir):
  process = subprocess.Popen(_train_command(tmp_path / 'run', midi_dir, num_steps=100000),
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
  try:
    for line in process.stderr:
      if re.search(r'step \d+/\d+:', line):  # a progress line: the loop (and its handler) runs
        break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=120)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 143, rest[-2000:]
  assert 'Stopped by SIGTERM' in rest
  assert checkpoints.latest_checkpoint(str(tmp_path / 'run')) is not None


def test_a_trained_model_falls_back_from_a_damaged_newest_checkpoint(tmp_path, window_set,
                                                                     monkeypatch):
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  run_dir = tmp_path / 'run'
  train.train_and_evaluate(_config(8), str(run_dir), window_set)
  data = next((run_dir / 'train').glob('ckpt-8.data-*'))
  data.write_bytes(data.read_bytes()[:100])
  model = trained_model.TrainedModel(str(run_dir))
  assert model.step == 4 and model.checkpoint_path.endswith('ckpt-4')
  monkeypatch.chdir(tmp_path)  # a relative run directory, as users type it
  assert trained_model.TrainedModel('run').checkpoint_path == os.path.join('run', 'train', 'ckpt-4')
  with pytest.raises(checkpoints.RunDirError, match='No readable checkpoint: .*ckpt-8: '):
    trained_model.TrainedModel(str(run_dir / 'train' / 'ckpt-8'))
