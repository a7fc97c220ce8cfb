"""A labelled heat map of a small matrix as a PNG (Pillow only), e.g. the effect of attribute vectors.

Each cell shows its value as text on a diverging colour: red for positive, blue for negative, white
for 0, full colour at `limit` (default: the largest absolute value). Rows are named on the left,
columns along the top (names split at underscores onto two lines), and an optional note per row
is written on the right. Cells on the diagonal are framed.
"""
import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from music_vae_lite import pianoroll

_FONT_PX = 12
_CELL = (84, 30)  # width, height in pixels
_POSITIVE = np.array([214, 39, 40])
_NEGATIVE = np.array([31, 119, 180])
_WHITE = np.array([255, 255, 255])
_TEXT = (20, 20, 20)
_GRID = (200, 200, 200)


def _colour(value, limit):
  if value is None or not np.isfinite(value):
    return (235, 235, 235)
  weight = min(abs(value) / limit, 1.0) if limit > 0 else 0.0
  end = _POSITIVE if value > 0 else _NEGATIVE
  return tuple(int(c) for c in np.round(_WHITE + weight * (end - _WHITE)))


def render(matrix, row_names, column_names, title=None, notes=None, limit=None, digits=2,
           mark_diagonal=True):
  """An RGB image, uint8 [H, W, 3], of `matrix` (rows x columns; None for an empty cell); the
  diagonal's cells get a dark frame (`mark_diagonal`)."""
  values = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix])
  if values.shape != (len(row_names), len(column_names)):
    raise ValueError(f'A {values.shape} matrix needs {values.shape[0]} row and {values.shape[1]} '
                     f'column names, got {len(row_names)} and {len(column_names)}.')
  if limit is None:
    finite = np.abs(values[np.isfinite(values)])
    limit = float(finite.max()) if finite.size else 1.0
  font = ImageFont.load_default(size=_FONT_PX)
  measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
  text_width = lambda text: int(measure.textlength(text, font=font))
  left = max(text_width(name) for name in row_names) + 12
  header = 2 * (_FONT_PX + 3) + 8 + ((_FONT_PX + 8) if title else 0)
  notes = list(notes) if notes is not None else []
  right = (max(text_width(note) for note in notes) + 16) if notes else 8
  width = left + _CELL[0] * len(column_names) + right
  height = header + _CELL[1] * len(row_names) + 8
  image = Image.new('RGB', (width, height), (255, 255, 255))
  draw = ImageDraw.Draw(image)
  if title:
    draw.text((8, 4), title, fill=_TEXT, font=font)
  for j, name in enumerate(column_names):
    first, _, rest = name.partition('_')
    x = left + j * _CELL[0] + _CELL[0] // 2
    lines = [first, rest] if rest else [first]
    for k, line in enumerate(lines):
      y = header - 4 - (len(lines) - 1 - k) * (_FONT_PX + 3)
      draw.text((x, y), line, fill=_TEXT, font=font, anchor='md')
  for i, name in enumerate(row_names):
    y = header + i * _CELL[1]
    draw.text((left - 6, y + _CELL[1] // 2), name, fill=_TEXT, font=font, anchor='rm')
    for j in range(len(column_names)):
      x = left + j * _CELL[0]
      value = values[i, j]
      draw.rectangle([x, y, x + _CELL[0] - 1, y + _CELL[1] - 1], fill=_colour(value, limit),
                     outline=_TEXT if i == j and mark_diagonal else _GRID,
                     width=2 if i == j and mark_diagonal else 1)
      text = f'{value:+.{digits}f}' if np.isfinite(value) else '-'
      draw.text((x + _CELL[0] // 2, y + _CELL[1] // 2), text, fill=_TEXT, font=font, anchor='mm')
    if i < len(notes):
      draw.text((left + _CELL[0] * len(column_names) + 8, y + _CELL[1] // 2), notes[i],
                fill=_TEXT, font=font, anchor='lm')
  return np.asarray(image)


def write_png(path, matrix, row_names, column_names, **kwargs):
  """Renders the matrix (see render) and writes it as a PNG atomically; returns the path."""
  return pianoroll.write_png(path, render(matrix, row_names, column_names, **kwargs))
