"""The token REST API (/api, /t, /version): Decypharr's routes, the UDPT-style registry,
cross-seed's announce and webhook, browse and download, and the settings (/api/config)."""

from __future__ import annotations

from api import (
    browse_routes,
    config_routes,
    crossseed_routes,
    meta_routes,
    openapi,
    registry_routes,
    repair_routes,
    torrent_routes,
)
from api.http import blueprint, root

__all__ = ["blueprint", "browse_routes", "config_routes", "crossseed_routes", "meta_routes",
           "openapi", "registry_routes", "repair_routes", "root", "torrent_routes"]
