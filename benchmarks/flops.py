r"""Analytic FLOP counts of a MusicVAE training step, from the config's layer shapes.

    python benchmarks/flops.py [--batch=64] [CONFIG ...]     # one JSON line per config and path

Counting rules (also in benchmarks/README.md):
- A matmul [M, K] x [K, N] is 2*M*K*N FLOPs. Only matmuls are counted: gate nonlinearities, softmax,
  sampling, the loss and the optimizer are element-wise work of lower order and are left out.
- Training = 3 x forward (the forward pass, plus 2 x for the backward pass: gradients with respect
  to both the inputs and the weights of every matmul).
- An LSTM layer with input width `in` and `u` units multiplies [x ; h] by its [in + u, 4u] kernel at
  every step: 2 * (in + u) * 4u FLOPs per step and sequence. This is the *nominal* count (what the
  original's LSTMBlockCell multiplies, and what our fused BlockLSTM path multiplies).
- *Executed* counts follow what our implementation really multiplies on the path a step takes:
  - step-wise LSTM: the input part is one [steps * N, in] x [in, 4u] matmul before the loop, the
    recurrent part [N, u] x [u, 4u] at every step (same FLOPs as nominal);
  - decoders that are not on the fused teacher-forced path never multiply the one-hot previous
    token (they gather kernel rows) and multiply the code (z or a bar embedding) once per sequence,
    not once per step; their first layer costs 2 * u * 4u per step plus 2 * C * 4u per sequence;
  - with scheduled sampling the decoder runs step by step and projects every step's output
    ([N, u] x [u, V] per step); teacher forcing projects all steps in one matmul.
- Hierarchical decoder: the conductor runs U = bars steps on a 1-wide zero input; the core decoder
  runs B * U sequences of 16 steps (the bars are batched), its code is the conductor's top-layer h.
- Dense layers: mu and sigma [2 * enc_top, Z]; the code-to-initial-state layer [C, 2 * sum(units)]
  once per decoded sequence; the output projection [u_top, V] per step.

The efficiency numbers in the benchmarks use the executed count: the work the machine really did.
"""
import argparse
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchutil  # pylint: disable=g-import-not-at-top,wrong-import-position

STEPS_PER_BAR = 16
# The decoder paths (see models.py): which code runs the decoder in a training step.
FUSED_TEACHER_FORCED = 'fused_teacher_forced'
STEPWISE_TEACHER_FORCED = 'stepwise_teacher_forced'
AUTOREGRESSIVE = 'autoregressive'  # scheduled sampling: step by step, feeding back samples
# Training modes of benchmarks/train_speed.py: (jit_compile, mixed_precision, run eagerly,
# fused_lstm). 'graph' is the default: tf.function with the step-wise LSTM; 'fused' swaps in
# TensorFlow's BlockLSTM kernel (config.train.fused_lstm), which has no XLA or bfloat16 kernel.
MODES = {
    'eager': (False, False, True, False),
    'graph': (False, False, False, False),
    'fused': (False, False, False, True),
    'xla': (True, False, False, False),
    'bf16': (False, True, False, False),
    'xla-bf16': (True, True, False, False),
}


@dataclasses.dataclass(frozen=True)
class Matmul:
  """`times` matmuls of [batch * rows, k] x [k, n] in one forward pass over a batch."""
  name: str
  rows: int
  k: int
  n: int
  times: int = 1

  def flops_per_example(self):
    return 2 * self.rows * self.k * self.n * self.times

  def shape(self, batch_size):
    return (batch_size * self.rows, self.k, self.n)


def depths(config):
  """(input depth D, output depth V, steps T) of a config's data encoding."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  converter = contract.get_converter(config)
  return converter.input_depth, converter.output_depth, converter.window_steps


def mode_settings(mode):
  if mode not in MODES:
    raise ValueError(f'Unknown mode {mode!r}: expected one of {", ".join(MODES)}.')
  jit_compile, mixed_precision, eager, fused = MODES[mode]
  # The model runs BlockLSTM only in float32 (it has no bfloat16 kernel) and never under XLA.
  runs_fused = fused and not jit_compile and not mixed_precision
  return {'jit_compile': jit_compile, 'mixed_precision': mixed_precision, 'eager': eager,
          'fused': runs_fused}


def sampling_is_active(config, step=0):
  """Whether training at `step` takes the scheduled-sampling (step-by-step) decoder path, decided as
  models.py decides it: a Python 0 builds teacher forcing, a tensor chooses at run time by p > 0."""
  from music_vae_lite.training import schedules  # pylint: disable=g-import-not-at-top
  probability = schedules.sampling_probability(step, config.model)
  return float(probability) > 0


def decoder_path(config, fused, step=0):
  if sampling_is_active(config, step):
    return AUTOREGRESSIVE
  return FUSED_TEACHER_FORCED if fused else STEPWISE_TEACHER_FORCED


def _lstm(name, input_size, units, rows, steps, fused):
  if fused:
    return [Matmul(name, rows, input_size + units, 4 * units, steps)]
  return [Matmul(f'{name}/input', rows * steps, input_size, 4 * units),
          Matmul(f'{name}/recurrent', rows, units, 4 * units, steps)]


def _core_decoder(prefix, sizes, output_depth, code_size, rows, steps, path):
  """The categorical LSTM decoder over `rows` sequences (per example) of `steps` steps."""
  terms = [Matmul(f'{prefix}/initial_state', rows, code_size, 2 * sum(sizes))]
  for k, units in enumerate(sizes):
    name = f'{prefix}/cell_{k}'
    if k == 0:
      if path == FUSED_TEACHER_FORCED:
        terms += _lstm(name, output_depth + code_size, units, rows, steps, fused=True)
      else:  # gathered token rows + code gates once per sequence
        terms += [Matmul(f'{name}/code', rows, code_size, 4 * units),
                  Matmul(f'{name}/recurrent', rows, units, 4 * units, steps)]
    elif path == AUTOREGRESSIVE:
      terms += [Matmul(f'{name}/input', rows, sizes[k - 1], 4 * units, steps),
                Matmul(f'{name}/recurrent', rows, units, 4 * units, steps)]
    else:
      terms += _lstm(name, sizes[k - 1], units, rows, steps, path == FUSED_TEACHER_FORCED)
  if path == AUTOREGRESSIVE:
    terms.append(Matmul(f'{prefix}/output_projection', rows, sizes[-1], output_depth, steps))
  else:
    terms.append(Matmul(f'{prefix}/output_projection', rows * steps, sizes[-1], output_depth))
  return terms


def forward_matmuls(config, fused=True, path=FUSED_TEACHER_FORCED):
  """Every matmul of one forward pass (per example), for the encoder path `fused` and the decoder
  `path`. fused=True with FUSED_TEACHER_FORCED is the nominal count."""
  input_depth, output_depth, steps = depths(config)
  model = config.model
  enc_sizes, dec_sizes = list(model.enc_rnn_size), list(model.dec_rnn_size)
  terms = []
  for k, units in enumerate(enc_sizes):
    layer_input = input_depth if k == 0 else 2 * enc_sizes[k - 1]
    for direction in ('fw', 'bw'):
      terms += _lstm(f'encoder/cell_{k}_{direction}', layer_input, units, 1, steps, fused)
  terms += [Matmul('encoder/mu', 1, 2 * enc_sizes[-1], model.z_size),
            Matmul('encoder/sigma', 1, 2 * enc_sizes[-1], model.z_size)]
  if model.decoder == 'flat':
    terms += _core_decoder('decoder', dec_sizes, output_depth, model.z_size, 1, steps, path)
  elif model.decoder == 'hierarchical':
    bars = steps // STEPS_PER_BAR
    terms.append(Matmul('conductor/initial_state', 1, model.z_size, 2 * sum(dec_sizes)))
    for k, units in enumerate(dec_sizes):
      terms += _lstm(f'conductor/cell_{k}', 1 if k == 0 else dec_sizes[k - 1], units, 1, bars,
                     fused)
    terms += _core_decoder('core_decoder', dec_sizes, output_depth, dec_sizes[-1], bars,
                           STEPS_PER_BAR, path)
  else:
    raise ValueError(f'Unknown decoder {model.decoder!r} in config {config.name!r}.')
  return terms


def num_parameters(config):
  """Trainable parameters of the model `config` describes, counted on the model itself (built in
  a throwaway graph, so even the 200 M-parameter configs allocate no weights)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from music_vae_lite.nn import model_registry  # pylint: disable=g-import-not-at-top
  with tf.Graph().as_default():
    return model_registry.build_model(config).num_parameters()


def training_counts(config, mode, step=0):
  """FLOPs per example of one training step in `mode`, and the matmuls behind them.

  Returns {'path': decoder path, 'fused': bool, 'matmuls': executed forward matmuls,
  'train_flops': executed training FLOPs per example, 'nominal_train_flops': the nominal ones}.
  """
  fused = mode_settings(mode)['fused']
  path = decoder_path(config, fused, step)
  # Scheduled sampling runs in two passes (models.py): a step-by-step decoder pass without
  # gradients picks the fed tokens, then a teacher-forced pass over them is trained as usual.
  teacher_forced = FUSED_TEACHER_FORCED if fused else STEPWISE_TEACHER_FORCED
  executed = forward_matmuls(config, fused, teacher_forced)
  train_flops = 3 * sum(m.flops_per_example() for m in executed)
  if path == AUTOREGRESSIVE:
    loop = [m for m in forward_matmuls(config, fused, AUTOREGRESSIVE)
            if m.name.startswith(('decoder/', 'core_decoder/'))]
    train_flops += sum(m.flops_per_example() for m in loop)
  nominal = forward_matmuls(config, True, FUSED_TEACHER_FORCED)
  return {
      'path': path,
      'fused': fused,
      'matmuls': executed,  # the yardstick's shapes: the trained (teacher-forced) pass
      'train_flops': train_flops,
      'nominal_train_flops': 3 * sum(m.flops_per_example() for m in nominal),
  }


def main():
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('configs', nargs='*', help='config names (default: every shipped config)')
  parser.add_argument('--modes', default='graph,fused',
                      help='comma-separated modes (xla and bf16 count as graph)')
  args = parser.parse_args()
  names = args.configs or [n for n in config_lib.available_configs() if not n.startswith('tiny-')]
  for name in names:
    config = config_lib.load_config(name)
    for mode in args.modes.split(','):
      counts = training_counts(config, mode)
      benchutil.emit('flops', config=name, mode=mode, decoder_path=counts['path'],
                     fused_encoder=counts['fused'], parameters=num_parameters(config),
                     train_gflop_per_example=round(counts['train_flops'] / 1e9, 4),
                     nominal_train_gflop_per_example=round(counts['nominal_train_flops'] / 1e9, 4))


if __name__ == '__main__':
  main()
