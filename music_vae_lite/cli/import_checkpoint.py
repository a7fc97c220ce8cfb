r"""mvl_import: turns a checkpoint of the original Magenta MusicVAE into a run directory.

  mvl_import --magenta_checkpoint=cat-mel_2bar_big.tar --run_dir=runs/mel_big [--config=NAME]

--magenta_checkpoint: a released `.tar` bundle, a checkpoint prefix (DIR/model.ckpt) or a directory.
--config: the original config's name; the usual overrides (--config.model.z_size=32 ...) set
non-standard sizes. Without it the config is inferred from the variable names and shapes, and the
program says which it chose. A config that does not fit gets an error naming the variables that
differ and the config that fits.

Families read: melodies (cat-mel_2bar_*, hierdec-mel_16bar, hier-mel_16bar), drums
(cat-drums_2bar_small), melodies with chords (cat-mel_2bar_med_chords) and trios
(hierdec-trio_16bar, hier-trio_16bar, flat-trio_16bar). GrooVAE, NADE drums, multi-instrument
performance and control preprocessing are refused with a one-line "not supported yet" error.

The run directory (config.json + train/ckpt-<original global_step>) works with every program:
mvl_sample, mvl_interpolate, mvl_evaluate, and mvl_train --init_from=RUN_DIR for fine-tuning.
Optimizer state in the checkpoint (Adam slots, beta powers) is skipped and reported.
"""
import glob
import os
import sys

from absl import app
from absl import flags
from ml_collections import config_flags

from music_vae_lite.cli import common

# TensorFlow and the library are imported in main(), so that --help answers at once.

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Original config name (e.g. hierdec-mel_16bar), with overrides for '
    'non-standard sizes (--config.model.z_size=32). Default: inferred from the checkpoint.',
    lock_config=True)
_MAGENTA_CHECKPOINT = flags.DEFINE_string(
    'magenta_checkpoint', None, 'An original MusicVAE checkpoint: .tar bundle, prefix or directory.')
_RUN_DIR = flags.DEFINE_string('run_dir', None, 'New run directory to write (must not hold a run).')
flags.mark_flags_as_required(['magenta_checkpoint', 'run_dir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_import'):  # the cheap checks, before TensorFlow loads
    source, run_dir = _MAGENTA_CHECKPOINT.value, _RUN_DIR.value
    if not glob.glob(glob.escape(source) + '*'):
      raise ValueError(f'No checkpoint at {source!r} (expected a .tar bundle, a directory, or a '
                       'prefix P with P.index beside it).')
    if os.path.exists(os.path.join(run_dir, 'config.json')):
      raise ValueError(f'{run_dir} already holds a run; import into a new --run_dir.')
  from music_vae_lite.serving import magenta_checkpoint  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_import'):
    run_dir, report = magenta_checkpoint.import_checkpoint(
        _MAGENTA_CHECKPOINT.value, _RUN_DIR.value, _CONFIG.value)
    print(magenta_checkpoint.format_report(report))
    print(f'Wrote {report["checkpoint"]} and {run_dir}/config.json.')


def run():
  common.run_program(main, sys.modules[__name__], with_config=True)


if __name__ == '__main__':
  run()
