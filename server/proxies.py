"""Forwarded headers, believed only from the reverse proxies the operator trusts."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks ('10.0.0.5', '172.16.0.0/12'); ValueError names a bad one."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


class TrustedProxies:
    """X-Forwarded-For, -Host, -Proto and -Prefix are applied (werkzeug's ProxyFix, one hop)
    only when the connection comes from a trusted proxy; from anyone else they are dropped,
    so no client can pick its own address (the ban is per address) or the site a CSRF
    check compares against."""

    FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PROTO",
                 "HTTP_X_FORWARDED_PREFIX", "HTTP_X_FORWARDED_PORT", "HTTP_FORWARDED")

    def __init__(self, app: Any, networks: Iterable[Network]) -> None:
        self.app = app
        self.networks = tuple(networks)
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_prefix=1)

    def trusted(self, address: str) -> bool:
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.networks and self.trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        for key in self.FORWARDED:
            environ.pop(key, None)
        return self.app(environ, start_response)
