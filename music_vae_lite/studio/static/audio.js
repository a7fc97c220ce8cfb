// Sound with Web Audio only (no samples, no sound fonts): a plucked two-oscillator lead for
// melodies, a filtered saw bass, a quiet sine pad for a chord model's chords, and a drum kit
// synthesized from sine sweeps and noise, one voice per class of the model's nine drums.
//
// One function, schedulePhrases, plays phrases into any BaseAudioContext: the page's live
// AudioContext (Player) and an OfflineAudioContext (renderPhrases, the WAV download), so what
// is downloaded is what is heard. Every note starts from silence with a fast attack and decays,
// so each note is a distinct onset.

const ATTACK = 0.005;
const RELEASE = 0.04;
// Drum lanes in the order of the model's drum_lanes (drums.DRUM_PITCH_CLASSES).
const DRUM_VOICES = ['kick', 'snare', 'closedHat', 'openHat', 'tom', 'tom', 'tom', 'crash', 'ride'];
const TOM_HZ = [110, 150, 200];

function midiHz(pitch) {
  return 440 * Math.pow(2, (pitch - 69) / 12);
}

export function stepSeconds(model) {
  return 60 / model.qpm / model.steps_per_quarter;
}

export function phraseSeconds(model) {
  return model.num_steps * stepSeconds(model);
}

// One second of white noise per context, from a fixed seed (renders are repeatable).
const noiseBuffers = new WeakMap();
function noise(ctx) {
  let buffer = noiseBuffers.get(ctx);
  if (!buffer) {
    buffer = ctx.createBuffer(1, ctx.sampleRate, ctx.sampleRate);
    const data = buffer.getChannelData(0);
    let state = 12345;
    for (let i = 0; i < data.length; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      data[i] = (state / 2147483648) - 1;
    }
    noiseBuffers.set(ctx, buffer);
  }
  return buffer;
}

// A gain node shaped as attack, exponential decay to `sustain` x peak, and a release at `end`.
function envelope(ctx, destination, start, end, peak, sustain, decay) {
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(peak, start + ATTACK);
  gain.gain.setTargetAtTime(peak * sustain, start + ATTACK, decay);
  // The release starts from wherever the decay has got to at `end`.
  gain.gain.setTargetAtTime(0, Math.max(end, start + 2 * ATTACK), RELEASE / 3);
  gain.connect(destination);
  return gain;
}

function oscillator(ctx, type, hz, destination, start, stop) {
  const osc = ctx.createOscillator();
  osc.type = type;
  osc.frequency.setValueAtTime(hz, start);
  osc.connect(destination);
  osc.start(start);
  osc.stop(stop);
  return osc;
}

function lead(ctx, out, pitch, start, end) {
  const env = envelope(ctx, out, start, end, 0.3, 0.25, 0.04);
  // The same six harmonics at every pitch, so that high and low notes sound as loud.
  const filter = ctx.createBiquadFilter();
  filter.type = 'lowpass';
  filter.frequency.value = Math.min(midiHz(pitch) * 6, 16000);
  filter.Q.value = 0;
  filter.connect(env);
  oscillator(ctx, 'triangle', midiHz(pitch), filter, start, end + RELEASE * 3);
  const square = ctx.createGain();
  square.gain.value = 0.25;
  square.connect(filter);
  oscillator(ctx, 'square', midiHz(pitch), square, start, end + RELEASE * 3);
}

function bass(ctx, out, pitch, start, end) {
  const env = envelope(ctx, out, start, end, 0.35, 0.35, 0.06);
  const filter = ctx.createBiquadFilter();
  filter.type = 'lowpass';
  filter.frequency.value = 700;
  filter.connect(env);
  oscillator(ctx, 'sawtooth', midiHz(pitch), filter, start, end + RELEASE * 3);
}

function pad(ctx, out, pitches, start, end) {
  for (const pitch of pitches) {
    const env = envelope(ctx, out, start, end, 0.04, 0.8, 0.3);
    oscillator(ctx, 'sine', midiHz(pitch), env, start, end + RELEASE * 3);
  }
}

// A burst of noise through a filter, decaying with time constant `decay`.
function noiseHit(ctx, out, start, peak, decay, type, hz) {
  const source = ctx.createBufferSource();
  source.buffer = noise(ctx);
  const filter = ctx.createBiquadFilter();
  filter.type = type;
  filter.frequency.value = hz;
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(peak, start + 0.002);
  gain.gain.setTargetAtTime(0, start + 0.002, decay);
  source.connect(filter).connect(gain).connect(out);
  source.start(start);
  source.stop(start + Math.min(decay * 8, 1));
}

// A sine whose pitch falls from `fromHz` to `toHz`: kick and toms.
function sweep(ctx, out, start, peak, fromHz, toHz, decay) {
  const osc = ctx.createOscillator();
  osc.frequency.setValueAtTime(fromHz, start);
  osc.frequency.exponentialRampToValueAtTime(toHz, start + decay);
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(peak, start + 0.002);
  gain.gain.setTargetAtTime(0, start + 0.002, decay / 2);
  osc.connect(gain).connect(out);
  osc.start(start);
  osc.stop(start + decay * 5);
}

// `level`: 1 for a hit of velocity 100 (a label family's hits, which carry no velocity).
function drum(ctx, out, lane, start, level = 1) {
  const hit = ctx.createGain();
  hit.gain.value = level;
  hit.connect(out);
  out = hit;  // eslint-disable-line no-param-reassign
  switch (DRUM_VOICES[lane]) {
    case 'kick': sweep(ctx, out, start, 0.9, 150, 45, 0.12); break;
    case 'snare':
      noiseHit(ctx, out, start, 0.45, 0.05, 'highpass', 1200);
      sweep(ctx, out, start, 0.3, 220, 160, 0.05);
      break;
    case 'closedHat': noiseHit(ctx, out, start, 0.18, 0.015, 'highpass', 7000); break;
    case 'openHat': noiseHit(ctx, out, start, 0.16, 0.09, 'highpass', 7000); break;
    case 'tom': {
      const hz = TOM_HZ[lane - 4];
      sweep(ctx, out, start, 0.6, hz * 1.4, hz, 0.12);
      break;
    }
    case 'crash': noiseHit(ctx, out, start, 0.2, 0.3, 'highpass', 4000); break;
    case 'ride': noiseHit(ctx, out, start, 0.12, 0.15, 'bandpass', 9000); break;
    default: break;
  }
}

// Schedules `phrases` one after another from `when` (context seconds) into `out`. Returns the
// time the last one ends.
export function schedulePhrases(ctx, out, phrases, model, when, options = {}) {
  const step = stepSeconds(model);
  const lanes = new Map(model.drum_lanes.map((lane, index) => [lane.pitch, index]));
  let start = when;
  for (const phrase of phrases) {
    for (const [part, pitch, from, to, velocity] of phrase.notes) {
      const kind = model.parts[part].kind;
      const t0 = start + from * step;
      const t1 = start + to * step;
      if (kind === 'drums') {
        drum(ctx, out, lanes.get(pitch) ?? 1, t0, velocity === undefined ? 1 : velocity / 100);
      } else if (part === 0) {
        lead(ctx, out, pitch, t0, t1);
      } else {
        bass(ctx, out, pitch, t0, t1);
      }
    }
    if (options.chords !== false) {
      for (const [from, to, , pitches] of phrase.chords || []) {
        pad(ctx, out, pitches, start + from * step, start + to * step);
      }
    }
    start += phraseSeconds(model);
  }
  return start;
}

// Renders phrases offline: an AudioBuffer (mono) of them one after another and a second of tail.
export async function renderPhrases(phrases, model, sampleRate = 44100) {
  const seconds = phrases.length * phraseSeconds(model) + 1;
  const ctx = new OfflineAudioContext(1, Math.ceil(seconds * sampleRate), sampleRate);
  const out = ctx.createGain();
  out.connect(ctx.destination);
  schedulePhrases(ctx, out, phrases, model, 0);
  return ctx.startRendering();
}

// An AudioBuffer as a 16-bit PCM WAV file (a Blob).
export function wavBlob(buffer) {
  const data = buffer.getChannelData(0);
  const bytes = new DataView(new ArrayBuffer(44 + data.length * 2));
  const text = (offset, value) => {
    for (let i = 0; i < value.length; i++) bytes.setUint8(offset + i, value.charCodeAt(i));
  };
  text(0, 'RIFF');
  bytes.setUint32(4, 36 + data.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  bytes.setUint32(16, 16, true);
  bytes.setUint16(20, 1, true);  // PCM
  bytes.setUint16(22, 1, true);  // mono
  bytes.setUint32(24, buffer.sampleRate, true);
  bytes.setUint32(28, buffer.sampleRate * 2, true);
  bytes.setUint16(32, 2, true);
  bytes.setUint16(34, 16, true);
  text(36, 'data');
  bytes.setUint32(40, data.length * 2, true);
  for (let i = 0; i < data.length; i++) {
    const sample = Math.max(-1, Math.min(1, data[i]));
    bytes.setInt16(44 + i * 2, Math.round(sample * 32767), true);
  }
  return new Blob([bytes], {type: 'audio/wav'});
}

// Plays phrases on the page: one thing at a time, looped or not. onStep(index, step) is called
// every animation frame while playing (index: which phrase of the list), onEnd when it stops.
export class Player {
  constructor(model) {
    this.model = model;
    this.ctx = null;
    this.bus = null;
    this.timer = null;
    this.frame = null;
    this.handlers = null;
  }

  get playing() {
    return this.bus !== null;
  }

  play(phrases, {loop = false, onStep = () => {}, onEnd = () => {}} = {}) {
    this.stop();
    if (!this.ctx) {
      this.ctx = new AudioContext();
    }
    if (this.ctx.state === 'suspended') {
      this.ctx.resume();
    }
    const ctx = this.ctx;
    const bus = ctx.createGain();
    bus.connect(ctx.destination);
    this.bus = bus;
    this.handlers = {onEnd};
    const duration = phrases.length * phraseSeconds(this.model);
    const first = ctx.currentTime + 0.05;
    let next = schedulePhrases(ctx, bus, phrases, this.model, first);
    // Looping: schedule the next pass a little before this one ends.
    const tick = () => {
      if (this.bus !== bus) return;
      if (loop && ctx.currentTime > next - 0.3) {
        next = schedulePhrases(ctx, bus, phrases, this.model, next);
      }
      if (!loop && ctx.currentTime > next + RELEASE * 3) {
        this.stop();
        return;
      }
      this.timer = setTimeout(tick, 50);
    };
    tick();
    const step = stepSeconds(this.model);
    const animate = () => {
      if (this.bus !== bus) return;
      const elapsed = Math.max(ctx.currentTime - first, 0) % (loop ? duration : Infinity);
      if (elapsed < duration) {
        const index = Math.floor(elapsed / phraseSeconds(this.model));
        onStep(index, (elapsed - index * phraseSeconds(this.model)) / step);
      }
      this.frame = requestAnimationFrame(animate);
    };
    this.frame = requestAnimationFrame(animate);
  }

  stop() {
    if (!this.bus) return;
    const bus = this.bus;
    const {onEnd} = this.handlers;
    this.bus = null;
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
    // A short fade, then nothing scheduled on this bus reaches the speakers.
    bus.gain.setTargetAtTime(0, this.ctx.currentTime, 0.01);
    setTimeout(() => bus.disconnect(), 100);
    onEnd();
  }
}
