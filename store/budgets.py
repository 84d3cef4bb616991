"""Request budgets and their waiting callers (a mixin of SqliteStore)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import TypeVar

from core.ports import Bucket, BucketChange, Waiter

T = TypeVar("T")
WAITER_MARGIN = 2.0     # a waiter that stops refreshing (a killed process) lapses this soon


def _bucket(row: sqlite3.Row | None) -> Bucket | None:
    if row is None:
        return None
    return Bucket(tokens=row["tokens"], updated=row["updated"],
                  blocked_until=row["blocked_until"], strikes=row["strikes"],
                  rate_limited=tuple(float(m) for m in row["rate_limited"].split(",") if m))


class BudgetQueries:
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def update_bucket(self, account: str, change: BucketChange[T], *, now: float,
                      waiter: Waiter | None = None) -> T:
        with self._tx() as conn:
            row = conn.execute("SELECT tokens, updated, blocked_until, strikes, rate_limited "
                               "FROM budgets WHERE account = ?", (account,)).fetchone()
            ahead = 0
            if waiter is not None:
                ahead = conn.execute(
                    "SELECT COUNT(*) FROM budget_waiters WHERE account = ? AND until > ? AND "
                    "waiter != ? AND (priority < ? OR (priority = ? AND since < ?))",
                    (account, now, waiter.id, waiter.priority, waiter.priority,
                     waiter.since)).fetchone()[0]
            bucket, result = change(_bucket(row), int(ahead))
            conn.execute(
                "INSERT INTO budgets (account, tokens, updated, blocked_until, strikes, "
                "rate_limited) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
                "tokens = excluded.tokens, updated = excluded.updated, "
                "blocked_until = excluded.blocked_until, strikes = excluded.strikes, "
                "rate_limited = excluded.rate_limited",
                (account, bucket.tokens, bucket.updated, bucket.blocked_until, bucket.strikes,
                 ",".join(f"{m:.3f}" for m in bucket.rate_limited)))
            if waiter is not None:
                wait = result if isinstance(result, int | float) else 0
                if wait > 0:
                    conn.execute(
                        "INSERT INTO budget_waiters (account, waiter, priority, since, until) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, waiter) DO UPDATE SET "
                        "until = excluded.until", (account, waiter.id, waiter.priority,
                                                   waiter.since,
                                                   now + float(wait) + WAITER_MARGIN))
                else:
                    conn.execute("DELETE FROM budget_waiters WHERE account = ? AND waiter = ?",
                                 (account, waiter.id))
            if row is None or conn.total_changes % 512 == 0:
                # lapsed waiters (a process killed while waiting) go now and then
                conn.execute("DELETE FROM budget_waiters WHERE until < ?", (now - 60,))
        return result

    def read_bucket(self, account: str, now: float) -> tuple[Bucket | None, dict[int, int]]:
        conn = self._read()
        row = conn.execute("SELECT tokens, updated, blocked_until, strikes, rate_limited "
                           "FROM budgets WHERE account = ?", (account,)).fetchone()
        waiting = {int(p): int(n) for p, n in conn.execute(
            "SELECT priority, COUNT(*) FROM budget_waiters WHERE account = ? AND until > ? "
            "GROUP BY priority", (account, now))}
        return _bucket(row), waiting
