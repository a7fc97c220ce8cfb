// mvl_studio's page: Sample, Morph and Grid over the server's JSON API (server.py). Phrases come
// from the server as labels + notes (api.py) and go back to it as they came; the page draws
// (roll.js) and plays (audio.js) them itself.

import {Player, renderPhrases, wavBlob} from './audio.js';
import {drawRoll, pitchRange} from './roll.js';

const state = {
  model: null,
  player: null,
  library: new Map(),  // id -> {id, label, phrase}: every phrase on the page, for the slots
  libraryListeners: [],
  rolls: new Set(),  // {canvas, draw}: redrawn when the window changes size
};
let nextId = 1;

// ------------------------------------------------------------------------------------------------
// Small helpers.

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of [].concat(children)) {
    if (child) node.append(child);
  }
  return node;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
}

async function request(path, body, init = {}) {
  const response = await fetch(path, {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body),
    ...init,
  });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      message = (await response.json()).error || message;
    } catch (e) { /* not JSON: keep the status */ }
    throw new Error(message);
  }
  return response;
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = el('a', {href: url, download: filename});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function fileName(label, extension) {
  return `${slug(state.model.name)}_${slug(label)}.${extension}`;
}

async function downloadMidi(phrases, label) {
  const response = await request('/api/midi', {phrases: phrases.map(phraseInput)});
  saveBlob(await response.blob(), fileName(label, 'mid'));
}

async function downloadWav(phrases, label) {
  saveBlob(wavBlob(await renderPhrases(phrases, state.model)), fileName(label, 'wav'));
}

function addRoll(canvas, draw) {
  const roll = {canvas, draw};
  state.rolls.add(roll);
  draw();
  return roll;
}

function redrawRolls() {
  for (const roll of state.rolls) {
    if (roll.canvas.isConnected) roll.draw();
    else state.rolls.delete(roll);
  }
}

// Runs `action` with `button` busy; an error goes to `errorNode`, worded as the server words it.
async function busy(button, busyText, errorNode, action) {
  const text = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  errorNode.textContent = '';
  try {
    await action();
  } catch (error) {
    errorNode.textContent = error.message;
  } finally {
    button.disabled = false;
    button.textContent = text;
  }
}

// ------------------------------------------------------------------------------------------------
// The phrase library (what the slots can pick) and playback.

function register(label, phrase, group) {
  const id = `p${nextId++}`;
  state.library.set(id, {id, label, phrase, group});
  return id;
}

function forgetGroup(group) {
  for (const [id, entry] of state.library) {
    if (entry.group === group) state.library.delete(id);
  }
}

function libraryChanged() {
  for (const listener of state.libraryListeners) listener();
}

let playing = null;  // {button, redraw} of what plays now

function play(phrases, label, {button = null, onStep = () => {}, onEnd = () => {}} = {}) {
  const loop = document.getElementById('loop').checked;
  stopPlaying();
  playing = {button, onEnd};
  if (button) {
    button.textContent = 'Stop';
    button.setAttribute('aria-pressed', 'true');
  }
  document.getElementById('stop').disabled = false;
  document.getElementById('now-playing').textContent = `Playing ${label}${loop ? ' (loop)' : ''}.`;
  state.player.play(phrases, {
    loop,
    onStep,
    onEnd: () => {
      if (button) {
        button.textContent = 'Play';
        button.setAttribute('aria-pressed', 'false');
      }
      document.getElementById('stop').disabled = true;
      document.getElementById('now-playing').textContent = 'Nothing playing.';
      playing = null;
      onEnd();
    },
  });
}

function stopPlaying() {
  state.player.stop();
}

// A card: a phrase's piano roll with Play, MIDI and WAV. options.compact: a small roll.
function phraseCard(phrase, label, options = {}) {
  const canvas = el('canvas', {class: 'roll', role: 'img',
    'aria-label': `Piano roll of ${label}: ${phrase.notes.length} notes`});
  let playhead = null;
  const draw = () => drawRoll(canvas, phrase, state.model,
      {playhead, ranges: options.ranges, compact: options.compact});
  const playButton = el('button', {type: 'button', class: 'play', 'aria-pressed': 'false',
    'aria-label': `Play ${label}`, text: 'Play'});
  playButton.addEventListener('click', () => {
    if (playing && playing.button === playButton) {
      stopPlaying();
      return;
    }
    play([phrase], label, {
      button: playButton,
      onStep: (index, step) => {
        playhead = step;
        draw();
      },
      onEnd: () => {
        playhead = null;
        draw();
      },
    });
  });
  const error = el('p', {class: 'error', role: 'alert'});
  const midiButton = el('button', {type: 'button', class: 'midi',
    'aria-label': `Download ${label} as MIDI`, text: 'MIDI'});
  midiButton.addEventListener('click', () => busy(midiButton, 'MIDI…', error,
      () => downloadMidi([phrase], label)));
  const wavButton = el('button', {type: 'button', class: 'wav',
    'aria-label': `Download ${label} as WAV`, text: 'WAV'});
  wavButton.addEventListener('click', () => busy(wavButton, 'WAV…', error,
      () => downloadWav([phrase], label)));
  const card = el('article', {class: 'card', 'data-notes': phrase.notes.length}, [
    el('h3', {text: label}),
    canvas,
    el('div', {class: 'actions'}, [playButton, midiButton, wavButton]),
    error,
  ]);
  addRoll(canvas, draw);
  return card;
}

// ------------------------------------------------------------------------------------------------
// Forms.

function formValues(form) {
  const values = {};
  for (const input of form.querySelectorAll('input')) {
    if (input.closest('[hidden]') || input.value === '') continue;
    values[input.name] = input.type === 'text' ? input.value : Number(input.value);
  }
  return values;
}

function setUpForm(form) {
  const range = form.querySelector('input[name=temperature]');
  const output = form.querySelector('output[name=temperature-value]');
  range.max = Math.min(2, state.model.limits.max_temperature);
  range.addEventListener('input', () => { output.textContent = range.value; });
  if (state.model.capabilities.includes('chords')) {
    form.querySelector('.chords').hidden = false;
  }
}

// ------------------------------------------------------------------------------------------------
// Sample.

function setUpSample() {
  const form = document.getElementById('sample-form');
  const panel = document.getElementById('panel-sample');
  const error = panel.querySelector(':scope > .error');
  form.elements.n.max = state.model.limits.max_samples;
  if (state.model.default_chords) form.elements.chords.value = state.model.default_chords;
  setUpForm(form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    busy(button, 'Sampling…', error, async () => {
      const result = await (await request('/api/sample', formValues(form))).json();
      const list = document.getElementById('samples');
      list.replaceChildren();
      forgetGroup('sample');
      // One pitch scale for all, so that the rolls compare at a glance.
      const ranges = state.model.parts.map((part, index) => pitchRange(result.phrases, index));
      result.phrases.forEach((phrase, index) => {
        const label = `Sample ${index + 1}`;
        register(label, phrase, 'sample');
        list.append(phraseCard(phrase, label, {ranges}));
      });
      libraryChanged();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Slots: where Morph and Grid get their phrases (a dropped or chosen MIDI file, or a phrase on
// the page).

class Slot {
  constructor(title, onChange) {
    this.title = title;
    this.file = null;  // {name, phrases, first} from /api/windows
    this.phrase = null;
    this.onChange = onChange;
    const id = slug(title);
    this.input = el('input', {type: 'file', accept: '.mid,.midi,audio/midi,audio/x-midi',
      id: `${id}-file`});
    this.windowInput = el('input', {type: 'number', min: 1, value: 1, id: `${id}-window`});
    this.windowCount = el('span');
    this.windowLabel = el('label', {class: 'window', hidden: true},
        ['Window ', this.windowInput, ' of ', this.windowCount]);
    this.select = el('select', {id: `${id}-pick`});
    this.canvas = el('canvas', {class: 'roll preview', role: 'img',
      'aria-label': `${title}: empty`});
    this.message = el('p', {class: 'message', role: 'status'});
    this.error = el('p', {class: 'error', role: 'alert'});
    this.playButton = el('button', {type: 'button', class: 'play', 'aria-pressed': 'false',
      'aria-label': `Play ${title}`, text: 'Play', disabled: true});
    this.element = el('fieldset', {class: 'slot'}, [
      el('legend', {text: title}),
      el('div', {class: 'drop'}, [
        el('label', {}, ['MIDI file ', this.input]),
        el('span', {class: 'hint', text: 'or drop one here'}),
      ]),
      this.windowLabel,
      el('label', {}, ['Or a phrase on the page ', this.select]),
      this.canvas,
      el('div', {class: 'actions'}, [this.playButton]),
      this.message,
      this.error,
    ]);
    this.input.addEventListener('change', () => {
      if (this.input.files.length) this.upload(this.input.files[0]);
    });
    this.element.addEventListener('dragover', (event) => {
      event.preventDefault();
      this.element.classList.add('dragging');
    });
    this.element.addEventListener('dragleave', () => this.element.classList.remove('dragging'));
    this.element.addEventListener('drop', (event) => {
      event.preventDefault();
      this.element.classList.remove('dragging');
      if (event.dataTransfer.files.length) this.upload(event.dataTransfer.files[0]);
    });
    this.windowInput.addEventListener('change', () => this.chooseWindow());
    this.select.addEventListener('change', () => {
      const entry = state.library.get(this.select.value);
      if (entry) {
        this.file = null;
        this.windowLabel.hidden = true;
        this.input.value = '';
        this.set(entry.phrase, entry.label, '');
      }
    });
    this.playButton.addEventListener('click', () => {
      if (playing && playing.button === this.playButton) stopPlaying();
      else if (this.phrase) {
        play([this.phrase], `${this.title} (${this.label})`, {button: this.playButton});
      }
    });
    addRoll(this.canvas, () => this.draw());
    state.libraryListeners.push(() => this.refreshChoices());
    this.refreshChoices();
  }

  draw() {
    if (this.phrase) drawRoll(this.canvas, this.phrase, state.model, {compact: true});
    else {
      this.canvas.height = 0;
      this.canvas.style.height = '0px';
    }
  }

  set(phrase, label, message) {
    this.phrase = phrase;
    this.label = label;
    this.message.textContent = message;
    this.error.textContent = '';
    this.playButton.disabled = false;
    this.canvas.setAttribute('aria-label', `${this.title}: ${label}, ${phrase.notes.length} notes`);
    this.draw();
    this.onChange();
  }

  refreshChoices() {
    const chosen = this.select.value;
    this.select.replaceChildren(el('option', {value: '', text: '—'}));
    for (const entry of state.library.values()) {
      this.select.append(el('option', {value: entry.id, text: entry.label}));
    }
    this.select.value = state.library.has(chosen) ? chosen : '';
  }

  async upload(file) {
    const previous = this.message.textContent;
    this.error.textContent = '';
    this.message.textContent = `Reading ${file.name}…`;
    // At most one byte over the limit goes up: enough for the server to refuse it by name.
    const body = file.slice(0, state.model.limits.max_upload_bytes + 1);
    try {
      const response = await fetch(`/api/windows?name=${encodeURIComponent(file.name)}`, {
        method: 'POST', headers: {'Content-Type': 'application/octet-stream'}, body});
      const result = await response.json();
      if (!response.ok) {
        throw new Error(result.error || `${response.status} ${response.statusText}`);
      }
      this.file = result;
      this.select.value = '';
      this.windowInput.max = result.phrases.length;
      this.windowInput.value = result.first + 1;
      this.windowCount.textContent = result.phrases.length;
      this.windowLabel.hidden = false;
      this.chooseWindow(true);
    } catch (error) {
      // The slot keeps what it had (and the file field, no file: the error names the one refused).
      this.input.value = '';
      this.message.textContent = previous;
      this.error.textContent = error.message;
    }
  }

  chooseWindow(picked = false) {
    if (!this.file) return;
    const count = this.file.phrases.length;
    const index = Math.min(Math.max(Math.round(Number(this.windowInput.value)) || 1, 1), count) - 1;
    this.windowInput.value = index + 1;
    const why = picked ? (index === this.file.first && this.file.phrases[index].notes.length
      ? ' (the first that starts with a note)' : '') : ' (chosen)';
    this.set(this.file.phrases[index], `${this.file.name} window ${index + 1}`,
        `${this.file.name}: window ${index + 1} of ${count}${why}.`);
  }
}

// What the server needs of a phrase it sent: its labels (and chords), or its arrays (GrooVAE).
function phraseInput(phrase) {
  if (phrase.arrays) return {arrays: phrase.arrays};
  return {labels: phrase.labels, controls: phrase.controls};
}

// ------------------------------------------------------------------------------------------------
// Morph.

function setUpMorph() {
  const form = document.getElementById('morph-form');
  const panel = document.getElementById('panel-morph');
  const error = panel.querySelector(':scope > .error');
  form.elements.steps.max = state.model.limits.max_morph_steps;
  setUpForm(form);
  const slots = [new Slot('Start', () => {}), new Slot('End', () => {})];
  document.getElementById('morph-slots').append(...slots.map((slot) => slot.element));
  const slider = document.getElementById('morph-slider');
  const stepLabel = document.getElementById('morph-step-label');
  const strip = document.getElementById('morph-strip');
  const selected = document.getElementById('morph-selected');
  const playAll = document.getElementById('morph-play-all');
  let phrases = [];
  let cells = [];

  const select = (index, andPlay) => {
    slider.value = index + 1;
    stepLabel.textContent = `${index + 1} of ${phrases.length}`;
    cells.forEach((cell, i) => cell.classList.toggle('selected', i === index));
    const card = phraseCard(phrases[index], `Morph step ${index + 1}`);
    selected.replaceChildren(card);
    if (andPlay) card.querySelector('button.play').click();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    busy(button, 'Morphing…', error, async () => {
      const missing = slots.filter((slot) => !slot.phrase).map((slot) => slot.title.toLowerCase());
      if (missing.length) {
        throw new Error(`Choose the ${missing.join(' and ')} phrase first: a MIDI file or a ` +
            'phrase on the page.');
      }
      const body = {...formValues(form), start: phraseInput(slots[0].phrase),
        end: phraseInput(slots[1].phrase)};
      const result = await (await request('/api/morph', body)).json();
      phrases = result.phrases;
      forgetGroup('morph');
      const ranges = state.model.parts.map((part, index) => pitchRange(phrases, index));
      cells = phrases.map((phrase, index) => {
        const label = `Morph step ${index + 1}`;
        register(label, phrase, 'morph');
        const canvas = el('canvas', {class: 'roll', role: 'img',
          'aria-label': `${label}: ${phrase.notes.length} notes`});
        const cell = el('button', {type: 'button', class: 'step', 'aria-label': `Play ${label}`},
            [canvas, el('span', {text: String(index + 1)})]);
        cell.addEventListener('click', () => select(index, true));
        addRoll(canvas, () => drawRoll(canvas, phrase, state.model, {compact: true, ranges}));
        return cell;
      });
      strip.replaceChildren(...cells);
      slider.max = phrases.length;
      document.getElementById('morph-result').hidden = false;
      redrawRolls();
      select(0, false);
      libraryChanged();
    });
  });
  slider.addEventListener('input', () => select(Number(slider.value) - 1, true));
  playAll.addEventListener('click', () => {
    if (playing && playing.button === playAll) {
      stopPlaying();
      return;
    }
    play(phrases, 'the whole morph', {
      button: playAll,
      onStep: (index) => {
        if (Number(slider.value) !== index + 1) {
          slider.value = index + 1;
          stepLabel.textContent = `${index + 1} of ${phrases.length}`;
          cells.forEach((cell, i) => cell.classList.toggle('selected', i === index));
        }
      },
    });
  });
  const download = document.getElementById('morph-download');
  download.addEventListener('click', () => busy(download, 'Downloading…', error,
      () => downloadMidi(phrases, 'morph')));
}

// ------------------------------------------------------------------------------------------------
// Grid.

function setUpGrid() {
  const form = document.getElementById('grid-form');
  const panel = document.getElementById('panel-grid');
  const error = panel.querySelector(':scope > .error');
  form.elements.size.max = state.model.limits.max_grid_size;
  setUpForm(form);
  const names = ['Top left', 'Top right', 'Bottom left', 'Bottom right'];
  const slots = names.map((name) => new Slot(name, () => {}));
  document.getElementById('grid-slots').append(...slots.map((slot) => slot.element));
  const grid = document.getElementById('grid');
  const selected = document.getElementById('grid-selected');

  const focusCell = (cell) => {
    for (const other of grid.querySelectorAll('[role=gridcell]')) other.tabIndex = -1;
    cell.tabIndex = 0;
    cell.focus();
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    busy(button, 'Making the grid…', error, async () => {
      const missing = slots.filter((slot) => !slot.phrase).map((slot) => slot.title.toLowerCase());
      if (missing.length) {
        throw new Error(`Choose the ${missing.join(', ')} corner first: a MIDI file or a ` +
            'phrase on the page.');
      }
      const body = {...formValues(form), corners: slots.map((slot) => phraseInput(slot.phrase))};
      const result = await (await request('/api/grid', body)).json();
      const rows = result.rows;
      const size = rows.length;
      forgetGroup('grid');
      const all = rows.flat();
      const ranges = state.model.parts.map((part, index) => pitchRange(all, index));
      grid.style.setProperty('--size', size);
      grid.replaceChildren(...rows.map((row, r) => el('div', {role: 'row', class: 'grid-row'},
          row.map((phrase, c) => {
            const label = `Grid row ${r + 1} column ${c + 1}`;
            register(label, phrase, 'grid');
            const corner = (r === 0 || r === size - 1) && (c === 0 || c === size - 1);
            const canvas = el('canvas', {class: 'roll', 'aria-hidden': 'true'});
            const cell = el('div', {role: 'gridcell', tabindex: r === 0 && c === 0 ? 0 : -1,
              class: corner ? 'cell corner' : 'cell',
              'aria-label': `${label}: ${phrase.notes.length} notes`,
              'data-row': r, 'data-column': c}, [canvas]);
            const choose = () => {
              for (const other of grid.querySelectorAll('.selected')) {
                other.classList.remove('selected');
              }
              cell.classList.add('selected');
              focusCell(cell);
              const card = phraseCard(phrase, label);
              selected.replaceChildren(card);
              card.querySelector('button.play').click();
            };
            cell.addEventListener('click', choose);
            cell.addEventListener('keydown', (keyEvent) => {
              const moves = {ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0],
                ArrowDown: [1, 0]};
              if (keyEvent.key === 'Enter' || keyEvent.key === ' ') {
                keyEvent.preventDefault();
                choose();
              } else if (moves[keyEvent.key]) {
                keyEvent.preventDefault();
                const [dr, dc] = moves[keyEvent.key];
                const target = grid.querySelector(
                    `[data-row="${r + dr}"][data-column="${c + dc}"]`);
                if (target) focusCell(target);
              }
            });
            addRoll(canvas, () => drawRoll(canvas, phrase, state.model, {compact: true, ranges}));
            return cell;
          }))));
      selected.replaceChildren();
      redrawRolls();
      libraryChanged();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Attributes: sliders that move z along the run's attribute vectors (mvl_attributes makes them).

function setUpAttributes() {
  const model = state.model;
  const tab = document.getElementById('tab-attributes');
  if (!model.attributes.length && !model.attributes_note) return;  // a family without attributes
  tab.hidden = false;
  if (!model.attributes.length) {  // the family has attributes, the run no vectors: say how
    const note = document.getElementById('attributes-note');
    note.textContent = model.attributes_note;
    note.hidden = false;
    document.getElementById('attributes-tools').hidden = true;
    return;
  }
  const form = document.getElementById('attributes-form');
  const panel = document.getElementById('panel-attributes');
  const error = panel.querySelector(':scope > #attributes-tools > .error');
  const result = document.getElementById('attributes-result');
  form.elements.n.max = model.limits.max_samples;
  if (model.default_chords) form.elements.chords.value = model.default_chords;
  setUpForm(form);
  const slot = new Slot('Phrase', () => {});
  document.getElementById('attributes-slots').append(slot.element);
  const fieldset = document.getElementById('attribute-sliders');
  const sliders = model.attributes.map((attribute) => {
    const input = el('input', {type: 'range', id: `attribute-${attribute.name}`,
      name: attribute.name, min: -model.limits.max_strength, max: model.limits.max_strength,
      step: 0.25, value: 0, title: `${attribute.description} (${attribute.unit})`});
    const output = el('output', {for: input.id, text: '0'});
    input.addEventListener('input', () => {
      output.textContent = (Number(input.value) > 0 ? '+' : '') + input.value;
    });
    fieldset.append(el('label', {}, [
      el('span', {class: 'name', text: attribute.name.replace(/_/g, ' ')}), input, output]));
    return input;
  });
  const strengths = () => Object.fromEntries(sliders.filter((input) => Number(input.value))
      .map((input) => [input.name, Number(input.value)]));
  const describe = (moves) => Object.entries(moves)
      .map(([name, value]) => `${name} ${value > 0 ? '+' : ''}${value}`).join(', ');
  const show = (phrases, labels) => {
    forgetGroup('attributes');
    const ranges = model.parts.map((part, index) => pitchRange(phrases, index));
    result.replaceChildren(...phrases.map((phrase, index) => {
      register(labels[index], phrase, 'attributes');
      return phraseCard(phrase, labels[index], {ranges});
    }));
    libraryChanged();
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = document.getElementById('attributes-move');
    busy(button, 'Moving…', error, async () => {
      if (!slot.phrase) {
        throw new Error('Choose the phrase first: a MIDI file or a phrase on the page.');
      }
      const moves = strengths();
      // n is for sampling; a moved phrase keeps its own chords.
      const {n, chords, ...rest} = formValues(form);  // eslint-disable-line no-unused-vars
      const body = {...rest, phrase: phraseInput(slot.phrase), attributes: moves};
      const phrases = (await (await request('/api/shift', body)).json()).phrases;
      show(phrases, model.shift_scales.map((scale) =>
        `${slot.label} × ${scale} (${describe(moves)})`));
    });
  });
  const sampleButton = document.getElementById('attributes-sample');
  sampleButton.addEventListener('click', () => busy(sampleButton, 'Sampling…', error,
      async () => {
        const moves = strengths();
        const body = {...formValues(form), attributes: moves};
        const phrases = (await (await request('/api/sample', body)).json()).phrases;
        const what = Object.keys(moves).length ? describe(moves) : 'no move';
        show(phrases, phrases.map((phrase, index) => `Moved sample ${index + 1} (${what})`));
      }));
  document.getElementById('attributes-reset').addEventListener('click', () => {
    for (const input of sliders) {
      input.value = 0;
      input.dispatchEvent(new Event('input'));
    }
  });
}

// ------------------------------------------------------------------------------------------------
// Groove: a drum phrase through a GrooVAE model (humanize, drumify, add a drum), as mvl_groove.

function setUpGroove() {
  const model = state.model;
  if (!model.capabilities.includes('groove')) return;
  document.getElementById('tab-groove').hidden = false;
  const form = document.getElementById('groove-form');
  const panel = document.getElementById('panel-groove');
  const error = panel.querySelector(':scope > .error');
  const result = document.getElementById('groove-result');
  const button = form.querySelector('button[type=submit]');
  button.textContent = model.groove_action;
  setUpForm(form);
  const slot = new Slot('Drums', () => {});
  document.getElementById('groove-slots').append(slot.element);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, 'Working…', error, async () => {
      if (!slot.phrase) {
        throw new Error('Choose the drums first: a MIDI file or a phrase on the page.');
      }
      const body = {...formValues(form), phrase: phraseInput(slot.phrase)};
      const [output] = (await (await request('/api/groove', body)).json()).phrases;
      forgetGroup('groove');
      const labels = [slot.label, `${model.groove_action}: ${slot.label}`];
      const phrases = [slot.phrase, output];
      const ranges = model.parts.map((part, index) => pitchRange(phrases, index));
      result.replaceChildren(...phrases.map((phrase, index) => {
        register(labels[index], phrase, 'groove');
        return phraseCard(phrase, labels[index], {ranges});
      }));
      libraryChanged();
    });
  });
}

// ------------------------------------------------------------------------------------------------
// Tabs (arrow keys move between them, as the ARIA tabs pattern has it).

function setUpTabs() {
  const tabs = [...document.querySelectorAll('[role=tab]')].filter((tab) => !tab.hidden);
  const show = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute('aria-controls')).hidden = !selected;
    }
    redrawRolls();
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => show(tab));
    tab.addEventListener('keydown', (event) => {
      const step = {ArrowRight: 1, ArrowLeft: -1}[event.key];
      if (step) {
        const next = tabs[(index + step + tabs.length) % tabs.length];
        next.focus();
        show(next);
      }
    });
  });
}

// ------------------------------------------------------------------------------------------------

async function start() {
  const info = document.getElementById('model-info');
  try {
    const response = await fetch('/api/model');
    if (!response.ok) throw new Error((await response.json()).error);
    state.model = await response.json();
  } catch (error) {
    info.textContent = `The model could not be loaded: ${error.message}`;
    return;
  }
  const model = state.model;
  const bars = model.num_steps / model.steps_per_bar;
  const family = model.parts.map((part) => part.name).join(' + ');
  info.textContent = `${model.name}: ${family}, ${bars} bars, step ${model.step}` +
      (model.capabilities.includes('chords') ? ', follows chords' : '');
  state.player = new Player(model);
  document.getElementById('stop').addEventListener('click', stopPlaying);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') stopPlaying();
  });
  setUpSample();
  setUpMorph();
  setUpGrid();
  // Further capabilities (api.StudioApi.info's list) get their controls here, one setUp each.
  setUpAttributes();
  setUpGroove();
  setUpTabs();  // after them: a capability's tab is shown (unhidden) by its setUp
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(redrawRolls, 100);
  });
  document.body.dataset.ready = 'true';
}

start();
