"""Quiet start-up: hides TensorFlow's start-up chatter on stderr, keeps every real warning.

TensorFlow 2.21 writes several lines before any result (oneDNN and CPU-feature notes, "Could not
find cuda drivers", and two error-level lines on a CPU machine: "failed call to cuInit" and
"oneDNN supports DT_INT32 only on platforms with AVX-512"). Some of them are written before
TF_CPP_MIN_LOG_LEVEL takes effect, so the variable alone cannot hide them. The programs therefore
route stderr (file descriptor 2, so C++ logs and worker processes are covered) through a small
filter process that drops exactly those lines, and hide other libraries' Python INFO logs.

A user who asks for TensorFlow's logs with TF_CPP_MIN_LOG_LEVEL=0 (or 1) gets them all, unfiltered.
"""
import atexit
import logging as std_logging
import os
import re
import sys
import time

from absl import logging

# C++ log lines at INFO or WARNING level (TF_CPP_MIN_LOG_LEVEL=2 means: not wanted) and the
# known-irrelevant error-level lines of a CPU machine.
_NOISE = re.compile(
    rb'^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR'
    rb'|[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+\.cc:\d+\] '
    rb'|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler'
    rb'|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+\.cc:\d+\] (failed call to cuInit'
    rb'|oneDNN supports DT_INT32 only on platforms with AVX-512))')
# A partial line that may still become a noise line: held until its newline arrives.
_MAYBE_NOISE = re.compile(rb'^(WARNING: All|[IWE]\d|To enable)')
_WANTS_TF_LOGS = os.environ.get('TF_CPP_MIN_LOG_LEVEL', '2').strip() in ('0', '1')


def _filter(read_fd, out_fd):
  """Copies lines from read_fd to out_fd, dropping noise, until every writer has closed."""
  pending = b''
  while True:
    chunk = os.read(read_fd, 65536)
    if not chunk:
      break
    pending += chunk
    *lines, pending = pending.split(b'\n')
    kept = b''.join(line + b'\n' for line in lines if not _NOISE.match(line))
    if pending and not _MAYBE_NOISE.match(pending):
      kept, pending = kept + pending, b''  # a prompt or progress text: show it now
    if kept:
      os.write(out_fd, kept)
  if pending and not _NOISE.match(pending):
    os.write(out_fd, pending)


def _filter_stderr():
  """Puts a filter process between this process's stderr and the real one.

  A process, not a thread: it outlives a crash of this one (an abort in native code still shows
  its last lines), and it sees the output of worker processes too. It ends when every writer of
  the pipe has exited."""
  read_fd, write_fd = os.pipe()
  sys.stderr.flush()
  pid = os.fork()
  if pid == 0:  # the filter
    try:
      os.close(write_fd)
      _filter(read_fd, 2)
    finally:
      os._exit(0)  # pylint: disable=protected-access
  os.close(read_fd)
  real_stderr = os.dup(2)
  os.dup2(write_fd, 2)
  os.close(write_fd)
  atexit.register(_drain, pid, real_stderr)


def _drain(pid, real_stderr, timeout_s=5.0):
  """At exit: closes our end of the pipe and waits for the filter to write what is left, so the
  last lines come before the shell's next prompt."""
  sys.stderr.flush()
  os.dup2(real_stderr, 2)
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:  # worker processes may still hold the pipe: don't hang
    if os.waitpid(pid, os.WNOHANG) != (0, 0):
      return
    time.sleep(0.005)


class _OwnInfoOnly(std_logging.Filter):
  """Keeps warnings and errors from everyone, but INFO lines only from music_vae_lite itself
  (TensorFlow's Python INFO lines, e.g. about checkpoint sharding, say nothing to a user)."""

  def filter(self, record):
    return (record.levelno >= std_logging.WARNING
            or f'{os.sep}music_vae_lite{os.sep}' in record.pathname)


def quiet_start_up():
  """Called once, first thing, by every program (before TensorFlow is imported)."""
  if _WANTS_TF_LOGS:
    return
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  logging.get_absl_handler().addFilter(_OwnInfoOnly())
  if hasattr(os, 'fork'):
    _filter_stderr()
