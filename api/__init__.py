"""The bearer-token REST API (/api): browse the library and download its files."""

from __future__ import annotations

from api import browse_routes
from api.http import blueprint

__all__ = ["blueprint", "browse_routes"]
