"""Music families: the window contract, one file per family, and their registry."""
