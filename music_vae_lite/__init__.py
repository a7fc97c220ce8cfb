"""music_vae_lite: MusicVAE in TensorFlow 2 + TensorFlow Probability."""
