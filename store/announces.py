"""Announced releases (cross-seed's /api/announce): guid -> info-hash, and each hash's outcome."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from core.ports import AnnounceMemory


class AnnounceQueries:
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def announced_hash(self, guid: str) -> str | None:
        row = self._read().execute("SELECT hash FROM announce_guids WHERE guid = ?",
                                   (guid,)).fetchone()
        return None if row is None else str(row[0])

    def remember_announce(self, guid: str, info_hash: str, now: float) -> None:
        """The guid names this hash (a later announce of the guid may name another one)."""
        with self._tx() as conn:
            conn.execute("INSERT INTO announce_guids (guid, hash, seen_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (guid) DO UPDATE SET hash = excluded.hash, "
                         "seen_at = excluded.seen_at", (guid, info_hash, now))

    def announce_outcome(self, info_hash: str) -> AnnounceMemory | None:
        row = self._read().execute("SELECT outcome, message, at FROM announce_outcomes "
                                   "WHERE hash = ?", (info_hash,)).fetchone()
        return None if row is None else AnnounceMemory(str(row[0]), str(row[1]), float(row[2]))

    def set_announce_outcome(self, info_hash: str, outcome: str, message: str,
                             now: float) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO announce_outcomes (hash, outcome, message, at) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET "
                         "outcome = excluded.outcome, message = excluded.message, "
                         "at = excluded.at", (info_hash, outcome, message, now))

    def forget_announces(self, before: float) -> int:
        with self._tx() as conn:
            guids = conn.execute("DELETE FROM announce_guids WHERE seen_at < ?",
                                 (before,)).rowcount
            outcomes = conn.execute("DELETE FROM announce_outcomes WHERE at < ?",
                                    (before,)).rowcount
        return int(guids) + int(outcomes)
