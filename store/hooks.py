"""The completion hooks' outbox (a mixin of SqliteStore): deliveries owed, claimed, finished."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from core.models import TorrentState
from core.ports import DeliveryState, HookDelivery
from store.torrents import TorrentQueries

D = DeliveryState
PENDING, SENDING = D.PENDING.value, D.SENDING.value
_COLUMNS = "id, torrent_id, hash, hook, context, created, state, attempts, next_at, error"
# Due: pending and its time has come, or claimed by a process whose claim ran out.
_CLAIM = (
    "UPDATE hook_outbox SET state = :sending, owner = :owner, claimed_until = :until, "  # noqa: S608
    "attempts = attempts + 1 WHERE id IN (SELECT id FROM hook_outbox WHERE (state = :pending "
    "AND next_at <= :now) OR (state = :sending AND claimed_until <= :now) ORDER BY id "
    f"LIMIT :limit) RETURNING {_COLUMNS}")


def _delivery(row: sqlite3.Row) -> HookDelivery:
    return HookDelivery(id=row["id"], torrent_id=row["torrent_id"], hash=row["hash"],
                        hook=row["hook"], context=orjson.loads(row["context"]),
                        created=row["created"], state=D(row["state"]),
                        attempts=row["attempts"], next_at=row["next_at"], error=row["error"])


class HookQueries:
    """The hook_outbox table."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def complete_torrent(self, torrent_id: int, from_states: Iterable[TorrentState],
                         now: float, deliveries: Sequence[HookDelivery],
                         **fields: Any) -> bool:
        """transition() to COMPLETED and queue the hook deliveries, in one transaction: a
        crash leaves either both or neither."""
        with self._tx() as conn:
            if not TorrentQueries._transition_in(conn, torrent_id, from_states,
                                                 TorrentState.COMPLETED, now, fields):
                return False
            conn.executemany(
                "INSERT INTO hook_outbox (torrent_id, hash, hook, context, created, next_at) "
                "VALUES (?,?,?,?,?,?)",
                [(d.torrent_id, d.hash, d.hook, orjson.dumps(dict(d.context)).decode(), now,
                  now) for d in deliveries])
            return True

    def claim_hook_deliveries(self, owner: str, now: float, until: float,
                              limit: int) -> list[HookDelivery]:
        with self._tx() as conn:
            rows = conn.execute(
                _CLAIM, {"sending": SENDING, "pending": PENDING, "owner": owner, "until": until,
                         "now": now, "limit": limit}).fetchall()
        return sorted((_delivery(r) for r in rows), key=lambda d: d.id)

    def hook_claim_owners(self) -> set[str]:
        return {r[0] for r in self._read().execute(
            "SELECT DISTINCT owner FROM hook_outbox WHERE state = ?", (SENDING,))}

    def release_hook_claims(self, owner: str, now: float) -> int:
        with self._tx() as conn:
            return conn.execute(
                "UPDATE hook_outbox SET state = ?, next_at = ?, claimed_until = 0 "
                "WHERE state = ? AND owner = ?", (PENDING, now, SENDING, owner)).rowcount

    def hook_delivered(self, delivery_id: int, now: float) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE hook_outbox SET state = ?, finished = ?, error = '' "
                         "WHERE id = ?", (D.DONE.value, now, delivery_id))

    def hook_retry(self, delivery_id: int, owner: str, next_at: float, error: str) -> None:
        # only the claim's holder: a process whose claim ran out must not reopen a delivery
        # another one is sending now
        with self._tx() as conn:
            conn.execute("UPDATE hook_outbox SET state = ?, next_at = ?, claimed_until = 0, "
                         "error = ? WHERE id = ? AND owner = ? AND state = ?",
                         (PENDING, next_at, error, delivery_id, owner, SENDING))

    def hook_given_up(self, delivery_id: int, owner: str, now: float, state: DeliveryState,
                      error: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE hook_outbox SET state = ?, finished = ?, error = ? "
                         "WHERE id = ? AND owner = ? AND state = ?",
                         (state.value, now, error, delivery_id, owner, SENDING))

    def next_hook_due(self) -> float | None:
        row = self._read().execute(
            "SELECT MIN(CASE state WHEN :pending THEN next_at ELSE claimed_until END) "
            "FROM hook_outbox WHERE state IN (:pending, :sending)",
            {"pending": PENDING, "sending": SENDING}).fetchone()
        return None if row[0] is None else float(row[0])

    def hook_deliveries(self, info_hash: str | None = None) -> list[HookDelivery]:
        where, args = ("WHERE hash = ?", (info_hash.lower(),)) if info_hash else ("", ())
        return [_delivery(r) for r in self._read().execute(
            f"SELECT {_COLUMNS} FROM hook_outbox {where} ORDER BY id", args)]  # noqa: S608

    def prune_hook_deliveries(self, finished_before: float) -> int:
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM hook_outbox WHERE state NOT IN (?, ?) AND finished < ?",
                (PENDING, SENDING, finished_before)).rowcount
