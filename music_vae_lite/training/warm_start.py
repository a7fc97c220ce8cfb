"""Starting a new run from trained weights (fine-tuning), and freezing parts of the model.

    report = restore_initial_weights(model, 'runs/mel_big_imported')   # or a Magenta checkpoint
    print(format_report(report))
    variables = trainable_variables(model, config.train)                  # minus the frozen ones

`mvl_train --init_from=SOURCE` calls `initialise_run` once, when the new run directory has no
checkpoint yet: the model's weights come from SOURCE, the optimizer is fresh (Adam's moments at
zero) and the step count starts at 0, so the learning-rate, beta and sampling schedules start
over. SOURCE is one of our run directories or checkpoints (e.g. made by `mvl_import`) or an
original Magenta checkpoint (`.tar`, prefix, directory). Weights are matched by the original's
variable names (`MusicVAE.original_variable_names`), so any source with the same layout works; a
variable whose shape differs is skipped and keeps its fresh initial value, which the report lists.
(The original has no such option: its issue #2091 asks for one.)

`rename` maps the source's names onto this model's, for a source of another shape of model: each
rule is 'PATTERN=REPLACEMENT' (a regular expression and its replacement, as re.sub), and the first
rule whose pattern matches a source name rewrites it; other names stay as they are. E.g. a 16-bar
hierarchical model whose bar decoder and per-segment encoder start from a trained 2-bar model
(`mvl_train --init_rename=...`, README "16 bars"):
    ^decoder/=core_decoder/decoder/          the 2-bar decoder becomes the bar decoder
    ^encoder/cell_=encoder/hierarchical_level_0/cell_   its encoder reads each segment
(the original's TrainedModel takes such `var_name_substitutions` for loading, not for training).

Continuing an imported run directory itself (`mvl_train --run_dir=IMPORTED`) goes through
`resume_model_only`: its checkpoint holds model weights only, so Adam starts fresh and the step
continues from the original's global_step.

`config.train.freeze` keeps parts of the model fixed: 'encoder' (the bidirectional LSTM, mu and
sigma: z keeps its meaning, so interpolations and latent vectors computed before stay valid),
'encoder_and_conductor' (hierarchical models: also the conductor, so only the bar decoder learns
the new material). Frozen variables get no update at all (they stay bit-identical); Adam's slots
for them exist but never change.
"""
import os
import tempfile

from absl import logging
import tensorflow as tf

from music_vae_lite import checkpoints
from music_vae_lite.serving import magenta_checkpoint
from music_vae_lite.training import renames

FREEZE_CHOICES = ('none', 'encoder', 'encoder_and_conductor')
_OBJECT_GRAPH = '_CHECKPOINTABLE_OBJECT_GRAPH'  # only our (object-based) checkpoints have it


def frozen_variables(model, freeze):
  """The variables `freeze` ('none', 'encoder', 'encoder_and_conductor') keeps fixed."""
  if freeze not in FREEZE_CHOICES:
    raise ValueError(f'config.train.freeze must be one of {", ".join(FREEZE_CHOICES)}, '
                     f'got {freeze!r}.')
  if freeze == 'none':
    return []
  frozen = list(model.encoder.trainable_variables) + list(model.mu.trainable_variables) + list(
      model.sigma.trainable_variables)
  if freeze == 'encoder_and_conductor':
    conductor = getattr(model.decoder, 'conductor', None)
    if conductor is None:
      raise ValueError("config.train.freeze='encoder_and_conductor' needs a hierarchical model; "
                       "this one has a flat decoder (use 'encoder').")
    frozen += list(conductor.trainable_variables)
  return frozen


def trainable_variables(model, train_config):
  """The model's trainable variables minus those `train_config.freeze` keeps fixed."""
  frozen = {id(v) for v in frozen_variables(model, train_config.get('freeze', 'none'))}
  return [v for v in model.trainable_variables if id(v) not in frozen]


def _source_values(source, scratch_dir):
  """(description, {original name: value or callable giving it}, ignored {name: shape})."""
  source = os.fspath(source)
  try:
    prefix, run_dir = checkpoints.resolve(source)
  except checkpoints.RunDirError:
    prefix = None
  if prefix and _OBJECT_GRAPH in dict(magenta_checkpoint.read_shapes(prefix)):
    # One of ours: restore it into the model its own config builds, then match by original name.
    config = checkpoints.load_config(run_dir)
    donor = magenta_checkpoint.build_model(config)
    checkpoints.restore(tf.train.Checkpoint(model=donor), prefix)
    return f'{prefix} (config {config.name or "unnamed"})', donor.original_variable_names(), {}
  prefix = magenta_checkpoint.find_checkpoint(source, scratch_dir)
  reader = magenta_checkpoint._reader(prefix)  # pylint: disable=protected-access
  try:
    model_shapes, ignored, _ = magenta_checkpoint.supported_variables(
        {name: list(shape) for name, shape in reader.get_variable_to_shape_map().items()})
  except magenta_checkpoint.MagentaCheckpointError as e:
    raise type(e)(f'{prefix}: {e}') from e

  def read(stored):
    try:
      return reader.get_tensor(stored)
    except (tf.errors.OpError, ValueError, IndexError) as e:  # a truncated .data file
      raise magenta_checkpoint._read_error(prefix, e) from e  # pylint: disable=protected-access

  values = {name: (lambda stored=stored: read(stored)) for name, (stored, _) in model_shapes.items()}
  return f'{prefix} (original Magenta checkpoint)', values, ignored


def restore_initial_weights(model, source, scratch_dir=None, rename=()):
  """Copies the weights of `source` into `model` by original variable name (after `rename`,
  'PATTERN=REPLACEMENT' rules applied to the source's names; see the module docstring).

  Returns a report: {'source', 'restored': [(name, shape)], 'initialised': [(name, shape)]
  (ours, absent from the source), 'skipped': [(name, source shape, model shape or None)]
  (different shape, or not in this model), 'ignored': {name: shape} (optimizer state, step)}.
  Raises ValueError when no weight matrix fits (a different model: wrong --config?); the
  variables may then be partly overwritten (the run has not started)."""
  report = {'restored': [], 'initialised': [], 'skipped': []}
  rules = renames.parse(rename)
  with tempfile.TemporaryDirectory(dir=scratch_dir) as scratch:
    report['source'], values, report['ignored'] = _source_values(source, scratch)
    renamed = {}
    for name, value in values.items():
      new_name = renames.apply(name, rules)
      if new_name in renamed:
        raise ValueError(f'--init_rename maps two variables of {source} onto {new_name}.')
      renamed[new_name] = value
    values = renamed
    ours = model.original_variable_names()
    for name in sorted(set(ours) | set(values)):
      variable = ours.get(name)
      if name not in values:
        report['initialised'].append((name, variable.shape.as_list()))
        continue
      value = values[name]
      value = value() if callable(value) else value
      shape = list(value.shape)
      if variable is None or variable.shape.as_list() != shape:
        report['skipped'].append((name, shape, variable.shape.as_list() if variable is not None
                                  else None))
        if variable is not None:
          report['initialised'].append((name, variable.shape.as_list()))
        continue
      variable.assign(value)
      report['restored'].append((name, shape))
  if not any(len(shape) > 1 for _, shape in report['restored']):  # a bias alone fits by chance
    raise ValueError(f'--init_from {source}: no variable fits this model (no weight matrix; '
                     f'{len(report["skipped"])} differ in shape or name); is --config the '
                     'config of that checkpoint?')
  return report


def format_report(report):
  """Every variable, one line each, under restored / newly initialised / skipped."""
  lines = [f'Initial weights from {report["source"]}:',
           f'  restored ({len(report["restored"])}):']
  lines += [f'    {name} {shape}' for name, shape in report['restored']]
  lines.append(f'  newly initialised ({len(report["initialised"])}):')
  lines += [f'    {name} {shape}' for name, shape in report['initialised']]
  lines.append(f'  skipped ({len(report["skipped"])}):')
  lines += [f'    {name}: source {shape}, model {"absent" if ours is None else ours}'
            for name, shape, ours in report['skipped']]
  if report['ignored']:
    lines.append(f'  not model weights, ignored ({len(report["ignored"])}): ' +
                 ', '.join(sorted(report['ignored'])[:4]) +
                 (' ...' if len(report['ignored']) > 4 else ''))
  return '\n'.join(lines)


def initialise_run(model, init_from, last_checkpoint, rename=()):
  """`mvl_train --init_from [--init_rename]`: restores the initial weights unless the run
  already has a checkpoint (then it resumes from that, and `init_from` no longer matters).
  Returns the report or None."""
  if not init_from:
    return None
  if last_checkpoint:
    logging.info('--init_from=%s ignored: the run resumes from its own checkpoint %s.', init_from,
                 last_checkpoint)
    return None
  report = restore_initial_weights(model, init_from, rename=rename)
  (logging.warning if report['skipped'] else logging.info)('%s', format_report(report))
  return report


def _is_model_only(prefix):
  roots = {name.split('/')[0] for name in magenta_checkpoint.read_shapes(prefix)}
  return 'model' in roots and not roots & {'optimizer', 'step'}


def resume_model_only(state, prefix):
  """Resumes from a checkpoint that holds only model weights (e.g. written by `mvl_import`): the
  weights are restored, the step continues from the checkpoint's number (the original's
  global_step for an import) and Adam starts fresh. Returns `prefix` if it did, else None (a
  complete training checkpoint, or none: the caller's ordinary resume handles it)."""
  if not prefix or not _is_model_only(prefix):
    return None
  checkpoints.restore(tf.train.Checkpoint(model=state.model), prefix)
  state.optimizer.iterations.assign(checkpoints.checkpoint_step(prefix))
  logging.info('Resumed the model weights of %s, which holds no optimizer state (an imported '
               'checkpoint?): Adam starts fresh at step %d.', prefix, state.step)
  return prefix
