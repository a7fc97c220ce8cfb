"""The GrooVAE family (families/groove.py) and its decoder (nn/decoders/groove.py): windows of
hand-built performances, the options' encoder inputs, decoding, the loss terms against
hand-computed values, a tiny model that trains, and the original's fixture where it is present."""
import pathlib

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.families import groove
from music_vae_lite.nn import model_registry
from music_vae_lite.nn.decoders import groove as groove_decoder
from music_vae_lite.pipeline import input_pipeline
from music_vae_lite.training import losses
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order

STEP = 0.125  # seconds per sixteenth note at 120 qpm
REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURE = REPO.parent / 'shared' / 'magenta_fixtures' / 'groovae_2bar_humanize'


def converter(**options):
  return groove.GrooveConverter(slice_bars=1, max_windows_per_sequence=None, **options)


def test_hits_velocities_and_offsets_per_step_and_drum():
  sequence = helpers.drum_performance([
      (0, 36, 100, 0.0), (4, 38, 64, 0.25), (8, 42, 127, -0.25),
      (8, 44, 30, 0.0),  # the same class (closed hi-hat) at the same step
      (12, 38, 50, 0.0), (12, 40, 90, 0.1),  # snare twice: the loudest wins
      (14, 99, 80, 0.0),  # no class: dropped and counted
      (20, 49, 70, 0.0)])  # bar 2
  sequence.notes.add(start_time=0.0, end_time=0.5, pitch=60, velocity=80)  # not a drum
  result = converter().to_tensors(sequence)
  assert result.num_windows == 2 and result.rejected['pitch_out_of_range'] == 1
  hits, velocities, offsets = (result.arrays[name] for name in ('hits', 'velocities', 'offsets'))
  assert hits.shape == velocities.shape == offsets.shape == (2, 16, 9)
  expected_hits = np.zeros([2, 16, 9], np.float32)
  for window, step, drum in [(0, 0, 0), (0, 4, 1), (0, 8, 2), (0, 12, 1), (1, 4, 7)]:
    expected_hits[window, step, drum] = 1.0
  np.testing.assert_array_equal(hits, expected_hits)
  np.testing.assert_allclose(velocities[0, [0, 4, 8, 12], [0, 1, 2, 1]],
                             np.array([100, 64, 127, 90]) / 127, rtol=1e-6)
  # 2 x (grid - onset) / step: late is negative, early positive.
  np.testing.assert_allclose(offsets[0, [0, 4, 8, 12], [0, 1, 2, 1]], [0.0, -0.5, 0.5, -0.2],
                             atol=1e-5)
  assert velocities[hits == 0].max() == 0 and offsets[hits == 0].max() == 0


def test_windows_hop_by_their_length_and_the_tempo_sets_the_step():
  sequence = helpers.drum_performance(
      [(step, 36, 100, 0.4 if step == 16 else 0.0) for step in (0, 16, 33)], bars=3, qpm=90.0)
  result = groove.GrooveConverter(slice_bars=1, max_windows_per_sequence=None).to_tensors(
      sequence)
  # Three bars (the last onset's bar is the last), three one-bar windows, hop one window.
  assert result.num_windows == 3
  np.testing.assert_allclose(result.arrays['offsets'][1, 0, 0], -0.8, atol=1e-5)
  np.testing.assert_array_equal(result.arrays['hits'][:, :, 0].nonzero(), [[0, 1, 2], [0, 0, 1]])


def test_from_tensors_writes_velocities_and_timing_and_reads_back():
  family = converter()
  window = {name: np.zeros([16, 9], np.float32) for name in ('hits', 'velocities', 'offsets')}
  window['hits'][[0, 6, 9], [0, 1, 8]] = 1.0
  window['velocities'][[0, 6, 9], [0, 1, 8]] = [100 / 127, 0.3, 0.0]
  window['offsets'][[0, 6, 9], [0, 1, 8]] = [0.4, -0.5, 0.2]
  window['velocities'][3, 4] = 0.9  # no hit there: nothing is written
  sequence, = family.from_tensors(window)
  notes = sorted((n.start_time, n.pitch, n.velocity, n.is_drum) for n in sequence.notes)
  # (t - offset / 2) steps; onsets before the window start at 0; velocity at least 1.
  assert notes == [(0.0, 36, 100, True), pytest.approx((6.25 * STEP, 38, 38, True)),
                   pytest.approx((8.9 * STEP, 51, 1, True))]
  back = family.to_tensors(sequence).arrays
  np.testing.assert_array_equal(back['hits'][0], window['hits'])
  played = window['hits'] > 0
  np.testing.assert_allclose(back['offsets'][0][played], [0.0, -0.5, 0.2], atol=1e-4)


def test_the_options_change_only_what_the_encoder_reads():
  hits = np.zeros([1, 16, 9], np.float32)
  hits[0, 0, [0, 2]] = 1.0
  hits[0, 5, 1] = 1.0
  velocities = hits * np.linspace(0.1, 0.9, 9, dtype=np.float32)
  offsets = hits * -0.3
  arrays = {'hits': hits, 'velocities': velocities, 'offsets': offsets}

  def inputs(**options):
    return converter(**options).encoder_inputs(arrays).numpy()[0]

  np.testing.assert_array_equal(inputs(), np.concatenate([hits, velocities, offsets], -1)[0])
  humanized = inputs(humanize=True)
  np.testing.assert_array_equal(humanized[:, :9], hits[0])
  assert not humanized[:, 9:].any()
  # Tapify: one open hi-hat hit per step with the loudest hit's velocity and offset.
  tapped = inputs(tapify=True)
  expected = np.zeros([16, 27], np.float32)
  expected[[0, 5], 3] = 1.0
  expected[[0, 5], 9 + 3] = [velocities[0, 0, 2], velocities[0, 5, 1]]
  expected[[0, 5], 18 + 3] = -0.3
  np.testing.assert_allclose(tapped, expected)
  assert not inputs(tapify=True, fixed_velocities=True)[:, 9:18].any()
  added = inputs(add_instruments=(2,))
  assert not added[:, [2, 11, 20]].any() and added[0, 0] == 1.0
  with pytest.raises(ValueError, match='add_instruments must be drum classes 0-8'):
    converter(add_instruments=(9,))
  with pytest.raises(ValueError, match='humanize must be True or False'):
    converter(humanize='yes')


def _dense_arrays(num_windows=64, seed=0, steps=16):
  """Windows with a hit at every step and drum, velocities spread over (0, 1]."""
  rng = np.random.default_rng(seed)
  hits = np.ones([num_windows, steps, 9], np.float32)
  velocities = rng.uniform(0.05, 1.0, hits.shape).astype(np.float32)
  offsets = rng.uniform(-0.5, 0.5, hits.shape).astype(np.float32)
  return {'hits': hits, 'velocities': velocities, 'offsets': offsets}


def test_note_dropout_thins_only_the_encoder_input_of_training_batches():
  arrays = _dense_arrays()
  family = converter(max_note_dropout_probability=0.8)
  seed = tf.constant([3, 4], tf.int64)
  augmented = family.augment(arrays, seed)
  for name in ('hits', 'velocities', 'offsets'):  # the targets stay whole
    np.testing.assert_array_equal(augmented[name], arrays[name])
  inputs = augmented[contract.INPUTS].numpy()
  kept = inputs[..., :9]
  assert set(np.unique(kept)) == {0.0, 1.0}
  # Dropped hits take their velocity and offset with them; kept ones keep theirs.
  np.testing.assert_array_equal(inputs[..., 9:18], arrays['velocities'] * kept)
  np.testing.assert_array_equal(inputs[..., 18:], arrays['offsets'] * kept)
  np.testing.assert_array_equal(family.augment(arrays, seed)[contract.INPUTS], inputs)
  assert not np.array_equal(family.augment(arrays, tf.constant([3, 5], tf.int64))[
      contract.INPUTS], inputs)
  # Each window draws p ~ U(0, 0.8); a hit goes with probability max(0.2, 1 - velocity) * p:
  # soft hits about 0.4 x 0.95, loud ones 0.4 x 0.2 on average.
  soft, loud = arrays['velocities'] < 0.1, arrays['velocities'] > 0.9
  assert 0.3 < 1 - kept[soft].mean() < 0.45 and 0.04 < 1 - kept[loud].mean() < 0.12
  rates = 1 - kept.mean(axis=(1, 2))
  assert rates.min() < 0.1 and rates.max() > 0.3  # windows differ in how much they lose
  # Without the option nothing changes, and outside training there is no dropout at all.
  assert contract.INPUTS not in converter().augment(arrays, seed)
  np.testing.assert_array_equal(family.encoder_inputs(arrays),
                                np.concatenate([arrays[n] for n in ('hits', 'velocities',
                                                                    'offsets')], -1))
  with pytest.raises(ValueError, match=r'max_note_dropout_probability must be a number in \[0, 1\]'):
    converter(max_note_dropout_probability=1.5)


def test_training_batches_carry_the_dropped_inputs():
  arrays = _dense_arrays(8)
  family = converter(humanize=True, max_note_dropout_probability=0.8)
  batch = next(iter(input_pipeline.make_dataset(arrays, family, 8, seed=1, augment=True)))
  np.testing.assert_array_equal(np.sort(batch['hits'].numpy(), axis=0), arrays['hits'])
  inputs = batch[contract.INPUTS].numpy()
  assert inputs[..., :9].sum() < arrays['hits'].sum()  # some hits dropped
  assert not inputs[..., 9:].any()  # and humanized after
  evaluation = next(iter(input_pipeline.make_dataset(arrays, family, 8, seed=1, augment=False)))
  assert evaluation[contract.INPUTS].numpy()[..., :9].sum() == arrays['hits'].sum()


def test_tapify_after_dropout_takes_the_loudest_survivor_with_its_true_values():
  hits = np.zeros([1, 16, 9], np.float32)
  hits[0, 0, [1, 2]] = 1.0  # snare (soft) and closed hi-hat (loud)
  hits[0, 4, [0, 1]] = 1.0  # kick and snare
  hits[0, 8, 1] = 1.0  # snare alone
  velocities = hits * np.array([0.7, 0.3, 0.9, 0, 0, 0, 0, 0, 0], np.float32)
  offsets = hits * 0.25
  arrays = {'hits': hits, 'velocities': velocities, 'offsets': offsets}
  keep = np.ones_like(hits)
  keep[0, 0, 2] = 0.0  # the hi-hat goes: the snare is the loudest left
  keep[0, 4, [0, 1]] = 0.0  # both go: class 0 (the kick) is read, and it was hit
  keep[0, 8, 1] = 0.0  # the snare goes: nothing left, and no kick there
  inputs = converter(tapify=True)._encoder_inputs(arrays, keep).numpy()[0]  # pylint: disable=protected-access
  np.testing.assert_allclose(inputs[[0, 4, 8], 3], [1.0, 1.0, 0.0])
  np.testing.assert_allclose(inputs[[0, 4, 8], 12], [0.3, 0.7, 0.0])
  np.testing.assert_allclose(inputs[[0, 4, 8], 21], [0.25, 0.25, 0.0])
  assert inputs[:, [0, 1, 2, 4, 5, 6, 7, 8]].sum() == 0


def test_hits_as_controls_give_the_decoder_and_the_encoder_the_true_hits():
  arrays = _dense_arrays(2)
  arrays['hits'][:, ::2] = 0.0
  family = converter(hits_as_controls=True, humanize=True)
  assert (family.control_depth, family.input_depth) == (9, 36)
  assert not family.stores_controls  # nothing more is stored: users pass no controls to encode
  inputs = family.encoder_inputs(arrays).numpy()
  np.testing.assert_array_equal(inputs[..., 27:], arrays['hits'])
  np.testing.assert_array_equal(inputs[..., :9], arrays['hits'])
  np.testing.assert_array_equal(family.decoder_controls(arrays), arrays['hits'])
  assert converter().decoder_controls(arrays) is None
  config = config_lib.load_config('tiny-groove_2bar')
  config.family.hits_as_controls = True
  model = model_registry.build_model(config)
  shapes = {name: v.shape.as_list() for name, v in model.original_variable_names().items()}
  assert shapes['decoder/multi_rnn_cell/cell_0/lstm_cell/kernel'][0] == 27 + 8 + 9 + 32
  assert shapes['encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel'][
      0] == 36 + 32
  # Sampling follows the controls: other hits give other velocities.
  z = tf.random.stateless_normal([1, 8], [1, 2])
  controls = tf.ones([1, 32, 9])
  first = model.decoder.sample(z, 0.0, controls, seed=tf.constant([0, 0], tf.int64))
  second = model.decoder.sample(z, 0.0, tf.zeros([1, 32, 9]), seed=tf.constant([0, 0], tf.int64))
  assert not np.allclose(first['velocities'], second['velocities'])


def test_four_bar_windows():
  config = config_lib.load_config('groovae_4bar')
  family = contract.get_converter(config)
  assert family.window_steps == 64
  hits = [(step, 36, 100, 0.0) for step in range(0, 128, 4)]
  result = family.to_tensors(helpers.drum_performance(hits, bars=8))
  assert result.arrays['hits'].shape == (1, 64, 9)  # two windows, the same: dedup keeps one
  assert result.rejected['duplicate'] == 1


def test_dropout_applies_to_training_steps_only():
  config = config_lib.load_config('tiny-groove_2bar')
  config.model.dropout_keep_prob = 0.5
  model = model_registry.build_model(config)
  arrays = _dense_arrays(4, steps=32)
  family = model.family
  batch = dict(arrays, inputs=family.encoder_inputs(arrays), lengths=family.lengths(arrays))
  seed = tf.constant([1, 2], tf.int64)

  def loss(training, step_seed=seed):
    return losses.compute_loss(model, batch, 0, config.model, step_seed, training=training)[0]

  evaluation = loss(False)
  config.model.dropout_keep_prob = 1.0
  twin = model_registry.build_model(config)  # same seed: same weights, no dropout
  np.testing.assert_allclose(
      losses.compute_loss(twin, batch, 0, config.model, seed, training=True)[0], evaluation,
      rtol=1e-6)
  training = loss(True)
  assert abs(float(training) - float(evaluation)) > 1e-3
  np.testing.assert_allclose(loss(True), training)  # a function of the seed
  assert abs(float(loss(True, tf.constant([1, 3], tf.int64))) - float(training)) > 1e-4
  # Dropout reaches both halves: the encoder's posterior and the decoder's outputs.
  posterior = model.posterior(batch['inputs'], batch['lengths'])
  dropped = model.posterior(batch['inputs'], batch['lengths'], dropout_seed=seed)
  assert not np.allclose(posterior.mean(), dropped.mean())
  z = posterior.mean()
  outputs = model.decoder.reconstruct(z, family.targets(arrays), seed=seed)
  assert not np.allclose(outputs, model.decoder.reconstruct(
      z, family.targets(arrays), seed=seed, dropout_seed=seed))
  categorical = config_lib.load_config('tiny-drums_2bar')
  categorical.model.dropout_keep_prob = 0.3
  with pytest.raises(ValueError, match='the flat decoder has no dropout'):
    model_registry.build_model(categorical)


def test_loss_terms_equal_hand_computed_values():
  family = converter()
  decoder = groove_decoder.GrooveDecoder(family, [4], 2, tf.constant([1, 2], tf.int64))
  targets = {name: np.zeros([1, 16, 9], np.float32) for name in ('hits', 'velocities', 'offsets')}
  targets['hits'][0, 0, 0] = 1.0
  targets['velocities'][0, 0, 0] = 0.5
  targets['offsets'][0, 0, 0] = -0.5
  outputs = np.zeros([1, 16, 27], np.float32)
  outputs[0, 0, 0] = np.log(3.0)  # p(hit) = 0.75
  outputs[0, 0, 9] = np.log(4.0)  # velocity 0.8
  outputs[0, 0, 18] = np.arctanh(0.5)  # offset 0.5
  r_loss, metrics = decoder.reconstruction_loss(outputs, targets, tf.constant([16]))
  eps = 1e-7
  # Step 0: the kick's log loss, then 8 drums at p = 0.5 without a hit; other steps: 9 of them.
  hits_0 = -np.log(0.75 + eps) - 8 * np.log(0.5 + eps)
  hits_rest = -9 * np.log(0.5 + eps)
  velocities_0 = (0.5 - 0.8) ** 2 + 8 * 0.5 ** 2  # sigmoid(0) = 0.5 against 0
  velocities_rest = 9 * 0.5 ** 2
  offsets_0 = (-0.5 - 0.5) ** 2  # tanh(0) = 0 elsewhere
  expected = hits_0 + velocities_0 + offsets_0 + 15 * (hits_rest + velocities_rest)
  np.testing.assert_allclose(r_loss.numpy(), [expected], rtol=1e-5)
  np.testing.assert_allclose(metrics['hits_loss'].value, (hits_0 + 15 * hits_rest) / 16,
                             rtol=1e-5)
  np.testing.assert_allclose(metrics['velocities_loss'].value,
                             (velocities_0 + 15 * velocities_rest) / 16, rtol=1e-5)
  np.testing.assert_allclose(metrics['offsets_loss'].value, offsets_0 / 16, rtol=1e-5)
  # p = 0.75 > 0.5 on the hit is right, p = 0.5 elsewhere reads as "no hit": all right.
  np.testing.assert_allclose(metrics['hit_accuracy'].value, 1.0)
  # Only the valid steps count.
  short, _ = decoder.reconstruction_loss(outputs, targets, tf.constant([1]))
  np.testing.assert_allclose(short.numpy(), [hits_0 + velocities_0 + offsets_0], rtol=1e-5)


def test_sampling_feeds_back_the_sampled_values():
  config = config_lib.load_config('tiny-groove_2bar')
  model = model_registry.build_model(config)
  decoder = model.decoder
  z = tf.random.stateless_normal([3, config.model.z_size], [4, 5])
  seed = tf.constant([7, 8], tf.int64)
  sampled = decoder.sample(z, 1.0, seed=seed)
  assert set(np.unique(sampled['hits'])) <= {0.0, 1.0}
  values = decoder.values(sampled)
  # The free-running outputs equal a teacher-forced pass over the values it sampled.
  outputs, fed = decoder.autoregressive(z, temperature=1.0, seed=seed)
  np.testing.assert_allclose(fed, values)
  np.testing.assert_allclose(decoder.teacher_forced(z, fed), outputs, atol=1e-5)
  # Temperature 0: a hit where the logit is positive; velocities and offsets their activations.
  greedy_outputs, greedy = decoder.autoregressive(z, temperature=0.0, seed=seed)
  hit_logits, velocity_pre, offset_pre = np.split(greedy_outputs.numpy(), 3, axis=-1)
  np.testing.assert_array_equal(greedy[..., :9], (hit_logits > 0).astype(np.float32))
  np.testing.assert_allclose(greedy[..., 9:18], tf.sigmoid(velocity_pre), atol=1e-6)
  np.testing.assert_allclose(greedy[..., 18:], np.tanh(offset_pre), atol=1e-6)


def test_a_tiny_model_trains_from_drum_midi(tmp_path):
  midi = helpers.write_drum_midis(str(tmp_path / 'midi'), pitches=(36, 38, 42), humanize=True)
  config = config_lib.load_config('tiny-groove_2bar')
  config.train.num_steps = 6
  config.train.eval_every = 6
  config.data.eval_fraction = 0.2
  result = train.train_and_evaluate(config, str(tmp_path / 'run'), str(midi))
  metrics = result.eval_metrics
  assert np.isfinite(metrics['losses/r_loss'])
  for name in ('hits_loss', 'velocities_loss', 'offsets_loss', 'hit_accuracy'):
    assert f'metrics/teacher_forced_{name}' in metrics, sorted(metrics)


@pytest.mark.skipif(not FIXTURE.is_dir(), reason=f'Magenta fixture not found at {FIXTURE}')
def test_the_originals_fixture_reproduces():
  """The original's groovae_2bar_humanize checkpoint (narrowed: z 32, encoder 64, decoder 48 x 2)
  gives its own converter outputs, posterior, teacher-forced outputs, loss and greedy decode."""
  golden = np.load(FIXTURE / 'golden.npz')
  config = config_lib.load_config('tiny-groove_2bar')
  config.family.drum_map = 'reduced'  # the original reads inference input with the reduced map
  config.model.update(z_size=32, enc_rnn_size=(64,), dec_rnn_size=(48, 48))
  model = model_registry.build_model(config)
  assert model.num_parameters() == 102_379
  # Assigned by the original's names (the import path is tests/serving/test_magenta_checkpoint.py).
  reader = tf.train.load_checkpoint(str(FIXTURE / 'model.ckpt'))
  for name, variable in model.original_variable_names().items():
    variable.assign(reader.get_tensor(name))
  family = model.family
  windows = [family.to_tensors(note_seq.midi_file_to_note_sequence(str(FIXTURE / 'inputs' / name)))
             for name in golden['input_names']]
  arrays = contract.concatenate([result.arrays for result in windows])
  np.testing.assert_array_equal(model.decoder.values(arrays), golden['outputs'])
  inputs = family.encoder_inputs(arrays)
  np.testing.assert_array_equal(inputs, golden['inputs'])
  posterior = model.posterior(inputs, tf.constant(golden['lengths']))
  np.testing.assert_allclose(posterior.mean(), golden['mu'], atol=1e-4)
  np.testing.assert_allclose(posterior.stddev(), golden['sigma'], atol=1e-4)
  mu = tf.constant(golden['mu'])
  outputs = model.decoder.teacher_forced(mu, tf.constant(golden['x_target']))
  np.testing.assert_allclose(outputs, golden['rnn_output'], atol=1e-4)
  r_loss, _ = model.decoder.reconstruction_loss(outputs, model.decoder.split(golden['x_target']),
                                                tf.constant(golden['x_length']))
  np.testing.assert_allclose(r_loss, golden['r_loss'], rtol=1e-4)
  decoded = model.decoder.values(model.decoder.sample(mu, 0.0, seed=tf.constant([0, 0],
                                                                                 tf.int64)))
  samples = golden['decode_samples']
  np.testing.assert_array_equal(decoded[..., :9], samples[..., :9])
  np.testing.assert_allclose(decoded[..., 9:], samples[..., 9:], atol=1e-3)
