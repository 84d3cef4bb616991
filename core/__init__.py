"""Debridge domain: settings, models, file selection, naming and the torrent engine."""

__version__ = "0.1.0"
