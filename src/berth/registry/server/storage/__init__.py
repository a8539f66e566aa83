"""Storage drivers (``api.py``), the layout of the registry's files (``paths.py``), and
the file system and in-memory drivers."""
