"""Data: MIDI checks, preprocessing into a window cache, and the tf.data input pipeline."""
