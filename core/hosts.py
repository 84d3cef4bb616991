"""Which Host headers Debridge answers: its port, and names of this machine or home network."""

from __future__ import annotations

import fnmatch
import ipaddress
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

# Names that only resolve inside a home network or on this machine. A public name (what a
# DNS-rebinding page uses to reach 127.0.0.1:8282 from a browser) is not among them.
LOCAL_SUFFIXES = (".local", ".lan", ".home", ".internal", ".localdomain", ".home.arpa",
                  ".localhost", ".intranet", ".private")


def host_and_port(authority: str) -> tuple[str, int | None]:
    """('host', port) from a Host header's 'host[:port]' (IPv6 in brackets); the port is
    None when absent and -1 when unparsable."""
    parsed = urllib.parse.urlsplit(f"http://{authority}")
    try:
        port = parsed.port
    except ValueError:
        port = -1
    return (parsed.hostname or "").lower(), port


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class HostPolicy:
    """qBittorrent's Host header check, for every surface. `domains` is the domain list
    (';'-separated, '*' wildcards); empty means: IP addresses, localhost, names without a
    dot (a container or computer name), names under a home-network suffix (.local, .lan,
    ...) and this machine's own names."""

    enabled: bool
    port: int
    domains: str = ""
    machine_names: tuple[str, ...] = ()

    @classmethod
    def build(cls, enabled: bool, port: int, domains: str,
              machine_names: Iterable[str] = ()) -> HostPolicy:
        return cls(enabled, port, domains.strip(),
                   tuple(sorted({n.lower() for n in machine_names if n})))

    def allows(self, authority: str) -> bool:
        """Whether a request with this Host header is answered."""
        if not self.enabled:
            return True
        host, port = host_and_port(authority.strip())
        if not host or port == -1 or (port is not None and port != self.port):
            return False
        if host == "localhost" or _is_address(host):
            return True
        patterns = [p.strip().lower() for p in self.domains.split(";") if p.strip()]
        if patterns:
            return any(fnmatch.fnmatchcase(host, pattern) for pattern in patterns)
        return "." not in host or host.endswith(LOCAL_SUFFIXES) or host in self.machine_names
