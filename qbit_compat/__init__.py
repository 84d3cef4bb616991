"""qBittorrent WebUI API v2 emulation (the /api/v2 blueprint)."""

from __future__ import annotations

from qbit_compat import (
    app_routes,
    auth_routes,
    log_routes,
    rss_search_routes,
    sync_routes,
    torrent_actions,
    torrent_edits,
    torrent_routes,
    transfer_routes,
)
from qbit_compat.routing import blueprint

# Importing the route modules registers their endpoints with the dispatcher.
__all__ = ["app_routes", "auth_routes", "blueprint", "log_routes", "rss_search_routes",
           "sync_routes", "torrent_actions", "torrent_edits", "torrent_routes",
           "transfer_routes"]
