"""The registry of data families: config.data.encoding -> the converter class that implements it.

Adding a family is one line here (plus its converter module, a decoder module where its output
distribution is new, and a config). Kept free of imports so that programs can list the families
(e.g. `mvl_preprocess --encoding`) before loading note_seq or TensorFlow; `contract.get_converter`
imports the named module on use.
"""

ENCODINGS = {
    'melody': 'music_vae_lite.families.melody:MelodyConverter',
    'drums': 'music_vae_lite.families.drums:DrumsConverter',
    'melody_chords': 'music_vae_lite.families.chords:ChordMelodyConverter',
    'trio': 'music_vae_lite.families.trio:TrioConverter',
    'groove': 'music_vae_lite.families.groove:GrooveConverter',
    'drum_roll': 'music_vae_lite.families.drum_roll:DrumRollConverter',
}
