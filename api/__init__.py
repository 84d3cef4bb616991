"""The token REST API (/api, /t, /version): Decypharr's routes, the UDPT-style registry,
cross-seed's announce and webhook, browse and download."""

from __future__ import annotations

from api import browse_routes, meta_routes, openapi, torrent_routes
from api.http import blueprint, root

__all__ = ["blueprint", "browse_routes", "meta_routes", "openapi", "root", "torrent_routes"]
