"""What sync/maindata last sent to each session, so the next answer holds only changed fields.

A cache, one per app, bounded to a few sessions: when a session's snapshot is missing (another
worker answered it, a restart, an eviction) the answer is a full update, which qBittorrent's
clients handle as a fresh start. Torrents are kept as fingerprints (one 64-bit hash per
field), so a snapshot of 10,000 torrents costs a few megabytes, not the objects themselves.
"""

from __future__ import annotations

import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

MAX_SESSIONS = 8


def fingerprint(entry: dict[str, Any], keys: tuple[str, ...]) -> array[int]:
    """One 64-bit hash per field (maindata entries hold only scalars)."""
    values = itemgetter(*keys)(entry) if len(keys) > 1 else (entry[keys[0]],)
    return array("q", map(hash, values))


@dataclass
class Snapshot:
    rid: int
    keys: tuple[str, ...] = ()                       # the torrent fields, in a fixed order
    torrents: dict[str, array[int]] = field(default_factory=dict)
    torrent_trackers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    trackers: dict[str, list[str]] = field(default_factory=dict)
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: set[str] = field(default_factory=set)
    server_state: dict[str, Any] = field(default_factory=dict)

    def remember(self, info_hash: str, entry: dict[str, Any]) -> None:
        if not self.keys:
            self.keys = tuple(sorted(entry))
        self.torrents[info_hash] = fingerprint(entry, self.keys)

    def changed_fields(self, info_hash: str, entry: dict[str, Any]) -> dict[str, Any]:
        """The fields of `entry` that differ from what was sent; remembers the new ones."""
        new = fingerprint(entry, self.keys)
        old = self.torrents.get(info_hash)
        self.torrents[info_hash] = new
        if old is None:
            return dict(entry)
        return {k: entry[k] for k, a, b in zip(self.keys, old, new, strict=True) if a != b}

    def set_trackers(self, info_hash: str, urls: tuple[str, ...]) -> set[str]:
        """Record a torrent's trackers; returns the URLs whose hash lists changed."""
        before = self.torrent_trackers.get(info_hash, ())
        if before == urls:
            return set()
        for url in before:
            hashes = self.trackers.get(url, [])
            if info_hash in hashes:
                hashes.remove(info_hash)
            if not hashes:
                self.trackers.pop(url, None)
        for url in urls:
            self.trackers.setdefault(url, []).append(info_hash)
        if urls:
            self.torrent_trackers[info_hash] = urls
        else:
            self.torrent_trackers.pop(info_hash, None)
        return set(before) | set(urls)


class Snapshots:
    """The latest snapshot per session id (hashed by the caller), least recently used out."""

    def __init__(self, max_sessions: int = MAX_SESSIONS) -> None:
        self._lock = threading.Lock()
        self._by_session: OrderedDict[str, Snapshot] = OrderedDict()
        self._max = max_sessions

    def take(self, session: str, rid: int) -> Snapshot | None:
        """The session's snapshot if the client's rid is the one it was sent; the caller
        owns it until put() (a concurrent request of the same session gets a full update)."""
        with self._lock:
            found = self._by_session.get(session)
            if found is None or found.rid != rid:
                return None
            del self._by_session[session]
            return found

    def put(self, session: str, snapshot: Snapshot) -> None:
        with self._lock:
            self._by_session[session] = snapshot
            self._by_session.move_to_end(session)
            while len(self._by_session) > self._max:
                self._by_session.popitem(last=False)


def diff_mapping(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(entries new or changed, keys removed) between two mappings."""
    changed = {k: v for k, v in new.items() if old.get(k) != v}
    removed = [k for k in old if k not in new]
    return changed, removed
