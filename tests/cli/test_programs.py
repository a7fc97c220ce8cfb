"""End to end through the real programs: train, SIGKILL, resume; sample, interpolate, evaluate;
attribute vectors."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib
import shutil
import signal
import subprocess
import sys

import note_seq
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite.training import train

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_MIDI = REPO / 'data' / 'midi'
NUM_FILES = 16
TIMEOUT = 180


def corpus_subset(folder):
  """The first NUM_FILES MIDI files of data/midi copied to `folder` (random melodies if the
  bundled corpus is not there)."""
  files = helpers.first_build_tunes(DATA_MIDI)
  if not files:
    return helpers.write_melody_midis(str(folder), num_files=NUM_FILES)
  os.makedirs(folder)
  for index, path in enumerate(files[:NUM_FILES]):
    shutil.copy(path, os.path.join(folder, f'{index:02d}_{path.name}'))
  return str(folder)


def program(name, *flags):
  return [sys.executable, '-m', f'music_vae_lite.cli.{name}', *flags]


def run(command, **kwargs):
  result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO,
                          **kwargs)
  assert result.returncode == 0, f'{command} failed:\n{result.stderr[-5000:]}'
  return result


def parse_midi(path):
  """The NoteSequence of a MIDI file we wrote: 4/4 at 120 qpm (it may hold no notes: a rest)."""
  sequence = note_seq.midi_file_to_note_sequence(str(path))
  assert [(t.numerator, t.denominator) for t in sequence.time_signatures] == [(4, 4)], path
  assert [t.qpm for t in sequence.tempos] == [120.0], path
  return sequence


def decode_png(path):
  return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


NUM_STEPS = 100


@pytest.fixture(scope='module')
def trained_run(tmp_path_factory):
  """Trains tiny-mel_2bar through mvl_train, SIGKILLs it right after its first checkpoint, and
  resumes it with the same command to the end. Returns what the tests check."""
  tmp_path = tmp_path_factory.mktemp('programs')
  examples = corpus_subset(tmp_path / 'midi')
  run_dir = tmp_path / 'run'
  train_command = program(
      'train', '--config=tiny-mel_2bar', f'--run_dir={run_dir}', f'--examples={examples}',
      f'--num_steps={NUM_STEPS}', '--config.train.checkpoint_every=10',
      '--config.train.summary_every=5', '--config.train.log_every=10',
      '--config.train.eval_every=50', '--config.train.image_every=50',
      '--config.data.eval_fraction=0.2')

  # Kill at once after the first checkpoint: nothing gets a chance to clean up.
  process = subprocess.Popen(train_command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, cwd=REPO)
  log = []
  try:
    for line in process.stderr:
      log.append(line)
      if 'Saved checkpoint' in line:
        process.send_signal(signal.SIGKILL)
        break
    process.wait(timeout=TIMEOUT)
  finally:
    if process.poll() is None:
      process.kill()
    process.stderr.close()
  killed_at = checkpoints.latest_checkpoint(str(run_dir))
  resumed = run(train_command)
  return {'run_dir': run_dir, 'examples': examples, 'kill_returncode': process.returncode,
          'killed_log': ''.join(log[-30:]), 'killed_at': killed_at, 'resumed_log': resumed.stderr}


def test_train_survives_sigkill_and_resumes_to_the_same_end(trained_run):
  run_dir = trained_run['run_dir']
  assert trained_run['kill_returncode'] == -signal.SIGKILL, trained_run['killed_log']
  killed_at = checkpoints.checkpoint_step(trained_run['killed_at'])
  assert 10 <= killed_at < NUM_STEPS
  assert f'Resumed from {run_dir}/train/ckpt-' in trained_run['resumed_log']
  assert f'Finished at step {NUM_STEPS}' in trained_run['resumed_log']
  assert checkpoints.latest_checkpoint(str(run_dir)).endswith(f'ckpt-{NUM_STEPS}')

  events = helpers.read_events(run_dir / 'train')
  for tag in helpers.TRAIN_SCALARS:
    assert tag in events, tag
  assert events['loss'][-1][0] == NUM_STEPS - 5  # the last summary step (summary_every = 5)
  assert {'images/input_and_reconstruction', 'images/sample', 'config'} <= set(events)
  eval_events = helpers.read_events(run_dir / 'eval')
  for tag in train.EVAL_METRICS:
    assert eval_events[tag][-1][0] == NUM_STEPS, tag


def test_sample_interpolate_and_evaluate_programs(trained_run, tmp_path):
  run_dir, examples = trained_run['run_dir'], trained_run['examples']
  out = tmp_path / 'out'
  midi_files = sorted(pathlib.Path(examples).glob('*.mid'))
  # One after the other: side by side, three TensorFlow start-ups on two cores are slower.
  sample = run(program('sample', f'--run_dir={run_dir}', '--num_outputs=3', '--seed=1',
                       f'--output_dir={out / "sample"}'))
  assert 'float32 matmuls' in sample.stderr
  interpolate = run(program('interpolate', f'--run_dir={run_dir}',
                            f'--input_midi_1={midi_files[0]}', f'--input_midi_2={midi_files[1]}',
                            '--num_outputs=4', '--seed=1', '--bf16',
                            f'--output_dir={out / "interpolate"}'))
  assert 'bfloat16 matmuls' in interpolate.stderr
  run(program('evaluate', f'--run_dir={run_dir}', f'--examples={examples}',
              f'--output_json={out / "eval.json"}'))

  samples = sorted((out / 'sample').glob('*.mid'))
  assert [p.name[-15:] for p in samples] == ['-001-of-003.mid', '-002-of-003.mid',
                                             '-003-of-003.mid']
  for path in samples:
    parse_midi(path)
  (png,) = (out / 'sample').glob('*.png')
  assert decode_png(png).shape[2] == 3

  steps = [parse_midi(p) for p in sorted((out / 'interpolate').glob('*-of-004.mid'))]
  assert len(steps) == 4
  (morph_path,) = (out / 'interpolate').glob('*-morph.mid')
  morph = parse_midi(morph_path)
  # The morph is the four 2-bar steps one after another: step k's notes start in [4k, 4k + 4) s.
  expected = sorted((round(n.start_time + 4.0 * k, 3), n.pitch)
                    for k, step in enumerate(steps) for n in step.notes)
  assert sorted((round(n.start_time, 3), n.pitch) for n in morph.notes) == expected
  (png,) = (out / 'interpolate').glob('*.png')
  assert decode_png(png).shape[2] == 3

  with open(out / 'eval.json') as f:
    report = json.load(f)
  assert report['step'] == NUM_STEPS and report['num_windows'] > 0
  for key in ('teacher_forced_accuracy', 'sampled_accuracy', 'r_loss', 'kl_bits'):
    assert 0.0 <= report[key] < float('inf'), key


def test_attribute_vectors_through_the_programs(trained_run, tmp_path):
  run_dir, examples = trained_run['run_dir'], trained_run['examples']
  midi = sorted(pathlib.Path(examples).glob('*.mid'))[0]
  report = run(program('attributes', f'--run_dir={run_dir}', f'--examples={examples}',
                       '--effect_phrases=8', f'--output={tmp_path / "vectors.json"}'))
  assert 'note_density' in report.stdout and 'moved' in report.stdout
  with open(run_dir / 'attribute_vectors.json') as f:
    saved = json.load(f)
  with open(tmp_path / 'vectors.json') as f:
    assert json.load(f) == saved
  assert saved['model']['step'] == NUM_STEPS and saved['corpus']['split'] == 'train'
  names = list(saved['attributes'])
  assert {'note_density', 'pitch_height'} <= set(names)
  assert len(saved['attributes']['note_density']['vector']) == 8
  assert saved['effect']['split'] == 'held-out' and saved['effect']['num_phrases'] == 8
  assert len(saved['effect']['matrix']) == len(names)
  for png in (run_dir / 'attribute_vectors_effect.png', tmp_path / 'vectors_effect.png'):
    assert decode_png(png).shape[2] == 3

  shift = run(program('interpolate', f'--run_dir={run_dir}', f'--input_midi={midi}',
                      '--attribute=note_density:+1', '--attribute=pitch_height:-0.5',
                      f'--output_dir={tmp_path / "shift"}'))
  assert 'Steps: 0 x, 0.5 x, 1 x, 1.5 x, 2 x (+1 note_density -0.5 pitch_height)' in shift.stdout
  assert len(list((tmp_path / 'shift').glob('*_attribute_*-of-005.mid'))) == 5
  assert len(list((tmp_path / 'shift').glob('*-morph.mid'))) == 1
  (png,) = (tmp_path / 'shift').glob('*.png')
  assert decode_png(png).shape[2] == 3

  run(program('sample', f'--run_dir={run_dir}', '--attribute=note_density:+0.5,pitch_height:1',
              '--num_outputs=2', '--seed=1', f'--output_dir={tmp_path / "sample"}'))
  for path in sorted((tmp_path / 'sample').glob('*.mid')):
    parse_midi(path)
  assert len(list((tmp_path / 'sample').glob('*.mid'))) == 2


def test_programs_report_user_errors_in_one_line_without_a_traceback(tmp_path):
  # The messages themselves are tested in-process (helpers.py, test_trained_model.py); here,
  # that the programs print them as one line and exit with status 1. Two programs side by side.
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'))
  waltz = helpers.write_melody_midis(str(tmp_path / 'waltz'), num_files=1, numerator=3)
  melody = helpers.write_melody_midis(str(tmp_path / 'melody'), num_files=1)
  cases = {  # what the message must say -> command
      "Unknown config 'no-such-config'": program(
          'train', '--config=no-such-config', f'--run_dir={tmp_path / "r"}', '--examples=x'),
      'No 2-bar melody window: 3/4 time': program(
          'interpolate', f'--run_dir={run_dir}', f'--input_midi_1={waltz}/tune_00.mid',
          f'--input_midi_2={melody}/tune_00.mid', f'--output_dir={tmp_path / "out"}'),
      'No attribute vectors at': program(
          'sample', f'--run_dir={run_dir}', '--attribute=note_density:+1',
          f'--output_dir={tmp_path / "out"}'),
  }
  processes = {message: subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True, cwd=REPO)
               for message, command in cases.items()}
  for message, process in processes.items():
    _, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 1, (message, stderr[-3000:])
    assert message in stderr, (message, stderr[-3000:])
    assert 'Traceback' not in stderr, stderr[-3000:]
  assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')
