"""The registry's listing (/t): live torrents and flagged hashes, paged in info-hash order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from core.models import Torrent
from core.ports.store import RegistryRow
from store import states

# Every hash the registry knows: a live torrent's, a flagged one's, or both (UNION keeps one).
# Each side is read in hash order from an index (torrents_hash, blocked_hashes' key).
_HASHES = (f"SELECT hash FROM torrents WHERE {states.LIVE} "  # noqa: S608
           "UNION SELECT hash FROM blocked_hashes")
_PAGE = f"{_HASHES} ORDER BY hash LIMIT ? OFFSET ?"
# The same count without building the union: the torrents, then the flagged hashes that
# have no live torrent (looked up in torrents_hash).
_TOTAL = (f"SELECT (SELECT COUNT(*) FROM torrents WHERE {states.LIVE}) + "  # noqa: S608
          "(SELECT COUNT(*) FROM blocked_hashes AS b WHERE NOT EXISTS (SELECT 1 FROM torrents "
          f"WHERE torrents.hash = b.hash AND {states.LIVE}))")
_IN_PAGE = "hash IN (SELECT value FROM json_each(?))"


class RegistryQueries:
    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _rows(self, where: str, args: Sequence[Any], order: str = "id") -> list[Torrent]:
        raise NotImplementedError

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: the page, its torrents, its flags and the total are read
        from the same state of the file, so a concurrent delete leaves no half entry."""
        conn = self._read()
        conn.execute("BEGIN DEFERRED")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def registry_page(self, offset: int, limit: int) -> tuple[list[RegistryRow], int]:
        """Entries `offset` to `offset + limit` in info-hash order, and how many there are."""
        with self._snapshot() as conn:
            hashes = [row[0] for row in conn.execute(_PAGE, (limit, offset))]
            total = int(conn.execute(_TOTAL).fetchone()[0])
            if not hashes:
                return [], total
            wanted = orjson.dumps(hashes).decode()
            torrents = {t.hash: t for t in self._rows(f"{states.LIVE} AND {_IN_PAGE}",
                                                      (wanted,))}
            flagged = {row[0] for row in conn.execute(
                f"SELECT hash FROM blocked_hashes WHERE {_IN_PAGE}", (wanted,))}  # noqa: S608
        return [RegistryRow(h, torrents.get(h), h in flagged) for h in hashes], total
