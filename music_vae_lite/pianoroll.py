"""Piano-roll pictures of windows, drawn with numpy, labelled and encoded as PNG with Pillow.

Time runs left to right (one column block per 16th-note step), pitch bottom to top. Melody notes are
bars from onset to release with a darker onset column, so repeated notes stay apart; drum hits are
one-step blocks on nine rows (kick at the bottom). A performed hit (GrooVAE: the family gives its
velocity and timing offset) is shaded by its velocity (pale: soft, full colour: loud) and shifted
left (early) or right (late) by its offset, its dark onset column at the played time, with a
dark tick along the row's bottom from the grid step to the onset. Thin lines mark beats, darker
lines bars. A
picture is a grid of panels: each row of the grid is a list of windows drawn side by side (for
example an input beside its reconstruction), each column in its own colour. A gutter on the left
names the pitches (every C, e.g. C4 = MIDI 60) or the drums, and one along the top numbers the bars.

Works on a family's windows, not on NoteSequences, so the picture is exactly the model's grid: the
family says what to draw of a window (`contract.Converter.picture_parts`: each part's kind and
notes).
"""
import io
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont
import pretty_midi

from music_vae_lite.families import contract
from music_vae_lite.families import drums
from music_vae_lite.families import melody
from music_vae_lite import files

STEPS_PER_BEAT = 4

# Column colours (RGB): inputs blue, reconstructions orange, then green, purple, ...
COLUMN_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (214, 39, 40))
_BACKGROUND = (255, 255, 255)
_BLACK_KEY_ROW = (243, 243, 243)
_BEAT_LINE = (225, 225, 225)
_BAR_LINE = (140, 140, 140)
_OCTAVE_LINE = (205, 205, 205)
_MARGIN = (60, 60, 60)
_BLACK_KEYS = {1, 3, 6, 8, 10}
_LABEL_TEXT = (235, 235, 235)  # on the dark margin
_FONT_PX = 10
def _darker(colour, factor=0.6):
  return tuple(int(c * factor) for c in colour)


class _Layout:
  """Rows of one part's picture: a pitch range for a melody part (at least two octaves), nine
  rows for drums. `notes`: the part's (row, start, end) notes in every window."""

  def __init__(self, kind, notes, px_per_row=None):
    if kind not in ('melody', 'drums'):
      raise ValueError(f"encoding must be 'melody' or 'drums', not {kind!r}.")
    self.encoding = kind
    self.px_per_row = px_per_row or (3 if kind == 'melody' else 11)
    if kind == 'drums':
      self.low, self.high = 0, len(drums.DRUM_NAMES) - 1
      return
    pitches = [note[0] for window_notes in notes for note in window_notes]
    low, high = (min(pitches), max(pitches)) if pitches else (60, 72)
    low, high = max(melody.MIN_PITCH, low - 2), min(melody.MAX_PITCH, high + 2)
    while high - low < 24:  # widen symmetrically up to two octaves so short ranges stay readable
      low, high = max(melody.MIN_PITCH, low - 1), min(melody.MAX_PITCH, high + 1)
    self.low, self.high = low, high

  @property
  def num_rows(self):
    return self.high - self.low + 1

  @property
  def height(self):
    return self.num_rows * self.px_per_row


# The families whose one-part windows render() draws for the names 'melody' and 'drums'.
_FAMILIES = {'melody': melody.MelodyConverter, 'drums': drums.DrumsConverter}


def _family(encoding):
  """A converter (its picture_parts say what to draw), or the one of 'melody' / 'drums'."""
  if isinstance(encoding, str):
    if encoding not in _FAMILIES:
      raise ValueError(f"encoding must be 'melody' or 'drums', not {encoding!r}.")
    return _FAMILIES[encoding](slice_bars=1)
  return encoding


def _num_steps(window):
  """The steps of one window's targets (an array [T, ...] or {name: [T, ...]})."""
  first = next(iter(window.values())) if isinstance(window, dict) else window
  return len(np.asarray(first))


def _shade(colour, velocity):
  """`colour` faded towards the background for a soft hit: velocity 0-1 -> 25-100 % colour."""
  weight = 0.25 + 0.75 * float(np.clip(velocity, 0.0, 1.0))
  return tuple(int(round(b + (c - b) * weight)) for b, c in zip(_BACKGROUND, colour))


def _draw_panel(notes, num_steps, layout, colour, px_per_step, px_per_row, steps=None):
  """One part of a window (its notes, over num_steps) as an RGB array
  [rows * px_per_row, S * px_per_step, 3]: the steps `steps` = (first, stop) of it (default all).
  A note held into the range from before it is drawn from the range's start, without an onset
  mark. A note (row, start, end, velocity, offset) is a performed hit: shaded and shifted (see the
  module docstring)."""
  first, stop_step = steps or (0, num_steps)
  num_steps = stop_step - first
  height, width = layout.num_rows * px_per_row, num_steps * px_per_step
  panel = np.empty([height, width, 3], np.uint8)
  panel[:] = _BACKGROUND

  def row_slice(row_value):
    top = (layout.high - row_value) * px_per_row  # high values at the top
    return slice(top, top + px_per_row)

  if layout.encoding == 'melody':
    for pitch in range(layout.low, layout.high + 1):
      if pitch % 12 in _BLACK_KEYS:
        panel[row_slice(pitch)] = _BLACK_KEY_ROW
      elif pitch % 12 == 0:  # a line under every C
        panel[row_slice(pitch).stop - 1] = _OCTAVE_LINE
  for step in range(0, num_steps, STEPS_PER_BEAT):
    panel[:, step * px_per_step] = (_BAR_LINE if step % contract.STEPS_PER_BAR == 0
                                    else _BEAT_LINE)
  for note in notes:
    value, onset, end = note[:3]
    start, end = max(onset, first) - first, min(end, stop_step) - first
    if not layout.low <= value <= layout.high or start >= end:
      continue
    rows = row_slice(value)
    if px_per_row > 3:  # tall rows (drums): a pixel of space between neighbouring rows
      rows = slice(rows.start, rows.stop - 1)
    fill, shift = colour, 0
    if len(note) == 5:  # a performed hit: velocity 0-1, offset = 2 x steps early
      fill = _shade(colour, note[3])
      shift = int(round(-note[4] / 2.0 * px_per_step))
    left = start * px_per_step
    # Leave the last pixel column of a note empty when there is room, so notes that touch separate.
    stop = max(end * px_per_step - (1 if px_per_step > 2 else 0), left + 1)
    shifted = slice(min(max(left + shift, 0), width - 1), min(max(stop + shift, 1), width))
    panel[rows, shifted] = fill
    if onset >= first:
      panel[rows, shifted.start] = _darker(colour)
    if shift:
      tick = slice(max(min(left, left + shift), 0), min(max(left, left + shift) + 1, width))
      panel[rows.stop - 1, tick] = _MARGIN
  return panel


_PART_GAP = 3  # pixels of margin between the parts of one window (e.g. melody, bass, drums)


MAX_BARS_PER_LINE = 8  # longer windows (16 bars) wrap onto lines of this many bars


def render(grid, encoding, px_per_step=None, px_per_row=None, margin=4, colours=COLUMN_COLOURS,
           labels=True, bars_per_line=MAX_BARS_PER_LINE):
  """Draws a grid of windows; returns an RGB image, uint8 [H, W, 3].

  Args:
    grid: a list of rows; each row a list of windows drawn side by side, each as the family's
      targets of one window (label windows [T, P], or [T] for one part); the parts of a window
      are drawn one above the other, the first at the top. Windows of one column share a colour
      (`colours[column]`); all rows should have the same number of windows.
    encoding: the converter (its `picture_parts` say what to draw of a window), or 'melody' /
      'drums' for one-part label windows.
    px_per_step, px_per_row: pixel size of a step and a pitch (or drum) row; chosen from the window
      length (and the part's kind) when None.
    labels: add the gutters with pitch (or drum) names and bar numbers.
    bars_per_line: a window longer than this many bars is drawn on several lines of this many
      bars, one below the other, each numbering its own bars (a 16-bar window: bars 1-8, then
      9-16), so that long windows keep readable notes; None draws every window on one line.
  """
  family = _family(encoding)
  if not grid or not all(grid):
    raise ValueError('render() needs at least one row, each with at least one window.')
  # (kind, notes) of every part of every window, and the windows' lengths.
  pictures = [[family.picture_parts(w) for w in row] for row in grid]
  steps = [[_num_steps(w) for w in row] for row in grid]
  kinds = [kind for kind, _ in pictures[0][0]]
  if any([kind for kind, _ in parts] != kinds for row in pictures for parts in row):
    raise ValueError(f'Windows must have {len(kinds)} part(s) ({", ".join(kinds)}).')
  layouts = [_Layout(kind, [parts[k][1] for row in pictures for parts in row], px_per_row)
             for k, kind in enumerate(kinds)]
  max_steps = max(n for row in steps for n in row)
  line_steps = max_steps
  if bars_per_line and max_steps > bars_per_line * contract.STEPS_PER_BAR:
    line_steps = bars_per_line * contract.STEPS_PER_BAR
  num_lines = -(-max_steps // line_steps)
  px_per_step = px_per_step or max(1, min(8, 768 // max(line_steps, 1)))
  part_tops = np.cumsum([0] + [layout.height + _PART_GAP for layout in layouts])[:-1]
  panel_height = int(part_tops[-1]) + layouts[-1].height
  columns = max(len(row) for row in grid)
  panel_width = line_steps * px_per_step
  left = max(_left_gutter(layout) for layout in layouts) if labels else 0
  # One band of bar numbers above the picture, or above every line when windows wrap.
  band = _FONT_PX + 4 if labels else 0
  lines = [(row, row_steps, first) for row, row_steps in zip(pictures, steps)
           for first in range(0, max_steps, line_steps)]
  line_height = panel_height + margin + (band if num_lines > 1 else 0)
  height = (band if num_lines == 1 else 0) + len(lines) * line_height + margin
  width = left + columns * panel_width + (columns + 1) * margin
  image = np.empty([height, width, 3], np.uint8)
  image[:] = _MARGIN
  top = band if num_lines == 1 else 0
  panel_tops = [top + margin + r * line_height + (band if num_lines > 1 else 0)
                for r in range(len(lines))]
  panel_lefts = [left + margin + c * (panel_width + margin) for c in range(columns)]
  for (row, row_steps, first), panel_top in zip(lines, panel_tops):
    for c, (parts, num_steps) in enumerate(zip(row, row_steps)):
      line = (first, min(first + line_steps, num_steps))
      if line[0] >= line[1]:
        continue
      for k, layout in enumerate(layouts):
        panel = _draw_panel(parts[k][1], num_steps, layout, colours[c % len(colours)],
                            px_per_step, layout.px_per_row, line)
        y = panel_top + int(part_tops[k])
        image[y:y + panel.shape[0], panel_lefts[c]:panel_lefts[c] + panel.shape[1]] = panel
  if labels:
    numbered = panel_tops if num_lines > 1 else panel_tops[:1]
    first_bars = [first // contract.STEPS_PER_BAR for _, _, first in lines][:len(numbered)]
    image = _draw_labels(image, layouts, [int(t) for t in part_tops], panel_tops, panel_lefts,
                         line_steps, px_per_step, list(zip(numbered, first_bars)))
  return image


def _font():
  return ImageFont.load_default(size=_FONT_PX)


def _row_labels(layout):
  """(row value, text) for the left gutter: every C of a melody (C4 = MIDI 60), every drum."""
  if layout.encoding == 'drums':
    return list(enumerate(drums.DRUM_NAMES))
  return [(pitch, pretty_midi.note_number_to_name(pitch))
          for pitch in range(layout.low, layout.high + 1) if pitch % 12 == 0]


def _left_gutter(layout):
  font = _font()
  widths = [font.getlength(text) for _, text in _row_labels(layout)] or [0]
  return int(max(widths)) + 6


def _draw_labels(image, layouts, part_tops, panel_tops, panel_lefts, num_steps, px_per_step,
                 bar_bands):
  """Pitch (or drum) names left of every panel row; bar numbers above the panels at
  `bar_bands` [(panel top, number of the line's first bar - 1)]."""
  picture = Image.fromarray(image)
  draw = ImageDraw.Draw(picture)
  font = _font()
  for panel_top in panel_tops:
    for layout, part_top in zip(layouts, part_tops):
      for value, text in _row_labels(layout):
        centre = (panel_top + part_top + (layout.high - value) * layout.px_per_row
                  + layout.px_per_row / 2)
        draw.text((panel_lefts[0] - 6, centre), text, fill=_LABEL_TEXT, font=font, anchor='rm')
  for panel_top, first_bar in bar_bands:
    for panel_left in panel_lefts:
      for bar, step in enumerate(range(0, num_steps, contract.STEPS_PER_BAR)):
        draw.text((panel_left + step * px_per_step + 2, panel_top - 3), str(first_bar + bar + 1),
                  fill=_LABEL_TEXT, font=font, anchor='lb')
  return np.asarray(picture)


def encode_png(image):
  """PNG bytes of an RGB uint8 image [H, W, 3]."""
  buffer = io.BytesIO()
  Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format='PNG')
  return buffer.getvalue()


MAX_PICTURE_WINDOWS = 64  # a taller picture is unreadable and, for thousands of windows, huge


def write_column_png(path, windows, encoding):
  """Writes windows (the family's targets, [N, ...]) one above the other as a PNG: the first
  MAX_PICTURE_WINDOWS of them. `encoding`: the converter, or 'melody' / 'drums'. Returns how many
  the picture shows."""
  shown = contract.unbatch(windows)[:MAX_PICTURE_WINDOWS]
  write_png(path, render([[window] for window in shown], encoding))
  return len(shown)


def write_png(path, image):
  """Writes the image as a PNG atomically (a complete file or none)."""
  files.atomic_write(path, encode_png(image))
  return os.fspath(path)
