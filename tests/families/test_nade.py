"""NADE drums: the drum-roll family (families/drum_roll.py) and the NADE decoder
(nn/decoders/nade.py): roll windows of hand-built drum tracks and their round trip, the NADE's
exact likelihood against a sum over every bit vector, sampling that feeds back its bits, a tiny
model that trains from drum MIDI, and the original's nade-drums_2bar_reduced fixture imported
through magenta_checkpoint (mvl_import, TrainedModel.from_magenta, --init_from)."""
import itertools
import pathlib
import subprocess
import sys

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import drum_roll
from music_vae_lite.families import drums
from music_vae_lite.nn import model_registry
from music_vae_lite.nn.decoders import nade
from music_vae_lite.serving import magenta_checkpoint
from music_vae_lite.serving import trained_model
from music_vae_lite.training import train
from music_vae_lite.training import warm_start

import helpers  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = REPO.parent / 'shared' / 'magenta_fixtures' / 'nade-drums_2bar_reduced'
needs_fixture = pytest.mark.skipif(not FIXTURE.is_dir(),
                                   reason=f'Magenta fixture not found at {FIXTURE}')


def converter(drum_map='reduced'):
  return drum_roll.DrumRollConverter(slice_bars=1, max_windows_per_sequence=None,
                                     drum_map=drum_map)


# -------------------------------------------------------------------------------------------------
# The family.


def test_roll_windows_of_drum_tracks():
  hits = [(0, 36), (0, 42), (4, 38), (4, 40),  # snare twice at one step: one bit
          (8, 44), (14, 99),  # 99: no class, dropped and counted
          (18, 49), (28, 36)]  # bar 2; then a silence of > 1 bar ends the track
  hits += [(64, 51), (70, 46)]  # a second track, bar 5
  sequence = helpers.drum_performance([(step, pitch, 100, 0.0) for step, pitch in hits],
                                      bars=5)
  sequence.notes.add(start_time=0.0, end_time=0.5, pitch=60, velocity=80)  # not a drum
  result = converter().to_tensors(sequence)
  roll = result.arrays['roll']
  assert roll.dtype == np.uint8 and roll.shape == (3, 16, 9)
  assert result.rejected['pitch_out_of_range'] == 1 and result.num_tracks == 2
  expected = np.zeros([3, 16, 9], np.uint8)
  for window, step, drum in [(0, 0, 0), (0, 0, 2), (0, 4, 1), (0, 8, 2),  # bar 1
                             (1, 2, 7), (1, 12, 0),  # bar 2 (one-bar hop)
                             (2, 0, 8), (2, 6, 3)]:  # the second track
    expected[window, step, drum] = 1
  np.testing.assert_array_equal(roll, expected)
  # The full map: one column per pitch, so the snare's 38 and 40 stay apart.
  full = converter('full').to_tensors(sequence).arrays['roll']
  assert full.shape == (3, 16, 61)
  columns = [drum_roll.FULL_DRUM_PITCHES.index(p) for p in (38, 40)]
  np.testing.assert_array_equal(full[0, 4, columns], [1, 1])
  assert full[0, 4].sum() == 2 and full.sum() == len(hits) - 1


def test_decoding_round_trips_and_pictures_attributes_inputs():
  for drum_map in ('reduced', 'full'):
    family = converter(drum_map)
    rng = np.random.default_rng(len(drum_map))
    roll = (rng.random([4, 16, family.num_classes]) < 0.15).astype(np.uint8)
    roll[:, 0, 0] = 1  # a window starts with a hit (else it would start a later track)
    roll[:, -1, 1] = 1
    sequences = family.from_tensors(roll)
    assert {(n.instrument, n.is_drum, n.velocity) for s in sequences for n in s.notes} == {
        (9, True, 80)}
    back = np.concatenate([family.to_tensors(s).arrays['roll'] for s in sequences])
    np.testing.assert_array_equal(back, roll)
    # The encoder reads the roll and a "no hit" bit.
    inputs = family.encoder_inputs({'roll': roll}).numpy()
    assert inputs.shape == (4, 16, family.num_classes + 1) == (4, 16, family.input_depth)
    np.testing.assert_array_equal(inputs[..., :-1], roll)
    np.testing.assert_array_equal(inputs[..., -1], roll.max(-1) == 0)
  # Pictures and attributes of the full map: each pitch on its reduced class's row.
  family = converter('full')
  window = np.zeros([16, 61], np.uint8)
  for step, pitch in ((0, 36), (0, 35), (4, 38), (6, 51), (6, 52)):  # 52: the ride in 'full'
    window[step, drum_roll.FULL_DRUM_PITCHES.index(pitch)] = 1
  assert family.picture_parts(window) == [('drums', [(0, 0, 1), (1, 4, 5), (7, 6, 7),
                                                     (8, 6, 7)])]
  labels = np.array([[1, 0, 0, 0, 2, 0, 384] + [0] * 9])  # the same hits as drum labels
  np.testing.assert_array_equal(family.reduced_labels(window[np.newaxis]), labels)
  ours = family.attribute_values(window[np.newaxis])
  theirs = drums.DrumsConverter(slice_bars=1).attribute_values(labels[..., np.newaxis])
  assert ours.keys() == theirs.keys() and all(np.allclose(ours[k], theirs[k]) for k in ours)
  with pytest.raises(ValueError, match=r'Roll must be in \[0, 2\)'):
    family.from_tensors(window * 2)
  with pytest.raises(ValueError, match=r'Roll must be \[N, 16, 61\]'):
    family.from_tensors(window[:, :9])
  with pytest.raises(ValueError, match='family.drum_map must be one of reduced, full'):
    converter('roland')


# -------------------------------------------------------------------------------------------------
# The NADE.


def test_nade_likelihood_is_exact_and_sums_to_one():
  num_dims, num_hidden = 5, 3
  distribution = nade.Nade(num_dims, num_hidden, tf.constant([1, 2], tf.int64))
  rng = np.random.default_rng(0)
  b_enc = tf.constant(rng.normal(size=[2, num_hidden]), tf.float32)
  b_dec = tf.constant(rng.normal(size=[2, num_dims]), tf.float32)
  w_enc = distribution.w_enc.numpy()[:, 0]
  w_dec = distribution.w_dec_t.numpy()[..., 0]

  def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))

  def brute_force(x, n):  # the definition, one bit after another, in float64
    hidden, log_p = b_enc.numpy()[n].astype(np.float64), 0.0
    for d in range(num_dims):
      p = sigmoid(b_dec.numpy()[n, d] + sigmoid(hidden) @ w_dec[d])
      log_p += np.log(p if x[d] else 1.0 - p)
      hidden = hidden + x[d] * w_enc[d]
    return log_p

  vectors = np.array(list(itertools.product([0.0, 1.0], repeat=num_dims)), np.float32)
  for n in range(2):
    log_p = distribution.log_prob(vectors, tf.repeat(b_enc[n:n + 1], len(vectors), 0),
                                  tf.repeat(b_dec[n:n + 1], len(vectors), 0)).numpy()
    np.testing.assert_allclose(log_p, [brute_force(x, n) for x in vectors], atol=1e-5)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, atol=1e-5)
  # Sampling at temperature 0 takes each bit with p >= 0.5 given the bits it took before.
  bits = distribution.sample(b_enc, b_dec, 0.0, tf.constant([3, 4])).numpy()
  logits = distribution.conditional_logits(bits, b_enc, b_dec).numpy()
  np.testing.assert_array_equal(bits, (logits >= 0).astype(np.float32))
  # Drawn at temperature 1, the bit vectors follow p: frequencies of 4,000 draws.
  draws = distribution.sample(tf.repeat(b_enc[:1], 4000, 0), tf.repeat(b_dec[:1], 4000, 0), 1.0,
                              tf.constant([5, 6])).numpy()
  codes = draws @ (2 ** np.arange(num_dims))[::-1]
  frequencies = np.bincount(codes.astype(int), minlength=2 ** num_dims) / len(draws)
  probabilities = np.exp([brute_force(x, 0) for x in vectors])
  assert np.abs(frequencies - probabilities).max() < 0.03


def test_loss_and_metrics_of_the_decoder():
  config = config_lib.load_config('tiny-nade-drums_2bar')
  decoder = model_registry.build_model(config).decoder
  rng = np.random.default_rng(1)
  outputs = tf.constant(rng.normal(size=[2, 32, 16 + 9]), tf.float32)
  roll = (rng.random([2, 32, 9]) < 0.3).astype(np.uint8)
  r_loss, metrics = decoder.reconstruction_loss(outputs, roll, tf.constant([32, 10]))
  b_enc, b_dec = decoder.biases(outputs)
  log_p = decoder.nade.log_prob(tf.cast(roll, tf.float32), b_enc, b_dec).numpy()
  np.testing.assert_allclose(r_loss, [-log_p[0].sum(), -log_p[1, :10].sum()], rtol=1e-5)
  predicted = decoder.nade.conditional_logits(tf.cast(roll, tf.float32), b_enc, b_dec).numpy() >= 0
  valid = np.arange(32)[None, :] < np.array([[32], [10]])
  truth = roll.astype(bool)
  np.testing.assert_allclose(metrics['accuracy'].value,
                             (predicted == truth).all(-1)[valid].mean(), rtol=1e-6)
  assert float(metrics['accuracy'].weight) == 42
  hits = (predicted & truth)[valid].sum()
  np.testing.assert_allclose(metrics['recall'].value, hits / truth[valid].sum(), rtol=1e-6)
  np.testing.assert_allclose(metrics['precision'].value, hits / predicted[valid].sum(), rtol=1e-6)
  with pytest.raises(ValueError, match='nade_num_hidden must be a positive integer'):
    config.decoder.nade_num_hidden = 0
    model_registry.build_model(config)
  labels = config_lib.load_config('tiny-drums_2bar')
  labels.model.decoder = 'nade'
  with pytest.raises(ValueError, match="the drums family's windows hold labels"):
    model_registry.build_model(labels)


def test_sampling_feeds_back_the_sampled_bits():
  model = model_registry.build_model(config_lib.load_config('tiny-nade-drums_2bar'))
  decoder = model.decoder
  z = tf.random.stateless_normal([3, model.z_size], [4, 5]) * 3.0
  seed = tf.constant([7, 8], tf.int64)

  @tf.function  # one trace for both temperatures (eager step loops are slow)
  def run(temperature):
    outputs, fed = decoder.core.autoregressive(z, 32, decoder._sample_step,
                                               temperature=temperature, seed=seed)
    sampled = decoder.sample(z, temperature, seed=seed)
    return sampled, outputs, fed, decoder.teacher_forced(z, sampled)

  for temperature in (1.0, 0.0):
    sampled, outputs, fed, teacher_forced = run(tf.constant(temperature))
    assert sampled.dtype == tf.uint8 and set(np.unique(sampled)) <= {0, 1}
    if temperature:
      assert 0 < np.sum(sampled) < np.size(sampled)
    np.testing.assert_array_equal(fed, sampled)
    # The free-running outputs equal a teacher-forced pass over the bits it sampled.
    np.testing.assert_allclose(teacher_forced, outputs, atol=1e-5)
  # At temperature 0 every bit is the NADE's p >= 0.5 given the step's earlier bits.
  logits = decoder.nade.conditional_logits(fed, *decoder.biases(outputs))
  np.testing.assert_array_equal(fed, tf.cast(logits >= 0, tf.float32))


def test_a_tiny_model_trains_from_drum_midi(tmp_path):
  midi = helpers.write_drum_midis(str(tmp_path / 'midi'))
  config = config_lib.load_config('tiny-nade-drums_2bar')
  config.train.num_steps = 6
  config.train.eval_every = 6
  config.data.eval_fraction = 0.2
  result = train.train_and_evaluate(config, str(tmp_path / 'run'), str(midi))
  metrics = result.eval_metrics
  assert np.isfinite(metrics['losses/r_loss']) and metrics['losses/r_loss'] > 0
  for name in ('accuracy', 'recall', 'precision'):
    for mode in ('teacher_forced', 'sampled'):
      assert 0.0 <= metrics[f'metrics/{mode}_{name}'] <= 1.0, sorted(metrics)


# -------------------------------------------------------------------------------------------------
# The original's checkpoint (nade-drums_2bar_reduced, narrowed: z 32, encoder 64, decoder 48 x 2,
# NADE 16 hidden units).


def golden():
  return np.load(FIXTURE / 'golden.npz', allow_pickle=False)


def original_r_loss(decoder, outputs, targets):
  """The original's loss: log(p + 1e-6) and log(1 - p + 1e-6) per bit (nade.py, `_safe_log`)."""
  logits = decoder.nade.conditional_logits(tf.constant(targets), *decoder.biases(outputs))
  p = tf.sigmoid(logits).numpy().astype(np.float64)
  return -(targets * np.log(p + 1e-6) + (1 - targets) * np.log(1 - p + 1e-6)).sum((1, 2))


@needs_fixture
def test_the_originals_fixture_imports_and_reproduces(tmp_path):
  g = golden()
  run_dir, report = magenta_checkpoint.import_checkpoint(str(FIXTURE), str(tmp_path / 'run'))
  assert report['config_note'] == (
      "the variable shapes match config nade-drums_2bar_reduced with --config.model.z_size=32 "
      "--config.model.enc_rnn_size='(64,)' --config.model.dec_rnn_size='(48,48)' "
      '--config.decoder.nade_num_hidden=16')
  assert report['parameters'] == 90_409 and report['restored'] == 18
  model = trained_model.TrainedModel(run_dir, batch_size=8)
  # The converter gives the original's tensors.
  sequences = [note_seq.midi_file_to_note_sequence(str(FIXTURE / 'inputs' / name))
               for name in g['input_names']]
  rolls = np.stack([model.extract(sequence)[0] for sequence in sequences])
  np.testing.assert_array_equal(rolls, g['outputs'])
  np.testing.assert_array_equal(model.converter.encoder_inputs({'roll': rolls}), g['inputs'])
  # Posterior.
  _, mu, sigma = model.encode(sequences, seed=0)
  np.testing.assert_allclose(mu, g['mu'], atol=1e-4)
  np.testing.assert_allclose(sigma, g['sigma'], atol=1e-4)
  # Teacher forcing from the original's mu: the NADE's biases at every step, and the loss.
  decoder = model.model.decoder
  outputs = decoder.teacher_forced(tf.constant(g['mu']), g['x_target'])
  np.testing.assert_allclose(outputs, g['rnn_output'], atol=1e-4)
  np.testing.assert_allclose(original_r_loss(decoder, outputs, g['x_target']), g['r_loss'],
                             rtol=1e-5)
  # Ours is exact: it differs from the original's by its 1e-6 inside the logs (about 2e-5).
  r_loss, _ = decoder.reconstruction_loss(outputs, g['x_target'], tf.constant(g['x_length']))
  np.testing.assert_allclose(r_loss, g['r_loss'], rtol=1e-4)
  # Free-running from mu at temperature 0: the same bits, the same step outputs.
  bits = model.decode_to_labels(g['mu'], temperature=0.0, seed=0)
  np.testing.assert_array_equal(bits, g['decode_samples'])
  step_outputs, _ = tf.function(decoder.core.autoregressive)(
      tf.constant(g['mu']), 32, decoder._sample_step, temperature=0.0, seed=tf.constant([0, 0]))
  np.testing.assert_allclose(step_outputs, g['decode_rnn_output'], atol=1e-4)
  theirs = [note_seq.NoteSequence.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(str(FIXTURE / 'decoded.tfrecord'))]

  def notes(sequence):
    return sorted((n.pitch, round(n.start_time, 6), round(n.end_time, 6), n.velocity, n.is_drum)
                  for n in sequence.notes)

  assert [notes(s) for s in model.to_note_sequences(bits)] == [notes(s) for s in theirs]


@needs_fixture
def test_from_magenta_and_init_from_read_the_fixture():
  g = golden()
  model = trained_model.TrainedModel.from_magenta(str(FIXTURE))
  assert model.config.name == 'nade-drums_2bar_reduced' and model.step == 1500
  np.testing.assert_array_equal(model.decode_to_labels(g['mu'], 0.0, seed=0), g['decode_samples'])
  # --init_from: every weight of a fresh model of the same sizes comes from the checkpoint.
  fresh = model_registry.build_model(model.config)
  report = warm_start.restore_initial_weights(fresh, str(FIXTURE))
  assert len(report['restored']) == 18 and not report['skipped'] and not report['initialised']
  for name, variable in fresh.original_variable_names().items():
    np.testing.assert_array_equal(variable, model.model.original_variable_names()[name])


@needs_fixture
@pytest.mark.slow
def test_mvl_import_then_mvl_sample(tmp_path):
  def program(name, *flags):
    return subprocess.run([sys.executable, '-m', f'music_vae_lite.cli.{name}', *flags],
                          capture_output=True, text=True, timeout=300, cwd=REPO)

  run_dir = tmp_path / 'run'
  result = program('import_checkpoint', f'--magenta_checkpoint={FIXTURE}', f'--run_dir={run_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'nade-drums_2bar_reduced' in result.stdout
  result = program('sample', f'--run_dir={run_dir}', '--num_outputs=2',
                   f'--output_dir={tmp_path / "samples"}', '--seed=1')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list((tmp_path / 'samples').glob('*.mid'))) == 2
  assert len(list((tmp_path / 'samples').glob('*.png'))) == 1


@pytest.mark.slow
def test_saved_model_export_decodes_and_encodes_as_trained_model(tmp_path):
  import helpers  # pylint: disable=g-import-not-at-top  (tests/ is on sys.path under pytest)
  from music_vae_lite.serving import export  # pylint: disable=g-import-not-at-top
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'), 'tiny-nade-drums_2bar')
  model = trained_model.TrainedModel(run_dir)
  loaded = tf.saved_model.load(export.export_saved_model(model, str(tmp_path / 'saved')))
  z = np.random.default_rng(0).standard_normal([3, model.z_size]).astype(np.float32) * 3
  decoded = loaded.signatures['decode'](z=tf.constant(z), temperature=tf.constant(0.0),
                                        seed=tf.constant([0, 0]))
  assert sorted(decoded) == ['roll'] and decoded['roll'].dtype == tf.uint8
  roll = decoded['roll'].numpy()
  np.testing.assert_array_equal(roll, model.decode_to_labels(z, 0.0))
  inputs = model.converter.encoder_inputs({'roll': roll})
  encoded = loaded.signatures['encode'](inputs=inputs, lengths=tf.constant([32] * 3),
                                        seed=tf.constant([0, 0]))
  np.testing.assert_allclose(encoded['mu'], model.encode_labels(roll, seed=0)[1], atol=1e-6)


def test_the_studio_samples_and_morphs_drum_rolls(tmp_path):
  import helpers  # pylint: disable=g-import-not-at-top  (tests/ is on sys.path under pytest)
  from music_vae_lite.studio import api  # pylint: disable=g-import-not-at-top
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'), 'tiny-nade-drums_2bar')
  studio = api.StudioApi(trained_model.TrainedModel(run_dir))
  assert studio.parts == [{'name': 'drums', 'kind': 'drums', 'program': 0}]
  phrases = studio.sample({'n': 2, 'temperature': 1.0, 'seed': 1})['phrases']
  assert [sorted(phrase['arrays']) for phrase in phrases] == [['roll'], ['roll']]
  roll = np.array(phrases[0]['arrays']['roll'])
  assert roll.shape == (32, 9) and len(phrases[0]['notes']) == roll.sum()
  morph = studio.morph({'start': phrases[0], 'end': phrases[1], 'steps': 3, 'temperature': 0.0})
  assert len(morph['phrases']) == 3
  assert studio.midi({'phrases': phrases})[:4] == b'MThd'
