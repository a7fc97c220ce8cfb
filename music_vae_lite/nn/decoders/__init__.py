"""Decoders p(x|z), one module per output distribution (categorical.py: classes per step)."""
