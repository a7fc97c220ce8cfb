"""What the programs share: start-up (help, quiet logs), the --run_dir / --checkpoint flags, checks
of flags and paths before TensorFlow is imported, one-line user errors.

Programs import TensorFlow and the library inside main(), after their own checks, so that --help
and a usage mistake answer at once instead of after TensorFlow's start-up (seconds).
"""
import contextlib
import math
import os
import sys
import textwrap

from absl import app
from absl import flags
from absl import logging

from music_vae_lite import config_lib
from music_vae_lite import files
from music_vae_lite.cli import quiet

# Bad flags, files and checkpoints raise these; the programs report them in one line.
USER_ERRORS = (ValueError, OSError, FloatingPointError)


def define_model_flags():
  """--run_dir and --checkpoint, for the programs that use a trained model."""
  run_dir = flags.DEFINE_string('run_dir', None, 'Run directory (its newest checkpoint is used).')
  checkpoint = flags.DEFINE_string('checkpoint', None, 'A checkpoint prefix, e.g. '
                                   'run_dir/train/ckpt-2000 (instead of --run_dir).')
  return run_dir, checkpoint


def define_bf16_flag():
  """--bf16, for the programs that generate."""
  return flags.DEFINE_bool(
      'bf16', False, 'Run the matmuls in bfloat16 (float32 weights and cell arithmetic): 1.4-1.8x '
      'faster generation on CPUs with native bf16 (AVX512-BF16, AMX), slower on other CPUs. '
      'Outputs at the same seed can differ from float32 in a few notes.')


def define_chords_flag():
  """--chords, for the programs that generate with a chord-conditioned model."""
  return flags.DEFINE_string(
      'chords', None, 'For a chord-conditioned model (e.g. cpu-mel_2bar_chords): the chords the '
      'output follows, e.g. "C G Am F" (one per bar, or per equal group of steps; N.C. for none).')


def define_attribute_flags():
  """--attribute and --attribute_vectors, for the programs that move phrases along attribute
  vectors (made by mvl_attributes)."""
  attribute = flags.DEFINE_multi_string(
      'attribute', None, 'Move along attribute vectors: NAME:STRENGTH, e.g. note_density:+1.0 '
      '(repeat the flag, or separate with commas, for several; fractional and negative strengths '
      'work). The vectors come from mvl_attributes.')
  vectors = flags.DEFINE_string(
      'attribute_vectors', None, 'The attribute vectors file (default: attribute_vectors.json in '
      'the run directory, written by mvl_attributes).')
  return attribute, vectors


def parse_attributes(texts):
  """{name: strength} from --attribute values ('name:+1.0', several per value with commas; a name
  given twice adds up). ValueError naming a malformed item; names are checked by the model."""
  strengths = {}
  for text in texts or ():
    for item in text.split(','):
      item = item.strip()
      name, separator, value = item.rpartition(':')
      try:
        strength = float(value)
      except ValueError:
        strength = math.nan
      if not separator or not name or not math.isfinite(strength):
        raise ValueError(f'--attribute: {item!r} is not NAME:STRENGTH with a finite strength '
                         '(e.g. note_density:+1.0).')
      strengths[name] = strengths.get(name, 0.0) + strength
  return strengths


def load_attribute_vectors(model, path):
  """Loads --attribute_vectors (or the run directory's) into the model, checked against it."""
  if path is not None and not os.path.isfile(path):
    raise ValueError(f'--attribute_vectors: no file at {path!r}.')
  return model.load_attribute_vectors(path)


def controls_from_flag(model, chords_text):
  """The controls [T] that --chords gives for `model` (None without --chords)."""
  if not chords_text:
    return None
  parse_chords = getattr(model.converter, 'parse_chords', None)  # the chord family's
  if parse_chords is None:
    raise ValueError(f'--chords: this {model.converter.encoding} model is not conditioned on '
                     'chords (train a *_chords config for that).')
  return parse_chords(chords_text)


def check_model_flags(run_dir, checkpoint):
  """Checks --run_dir / --checkpoint without TensorFlow: exactly one, naming something that exists
  (a run directory with its config.json, or a checkpoint prefix with its .index file)."""
  if (run_dir is None) == (checkpoint is None):
    raise ValueError('Give exactly one of --run_dir and --checkpoint.')
  if run_dir is not None:
    if not os.path.isdir(run_dir):
      raise ValueError(f'--run_dir: no run directory at {run_dir!r}.')
    if os.path.basename(os.path.normpath(run_dir)) == 'train':  # its train/ folder works too
      run_dir = os.path.dirname(os.path.normpath(run_dir))
    if not os.path.isfile(os.path.join(run_dir, config_lib.RUN_CONFIG_FILE)):
      raise ValueError(f'--run_dir: {run_dir!r} is not a music_vae_lite run directory (no '
                       'config.json).')
  else:
    prefix = checkpoint[:-len('.index')] if checkpoint.endswith('.index') else checkpoint
    if not os.path.isfile(prefix + '.index') and not os.path.isdir(prefix):
      raise ValueError(f'--checkpoint: no checkpoint at {checkpoint!r} (expected a prefix such as '
                       'run_dir/train/ckpt-2000, with its .index file).')


def run_dir_of(run_dir, checkpoint):
  """The run directory of --run_dir or --checkpoint (checked by check_model_flags), without
  TensorFlow: a checkpoint's run directory holds its train/ folder."""
  if run_dir is not None:
    run_dir = os.path.normpath(run_dir)
    return os.path.dirname(run_dir) if os.path.basename(run_dir) == 'train' else run_dir
  prefix = checkpoint[:-len('.index')] if checkpoint.endswith('.index') else checkpoint
  directory = os.path.dirname(os.path.normpath(prefix))
  return os.path.dirname(directory) if os.path.basename(directory) == 'train' else directory


def check_examples(path):
  """--examples must exist (a MIDI folder or file, a TFRecord or a cache folder)."""
  if not os.path.exists(path):
    raise ValueError(f'--examples: {path!r} does not exist (expected a MIDI folder or file, a '
                     'NoteSequence TFRecord or an mvl_preprocess cache folder).')


def check_output_dir(path, flag='output_dir'):
  """A folder that exists and is writable or can be created; nothing is created yet."""
  return files.check_creatable_dir(path, f'--{flag} folder')


def read_midi(path, flag):
  """The NoteSequence of one MIDI file, read and checked as training files are (no TensorFlow);
  ValueError naming the flag, the file and the reason."""
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  entries = list(preprocess.read_note_sequences(path))
  if len(entries) != 1 or entries[0][1] is None:
    reason = entries[0][2] if entries else 'nothing could be read'
    raise ValueError(f'--{flag}: cannot read {path}: {reason}.')
  return entries[0][1]


def load_trained_model(run_dir, checkpoint, bf16=False):
  """The TrainedModel named by exactly one of --run_dir and --checkpoint."""
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  check_model_flags(run_dir, checkpoint)
  model = trained_model.TrainedModel(run_dir or checkpoint,
                                     compute_dtype='bfloat16' if bf16 else None)
  logging.info('Loaded %s (step %d, %s matmuls).', model.checkpoint_path, model.step,
               model.compute_dtype)
  return model


def safe_name(text):
  """`text` made safe as part of a file name: no path separators, no leading dots."""
  cleaned = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in str(text)).lstrip('.')
  return cleaned or 'model'


def unused_base(output_dir, base):
  """`base` (a file name without its ending), or base_2, base_3, ...: the first that no entry of
  `output_dir` starts with, so that a program run twice within a second overwrites nothing."""
  names = os.listdir(output_dir)
  candidate, number = base, 1
  while any(name.startswith(candidate) for name in names):
    number += 1
    candidate = f'{base}_{number}'
  return candidate


@contextlib.contextmanager
def user_errors(program):
  """Turns a user error into `<program>: error: <message>` and exit status 1, without a traceback."""
  try:
    yield
  except USER_ERRORS as e:
    logging.debug('Error details:', exc_info=True)
    sys.exit(f'{program}: error: {e}')


# -------------------------------------------------------------------------------------------------
# Start-up.

_HELP_ARGS = ('--help', '-help', '-h', '-?', '--helpshort', '-helpshort')


def _help_text(module, argv, with_config):
  """The program's docstring, its flags and, for --config=NAME, every overridable config value."""
  key_flags = (flags.FLAGS.get_flags_for_module(module.__name__)
               + flags.FLAGS.get_flags_for_module(__name__))
  if with_config:
    key_flags.append(flags.FLAGS['config'])
  lines = [(module.__doc__ or '').strip(), '', 'Flags:']
  for flag in sorted(set(key_flags), key=lambda f: f.name):
    note = ' (default: {})'.format(flag.default) if flag.default is not None else ''
    lines.append(textwrap.fill(f'--{flag.name}: {flag.help}{note}', width=100,
                               initial_indent='  ', subsequent_indent='      '))
  if with_config:
    lines.append('')
    config_path = next((a.split('=', 1)[1] for a in argv if a.startswith('--config=')), None)
    if config_path is None:
      lines.append('Each config value can be overridden as --config.<key>=<value>; add '
                   '--config=NAME to --help to list them. Configs: '
                   + ', '.join(config_lib.available_configs()) + '.')
    else:
      config = config_lib.load_config(config_path)
      lines.append(f'Config values of {config.name or config_path}, each overridable as '
                   '--config.<key>=<value>:')
      lines.extend(f'  --config.{key}={value}'
                   for key, value in sorted(config_lib.flatten_config(config).items()))
  lines.append('')
  lines.append('TensorFlow start-up logs are hidden; set TF_CPP_MIN_LOG_LEVEL=0 to see them.')
  return '\n'.join(lines)


def run_program(main, module, with_config=False):
  """Runs an absl program: --help (exit 0), config names, quiet start-up, then `main`.

  Args:
    main: the absl main(argv).
    module: the program's module (its docstring and flags make the help).
    with_config: the program takes --config=NAME (a named config or a file) and overrides.
  """
  program = os.path.basename(sys.argv[0]) if sys.argv[0].startswith('mvl_') else (
      'mvl_' + module.__name__.rsplit('.', 1)[-1])
  argv = list(sys.argv)
  try:
    if with_config:
      argv = config_lib.resolve_config_argv(argv)
    if any(arg in _HELP_ARGS for arg in argv[1:]):
      print(_help_text(module, argv, with_config))
      sys.exit(0)
  except ValueError as e:
    sys.exit(f'{program}: error: {e}')
  quiet.quiet_start_up()
  app.run(main, argv=argv)
