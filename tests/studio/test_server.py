"""mvl_studio's server and API without a browser: who it answers, what it refuses, what it computes.

An untrained tiny model (instant) stands behind a server on a free port of 127.0.0.1, in this
process, so a test can also watch what the server opens. The page itself is tested in a real
browser by test_browser.py (`pytest -m browser`).
"""
import builtins
import http.client
import io
import json
import os
import pathlib
import re
import socket
import threading

import note_seq
import numpy as np
import pretty_midi
import pytest

import helpers
from music_vae_lite.families import melody
from music_vae_lite.serving import trained_model
from music_vae_lite.studio import api
from music_vae_lite.studio import server

UPLOAD_LIMIT = 64 * 1024


def _start(model, max_upload_bytes=UPLOAD_LIMIT):
  studio_server = server.StudioServer(api.StudioApi(model), port=0,
                                      max_upload_bytes=max_upload_bytes)
  thread = threading.Thread(target=studio_server.serve_forever, daemon=True)
  thread.start()
  return studio_server


@pytest.fixture(scope='module')
def model(tmp_path_factory):
  run_dir = helpers.make_untrained_run_dir(str(tmp_path_factory.mktemp('studio') / 'run'))
  return trained_model.TrainedModel(run_dir)


@pytest.fixture(scope='module')
def studio(model):
  studio_server = _start(model)
  yield studio_server
  studio_server.shutdown()
  studio_server.server_close()


@pytest.fixture(scope='module')
def midi_files(tmp_path_factory):
  folder = tmp_path_factory.mktemp('midi')
  helpers.write_melody_midis(str(folder / 'four'), num_files=2)
  helpers.write_melody_midis(str(folder / 'three'), num_files=1, numerator=3)
  return {'a': folder / 'four' / 'tune_00.mid', 'b': folder / 'four' / 'tune_01.mid',
          'waltz': folder / 'three' / 'tune_00.mid'}


def call(studio, method, path, body=None, headers=None, host=None):
  """(status, headers, body bytes) of one request, sent with exactly the given Host header."""
  connection = http.client.HTTPConnection(server.HOST, studio.port, timeout=600)
  connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
  connection.putheader('Host', host if host is not None else f'127.0.0.1:{studio.port}')
  for name, value in (headers or {}).items():
    connection.putheader(name, value)
  if body is not None:
    connection.putheader('Content-Length', str(len(body)))
  connection.endheaders(body)
  response = connection.getresponse()
  result = response.status, dict(response.getheaders()), response.read()
  connection.close()
  return result


def post_json(studio, path, value, headers=None):
  status, _, body = call(studio, 'POST', path, json.dumps(value).encode(),
                         {'Content-Type': 'application/json', **(headers or {})})
  return status, json.loads(body) if path != '/api/midi' or status != 200 else body


def upload(studio, path, name):
  status, _, body = call(studio, 'POST', f'/api/windows?name={name}', path.read_bytes(),
                         {'Content-Type': 'application/octet-stream'})
  return status, json.loads(body)


# ------------------------------------------------------------------------------------------------
# Who it answers.


def test_listens_on_loopback_only(studio):
  assert studio.server_address[0] == '127.0.0.1'
  assert studio.url == f'http://127.0.0.1:{studio.port}/'
  # This machine's address on its default route (no packet is sent), if it has one: nothing there.
  probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
  try:
    probe.connect(('192.0.2.1', 9))
    address = probe.getsockname()[0]
  except OSError:
    address = None
  finally:
    probe.close()
  if address and not address.startswith('127.'):
    with pytest.raises(OSError):
      socket.create_connection((address, studio.port), timeout=5).close()


@pytest.mark.parametrize('host', ['evil.example:{port}', 'rebind.attacker.example:{port}',
                                  '127.0.0.1:1', 'localhost', '127.0.0.1.nip.io:{port}', ''])
def test_refuses_a_host_that_is_not_its_own(studio, host):
  # DNS rebinding: a page of attacker.example whose name now resolves to 127.0.0.1 reaches this
  # port with its own name in Host (and its own origin), for the page and the API alike.
  host = host.format(port=studio.port)
  for method, path in (('GET', '/'), ('GET', '/api/model')):
    status, _, body = call(studio, method, path, host=host)
    assert status == 403, (host, path)
    assert json.loads(body)['error'].startswith(f'mvl_studio answers only to {studio.url}')
  status, _, body = call(studio, 'POST', '/api/sample', b'{"n": 1}', host=host, headers={
      'Content-Type': 'application/json', 'Origin': f'http://{host}'})
  assert status == 403


def test_answers_its_own_names(studio):
  for host in (f'127.0.0.1:{studio.port}', f'localhost:{studio.port}', f'LOCALHOST:{studio.port}'):
    status, headers, body = call(studio, 'GET', '/', host=host)
    assert status == 200 and b'<title>mvl_studio</title>' in body
    assert "frame-ancestors 'none'" in headers['Content-Security-Policy']
  status, _, _ = call(studio, 'GET', '/api/model',
                      headers={'Origin': f'http://localhost:{studio.port}',
                               'Sec-Fetch-Site': 'same-origin'})
  assert status == 200


@pytest.mark.parametrize('headers', [
    {'Origin': 'http://evil.example'},
    {'Origin': 'null'},  # a sandboxed frame or a file:// page
    {'Origin': 'http://localhost:3000'},  # another local web app
    {'Sec-Fetch-Site': 'cross-site'},
    {'Sec-Fetch-Site': 'same-site'},
])
def test_refuses_requests_from_other_pages(studio, headers):
  status, body = post_json(studio, '/api/sample', {'n': 1}, headers)
  assert status == 403
  assert 'answers only its own page' in body['error']


def test_takes_no_simple_cross_site_requests(studio):
  # A form or no-cors fetch elsewhere can send text/plain without a preflight: refused; the
  # preflight a JSON request would need is answered without any CORS header.
  status, _, body = call(studio, 'POST', '/api/sample', b'{"n": 1}',
                         {'Content-Type': 'text/plain'})
  assert status == 415 and 'expected a body of type application/json' in json.loads(body)['error']
  status, headers, _ = call(studio, 'OPTIONS', '/api/sample', headers={
      'Origin': 'http://evil.example', 'Access-Control-Request-Method': 'POST'})
  assert status in (403, 405)
  assert not any(name.lower().startswith('access-control-') for name in headers)


# ------------------------------------------------------------------------------------------------
# What it refuses.


def test_refuses_an_upload_over_the_limit(studio, midi_files):
  big = midi_files['a'].read_bytes() + b'\0' * UPLOAD_LIMIT
  status, headers, body = call(studio, 'POST', '/api/windows?name=big.mid', big,
                               {'Content-Type': 'application/octet-stream'})
  assert status == 413
  assert json.loads(body)['error'] == ('big.mid is larger than the upload limit of 64 KB '
                                       '(mvl_studio --max_upload_mb).')
  status, body = post_json(studio, '/api/sample', {'n': 1, 'pad': 'x' * UPLOAD_LIMIT})
  assert status == 413 and 'upload limit of 64 KB' in body['error']
  # A chunked body has no length to check first: refused too.
  status, _, body = call(studio, 'POST', '/api/windows?name=a.mid', b'5\r\nMThd\0\r\n0\r\n\r\n',
                         {'Content-Type': 'application/octet-stream',
                          'Transfer-Encoding': 'chunked'})
  assert status == 411


def test_never_opens_a_path_that_a_request_names(studio, monkeypatch):
  not_midi = pathlib.Path(__file__).read_bytes()
  opened = []
  real_open, real_os_open = builtins.open, os.open

  def watch_open(file, *args, **kwargs):
    opened.append(file)
    return real_open(file, *args, **kwargs)

  def watch_os_open(path, *args, **kwargs):
    opened.append(path)
    return real_os_open(path, *args, **kwargs)

  monkeypatch.setattr(builtins, 'open', watch_open)
  monkeypatch.setattr(io, 'open', watch_open)
  monkeypatch.setattr(os, 'open', watch_os_open)
  paths = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '//etc/passwd',
           '/app.js/../../server.py', '/static/app.js', '/server.py', '/api.py', '/index.html',
           '/..%2f..%2fsetup.py', '/api/../../setup.py', '/api/model/../../config.json',
           '/C:/Windows/win.ini', '/\\..\\..\\etc\\passwd']
  for path in paths:
    status, _, body = call(studio, 'GET', path)
    assert status == 404, path
    assert b'root:' not in body and b'import' not in body
  # An upload's name only names it in messages.
  status, _, body = call(studio, 'POST', '/api/windows?name=../../../etc/passwd', not_midi,
                         {'Content-Type': 'application/octet-stream'})
  assert status == 400 and json.loads(body)['error'] == 'cannot read passwd: not a MIDI file.'
  assert opened == []
  status, _, body = call(studio, 'GET', '/app.js?../../setup.py')
  assert status == 200 and b'import' in body  # the page's own file, whatever the query says


# ------------------------------------------------------------------------------------------------
# What it computes, and how it words errors.


def test_sample_gives_phrases_of_the_model(studio, model):
  status, body = post_json(studio, '/api/sample', {'n': 3, 'temperature': 0.0, 'seed': 5})
  assert status == 200 and len(body['phrases']) == 3
  for phrase in body['phrases']:
    labels = np.array(phrase['labels'])
    assert labels.shape == (model.num_steps, 1)
    assert phrase['notes'] == [[0, pitch, start, end] for start, end, pitch in
                               melody.melody_notes(labels[:, 0])]
  # Temperature 0 decodes greedily: the same request gives the same phrases.
  assert post_json(studio, '/api/sample', {'n': 3, 'temperature': 0.0, 'seed': 5})[1] == body
  np.testing.assert_array_equal(np.array([p['labels'] for p in body['phrases']]),
                                model.sample_labels(3, 0.0, 5))


def test_windows_morph_and_grid(studio, model, midi_files):
  status, first = upload(studio, midi_files['a'], 'a.mid')
  assert status == 200 and first['name'] == 'a.mid'
  sequence = note_seq.midi_file_to_note_sequence(str(midi_files['a']))
  labels, _, window, count = model.extract(sequence)
  assert (len(first['phrases']), first['first']) == (count, window)
  np.testing.assert_array_equal(first['phrases'][window]['labels'], labels)
  _, second = upload(studio, midi_files['b'], 'b.mid')
  start, end = first['phrases'][first['first']], second['phrases'][second['first']]

  status, morph = post_json(studio, '/api/morph', {'start': start, 'end': end, 'steps': 4,
                                                   'temperature': 0.0})
  assert status == 200
  expected = model.interpolate_labels(np.array(start['labels']), np.array(end['labels']), 4, 0.0)
  np.testing.assert_array_equal([p['labels'] for p in morph['phrases']], expected)

  corners = [start, end, morph['phrases'][1], morph['phrases'][2]]
  status, grid = post_json(studio, '/api/grid', {'corners': corners, 'size': 3,
                                                 'temperature': 0.0})
  assert status == 200 and [len(row) for row in grid['rows']] == [3, 3, 3]
  _, mu, _ = model.encode_labels(np.array([c['labels'] for c in corners]))
  top, bottom = (trained_model.slerp(mu[i], mu[j], [0.0, 0.5, 1.0]) for i, j in ((0, 1), (2, 3)))
  middle = trained_model.slerp(top[1], bottom[1], 0.5)
  z = np.stack([mu[0], top[1], trained_model.slerp(mu[0], mu[2], 0.5), middle, mu[3]])
  expected = model.decode_to_labels(z, 0.0)
  cells = [grid['rows'][0][0], grid['rows'][0][1], grid['rows'][1][0], grid['rows'][1][1],
           grid['rows'][2][2]]
  np.testing.assert_array_equal([c['labels'] for c in cells], expected)

  status, midi = post_json(studio, '/api/midi', {'phrases': morph['phrases']})
  assert status == 200
  parsed = pretty_midi.PrettyMIDI(io.BytesIO(midi))
  assert len(parsed.instruments[0].notes) == sum(len(p['notes']) for p in morph['phrases'])
  assert parsed.get_end_time() == pytest.approx(4 * 4.0, abs=1e-3)  # 4 windows of 2 bars


def test_errors_are_worded_as_the_programs_word_them(studio, model, midi_files):
  status, body = upload(studio, midi_files['waltz'], 'waltz.mid')
  sequence = note_seq.midi_file_to_note_sequence(str(midi_files['waltz']))
  with pytest.raises(trained_model.NoWindowError) as expected:
    model.extract(sequence, name='waltz.mid')
  assert status == 400 and body['error'] == str(expected.value)
  assert body['error'].startswith('waltz.mid: No 2-bar melody window: 3/4 time')
  status, _, body = call(studio, 'POST', '/api/windows?name=notes.txt', b'hello',
                         {'Content-Type': 'application/octet-stream'})
  assert status == 400 and json.loads(body)['error'] == 'cannot read notes.txt: not a MIDI file.'
  status, _, body = call(studio, 'POST', '/api/windows?name=cut.mid',
                         midi_files['a'].read_bytes()[:40],
                         {'Content-Type': 'application/octet-stream'})
  assert status == 400 and json.loads(body)['error'].startswith('cannot read cut.mid: corrupt MIDI')
  for request, message in (
      ({'n': 0}, 'n must be from 1 to 64, got 0.'),
      ({'n': 2.5}, 'n must be a whole number from 1 to 64, got 2.5.'),
      ({'temperature': -1}, 'temperature must be from 0.0 to 10.0, got -1.'),
      ({'chords': 'C G'}, 'chords: this melody model is not conditioned on chords.')):
    assert post_json(studio, '/api/sample', request) == (400, {'error': message})
  status, body = post_json(studio, '/api/morph', {'start': {'labels': [[1, 2]]}, 'end': {}})
  assert status == 400 and body['error'].startswith('start: labels must be [32][1] for this model')
  for labels in ([[2.5]] * 32, [[True]] * 32, [[2**70]] * 32, [[2]] * 31 + [[2, 3]]):
    status, body = post_json(studio, '/api/midi', {'phrases': [{'labels': labels}]})
    assert (status, body) == (400, {'error': 'phrase 1: labels must be a [32][1] array of whole '
                                             'numbers.'})
  status, body = post_json(studio, '/api/midi', {'phrases': [{'labels': [[90]] * 32}]})
  assert status == 400 and body['error'].startswith('phrase 1: melody labels must be in [0, 90)')
  status, _, body = call(studio, 'POST', '/api/sample', b'[' * 60000,
                         {'Content-Type': 'application/json'})
  assert status == 400 and 'JSON' in json.loads(body)['error']
  status, _, body = call(studio, 'POST', '/api/sample', b'{"n": ',
                         {'Content-Type': 'application/json'})
  assert status == 400 and 'not valid JSON' in json.loads(body)['error']


def test_without_vectors_the_page_says_how_to_make_them(studio):
  status, _, body = call(studio, 'GET', '/api/model')
  info = json.loads(body)
  assert status == 200 and 'attributes' not in info['capabilities'] and info['attributes'] == []
  assert re.fullmatch(r'No attribute vectors at .*attribute_vectors\.json: make them with '
                      r'mvl_attributes --run_dir=RUN --examples=YOUR_CORPUS\.',
                      info['attributes_note']), info['attributes_note']
  status, body = post_json(studio, '/api/sample', {'n': 1, 'attributes': {'note_density': 1}})
  assert (status, body) == (400, {'error': info['attributes_note']})


def test_attribute_sliders_move_samples_and_phrases(tmp_path):
  run_dir = helpers.make_untrained_run_dir(str(tmp_path / 'run'))
  names = trained_model.TrainedModel(run_dir).attribute_vectors(
      helpers.random_windows('melody', 32), effect_phrases=0).names
  model = trained_model.TrainedModel(run_dir)  # as mvl_studio loads it: the run's vectors
  studio_api = api.StudioApi(model)
  info = studio_api.info(UPLOAD_LIMIT)
  assert 'attributes' in info['capabilities'] and info['attributes_note'] is None
  assert [attribute['name'] for attribute in info['attributes']] == names
  assert info['attributes'][1] == {'name': 'note_density', 'unit': 'note-ons per bar',
                                   'description': 'how many notes start per bar'}

  # Sampling moved by the sliders is mvl_sample --attribute; sliders at 0 are plain sampling.
  moves = {'note_density': 1.5, 'pitch_height': -1.0}
  request = {'n': 3, 'temperature': 0.0, 'seed': 3}
  moved = studio_api.sample(dict(request, attributes=moves))['phrases']
  np.testing.assert_array_equal([p['labels'] for p in moved],
                                model.sample_labels(3, 0.0, 3, attributes=moves))
  assert (studio_api.sample(dict(request, attributes={'note_density': 0}))
          == studio_api.sample(request))

  # A phrase moved: one window per scale, as mvl_interpolate --input_midi --attribute.
  phrase = studio_api.sample(request)['phrases'][0]
  shifted = studio_api.shift({'phrase': phrase, 'attributes': moves})['phrases']
  expected = model.shift_labels(np.array(phrase['labels']), moves, api.SHIFT_SCALES, 0.0)
  assert len(shifted) == len(api.SHIFT_SCALES) == 5
  np.testing.assert_array_equal([p['labels'] for p in shifted], expected)

  for request, message in (
      ({'phrase': phrase, 'attributes': {'loudness': 1}},
       "Unknown attribute 'loudness'; this model's attributes: " + ', '.join(names) + '.'),
      ({'phrase': phrase, 'attributes': {'note_density': 4}},
       'note_density must be from -3.0 to 3.0, got 4.'),
      ({'phrase': phrase, 'attributes': {'note_density': 0}},
       'attributes: move at least one slider away from 0.'),
      ({'phrase': phrase, 'attributes': [1]},
       'attributes must map attribute names to strengths, e.g. {"note_density": 1.0}.')):
    with pytest.raises(ValueError) as error:
      studio_api.shift(request)
    assert str(error.value) == message


@pytest.mark.parametrize('config_name', ['tiny-drums_2bar', 'tiny-mel_2bar_chords',
                                         'tiny-trio_16bar'])
def test_other_families(config_name, tmp_path):
  model = trained_model.TrainedModel(
      helpers.make_untrained_run_dir(str(tmp_path / 'run'), config_name))
  studio_api = api.StudioApi(model)
  info = studio_api.info(UPLOAD_LIMIT)
  assert [part['kind'] for part in info['parts']] == [p.kind for p in model.converter.parts]
  if config_name == 'tiny-mel_2bar_chords':
    assert 'chords' in info['capabilities']
    with pytest.raises(ValueError, match='samples along a progression'):
      studio_api.sample({'n': 1})
    phrase = studio_api.sample({'n': 1, 'chords': 'C G Am F', 'temperature': 1.0})['phrases'][0]
    assert [span[:3] for span in phrase['chords']] == [
        [0, 8, 'C'], [8, 16, 'G'], [16, 24, 'Am'], [24, 32, 'F']]
    assert phrase['chords'][2][3] == [48, 52, 57]  # A minor: C, E, A in the octave below C4
    midi = pretty_midi.PrettyMIDI(io.BytesIO(studio_api.midi({'phrases': [phrase]})))
    assert len(midi.instruments[0].notes) == len(phrase['notes'])
  elif config_name == 'tiny-trio_16bar':
    # One panel per part: every note names its part, as the labels' columns hold them.
    assert [part['name'] for part in info['parts']] == ['melody', 'bass', 'drums']
    phrase = studio_api.sample({'n': 1, 'temperature': 1.0})['phrases'][0]
    labels = np.asarray(phrase['labels'])
    assert labels.shape == (model.num_steps, 3)
    for part in range(3):
      onsets = (labels[:, part] > 1).sum() if part < 2 else sum(
          bin(label).count('1') for label in labels[:, part])
      assert sum(note[0] == part for note in phrase['notes']) == onsets
    midi = pretty_midi.PrettyMIDI(io.BytesIO(studio_api.midi({'phrases': [phrase]})))
    assert sum(len(i.notes) for i in midi.instruments) == len(phrase['notes'])
  else:
    assert 'chords' not in info['capabilities']
    phrase = studio_api.sample({'n': 1, 'temperature': 1.0})['phrases'][0]
    lanes = {lane['pitch'] for lane in info['drum_lanes']}
    hits = sum(bin(label).count('1') for [label] in phrase['labels'])
    assert hits == len(phrase['notes']) > 0 and {n[1] for n in phrase['notes']} <= lanes


def test_a_groove_model_plays_velocities_and_timing_and_grooves_a_file(tmp_path):
  model = trained_model.TrainedModel(
      helpers.make_untrained_run_dir(str(tmp_path / 'run'), 'tiny-groove_2bar'))
  studio_api = api.StudioApi(model)
  info = studio_api.info(UPLOAD_LIMIT)
  assert info['parts'] == [{'name': 'drums', 'kind': 'drums', 'program': 0}]
  assert 'groove' in info['capabilities'] and info['groove_action'] == 'Humanize'
  assert [lane['pitch'] for lane in info['drum_lanes']] == [
      pitches[0] for pitches in model.converter.pitch_classes]

  # An uploaded performance: its notes keep their velocities and their times off the grid.
  hits = helpers.DRUM_PERFORMANCE
  stream = io.BytesIO()
  note_seq.sequence_proto_to_pretty_midi(helpers.drum_performance(hits)).write(stream)
  midi = stream.getvalue()
  first = studio_api.windows(midi, 'groove.mid')['phrases'][0]
  assert sorted(first['arrays']) == ['hits', 'offsets', 'velocities']
  assert [note[4] for note in first['notes']] == [velocity for _, _, velocity, _ in sorted(hits)]
  np.testing.assert_allclose([note[2] for note in first['notes']],  # MIDI ticks: 1/880 step
                             [at + late for at, _, _, late in sorted(hits)], atol=0.01)

  # Groove: the window through the model (its posterior mean, greedy), as TrainedModel does it.
  [grooved] = studio_api.groove({'phrase': first})['phrases']
  window = {name: np.array(array)[None] for name, array in first['arrays'].items()}
  _, mu, _ = model.encode_labels(window)
  expected = model.decode_to_labels(mu, 0.0)
  for name, array in expected.items():
    np.testing.assert_allclose(grooved['arrays'][name], array[0], atol=1e-6)

  # Downloads carry velocity and timing; sampling, morphing and the grid give arrays too.
  parsed = pretty_midi.PrettyMIDI(io.BytesIO(studio_api.midi({'phrases': [first]})))
  notes = sorted(parsed.instruments[0].notes, key=lambda n: (n.start, n.pitch))
  assert [n.velocity for n in notes] == [note[4] for note in first['notes']]
  np.testing.assert_allclose([n.start for n in notes], [note[2] * 0.125 for note in first['notes']],
                             atol=2e-3)
  phrases = studio_api.sample({'n': 2, 'temperature': 1.0, 'seed': 1})['phrases']
  assert np.array(phrases[0]['arrays']['hits']).shape == (32, 9)
  morph = studio_api.morph({'start': first, 'end': phrases[0], 'steps': 3})['phrases']
  assert len(morph) == 3
  with pytest.raises(ValueError, match=r'phrase: expected a phrase with its arrays \(hits, '
                                       r'velocities, offsets\)\.'):
    studio_api.groove({'phrase': {'labels': [[0]] * 32}})
  with pytest.raises(ValueError, match=r'phrase: Velocities must lie in \[0\.0, 1\.0\]'):
    studio_api.groove({'phrase': {'arrays': dict(first['arrays'], velocities=[[2.0] * 9] * 32)}})
  melody_api = api.StudioApi(trained_model.TrainedModel(
      helpers.make_untrained_run_dir(str(tmp_path / 'melody'))))
  with pytest.raises(ValueError, match='groove: this melody model is not a GrooVAE model.'):
    melody_api.groove({'phrase': first})
