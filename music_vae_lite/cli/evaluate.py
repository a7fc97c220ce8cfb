r"""mvl_evaluate: reconstruction metrics of a trained model on a set of examples, as JSON.

  mvl_evaluate --run_dir=runs/mel --examples=data/midi --output_json=eval.json [--split=eval]

Reports over every window of the examples (or of their held-out / training split, by the run's
config.data.eval_fraction, with --split): each metric the model's decoder reports, teacher forced
(each decoder step sees the true previous token) and sampled (free-running: each step sees the
model's own sample, sampling probability 1, as in the original's eval), e.g.
teacher_forced_accuracy and sampled_note_on_accuracy for the categorical decoders; r_loss (-log
p(x|z) per window, nats), the KL in bits, and the rest of train.EVAL_METRICS. For a family of
several parts (trio: melody, bass, drums) `parts` gives each part's metrics as well.
"""
import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging

from music_vae_lite.cli import common

# TensorFlow and the library are imported in main(), after the flags are checked.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_EXAMPLES = flags.DEFINE_string(
    'examples', None, 'MIDI folder or file, NoteSequence TFRecord, or mvl_preprocess cache folder.')
_OUTPUT_JSON = flags.DEFINE_string('output_json', None, 'Where to write the metrics (JSON).')
_SPLIT = flags.DEFINE_enum('split', 'all', ['all', 'eval', 'train'],
                           "Which files' windows: all, or the run's held-out (eval) or training "
                           'files by config.data.eval_fraction.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', None, 'Evaluation batch (default: the config\'s).',
                                   lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed for z ~ q(z|x) and the free-running samples.')
flags.mark_flags_as_required(['examples', 'output_json'])

# JSON key -> train.EVAL_METRICS name (the decoder's metrics follow, as
# teacher_forced_<name> and sampled_<name>).
_KEYS = {
    'active_units': 'latent/active_units',
    'r_loss': 'losses/r_loss',
    'r_loss_per_step': 'losses/r_loss_per_step',
    'sampled_r_loss': 'losses/sampled_r_loss',
    'kl_bits': 'losses/kl_bits',
    'kl_loss': 'losses/kl_loss',
    'kl_beta': 'losses/kl_beta',
    'loss': 'loss',
}


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_evaluate'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    common.check_examples(_EXAMPLES.value)
    output_json = os.path.abspath(_OUTPUT_JSON.value)
    if os.path.isdir(output_json):
      raise ValueError(f'--output_json: {output_json!r} is a folder; give a file name.')
    common.check_output_dir(os.path.dirname(output_json), 'output_json')
  from music_vae_lite import checkpoints  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import input_pipeline  # pylint: disable=g-import-not-at-top
  from music_vae_lite.pipeline import preprocess  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  with common.user_errors('mvl_evaluate'):
    model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value)
    window_set = preprocess.load_examples(_EXAMPLES.value, model.converter)
    if _SPLIT.value != 'all':
      train_set, eval_set = input_pipeline.split_by_source(window_set,
                                                           model.config.data.eval_fraction)
      window_set = eval_set if _SPLIT.value == 'eval' else train_set
      if not len(window_set):
        raise ValueError(f'The {_SPLIT.value} split of {_EXAMPLES.value} has no windows '
                         f'(eval_fraction={model.config.data.eval_fraction}).')
    total = len(window_set)
    logging.info('Evaluating %d windows of %s.', total, _EXAMPLES.value)
    last_report = [time.time()]

    def progress(done):  # a line every few seconds: a big evaluation takes minutes
      if time.time() - last_report[0] >= train.PROGRESS_SECONDS or done >= total:
        logging.info('Evaluated %d of %d windows (%.0f%%).', done, total, 100.0 * done / total)
        last_report[0] = time.time()

    metrics = train.evaluate(model.model, model.config, window_set, step=model.step,
                             batch_size=_BATCH_SIZE.value, seed=_SEED.value,
                             converter=model.converter, progress=progress)
    report = {'checkpoint': model.checkpoint_path, 'step': model.step,
              'examples': _EXAMPLES.value, 'split': _SPLIT.value,
              'num_windows': metrics['num_windows'],
              'num_files': len(set(int(i) for i in window_set.source_ids))}
    parts = {}  # e.g. trio: each part's metrics (the decoder names them <metric>/<part>)
    for name, value in metrics.items():
      if name.startswith('metrics/'):
        key, _, part = name[len('metrics/'):].partition('/')
        (parts.setdefault(part, {}) if part else report)[key] = value
    report.update({key: metrics[name] for key, name in _KEYS.items()})
    if parts:
      report['parts'] = parts
    checkpoints.atomic_write(output_json, json.dumps(report, indent=2) + '\n')
    print(json.dumps(report, indent=2))


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
