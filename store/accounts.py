"""Categories, tags, sessions, login failures, leases, links and meta (a mixin of SqliteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager

from core.models import Category
from core.ports import DirectLink
from store.torrents import bump


class AccountQueries:
    """Small tables that are not torrents."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    # -- categories and tags ------------------------------------------------------------------
    @staticmethod
    def _category(row: sqlite3.Row) -> Category:
        enabled, path = row[2], row[3]
        download_path = None if enabled is None else (path if enabled else False)
        return Category(row[0], row[1], download_path)

    def list_categories(self) -> list[Category]:
        return [self._category(r) for r in self._read().execute(
            "SELECT name, save_path, download_path_enabled, download_path FROM categories "
            "ORDER BY name")]

    def get_category(self, name: str) -> Category | None:
        row = self._read().execute(
            "SELECT name, save_path, download_path_enabled, download_path FROM categories "
            "WHERE name = ?", (name,)).fetchone()
        return self._category(row) if row else None

    @staticmethod
    def _download_path(value: str | bool | None) -> tuple[int | None, str]:
        if value is None:
            return None, ""
        return (0, "") if value is False else (1, str(value))

    def create_category(self, name: str, save_path: str,
                        download_path: str | bool | None = None) -> bool:
        """False when it already exists."""
        enabled, path = self._download_path(download_path)
        with self._tx() as conn:
            created = conn.execute(
                "INSERT OR IGNORE INTO categories (name, save_path, download_path_enabled, "
                "download_path) VALUES (?, ?, ?, ?)",
                (name, save_path, enabled, path)).rowcount == 1
            if created:
                bump(conn)
            return created

    def edit_category(self, name: str, save_path: str,
                      download_path: str | bool | None = None) -> bool:
        """False when it does not exist."""
        enabled, path = self._download_path(download_path)
        with self._tx() as conn:
            edited = conn.execute(
                "UPDATE categories SET save_path = ?, download_path_enabled = ?, "
                "download_path = ? WHERE name = ?",
                (save_path, enabled, path, name)).rowcount == 1
            if edited:
                bump(conn)
            return edited

    def remove_categories(self, names: Iterable[str]) -> None:
        """Remove categories; their torrents become uncategorised."""
        with self._tx() as conn:
            for name in names:
                if conn.execute("DELETE FROM categories WHERE name = ?", (name,)).rowcount:
                    conn.execute("UPDATE torrents SET category = '', rev = ? WHERE category = ?",
                                 (bump(conn), name))

    def list_tags(self) -> list[str]:
        return [r[0] for r in self._read().execute("SELECT name FROM tags ORDER BY name")]

    def create_tags(self, tags: Iterable[str]) -> None:
        with self._tx() as conn:
            for tag in tags:
                if conn.execute("INSERT OR IGNORE INTO tags (name) VALUES (?)",
                                (tag,)).rowcount:
                    bump(conn)

    def delete_tags(self, tags: Iterable[str]) -> None:
        """Delete tags everywhere (from every torrent too)."""
        with self._tx() as conn:
            for tag in tags:
                if conn.execute("DELETE FROM tags WHERE name = ?", (tag,)).rowcount:
                    conn.execute("UPDATE torrents SET rev = ? WHERE id IN (SELECT torrent_id "
                                 "FROM torrent_tags WHERE tag = ?)", (bump(conn), tag))
                    conn.execute("DELETE FROM torrent_tags WHERE tag = ?", (tag,))

    def revision(self) -> int:
        """The revision of the latest change a client can see (sync/maindata's rid)."""
        return int(self._read().execute(
            "SELECT value FROM counters WHERE name = 'revision'").fetchone()[0])

    def tree_stamp(self) -> tuple[int, int]:
        """Changes since a tree listing was made: (revision, imported-torrent changes)."""
        rows = dict(self._read().execute(
            "SELECT name, value FROM counters WHERE name IN ('revision', 'library')"))
        return int(rows.get("revision", 0)), int(rows.get("library", 0))

    # -- log/main -----------------------------------------------------------------------------
    def append_log(self, entries: Iterable[tuple[int, int, str]], keep: int) -> None:
        """Add (time, type, message) entries; only the newest `keep` are kept."""
        with self._tx() as conn:
            conn.executemany("INSERT INTO log_entries (time, type, message) VALUES (?, ?, ?)",
                             list(entries))
            conn.execute("DELETE FROM log_entries WHERE id <= (SELECT MAX(id) FROM "
                         "log_entries) - ?", (keep,))

    def log_since(self, last_known_id: int, types: Iterable[int]) -> list[tuple[int, int, int,
                                                                                  str]]:
        kinds = list(types)
        if not kinds:
            return []
        marks = ",".join("?" * len(kinds))
        return [(r[0], r[1], r[2], r[3]) for r in self._read().execute(
            f"SELECT id, time, type, message FROM log_entries WHERE id > ? "  # noqa: S608
            f"AND type IN ({marks}) ORDER BY id", (last_known_id, *kinds))]

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._read().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def set_meta_if_absent(self, key: str, value: str) -> bool:
        """Store `value` unless the key exists; True if this call stored it."""
        with self._tx() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                               (key, value))
            return cur.rowcount == 1

    # -- qBittorrent sessions -----------------------------------------------------------------
    def create_session(self, sid_hash: str, username: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO sessions (sid_hash, username, created_at, last_seen) "
                         "VALUES (?, ?, ?, ?)", (sid_hash, username, now, now))

    def session_last_seen(self, sid_hash: str) -> float | None:
        row = self._read().execute("SELECT last_seen FROM sessions WHERE sid_hash = ?",
                                   (sid_hash,)).fetchone()
        return None if row is None else float(row[0])

    def session_username(self, sid_hash: str) -> str | None:
        row = self._read().execute("SELECT username FROM sessions WHERE sid_hash = ?",
                                   (sid_hash,)).fetchone()
        return None if row is None else str(row[0])

    def touch_session(self, sid_hash: str, now: float) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE sessions SET last_seen = ? WHERE sid_hash = ?", (now, sid_hash))

    def delete_session(self, sid_hash: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM sessions WHERE sid_hash = ?", (sid_hash,))

    def purge_sessions(self, idle_before: float) -> int:
        with self._tx() as conn:
            return conn.execute("DELETE FROM sessions WHERE last_seen < ?",
                                (idle_before,)).rowcount

    # -- failed logins (per surface and address) ----------------------------------------------
    def banned_until(self, ip: str, surface: str) -> float:
        row = self._read().execute("SELECT banned_until FROM login_failures WHERE surface = ? "
                                   "AND ip = ?", (surface, ip)).fetchone()
        return float(row[0]) if row else 0.0

    def record_login_failure(self, ip: str, surface: str, now: float, max_failures: int,
                             ban_seconds: float) -> bool:
        """Count a failure; True when this one starts a ban (and the counter restarts)."""
        with self._tx() as conn:
            row = conn.execute("SELECT failures FROM login_failures WHERE surface = ? AND "
                               "ip = ?", (surface, ip)).fetchone()
            failures = (row[0] if row else 0) + 1
            banned = failures >= max_failures
            conn.execute(
                "INSERT INTO login_failures (surface, ip, failures, banned_until, "
                "last_failure) VALUES (?, ?, ?, ?, ?) ON CONFLICT(surface, ip) DO UPDATE SET "
                "failures = excluded.failures, banned_until = excluded.banned_until, "
                "last_failure = excluded.last_failure",
                (surface, ip, 0 if banned else failures, now + ban_seconds if banned else 0.0,
                 now))
            return banned

    def purge_login_failures(self, before: float) -> None:
        """Forget failures (and ended bans) older than `before`."""
        with self._tx() as conn:
            conn.execute("DELETE FROM login_failures WHERE last_failure < ? AND "
                         "banned_until < ?", (before, before))

    def clear_login_failures(self, ip: str, surface: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM login_failures WHERE surface = ? AND ip = ?",
                         (surface, ip))

    def bans(self, now: float) -> list[tuple[str, str, float]]:
        """(address, surface, banned until) of the bans in force."""
        return [(r[0], r[1], float(r[2])) for r in self._read().execute(
            "SELECT ip, surface, banned_until FROM login_failures WHERE banned_until > ? "
            "ORDER BY ip, surface", (now,))]

    def lift_bans(self, ip: str | None = None) -> int:
        """Forget the failed logins and bans of one address (None: of every address), on
        every surface; the number of rows forgotten."""
        with self._tx() as conn:
            if ip is None:
                return conn.execute("DELETE FROM login_failures").rowcount
            return conn.execute("DELETE FROM login_failures WHERE ip = ?", (ip,)).rowcount

    # -- leases (one process runs the background work) ----------------------------------------
    def acquire_lease(self, name: str, owner: str, ttl: float, now: float,
                      steal_from_dead: bool = False) -> bool:
        """Take or renew the lease; an expired lease (or a dead holder's) can be taken over."""
        with self._tx() as conn:
            row = conn.execute("SELECT owner, expires_at FROM leases WHERE name = ?",
                               (name,)).fetchone()
            if row and row[0] != owner and row[1] > now and not steal_from_dead:
                return False
            conn.execute("INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, "
                         "expires_at = excluded.expires_at", (name, owner, now + ttl))
            return True

    def lease_holder(self, name: str, now: float) -> str | None:
        row = self._read().execute("SELECT owner, expires_at FROM leases WHERE name = ?",
                                   (name,)).fetchone()
        return row[0] if row and row[1] > now else None

    def release_lease(self, name: str, owner: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM leases WHERE name = ? AND owner = ?", (name, owner))

    # -- resolved direct links ----------------------------------------------------------------
    def get_link(self, provider: str, source: str, now: float) -> DirectLink | None:
        row = self._read().execute(
            "SELECT url, filename, size, expires_at FROM links WHERE provider = ? AND source = ?",
            (provider, source)).fetchone()
        if row is None or (row[3] is not None and row[3] <= now):
            return None
        return DirectLink(url=row[0], filename=row[1], size=row[2], expires_at=row[3])

    def put_link(self, provider: str, source: str, link: DirectLink) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO links (provider, source, url, filename, size, expires_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(provider, source) DO UPDATE SET "
                "url = excluded.url, filename = excluded.filename, size = excluded.size, "
                "expires_at = excluded.expires_at",
                (provider, source, link.url, link.filename, link.size, link.expires_at))

    def drop_link(self, provider: str, source: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM links WHERE provider = ? AND source = ?",
                         (provider, source))
