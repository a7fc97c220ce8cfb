r"""Preprocessing throughput: MIDI files/s and windows/s of `preprocess.preprocess` over data/midi.

    python benchmarks/preprocess_speed.py [--workers=1,2] [--configs=cat-mel_2bar_small,...]
                                          [--max_files=N] [--input=DIR]

Runs the library call `mvl_preprocess` makes (read every MIDI file, extract windows, build the
report; the cache is not written), once per config and number of worker processes, and prints one
JSON line each ("preprocess"). The wall time includes starting the worker processes. This script
does not import TensorFlow, so the workers are forked, as in `mvl_preprocess` (which doesn't
import it either).
`--max_files` copies the first N files (sorted) to a temporary folder and measures that instead.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
warnings.filterwarnings('ignore', message="Couldn't find ffmpeg", category=RuntimeWarning)

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position

DEFAULT_CONFIGS = ('cat-mel_2bar_small', 'hierdec-mel_16bar', 'cat-drums_2bar_small')


def first_files(folder, count, destination):
  """Copies the first `count` MIDI files under `folder` (sorted walk) into `destination`."""
  copied = 0
  for root, _, files in sorted(os.walk(folder)):
    for name in sorted(files):
      if name.lower().endswith(('.mid', '.midi')):
        relative = os.path.relpath(os.path.join(root, name), folder)
        target = os.path.join(destination, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(root, name), target)
        copied += 1
        if copied == count:
          return copied
  return copied


def measure(input_path, config_name, num_workers):
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config(config_name)
  converter = contract.get_converter(config)
  start = time.perf_counter()
  window_set = preprocess.preprocess(input_path, converter, num_workers)
  seconds = time.perf_counter() - start
  report = window_set.report
  return benchutil.emit(
      'preprocess', config=config_name, encoding=config.data.encoding,
      slice_bars=config.data.slice_bars, workers=report['num_workers'],
      files=report['files_total'], files_failed=report['files_failed'],
      windows=report['windows_kept'], seconds=round(seconds, 3),
      files_per_s=round(report['files_total'] / seconds, 2),
      windows_per_s=round(report['windows_kept'] / seconds, 2),
      peak_rss_mb=benchutil.peak_rss_mb())


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--input', default=benchutil.DATA_MIDI)
  parser.add_argument('--configs', default=','.join(DEFAULT_CONFIGS))
  parser.add_argument('--workers', default='1,2')
  parser.add_argument('--max_files', type=int, default=None)
  args = parser.parse_args()
  with tempfile.TemporaryDirectory(prefix='mvl_bench_midi_') as subset:
    input_path = args.input
    if args.max_files:
      first_files(args.input, args.max_files, subset)
      input_path = subset
    for config_name in args.configs.split(','):
      for workers in args.workers.split(','):
        measure(input_path, config_name, int(workers))


if __name__ == '__main__':
  main()
