"""The objects a surface needs, wired once by app.py and handed to every blueprint."""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import Authenticator
from core.library import Library
from core.settings import Settings

EXTENSION_KEY = "debridge"   # where app.py puts the Services in Flask's app.extensions


@dataclass(frozen=True)
class Services:
    """Library use cases, authentication, and the settings they were built from."""

    library: Library
    authenticator: Authenticator
    settings: Settings
