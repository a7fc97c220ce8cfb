"""mvl_studio's HTTP server: the page's files and a small JSON API over `api.StudioApi`.

Why this shape. Inference runs here, in the project's own `TrainedModel`, so the studio works for
every model this project trains, imports or fine-tunes (melody, drums, trio, chords, GrooVAE; 2
and 16 bars), including those Magenta.js cannot run (several encoder layers, a hierarchical decoder
under a flat encoder such as hierdec-mel_16bar; see `mvl_export`), and a sample in the page is
what `mvl_sample` would write. The server is
the standard library's `http.server`: the API is eight routes of JSON in and out, one user, on
loopback, so a framework would add a dependency without removing code; what a framework would
give for free (the host and origin checks, size limits, security headers) is written out below
where it can be read in one sitting. The page is plain JavaScript modules (no build step, no
library): its synth, drum kit and piano rolls are a few hundred lines of Web Audio and canvas.

Routes:
  GET  /  /app.js /audio.js /roll.js /studio.css   the page, from the package (static/)
  GET  /api/model                                  the model and the limits (api.StudioApi.info)
  POST /api/sample  /api/morph  /api/grid          JSON in, phrases out
  POST /api/shift                                  a phrase moved along attribute vectors
  POST /api/groove                                 a drum phrase through a GrooVAE model
  POST /api/windows?name=NAME                      a MIDI file (the body) -> its windows
  POST /api/midi                                   phrases -> one MIDI file

Nothing here imports TensorFlow (the program binds its port before loading the model).

Safety, for a server that anything on the machine, including every web page a browser opens,
can reach:
- It listens on 127.0.0.1 only (`--port` picks the port; there is no flag for another address).
- Host must be 127.0.0.1:PORT or localhost:PORT, so a page of another site whose name is made to
  resolve to 127.0.0.1 (DNS rebinding) is refused; an Origin header, when sent, must be this
  server's own origin, and a browser's Sec-Fetch-Site must say same-origin (or none, a typed URL).
  The API takes only application/json and application/octet-stream bodies, which a page elsewhere
  cannot send without a CORS preflight, and the server answers no preflight.
- A body over the upload limit (`--max_upload_mb`) is refused before it is read, with a message
  naming the limit. Request lines and headers have http.server's own limits, and sockets a
  timeout.
- The page's files are read from the package once, at start-up, into memory: a request path is
  only ever a key into that table, so no request can name a file to open. Uploads are parsed in
  memory; their names appear only in messages.
- Responses forbid framing and sniffing and carry a Content-Security-Policy that lets the page
  load nothing but its own files (nothing external at run time, in the browser as here).
"""
import http
import http.server
import importlib.resources
import json
import threading
import urllib.parse

from absl import logging

HOST = '127.0.0.1'
DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD_MB = 2.0
# Of a body over the limit, up to this much is read and dropped before answering, so that the
# browser, still sending, gets the answer instead of a reset connection (the page sends at most
# the limit plus one byte).
_DRAIN_BYTES = 8 * 1024 * 1024
_STATIC_FILES = {
    '/': ('index.html', 'text/html; charset=utf-8'),
    '/app.js': ('app.js', 'text/javascript; charset=utf-8'),
    '/audio.js': ('audio.js', 'text/javascript; charset=utf-8'),
    '/roll.js': ('roll.js', 'text/javascript; charset=utf-8'),
    '/studio.css': ('studio.css', 'text/css; charset=utf-8'),
}
_SECURITY_HEADERS = {
    'Content-Security-Policy': ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data: blob:; connect-src 'self'; media-src blob:; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
}


class RequestError(Exception):
  """A request refused with an HTTP status and a message for the page."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status


def load_assets():
  """{request path: (bytes, content type)} of the page's files, read from the package."""
  folder = importlib.resources.files('music_vae_lite.studio').joinpath('static')
  return {path: (folder.joinpath(name).read_bytes(), content_type)
          for path, (name, content_type) in _STATIC_FILES.items()}


class StudioServer(http.server.ThreadingHTTPServer):
  """Serves the page and the API of one `api.StudioApi` on 127.0.0.1:port (0: a free port).

  Model calls are serialised (one at a time): TensorFlow uses every core for one call anyway.
  """
  daemon_threads = True
  allow_reuse_address = True

  def __init__(self, studio_api, port=DEFAULT_PORT, max_upload_bytes=None):
    super().__init__((HOST, port), _Handler)
    self.studio_api = studio_api
    self.max_upload_bytes = int(max_upload_bytes or DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)
    self.port = self.server_address[1]
    self.allowed_hosts = {f'{HOST}:{self.port}', f'localhost:{self.port}'}
    self.allowed_origins = {f'http://{host}' for host in self.allowed_hosts}
    self.assets = load_assets()
    self.model_lock = threading.Lock()

  @property
  def url(self):
    return f'http://{HOST}:{self.port}/'


def display_name(name):
  """An upload's name for messages: its last path component, printable, at most 80 characters
  (it names nothing on disk)."""
  text = str(name or 'upload.mid').replace('\\', '/').rsplit('/', 1)[-1]
  text = ''.join(c if c.isprintable() else '?' for c in text).strip() or 'upload.mid'
  return text if len(text) <= 80 else text[:77] + '...'


def _limit_text(num_bytes):
  return (f'{num_bytes / 1024 / 1024:g} MB' if num_bytes >= 1024 * 1024
          else f'{num_bytes / 1024:g} KB')


class _Handler(http.server.BaseHTTPRequestHandler):
  """One request: checks who asks, then a route (see the module docstring)."""
  server_version = 'mvl_studio'
  sys_version = ''
  timeout = 60  # seconds a socket may stay silent (a stalled client does not hold a thread)

  def log_message(self, format, *args):  # pylint: disable=redefined-builtin
    # Each request at debug level (--verbosity=1 shows them); failures are logged where caught.
    logging.debug('%s %s', self.address_string(), format % args)

  # ----------------------------------------------------------------------------------------------
  # Answers.

  def _send(self, status, body, content_type, extra_headers=()):
    self.send_response(status)
    self.send_header('Content-Type', content_type)
    self.send_header('Content-Length', str(len(body)))
    for name, value in list(_SECURITY_HEADERS.items()) + list(extra_headers):
      self.send_header(name, value)
    self.end_headers()
    if self.command != 'HEAD':
      self.wfile.write(body)

  def _send_json(self, status, value):
    self._send(status, json.dumps(value, separators=(',', ':')).encode('utf-8'),
               'application/json; charset=utf-8')

  def _send_error(self, error):
    self._send_json(error.status, {'error': str(error)})

  # ----------------------------------------------------------------------------------------------
  # Who asks.

  def _check_origin(self, api):
    """RequestError unless the request comes to this server by its own name, from its own page
    (or from no page at all: a typed URL, a program)."""
    host = (self.headers.get('Host') or '').strip().lower()
    if host not in self.server.allowed_hosts:
      raise RequestError(http.HTTPStatus.FORBIDDEN,
                         f'mvl_studio answers only to {self.server.url} (this request was for '
                         f'host {host or "(none)"!r}).')
    origin = self.headers.get('Origin')
    if origin is not None and origin.strip().lower() not in self.server.allowed_origins:
      raise RequestError(http.HTTPStatus.FORBIDDEN,
                         f'mvl_studio answers only its own page, not one from {origin!r}.')
    fetch_site = self.headers.get('Sec-Fetch-Site')
    if api and fetch_site is not None and fetch_site not in ('same-origin', 'none'):
      raise RequestError(http.HTTPStatus.FORBIDDEN,
                         f'mvl_studio answers only its own page (Sec-Fetch-Site: {fetch_site}).')

  def _read_body(self, content_type, what):
    """The request body (at most the upload limit) of the expected content type."""
    given = (self.headers.get('Content-Type') or '').split(';')[0].strip().lower()
    if given != content_type:
      raise RequestError(http.HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                         f'{what}: expected a body of type {content_type}, got {given or "none"}.')
    if self.headers.get('Transfer-Encoding'):
      raise RequestError(http.HTTPStatus.LENGTH_REQUIRED,
                         f'{what}: send the body with a Content-Length, not chunked.')
    try:
      length = int(self.headers.get('Content-Length', ''))
    except ValueError:
      raise RequestError(http.HTTPStatus.LENGTH_REQUIRED,
                         f'{what}: the request has no valid Content-Length.') from None
    if length < 0:
      raise RequestError(http.HTTPStatus.BAD_REQUEST, f'{what}: negative Content-Length.')
    limit = self.server.max_upload_bytes
    if length > limit:
      self.close_connection = True
      self._drain(length)
      raise RequestError(http.HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         f'{what} is larger than the upload limit of {_limit_text(limit)} '
                         '(mvl_studio --max_upload_mb).')
    body = self.rfile.read(length)
    if len(body) != length:
      self.close_connection = True
      raise RequestError(http.HTTPStatus.BAD_REQUEST, f'{what}: the body was cut short.')
    return body

  def _drain(self, length):
    """Reads and drops up to _DRAIN_BYTES of a refused body (see _DRAIN_BYTES)."""
    remaining = min(length, _DRAIN_BYTES)
    while remaining > 0:
      chunk = self.rfile.read(min(remaining, 65536))
      if not chunk:
        return
      remaining -= len(chunk)

  def _read_json(self, what):
    body = self._read_body('application/json', what)
    try:
      value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      raise RequestError(http.HTTPStatus.BAD_REQUEST, f'{what}: not valid JSON ({e}).') from None
    except RecursionError:
      raise RequestError(http.HTTPStatus.BAD_REQUEST, f'{what}: JSON nested too deeply.') from None
    if not isinstance(value, dict):
      raise RequestError(http.HTTPStatus.BAD_REQUEST, f'{what}: expected a JSON object.')
    return value

  # ----------------------------------------------------------------------------------------------
  # Routes.

  def do_GET(self):  # pylint: disable=invalid-name
    self._handle(self._get)

  def do_HEAD(self):  # pylint: disable=invalid-name
    self._handle(self._get)

  def do_POST(self):  # pylint: disable=invalid-name
    self._handle(self._post)

  def _refuse_method(self):
    self.close_connection = True
    self._send_error(RequestError(http.HTTPStatus.METHOD_NOT_ALLOWED,
                                  f'mvl_studio does not answer {self.command} requests.'))

  do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

  def _handle(self, route):
    try:
      path, _, _ = self.path.partition('?')
      self._check_origin(api=path.startswith('/api/'))
      route(path)
    except RequestError as e:
      self._send_error(e)
    except ValueError as e:  # a request value the model cannot use; the message says which
      self._send_error(RequestError(http.HTTPStatus.BAD_REQUEST, str(e)))
    except Exception as e:  # pylint: disable=broad-except
      logging.exception('mvl_studio: %s %s failed', self.command, self.path)
      self._send_error(RequestError(http.HTTPStatus.INTERNAL_SERVER_ERROR,
                                    f'Internal error: {type(e).__name__}: {e}'))

  def _get(self, path):
    if path == '/api/model':
      self._send_json(200, self.server.studio_api.info(self.server.max_upload_bytes))
      return
    asset = self.server.assets.get(path)
    if asset is None:
      raise RequestError(http.HTTPStatus.NOT_FOUND, f'Nothing at {path[:200]!r}.')
    self._send(200, asset[0], asset[1])

  def _post(self, path):
    studio_api = self.server.studio_api
    if path == '/api/windows':
      query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
      name = display_name(query.get('name', ['upload.mid'])[0])
      midi = self._read_body('application/octet-stream', name)
      with self.server.model_lock:
        self._send_json(200, studio_api.windows(midi, name))
      return
    operations = {'/api/sample': studio_api.sample, '/api/morph': studio_api.morph,
                  '/api/grid': studio_api.grid, '/api/shift': studio_api.shift,
                  '/api/groove': studio_api.groove,
                  '/api/midi': studio_api.midi}
    operation = operations.get(path)
    if operation is None:
      raise RequestError(http.HTTPStatus.NOT_FOUND, f'Nothing at {path[:200]!r}.')
    request = self._read_json(f'The request to {path}')
    with self.server.model_lock:
      result = operation(request)
    if isinstance(result, bytes):
      self._send(200, result, 'audio/midi')
    else:
      self._send_json(200, result)
