"""Attribute vectors: quartile maths, the saved file and its checks, and shifts on a tiny trained
model that must move note density the intended way."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position

import numpy as np
import pytest

from music_vae_lite import config_lib
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite.pipeline import preprocess
from music_vae_lite.serving import attribute_vectors as vectors_lib
from music_vae_lite.serving import trained_model
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)

MELODY = melody.MelodyConverter(slice_bars=1)

# ---------------------------------------------------------------------------------------------
# The maths, without a model.


def test_quartile_vector_is_top_minus_bottom_quartile_mean():
  rng = np.random.default_rng(0)
  values = rng.permutation(np.arange(100, dtype=np.float64))
  mu = np.stack([values, np.ones(100), rng.normal(size=100)], axis=1)
  values[3] = np.nan  # undefined: left out
  vector, stats = vectors_lib.quartile_vector(mu, values, 'x')
  defined = np.isfinite(values)
  lower, upper = np.quantile(values[defined], [0.25, 0.75])
  top, bottom = defined & (values >= upper), defined & (values <= lower)
  np.testing.assert_allclose(vector, mu[top].mean(0) - mu[bottom].mean(0))
  assert vector[0] > 40 and vector[1] == 0  # along the attribute; nothing where z is constant
  assert stats['num_windows'] == 99 and stats['bottom_windows'] == stats['top_windows'] == 25
  assert (stats['lower_quartile'], stats['upper_quartile']) == (lower, upper)


def test_a_tie_across_the_middle_half_contrasts_with_and_without():
  values = np.zeros(40)
  values[:8] = [1, 2, 3, 1, 2, 3, 1, 2]  # most windows have none of the attribute
  mu = values[:, None] * np.ones([1, 2])
  vector, stats = vectors_lib.quartile_vector(mu, values, 'syncopation_8th')
  assert stats['lower_quartile'] == stats['upper_quartile'] == 0
  assert (stats['bottom_windows'], stats['top_windows']) == (32, 8)
  np.testing.assert_allclose(vector, [15 / 8, 15 / 8])


def test_too_few_windows_or_no_variation_is_one_line():
  with pytest.raises(vectors_lib.AttributeVectorsError, match='x: 19 window.*need 20'):
    vectors_lib.quartile_vector(np.zeros([19, 2]), np.arange(19.0), 'x')
  with pytest.raises(vectors_lib.AttributeVectorsError, match='y: the corpus barely varies'):
    vectors_lib.quartile_vector(np.zeros([40, 2]), np.r_[np.zeros(37), [1, 2, 3]], 'y')


def test_note_ons_kept_counts_same_step_and_pitch_or_drum():
  reference = np.zeros([1, 16, 1], np.int32)
  reference[0, [0, 4, 8, 12], 0] = [41, 43, 45, 46]
  shifted = reference.copy()
  shifted[0, 4, 0] = 44  # another pitch
  shifted[0, 8, 0] = 0  # gone
  shifted[0, 2, 0] = 50  # new notes do not count
  np.testing.assert_allclose(vectors_lib.onsets_kept(reference, shifted, MELODY), [0.5])
  hits = np.array([[[1 | 4], [2], [0], [4]]])
  np.testing.assert_allclose(
      vectors_lib.onsets_kept(hits, np.array([[[1], [2 | 8], [4], [0]]]),
                              drums.DrumsConverter(slice_bars=1)), [2 / 4])


def test_diagonal_ratio_compares_the_own_entry_with_the_mean_other():
  matrix = [[2.0, 0.5, -0.5], [0.1, -1.0, 0.3], [0.0, 0.0, 1.0]]
  assert vectors_lib.diagonal_ratio(matrix, 0) == 4.0
  assert vectors_lib.diagonal_ratio(matrix, 1) == pytest.approx(-5.0)
  assert vectors_lib.diagonal_ratio(matrix, 2) is None  # nothing else moved


# ---------------------------------------------------------------------------------------------
# A tiny model trained on two rhythms: a note on every 16th step, or on every beat.

NUM_FILES, WINDOWS_PER_FILE = 16, 8


def rhythm_windows():
  """WindowSet of 2-bar melodies: even windows a note every step, odd ones every 4th step, all C4
  or all C#4 (the files' windows alternate)."""
  rng = np.random.default_rng(0)
  count = NUM_FILES * WINDOWS_PER_FILE
  labels = np.zeros([count, 32, 1], np.int32)
  for index in range(count):
    labels[index, ::1 if index % 2 == 0 else 4, 0] = rng.integers(60, 62) - 19
  return preprocess.WindowSet({'labels': labels},
                              np.arange(count, dtype=np.int32) // WINDOWS_PER_FILE,
                              [f'tune_{i}.mid' for i in range(NUM_FILES)], 'melody', 2, {})


@pytest.fixture(scope='module')
def trained_dir(tmp_path_factory):
  config = config_lib.load_config('tiny-mel_2bar')
  config.data.eval_fraction = 0.25
  config.train.num_steps = 300
  config.train.batch_size = 32
  config.train.learning_rate = 0.01
  for name in ('eval_every', 'image_every', 'summary_every', 'checkpoint_every', 'log_every'):
    setattr(config.train, name, config.train.num_steps)
  run_dir = str(tmp_path_factory.mktemp('attributes') / 'run')
  train.train_and_evaluate(config, run_dir, rhythm_windows())
  return run_dir


@pytest.fixture(scope='module')
def vectors(trained_dir):
  model = trained_model.TrainedModel(trained_dir)
  return model.attribute_vectors(rhythm_windows(), effect_phrases=16)


def test_vectors_are_saved_in_the_run_with_their_effect(trained_dir, vectors):
  with open(os.path.join(trained_dir, vectors_lib.FILE_NAME)) as f:
    saved = json.load(f)
  # Constant in this corpus: no vector, and the reason is kept.
  assert set(vectors.skipped) == {'average_interval', 'syncopation_16th', 'syncopation_8th',
                                  'pitch_range'}  # c_diatonic: C4 is in C major, C#4 is not
  assert list(saved['attributes']) == vectors.names == ['c_diatonic', 'note_density',
                                                        'pitch_height']
  stats = saved['attributes']['note_density']
  assert (stats['lower_quartile'], stats['upper_quartile']) == (4.0, 16.0)
  assert len(stats['vector']) == 8 and stats['unit'] == 'note-ons per bar'
  assert saved['corpus']['split'] == 'train' and saved['corpus']['num_windows'] < 128
  effect = saved['effect']
  assert effect['split'] == 'held-out' and effect['num_phrases'] == 16
  assert np.shape(effect['matrix']) == (3, 3)
  assert set(effect['vectors']['note_density']) == {'-2', '-1', '+1', '+2'}


def test_a_shift_moves_note_density_the_intended_way(trained_dir, vectors):
  del vectors  # made and saved by the fixture; a fresh model finds them in the run directory
  model = trained_model.TrainedModel(trained_dir)
  windows = rhythm_windows().labels
  sparse, dense = windows[1::2][:24], windows[0::2][:24]
  for phrases, strength in ((sparse, 1.0), (dense, -1.0)):
    _, mu, _ = model.encode_labels(phrases, seed=0)
    before = melody.note_density(model.decode_to_labels(mu, 0.0, 0)[..., 0])
    offset = model.attribute_offset({'note_density': strength})
    after = melody.note_density(model.decode_to_labels(mu + offset, 0.0, 0)[..., 0])
    # Of the phrases the model reconstructs with their own density (most of them; the others
    # may already sit where the vector points).
    faithful = before == melody.note_density(phrases[..., 0])
    assert faithful.mean() >= 0.5, before
    moved = np.sign(after - before)[faithful] == np.sign(strength)
    assert moved.mean() >= 0.8, (strength, before, after)
  # The NoteSequence API: a beat-by-beat phrase gets more notes.
  phrase = melody.MelodyConverter().from_tensors(sparse[0])[0]
  denser = model.shift(phrase, {'note_density': 1.0})
  assert len(denser.notes) > len(model.shift(phrase, {'note_density': 0.0}).notes)


def test_sampling_with_zero_strength_is_plain_sampling(trained_dir, vectors):
  del vectors
  model = trained_model.TrainedModel(trained_dir)
  plain = model.sample_labels(5, 0.5, seed=3)
  np.testing.assert_array_equal(model.sample_labels(5, 0.5, seed=3,
                                                    attributes={'note_density': 0.0}), plain)
  moved = model.sample_labels(5, 0.5, seed=3, attributes={'note_density': 2.0,
                                                          'pitch_height': -0.5})
  assert moved.shape == plain.shape


def test_unknown_or_skipped_attributes_are_one_line(trained_dir, vectors):
  del vectors
  model = trained_model.TrainedModel(trained_dir)
  with pytest.raises(vectors_lib.AttributeVectorsError,
                     match="Unknown attribute 'loudness'; this model's attributes: c_diatonic, "
                     'note_density, pitch_height.'):
    model.attribute_offset({'loudness': 1.0})
  with pytest.raises(vectors_lib.AttributeVectorsError, match='pitch_range has no vector: '
                     'pitch_range: the corpus barely varies'):
    model.attribute_offset({'pitch_range': 1.0})


def test_vectors_of_another_model_are_refused(tmp_path, trained_dir, vectors):
  path = os.path.join(trained_dir, vectors_lib.FILE_NAME)
  # The same config, untrained: other weights.
  same_config = trained_model.TrainedModel(helpers.make_untrained_run_dir(str(tmp_path / 'a')))
  with pytest.raises(vectors_lib.AttributeVectorsError, match='made with other weights'):
    same_config.load_attribute_vectors(path)
  other = trained_model.TrainedModel(helpers.make_untrained_run_dir(str(tmp_path / 'b'),
                                                                    'tiny-drums_2bar'))
  data = vectors.to_json()
  data['model']['z_size'] = 16
  (tmp_path / 'z16.json').write_text(json.dumps(data))
  with pytest.raises(vectors_lib.AttributeVectorsError, match='z of 16 dimensions; this model '
                     'has 8'):
    other.load_attribute_vectors(str(tmp_path / 'z16.json'))
  with pytest.raises(vectors_lib.AttributeVectorsError, match=r'another config \(data.encoding: '
                     "'melody' there, 'drums' here"):
    other.load_attribute_vectors(path)
  with pytest.raises(vectors_lib.AttributeVectorsError, match='No attribute vectors at'):
    other.load_attribute_vectors()  # its run directory has none
  (tmp_path / 'bad.json').write_text('{"format": 1}')
  with pytest.raises(vectors_lib.AttributeVectorsError, match='is damaged'):
    other.load_attribute_vectors(str(tmp_path / 'bad.json'))


def test_a_corpus_too_small_for_quartiles_is_one_line(trained_dir):
  model = trained_model.TrainedModel(trained_dir)
  with pytest.raises(vectors_lib.AttributeVectorsError,
                     match=r'the windows given: 12 window\(s\).*need at least 20'):
    model.attribute_vectors(rhythm_windows().labels[:12], save=False)


@pytest.mark.parametrize('config_name, encoding, steps', [
    ('tiny-drums_2bar', 'drums', 32),
    ('tiny-hierdec-mel_16bar', 'melody', 256),
])
def test_drum_and_sixteen_bar_models_get_their_familys_vectors(tmp_path, config_name, encoding,
                                                               steps):
  model = trained_model.TrainedModel(helpers.make_untrained_run_dir(str(tmp_path / 'run'),
                                                                    config_name))
  made = model.attribute_vectors(helpers.random_windows(encoding, steps), effect_phrases=3,
                                 strengths=(1.0,))
  expected = ['density', 'hihat_share', 'kick_snare_balance', 'syncopation'] if (
      encoding == 'drums') else [attribute.name for attribute in melody.MELODY_ATTRIBUTES]
  assert made.names == expected and made.effect['num_phrases'] == 3
  reloaded = model  # the file it saved, read back and checked against the model
  reloaded.load_attribute_vectors()
  name = expected[0]
  shifted = reloaded.shift_labels(helpers.random_windows(encoding, steps).labels[0], {name: 1.0},
                                  scales=(0.0, 1.0))
  assert shifted.shape == (2, steps, 1)
  assert reloaded.sample_labels(2, 0.5, seed=1, attributes={name: -0.5}).shape == (2, steps, 1)


def test_a_groove_model_gets_vectors_of_its_hits_velocities_and_timing(tmp_path):
  rng = np.random.default_rng(0)
  count, steps = 64, 32
  hits = (rng.random([count, steps, 9]) < 0.4 * rng.random([count, 1, 1])).astype(np.float32)
  windows = {'hits': hits, 'velocities': hits * rng.random([count, steps, 9], np.float32),
             'offsets': hits * rng.uniform(-1, 1, [count, steps, 9]).astype(np.float32)}
  window_set = preprocess.WindowSet(windows, np.arange(count, dtype=np.int32) % 8,
                                    [f'file_{i}.mid' for i in range(8)], 'groove', 2, {})
  model = trained_model.TrainedModel(helpers.make_untrained_run_dir(str(tmp_path / 'run'),
                                                                    'tiny-groove_2bar'))
  made = model.attribute_vectors(window_set, effect_phrases=3, strengths=(1.0,))
  assert made.names == ['density', 'hihat_share', 'kick_snare_balance', 'syncopation',
                        'loudness', 'dynamics', 'laid_back', 'swing']
  model.load_attribute_vectors()
  shifted = model.shift_labels({name: array[0] for name, array in windows.items()},
                               {'loudness': 1.0, 'swing': -0.5}, scales=(0.0, 1.0))
  assert {name: array.shape for name, array in shifted.items()} == {
      name: (2, steps, 9) for name in windows}
  sampled = model.sample_labels(2, 0.5, seed=1, attributes={'laid_back': 1.0})
  assert sampled['hits'].shape == (2, steps, 9)
