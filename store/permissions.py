"""The data dir and its files are Debridge's alone: they hold the password hash, the key's
digest, sessions and CDN links."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> None:
    """Create the folder (and its parents) if needed; it, not its parents, becomes 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create the file empty if it is missing, then make it 0600 (SQLite gives its -wal and
    -shm files the mode of the database file)."""
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, FILE_MODE)
    os.close(descriptor)
    os.chmod(path, FILE_MODE)


def tighten(directory: Path) -> None:
    """Existing files directly in the folder become 0600 (older releases left them 0644)."""
    for entry in directory.iterdir():
        if entry.is_file() and not entry.is_symlink():
            with contextlib.suppress(OSError):
                os.chmod(entry, FILE_MODE)
