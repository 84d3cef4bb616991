"""What sync/maindata last sent to each session, so the next answer holds only changed fields.

A cache, bounded to a few sessions per process: when a session's snapshot is missing (another
worker answered it, a restart, an eviction) the answer is a full update, which qBittorrent's
clients handle as a fresh start.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_SESSIONS = 8


@dataclass
class Snapshot:
    rid: int
    torrents: dict[str, dict[str, Any]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    trackers: dict[str, list[str]] = field(default_factory=dict)
    server_state: dict[str, Any] = field(default_factory=dict)


class Snapshots:
    """The latest snapshot per session id (hashed by the caller), least recently used out."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._lock = threading.Lock()
        self._by_session: OrderedDict[str, Snapshot] = OrderedDict()
        self._max = max_sessions

    def take(self, session: str, rid: int) -> Snapshot | None:
        """The session's snapshot if the client's rid is the one it was sent."""
        with self._lock:
            found = self._by_session.get(session)
            if found is None or found.rid != rid:
                return None
            self._by_session.move_to_end(session)
            return found

    def put(self, session: str, snapshot: Snapshot) -> None:
        with self._lock:
            self._by_session[session] = snapshot
            self._by_session.move_to_end(session)
            while len(self._by_session) > self._max:
                self._by_session.popitem(last=False)


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if old is None:
        return dict(new)
    return {k: v for k, v in new.items() if old.get(k) != v}


def diff_mapping(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(entries new or changed, keys removed) between two mappings."""
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    removed = [k for k in old if k not in new]
    return changed, removed
