"""The quality benchmark's baselines and statistics (benchmarks/quality.py) on hand-made windows
whose answers are known."""
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'benchmarks'))
import quality  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_no_event_and_bigram_baselines():
  # A note (label 60) is always followed by a no event, a no event always by note 60.
  train = np.array([[60, 0, 60, 0], [60, 0, 60, 0]])
  held_out = np.array([[60, 0, 61, 0]])
  assert quality.no_event_accuracy(held_out) == 0.5
  predicted = quality.Bigram(train).predict(held_out)
  # Start -> 60 (right), 60 -> 0 (right), 0 -> 60 (wrong: 61), 61 unseen -> most frequent label.
  np.testing.assert_array_equal(predicted[0, :3], [60, 0, 60])
  assert predicted[0, 3] in (0, 60)


def test_trigram_is_exact_on_a_deterministic_corpus_and_smooths_the_unseen():
  window = np.tile([60, 0, 1, 0], 8)  # 32 steps, the same bar pattern every bar
  model = quality.TrigramWithBarPosition(np.stack([window] * 50))
  seen = model.nats_per_step(window[np.newaxis])
  assert 0 < seen < 0.1  # nearly certain, never exactly (smoothing keeps mass for the unseen)
  unseen = np.tile([70, 0, 1, 0], 8)
  assert model.nats_per_step(unseen[np.newaxis]) > seen
  # Probabilities over the 90 labels sum to 1 in any context, seen or not.
  for context in (((0,), (1, 60), (1, 90, 60)), ((5,), (7, 5), (7, 5, 5))):
    total = sum(model.probability(context, label) for label in range(90))
    assert total == pytest.approx(1.0, abs=1e-9)


def test_window_statistics():
  windows = np.zeros([3, 32], np.int64)
  windows[0, [0, 4, 8]] = [40, 41, 60]  # one leap of 19 semitones out of two intervals
  windows[1, [0, 16]] = [30, 60]  # a 30-semitone span: more than two octaves, one leap
  stats = quality.window_statistics(windows)  # window 2 is empty
  assert stats['notes_per_window'] == pytest.approx(5 / 3)
  assert stats['leap_over_octave_share'] == pytest.approx(2 / 3)
  assert stats['range_over_two_octaves_share'] == pytest.approx(1 / 3)
  assert stats['empty_window_share'] == pytest.approx(1 / 3)


def test_interpolation_figures():
  start, end = np.zeros(32, np.int64), np.full(32, 60)
  monotonic = np.stack([np.where(np.arange(32) < k, 60, 0) for k in (0, 8, 16, 24, 32)])
  wobbly = monotonic[[0, 2, 1, 3, 4]]
  missed = monotonic.copy()
  missed[-1, :10] = 5  # the end is 10 steps away from its input
  ends, both, mono = quality.interpolation_figures([monotonic, wobbly, missed], [start] * 3,
                                                   [end] * 3, tolerance=4)
  assert ends == pytest.approx(5 / 6)
  assert both == pytest.approx(2 / 3)
  assert mono == pytest.approx(1 / 3)  # wobbly goes back; missed's last step moves away from end
  assert math.isclose(quality.hamming(start, end), 32)


# preprocess and the models hand over windows [N, T, P]; a melody has one part (P = 1).

def _one_part(windows):
  return np.asarray(windows)[..., np.newaxis]


def test_statistics_of_one_part_windows_equal_those_of_bare_windows():
  windows = np.zeros([3, 32], np.int64)
  windows[0, [0, 4, 8]] = [40, 41, 60]
  windows[1, [0, 16]] = [30, 60]
  assert quality.window_statistics(_one_part(windows)) == quality.window_statistics(windows)
  assert quality.no_event_accuracy(_one_part(windows)) == quality.no_event_accuracy(windows)
  assert quality.note_on_share(_one_part(windows)) == quality.note_on_share(windows)
  start, end = np.zeros(32, np.int64), np.full(32, 60)
  path = np.stack([np.where(np.arange(32) < k, 60, 0) for k in (0, 8, 16, 24, 32)])
  assert quality.interpolation_figures([_one_part(path)], [_one_part(start)], [_one_part(end)],
                                       tolerance=4) == (1.0, 1.0, 1.0)
