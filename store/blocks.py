"""The block list: info-hashes flagged in the registry, refused by every add."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager

MAX_VARIABLES = 500     # hashes per IN (...) query, well under SQLite's variable limit


class BlockQueries:
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def block_hash(self, info_hash: str, now: float) -> bool:
        """Put a hash on the block list; False when it was there already."""
        with self._tx() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO blocked_hashes (hash, blocked_at) "
                               "VALUES (?, ?)", (info_hash, now))
            return cur.rowcount == 1

    def unblock_hash(self, info_hash: str) -> bool:
        """Take a hash off the block list; False when it was not on it."""
        with self._tx() as conn:
            return conn.execute("DELETE FROM blocked_hashes WHERE hash = ?",
                                (info_hash,)).rowcount == 1

    def blocked_among(self, hashes: Iterable[str]) -> set[str]:
        """Which of these hashes are blocked."""
        wanted = list(dict.fromkeys(hashes))
        found: set[str] = set()
        conn = self._read()
        for start in range(0, len(wanted), MAX_VARIABLES):
            chunk = wanted[start:start + MAX_VARIABLES]
            found.update(row[0] for row in conn.execute(
                f"SELECT hash FROM blocked_hashes WHERE hash IN "  # noqa: S608
                f"({', '.join('?' * len(chunk))})", chunk))
        return found
