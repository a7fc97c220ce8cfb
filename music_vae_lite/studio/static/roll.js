// Piano rolls on a canvas: one panel per part of the model (melody and bass: pitch rows; drums:
// nine named lanes), time left to right, beat and bar lines, chord symbols above a chord model's
// melody, and a playhead. The picture follows the model's grid (16th-note steps), as the PNGs the
// programs write do (music_vae_lite/pianoroll.py).

const PART_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c'];
const BLACK_KEYS = new Set([1, 3, 6, 8, 10]);
const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];

export function pitchName(pitch) {
  return NAMES[pitch % 12] + (Math.floor(pitch / 12) - 1);
}

// The pitch range [low, high] that shows every melody-kind note of `phrases` in part `part`, at
// least an octave, so that the phrases of a strip or grid share one scale.
export function pitchRange(phrases, part) {
  let low = Infinity;
  let high = -Infinity;
  for (const phrase of phrases) {
    for (const [notePart, pitch] of phrase.notes) {
      if (notePart === part) {
        low = Math.min(low, pitch);
        high = Math.max(high, pitch);
      }
    }
  }
  if (low === Infinity) {
    [low, high] = [60, 71];
  }
  low -= 1;
  high += 1;
  while (high - low < 11) {
    low -= 1;
    high += 1;
  }
  return [low, high];
}

// Draws `phrase` on `canvas` at the canvas's CSS width. options: compact (small, no labels),
// ranges (per part [low, high], from pitchRange; default: this phrase's), playhead (a step, or
// null), highlight (a frame colour).
export function drawRoll(canvas, phrase, model, options = {}) {
  const compact = Boolean(options.compact);
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(canvas.clientWidth || canvas.parentElement?.clientWidth || 300, 60);
  const chordLane = phrase.chords && phrase.chords.length && !compact ? 16 : 0;
  const panels = model.parts.map((part, index) => {
    if (part.kind === 'drums') {
      return {part, index, rows: model.drum_lanes.length, drums: true};
    }
    const [low, high] = (options.ranges && options.ranges[index]) || pitchRange([phrase], index);
    return {part, index, rows: high - low + 1, low, high, drums: false};
  });
  const rowHeight = (panel) => {
    if (compact) return panel.drums ? 4 : Math.max(1, Math.min(4, 64 / panel.rows));
    return panel.drums ? 12 : Math.max(3, Math.min(8, 160 / panel.rows));
  };
  const gap = compact ? 2 : 6;
  let height = chordLane;
  for (const panel of panels) {
    panel.top = height;
    panel.rowHeight = rowHeight(panel);
    panel.height = panel.rows * panel.rowHeight;
    height += panel.height + gap;
  }
  height -= gap;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.height = `${height}px`;
  const g = canvas.getContext('2d');
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.fillStyle = '#fff';
  g.fillRect(0, 0, width, height);
  g.font = '10px sans-serif';
  g.textBaseline = 'middle';
  // A gutter as wide as the longest row name (C8, or a drum's name).
  const rowNames = panels.some((panel) => panel.drums) ? model.drum_lanes.map((lane) => lane.name)
      : ['C8'];
  const gutter = compact ? 0
      : Math.ceil(Math.max(...rowNames.map((name) => g.measureText(name).width))) + 6;
  const steps = model.num_steps;
  const stepWidth = (width - gutter) / steps;
  const x = (step) => gutter + step * stepWidth;

  for (const panel of panels) {
    // Rows: black keys shaded (pitch rows), alternate lanes (drums).
    for (let row = 0; row < panel.rows; row++) {
      const y = panel.top + panel.height - (row + 1) * panel.rowHeight;
      const shaded = panel.drums ? row % 2 === 1 : BLACK_KEYS.has((panel.low + row) % 12);
      if (shaded) {
        g.fillStyle = '#f0f0f0';
        g.fillRect(gutter, y, width - gutter, panel.rowHeight);
      }
      if (!compact) {
        const label = panel.drums ? model.drum_lanes[row].name
            : ((panel.low + row) % 12 === 0 ? pitchName(panel.low + row) : '');
        if (label && (panel.drums || panel.rowHeight >= 3)) {
          g.fillStyle = '#444';
          g.fillText(label, 2, y + panel.rowHeight / 2);
        }
      }
    }
    // Beat and bar lines.
    for (let step = 0; step <= steps; step += model.steps_per_quarter) {
      const bar = step % model.steps_per_bar === 0;
      if (compact && !bar) continue;
      g.fillStyle = bar ? '#8c8c8c' : '#dcdcdc';
      g.fillRect(Math.min(x(step), width - 1), panel.top, bar ? 1 : 0.5, panel.height);
    }
    // Notes, with a darker onset so repeated notes stay apart.
    const colour = PART_COLOURS[panel.index % PART_COLOURS.length];
    // A note with a velocity (GrooVAE) is as opaque as it is loud; its start may be off the grid.
    for (const [part, pitch, start, end, velocity] of phrase.notes) {
      if (part !== panel.index) continue;
      let row;
      if (panel.drums) {
        row = model.drum_lanes.findIndex((lane) => lane.pitch === pitch);
      } else {
        row = Math.min(Math.max(pitch, panel.low), panel.high) - panel.low;
      }
      if (row < 0) continue;
      const y = panel.top + panel.height - (row + 1) * panel.rowHeight;
      g.globalAlpha = velocity === undefined ? 1 : 0.25 + 0.75 * velocity / 127;
      g.fillStyle = colour;
      g.fillRect(x(start), y, Math.max((end - start) * stepWidth - 0.5, 1), panel.rowHeight);
      g.fillStyle = 'rgba(0, 0, 0, 0.35)';
      g.fillRect(x(start), y, Math.max(Math.min(2, stepWidth / 3), 1), panel.rowHeight);
      g.globalAlpha = 1;
    }
    if (!compact && model.parts.length > 1) {
      g.fillStyle = colour;
      g.fillText(panel.part.name, gutter + 3, panel.top + 6);
    }
  }
  if (chordLane) {
    g.fillStyle = '#333';
    for (const [start, , symbol] of phrase.chords) {
      g.fillText(symbol, x(start) + 2, chordLane / 2);
    }
  }
  if (options.playhead !== null && options.playhead !== undefined) {
    g.fillStyle = '#d62728';
    g.fillRect(x(options.playhead), 0, 2, height);
  }
  if (options.highlight) {
    g.strokeStyle = options.highlight;
    g.lineWidth = 3;
    g.strokeRect(1.5, 1.5, width - 3, height - 3);
  }
}
