"""Installs music_vae_lite, its named configs and its command-line programs."""
import setuptools

setuptools.setup(
    name='music_vae_lite',
    version='0.1.0',
    description='MusicVAE re-implemented in TensorFlow 2 + TensorFlow Probability.',
    python_requires='>=3.11,<3.12',
    # The repository keeps its configs at the top level (`configs/`); `music_vae_lite/configs` is a
    # symbolic link to that folder, so they are the package `music_vae_lite.configs` however the
    # project is installed (wheel, editable) or run (`python -m music_vae_lite.cli.train` from the
    # repository root). A wheel holds real copies of the files.
    packages=['music_vae_lite', 'music_vae_lite.cli', 'music_vae_lite.configs', 'music_vae_lite.families',
              'music_vae_lite.nn', 'music_vae_lite.nn.decoders', 'music_vae_lite.pipeline',
              'music_vae_lite.training', 'music_vae_lite.serving', 'music_vae_lite.studio'],
    # mvl_studio's page: HTML, CSS and JavaScript served from the installed package.
    package_data={'music_vae_lite.studio': ['static/*']},
    install_requires=[
        'tensorflow==2.21.*',
        'tensorflow-probability==0.25.*',
        'tf-keras==2.21.*',  # TFP 0.25 imports it; it also gives us a distribution-aware Adam.
        'tensorboard==2.21.*',  # tf.summary's writers and the viewer for training curves
        'note-seq==0.0.5',
        'pretty-midi>=0.2.10,<0.3',  # note-seq's MIDI layer; we write files with it directly
        'pillow>=10.1',  # piano-roll pictures with pitch and drum labels
        'numpy>=1.26,<2.5',
        'absl-py>=2.1,<3',
        'ml-collections>=1.0,<2',
    ],
    extras_require={
        # selenium drives Debian's chromium (through its chromedriver) in `pytest -m browser`;
        # pytest-xdist runs the default suite on two processes (`pytest -n 2`).
        'test': ['pytest>=8,<10', 'pytest-xdist>=3.5,<4', 'selenium>=4.20,<5'],
        'corpus': ['music21>=9,<11'],  # only to rebuild data/ with data/build_corpus.py
    },
    entry_points={
        'console_scripts': [
            'mvl_train=music_vae_lite.cli.train:run',
            'mvl_sample=music_vae_lite.cli.sample:run',
            'mvl_interpolate=music_vae_lite.cli.interpolate:run',
            'mvl_evaluate=music_vae_lite.cli.evaluate:run',
            'mvl_preprocess=music_vae_lite.cli.preprocess:run',
            'mvl_import=music_vae_lite.cli.import_checkpoint:run',
            'mvl_export=music_vae_lite.cli.export:run',
            'mvl_studio=music_vae_lite.cli.studio:run',
            'mvl_attributes=music_vae_lite.cli.attributes:run',
            'mvl_groove=music_vae_lite.cli.groove:run',
        ],
    },
)
