"""config.json on disk: read whole, replaced atomically with the previous file kept as
<config>.bak, both 0600 (they may hold the password and API keys)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigFileError
from store.permissions import FILE_MODE

BACKUP_SUFFIX = ".bak"


class JsonConfigFile:
    """The config file at `path` (absolute: Settings.source)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()

    @property
    def path(self) -> str:
        return str(self._path)

    @property
    def backup(self) -> Path:
        return self._path.with_name(self._path.name + BACKUP_SUFFIX)

    def read(self) -> dict[str, Any]:
        try:
            text = self._path.read_bytes()
        except OSError as exc:
            raise ConfigFileError(f"cannot read the config file {self._path}: "
                                  f"{exc.strerror or exc}") from None
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConfigFileError(f"the config file {self._path} is not valid JSON now "
                                  f"({exc}); fix it, then try again") from None
        if not isinstance(data, dict):
            raise ConfigFileError(f"the config file {self._path}: the top level must be a "
                                  "JSON object; fix it, then try again")
        return data

    def replace(self, data: Mapping[str, Any]) -> None:
        # the shipped config.json's layout (tools/settings_doc.py config)
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        try:
            previous = self._path.read_bytes()
            _write_atomic(self.backup, previous)
            _write_atomic(self._path, text.encode("utf-8"))
        except OSError as exc:
            # e.g. a read-only mount, or a bind-mounted file (rename over it is refused)
            raise ConfigFileError(f"cannot write the config file {self._path} (it is "
                                  f"unchanged): {exc.strerror or exc}") from None

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        # The thread lock queues this process's requests; flock on the directory queues
        # the other workers' (the file itself is replaced, so it cannot carry the lock).
        with self._lock:
            try:
                descriptor = os.open(self._path.parent, os.O_RDONLY)
            except OSError as exc:
                raise ConfigFileError(f"cannot open the config file's folder "
                                      f"{self._path.parent}: {exc.strerror or exc}") from None
            try:
                with contextlib.suppress(OSError):   # no flock there: threads still queue
                    fcntl.flock(descriptor, fcntl.LOCK_EX)
                yield
            finally:
                os.close(descriptor)                 # releases the flock


def _write_atomic(path: Path, content: bytes) -> None:
    """A temporary file beside `path` (same file system, so the rename is atomic), on disk
    before it is renamed over `path`, and the rename on disk before this returns."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            os.fchmod(out.fileno(), FILE_MODE)       # mkstemp's mode, said out loud
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # the rename is done; a file system that cannot sync a folder must not make it an error
    with contextlib.suppress(OSError):
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


if TYPE_CHECKING:
    from core.ports import ConfigFile

    # mypy proves here that the adapter implements the port
    _PORT: ConfigFile = JsonConfigFile(Path())
