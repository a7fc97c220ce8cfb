"""Writing files safely and checking paths, without TensorFlow (the programs check their flags with
this before TensorFlow's slow import).

Every file the project writes goes through `atomic_write`: readers see the old file or the complete
new one, never a partial one, and the new file gets the user's normal permissions (the umask), not
the 0600 of a temporary file.
"""
import os
import tempfile

# MIDI files start with 'MThd'; RIFF-wrapped MIDI ('RMID') starts with 'RIFF'.
_MIDI_MAGIC = (b'MThd', b'RIFF')


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


_FILE_MODE = 0o666 & ~_umask()


class RunDirError(ValueError):
  """A run directory, checkpoint path or output directory cannot be used."""


def atomic_write(path, data):
  """Writes `data` to `path` via a temporary file in the same folder and a rename.

  Args:
    path: the file to write; its folder is created if needed.
    data: bytes, text, or a function that writes to a binary file object it is given.
  Returns:
    The path.
  """
  path = os.fspath(path)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=directory)
  try:
    with os.fdopen(fd, 'wb') as f:
      if callable(data):
        data(f)
      else:
        f.write(data.encode('utf-8') if isinstance(data, str) else data)
    os.chmod(tmp, _FILE_MODE)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return path


def check_creatable_dir(path, what='output directory'):
  """RunDirError unless `path` is a writable folder or could be created as one; creates nothing.

  So a program can reject a bad output path at once and still leave no empty folder behind when
  it fails later."""
  path = os.path.abspath(os.fspath(path))
  probe = path
  while not os.path.exists(probe):
    parent = os.path.dirname(probe)
    if parent == probe:
      break
    probe = parent
  if not os.path.isdir(probe):
    raise RunDirError(f'The {what} {path!r} cannot be created: {probe!r} is a file.')
  if not os.access(probe, os.W_OK | os.X_OK):
    raise RunDirError(f'The {what} {path!r} is not writable: no write permission in {probe!r}.')
  return path


def check_new_dir(path, what='output directory'):
  """RunDirError unless `path` is absent (and could be created) or an empty folder; creates
  nothing. For outputs that must never overwrite anything (exports)."""
  path = check_creatable_dir(path, what)
  if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
    raise RunDirError(f'The {what} {path!r} already exists and is not empty; choose a new folder '
                      '(nothing is overwritten).')
  return path


def ensure_writable_dir(path, what='output directory'):
  """Creates `path` if needed and checks a file can be written there; RunDirError otherwise."""
  path = os.fspath(path)
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix='.write_test'):
      pass
  except OSError as e:
    raise RunDirError(f'The {what} {path!r} is not writable: {e.strerror or e}.') from e
  return path


def check_midi_file(path, flag):
  """ValueError naming the flag and the file unless `path` is a readable file that starts like a
  MIDI file (the full parse comes later)."""
  if not os.path.exists(path):
    raise ValueError(f'--{flag}: {path!r} does not exist.')
  if not os.path.isfile(path):
    raise ValueError(f'--{flag}: {path!r} is not a file.')
  try:
    with open(path, 'rb') as f:
      head = f.read(4)
  except OSError as e:
    raise ValueError(f'--{flag}: cannot read {path!r}: {e.strerror or e}.') from e
  if not head:
    raise ValueError(f'--{flag}: {path!r} is an empty file, not a MIDI file.')
  if head not in _MIDI_MAGIC:
    raise ValueError(f'--{flag}: {path!r} is not a MIDI file (it does not start with the MIDI '
                     'header "MThd").')
  return path
