"""mvl_studio in a real browser: Debian's chromium, headless, driven by Selenium through Debian's
chromedriver (never a driver's own browser download). Selected with `pytest -m browser`.

The test trains a tiny 2-bar melody model (configs/tiny-mel_2bar.py) for a few steps, starts
`mvl_studio` on it as a user would (a free port), and in the page: samples N phrases and sees N
piano rolls; downloads one as MIDI and parses it; downloads one as WAV, which the page renders
offline with the same synth it plays with (audio.js), and finds one onset per note, at the notes'
times; plays, loops and stops by keyboard; uploads two MIDI files, morphs, moves the slider and
downloads the morph; uploads a 3/4 file and sees the programs' message; makes a grid from four
phrases on the page and plays a cell; moves a phrase and samples with an attribute slider; and
checks that a phone-width window needs no sideways
scrolling and that the page fetched nothing but its own files. Screenshots go to
runs/test_artifacts/studio/ (or $MVL_TEST_ARTIFACTS/studio/).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import wave

import numpy as np
import pretty_midi
import pytest

import helpers

pytestmark = pytest.mark.browser

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_MIDI = REPO / 'data' / 'midi'
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
NUM_SAMPLES = 4
TRAIN_STEPS = 20
MORPH_STEPS = 6
ARTIFACTS = os.path.join(os.environ.get('MVL_TEST_ARTIFACTS', os.path.join(REPO, 'runs',
                                                                           'test_artifacts')),
                         'studio')


def _skip_reason():
  missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
  if missing:
    return (f'{" and ".join(missing)} not found: install Debian\'s chromium and chromium-driver '
            '(apt-get install -y chromium chromium-driver, as .ci/run does)')
  try:
    import selenium  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return "selenium is not installed (pip install -e '.[test]')"
  return None


if _skip_reason():
  pytest.skip(_skip_reason(), allow_module_level=True)

# pylint: disable=g-import-not-at-top,wrong-import-position
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait


def _program(name):
  return [os.path.join(os.path.dirname(sys.executable), name)]


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
  """A tiny-mel_2bar model trained for a few steps on random melodies (in this process, which
  has TensorFlow loaded already; no held-out evaluation or pictures), with attribute vectors."""
  from music_vae_lite import config_lib  # pylint: disable=g-import-not-at-top
  from music_vae_lite.training import train  # pylint: disable=g-import-not-at-top
  folder = tmp_path_factory.mktemp('studio_browser')
  examples = helpers.write_melody_midis(str(folder / 'midi'), num_files=8)
  config = config_lib.load_config('tiny-mel_2bar')
  config.train.num_steps = TRAIN_STEPS
  config.train.eval_every = config.train.image_every = 10 * TRAIN_STEPS
  run = str(folder / 'run')
  train.train_and_evaluate(config, run, examples)
  # Attribute vectors beside it (as mvl_attributes saves them), for the page's sliders.
  from music_vae_lite.serving import trained_model  # pylint: disable=g-import-not-at-top
  trained_model.TrainedModel(run).attribute_vectors(helpers.random_windows('melody', 32),
                                                    effect_phrases=0)
  return run


@pytest.fixture(scope='module')
def studio_url(run_dir):
  yield from _studio(run_dir)


def _studio(run_dir):
  """mvl_studio on a free port, started as a user starts it; yields its URL as it prints it."""
  process = subprocess.Popen(_program('mvl_studio') + [f'--run_dir={run_dir}', '--port=0'],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  url, lines = None, []
  deadline = time.monotonic() + 300
  while url is None and time.monotonic() < deadline:
    line = process.stdout.readline()
    if not line:
      break
    lines.append(line)
    match = re.search(r' at (http://127\.0\.0\.1:\d+/) ', line)
    url = match and match.group(1)
  if url is None:
    process.kill()
    pytest.fail('mvl_studio did not say its URL:\n' + ''.join(lines))
  yield url
  process.terminate()
  process.wait(timeout=30)


@pytest.fixture(scope='module')
def downloads(tmp_path_factory):
  return tmp_path_factory.mktemp('downloads')


@pytest.fixture(scope='module')
def browser(downloads, tmp_path_factory):
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               f'--user-data-dir={tmp_path_factory.mktemp("chromium_profile")}',
               '--window-size=1200,900', '--autoplay-policy=no-user-gesture-required'):
    options.add_argument(flag)
  options.add_experimental_option('prefs', {'download.default_directory': str(downloads),
                                            'download.prompt_for_download': False})
  driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
  driver.execute_cdp_cmd('Browser.setDownloadBehavior',
                         {'behavior': 'allow', 'downloadPath': str(downloads)})
  os.makedirs(ARTIFACTS, exist_ok=True)
  yield driver
  driver.quit()


def wait(driver, condition, timeout=300):
  return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition())


def screenshot(driver, name):
  driver.save_screenshot(os.path.join(ARTIFACTS, name))


def download(driver, folder, click, suffix):
  """The path of the file that `click()` makes the page download."""
  before = set(os.listdir(folder))
  click()
  def finished():
    new = [n for n in set(os.listdir(folder)) - before if n.endswith(suffix)]
    return new and os.path.join(folder, new[0])
  return wait(driver, finished)


def open_page(driver, url):
  driver.get(url)
  wait(driver, lambda: driver.find_element(By.TAG_NAME, 'body').get_attribute('data-ready'))


def sample(driver, count):
  form = driver.find_element(By.ID, 'sample-form')
  field = form.find_element(By.NAME, 'n')
  field.clear()
  field.send_keys(str(count))
  form.find_element(By.CSS_SELECTOR, 'button[type=submit]').click()
  wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, '#samples .card')) == count)
  return driver.find_elements(By.CSS_SELECTOR, '#samples .card')


def onsets(path, window_s=0.04, hop_s=0.005, min_ratio=2.0, spacing_s=0.06):
  """(onset times in s, energy per hop) of a mono 16-bit WAV: the times where the energy of the
  next 40 ms is at least twice that of the last 40 ms, and the most so within 60 ms either side
  (a 16th note lasts 125 ms at 120 qpm)."""
  with wave.open(path) as wav:
    rate = wav.getframerate()
    samples = np.frombuffer(wav.readframes(wav.getnframes()), np.int16) / 32768.0
  window, hop = int(window_s * rate), int(hop_s * rate)
  power = np.concatenate([np.zeros(window), samples**2, np.zeros(window)])
  total = np.concatenate([[0.0], np.cumsum(power)])
  positions = np.arange(window, len(power) - window, hop)
  after = (total[positions + window] - total[positions]) / window
  before = (total[positions] - total[positions - window]) / window
  ratio = after / (before + 1e-3 * after.max())
  reach = int(spacing_s / hop_s)
  found = [i for i in range(len(ratio))
           if ratio[i] > min_ratio and ratio[i] == ratio[max(i - reach, 0):i + reach + 1].max()]
  return (positions[found] - window) / rate, after


def test_studio_in_a_browser(browser, studio_url, downloads):
  driver = browser
  open_page(driver, studio_url)
  assert (f'tiny-mel_2bar: melody, 2 bars, step {TRAIN_STEPS}'
          in driver.find_element(By.ID, 'model-info').text)

  # Sample: N piano rolls.
  cards = sample(driver, NUM_SAMPLES)
  for card in cards:
    canvas = card.find_element(By.CSS_SELECTOR, 'canvas.roll')
    assert canvas.size['width'] > 200 and canvas.size['height'] > 50
  screenshot(driver, 'sample.png')

  # Download one as MIDI: a file with the card's notes.
  notes = [int(card.get_attribute('data-notes')) for card in cards]
  index = int(np.argmax(notes))
  assert notes[index] > 0, 'a sampled phrase with notes'
  card = cards[index]
  midi_path = download(driver, downloads, card.find_element(By.CSS_SELECTOR, 'button.midi').click,
                       '.mid')
  midi = pretty_midi.PrettyMIDI(midi_path)
  starts = sorted(note.start for note in midi.instruments[0].notes)
  assert len(starts) == notes[index]
  assert midi.get_end_time() == pytest.approx(4.0, abs=1e-3)  # 2 bars at 120 qpm

  # Render it offline (the page's WAV: OfflineAudioContext and the synth the page plays with):
  # not silent, and one onset per note, where the notes start.
  wav_path = download(driver, downloads, card.find_element(By.CSS_SELECTOR, 'button.wav').click,
                      '.wav')
  times, energy = onsets(wav_path)
  assert energy.max() > 1e-4
  assert len(times) == len(starts), (times, starts)
  np.testing.assert_allclose(times, starts, atol=0.02)

  # Play and loop by keyboard: Tab to the Sample button, Enter; Tab on to a Play button, Space.
  driver.find_element(By.ID, 'loop').click()
  driver.find_element(By.TAG_NAME, 'body').click()
  submit = driver.find_element(By.CSS_SELECTOR, '#sample-form button[type=submit]')
  for _ in range(30):
    if driver.switch_to.active_element == submit:
      break
    driver.switch_to.active_element.send_keys(Keys.TAB)
  assert driver.switch_to.active_element == submit, 'the Sample button is reachable by Tab'
  submit.send_keys(Keys.ENTER)
  wait(driver, lambda: submit.is_enabled() and driver.find_elements(By.CSS_SELECTOR,
                                                                    '#samples .card'))
  driver.switch_to.active_element.send_keys(Keys.TAB)
  play = driver.find_element(By.CSS_SELECTOR, '#samples .card button.play')
  assert driver.switch_to.active_element == play
  play.send_keys(Keys.SPACE)
  now_playing = driver.find_element(By.ID, 'now-playing')
  wait(driver, lambda: now_playing.text == 'Playing Sample 1 (loop).')
  time.sleep(4.5)  # past the end of the phrase: a loop goes on
  assert now_playing.text == 'Playing Sample 1 (loop).'
  assert play.get_attribute('aria-pressed') == 'true'
  driver.switch_to.active_element.send_keys(Keys.ESCAPE)
  wait(driver, lambda: now_playing.text == 'Nothing playing.')
  driver.find_element(By.ID, 'loop').click()

  # Morph: two uploaded MIDI files, their first windows that start with a note.
  driver.find_element(By.ID, 'tab-morph').click()
  tunes = [DATA_MIDI / 'ryans' / 'acrobats-hornpipe.mid',
           DATA_MIDI / 'oneills' / '0027-rodneys-glory.mid']
  for slot, tune in zip(('start', 'end'), tunes):
    driver.find_element(By.ID, f'{slot}-file').send_keys(str(tune))
  messages = driver.find_elements(By.CSS_SELECTOR, '#morph-slots .message')
  wait(driver, lambda: all('window' in m.text for m in messages))
  # A pickup bar: as mvl_interpolate does, the first window that starts with a note.
  assert re.fullmatch(r'acrobats-hornpipe\.mid: window \d+ of \d+ \(the first that starts with a '
                      r'note\)\.', messages[0].text), messages[0].text
  steps = driver.find_element(By.CSS_SELECTOR, '#morph-form [name=steps]')
  steps.clear()
  steps.send_keys(str(MORPH_STEPS))
  driver.find_element(By.CSS_SELECTOR, '#morph-form button[type=submit]').click()
  wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, '#morph-strip .step'))
       == MORPH_STEPS)
  slider = driver.find_element(By.ID, 'morph-slider')
  slider.send_keys(Keys.ARROW_RIGHT)
  slider.send_keys(Keys.ARROW_RIGHT)
  wait(driver, lambda: now_playing.text == 'Playing Morph step 3.')
  assert driver.find_element(By.ID, 'morph-step-label').text == f'3 of {MORPH_STEPS}'
  driver.execute_script('window.scrollTo(0, 0)')
  screenshot(driver, 'morph.png')  # the README's picture
  morph_path = download(driver, downloads, driver.find_element(By.ID, 'morph-download').click,
                        '.mid')
  morph = pretty_midi.PrettyMIDI(morph_path)
  assert morph.get_end_time() == pytest.approx(MORPH_STEPS * 4.0, abs=1e-3)
  driver.find_element(By.ID, 'stop').click()

  # A 3/4 file: the message the programs give.
  waltz = helpers.write_melody_midis(str(downloads / 'waltz'), num_files=1, numerator=3)
  driver.find_element(By.ID, 'start-file').send_keys(os.path.join(waltz, 'tune_00.mid'))
  error = driver.find_element(By.CSS_SELECTOR, '#morph-slots .slot .error')
  wait(driver, lambda: error.text)
  assert error.text.startswith('tune_00.mid: No 2-bar melody window: 3/4 time'), error.text
  screenshot(driver, 'morph_3_4_error.png')

  # Grid: four phrases on the page as corners; a cell plays when clicked.
  driver.find_element(By.ID, 'tab-grid').click()
  corners = ('top_left', 'top_right', 'bottom_left', 'bottom_right')
  for corner, choice in zip(corners, ('Sample 1', 'Morph step 1', f'Morph step {MORPH_STEPS}',
                                      'Sample 2')):
    Select(driver.find_element(By.ID, f'{corner}-pick')).select_by_visible_text(choice)
  size = driver.find_element(By.CSS_SELECTOR, '#grid-form [name=size]')
  size.clear()
  size.send_keys('4')
  driver.find_element(By.CSS_SELECTOR, '#grid-form button[type=submit]').click()
  wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, '#grid [role=gridcell]')) == 16)
  cell = driver.find_element(By.CSS_SELECTOR, '#grid [data-row="1"][data-column="2"]')
  cell.click()
  wait(driver, lambda: now_playing.text == 'Playing Grid row 2 column 3.')
  cell.send_keys(Keys.ARROW_DOWN)
  driver.switch_to.active_element.send_keys(Keys.ENTER)
  wait(driver, lambda: now_playing.text == 'Playing Grid row 3 column 3.')
  screenshot(driver, 'grid.png')
  driver.find_element(By.ID, 'stop').click()

  # Attributes: a slider moved by keyboard, a phrase on the page moved at 0 ... 2 times the
  # move, then new phrases sampled with it.
  driver.find_element(By.ID, 'tab-attributes').click()
  Select(driver.find_element(By.ID, 'phrase-pick')).select_by_visible_text('Sample 1')
  density = driver.find_element(By.ID, 'attribute-note_density')
  for _ in range(4):
    density.send_keys(Keys.ARROW_RIGHT)
  assert driver.find_element(By.CSS_SELECTOR, 'output[for=attribute-note_density]').text == '+1'
  driver.find_element(By.ID, 'attributes-move').click()
  wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, '#attributes-result .card'))
       == 5)
  # Read in one script: the cards are replaced as a whole when a result comes.
  titles = lambda: driver.execute_script(  # pylint: disable=g-long-lambda
      'return [...document.querySelectorAll("#attributes-result h3")].map(h => h.textContent)')
  assert titles()[2] == 'Sample 1 × 1 (note_density +1)', titles()
  screenshot(driver, 'attributes.png')
  count = driver.find_element(By.CSS_SELECTOR, '#attributes-form [name=n]')
  count.clear()
  count.send_keys('2')
  driver.find_element(By.ID, 'attributes-sample').click()
  wait(driver, lambda: titles() == ['Moved sample 1 (note_density +1)',
                                     'Moved sample 2 (note_density +1)'])

  # A phone's width: no tab needs sideways scrolling.
  driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride',
                         {'width': 360, 'height': 800, 'deviceScaleFactor': 1, 'mobile': True})
  for tab in ('attributes', 'grid', 'morph', 'sample'):
    driver.find_element(By.ID, f'tab-{tab}').click()
    time.sleep(0.3)  # the rolls are redrawn at the new width
    widths = driver.execute_script('return [document.documentElement.scrollWidth, '
                                   'document.documentElement.clientWidth]')
    assert widths[0] <= widths[1] <= 360, (tab, widths)
  screenshot(driver, 'narrow.png')
  driver.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})

  # Nothing fetched from anywhere but the studio itself.
  resources = driver.execute_script(
      'return performance.getEntriesByType("resource").map(e => e.name)')
  assert resources and all(name.startswith(studio_url) or name.startswith('blob:')
                           for name in resources), resources
  errors = [entry for entry in driver.get_log('browser') if entry['level'] == 'SEVERE'
            and 'status of 400' not in entry['message']]  # the 3/4 upload's answer
  assert not errors, errors


@pytest.fixture(scope='module')
def groove_url(tmp_path_factory):
  """mvl_studio on an untrained tiny GrooVAE model (humanize)."""
  run = helpers.make_untrained_run_dir(str(tmp_path_factory.mktemp('groove') / 'run'),
                                       'tiny-groove_2bar')
  yield from _studio(run)


def test_groove_in_a_browser(browser, groove_url, downloads):
  """A drum file with velocities and timing is drawn and played as it is, and humanized."""
  from music_vae_lite.families import contract  # pylint: disable=g-import-not-at-top
  driver = browser
  open_page(driver, groove_url)
  assert 'tiny-groove_2bar: drums, 2 bars' in driver.find_element(By.ID, 'model-info').text
  driver.find_element(By.ID, 'tab-groove').click()
  sequence = helpers.drum_performance()
  path = str(downloads / 'groove_in.mid')
  contract.write_midi(sequence, path)
  driver.find_element(By.ID, 'drums-file').send_keys(path)
  message = driver.find_element(By.CSS_SELECTOR, '#groove-slots .message')
  wait(driver, lambda: 'window 1 of 1' in message.text)
  button = driver.find_element(By.CSS_SELECTOR, '#groove-form button[type=submit]')
  assert button.text == 'Humanize'
  button.click()
  wait(driver, lambda: len(driver.find_elements(By.CSS_SELECTOR, '#groove-result .card')) == 2)
  cards = driver.find_elements(By.CSS_SELECTOR, '#groove-result .card')
  assert [card.find_element(By.TAG_NAME, 'h3').text for card in cards] == [
      'groove_in.mid window 1', 'Humanize: groove_in.mid window 1']
  assert int(cards[0].get_attribute('data-notes')) == len(sequence.notes)
  screenshot(driver, 'groove.png')
  # The input as the page downloads it: the file's velocities and early or late onsets.
  midi = pretty_midi.PrettyMIDI(download(
      driver, downloads, cards[0].find_element(By.CSS_SELECTOR, 'button.midi').click, '.mid'))
  played = sorted((n.start, n.velocity) for n in midi.instruments[0].notes)
  given = sorted((n.start_time, n.velocity) for n in sequence.notes)
  assert [v for _, v in played] == [v for _, v in given]
  np.testing.assert_allclose([t for t, _ in played], [t for t, _ in given], atol=2e-3)
  cards[1].find_element(By.CSS_SELECTOR, 'button.play').click()
  now_playing = driver.find_element(By.ID, 'now-playing')
  wait(driver, lambda: now_playing.text == 'Playing Humanize: groove_in.mid window 1.')
  driver.find_element(By.ID, 'stop').click()
