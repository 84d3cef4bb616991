"""qBittorrent WebUI API v2 emulation (the /api/v2 blueprint)."""

from __future__ import annotations

from flask import Blueprint

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
from qbit_compat.routing import Endpoint, endpoint_table, make_blueprint

__all__ = ["blueprint", "endpoints"]


def endpoints() -> dict[str, Endpoint]:
    """Every /api/v2 endpoint by `scope/action`: the route modules' tables."""
    return endpoint_table(app_routes.ENDPOINTS, auth_routes.ENDPOINTS, log_routes.ENDPOINTS,
                          rss_search_routes.ENDPOINTS, sync_routes.ENDPOINTS,
                          torrent_actions.ENDPOINTS, torrent_edits.ENDPOINTS,
                          torrent_routes.ENDPOINTS, transfer_routes.ENDPOINTS)


def blueprint() -> Blueprint:
    """A new /api/v2 blueprint, for one app: its endpoints and its sync/maindata snapshots."""
    qbit = make_blueprint(endpoints())
    qbit.record_once(sync_routes.keep_snapshots)
    return qbit
