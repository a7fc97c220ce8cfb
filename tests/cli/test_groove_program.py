"""mvl_groove through the real program: a tiny GrooVAE trained from drum MIDI humanizes a
quantized 4-bar file (one MIDI file and one picture, the input's length and tempo, every onset
within half a step of the grid, nothing overwritten, one-line errors); and (slow)
mvl_sample and mvl_interpolate on a groove run."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pathlib  # pylint: disable=g-import-not-at-top,wrong-import-position
import re
import subprocess
import sys

import note_seq
import numpy as np
import PIL.Image
import pytest

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 600  # a loaded 2-core machine starts TensorFlow slowly
QPM = 100.0
STEP = 60.0 / QPM / 4


def program(name, *flags):
  return subprocess.run([sys.executable, '-m', f'music_vae_lite.cli.{name}', *flags],
                        capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO)


def drum_file(path, hits, bars, qpm=QPM, numerator=4):
  """Writes hits (step, pitch, velocity, steps late) as a drum MIDI file lasting `bars` bars of
  numerator/4."""
  contract.write_midi(helpers.drum_performance(hits, bars, qpm, time_signature=(numerator, 4)),
                      str(path))
  return str(path)


def swung_performances(folder, num_files=4):
  """Drum performances with accents and swing (a few bars each), for a tiny model to train on."""
  folder.mkdir()
  rng = np.random.default_rng(0)
  for k in range(num_files):
    hits = [(step, pitch, int(rng.integers(40, 127)), 0.2 * (step % 4 == 2))
            for step in range(0, 64, 2) for pitch in (36, 42, 38) if rng.random() < 0.5]
    drum_file(folder / f'performance_{k}.mid', hits, bars=4, qpm=120.0)
  return str(folder)


@pytest.fixture(scope='module')
def groove_run(tmp_path_factory):
  """A tiny-groove_2bar run trained for a few steps on hand-built drum MIDI."""
  tmp_path = tmp_path_factory.mktemp('groove')
  config = config_lib.load_config('tiny-groove_2bar')
  config.train.num_steps = 3
  config.train.eval_every = 3
  config.data.eval_fraction = 0.0
  run_dir = str(tmp_path / 'run')
  train.train_and_evaluate(config, run_dir, swung_performances(tmp_path / 'midi'))
  return run_dir


def test_mvl_groove_humanizes_a_quantized_file_in_its_time(groove_run, tmp_path):
  hits = [(step, pitch, 100, 0.0) for step in range(0, 64, 2) for pitch in (36, 42)]
  hits += [(step, 38, 100, 0.0) for step in range(4, 64, 8)]
  source = drum_file(tmp_path / 'beat.mid', hits, bars=4)
  out = tmp_path / 'out'
  flags = (f'--run_dir={groove_run}', f'--input_midi={source}', f'--output_dir={out}', '--seed=1')
  result = program('groove', *flags)
  assert result.returncode == 0, result.stderr[-3000:]
  assert all(line in result.stdout for line in (
      'Hits:', 'Steps struck:', 'Drums:', 'Onsets off the grid')), result.stdout
  written = sorted(os.listdir(out))
  assert len(written) == 2 and written[0].startswith('beat_groove_tiny-groove_2bar_'), written
  midi, png = (out / name for name in written)
  assert midi.suffix == '.mid' and png.suffix == '.png'
  sequence = note_seq.midi_file_to_note_sequence(str(midi))
  assert [t.qpm for t in sequence.tempos] == [pytest.approx(QPM)]
  assert [(s.numerator, s.denominator) for s in sequence.time_signatures] == [(4, 4)]
  assert sequence.total_time == pytest.approx(64 * STEP, abs=1e-3)
  onsets = np.array([note.start_time for note in sequence.notes]) / STEP
  assert len(onsets) and onsets.max() < 64
  assert np.all(np.abs(onsets - np.round(onsets)) <= 0.5 + 1e-3)
  with PIL.Image.open(png) as picture:
    width, height = picture.size
  assert width > 2 * 32 * 8 and height > 2 * 9 * 11  # two windows, input beside output
  # Run again: new files, the first ones untouched.
  before = {name: (out / name).read_bytes() for name in written}
  again = program('groove', *flags)
  assert again.returncode == 0, again.stderr[-3000:]
  assert len(os.listdir(out)) == 4
  assert all((out / name).read_bytes() == data for name, data in before.items())
  # One-line errors, found before the model loads: a melody run, a 3/4 file, an empty file.
  melody_run = helpers.make_untrained_run_dir(str(tmp_path / 'melody'), 'tiny-mel_2bar')
  waltz = drum_file(tmp_path / 'waltz.mid', [(0, 36, 100, 0.0), (4, 38, 90, 0.0)], bars=2,
                    numerator=3)
  empty = tmp_path / 'empty.mid'
  empty.write_bytes(b'')
  refused = tmp_path / 'refused'
  for run_dir, midi, message in [
      (melody_run, source, r'The run \S+ \(tiny-mel_2bar\) is a melody model, not a GrooVAE'),
      (groove_run, waltz, r'--input_midi \S*waltz\.mid: 3/4 time'),
      (groove_run, str(empty), r'--input_midi: \S*empty\.mid\W+ is an empty file')]:
    result = program('groove', f'--run_dir={run_dir}', f'--input_midi={midi}',
                     f'--output_dir={refused}')
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith('mvl_groove: error: ') and re.search(message, lines[0]), lines[0]
  assert not refused.exists()


@pytest.mark.slow
def test_mvl_sample_and_mvl_interpolate_on_a_groove_run(groove_run, tmp_path):
  """Samples carry velocities and micro-timing; the pictures are written."""
  out = tmp_path / 'samples'
  result = program('sample', f'--run_dir={groove_run}', '--num_outputs=3', '--seed=2',
                   f'--output_dir={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  midis = sorted(out.glob('*.mid'))
  assert len(midis) == 3 and len(list(out.glob('*.png'))) == 1
  notes = [note for path in midis for note in note_seq.midi_file_to_note_sequence(
      str(path)).notes]
  steps = np.array([note.start_time for note in notes]) / contract.STEP_SECONDS
  assert len({note.velocity for note in notes}) > 3
  assert np.abs(steps - np.round(steps)).max() > 0.02
  first = drum_file(tmp_path / 'a.mid', [(s, 36, 100, 0.0) for s in range(0, 32, 4)], bars=2)
  second = drum_file(tmp_path / 'b.mid', [(s, 42, 90, 0.0) for s in range(0, 32, 2)], bars=2)
  morph = tmp_path / 'morph'
  result = program('interpolate', f'--run_dir={groove_run}', f'--input_midi_1={first}',
                   f'--input_midi_2={second}', '--num_outputs=3', f'--output_dir={morph}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert len(list(morph.glob('*.png'))) == 1 and len(list(morph.glob('*-morph.mid'))) == 1
