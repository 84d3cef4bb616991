"""Torrent and file queries (a mixin of SqliteStore)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

from core.errors import DuplicateTorrent
from core.models import NewTorrent, Torrent, TorrentFile, TorrentState
from store.migrations import ACTIVE

# Columns a caller may change through update_torrent/transition.
UPDATABLE = frozenset({
    "name", "category", "save_path", "folder", "provider_torrent_id", "paused", "progress",
    "size", "total_size", "speed", "seeders", "reason", "message", "ratio_limit",
    "seeding_time_limit", "completion_on", "last_activity", "next_check_at", "attempts",
    "delete_files", "delete_remote", "trackers",
})
FILE_UPDATABLE = frozenset({"selected", "provider_file_id", "link", "done", "path", "size"})
TORRENT_COLUMNS = (
    "id, hash, name, state, category, save_path, folder, magnet, torrent_file IS NOT NULL AS "
    "has_torrent_file, trackers, provider, provider_torrent_id, paused, progress, size, "
    "total_size, speed, seeders, reason, message, ratio_limit, seeding_time_limit, added_on, "
    "completion_on, last_activity, state_since, next_check_at, attempts, delete_files, "
    "delete_remote"
)
CHUNK = 500  # SQLite's variable limit is far above this; keeps IN lists small


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _file(row: sqlite3.Row) -> TorrentFile:
    return TorrentFile(index=row["idx"], path=row["path"], size=row["size"],
                       selected=bool(row["selected"]), provider_file_id=row["provider_file_id"],
                       link=row["link"], done=bool(row["done"]))


def _torrent(row: sqlite3.Row, tags: tuple[str, ...],
             files: tuple[TorrentFile, ...] = ()) -> Torrent:
    return Torrent(
        id=row["id"], hash=row["hash"], name=row["name"], state=TorrentState(row["state"]),
        category=row["category"], tags=tags, save_path=row["save_path"], folder=row["folder"],
        magnet=row["magnet"], has_torrent_file=bool(row["has_torrent_file"]),
        trackers=tuple(t for t in row["trackers"].split("\n") if t),
        provider=row["provider"], provider_torrent_id=row["provider_torrent_id"],
        paused=bool(row["paused"]), progress=row["progress"], size=row["size"],
        total_size=row["total_size"], speed=row["speed"], seeders=row["seeders"],
        reason=row["reason"], message=row["message"], ratio_limit=row["ratio_limit"],
        seeding_time_limit=row["seeding_time_limit"], added_on=row["added_on"],
        completion_on=row["completion_on"], last_activity=row["last_activity"],
        state_since=row["state_since"], next_check_at=row["next_check_at"],
        attempts=row["attempts"], delete_files=bool(row["delete_files"]),
        delete_remote=bool(row["delete_remote"]), files=files,
    )


class TorrentQueries:
    """Everything about torrents, their files and tags."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def add_torrent(self, new: NewTorrent, now: float) -> Torrent:
        """Insert a queued torrent with its known files and tags; DuplicateTorrent if live."""
        try:
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO torrents (hash, name, state, category, save_path, magnet, "
                    "torrent_file, trackers, provider, paused, total_size, size, ratio_limit, "
                    "seeding_time_limit, added_on, last_activity, state_since, next_check_at) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)",
                    (new.hash, new.name, TorrentState.QUEUED.value, new.category, new.save_path,
                     new.magnet, new.torrent_file, "\n".join(new.trackers), new.provider,
                     int(new.paused), new.total_size, 0, new.ratio_limit,
                     new.seeding_time_limit, int(now), int(now), now))
                torrent_id = int(cur.lastrowid or 0)
                self._insert_files(conn, torrent_id, new.files)
                self._insert_tags(conn, torrent_id, new.tags)
        except sqlite3.IntegrityError as exc:
            raise DuplicateTorrent(new.hash) from exc
        created = self.get_torrent(torrent_id, with_files=True)
        assert created is not None
        return created

    @staticmethod
    def _insert_files(conn: sqlite3.Connection, torrent_id: int,
                      files: Iterable[TorrentFile]) -> None:
        conn.executemany(
            "INSERT INTO files (torrent_id, idx, path, size, selected, provider_file_id, link, "
            "done) VALUES (?,?,?,?,?,?,?,?)",
            [(torrent_id, f.index, f.path, f.size, int(f.selected), f.provider_file_id, f.link,
              int(f.done)) for f in files])

    @staticmethod
    def _insert_tags(conn: sqlite3.Connection, torrent_id: int, tags: Iterable[str]) -> None:
        tags = list(tags)
        conn.executemany("INSERT OR IGNORE INTO tags (name) VALUES (?)", [(t,) for t in tags])
        conn.executemany("INSERT OR IGNORE INTO torrent_tags (torrent_id, tag) VALUES (?,?)",
                         [(torrent_id, t) for t in tags])

    def _tags_for(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = {}
        for part in _chunks(list(ids)):
            marks = ",".join("?" * len(part))
            for row in self._read().execute(
                    f"SELECT torrent_id, tag FROM torrent_tags WHERE torrent_id IN ({marks}) "  # noqa: S608
                    "ORDER BY tag", part):
                found.setdefault(row[0], []).append(row[1])
        return {k: tuple(v) for k, v in found.items()}

    def _one(self, where: str, args: tuple[Any, ...], with_files: bool) -> Torrent | None:
        row = self._read().execute(
            f"SELECT {TORRENT_COLUMNS} FROM torrents WHERE {where}", args).fetchone()  # noqa: S608
        if row is None:
            return None
        files = tuple(self.files_of(row["id"])) if with_files else ()
        return _torrent(row, self._tags_for([row["id"]]).get(row["id"], ()), files)

    def get_torrent(self, torrent_id: int, *, with_files: bool = False) -> Torrent | None:
        return self._one("id = ?", (torrent_id,), with_files)

    def get_by_hash(self, info_hash: str, *, with_files: bool = False) -> Torrent | None:
        """The live (not being deleted) torrent with this hash."""
        return self._one("hash = ? AND state != 'deleting'", (info_hash.lower(),), with_files)

    def list_torrents(self, *, category: str | None = None,
                      hashes: Iterable[str] | None = None) -> list[Torrent]:
        """Live torrents, oldest first; optionally one category and/or some hashes."""
        where, args = ["state != 'deleting'"], []
        if category is not None:
            where.append("category = ?")
            args.append(category)
        rows: list[sqlite3.Row] = []
        sql = f"SELECT {TORRENT_COLUMNS} FROM torrents WHERE "  # noqa: S608
        if hashes is not None:
            wanted = sorted({h.lower() for h in hashes})
            for part in _chunks(wanted):
                clause = " AND ".join([*where, f"hash IN ({','.join('?' * len(part))})"])
                rows += self._read().execute(sql + clause, [*args, *part]).fetchall()
            rows.sort(key=lambda r: r["id"])
        else:
            rows = self._read().execute(sql + " AND ".join(where) + " ORDER BY id",
                                        args).fetchall()
        tags = self._tags_for([r["id"] for r in rows])
        return [_torrent(r, tags.get(r["id"], ())) for r in rows]

    def files_of(self, torrent_id: int) -> list[TorrentFile]:
        return [_file(r) for r in self._read().execute(
            "SELECT * FROM files WHERE torrent_id = ? ORDER BY idx", (torrent_id,))]

    @staticmethod
    def _assignments(fields: dict[str, Any]) -> tuple[str, list[Any]]:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        parts, args = [], []
        for name, value in fields.items():
            if name == "progress":
                parts.append("progress = MAX(progress, ?)")  # progress never goes back
            else:
                parts.append(f"{name} = ?")
            args.append(int(value) if isinstance(value, bool) else value)
        return ", ".join(parts), args

    def update_torrent(self, torrent_id: int, **fields: Any) -> None:
        if not fields:
            return
        assignments, args = self._assignments(fields)
        with self._tx() as conn:
            conn.execute(f"UPDATE torrents SET {assignments} WHERE id = ?",  # noqa: S608
                         [*args, torrent_id])

    def transition(self, torrent_id: int, from_states: Iterable[TorrentState],
                   to_state: TorrentState, now: float, **fields: Any) -> bool:
        """Move to `to_state` only if the torrent is in one of `from_states` (compare-and-set)."""
        allowed = [s.value for s in from_states]
        assignments, args = self._assignments(fields)
        sets = "state = ?, state_since = ?" + (", " + assignments if assignments else "")
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE torrents SET {sets} WHERE id = ? "  # noqa: S608
                f"AND state IN ({','.join('?' * len(allowed))})",
                [to_state.value, now, *args, torrent_id, *allowed])
            return cur.rowcount == 1

    def torrent_file_of(self, torrent_id: int) -> bytes | None:
        """The .torrent a torrent was added from, if any (re-sent to the provider)."""
        row = self._read().execute("SELECT torrent_file FROM torrents WHERE id = ?",
                                   (torrent_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def set_files(self, torrent_id: int, files: Iterable[TorrentFile]) -> None:
        """Replace a torrent's file list (when the provider reports the real one)."""
        with self._tx() as conn:
            conn.execute("DELETE FROM files WHERE torrent_id = ?", (torrent_id,))
            self._insert_files(conn, torrent_id, files)

    def update_file(self, torrent_id: int, index: int, **fields: Any) -> None:
        unknown = set(fields) - FILE_UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        args = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        with self._tx() as conn:
            conn.execute(f"UPDATE files SET {sets} WHERE torrent_id = ? AND idx = ?",  # noqa: S608
                         [*args, torrent_id, index])

    def claim_folder(self, torrent_id: int, candidates: Sequence[str]) -> str:
        """Give the torrent the first candidate folder name no other live torrent holds."""
        for name in candidates:
            try:
                with self._tx() as conn:
                    conn.execute("UPDATE torrents SET folder = ? WHERE id = ?", (name, torrent_id))
                return name
            except sqlite3.IntegrityError:
                continue
        raise DuplicateTorrent(f"no free folder name among {list(candidates)}")

    def due_torrents(self, now: float, limit: int) -> list[Torrent]:
        """Torrents the engine should look at now: active, not paused (deletions always)."""
        rows = self._read().execute(
            f"SELECT {TORRENT_COLUMNS} FROM torrents WHERE state IN {ACTIVE} "  # noqa: S608
            "AND next_check_at <= ? AND (paused = 0 OR state = 'deleting') "
            "ORDER BY next_check_at LIMIT ?", (now, limit)).fetchall()
        tags = self._tags_for([r["id"] for r in rows])
        return [_torrent(r, tags.get(r["id"], ())) for r in rows]

    def next_due_at(self, exclude: Iterable[int] = ()) -> float | None:
        """When the engine next has something to do, ignoring torrents it is already on."""
        ids = list(exclude)
        skip = f" AND id NOT IN ({','.join('?' * len(ids))})" if ids else ""
        row = self._read().execute(
            f"SELECT MIN(next_check_at) FROM torrents WHERE state IN {ACTIVE} "  # noqa: S608
            f"AND (paused = 0 OR state = 'deleting'){skip}", ids).fetchone()
        return None if row[0] is None else float(row[0])

    def delete_torrent_row(self, torrent_id: int) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM torrents WHERE id = ?", (torrent_id,))

    def provider_id_users(self, provider: str, provider_torrent_id: str) -> int:
        """How many entries (any state) use this provider torrent."""
        row = self._read().execute(
            "SELECT COUNT(*) FROM torrents WHERE provider = ? AND provider_torrent_id = ?",
            (provider, provider_torrent_id)).fetchone()
        return int(row[0])

    def set_tags(self, torrent_id: int, tags: Iterable[str]) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM torrent_tags WHERE torrent_id = ?", (torrent_id,))
            self._insert_tags(conn, torrent_id, tags)

    def count_torrents(self) -> int:
        return int(self._read().execute(
            "SELECT COUNT(*) FROM torrents WHERE state != 'deleting'").fetchone()[0])
