"""How Debridge serves HTTP: a gunicorn worker that keeps slow and idle clients off its
threads, and forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import contextlib
import resource
import socket

from server.worker import HeadReadingWorker, head_reading_worker

__all__ = ["HeadReadingWorker", "connection_limit", "head_reading_worker", "machine_names"]


def machine_names() -> set[str]:
    """This machine's own host names (a Host header naming them is this server)."""
    names = {socket.gethostname()}
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn())
    return names


def connection_limit() -> int:
    """Raise the open-files soft limit to the hard limit (workers inherit it) and say how many
    client connections a worker may hold: the descriptors left after 1,024 for the store and
    the provider and CDN connections (at least half of them), at most 10,000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass            # e.g. an unlimited hard limit the kernel will not grant
    return int(min(10_000, max(soft - 1024, soft // 2)))
