"""A bounded log of API and CDN requests, so tests can assert call counts and pacing."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 200_000


class RequestLog:
    """Entries `{seq, ts, method, path, query, status}`; seq rises by one per request."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = 0

    def append(self, *, ts: float, method: str, path: str, query: str, status: int) -> None:
        with self._lock:
            self._seq += 1
            self._entries.append(
                {
                    "seq": self._seq,
                    "ts": ts,
                    "method": method,
                    "path": path,
                    "query": query,
                    "status": status,
                }
            )

    def since(self, seq: int) -> tuple[list[dict[str, Any]], int]:
        """Entries with a seq above `seq`, oldest first, and the seq to ask from next time."""
        with self._lock:
            newer = []
            # Walk back from the newest entry: a poller usually asks for the last few.
            for entry in reversed(self._entries):
                if entry["seq"] <= seq:
                    break
                newer.append(entry)
            newer.reverse()
            return newer, newer[-1]["seq"] if newer else seq

    def clear(self) -> int:
        """Drop every entry; returns the last seq, which keeps counting from there so a poller
        holding an old `next` never sees numbers reused."""
        with self._lock:
            self._entries.clear()
            return self._seq
