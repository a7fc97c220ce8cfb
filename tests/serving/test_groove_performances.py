"""GrooVAE on whole performances (serving/groove.py, TrainedModel.groove): cutting a drum
NoteSequence into windows and joining decoded windows back in the input's time, the errors, a
model's run end to end, and pictures of velocity and timing."""
import note_seq
import numpy as np
import pytest

from music_vae_lite import config_lib
from music_vae_lite import pianoroll
from music_vae_lite.families import contract
from music_vae_lite.families import groove as groove_family
from music_vae_lite.serving import groove as groove_lib
from music_vae_lite.serving import trained_model

import helpers  # pylint: disable=g-bad-import-order

KICK, SNARE, CLOSED_HAT = 36, 38, 42  # the first pitches of classes 0-2 (Roland map)


def groove_converter():
  """The tiny-groove_2bar family (2-bar windows, humanize), every window kept."""
  config = config_lib.load_config('tiny-groove_2bar')
  config.data.max_windows_per_sequence = 0
  return contract.get_converter(config)


def notes_of(sequence):
  return sorted((round(n.start_time, 4), n.pitch, n.velocity, n.is_drum) for n in sequence.notes)


def test_split_keeps_every_window_and_join_puts_them_end_to_end():
  """5 bars at 100 qpm in 2-bar windows: three windows (the last padded), the repeated first
  two bars kept twice, and joining the input's own windows gives the input back in its time."""
  bar = [(0, KICK, 100, 0.0), (4, SNARE, 70, 0.2), (8, KICK, 90, -0.3), (10, CLOSED_HAT, 40, 0.1),
         (12, SNARE, 110, 0.0)]
  pattern = [(step + 16 * b, pitch, velocity, late) for b in range(2)
             for step, pitch, velocity, late in bar]
  hits = pattern + [(step + 32, *rest) for step, *rest in pattern] + [(64, KICK, 127, 0.25)]
  sequence = helpers.drum_performance(hits, bars=5, qpm=100.0, time_signature=(4, 4))
  converter = groove_converter()
  split = groove_lib.split(converter, sequence, 'beat.mid')
  step = 60.0 / 100 / 4
  assert split.num_windows == 3 and split.total_time == pytest.approx(80 * step)
  assert [place.start_time for place in split.places] == pytest.approx([0.0, 32 * step, 64 * step])
  assert [place.num_steps for place in split.places] == [32, 32, 16]
  for name in ('hits', 'velocities', 'offsets'):
    np.testing.assert_array_equal(split.arrays[name][0], split.arrays[name][1])  # not deduped
  assert not split.arrays['hits'][2, 16:].any()  # the padding is silent
  joined = groove_lib.join(converter, split.arrays, split)
  assert notes_of(joined) == notes_of(sequence)
  assert [t.qpm for t in joined.tempos] == [100.0]
  assert [(s.numerator, s.denominator) for s in joined.time_signatures] == [(4, 4)]
  assert joined.total_time == pytest.approx(sequence.total_time)
  # Decoded hits in the padding are dropped; a late hit on the last step is cut at the end.
  outputs = {name: array.copy() for name, array in split.arrays.items()}
  outputs['hits'][2, 20, 0] = outputs['velocities'][2, 20, 0] = 1.0
  outputs['hits'][2, 15, 1], outputs['velocities'][2, 15, 1] = 1.0, 0.5
  outputs['offsets'][2, 15, 1] = -0.8  # 0.4 of a step late
  ends = groove_lib.join(converter, outputs, split)
  assert len(ends.notes) == len(sequence.notes) + 1
  last = max(ends.notes, key=lambda note: note.start_time)
  assert last.start_time == pytest.approx((79 + 0.4) * step, abs=1e-4)
  assert last.end_time == pytest.approx(80 * step)
  with pytest.raises(ValueError, match='join needs 3 window'):
    groove_lib.join(converter, {name: array[:2] for name, array in outputs.items()}, split)


def test_windows_restart_at_a_tempo_change():
  """2 bars at 120 qpm, then 2 at 90: each piece is cut from its own start, in its own steps."""
  fast = 60.0 / 120 / 4
  slow = 60.0 / 90 / 4
  change = 32 * fast
  sequence = helpers.drum_performance([(0, KICK, 100, 0.0), (31, SNARE, 90, 0.2)],
                                      tempos=[(change, 90.0)])
  for step, late in ((0, 0.0), (18, -0.25), (31, 0.0)):
    start = change + (step + late) * slow
    sequence.notes.add(start_time=start, end_time=start + slow, pitch=KICK, velocity=80,
                       instrument=9, is_drum=True)
  sequence.total_time = change + 32 * slow
  converter = groove_converter()
  split = groove_lib.split(converter, sequence)
  assert [place.start_time for place in split.places] == pytest.approx([0.0, change])
  assert [place.step_seconds for place in split.places] == pytest.approx([fast, slow])
  joined = groove_lib.join(converter, split.arrays, split)
  assert notes_of(joined) == notes_of(sequence)
  assert [(t.time, t.qpm) for t in joined.tempos] == [(0.0, 120.0), (pytest.approx(change), 90.0)]


@pytest.mark.parametrize('build, message', [
    (lambda: note_seq.NoteSequence(), r'^beat\.mid: no notes\.$'),
    (lambda: helpers_melody(), r'^beat\.mid: no drums: its 2 note\(s\) are pitched'),
    (lambda: helpers.drum_performance([(0, KICK, 100, 0.0)], time_signature=(3, 4)),
     r'^beat\.mid: 3/4 time'),
    (lambda: helpers.drum_performance([(0, 99, 100, 0.0)]),
     r'^beat\.mid: none of its 1 drum note\(s\) is on a pitch of the roland drum map \(36 kick'),
])
def test_split_errors_name_the_input_in_one_line(build, message):
  with pytest.raises(groove_lib.GrooveInputError, match=message) as error:
    groove_lib.split(groove_converter(), build(), 'beat.mid')
  assert '\n' not in str(error.value)


def helpers_melody():
  sequence = note_seq.NoteSequence()
  for k, pitch in enumerate((60, 64)):
    sequence.notes.add(start_time=k * 0.5, end_time=k * 0.5 + 0.5, pitch=pitch, velocity=80)
  sequence.total_time = 1.0
  return sequence


def test_a_groove_model_plays_a_whole_performance_and_a_melody_model_refuses(tmp_path):
  """An (untrained) tiny GrooVAE: 3 bars at 90 qpm come back as 3 bars at 90 qpm, every onset
  within half a step of its grid step; its samples carry velocities and timing."""
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'groove'), 'tiny-groove_2bar')
  model = trained_model.TrainedModel(run_dir)
  hits = [(step, pitch, 80, 0.0) for step in range(0, 48, 2) for pitch in (KICK, CLOSED_HAT)]
  sequence = helpers.drum_performance(hits, bars=3, qpm=90.0)
  result = model.groove_windows(sequence, temperature=0.0, seed=3)
  assert len(result.places) == 2 and result.outputs['hits'].shape == (2, 32, 9)
  output = result.sequence
  assert output.total_time == pytest.approx(sequence.total_time)
  assert [t.qpm for t in output.tempos] == [90.0]
  step = 60.0 / 90 / 4
  onsets = np.array([note.start_time for note in output.notes]) / step
  assert len(onsets) and np.all(np.abs(onsets - np.round(onsets)) <= 0.5 + 1e-6)
  assert onsets.max() < 48 and all(note.is_drum and note.instrument == 9 for note in output.notes)
  # The same call gives the same performance; groove() is its sequence.
  assert notes_of(model.groove(sequence, temperature=0.0, seed=3)) == notes_of(output)
  samples = model.sample(2, temperature=0.5, seed=1)
  velocities = {note.velocity for s in samples for note in s.notes}
  steps = np.array([note.start_time for s in samples for note in s.notes]) / contract.STEP_SECONDS
  assert len(velocities) > 1 and np.abs(steps - np.round(steps)).max() > 0.01
  melody_dir = helpers.make_untrained_run_dir(str(tmp_path / 'melody'), 'tiny-mel_2bar')
  with pytest.raises(ValueError, match=r'^This model \(tiny-mel_2bar\) is a melody model, not a '
                                       'GrooVAE model'):
    trained_model.TrainedModel(melody_dir).groove(sequence)


def test_a_hits_control_model_decodes_each_window_under_its_own_hits(tmp_path):
  config = config_lib.load_config('tiny-groove_2bar')
  config.family.hits_as_controls = True
  model = trained_model.TrainedModel(helpers.make_untrained_run_dir(str(tmp_path / 'run'), config))
  hits = [(step, KICK if step % 8 else SNARE, 90, 0.0) for step in range(0, 64, 4)]
  sequence = helpers.drum_performance(hits, bars=4)
  result = model.groove_windows(sequence, temperature=0.0, seed=1)
  _, mu, _ = model.encode_labels(result.inputs, 1)
  for row in range(2):  # each window decoded alone under its hits gives the same window
    alone = model.decode_to_labels(mu[row:row + 1], 0.0, 1, result.inputs['hits'][row])
    np.testing.assert_allclose(result.outputs['velocities'][row], alone['velocities'][0],
                               atol=1e-6)


def test_pictures_shade_hits_by_velocity_and_shift_them_by_their_offset():
  converter = groove_converter()
  window = {name: np.zeros([32, 9], np.float32) for name in ('hits', 'velocities', 'offsets')}
  window['hits'][[0, 8], 0] = 1.0  # kicks at steps 0 and 8: loud on the grid, soft and late
  window['velocities'][[0, 8], 0] = [1.0, 0.2]
  window['offsets'][[0, 8], 0] = [0.0, -1.0]  # half a step late
  image = pianoroll.render([[window]], converter, px_per_step=8, margin=2, labels=False)
  colour = np.array(pianoroll.COLUMN_COLOURS[0])
  kick_middle = 2 + 8 * 11 + 5  # class 0 is the bottom row (11 px)
  loud, soft = image[kick_middle, 2 + 3], image[kick_middle, 2 + 8 * 8 + 4 + 3]
  np.testing.assert_array_equal(loud, colour)
  assert np.all(soft > colour) and np.all(soft < 255)  # paler than full colour
  # The late hit starts half a step (4 px) right of its grid step, its dark onset there.
  onset = tuple(pianoroll._darker(tuple(colour)))  # pylint: disable=protected-access
  assert tuple(image[kick_middle, 2 + 8 * 8 + 4]) == onset
  assert tuple(image[kick_middle, 2 + 8 * 8 + 1]) != onset
  assert tuple(image[kick_middle, 2]) == onset  # the hit on the grid starts on it


def test_the_job_is_named_by_the_family_options():
  names = [groove_lib.job(groove_family.GrooveConverter(**options)) for options in (
      {'humanize': True}, {'tapify': True, 'fixed_velocities': True},
      {'add_instruments': (2,)}, {})]
  assert names == ['Humanize', 'Drumify', 'Add closed hi-hat', 'Regroove']
  with pytest.raises(ValueError, match='is a melody model, not a GrooVAE model'):
    groove_lib.job(contract.get_converter(config_lib.load_config('tiny-mel_2bar')))
