"""Named model configs (ml_collections config files).

Each `<name>.py` here defines `get_config()`. Programs take `--config=<name>` (resolved by
`music_vae_lite.config_lib`) or `--config=path/to/file.py`, and any value can be overridden on the
command line, e.g. `--config.train.batch_size=64`.
"""
