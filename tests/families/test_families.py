"""Every family end to end, in the process: train a tiny config for a few steps on crafted MIDI,
then evaluate, sample and interpolate it, and write MIDI with the family's instruments."""
import json
import os
import subprocess
import sys

import note_seq
import numpy as np
import pytest

import helpers
from music_vae_lite.families import chords
from music_vae_lite import config_lib
from music_vae_lite.families import melody
from music_vae_lite.pipeline import preprocess
from music_vae_lite.training import train
from music_vae_lite.serving import trained_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _train(config_name, examples, run_dir, steps=4):
  config = config_lib.load_config(config_name)
  config.train.num_steps = steps
  config.train.checkpoint_every = config.train.eval_every = config.train.image_every = steps
  config.data.eval_fraction = 0.3
  result = train.train_and_evaluate(config, str(run_dir), str(examples))
  assert result.step == steps
  return result


def test_trio_trains_evaluates_per_part_and_writes_three_instruments(tmp_path):
  examples = helpers.write_trio_midis(str(tmp_path / 'trio'))
  result = _train('tiny-trio_16bar', examples, tmp_path / 'run')
  # Each part's accuracies are evaluated beside the overall ones.
  for part in ('melody', 'bass', 'drums'):
    for kind in ('teacher_forced_accuracy', 'sampled_accuracy', 'teacher_forced_note_on_accuracy'):
      assert 0.0 <= result.eval_metrics[f'metrics/{kind}/{part}'] <= 1.0
  parts = [result.eval_metrics[f'metrics/teacher_forced_accuracy/{p}']
           for p in ('melody', 'bass', 'drums')]
  assert result.eval_metrics['metrics/teacher_forced_accuracy'] == pytest.approx(np.mean(parts),
                                                                                 abs=1e-5)
  model = trained_model.TrainedModel(str(tmp_path / 'run'))
  samples = model.sample(2, temperature=1.0, seed=1)
  labels = model.sample_labels(2, temperature=1.0, seed=1)
  assert labels.shape == (2, 256, 3)
  assert labels[..., :2].max() < 90 and labels[..., 2].max() < 512
  for sequence in samples:  # melody program 0, bass 33, drums on the drum channel
    instruments = {(n.instrument, n.program, n.is_drum) for n in sequence.notes}
    assert instruments <= {(0, 0, False), (1, 33, False), (9, 0, True)}
  # The trio MIDI files round-trip through interpolation (both ends encoded from real windows).
  first = note_seq.midi_file_to_note_sequence(os.path.join(examples, 'trio_00.mid'))
  second = note_seq.midi_file_to_note_sequence(os.path.join(examples, 'trio_01.mid'))
  path = model.interpolate(first, second, num_steps=3, temperature=0.0, seed=0)
  assert len(path) == 3 and all(s.total_time == pytest.approx(32.0) for s in path)
  window_set = preprocess.load_examples(examples, model.converter)
  metrics = train.evaluate(model.model, model.config, window_set, step=model.step)
  assert metrics['num_windows'] == len(window_set)
  assert 'metrics/sampled_note_on_accuracy/drums' in metrics


def _chord_melodies(folder, num_files=6, seed=0):
  """Melodies over block chords (C, F, G, C per bar): chord inference has chords to find."""
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  triads = {'C': (60, 64, 67), 'F': (65, 69, 72), 'G': (67, 71, 74)}
  for index in range(num_files):
    sequence = note_seq.NoteSequence(ticks_per_quarter=220)
    sequence.tempos.add(qpm=120)
    sequence.time_signatures.add(numerator=4, denominator=4)
    for bar, name in enumerate(['C', 'F', 'G', 'C'] * 2):
      for pitch in triads[name]:  # the accompaniment, an octave below, as another instrument
        sequence.notes.add(pitch=pitch - 12, velocity=60, instrument=1, start_time=bar * 2.0,
                           end_time=bar * 2.0 + 2.0)
      for beat in range(4):
        pitch = triads[name][int(rng.integers(0, 3))] + 12
        sequence.notes.add(pitch=pitch, velocity=80, instrument=0,
                           start_time=bar * 2.0 + beat * 0.5, end_time=bar * 2.0 + beat * 0.5 + 0.4)
    sequence.total_time = 16.0
    note_seq.sequence_proto_to_midi_file(sequence, os.path.join(folder, f'tune_{index:02d}.mid'))
  return folder


def test_chord_model_trains_and_samples_follow_the_given_chords(tmp_path):
  examples = _chord_melodies(str(tmp_path / 'chords'))
  _train('tiny-mel_2bar_chords', examples, tmp_path / 'run')
  model = trained_model.TrainedModel(str(tmp_path / 'run'))
  with pytest.raises(ValueError, match='chords'):
    model.sample(1)  # a conditioned model needs its chords
  controls = chords.parse_chords('Am Dm', model.num_steps)
  with pytest.raises(ValueError, match=r'Controls must be in \[0, 49\)'):
    model.sample(1, controls=np.full(model.num_steps, 49))
  with pytest.raises(ValueError, match='shape'):
    model.sample(1, controls=controls[:16])
  # Melody windows without chords are refused for a chord config, and the error says so.
  melody_windows = preprocess.preprocess(examples, melody.MelodyConverter())
  with pytest.raises(ValueError, match='melody_chords windows of 32 steps with controls'):
    train.train_and_evaluate(config_lib.load_config('tiny-mel_2bar_chords'),
                             str(tmp_path / 'other_run'), melody_windows)
  samples = model.sample(3, temperature=0.0, seed=0, controls=controls)
  other = model.sample_labels(3, temperature=0.0, seed=0,
                              controls=chords.parse_chords('C G', model.num_steps))
  # The chords reach the decoder (greedy decoding from the same z changes with them) and are
  # written into the NoteSequence.
  assert not np.array_equal(model.sample_labels(3, temperature=0.0, seed=0, controls=controls),
                            other)
  symbols = [(a.time, a.text) for a in samples[0].text_annotations
             if a.annotation_type == note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL]
  assert [text for _, text in symbols] == ['Am', 'Dm'] and symbols[1][0] == pytest.approx(2.0)
  first = note_seq.midi_file_to_note_sequence(os.path.join(examples, 'tune_00.mid'))
  second = note_seq.midi_file_to_note_sequence(os.path.join(examples, 'tune_01.mid'))
  assert len(model.interpolate(first, second, num_steps=3, temperature=0.0, seed=0)) == 3

  # mvl_sample --chords writes MIDI (chords of a model without them are a one-line error).
  out = tmp_path / 'out'
  command = [sys.executable, '-m', 'music_vae_lite.cli.sample', f'--run_dir={tmp_path / "run"}',
             '--num_outputs=2', f'--output_dir={out}', '--chords=C G', '--seed=1']
  done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO)
  assert done.returncode == 0, done.stderr[-3000:]
  assert len([f for f in os.listdir(out) if f.endswith('.mid')]) == 2
