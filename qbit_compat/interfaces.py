"""The host's network interfaces and addresses, for app/networkInterface(Address)List."""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import socket
import struct
from pathlib import Path

SIOCGIFADDR = 0x8915          # Linux: an interface's IPv4 address


def _ipv4(name: str) -> list[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            contextlib.suppress(OSError):
        packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR,
                             struct.pack("256s", name.encode()[:15]))
        return [socket.inet_ntoa(packed[20:24])]
    return []


def _ipv6() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            fields = line.split()
            if len(fields) == 6:
                address = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
                found.setdefault(fields[5], []).append(address)
    return found


def addresses(name: str = "") -> list[str]:
    """The addresses of one interface, or of all of them when `name` is empty."""
    v6 = _ipv6()
    names = [n for _, n in socket.if_nameindex()] if not name else [name]
    return [a for n in names for a in (*_ipv4(n), *v6.get(n, []))]


def interfaces() -> list[dict[str, str]]:
    """qBittorrent's list: the interfaces that have an address."""
    return [{"name": n, "value": n} for _, n in socket.if_nameindex() if addresses(n)]
