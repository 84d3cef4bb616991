"""The objects a surface needs, wired once by app.py and handed to every blueprint."""

from __future__ import annotations

from dataclasses import dataclass

from core.announce import Announcer
from core.arrs import ArrDirectory
from core.auth import Authenticator
from core.budgets import RequestBudgets
from core.hosts import HostPolicy
from core.library import Library
from core.live_config import ConfigEditor, RunningSettings
from core.ports import FileStreams, TreeView
from core.repair_jobs import RepairJobs
from core.settings import Settings

EXTENSION_KEY = "debridge"   # where app.py puts the Services in Flask's app.extensions


@dataclass(frozen=True)
class Services:
    """Library use cases, authentication, request budgets, the settings behind them, which
    Host headers every surface answers, the config editor (/api/config), the announce use
    case (/api/announce), repair and the Arrs."""

    library: Library
    authenticator: Authenticator
    running: RunningSettings
    budgets: RequestBudgets
    tree: TreeView            # browse.Tree
    streams: FileStreams      # browse.Streams
    hosts: HostPolicy
    config: ConfigEditor
    announcer: Announcer      # cross-seed's /api/announce
    repair: RepairJobs        # /api/repair
    arrs: ArrDirectory        # /api/arrs, qBit logins of Arrs

    @property
    def settings(self) -> Settings:
        """The settings now: read per use, so that live keys changed by /api/config count
        at once."""
        return self.running.current
