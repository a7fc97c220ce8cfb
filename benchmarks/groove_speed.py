r"""Training speed of a GrooVAE config: the training program's own step (`train.make_train_step`
on a `train.TrainState`: Adam, clipping, dropout, the strategy) on one fixed batch of random
drum performances (hits at 15% of the cells, velocities and offsets in range), after 3 untimed
steps. (train_speed.py counts FLOPs of the label families only.)

    python benchmarks/groove_speed.py cpu-groove_2bar 32 30    # config, batch, timed steps

Prints one line: milliseconds per step, windows per second, parameters.
"""
import sys
import time

import numpy as np
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import contract
from music_vae_lite.training import distribute, train

name, batch_size, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = config_lib.load_config(name)
config.train.batch_size = batch_size
converter = contract.get_converter(config)
rng = np.random.default_rng(0)
shape = (batch_size, converter.window_steps, 9)
hits = (rng.random(shape) < 0.15).astype(np.float32)
arrays = {'hits': hits, 'velocities': (hits * rng.random(shape)).astype(np.float32),
          'offsets': (hits * rng.uniform(-1, 1, shape)).astype(np.float32)}
batch = dict(arrays, inputs=converter.encoder_inputs(arrays),
             lengths=converter.lengths(arrays))
if converter.decoder_controls(arrays) is not None:  # hits_as_controls
  batch['controls'] = converter.decoder_controls(arrays)
strategy = distribute.make_strategy('default')
state = train.TrainState(config, strategy, converter)
step = train.make_train_step(state)
iterator = iter(strategy.experimental_distribute_dataset(
    tf.data.Dataset.from_tensors(batch).repeat()))
for _ in range(3):
  float(step(iterator, state.next_seed())['loss'])
start = time.perf_counter()
for _ in range(steps):
  float(step(iterator, state.next_seed())['loss'])
seconds = (time.perf_counter() - start) / steps
print(f'{name} batch {batch_size}: {seconds * 1000:.0f} ms/step, {batch_size / seconds:.0f} '
      f'windows/s, {state.model.num_parameters():,} parameters')
