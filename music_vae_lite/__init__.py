"""music_vae_lite: MusicVAE in TensorFlow 2 + TensorFlow Probability."""
import warnings

# pydub, imported by note_seq, warns about a missing ffmpeg at import; we never play audio.
warnings.filterwarnings('ignore', message="Couldn't find ffmpeg", category=RuntimeWarning)
