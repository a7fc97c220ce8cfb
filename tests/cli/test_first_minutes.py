"""What a new user meets first: --help, quick usage errors, quiet start-up, tidy output files."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pathlib  # pylint: disable=g-import-not-at-top,wrong-import-position
import socket
import stat
import subprocess
import sys

import mido
import numpy as np
import pytest

from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite import files
from music_vae_lite.cli import quiet

REPO = pathlib.Path(__file__).resolve().parents[2]
PROGRAMS = {  # program -> flags its --help must list
    'train': ('--config', '--run_dir', '--examples', '--num_steps', '--strategy'),
    'sample': ('--run_dir', '--checkpoint', '--num_outputs', '--temperature', '--output_dir',
               '--bf16', '--attribute', '--attribute_vectors'),
    'interpolate': ('--input_midi_1', '--input_midi_2', '--window_1', '--window_2', '--run_dir',
                    '--input_midi', '--attribute', '--window'),
    'attributes': ('--run_dir', '--checkpoint', '--examples', '--output', '--effect_phrases'),
    'evaluate': ('--examples', '--output_json', '--split', '--run_dir'),
    'preprocess': ('--input', '--output', '--config', '--encoding', '--max_file_mb'),
    'export': ('--run_dir', '--checkpoint', '--format', '--output_dir'),
    'studio': ('--run_dir', '--checkpoint', '--port', '--max_upload_mb', '--bf16'),
}

# Runs a program in-process and reports, after it exits, whether TensorFlow was ever imported.
_RUN_AND_REPORT_TF = '''
import atexit, runpy, sys
atexit.register(lambda: print('tensorflow imported:', 'tensorflow' in sys.modules))
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)
'''


def run_program(name, *flags, env=None):
  """Runs music_vae_lite.cli.<name> from the repository root (the source tree shadows any installed
  copy there, as it does for a user) and returns the finished process."""
  command = [sys.executable, '-c', _RUN_AND_REPORT_TF, f'music_vae_lite.cli.{name}', *flags]
  return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=REPO, env=env)


@pytest.mark.parametrize('name', sorted(PROGRAMS))
def test_help_lists_the_programs_own_flags_exits_0_without_tensorflow(name):
  result = run_program(name, '--help')
  assert result.returncode == 0, result.stderr
  for flag in PROGRAMS[name]:
    assert f'  {flag}:' in result.stdout, (flag, result.stdout)
  assert f'mvl_{name}' in result.stdout.splitlines()[0]  # the docstring's first line
  assert 'tensorflow imported: False' in result.stdout


def test_train_help_lists_the_configs_overridable_values():
  result = run_program('train', '--config=tiny-mel_2bar', '--help')
  assert result.returncode == 0, result.stderr
  assert '--config.model.z_size=8' in result.stdout
  assert '--config.train.batch_size=8' in result.stdout


@pytest.mark.parametrize('name, flags, message', [
    ('sample', ['--run_dir={tmp}/no-run'], "--run_dir: no run directory at '{tmp}/no-run'"),
    ('sample', ['--run_dir={tmp}', '--output_dir={tmp}/out'], 'is not a music_vae_lite run'),
    ('sample', ['--checkpoint={tmp}/ckpt-5'], '--checkpoint: no checkpoint at'),
    ('interpolate', ['--run_dir={tmp}/no-run', '--input_midi_1=x.mid', '--input_midi_2=y.mid'],
     'no run directory'),
    ('interpolate', ['--run_dir={run}', '--input_midi_1={tmp}/text.mid',
                     '--input_midi_2={tmp}/text.mid'], 'is not a MIDI file'),
    ('interpolate', ['--run_dir={run}', '--input_midi_1={tmp}/missing.mid',
                     '--input_midi_2={tmp}/text.mid'], 'does not exist'),
    ('sample', ['--run_dir={run}', '--attribute=note_density', '--output_dir={tmp}/out'],
     "--attribute: 'note_density' is not NAME:STRENGTH"),
    ('interpolate', ['--run_dir={run}', '--input_midi={tmp}/text.mid', '--output_dir={tmp}/out'],
     '--input_midi needs --attribute'),
    ('interpolate', ['--run_dir={run}', '--input_midi_1={tmp}/text.mid', '--output_dir={tmp}/o'],
     'Give --input_midi_1 and --input_midi_2 (a morph), or --input_midi'),
    ('attributes', ['--run_dir={tmp}/no-run', '--examples={tmp}'], 'no run directory'),
    ('attributes', ['--run_dir={run}', '--examples={tmp}/none'], "'{tmp}/none' does not exist"),
    ('train', ['--config=tiny-mel_2bar', '--run_dir={tmp}/new-run', '--examples={tmp}/none'],
     "--examples: '{tmp}/none' does not exist"),
    ('train', ['--run_dir={tmp}/new-run', '--examples={tmp}'], '--config is required'),
    ('train', ['--config=tiny-mel_2bar', '--run_dir={tmp}/text.mid/run', '--examples={tmp}'],
     'is a file'),
    ('evaluate', ['--run_dir={run}', '--examples={tmp}/none', '--output_json={tmp}/o/e.json'],
     'does not exist'),
    ('preprocess', ['--input={tmp}', '--output={tmp}/text.mid/cache'], 'is a file'),
    ('preprocess', ['--input={tmp}', '--output={tmp}/cache', '--config=nade-drums_2bar_full',
                    '--slice_bars=4'],
     '--slice_bars=4 disagrees with --config (nade-drums_2bar_full: data.slice_bars=2)'),
    ('export', ['--run_dir={run}', '--format=saved_model', '--output_dir={tmp}'],
     'already exists and is not empty'),
    ('export', ['--run_dir={tmp}/no-run', '--format=magenta_js', '--output_dir={tmp}/out'],
     'no run directory'),
    ('studio', ['--run_dir={tmp}/no-run'], "--run_dir: no run directory at '{tmp}/no-run'"),
])
def test_usage_errors_answer_before_tensorflow_and_create_nothing(tmp_path, name, flags, message):
  (tmp_path / 'text.mid').write_text('not a MIDI file')
  run = tmp_path / 'run'  # looks like a run directory to the early checks
  run.mkdir()
  (run / 'config.json').write_text('{}')
  before = sorted(p.name for p in tmp_path.rglob('*'))
  flags = [f.format(tmp=tmp_path, run=run) for f in flags]
  result = run_program(name, *flags)
  assert result.returncode in (1, 2), result.stderr
  assert message.format(tmp=tmp_path) in result.stderr, result.stderr
  assert 'Traceback' not in result.stderr
  assert len(result.stderr.strip().splitlines()) == 1, result.stderr
  assert 'tensorflow imported: False' in result.stdout
  assert sorted(p.name for p in tmp_path.rglob('*')) == before  # no new (empty) folder


def test_studio_names_a_port_in_use_before_tensorflow(tmp_path):
  run = tmp_path / 'run'
  run.mkdir()
  (run / 'config.json').write_text('{}')
  with socket.socket() as taken:
    taken.bind(('127.0.0.1', 0))
    taken.listen()
    port = taken.getsockname()[1]
    result = run_program('studio', f'--run_dir={run}', f'--port={port}')
  assert result.returncode == 1, result.stderr
  assert result.stderr.startswith(f'mvl_studio: error: --port: cannot listen on 127.0.0.1:{port}: '
                                  'Address already in use'), result.stderr
  assert 'tensorflow imported: False' in result.stdout


def test_noise_filter_drops_tensorflow_start_up_lines_and_keeps_the_rest(tmp_path):
  lines = [
      b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
      b'I0000 00:00:1796204442.666916    3515 port.cc:153] oneDNN custom operations are on.',
      b'I0000 00:00:1796204442.667349    3515 cudart_stub.cc:31] Could not find cuda drivers',
      b'To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild '
      b'TensorFlow with the appropriate compiler flags.',
      b'E0000 00:00:1796204446.969918    3515 cuda_platform.cc:52] failed call to cuInit: INTERNAL',
      b'E0000 00:00:1796204477.901169    3659 util.cc:131] oneDNN supports DT_INT32 only on '
      b'platforms with AVX-512. Falling back to the default Eigen-based implementation.',
  ]
  kept = [
      b'E0000 00:00:1796204477.901169    3659 some_op.cc:12] a real error stays',
      b'W0000 00:00:1796204477.901169    3659 some_op.cc:12] oneDNN supports DT_INT32 only on',
      b'I1202 09:48:45.731326 139839222111104 train.py:454] our own progress line stays',
      b'mvl_train: error: a user error stays',
      b'Traceback (most recent call last):',
      b'a last line without a newline',
  ]
  kept = kept[:1] + kept[2:]  # a C++ warning is dropped like every C++ INFO/WARNING line
  read_fd, write_fd = os.pipe()
  os.write(write_fd, b'\n'.join(lines + kept))
  os.close(write_fd)
  out_path = tmp_path / 'stderr'
  with open(out_path, 'wb') as out:
    quiet._filter(read_fd, out.fileno())  # pylint: disable=protected-access
  os.close(read_fd)
  assert out_path.read_bytes() == b'\n'.join(kept)


@pytest.fixture(scope='module')
def untrained_run(tmp_path_factory):
  import helpers  # pylint: disable=g-import-not-at-top  (imports TensorFlow)
  return helpers.make_untrained_run_dir(str(tmp_path_factory.mktemp('run') / 'run'))


def test_a_normal_run_prints_no_tensorflow_start_up_noise(untrained_run, tmp_path):
  env = {k: v for k, v in os.environ.items() if k != 'TF_CPP_MIN_LOG_LEVEL'}
  result = run_program('sample', f'--run_dir={untrained_run}', '--num_outputs=2',
                       f'--output_dir={tmp_path}', env=env)
  assert result.returncode == 0, result.stderr
  assert 'Wrote 2 MIDI file(s)' in result.stdout
  noise = [line for line in result.stderr.splitlines()
           if line.startswith(('E0000', 'I0000', 'W0000', 'WARNING: All log messages'))
           or 'cuInit' in line or 'ffmpeg' in line]
  assert not noise, result.stderr
  assert 'Loaded' in result.stderr  # our own INFO lines stay
  for path in tmp_path.iterdir():  # the user's normal permissions, not a temp file's 0600
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask(), path


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def test_atomic_write_gives_the_umask_permissions_and_leaves_no_temp_file(tmp_path):
  path = files.atomic_write(tmp_path / 'a.txt', 'text')
  assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()
  files.atomic_write(tmp_path / 'b.bin', lambda f: f.write(b'\x00\x01'))
  assert (tmp_path / 'b.bin').read_bytes() == b'\x00\x01'
  assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt', 'b.bin']


def test_path_checks_name_the_problem_and_create_nothing(tmp_path):
  (tmp_path / 'file').write_bytes(b'MThd\x00\x00\x00\x06')
  (tmp_path / 'empty.mid').write_bytes(b'')
  assert files.check_creatable_dir(tmp_path / 'a' / 'b') == str(tmp_path / 'a' / 'b')
  assert not (tmp_path / 'a').exists()
  with pytest.raises(files.RunDirError, match='is a file'):
    files.check_creatable_dir(tmp_path / 'file' / 'out')
  assert files.check_midi_file(str(tmp_path / 'file'), 'input_midi_1')
  with pytest.raises(ValueError, match='--input_midi_1: .* is an empty file, not a MIDI file'):
    files.check_midi_file(str(tmp_path / 'empty.mid'), 'input_midi_1')
  with pytest.raises(ValueError, match='is not a file'):
    files.check_midi_file(str(tmp_path), 'input_midi_2')


@pytest.mark.parametrize('encoding', ['melody', 'drums'])
def test_written_midi_lasts_the_whole_window(tmp_path, encoding):
  converter = (melody.MelodyConverter() if encoding == 'melody'
               else drums.DrumsConverter())
  labels = np.zeros([1, 32, 1], np.int32)
  labels[0, 0, 0] = 40 if encoding == 'melody' else 1  # one short note or one kick at the start
  labels[0, 2, 0] = 1 if encoding == 'melody' else 0  # the melody note ends at step 2
  (sequence,) = converter.from_tensors(labels)
  path = contract.write_midi(sequence, str(tmp_path / 'window.mid'))
  assert mido.MidiFile(path).length == pytest.approx(4.0, abs=0.01)  # 2 bars at 120 qpm


def test_a_picture_of_thousands_of_samples_shows_the_first_ones(tmp_path):
  from music_vae_lite import pianoroll  # pylint: disable=g-import-not-at-top
  windows = np.zeros([5000, 32], np.int32)
  windows[:, 0] = 40
  shown = pianoroll.write_column_png(tmp_path / 'many.png', windows, 'melody')
  assert shown == pianoroll.MAX_PICTURE_WINDOWS
  expected = pianoroll.render([[w] for w in windows[:shown]], 'melody')
  from PIL import Image  # pylint: disable=g-import-not-at-top
  assert Image.open(tmp_path / 'many.png').size == (expected.shape[1], expected.shape[0])


def test_output_names_never_leave_the_output_folder(untrained_run, tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  config_path = pathlib.Path(untrained_run) / 'config.json'
  config = json.loads(config_path.read_text())
  original = config['name']
  config['name'] = '../../../escaped'
  config_path.write_text(json.dumps(config))
  try:
    out = tmp_path / 'deep' / 'out'
    result = run_program('sample', f'--run_dir={untrained_run}', '--num_outputs=1',
                         f'--output_dir={out}')
  finally:
    config['name'] = original
    config_path.write_text(json.dumps(config))
  assert result.returncode == 0, result.stderr
  assert sorted(p.suffix for p in out.iterdir()) == ['.mid', '.png']
  assert not list(tmp_path.rglob('*escaped*')) or all(
      p.parent == out for p in tmp_path.rglob('*escaped*'))



def test_preprocess_reports_a_full_disk_in_one_line_and_keeps_the_old_cache(tmp_path, monkeypatch,
                                                                             capsys):
  from absl import flags  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.cli import preprocess as program  # pylint: disable=g-import-not-at-top
  midi = tmp_path / 'midi'
  midi.mkdir()
  source = next((REPO / 'data' / 'midi' / 'ryans').glob('*.mid'))
  (midi / 'a.mid').write_bytes(source.read_bytes())
  cache = tmp_path / 'cache'
  cache.mkdir()
  (cache / preprocess.CACHE_FILE).write_bytes(b'the old cache')
  real_replace = os.replace

  def full_disk(src, dst):  # the new file is complete only once renamed: fail right there
    if str(dst).endswith(preprocess.CACHE_FILE):
      raise OSError(28, 'No space left on device')
    return real_replace(src, dst)

  monkeypatch.setattr(os, 'replace', full_disk)
  # Set this program's flags only: parsing argv would also check other modules' required flags.
  for name, value in (('input', str(midi)), ('output', str(cache)), ('num_workers', 1)):
    flags.FLAGS[name].value = value
  flags.FLAGS.mark_as_parsed()
  try:
    assert program.main(['mvl_preprocess']) == 1
  finally:
    flags.FLAGS.unparse_flags()
  assert 'error: cannot write the cache to' in capsys.readouterr().err
  assert (cache / preprocess.CACHE_FILE).read_bytes() == b'the old cache'
  assert sorted(p.name for p in cache.iterdir()) == [preprocess.CACHE_FILE]  # no temp file left


def test_run_dir_checks_accept_the_run_or_its_train_folder(tmp_path):
  from music_vae_lite.cli import common  # pylint: disable=g-import-not-at-top
  (tmp_path / 'run' / 'train').mkdir(parents=True)
  (tmp_path / 'run' / 'config.json').write_text('{}')
  common.check_model_flags(str(tmp_path / 'run'), None)
  common.check_model_flags(str(tmp_path / 'run' / 'train'), None)  # as checkpoints.resolve does
  (tmp_path / 'other' / 'train').mkdir(parents=True)
  with pytest.raises(ValueError, match='not a music_vae_lite run directory'):
    common.check_model_flags(str(tmp_path / 'other' / 'train'), None)
  with pytest.raises(ValueError, match='exactly one'):
    common.check_model_flags(str(tmp_path / 'run'), str(tmp_path / 'run' / 'train' / 'ckpt-1'))
