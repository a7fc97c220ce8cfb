"""Shared test set-up: quiet TensorFlow start-up, the repository's paths."""
import os
import pathlib

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # pylint: disable=g-import-not-at-top

REPO = pathlib.Path(__file__).resolve().parent.parent
DATA_MIDI = REPO / 'data' / 'midi'


@pytest.fixture
def repo_root():
  return REPO
