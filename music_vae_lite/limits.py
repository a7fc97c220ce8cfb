"""Default limits on input files, apart from preprocess.py so that the programs can show them in
--help without importing note_seq (seconds)."""

DEFAULT_MAX_FILE_MB = 20.0
# At their own tempo, sequences longer than this many 4/4 bars are rejected before conversion: a
# corrupt tempo map or tick count can otherwise turn a small file into millions of steps.
DEFAULT_MAX_BARS = 10_000
DEFAULT_FILE_TIMEOUT_S = 120.0
