"""A cheap look at a Standard MIDI File's chunks before the real reader sees it.

note_seq reads MIDI through pretty_midi and mido, which build one Python object per event and an
array of ~24 bytes per tick (pretty_midi's tick-to-time map, with note_seq lifting pretty_midi's own
tick limit). So a 44-byte file holding one delta time of 0x0FFFFFFF ticks asks for gigabytes before
any length check runs. `check_midi` walks the bytes the way mido does (header, then each track's
variable-length delta times and event lengths) without building anything per event or per tick,
and names what would be too big: too many bars, ticks or events, a time division the reader
cannot handle (SMPTE), or a track cut short. Anything else that is odd is left to the real reader,
whose error is then reported as it is.
"""
import struct
from typing import NamedTuple

# Peak bytes that pretty_midi needs per tick of the file's last event (float64 map, int64 tick
# range and a float64 temporary); used only to say why a tick count is too large.
READER_BYTES_PER_TICK = 24

# Data bytes after the status byte of each channel message kind (high nibble).
_CHANNEL_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
# mido refuses meta and sysex data longer than this (mido.midifiles.midifiles.MAX_MESSAGE_LENGTH).
_MIDO_MAX_MESSAGE_LENGTH = 1_000_000


class MidiLimits(NamedTuple):
  max_bars: int  # in 4/4 bars: quarter notes / 4
  max_ticks: int  # of the last event in any track
  max_events: int  # in all tracks together


class Summary(NamedTuple):
  division: int  # ticks per quarter note (negative high byte: SMPTE)
  num_tracks: int  # as the header says
  max_tick: int  # of the last event read in any track
  num_events: int  # read in all tracks
  problem: str | None  # a structural problem found, as a report reason


class _Truncated(Exception):
  pass


def _variable_int(data, position, end):
  """(value, new position) of a variable-length quantity, as mido reads it (no length cap)."""
  value = 0
  while True:
    if position >= end:
      raise _Truncated()
    byte = data[position]
    position += 1
    value = (value << 7) | (byte & 0x7F)
    if byte < 0x80:
      return value, position


def _scan_track(data, start, size, limits, events_before):
  """(max tick, events, problem or None, position after the track) of the track at `start`.

  Walks as mido's read_track does: event after event until it stands exactly `size` bytes after
  `start` (an event that runs past the track's end makes mido read on into what follows, and so
  does this), raising _Truncated where mido would hit the end of the file. Stops early, with
  problem 'limit', at `limits` (so a track of millions of tiny events costs no more than the
  limit), and with problem 'reader' where mido would stop with an error of its own, which the
  reader then reports.
  """
  position, end = start, len(data)
  tick, events, running_status = 0, 0, None
  while position - start != size:
    delta, position = _variable_int(data, position, end)
    tick += delta
    events += 1
    if tick > limits.max_ticks or events_before + events > limits.max_events:
      return tick, events, 'limit', position
    if position >= end:
      raise _Truncated()
    status = data[position]
    position += 1
    if status < 0x80:  # running status: this byte is the first data byte
      if running_status is None:
        return tick, events, 'reader', position  # mido: 'running status without last_status'
      status, position = running_status, position - 1
    elif status != 0xFF:
      running_status = status
    if status == 0xFF:  # meta event: type, length, data
      if position >= end:
        raise _Truncated()
      length, position = _variable_int(data, position + 1, end)
    elif status in (0xF0, 0xF7):  # sysex: length, data
      length, position = _variable_int(data, position, end)
    elif status >> 4 in _CHANNEL_DATA_BYTES:
      length = _CHANNEL_DATA_BYTES[status >> 4]
      if position + length > end:
        raise _Truncated()
      if any(byte > 0x7F for byte in data[position:position + length]):
        return tick, events, 'reader', position  # mido: 'data byte must be in range 0..127'
    else:
      return tick, events, 'reader', position  # mido: 'undefined status byte'
    if length > _MIDO_MAX_MESSAGE_LENGTH:
      return tick, events, 'reader', position  # mido: 'Message length ... exceeds maximum'
    position += length
    if position > end:
      raise _Truncated()
  return tick, events, None, position


def scan(data, limits):
  """A `Summary` of the SMF in `data` (bytes starting with b'MThd'); reads nothing per tick."""
  if len(data) < 14:
    return Summary(0, 0, 0, 0, f'corrupt MIDI: truncated header ({len(data)} bytes)')
  header_size, _, num_tracks, division = struct.unpack('>LHHh', data[4:14])
  if header_size < 6:
    return Summary(division, num_tracks, 0, 0,
                   f'corrupt MIDI: header chunk of {header_size} bytes (at least 6 expected)')
  if 8 + header_size > len(data):
    return Summary(division, num_tracks, 0, 0,
                   f'corrupt MIDI: truncated: the header chunk is {header_size} bytes long by its '
                   f'header, but the file ends {len(data) - 8} bytes into it')
  position = 8 + header_size
  max_tick, num_events = 0, 0
  for track in range(num_tracks):
    where = f'track {track + 1} of {num_tracks}'
    if position + 8 > len(data):
      return Summary(division, num_tracks, max_tick, num_events,
                     f'corrupt MIDI: truncated: the file ends before {where}')
    if data[position:position + 4] != b'MTrk':
      break  # the reader says what it found instead
    (size,) = struct.unpack('>L', data[position + 4:position + 8])
    start = position + 8
    try:
      tick, events, problem, position = _scan_track(data, start, size, limits, num_events)
    except _Truncated:
      available = len(data) - start
      if size > available:
        return Summary(division, num_tracks, max_tick, num_events,
                       f'corrupt MIDI: truncated: {where} is {size} bytes long by its header, '
                       f'but the file ends {available} bytes into it')
      return Summary(division, num_tracks, max_tick, num_events,
                     f"corrupt MIDI: truncated: an event of {where} runs past the track's end "
                     "and the file's")
    max_tick, num_events = max(max_tick, tick), num_events + events
    if problem is not None:  # 'limit', or 'reader': the reader will name its error
      return Summary(division, num_tracks, max_tick, num_events, problem)
  return Summary(division, num_tracks, max_tick, num_events, None)


def check_midi(data, limits):
  """None if `data` (an SMF starting with b'MThd') may go to the MIDI reader, else the reason.

  Reasons: 'unsupported MIDI: SMPTE time division ...', 'too long: N bars > L bar limit ...',
  'too large to parse: ...' (ticks or events over their limits) and 'corrupt MIDI: ...' (a
  truncated header or track, a time division of 0).
  """
  summary = scan(data, limits)
  if summary.problem not in (None, 'limit', 'reader'):
    return summary.problem
  if summary.division < 0:
    frames, ticks_per_frame = -(summary.division >> 8), summary.division & 0xFF
    return (f'unsupported MIDI: SMPTE time division ({frames} frames/s, {ticks_per_frame} '
            'ticks/frame); only ticks per quarter note are supported')
  if summary.division == 0:
    return 'corrupt MIDI: time division of 0 ticks per quarter note'
  if summary.division > 0:
    bars = summary.max_tick / summary.division / 4
    if bars > limits.max_bars:
      return (f'too long: {bars:.0f} bars > {limits.max_bars} bar limit (an event at tick '
              f'{summary.max_tick}, {summary.division} ticks per quarter note)')
  if summary.max_tick > limits.max_ticks:
    return (f'too large to parse: an event at tick {summary.max_tick} > {limits.max_ticks} tick '
            f'limit (the MIDI reader needs ~{READER_BYTES_PER_TICK} bytes per tick)')
  if summary.num_events > limits.max_events:
    return f'too large to parse: over {limits.max_events} MIDI events (the limit)'
  return None
