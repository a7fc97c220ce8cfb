"""Defaults shared by every config: the original MusicVAE's defaults unless a comment says otherwise."""
import ml_collections


def get_base_config():
  config = ml_collections.ConfigDict()
  config.name = ''

  config.data = ml_collections.ConfigDict()
  # The data family (music_vae_lite/families/registry.py): 'melody' (90 classes), 'drums' (512 classes,
  # 10-wide roll input), 'melody_chords' (melody + 49 triad controls), 'trio' (90 + 90 + 512),
  # 'groove' (GrooVAE: hit, velocity and timing offset of 9 drums) or 'drum_roll' (a multi-hot
  # roll of 9 or 61 drum classes, for the NADE decoder).
  config.data.encoding = 'melody'
  config.data.slice_bars = 2  # window length in bars; 16 steps per bar
  # A seeded random subset of at most this many windows per tune; 0 (or None in a config file:
  # the command line cannot set None) keeps every window.
  config.data.max_windows_per_sequence = 5
  # Random transposition of the pitched parts (and chords) of each window, +-N semitones, every
  # epoch; drums never move.
  config.data.transpose = 0
  config.data.eval_fraction = 0.1  # share of *files* held out for evaluation

  # The options of the family config.data.encoding names, declared and checked by its converter
  # (its OPTIONS; e.g. trio's gap_bars): left empty, every option keeps its default.
  config.family = ml_collections.ConfigDict()

  config.model = ml_collections.ConfigDict()
  config.model.encoder = 'bidirectional'  # or 'hierarchical': per bar, then over the bars
  # The decoder (nn/decoders/registry.py): 'flat' or 'hierarchical' (a conductor emits one
  # embedding per bar), both categorical, 'groove' (GrooVAE's hits, velocities and offsets) or
  # 'nade' (an RNN-NADE over the bits of a step: drum rolls).
  config.model.decoder = 'flat'
  # Hierarchical encoder and decoder: bars per segment (the original's level lengths [16, 16] for
  # 16 bars are 1 bar per segment; 2 gives [8, 32]: eight 2-bar segments).
  config.model.segment_bars = 1
  config.model.z_size = 32
  # Layer sizes are tuples: config_flags can override tuples (--config.model.enc_rnn_size='(64,)'),
  # not lists.
  config.model.enc_rnn_size = (256,)
  config.model.dec_rnn_size = (512,)
  # The conductor's layer sizes; () means dec_rnn_size, as in every original config. Its top layer
  # is the segment embedding the bar decoder reads, so a bar decoder started from a 2-bar model
  # (z 256) needs a conductor whose top layer is 256 wide.
  config.model.conductor_rnn_size = ()
  config.model.free_bits = 0.0
  config.model.free_bits_per_dim = False  # the original clips the total KL; True clips each dimension
  config.model.max_beta = 1.0
  config.model.beta_rate = 0.0
  config.model.sampling_schedule = 'constant'  # 'constant', 'exponential' or 'inverse_sigmoid'
  config.model.sampling_rate = 0.0
  # Dropout on the input of every LSTM layer, encoder and decoder, in training steps only (the
  # original's dropout_keep_prob: each input value is kept with this probability and scaled by
  # 1 / keep). 1.0: none. Only the groove decoder has it yet (GrooVAE trains with 0.3).
  config.model.dropout_keep_prob = 1.0

  # The options of the decoder config.model.decoder names, declared and checked by it (its
  # OPTIONS; e.g. the hierarchical decoder's split_parts).
  config.decoder = ml_collections.ConfigDict()

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 512
  config.train.learning_rate = 1e-3
  config.train.min_learning_rate = 1e-5
  config.train.decay_rate = 0.9999
  config.train.grad_clip = 1.0
  config.train.grad_norm_clip_to_zero = 10000.0
  config.train.num_steps = 50000
  # Also stop once training has run this many minutes of wall-clock time (0: no limit), for runs
  # of a stated duration; the step count still drives the schedules. (Not in the original.)
  config.train.max_minutes = 0.0
  # With --init_from and no --init_rename: this config's own 'PATTERN=REPLACEMENT' rules mapping a
  # source model's variable names onto its own (e.g. a 2-bar model's decoder as a 16-bar model's
  # bar decoder), so that a user need not write them. (Not in the original.)
  config.train.init_rename = ()
  config.train.seed = 0
  config.train.log_every = 100
  config.train.summary_every = 100
  config.train.image_every = 1000
  config.train.checkpoint_every = 1000
  config.train.keep_checkpoints = 5
  config.train.eval_every = 1000
  config.train.eval_batches = 10
  config.train.jit_compile = False  # XLA: slower than the default graph on the CPUs we measured
  config.train.fused_lstm = False  # TensorFlow's BlockLSTM kernel instead of our step-wise LSTM
  config.train.mixed_precision = False  # bfloat16 matmuls with float32 master weights
  # bfloat16 matmuls only where the CPU multiplies them natively (AVX512-BF16 or AMX; no GPU
  # visible): model_registry.compute_dtype. Not an original setting.
  config.train.bf16_on_native_cpu = False
  # Two ops at a time on half the cores each (distribute.set_cpu_threads): faster for small flat
  # models on few cores, slower for large ops. Not an original setting.
  config.train.parallel_directions = False
  config.train.freeze = 'none'  # 'encoder' or 'encoder_and_conductor': fixed while fine-tuning
  # Hierarchical models: a trained model of one segment's length (run directory) whose posterior
  # scores the conductor's embeddings, a training-only term of this weight
  # (training/conductor_teacher.py; 0.05 gained on cpu-hier-mel_16bar, 1 lost: benchmarks/README).
  # Not in the original.
  config.train.conductor_teacher = ''
  config.train.conductor_teacher_weight = 0.05
  # With a teacher and a hierarchical encoder: this many steps in which only the encoder's second
  # level, q(z|x) and the conductor learn, from the teacher's codes alone, before joint training
  # (training/conductor_opening.py; 0: none). Not in the original.
  config.train.conductor_opening_steps = 0
  config.train.conductor_opening_batch_size = 128
  config.train.conductor_opening_learning_rate = 2e-3
  return config


def get_tiny_config(name, encoding, slice_bars, decoder):
  """A tiny model for tests and smoke runs: seconds per hundred steps on a CPU (not an original)."""
  config = get_base_config()
  config.name = name
  config.data.encoding = encoding
  config.data.slice_bars = slice_bars
  config.model.decoder = decoder
  config.model.z_size = 8
  config.model.enc_rnn_size = (32,)
  config.model.dec_rnn_size = (32, 32)
  config.model.max_beta = 0.2
  config.train.batch_size = 8
  config.train.num_steps = 20
  config.train.log_every = 5
  config.train.summary_every = 5
  config.train.image_every = 10
  config.train.checkpoint_every = 10
  config.train.keep_checkpoints = 2
  config.train.eval_every = 10
  config.train.eval_batches = 2
  return config


def get_groove_config(name, slice_bars=2):
  """What the original's GrooVAE configs share: windows of `slice_bars` bars (2 or 4), at most
  20 per sequence (its max_tensors_per_notesequence), a 512-wide bidirectional encoder, z of 256,
  the groove decoder with two layers of 256, free bits 48, beta 0.2 from the first step, teacher
  forcing, dropout keep probability 0.3, batch 512. The configs set the family's options."""
  config = get_base_config()
  config.name = name
  config.data.encoding = 'groove'
  config.data.slice_bars = slice_bars
  config.data.max_windows_per_sequence = 20
  config.model.decoder = 'groove'
  config.model.z_size = 256
  config.model.enc_rnn_size = (512,)
  config.model.dec_rnn_size = (256, 256)
  config.model.free_bits = 48.0
  config.model.max_beta = 0.2
  config.model.dropout_keep_prob = 0.3
  return config
