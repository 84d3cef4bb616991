"""qBittorrent's request checks: cross-site requests (Origin/Referer) and the Host header."""

from __future__ import annotations

import fnmatch
import urllib.parse

from flask import Request


def _host_port(authority: str, scheme: str = "http") -> tuple[str, int | None]:
    """('host', port) from 'host[:port]' (IPv6 in brackets); port None when absent."""
    parsed = urllib.parse.urlsplit(f"{scheme}://{authority}")
    try:
        port = parsed.port
    except ValueError:
        port = -1          # unparsable: never equal to anything
    return (parsed.hostname or "").lower(), port


def _target(request: Request) -> tuple[str, int | None]:
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    return _host_port(forwarded or request.headers.get("Host", ""))


def is_cross_site(request: Request) -> bool:
    """An Origin (else Referer) naming another host or port than the request's Host (or
    X-Forwarded-Host). As in qBittorrent, ports compare as written (absent = absent) and
    the scheme is not compared."""
    for header in ("Origin", "Referer"):
        value = request.headers.get(header, "").strip()
        if not value:
            continue
        url = urllib.parse.urlsplit(value)
        if not url.hostname:
            return False               # relative referer ("/"): same site
        host, port = _target(request)
        try:
            their_port = url.port
        except ValueError:
            return True
        return url.hostname.lower() != host or their_port != port
    return False


def host_is_valid(request: Request, listening_port: int, domains: str) -> bool:
    """The Host header's port (when given) is ours and its name is in the domain list."""
    host, port = _host_port(request.headers.get("Host", ""))
    if port == -1:
        return False
    if port is not None and port != listening_port:
        return False
    patterns = [p.strip().lower() for p in domains.split(";") if p.strip()] or ["*"]
    return any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns) or host in (
        "localhost", "127.0.0.1", "::1", "[::1]")
