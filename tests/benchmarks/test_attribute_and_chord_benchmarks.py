"""The attribute-vector and chord-following benchmarks' own arithmetic (benchmarks/attributes.py,
benchmarks/chord_following.py) on hand-made inputs whose answers are known."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'benchmarks'))
import attributes  # pylint: disable=g-import-not-at-top,wrong-import-position
import chord_following  # pylint: disable=g-import-not-at-top,wrong-import-position

from music_vae_lite.families import chords  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_fraction_vector_contrasts_the_ranked_ends_and_leaves_out_undefined_values():
  z = np.array([[100.0, 0.0], [1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
  values = np.array([np.nan, 1.0, 2.0, 3.0, 4.0])  # the first window has no value: not counted
  np.testing.assert_allclose(attributes.fraction_vector(z, values, 0.5), [2.0, 20.0])
  np.testing.assert_allclose(attributes.fraction_vector(z, values, 0.25), [3.0, 30.0])


def test_regression_vectors_separate_correlated_attributes():
  """z written exactly from two correlated standardised attributes: the conditional vectors are
  each attribute's own coefficients times its gap, where top-minus-bottom vectors mix them."""
  rng = np.random.default_rng(0)
  first = rng.normal(size=400)
  second = 0.8 * first + 0.6 * rng.normal(size=400)
  standard = [(v - v.mean()) / v.std() for v in (first, second)]
  z = np.stack([2.0 * standard[0] + 0.5 * standard[1], -1.0 * standard[1]], axis=1) + 7.0
  vectors = attributes.regression_vectors(z, {'a': first, 'b': second}, {'a': 1.5, 'b': 1.0})
  np.testing.assert_allclose(vectors['a'], [3.0, 0.0], atol=1e-9)
  np.testing.assert_allclose(vectors['b'], [0.5, -1.0], atol=1e-9)
  mixed = attributes.fraction_vector(z, first, 0.25)
  assert abs(mixed[1]) > 0.5  # the plain contrast of `a` drags `b`'s dimension along


def test_probe_vectors_raise_the_probes_prediction_by_the_gap():
  rng = np.random.default_rng(1)
  z = rng.normal(size=(500, 3))
  direction = np.array([1.0, -2.0, 0.5])
  values = z @ direction  # the attribute is linear in z, spread 1 after dividing by `spread`
  spread = values.std()
  vectors = attributes.probe_vectors(z, {'a': values}, {'a': 0.7}, {'a': spread}, ridge=1e-9)
  # Moving by the vector raises the (standardised) attribute by the gap, along its direction.
  assert (vectors['a'] @ direction) / spread == pytest.approx(0.7, rel=1e-4)
  cosine = vectors['a'] @ direction / np.linalg.norm(vectors['a']) / np.linalg.norm(direction)
  assert cosine == pytest.approx(1.0, abs=1e-6)


def test_chord_tone_share_counts_note_ons_in_the_sounding_chord():
  c_major, a_minor = chords.chord_class('C'), chords.chord_class('Am')
  # Melody labels: pitch - 19 (label 2 is pitch 21); 0 and 1 are no event and note off.
  c4, d4, e4, a4 = (60 - 19, 62 - 19, 64 - 19, 69 - 19)
  labels = np.array([[c4, 0, d4, 1, e4, a4, c4, d4]])
  controls = np.array([[c_major, c_major, c_major, c_major, c_major, a_minor, 0, a_minor]])
  # Counted: C in C (hit), D in C (miss), E in C (hit), A in Am (hit), D in Am (miss); the C
  # over no chord (class 0) and the no-event / note-off steps are left out.
  assert chord_following.chord_tone_share(labels, controls) == pytest.approx(3 / 5)
  assert np.isnan(chord_following.chord_tone_share(np.array([[0, 1]]), np.array([[c_major] * 2])))
