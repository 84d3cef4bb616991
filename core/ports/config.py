"""The port to the config file the settings were read from: read whole, replaced atomically."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol


class ConfigFile(Protocol):
    """config.json as a mapping. Each method raises core.errors.ConfigFileError when the
    file cannot be read, parsed or replaced."""

    @property
    def path(self) -> str:
        """The file's absolute path (as Settings.source names it)."""
        ...

    def read(self) -> dict[str, Any]:
        """The file's top-level JSON object, as written (no defaults, no environment)."""
        ...

    def replace(self, data: Mapping[str, Any]) -> None:
        """Write `data` as the whole file, atomically (a reader sees the old or the new
        file, never part of one); the previous content is kept as `<path>.bak`."""
        ...

    def exclusive(self) -> AbstractContextManager[None]:
        """Held around a read-change-replace, so that concurrent edits from any thread or
        worker process of this machine do not lose each other's changes."""
        ...
