"""Two MultiWorkerMirroredStrategy workers on localhost CPUs train in lockstep through mvl_train."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import json  # pylint: disable=g-import-not-at-top,wrong-import-position
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import checkpoints

import helpers  # pylint: disable=g-bad-import-order  (tests/ is on sys.path under pytest)

REPO = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 300
NUM_STEPS = 3


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow  # 20 s: two worker processes; the replica arithmetic stays in the default suite
def test_two_workers_finish_with_identical_variables(tmp_path):
  examples = helpers.write_melody_midis(str(tmp_path / 'midi'), num_files=6)
  run_dir = tmp_path / 'run'
  cluster = {'worker': [f'localhost:{port}' for port in free_ports(2)]}
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CONFIG=json.dumps(
        {'cluster': cluster, 'task': {'type': 'worker', 'index': index}}))
    command = [sys.executable, '-m', 'music_vae_lite.cli.train', '--config=tiny-mel_2bar',
               f'--run_dir={run_dir}', f'--examples={examples}', f'--num_steps={NUM_STEPS}',
               '--strategy=multi_worker', '--config.train.log_every=1',
               '--config.data.eval_fraction=0.0', '--config.train.image_every=1000']
    processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True, cwd=REPO))
  logs = []
  try:
    for process in processes:
      logs.append(process.communicate(timeout=TIMEOUT)[1])
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  for process, log in zip(processes, logs):
    assert process.returncode == 0, log[-5000:]
  assert 'on 2 replica(s), global batch 8' in logs[0]

  # The chief saves to run_dir/train, worker 1 to run_dir/workers/1: the same state on both.
  chief = checkpoints.latest_checkpoint(str(run_dir))
  worker = tf.train.latest_checkpoint(str(run_dir / 'workers' / '1'))
  assert chief.endswith(f'ckpt-{NUM_STEPS}') and worker.endswith(f'ckpt-{NUM_STEPS}')
  chief_values, worker_values = (helpers.checkpoint_values(p) for p in (chief, worker))
  assert set(chief_values) == set(worker_values)
  assert sum(name.startswith('model/') for name in chief_values) > 10
  for name, value in chief_values.items():
    np.testing.assert_array_equal(worker_values[name], value, err_msg=name)
  assert int(chief_values['step/.ATTRIBUTES/VARIABLE_VALUE']) == NUM_STEPS
  # Both logged the same (all-reduced) losses.
  losses = [[line.split('loss ')[1].split(',')[0] for line in log.splitlines() if ': loss ' in line]
            for log in logs]
  assert len(losses[0]) == NUM_STEPS and losses[0] == losses[1]


_SPLIT_BATCH_SCRIPT = '''
import os, sys
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
import tensorflow as tf
# Two logical CPUs, so MirroredStrategy has two replicas (must happen before TF starts).
cpu = tf.config.list_physical_devices('CPU')[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
sys.path.insert(0, sys.argv[1])
import helpers
from music_vae_lite.families import contract
from music_vae_lite.training import distribute, losses, train
from music_vae_lite.pipeline import preprocess


def deterministic_loss(model, batch, step, model_config, seed, **kwargs):
  # z = posterior mean and teacher forcing: no per-replica randomness, so both runs compare.
  posterior = model.posterior(batch['inputs'], batch['lengths'])
  logits = model.decoder.reconstruct(posterior.mean(), batch['labels'], 0.0, seed=seed)
  r_loss = model.decoder.reconstruction_loss(logits, batch['labels'], batch['lengths'])[0]
  loss = tf.reduce_mean(r_loss) + 0.1 * tf.reduce_mean(losses.kl_cost(posterior, model_config)[0])
  return loss, {'loss': loss}


losses.compute_loss = deterministic_loss
config = helpers.tiny_config()
converter = contract.get_converter(config)
labels = preprocess.load_examples(helpers.write_melody_midis(sys.argv[2]), converter).labels
for strategy in (tf.distribute.OneDeviceStrategy('/cpu:0'),
                 tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])):
  state = train.TrainState(config, strategy, converter)
  step = train.make_train_step(state)
  metrics = step(iter(distribute.distribute_windows(strategy, labels, converter,
                                                    config.train.batch_size, seed=0)),
                 tf.constant([1, 2], tf.int32))
  print(strategy.num_replicas_in_sync, float(metrics['loss']), float(metrics['global_norm']))
'''


def test_global_batch_split_over_replicas_gives_the_single_device_loss_and_gradient(tmp_path):
  # Each replica's mean loss is divided by the number of replicas and the gradients are summed:
  # two replicas on half batches must give the loss and gradient norm of one device on the
  # whole batch (Adam's update hides a gradient scale error, the norm does not).
  script = tmp_path / 'split.py'
  script.write_text(_SPLIT_BATCH_SCRIPT)
  command = [sys.executable, str(script), str(REPO / 'tests'), str(tmp_path / 'midi')]
  result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=REPO)
  assert result.returncode == 0, result.stderr[-5000:]
  (one, loss_one, norm_one), (two, loss_two, norm_two) = [
      [float(x) for x in line.split()] for line in result.stdout.splitlines()[-2:]]
  assert (one, two) == (1, 2)
  np.testing.assert_allclose(loss_two, loss_one, rtol=1e-5)
  np.testing.assert_allclose(norm_two, norm_one, rtol=1e-4)


_THREADS_SCRIPT = '''
import os, sys
from music_vae_lite import config_lib
from music_vae_lite.training import distribute
import tensorflow as tf
config = config_lib.load_config(sys.argv[1])
if sys.argv[2] == 'late':
  tf.constant(1.0) + 1.0  # TensorFlow has started its thread pools
done = distribute.set_cpu_threads(config.train)
print(done, tf.config.threading.get_inter_op_parallelism_threads(),
      tf.config.threading.get_intra_op_parallelism_threads(), len(os.sched_getaffinity(0)))
'''


@pytest.mark.parametrize('config_name, when, expected', [
    ('cpu-mel_2bar', 'first', 'split'), ('cpu-mel_2bar', 'late', 'default'),
    ('tiny-mel_2bar', 'first', 'default')])
def test_parallel_directions_splits_the_cores_between_two_ops(config_name, when, expected):
  result = subprocess.run([sys.executable, '-c', _THREADS_SCRIPT, config_name, when],
                          check=True, capture_output=True, text=True)
  done, inter, intra, cores = result.stdout.split()
  if expected == 'split':
    assert (done, int(inter), int(intra)) == ('True', 2, max(1, int(cores) // 2))
  else:  # TensorFlow's own choice (0: TensorFlow decides)
    assert (done, int(inter), int(intra)) == ('False', 0, 0)
  assert ('TensorFlow had started already' in result.stderr) == (when == 'late'), result.stderr
