"""Tests of the TrainedModel API, slerp and run-directory loading."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position

import note_seq
import numpy as np
import pytest

from music_vae_lite import checkpoints
from music_vae_lite.serving import trained_model

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)


# ---------------------------------------------------------------------------------------------
# slerp and temperature checks (no model).


def test_slerp_keeps_the_ends_and_moves_along_the_great_circle():
  p0, p1 = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
  path = trained_model.slerp(p0, p1, np.linspace(0, 1, 5))
  np.testing.assert_allclose(path[0], p0, atol=1e-12)
  np.testing.assert_allclose(path[-1], p1, atol=1e-12)
  # Orthogonal unit ends: the angle to p0 grows by 22.5 degrees a step, on the unit sphere (a
  # straight line would cut inside it).
  unit = trained_model.slerp(p0, p1 / 2, np.linspace(0, 1, 5))
  angles = [np.degrees(np.arccos(np.dot(p, p0) / np.linalg.norm(p))) for p in unit]
  np.testing.assert_allclose(angles, [0, 22.5, 45, 67.5, 90], atol=1e-9)
  np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-12)
  assert trained_model.slerp(p0, p1, 0.5).shape == (3,)


@pytest.mark.parametrize('p0, p1', [
    ([1.0, 2.0], [1.0, 2.0]),  # identical: omega = 0
    ([1.0, 2.0], [2.0, 4.0 + 1e-12]),  # parallel up to rounding
    ([1.0, 0.0], [-1.0, 0.0]),  # opposite: sin(omega) = 0 too
    ([0.0, 0.0], [1.0, 1.0]),  # a zero vector has no direction
])
def test_slerp_falls_back_to_lerp_where_the_angle_is_degenerate(p0, p1):
  t = np.linspace(0, 1, 5)
  path = trained_model.slerp(p0, p1, t)
  assert np.all(np.isfinite(path))
  np.testing.assert_allclose(path, (1 - t)[:, None] * np.array(p0) + t[:, None] * np.array(p1),
                             atol=1e-6)


@pytest.mark.parametrize('temperature', [-0.1, float('nan'), float('inf'), 'hot'])
def test_bad_temperatures_are_rejected(temperature):
  with pytest.raises(ValueError, match='temperature'):
    trained_model.check_temperature(temperature)


def test_zero_temperature_means_argmax_and_is_allowed():
  assert trained_model.check_temperature(0) == 0.0


# ---------------------------------------------------------------------------------------------
# A restored model.


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
  return helpers.make_untrained_run_dir(str(tmp_path_factory.mktemp('run') / 'run'))


@pytest.fixture(scope='module')
def model(run_dir):
  return trained_model.TrainedModel(run_dir, batch_size=4)


def _melody(pitches, numerator=4):
  """A NoteSequence of eighth notes (two steps each) at 120 qpm."""
  sequence = note_seq.NoteSequence(ticks_per_quarter=220)
  sequence.tempos.add(qpm=120)
  sequence.time_signatures.add(numerator=numerator, denominator=4)
  for index, pitch in enumerate(pitches):
    sequence.notes.add(pitch=pitch, start_time=0.25 * index, end_time=0.25 * (index + 1),
                       velocity=80)
  sequence.total_time = 0.25 * len(pitches)
  return sequence


def test_loads_from_a_run_dir_its_train_dir_or_a_checkpoint_prefix(run_dir, model):
  assert model.step == 0 and model.config.name == 'tiny-mel_2bar'
  prefix = os.path.join(run_dir, 'train', 'ckpt-0')
  for path in (os.path.join(run_dir, 'train'), prefix, prefix + '.index'):
    assert checkpoints.resolve(path) == (prefix, run_dir)


def test_sample_is_seeded_and_runs_one_compiled_graph(model):
  first = model.sample_labels(6, temperature=1.0, seed=3)  # 6 > batch_size 4: two chunks
  assert first.shape == (6, 32, 1) and first.dtype == np.int32
  np.testing.assert_array_equal(model.sample_labels(6, temperature=1.0, seed=3), first)
  assert not np.array_equal(model.sample_labels(6, temperature=1.0, seed=4), first)
  model.sample_labels(1, temperature=0.3, seed=5)
  model.decode_to_labels(np.zeros([2, model.z_size]), temperature=0.0)
  # Any batch size and tensor arguments: every call above reused one trace of each function.
  assert model.inference.sample.experimental_get_tracing_count() == 1
  assert model.inference.decode.experimental_get_tracing_count() == 1
  sequences = model.sample(2, temperature=0.5, seed=1)
  assert len(sequences) == 2 and all(isinstance(s, note_seq.NoteSequence) for s in sequences)


def test_zero_temperature_decodes_greedily_whatever_the_seed(model):
  z = np.random.default_rng(0).standard_normal([3, model.z_size])
  np.testing.assert_array_equal(model.decode_to_labels(z, 0.0, seed=1),
                                model.decode_to_labels(z, 0.0, seed=2))
  with pytest.raises(ValueError, match='temperature'):
    model.decode(z, temperature=-1.0)
  with pytest.raises(ValueError, match=r'\[N, 8\]'):
    model.decode(np.zeros([2, 5]))


def test_encode_gives_z_mu_sigma_per_sequence(model):
  sequences = [_melody([60, 62, 64, 65] * 4), _melody([72, 71, 69, 67] * 4)]
  z, mu, sigma = model.encode(sequences, seed=0)
  for array in (z, mu, sigma):
    assert array.shape == (2, model.z_size)
  assert np.all(sigma > 0)
  # The posterior mean does not depend on the seed; z does.
  _, mu_again, _ = model.encode(sequences, seed=1)
  np.testing.assert_allclose(mu_again, mu, rtol=1e-6)


def test_interpolation_starts_and_ends_at_the_inputs_means(model):
  start, end = _melody([60, 64, 67, 72] * 4), _melody([65, 69, 72, 77] * 4)
  labels = model.interpolate_labels(model.extract_window(start)[0], model.extract_window(end)[0],
                                    num_steps=5, temperature=0.0)
  assert labels.shape == (5, 32, 1)
  _, mu, _ = model.encode([start, end])
  np.testing.assert_array_equal(labels[[0, -1]], model.decode_to_labels(mu, 0.0))
  assert len(model.interpolate(start, end, num_steps=3, temperature=0.5, seed=0)) == 3
  with pytest.raises(ValueError, match='num_steps'):
    model.interpolate(start, end, num_steps=1)


def test_inputs_without_a_window_say_why(model):
  with pytest.raises(trained_model.NoWindowError, match='3/4 time'):
    model.encode([_melody([60, 62] * 12, numerator=3)])
  with pytest.raises(trained_model.NoWindowError, match='NoteSequence 1'):
    model.encode([_melody([60, 62, 64, 65] * 4), note_seq.NoteSequence()])
  labels, index, count = model.extract_window(_melody(list(range(60, 72)) * 8), window=1)
  assert count > 1 and index == 1 and labels.shape == (32, 1)
  with pytest.raises(trained_model.NoWindowError, match='window 99 does not exist'):
    model.extract_window(_melody([60, 62, 64, 65] * 4), window=98)


def test_interpolation_skips_a_leading_rest_unless_told(model):
  # A pickup: the tune starts on the last beat of its first bar, so window 1 opens with silence.
  tune = _melody(list(range(60, 72)) * 8)
  for note in tune.notes:
    note.start_time += 1.5  # three beats at 120 qpm
    note.end_time += 1.5
  tune.total_time += 1.5
  labels, index, count = model.extract_window(tune)
  assert count > 1 and index > 0 and model.converter.starts_with_note(labels)
  first, index, _ = model.extract_window(tune, window=0)
  assert index == 0 and not model.converter.starts_with_note(first)
  encoded = []
  original = model.interpolate_labels

  def spy(start, end, *args, **kwargs):
    encoded.append((start, end))
    return original(start, end, *args, **kwargs)

  model.interpolate_labels = spy
  try:
    model.interpolate(tune, tune, num_steps=2, temperature=0.0)
    model.interpolate(tune, tune, num_steps=2, temperature=0.0, start_window=0, end_window=0)
  finally:
    del model.interpolate_labels
  np.testing.assert_array_equal(encoded[0][0], labels)
  np.testing.assert_array_equal(encoded[1][0], first)
  np.testing.assert_array_equal(encoded[1][1], first)


def test_checkpoint_from_another_config_is_named(tmp_path, run_dir):
  copy = tmp_path / 'copy'
  copy.mkdir()
  os.symlink(os.path.join(run_dir, 'train'), copy / 'train')
  with open(os.path.join(run_dir, 'config.json')) as f:
    config = json.load(f)
  config['model']['enc_rnn_size'] = [48]
  (copy / 'config.json').write_text(json.dumps(config))
  with pytest.raises(checkpoints.CheckpointMismatchError,
                     match=r'model/encoder/forward/0/kernel: checkpoint \[122, 128\], '
                           r'model \[138, 192\]'):
    trained_model.TrainedModel(str(copy))


def test_missing_run_dir_or_checkpoint_is_reported(tmp_path):
  with pytest.raises(checkpoints.RunDirError, match='No run directory or checkpoint'):
    trained_model.TrainedModel(str(tmp_path / 'nowhere'))
  (tmp_path / 'config.json').write_text('{}')
  with pytest.raises(checkpoints.RunDirError, match='has no checkpoint yet'):
    trained_model.TrainedModel(str(tmp_path))
  with pytest.raises(checkpoints.RunDirError, match='not a music_vae_lite run directory'):
    trained_model.TrainedModel(str(tmp_path / '..'))


def test_unwritable_output_dir_is_reported(tmp_path):
  blocker = tmp_path / 'file'
  blocker.write_text('')
  with pytest.raises(checkpoints.RunDirError, match='not writable'):
    checkpoints.ensure_writable_dir(str(blocker / 'out'))



def test_chunks_are_not_padded_and_do_not_change_the_encoding(model):
  labels = np.random.default_rng(7).integers(0, 90, [6, model.num_steps, 1])
  _, mu, sigma = model.encode_labels(labels, seed=0)  # chunks of 4 and 2 rows
  for row in range(6):
    _, mu_alone, sigma_alone = model.encode_labels(labels[row:row + 1], seed=0)
    np.testing.assert_allclose(mu_alone[0], mu[row], atol=1e-5)
    np.testing.assert_allclose(sigma_alone[0], sigma[row], atol=1e-5)
  assert model.inference.encode.experimental_get_tracing_count() == 1
  # A one-part family's windows may come without their part axis: [N, T] for [N, T, 1].
  _, mu_flat, _ = model.encode_labels(labels[..., 0], seed=0)
  np.testing.assert_array_equal(mu_flat, mu)
  assert model.to_note_sequences(labels[..., 0]) == model.to_note_sequences(labels)
  with pytest.raises(ValueError, match=r'Labels must be \[N, 32, 1\], got \(6, 16, 1\)'):
    model.encode_labels(labels[:, :16], seed=0)


def test_bfloat16_generation_stays_close_to_float32(run_dir, model):
  half = trained_model.TrainedModel(run_dir, batch_size=4, compute_dtype='bfloat16')
  assert half.compute_dtype == 'bfloat16' and model.compute_dtype == 'float32'
  labels = np.random.default_rng(8).integers(0, 90, [3, model.num_steps, 1])
  _, mu, _ = model.encode_labels(labels, seed=0)
  _, mu_half, _ = half.encode_labels(labels, seed=0)
  np.testing.assert_allclose(mu_half, mu, atol=0.02)
  # Greedy decoding: bf16 rounding may flip a near-tie, and a flipped token changes what follows,
  # so compare the first steps, where nothing has been fed back yet.
  z = np.random.default_rng(9).standard_normal([4, model.z_size])
  greedy, greedy_half = model.decode_to_labels(z, 0.0), half.decode_to_labels(z, 0.0)
  assert greedy_half.shape == greedy.shape
  assert np.mean(greedy_half[:, :4] == greedy[:, :4]) >= 0.75
  with pytest.raises(ValueError, match='compute_dtype'):
    trained_model.TrainedModel(run_dir, compute_dtype='float16')
