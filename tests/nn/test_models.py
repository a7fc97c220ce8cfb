"""The networks: the original's architecture and layout, the fused kernel, lengths, z, bar structure."""
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from music_vae_lite import config_lib
from music_vae_lite.families import drums
from music_vae_lite.families import label_windows
from music_vae_lite.families import melody
from music_vae_lite.nn import lstm, model_registry, models


def _build(name, **model_overrides):
  config = config_lib.load_config(name)
  config.model.update(model_overrides)
  return model_registry.build_model(config), config


# The full-size models (over 100 M parameters, about 0.6 GB each) are built only in the slow run;
# the default run checks the hierarchical layout on the small fixture of the original's checkpoint.
@pytest.mark.parametrize('name, expected', [
    ('cat-mel_2bar_small', 4_423_770),
    ('cat-drums_2bar_small', 4_636_672),
    ('groovae_2bar_humanize', 4_085_019),
    pytest.param('cat-mel_2bar_big', 134.6e6, marks=pytest.mark.slow),
    pytest.param('hierdec-mel_16bar', 176.1e6, marks=pytest.mark.slow),
    pytest.param('flat-mel_16bar', 235_250_778, marks=pytest.mark.slow),
])
def test_parameter_counts_equal_the_originals(name, expected):
  model, _ = _build(name)
  if isinstance(expected, int):
    assert model.num_parameters() == expected
  else:
    assert model.num_parameters() == pytest.approx(expected, abs=0.05e6)


@pytest.mark.slow
def test_variables_map_to_the_original_checkpoint_layout():
  model, _ = _build('hierdec-mel_16bar')
  shapes = {name: v.shape.as_list() for name, v in model.original_variable_names().items()}
  # Shapes quoted from the released checkpoint's variable map (magenta issue #1854).
  assert shapes['core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel'] == [2138, 4096]
  assert shapes['core_decoder/decoder/multi_rnn_cell/cell_1/lstm_cell/kernel'] == [2048, 4096]
  assert shapes['core_decoder/decoder/output_projection/kernel'] == [1024, 90]
  assert shapes['core_decoder/decoder/z_to_initial_state/kernel'] == [1024, 4096]
  assert shapes['decoder/hierarchical_level_0/cell_0/lstm_cell/kernel'] == [1025, 4096]
  assert shapes['decoder/hierarchical_level_0/initial_state/kernel'] == [512, 4096]
  assert shapes['encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel'] == [2138, 8192]
  assert len(shapes) == len(model.trainable_variables)  # every variable has an original name


def _numpy_lstm(x, kernel, bias, units):
  """The original LSTMBlockCell maths, written out: gates (i, c~, f, o), forget bias 1."""
  sigmoid = lambda v: 1 / (1 + np.exp(-v))
  c = h = np.zeros([x.shape[1], units])
  outputs = []
  for x_t in x:
    i, j, f, o = np.split(np.concatenate([x_t, h], -1) @ kernel + bias, 4, axis=-1)
    c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    h = np.tanh(c) * sigmoid(o)
    outputs.append(h)
  return np.stack(outputs)


@pytest.mark.parametrize('fused', [True, False])
def test_lstm_layer_matches_the_original_cell_maths(fused):
  layer = lstm.LstmLayer(3, 4, seed=tf.constant([1, 2], tf.int64))
  layer.bias.assign(tf.random.stateless_normal([16], [3, 4]))
  x = tf.random.stateless_normal([5, 2, 3], [5, 6])
  outputs, (c, h) = layer.sequence(x, layer.zero_state(2), fused=fused)
  expected = _numpy_lstm(x.numpy(), layer.kernel.numpy(), layer.bias.numpy(), 4)
  np.testing.assert_allclose(outputs.numpy(), expected, atol=1e-5)
  np.testing.assert_allclose(h.numpy(), expected[-1], atol=1e-5)


def _melody_batch(batch_size, num_steps, seed):
  labels = tf.random.stateless_uniform([batch_size, num_steps, 1], [seed, 0], 0, 90, tf.int32)
  return tf.one_hot(labels[..., 0], 90), labels


def test_encoder_ignores_padding_and_fused_equals_stepwise():
  model, _ = _build('tiny-mel_2bar')
  inputs, _ = _melody_batch(3, 32, 1)
  lengths = tf.constant([32, 20, 7])
  garbage = tf.random.stateless_normal(inputs.shape, [9, 9])
  mask = tf.sequence_mask(lengths, 32, dtype=tf.float32)[..., tf.newaxis]
  noisy = inputs * mask + garbage * (1 - mask)
  mean = model.posterior(inputs, lengths).mean()
  np.testing.assert_allclose(model.posterior(noisy, lengths).mean(), mean, atol=1e-6)
  np.testing.assert_allclose(model.posterior(inputs, lengths, fused=False).mean(), mean, atol=1e-5)
  # Each sequence alone, unpadded, gives the same posterior.
  for k, length in enumerate(lengths.numpy()):
    alone = model.posterior(inputs[k:k + 1, :length], lengths[k:k + 1]).mean()
    np.testing.assert_allclose(alone[0], mean[k], atol=1e-5)


@pytest.mark.parametrize('name', ['tiny-mel_2bar', 'tiny-hierdec-mel_16bar'])
def test_decoder_paths_agree_and_depend_on_z(name):
  model, config = _build(name)
  _, labels = _melody_batch(2, model.num_steps, 2)
  z = tf.random.stateless_normal([2, config.model.z_size], [1, 1])
  seed = tf.constant([4, 4], tf.int64)
  fused = model.decoder.reconstruct(z, labels, 0.0, seed=seed)
  stepwise = model.decoder.reconstruct(z, labels, 0.0, seed=seed, fused=False)
  # The scheduled-sampling loop with p = 0 must be plain teacher forcing too.
  loop = model.decoder.reconstruct(z, labels, tf.constant(0.0), seed=seed)
  np.testing.assert_allclose(stepwise, fused, atol=1e-5)
  np.testing.assert_allclose(loop, fused, atol=1e-5)
  other_z = model.decoder.reconstruct(z + 1.0, labels, 0.0, seed=seed)
  assert np.abs(other_z - fused).max() > 1e-5  # far above float noise; z enters via 0.001-scale weights


def test_scheduled_sampling_feeds_back_samples_per_example():
  model, config = _build('tiny-mel_2bar')
  _, labels = _melody_batch(16, 32, 3)
  z = tf.zeros([16, config.model.z_size])
  seed = tf.constant([7, 7], tf.int64)
  teacher = model.decoder.reconstruct(z, labels, 0.0, seed=seed).numpy()
  half = model.decoder.reconstruct(z, labels, tf.constant(0.5), seed=seed).numpy()
  again = model.decoder.reconstruct(z, labels, tf.constant(0.5), seed=seed).numpy()
  np.testing.assert_array_equal(half, again)  # deterministic given the seed
  differs = np.abs(half - teacher).max(axis=-1) > 1e-6  # [B, T]: where a sample was fed back
  np.testing.assert_array_equal(differs[:, 0], False)  # step 0 has no previous token
  assert differs.any(axis=1).sum() >= 12  # most examples got some of their own samples
  assert (~differs[:, 1:]).any()  # but not at every step


def test_sampling_temperature_and_seed():
  model, config = _build('tiny-mel_2bar')
  z = tf.random.stateless_normal([4, config.model.z_size], [2, 2])
  greedy = model.decoder.sample(z, 0.0, seed=tf.constant([1, 1], tf.int64))
  np.testing.assert_array_equal(greedy, model.decoder.sample(z, 0.0, seed=tf.constant([2, 2], tf.int64)))
  hot = model.decoder.sample(z, 5.0, seed=tf.constant([1, 1], tf.int64))
  np.testing.assert_array_equal(hot, model.decoder.sample(z, 5.0, seed=tf.constant([1, 1], tf.int64)))
  assert not np.array_equal(hot, model.decoder.sample(z, 5.0, seed=tf.constant([3, 1], tf.int64)))
  # Greedy sampling is the argmax of the teacher-forced logits on its own output.
  logits = model.decoder.reconstruct(z, greedy, 0.0, seed=tf.constant([0, 0], tf.int64))
  np.testing.assert_array_equal(tf.argmax(logits, -1, output_type=tf.int32), greedy[..., 0])
  assert greedy.shape == (4, 32, 1) and greedy.dtype == tf.int32


def test_hierarchical_decoder_is_causal_per_bar_and_resets_each_bar():
  model, config = _build('tiny-hierdec-mel_16bar')
  decoder = model.decoder
  _, labels = _melody_batch(2, 256, 5)
  embeddings = decoder.bar_embeddings(tf.random.stateless_normal([2, config.model.z_size], [3, 3]))
  logits = decoder.logits_from_embeddings(embeddings, labels).numpy()
  k = 5
  bump = tf.fill([2, embeddings.shape[-1]], 5.0)
  changed = tf.tensor_scatter_nd_add(embeddings, [[0, k], [1, k]], bump)
  logits_changed = decoder.logits_from_embeddings(changed, labels).numpy()
  bars = lambda x: x.reshape(2, 16, 16, -1)
  diff = np.abs(bars(logits_changed) - bars(logits)).max(axis=(0, 2, 3))
  assert diff[k] > 1e-4
  np.testing.assert_array_equal(diff[:k], 0.0)  # earlier bars unchanged
  np.testing.assert_array_equal(diff[k + 1:], 0.0)  # later bars too: state resets every bar
  # A bar decoded on its own, from its embedding and the previous bar's last token, is identical.
  bar = slice(16 * k, 16 * (k + 1))
  previous = tf.concat([labels[:, 16 * k - 1:16 * k], labels[:, bar][:, :-1]], axis=1)
  alone = decoder.core.teacher_forced_logits(embeddings[:, k], previous).numpy()
  np.testing.assert_allclose(alone, logits[:, bar], atol=1e-5)
  # In free-running sampling, changing bar k's embedding cannot change earlier bars.
  seed = tf.constant([8, 8], tf.int64)
  kw = dict(labels=None, controls=None, sampling_probability=0.0, temperature=1.0, seed=seed,
            compute_dtype=tf.float32)
  sampled_logits, tokens = decoder._bar_by_bar(embeddings, **kw)  # pylint: disable=protected-access
  sampled_changed, tokens_changed = decoder._bar_by_bar(changed, **kw)  # pylint: disable=protected-access
  np.testing.assert_array_equal(tokens[:, :16 * k], tokens_changed[:, :16 * k])
  np.testing.assert_array_equal(sampled_logits[:, :16 * k], sampled_changed[:, :16 * k])
  assert np.abs(sampled_logits[:, bar] - sampled_changed[:, bar]).max() > 1e-4


def test_two_bar_segments_and_a_narrower_conductor():
  """segment_bars=2 gives 8 segments of 32 steps to both hierarchical levels; conductor_rnn_size
  sets the conductor (and so the segment embedding the bar decoder reads) apart from the bar
  decoder's sizes."""
  model, config = _build('tiny-hierdec-mel_16bar', encoder='hierarchical', segment_bars=2,
                         conductor_rnn_size=(24,))
  decoder = model.decoder
  assert (decoder.num_bars, decoder.steps_per_bar) == (8, 32)
  assert model.encoder.segment_steps == 32
  assert [layer.units for layer in decoder.conductor.layers] == [24]
  assert decoder.core.code_size == 24
  inputs, labels = _melody_batch(2, 256, 6)
  posterior = model.posterior(inputs, tf.fill([2], 256))
  embeddings = decoder.bar_embeddings(posterior.mean())
  assert embeddings.shape == (2, 8, 24)
  logits = decoder.logits_from_embeddings(embeddings, labels).numpy()
  # Segment 3 (steps 96-127) depends on its own embedding only: a change there leaves the others.
  changed = tf.tensor_scatter_nd_add(embeddings, [[0, 3], [1, 3]], tf.fill([2, 24], 5.0))
  diff = np.abs(decoder.logits_from_embeddings(changed, labels).numpy() - logits)
  diff = diff.reshape(2, 8, 32, -1).max(axis=(0, 2, 3))
  assert diff[3] > 1e-4
  np.testing.assert_array_equal(np.delete(diff, 3), 0.0)
  # Teacher-forced logits equal the step-by-step loop fed the targets.
  looped, _ = decoder._bar_by_bar(  # pylint: disable=protected-access
      embeddings, labels=labels, controls=None, sampling_probability=0.0, temperature=1.0,
      seed=tf.constant([1, 1], tf.int64), compute_dtype=tf.float32)
  np.testing.assert_allclose(looped, logits, atol=1e-5)


def test_a_conductor_projection_frees_the_embeddings_from_the_lstm_range():
  """decoder.conductor_projection: a linear layer of that width on the conductor's output (not in
  the original), so embeddings can leave (-1, 1) and the conductor can be wider than the bar
  decoder's code; every other initial value is what it is without it, and Magenta.js export
  refuses it in one line."""
  from music_vae_lite.serving import export  # pylint: disable=g-import-not-at-top
  config = config_lib.load_config('tiny-hier-mel_16bar')
  plain = model_registry.build_model(config)
  width = config.model.dec_rnn_size[-1]
  config.decoder.conductor_projection = width
  model = model_registry.build_model(config)
  before = {v.name: v.numpy() for v in plain.trainable_variables}
  after = {v.name: v.numpy() for v in model.trainable_variables}
  assert sorted(set(after) - set(before)) == [
      'music_vae/hierarchical_decoder/conductor_projection/bias:0',
      'music_vae/hierarchical_decoder/conductor_projection/kernel:0']
  for name, value in before.items():
    np.testing.assert_array_equal(after[name], value, err_msg=name)
  decoder = model.decoder
  z = tf.random.stateless_normal([2, config.model.z_size], [4, 4])
  decoder.conductor_projection.kernel.assign(3.0 * tf.eye(width))
  decoder.conductor_projection.bias.assign(tf.fill([width], 1.5))
  unprojected = plain.decoder.bar_embeddings(z)
  np.testing.assert_allclose(decoder.bar_embeddings(z), 3.0 * unprojected + 1.5, rtol=1e-5)
  assert np.abs(decoder.bar_embeddings(z).numpy()).max() > 1.0
  assert 'decoder.conductor_projection' in export.magenta_js_unsupported_reason(config)
  # A conductor wider than the code: the bar decoder reads the projection's width.
  config.model.conductor_rnn_size = (2 * width,)
  wide = model_registry.build_model(config)
  assert wide.decoder.bar_embeddings(z).shape == (2, wide.decoder.num_bars, width)
  config.decoder.conductor_projection = True
  with pytest.raises(ValueError, match='decoder.conductor_projection must be a width'):
    model_registry.build_model(config)


def test_segments_must_divide_the_window():
  config = config_lib.load_config('tiny-hierdec-mel_16bar')
  config.model.segment_bars = 3
  with pytest.raises(config_lib.ConfigError, match='segment_bars=3 .*divisor of data.slice_bars=16'):
    config_lib.validate(config)


def test_unknown_decoder_is_a_clear_error():
  with pytest.raises(ValueError,
                     match="must be one of flat, groove, hierarchical, nade, not 'conductor'"):
    _build('tiny-mel_2bar', decoder='conductor')


def test_decoder_options_are_checked_by_the_decoder():
  config = config_lib.load_config('tiny-mel_2bar')
  config.decoder.split_parts = True  # an option of the hierarchical decoder only
  with pytest.raises(config_lib.ConfigError, match=r'decoder.split_parts: the flat decoder has no '
                     r'such option \(its options: none\)'):
    model_registry.build_model(config)
  config.model.decoder = 'hierarchical'
  config.decoder = ml_collections.ConfigDict({'split_parts': 'yes'})
  with pytest.raises(ValueError, match="decoder.split_parts must be True or False, got 'yes'"):
    model_registry.build_model(config)


def test_stepwise_lstm_gradient_equals_the_fused_kernels():
  """The hand-written backward pass of the step-wise LSTM against TensorFlow's fused BlockLSTM."""
  layer = lstm.LstmLayer(3, 4, seed=tf.constant([1, 2], tf.int64))
  layer.bias.assign(tf.random.stateless_normal([16], [3, 4]))
  x = tf.random.stateless_normal([6, 2, 3], [1, 0])
  c0, h0 = tf.random.stateless_normal([2, 4], [2, 0]), tf.random.stateless_normal([2, 4], [3, 0])
  weights = tf.random.stateless_normal([6, 2, 4], [4, 0])

  def gradients(fused):
    with tf.GradientTape() as tape:
      tape.watch([x, c0, h0])
      outputs, (c, h) = layer.sequence(x, (c0, h0), fused=fused)
      # Every output and both final states feed the loss, so every incoming gradient is exercised.
      loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(0.3 * c) + tf.reduce_sum(0.7 * h)
    return tape.gradient(loss, [x, c0, h0, layer.kernel, layer.bias])

  for fused_grad, stepwise_grad in zip(gradients(True), gradients(False)):
    np.testing.assert_allclose(stepwise_grad, fused_grad, atol=1e-5)


def test_bfloat16_matmuls_stay_close_to_float32():
  model, config = _build('tiny-mel_2bar')
  _, labels = _melody_batch(4, 32, 6)
  z = tf.random.stateless_normal([4, config.model.z_size], [5, 5])
  seed = tf.constant([0, 0], tf.int64)
  full = tf.nn.softmax(model.decoder.reconstruct(z, labels, 0.0, seed=seed))
  half = tf.nn.softmax(model.decoder.reconstruct(z, labels, 0.0, seed=seed, compute_dtype=tf.bfloat16))
  assert half.dtype == tf.float32
  np.testing.assert_allclose(half, full, atol=0.01)


def test_bfloat16_follows_the_config_and_the_cpus_native_support(tmp_path, monkeypatch):
  def cpuinfo(flags):
    path = tmp_path / f'cpuinfo_{len(flags)}'
    path.write_text(f'processor\t: 0\nflags\t\t: fpu sse2 avx2 {flags}\nbogomips\t: 4890\n')
    return str(path)

  assert model_registry.native_bf16_cpu(cpuinfo('avx512f avx512_bf16')) == 'avx512_bf16'
  assert model_registry.native_bf16_cpu(cpuinfo('amx_tile amx_bf16')) == 'amx_bf16'
  assert model_registry.native_bf16_cpu(cpuinfo('avx512f')) is None  # Zen 3, Skylake: emulated
  assert model_registry.native_bf16_cpu(str(tmp_path / 'absent')) is None

  config = config_lib.load_config('tiny-mel_2bar')
  assert model_registry.compute_dtype(config.train) == tf.float32
  config.train.mixed_precision = True
  assert model_registry.compute_dtype(config.train) == tf.bfloat16
  config.train.mixed_precision, config.train.bf16_on_native_cpu = False, True
  for native, expected in ((None, tf.float32), ('amx_bf16', tf.bfloat16)):
    monkeypatch.setattr(model_registry, 'native_bf16_cpu', lambda native=native: native)
    assert model_registry.compute_dtype(config.train) == expected


@pytest.mark.parametrize('name', ['tiny-mel_2bar', 'tiny-hierdec-mel_16bar'])
def test_two_pass_scheduled_sampling_equals_the_step_by_step_logits(name):
  model, config = _build(name)
  decoder = model.decoder
  _, labels = _melody_batch(4, model.num_steps, 8)
  z = tf.random.stateless_normal([4, config.model.z_size], [6, 6])
  seed, p = tf.constant([3, 9], tf.int64), tf.constant(0.5)
  two_pass = decoder.reconstruct(z, labels, p, seed=seed)
  if name == 'tiny-mel_2bar':
    start = decoder.core.start_tokens(4)
    one_pass = decoder.core.autoregressive(z[:, tf.newaxis], model.num_steps, start, labels=labels,
                                           sampling_probability=p, seed=seed)[0]
  else:
    one_pass = decoder._bar_by_bar(decoder.bar_embeddings(z), labels=labels, controls=None,  # pylint: disable=protected-access
                                   sampling_probability=p, temperature=1.0, seed=seed,
                                   compute_dtype=tf.float32)[0]
  np.testing.assert_allclose(two_pass, one_pass, atol=1e-5)


def test_scheduled_sampling_loss_and_gradients_compile_with_xla():
  from music_vae_lite.training import losses  # pylint: disable=g-import-not-at-top
  model, config = _build('tiny-mel_2bar', sampling_schedule='inverse_sigmoid', sampling_rate=10.0)
  inputs, labels = _melody_batch(4, 32, 9)
  batch = {'inputs': inputs, 'labels': labels, 'lengths': tf.fill([4], 32)}

  @tf.function(jit_compile=True)
  def loss_and_gradients(step, seed):
    with tf.GradientTape() as tape:
      loss, _ = losses.compute_loss(model, batch, step, config.model, seed)
    return loss, tape.gradient(loss, model.trainable_variables)

  loss, gradients = loss_and_gradients(tf.constant(50), tf.constant([1, 2], tf.int32))
  eager_loss, _ = losses.compute_loss(model, batch, tf.constant(50), config.model,
                                      tf.constant([1, 2], tf.int32))
  assert np.isfinite(float(loss)) and all(g is not None for g in gradients)
  assert sum(float(tf.reduce_sum(tf.abs(g))) for g in gradients) > 0
  # XLA draws its own random numbers (z noise, coin flips), so the losses agree only closely.
  assert float(loss) == pytest.approx(float(eager_loss), rel=0.02)


def test_sequence_matmuls_do_not_broadcast_the_kernel_per_step():
  """The input projection of a whole sequence is one 2-D product, also in its gradient: a
  broadcast 3-D matmul would build a [T, in, 4u] gradient (34 GB for hierdec-mel_16bar)."""
  layer = lstm.LstmLayer(5, 3, seed=tf.constant([1, 1], tf.int64))
  x = tf.random.stateless_normal([7, 2, 5], [1, 2])

  @tf.function
  def gradient(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(layer.project_inputs(x))
    return tape.gradient(loss, layer.kernel)

  graph = gradient.get_concrete_function(x).graph
  shapes = [out.shape.as_list() for op in graph.get_operations() for out in op.outputs
            if out.shape.rank == 3]
  assert [7, 5, 12] not in shapes and [7, 8, 12] not in shapes
  np.testing.assert_allclose(gradient(x)[:5], np.tile(tf.reduce_sum(x, [0, 1])[:, None], [1, 12]),
                             rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# The hierarchical encoder (hier-mel_16bar).


def _encoder_params(input_size, units):
  """Parameters of one bidirectional LSTM layer in the original's layout."""
  return 2 * ((input_size + units) * 4 * units + 4 * units)


@pytest.mark.slow
def test_hier_mel_16bar_has_the_originals_parameter_count():
  model, _ = _build('hier-mel_16bar')
  hierdec, _ = _build('hierdec-mel_16bar')
  decoder = sum(int(v.shape.num_elements()) for v in hierdec.decoder.trainable_variables)
  encoder = _encoder_params(90, 1024) + _encoder_params(2048, 1024) + 2 * (2048 * 512 + 512)
  assert model.num_parameters() == encoder + decoder == 72_547_418


def test_hierarchical_encoder_layout_and_names():
  model, config = _build('tiny-hier-mel_16bar')
  units = config.model.enc_rnn_size[0]
  assert model.num_parameters() == (
      _encoder_params(90, units) + _encoder_params(2 * units, units)
      + 2 * (2 * units * config.model.z_size + config.model.z_size)
      + sum(int(v.shape.num_elements()) for v in model.decoder.trainable_variables))
  shapes = {name: v.shape.as_list() for name, v in model.original_variable_names().items()}
  level = 'encoder/hierarchical_level_{}/cell_0/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell'
  assert shapes[level.format(0, 'fw') + '/kernel'] == [90 + units, 4 * units]
  assert shapes[level.format(1, 'bw') + '/kernel'] == [2 * units + units, 4 * units]
  assert len(shapes) == len(model.trainable_variables)


def test_hierarchical_encoder_encodes_bars_then_the_sequence_of_bars():
  model, _ = _build('tiny-hier-mel_16bar')
  encoder = model.encoder
  rng = np.random.default_rng(0)
  inputs = tf.one_hot(rng.integers(0, 90, [2, 256]), 90)
  lengths = tf.constant([256, 40])  # the second: 2.5 bars, the rest padding
  got = encoder(inputs, lengths)
  # By hand: each bar through level 0 (bars past the end encode to zeros), then level 1.
  expected = []
  for row, length in enumerate([256, 40]):
    bars = []
    for bar in range(16):
      bar_length = int(np.clip(length - 16 * bar, 0, 16))
      if bar_length:
        bars.append(encoder.levels[0](inputs[row:row + 1, 16 * bar:16 * bar + 16],
                                      tf.constant([bar_length]))[0])
      else:
        bars.append(tf.zeros([encoder.levels[0].output_size]))
    expected.append(encoder.levels[1](tf.stack(bars)[tf.newaxis], tf.constant([16]))[0])
  np.testing.assert_allclose(got.numpy(), tf.stack(expected).numpy(), atol=1e-6)
  # Padding after the end changes nothing.
  changed = tf.concat([inputs[1:, :40], tf.one_hot(rng.integers(0, 90, [1, 216]), 90)], axis=1)
  np.testing.assert_allclose(encoder(changed, tf.constant([40])).numpy(), got.numpy()[1:],
                             atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Several parts (trio) and controls (chords): the decoder contract beyond one categorical part.

TRIO_PARTS = (melody.MELODY_PART,
              melody.MelodyPart('bass', instrument=1, program=33),
              drums.DrumPart('drums', instrument=9, program=0))


class _LabelFamily(label_windows.LabelConverter):
  """Two-bar windows of the given parts and control classes."""
  encoding = 'test_parts'

  def __init__(self, parts, control_depth=0):
    super().__init__(slice_bars=2, max_windows_per_sequence=None)
    self.parts, self.control_depth = tuple(parts), control_depth


def _tiny_model_config(decoder):
  config = config_lib.load_config('tiny-hierdec-mel_16bar').model
  config.decoder = decoder
  return config


def _trio_labels(batch_size, num_steps, seed):
  rng = np.random.default_rng(seed)
  return tf.constant(np.stack([rng.integers(0, 90, [batch_size, num_steps]),
                               rng.integers(0, 90, [batch_size, num_steps]),
                               rng.integers(0, 512, [batch_size, num_steps])], -1), tf.int32)


@pytest.mark.parametrize('decoder, split', [('flat', False), ('hierarchical', False),
                                            ('hierarchical', True)])
def test_multi_part_decoders_shapes_paths_and_names(decoder, split):
  model = models.MusicVAE(_tiny_model_config(decoder), _LabelFamily(TRIO_PARTS),
                          decoder_config={'split_parts': split} if split else None)
  assert model.family.input_depth == model.decoder.output_depth == 692
  labels = _trio_labels(2, 32, 1)
  z = tf.random.stateless_normal([2, model.z_size], [1, 2])
  seed = tf.constant([3, 4], tf.int64)
  fused = model.decoder.reconstruct(z, labels, 0.0, seed=seed, fused=True)
  stepwise = model.decoder.reconstruct(z, labels, 0.0, seed=seed)
  assert fused.shape == (2, 32, 692)
  np.testing.assert_allclose(stepwise, fused, atol=1e-5)
  # Scheduled sampling with p = 1 in two passes equals the step-by-step free-running logits.
  two_pass = model.decoder.reconstruct(z, labels, tf.constant(1.0), seed=seed)
  samples = model.decoder.sample(z, 1.0, seed=seed)
  assert samples.shape == (2, 32, 3)
  assert samples.numpy()[..., :2].max() < 90 and samples.numpy()[..., 2].max() < 512
  again = model.decoder.reconstruct(z, samples, 0.0, seed=seed)
  np.testing.assert_allclose(two_pass, again, atol=1e-5)
  names = model.original_variable_names()
  assert len(names) == len(model.trainable_variables)
  if split:  # each core sees only its own previous token plus the bar embedding
    units = model.decoder.conductor.sizes[-1]
    for k, depth in enumerate((90, 90, 512)):
      kernel = names[f'core_decoder/core_decoder_{k}/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel']
      assert kernel.shape[0] == depth + units + units
  r_loss, metrics = model.decoder.reconstruction_loss(fused, labels, tf.constant([32, 16]))
  full, _ = model.decoder.reconstruction_loss(fused, labels, tf.constant([32, 32]))
  assert r_loss.shape == (2,) and r_loss[0] == full[0] and r_loss[1] < full[1]
  assert set(metrics) == {f'{name}{part}' for name in ('accuracy', 'note_on_accuracy')
                          for part in ('', '/melody', '/bass', '/drums')}


def test_split_cores_do_not_see_each_others_tokens():
  model = models.MusicVAE(_tiny_model_config('hierarchical'), _LabelFamily(TRIO_PARTS),
                          decoder_config={'split_parts': True})
  labels = _trio_labels(2, 32, 2)
  z = tf.random.stateless_normal([2, model.z_size], [1, 2])
  seed = tf.constant([0, 0], tf.int64)
  logits = model.decoder.reconstruct(z, labels, 0.0, seed=seed).numpy()
  other_drums = tf.concat([labels[..., :2], _trio_labels(2, 32, 3)[..., 2:]], -1)
  changed = model.decoder.reconstruct(z, other_drums, 0.0, seed=seed).numpy()
  np.testing.assert_array_equal(changed[..., :180], logits[..., :180])  # melody and bass
  assert np.abs(changed[..., 180:] - logits[..., 180:]).max() > 1e-4


def test_controls_reach_the_encoder_and_every_decoder_step():
  config = _tiny_model_config('flat')
  model = models.MusicVAE(config, _LabelFamily((melody.MELODY_PART,), control_depth=49))
  assert model.family.input_depth == 90 + 49
  names = model.original_variable_names()
  assert names['decoder/multi_rnn_cell/cell_0/lstm_cell/kernel'].shape[0] == (
      90 + config.z_size + 49 + config.dec_rnn_size[0])
  _, labels = _melody_batch(2, 32, 4)
  z = tf.random.stateless_normal([2, config.z_size], [1, 2])
  seed = tf.constant([1, 1], tf.int64)
  controls = tf.fill([2, 32], 1)
  with pytest.raises(ValueError, match='controls'):
    model.decoder.reconstruct(z, labels, 0.0, seed=seed)
  fused = model.decoder.reconstruct(z, labels, 0.0, controls, seed=seed, fused=True)
  stepwise = model.decoder.reconstruct(z, labels, 0.0, controls, seed=seed)
  np.testing.assert_allclose(stepwise, fused, atol=1e-5)
  # A control changed from step 20 on changes the logits from step 20 on, and only those.
  later = tf.concat([controls[:, :20], tf.fill([2, 12], 30)], axis=1)
  changed = model.decoder.reconstruct(z, labels, 0.0, later, seed=seed).numpy()
  diff = np.abs(changed - stepwise.numpy()).max(axis=(0, 2))
  np.testing.assert_array_equal(diff[:20], 0.0)
  assert diff[20] > 1e-5
  # The free-running loop uses the same control at the same step: two passes agree.
  samples = model.decoder.sample(z, 1.0, later, seed=seed)
  free_logits = model.decoder.reconstruct(z, labels, tf.constant(1.0), later, seed=seed)
  np.testing.assert_allclose(model.decoder.reconstruct(z, samples, 0.0, later, seed=seed),
                             free_logits, atol=1e-5)


# The decoders' checkpoint keys (object paths) as runs trained since each family landed saved
# them: the shared vector LSTM loop (nn/decoders/vector_lstm.py) must not move a variable.
_VECTOR_LSTM_KEYS = {
    'tiny-groove_2bar': {
        'output_projection/bias': [27], 'output_projection/kernel': [32, 27],
        'rnn/initial_state/bias': [128], 'rnn/initial_state/kernel': [8, 128],
        'rnn/layers/0/bias': [128], 'rnn/layers/0/kernel': [67, 128],
        'rnn/layers/1/bias': [128], 'rnn/layers/1/kernel': [64, 128]},
    'tiny-nade-drums_2bar': {
        'core/output_projection/bias': [25], 'core/output_projection/kernel': [32, 25],
        'core/rnn/initial_state/bias': [128], 'core/rnn/initial_state/kernel': [8, 128],
        'core/rnn/layers/0/bias': [128], 'core/rnn/layers/0/kernel': [49, 128],
        'core/rnn/layers/1/bias': [128], 'core/rnn/layers/1/kernel': [64, 128],
        'nade/w_dec_t': [9, 16, 1], 'nade/w_enc': [9, 1, 16]},
}


@pytest.mark.parametrize('name', sorted(_VECTOR_LSTM_KEYS))
def test_vector_lstm_decoders_keep_their_checkpoint_keys(name, tmp_path):
  model, _ = _build(name)
  prefix = tf.train.Checkpoint(model=model).write(str(tmp_path / 'ckpt'))
  suffix = '/.ATTRIBUTES/VARIABLE_VALUE'
  keys = {key[len('model/decoder/'):-len(suffix)]: shape
          for key, shape in tf.train.list_variables(prefix) if key.startswith('model/decoder/')}
  assert keys == _VECTOR_LSTM_KEYS[name]
