"""Networks: LSTM layers, encoders, decoders and the MusicVAE that joins them."""
