"""The families' attributes (melody.py, drums.py; contract.Converter.attributes) against values
worked out by hand."""
import numpy as np
import pytest

from music_vae_lite.families import drums
from music_vae_lite.families import groove
from music_vae_lite.families import melody
from music_vae_lite.families import trio


def melody_family(bars):
  return melody.MelodyConverter(slice_bars=bars)


def drum_family(bars):
  return drums.DrumsConverter(slice_bars=bars)


def melody_window(events, steps=16):
  """Labels [steps] from {step: MIDI pitch, or 'off'}."""
  labels = np.zeros(steps, np.int32)
  for step, event in events.items():
    labels[step] = melody.MELODY_NOTE_OFF if event == 'off' else (
        event - melody.MELODY_PITCH_OFFSET)
  return labels


# One bar: C4 (steps 0-3), E4 (4-5), rest (6), G4 from the odd step 7 held over the 8th-note
# position 8, F#4 from the off-beat 8th at 10 held over the beat at 12, rest from 13.
BAR = melody_window({0: 60, 4: 64, 6: 'off', 7: 67, 10: 66, 13: 'off'})


def test_melody_attributes_of_a_hand_made_bar():
  values = melody_family(1).attribute_values(BAR[None, :, None])
  expected = {
      'c_diatonic': 3 / 4,  # F# is not in C major
      'note_density': 4.0,  # four note-ons in one bar
      'average_interval': (4 + 3 + 1) / 3,  # 60 -> 64 -> 67 -> 66
      'syncopation_16th': 1 / 4,  # G4 at step 7
      'syncopation_8th': 1 / 4,  # F#4 at step 10
      'pitch_height': (60 + 64 + 67 + 66) / 4,
      'pitch_range': 7.0,
  }
  assert list(values) == list(expected)  # the registry's order
  for name, value in expected.items():
    np.testing.assert_allclose(values[name], [value], err_msg=name)


@pytest.mark.parametrize('events, share_16th, share_8th', [
    ({7: 67, 8: 'off'}, 0, 0),  # off the 8th grid but released at the 8th position
    ({7: 67, 8: 69}, 0, 0),  # cut by the next note at the 8th position
    ({5: 67}, 1 / 2, 0),  # held on: a 16th syncopation (one of two note-ons)
    ({6: 67, 7: 'off'}, 0, 0),  # the off-beat 8th, released before the beat
    ({6: 67, 8: 69}, 0, 0),  # cut at the beat
    ({6: 67}, 0, 1 / 2),  # the off-beat 8th held over the beat
    ({15: 67}, 0, 0),  # held past the window's end: not counted
    ({14: 67}, 0, 0),
])
def test_syncopation_needs_the_note_held_over_the_next_grid_position(events, share_16th,
                                                                     share_8th):
  window = melody_window({0: 60, **events})
  values = melody_family(1).attribute_values(window[None])  # [N, T]: one part
  assert values['syncopation_16th'][0] == share_16th
  assert values['syncopation_8th'][0] == share_8th


def test_undefined_melody_attributes_are_nan_and_counts_are_zero():
  empty = np.zeros([1, 32, 1], np.int32)
  one_note = melody_window({3: 72}, steps=32)[None, :, None]
  family = melody_family(2)
  values, single = family.attribute_values(empty), family.attribute_values(one_note)
  assert values['note_density'][0] == 0
  for name in ('c_diatonic', 'average_interval', 'syncopation_16th', 'pitch_height',
               'pitch_range'):
    assert np.isnan(values[name][0]), name
  assert np.isnan(single['average_interval'][0])  # one note: no interval
  assert single['pitch_range'][0] == 0 and single['pitch_height'][0] == 72
  assert single['note_density'][0] == 0.5  # per bar, over two bars


def test_sixteen_bar_windows_are_measured_per_bar_over_the_whole_window():
  window = np.tile(BAR, 16)[None, :, None]  # the hand-made bar sixteen times
  values = melody_family(16).attribute_values(window)
  assert values['note_density'][0] == 4.0
  # Bar to bar, 66 -> 60 adds a leap of 6 after every bar but the last.
  np.testing.assert_allclose(values['average_interval'][0], (16 * 8 + 15 * 6) / (16 * 4 - 1))
  np.testing.assert_allclose(values['syncopation_16th'][0], 1 / 4)


def test_drum_attributes_of_a_hand_made_bar():
  kick, snare, closed, opened = 1, 2, 4, 8
  window = np.zeros(16, np.int32)
  window[[0, 2, 4, 6, 7, 8, 12]] = [kick | closed, closed, snare | closed, closed, kick,
                                    kick | opened, snare]
  values = drum_family(1).attribute_values(window[None, :, None])
  np.testing.assert_allclose(values['density'], [10.0])  # ten hits in one bar
  np.testing.assert_allclose(values['hihat_share'], [5 / 10])
  np.testing.assert_allclose(values['kick_snare_balance'], [3 / 5])
  np.testing.assert_allclose(values['syncopation'], [1 / 10])  # the kick at step 7
  silent = drum_family(2).attribute_values(np.zeros([1, 32, 1], np.int32))
  assert silent['density'][0] == 0 and np.isnan(silent['hihat_share'][0])


def test_families_of_several_parts_name_each_parts_attributes():
  family = trio.TrioConverter(slice_bars=1)
  names = [attribute.name for attribute in family.attributes]
  assert names[:2] == ['melody.c_diatonic', 'melody.note_density']
  assert 'bass.pitch_height' in names and 'drums.hihat_share' in names
  assert melody_family(2).attributes[0].name == 'c_diatonic'  # one part: plain names
  labels = np.zeros([2, 16, 3], np.int32)
  labels[:, :, 0] = BAR
  labels[:, 0, 2] = 1
  values = family.attribute_values(labels)
  np.testing.assert_allclose(values['melody.note_density'], [4, 4])
  np.testing.assert_allclose(values['drums.density'], [1, 1])
  assert np.isnan(values['bass.pitch_height']).all()


def test_values_stay_within_the_registrys_bounds_on_random_windows():
  rng = np.random.default_rng(0)
  windows = [
      (melody_family(2), rng.integers(0, 90, size=[64, 32, 1]) * (rng.random([64, 32, 1]) < 0.6)),
      (drum_family(2), rng.integers(0, 512, size=[64, 32, 1]) * (rng.random([64, 32, 1]) < 0.6)),
  ]
  hits = (rng.random([64, 32, 9]) < 0.3).astype(np.float32)
  windows.append((groove.GrooveConverter(slice_bars=2), {
      'hits': hits, 'velocities': hits * rng.random([64, 32, 9], np.float32),
      'offsets': hits * rng.uniform(-1, 1, [64, 32, 9]).astype(np.float32)}))
  for family, labels in windows:
    bounds = {attribute.name: attribute.bounds for attribute in family.attributes}
    for name, values in family.attribute_values(labels).items():
      low, high = bounds[name]
      values = values[np.isfinite(values)]
      assert len(values) and low <= values.min() and values.max() <= high, name


def test_wrong_windows_and_unknown_names_are_refused():
  family = melody_family(2)
  with pytest.raises(ValueError, match=r'\[N, 32, 1\], got \(16, 1\)'):
    family.attribute_values(np.zeros([16, 1], np.int32))
  with pytest.raises(ValueError, match=r'must be in \[0, 90\)'):
    family.attribute_values(np.full([1, 32], 95, np.int32))
  with pytest.raises(ValueError, match="Unknown attribute 'loudness'; the melody family has: "
                                       'c_diatonic, note_density'):
    family.attribute_values(np.zeros([1, 32], np.int32), names=['loudness'])


def test_groove_attributes_of_a_hand_made_bar():
  family = groove.GrooveConverter(slice_bars=1)
  hits, velocities, offsets = (np.zeros([1, 16, 9], np.float32) for _ in range(3))
  # Kick on the beats (velocity 127, on the grid), closed hi-hat on the off-beat 8ths played a
  # third of a step late (offsets are 2 x (grid - onset) / step) at velocity 63.5.
  hits[0, [0, 4, 8, 12], 0] = 1
  velocities[0, [0, 4, 8, 12], 0] = 1.0
  hits[0, [2, 6, 10, 14], 2] = 1
  velocities[0, [2, 6, 10, 14], 2] = 0.5
  offsets[0, [2, 6, 10, 14], 2] = -2 / 3
  windows = {'hits': hits, 'velocities': velocities, 'offsets': offsets}
  values = family.attribute_values(windows)
  np.testing.assert_allclose(values['density'], [8.0])
  np.testing.assert_allclose(values['hihat_share'], [0.5])
  np.testing.assert_allclose(values['kick_snare_balance'], [1.0])
  np.testing.assert_allclose(values['syncopation'], [0.0])
  np.testing.assert_allclose(values['loudness'], [(127 + 63.5) / 2], rtol=1e-6)
  np.testing.assert_allclose(values['dynamics'], [(127 - 63.5) / 2], rtol=1e-6)
  np.testing.assert_allclose(values['laid_back'], [1 / 6], rtol=1e-6)
  np.testing.assert_allclose(values['swing'], [1 / 3], rtol=1e-6)
  silent = family.attribute_values({name: np.zeros([1, 16, 9], np.float32) for name in windows})
  assert silent['density'][0] == 0
  assert all(np.isnan(silent[name][0]) for name in ('loudness', 'laid_back', 'swing'))
