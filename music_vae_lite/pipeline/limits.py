"""Default limits on input files, apart from preprocess.py so that the programs can show them in
--help without importing note_seq (seconds)."""

DEFAULT_MAX_FILE_MB = 20.0
# At their own tempo, sequences longer than this many 4/4 bars are rejected before conversion: a
# corrupt tempo map or tick count can otherwise turn a small file into millions of steps.
DEFAULT_MAX_BARS = 10_000
# CPU seconds (not wall-clock: a busy machine does not fail good files).
DEFAULT_FILE_TIMEOUT_S = 120.0
# Checked on the raw MIDI bytes before the MIDI reader runs (see midi_guard.py): the reader needs
# ~24 bytes per tick of the last event (2**24 ticks: ~400 MB, or 10,000 bars at 420 ticks per
# quarter note) and ~450 bytes per event (1,000,000 events: ~450 MB).
DEFAULT_MAX_TICKS = 2**24
DEFAULT_MAX_EVENTS = 1_000_000
# Address space a worker process may add to what it has at start-up (MB); a file needing more is
# reported as 'too large to parse' instead of waking the OOM killer. 0 = no cap.
DEFAULT_WORKER_MEMORY_MB = 1536.0
