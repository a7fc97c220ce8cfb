"""What mvl_groove prints of a performance against its input (serving/groove.py), on hand-made
windows whose answers are known."""
import numpy as np

from music_vae_lite.serving import groove


def _windows(hits):
  hits = np.asarray(hits, np.float32)
  return {'hits': hits, 'velocities': 0.5 * hits, 'offsets': np.zeros_like(hits)}


def test_taps_become_a_kit_on_the_same_steps():
  taps = np.zeros([1, 8, 9])
  taps[0, [0, 2, 4, 6], 3] = 1  # four taps on the open hi-hat
  kit = np.zeros([1, 8, 9])
  kit[0, [0, 4], 0] = 1  # kick and closed hi-hat on the beats
  kit[0, [0, 2, 4], 2] = 1
  kit[0, 5, 1] = 1  # a snare on an untapped step; step 6 left silent
  inputs, outputs = _windows(taps), _windows(kit)
  assert groove.compare_hits(inputs, outputs, None) == (0, 4, 6)  # per drum: nothing kept
  assert groove.compare_steps(inputs, outputs, None) == (3, 1, 1)  # the rhythm: 3 of 4 taps
  assert groove.drum_counts(outputs) == {'kick': 2, 'snare': 1, 'closed hi-hat': 3}
  assert groove.drum_counts(inputs) == {'open hi-hat': 4}
  assert groove.drum_counts(_windows(np.zeros([1, 8, 9]))) == {}


def test_steps_past_the_end_of_the_input_are_not_counted():
  class Place:  # what groove.split gives per window: the steps inside the input
    num_steps = 4
  hits = np.zeros([1, 8, 9])
  hits[0, [1, 6], 0] = 1
  assert groove.drum_counts(_windows(hits), [Place()]) == {'kick': 1}
  assert groove.compare_steps(_windows(hits), _windows(np.zeros([1, 8, 9])), [Place()]) == (0, 1, 0)
