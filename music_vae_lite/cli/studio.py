r"""mvl_studio: sample, morph and listen to your own model in the browser.

  mvl_studio --run_dir=runs/mel [--port=8765] [--bf16] [--max_upload_mb=2]

Serves a page on http://127.0.0.1:PORT/ (it prints the address; open it in a browser on this
machine) for any model here: melody, drums, trio, chords or GrooVAE, 2 or 16 bars, trained, imported
or fine-tuned. Sample: new phrases at a temperature, as piano rolls (drum lanes, trio parts), played
in the page, looped, downloaded as MIDI or WAV. Morph: two MIDI files dropped on the page (or two
phrases from it), the windows chosen, the interpolation as a strip with a slider that plays any
step. Grid: four corners and the grid between them, a click plays a cell. Attributes: sliders that
move a phrase, or new samples, along the run's attribute vectors (made by mvl_attributes). Groove
(GrooVAE models): a drum file humanized, drumified or given a closed hi-hat, before and after. A
chord model follows a progression typed in the page. Everything the page needs ships with the
package; nothing is fetched from the internet. It listens on 127.0.0.1 only and answers only its own
page (see music_vae_lite/studio/server.py). Ctrl-C stops it.
"""
import sys

from absl import app
from absl import flags

from music_vae_lite.cli import common
from music_vae_lite.studio import server

# TensorFlow and the library are imported in main(), after the flags are checked and the port is
# bound, so that a mistake is reported at once.

_RUN_DIR, _CHECKPOINT = common.define_model_flags()
_BF16 = common.define_bf16_flag()
_PORT = flags.DEFINE_integer('port', server.DEFAULT_PORT, 'The port on 127.0.0.1 to serve on '
                             '(0: any free port).', lower_bound=0, upper_bound=65535)
_MAX_UPLOAD_MB = flags.DEFINE_float('max_upload_mb', server.DEFAULT_MAX_UPLOAD_MB,
                                    'The largest MIDI file (or request) the page may upload, '
                                    'in MB.', lower_bound=0.001)


def _bind(port, max_upload_mb):
  """The server bound to 127.0.0.1:port (it serves nothing until serve_forever)."""
  try:
    return server.StudioServer(None, port, max_upload_bytes=max_upload_mb * 1024 * 1024)
  except OSError as e:
    raise ValueError(f'--port: cannot listen on {server.HOST}:{port}: {e.strerror or e} (another '
                     'mvl_studio? choose another port, or --port=0 for any free one).') from None


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
  with common.user_errors('mvl_studio'):
    common.check_model_flags(_RUN_DIR.value, _CHECKPOINT.value)
    studio_server = _bind(_PORT.value, _MAX_UPLOAD_MB.value)
  from music_vae_lite.studio import api  # pylint: disable=g-import-not-at-top
  try:
    with common.user_errors('mvl_studio'):
      model = common.load_trained_model(_RUN_DIR.value, _CHECKPOINT.value, _BF16.value)
      studio_server.studio_api = api.StudioApi(model)
    encoding = model.converter.encoding
    print(f'mvl_studio: {model.config.name or "model"} ({encoding}, '
          f'{model.converter.slice_bars} bars, step {model.step}) at {studio_server.url} '
          '(Ctrl-C stops it)', flush=True)
    studio_server.serve_forever()
  except KeyboardInterrupt:
    print('mvl_studio: stopped.', flush=True)
  finally:
    studio_server.server_close()


def run():
  common.run_program(main, sys.modules[__name__])


if __name__ == '__main__':
  run()
