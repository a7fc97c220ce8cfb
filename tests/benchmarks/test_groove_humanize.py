"""The GrooVAE benchmark's inputs and kit figures (benchmarks/groove_humanize.py) on hand-made
performances whose answers are known."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'benchmarks'))
import groove_humanize  # pylint: disable=g-import-not-at-top,wrong-import-position
import helpers  # pylint: disable=g-import-not-at-top,wrong-import-position

QPM = 120.0
STEP = 60.0 / QPM / 4


def test_tapped_keeps_one_note_per_struck_step_with_the_loudest_hits_timing():
  performance = helpers.drum_performance([(0, 36, 110, 0.1), (0, 42, 90, 0.0), (2, 42, 60, 0.3),
                                          (4, 38, 120, 0.2), (4, 42, 70, 0.0)], qpm=QPM)
  taps = groove_humanize.tapped(performance)
  assert [note.pitch for note in taps.notes] == [46, 46, 46]
  assert [note.velocity for note in taps.notes] == [110, 60, 120]
  np.testing.assert_allclose([note.start_time / STEP for note in taps.notes], [0.1, 2.3, 4.2],
                             atol=1e-6)
  assert taps.tempos[0].qpm == QPM and len(performance.notes) == 5  # the input is left alone


def test_f1_of_hits():
  truth = np.array([[True, False], [True, True]])
  assert groove_humanize.f1(truth, truth) == 1.0
  assert groove_humanize.f1(~truth, truth) == 0.0
  # One of two predicted hits right, one of three true hits found: 2 * 1 / (2 + 3).
  assert groove_humanize.f1(np.array([[True, True], [False, False]]), truth) == pytest.approx(0.4)
