"""qBittorrent's cross-site request check (Origin, else Referer, against the Host)."""

from __future__ import annotations

import urllib.parse

from flask import Request

from core.hosts import host_and_port


def is_cross_site(request: Request) -> bool:
    """An Origin (else Referer) naming another host or port than the request's Host. As in
    qBittorrent, ports compare as written (absent = absent) and the scheme is not compared.
    An opaque Origin (`null`, `file://`: a sandboxed frame, a local file) names no site,
    so it is cross-site; a relative Referer is this site. X-Forwarded-Host counts only
    from a trusted proxy, which server.proxies has already made the Host."""
    host, port = host_and_port(request.headers.get("Host", ""))
    for header in ("Origin", "Referer"):
        value = request.headers.get(header, "").strip()
        if not value:
            continue
        url = urllib.parse.urlsplit(value)
        if not url.hostname:
            return header == "Origin" or bool(url.scheme or url.netloc)
        try:
            their_port = url.port
        except ValueError:
            return True
        return url.hostname.lower() != host or their_port != port
    return False
