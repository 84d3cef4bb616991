"""The SQLite store: one connection per thread, WAL journal, explicit short transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from tenacity import retry, retry_if_exception, stop_after_delay, wait_random

from core.ports import Store
from store.accounts import AccountQueries
from store.announces import AnnounceQueries
from store.arrs import ArrQueries
from store.blocks import BlockQueries
from store.budgets import BudgetQueries
from store.hooks import HookQueries
from store.imported import ImportedQueries
from store.migrations import migrate
from store.permissions import private_dir, private_file, tighten
from store.registry import RegistryQueries
from store.repair import RepairQueries
from store.torrents import TorrentQueries
from store.tree import TreeQueries

DB_NAME = "debridge.sqlite3"


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


# Switching a new file to WAL needs an exclusive lock, and SQLite answers BUSY at once
# (no busy handler) when several processes open the same new database together.
@retry(retry=retry_if_exception(_is_locked), stop=stop_after_delay(30),
       wait=wait_random(0.005, 0.05), reraise=True)
def _enable_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")


class SqliteStore(TorrentQueries, AccountQueries, BudgetQueries, ImportedQueries,
                  TreeQueries, BlockQueries, RegistryQueries, HookQueries, AnnounceQueries,
                  RepairQueries, ArrQueries):
    """Debridge's persistent state. Thread-safe; several processes may share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        private_dir(path.parent)
        private_file(path)
        tighten(path.parent)
        migrate(self._conn())
        self.fill_imported_folders()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            _enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken up front so concurrent writers queue, not deadlock."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _read(self) -> sqlite3.Connection:
        return self._conn()

    def journal_mode(self) -> str:
        return str(self._read().execute("PRAGMA journal_mode").fetchone()[0])

    def schema_version(self) -> int:
        return int(self._read().execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every connection this store opened (call once no thread uses it)."""
        with self._lock:
            for conn in self._all:
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


if TYPE_CHECKING:
    # mypy proves here that the SQLite store implements every port core declares
    _PORTS: Store = SqliteStore(Path())


def open_store(data_dir: Path) -> SqliteStore:
    """Open (creating and migrating if needed) the store under `data_dir`."""
    return SqliteStore(data_dir / DB_NAME)
