"""mvl_preprocess: MIDI files or a TFRecord of NoteSequences -> a window cache, with a report.

  mvl_preprocess --input=data/midi --output=/tmp/cache --encoding=melody --slice_bars=2
  mvl_preprocess --input=my_drums --output=/tmp/cache --config=nade-drums_2bar_full

The windows are those of --config when one is given (a config name or file, as mvl_train takes
it, overrides included: its data section and its family options, e.g. a drum map), else of
--encoding, --slice_bars and --max_windows_per_sequence with the family's default options. The
cache records them; training with a config whose windows differ is refused with the command that
rebuilds it.

Writes `<output>/windows.npz` and `<output>/report.json` (atomically: an existing cache is only
replaced by a complete new one) and prints what happened to every file. Training programs take
the cache folder (or the MIDI folder itself) as their examples path. Exits with status 1, writing
nothing, when no window at all was extracted.
"""
import json
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from music_vae_lite import config_lib
from music_vae_lite.families import registry
from music_vae_lite.pipeline import limits
from music_vae_lite.cli import common

# The library (note_seq, TensorFlow) is imported in main(), after the flags are checked.

_INPUT = flags.DEFINE_string(
    'input', None, 'A folder of MIDI files (searched recursively), a MIDI file, or a TFRecord of '
    'NoteSequence protos.')
_OUTPUT = flags.DEFINE_string('output', None, 'Cache folder to write (windows.npz, report.json).')
_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Optional: a config name (e.g. nade-drums_2bar_full) or config file whose '
    'data section (encoding, slice_bars, max_windows_per_sequence) and family options define the '
    'windows; values can be overridden (--config.family.drum_map=full). --encoding, --slice_bars '
    'and --max_windows_per_sequence may be given beside it only with the same values.',
    lock_config=True)
_ENCODING = flags.DEFINE_enum('encoding', 'melody', sorted(registry.ENCODINGS),
                              'What to extract (the data family, as config.data.encoding).')
_SLICE_BARS = flags.DEFINE_integer('slice_bars', 2, 'Window length in bars (16 steps each).',
                                   lower_bound=1)
_MAX_WINDOWS = flags.DEFINE_integer(
    'max_windows_per_sequence', 5, 'At most this many windows per sequence (a seeded random '
    'subset beyond that); 0 = every window (as cpu-mel_2bar trains).', lower_bound=0)
_NUM_WORKERS = flags.DEFINE_integer('num_workers', 2, 'Worker processes; 1 = in this process.',
                                    lower_bound=1)
_MAX_FILE_MB = flags.DEFINE_float('max_file_mb', limits.DEFAULT_MAX_FILE_MB,
                                  'Larger MIDI files are skipped (reported as too large).',
                                  lower_bound=0.0)
_MAX_BARS = flags.DEFINE_integer('max_bars', limits.DEFAULT_MAX_BARS,
                                 'Longer sequences are skipped (reported as too long).',
                                 lower_bound=1)
_FILE_TIMEOUT = flags.DEFINE_float('file_timeout_s', limits.DEFAULT_FILE_TIMEOUT_S,
                                   'A file taking more CPU seconds to read and convert fails; '
                                   '0 = no limit.', lower_bound=0.0)
_WORKER_MEMORY = flags.DEFINE_float(
    'worker_memory_mb', limits.DEFAULT_WORKER_MEMORY_MB, 'Memory (address space, MB) a worker '
    'process may add to its start-up size; a file needing more fails (too large to parse). '
    '0 = no cap; not applied with --num_workers=1.', lower_bound=0.0)
_PRINT_JSON = flags.DEFINE_bool('print_json', False, 'Also print the full report as JSON.')
flags.mark_flags_as_required(['input', 'output'])


def _usage_error(message):
  print(f'mvl_preprocess: error: {message}', file=sys.stderr)
  return 2


# The flags that a --config's data section sets too.
_DATA_FLAGS = ('encoding', 'slice_bars', 'max_windows_per_sequence')


def _windows_config():
  """The config whose data section and family options define the windows: --config, checked
  against the data flags given beside it, or the flags over the base config. ValueError naming
  the flag that disagrees."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.configs import base  # pylint: disable=g-import-not-at-top
  flag_values = {'encoding': _ENCODING.value, 'slice_bars': _SLICE_BARS.value,
                 'max_windows_per_sequence': _MAX_WINDOWS.value or None}
  config = _CONFIG.value
  if config is None:
    config = base.get_base_config()  # the family's options at their defaults
    config.data.update(flag_values)
    return config
  config_lib.validate(config, '--config')
  wanted = {'encoding': config.data.encoding, 'slice_bars': config.data.slice_bars,
            'max_windows_per_sequence': contract.window_cap(config.data)}
  for name in _DATA_FLAGS:
    if flags.FLAGS[name].present and flag_values[name] != wanted[name]:
      raise ValueError(f'--{name}={flags.FLAGS[name].value} disagrees with --config '
                       f'({config.get("name") or "the config"}: data.{name}={wanted[name]}); '
                       f'leave --{name} out or use a config with that value.')
  return config


def main(argv):
  if len(argv) > 1:
    return _usage_error(f'unexpected arguments: {" ".join(argv[1:])}')
  if not os.path.exists(_INPUT.value):
    return _usage_error(f'--input={_INPUT.value} does not exist (expected a folder of MIDI '
                        'files, a MIDI file or a TFRecord of NoteSequences).')
  try:
    common.check_output_dir(_OUTPUT.value, 'output')
  except ValueError as e:
    return _usage_error(str(e))
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  try:
    converter = contract.get_converter(_windows_config())
  except ValueError as e:  # a flag against --config, or a family option the family rejects
    return _usage_error(str(e))

  logging.info('Preprocessing %s', _INPUT.value)
  try:
    window_set = preprocess.preprocess(
        _INPUT.value, converter, _NUM_WORKERS.value, max_file_mb=_MAX_FILE_MB.value,
        max_bars=_MAX_BARS.value, file_timeout_s=_FILE_TIMEOUT.value,
        worker_memory_mb=_WORKER_MEMORY.value)
  except ValueError as e:  # an input that is neither a folder nor a regular file (a FIFO)
    return _usage_error(str(e))
  print(preprocess.format_report(window_set.report))
  if _PRINT_JSON.value:
    print(json.dumps(window_set.report, indent=2))
  if not len(window_set):
    print(f'Nothing written to {_OUTPUT.value}: no windows.', file=sys.stderr)
    return 1
  try:
    cache_path = preprocess.write_cache(window_set, _OUTPUT.value)
  except OSError as e:  # e.g. a full disk: writes are atomic, so an existing cache is untouched
    print(f'mvl_preprocess: error: cannot write the cache to {_OUTPUT.value}: '
          f'{e.strerror or e}. Nothing was replaced.', file=sys.stderr)
    return 1
  print(f'Wrote {len(window_set)} windows to {cache_path} and its report to '
        f'{os.path.join(_OUTPUT.value, preprocess.REPORT_FILE)}')
  return 0


def run():
  common.run_program(main, sys.modules[__name__], with_config=True)


if __name__ == '__main__':
  run()
