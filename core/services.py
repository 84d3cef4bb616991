"""The objects a surface needs, wired once by app.py and handed to every blueprint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.auth import Authenticator
from core.budgets import RequestBudgets
from core.library import Library
from core.settings import Settings

EXTENSION_KEY = "debridge"   # where app.py puts the Services in Flask's app.extensions


@dataclass(frozen=True)
class Services:
    """Library use cases, authentication, request budgets, and the settings behind them."""

    library: Library
    authenticator: Authenticator
    settings: Settings
    budgets: RequestBudgets
    tree: Any = None          # browse.Tree (browse sits above core)
    streams: Any = None       # browse.Streams
