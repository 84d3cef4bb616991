"""Torrent and file queries (a mixin of SqliteStore). Every change bumps the revision."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import fields, replace
from typing import Any

import orjson

from core.errors import DuplicateTorrent
from core.models import NewTorrent, Torrent, TorrentFile, TorrentState
from store import states
from store.states import S

# Columns a caller may change through update_torrent/transition.
UPDATABLE = frozenset({
    "name", "category", "save_path", "folder", "provider_torrent_id", "paused", "progress",
    "size", "total_size", "speed", "seeders", "reason", "message", "ratio_limit",
    "seeding_time_limit", "completion_on", "last_activity", "next_check_at", "attempts",
    "delete_files", "delete_remote", "trackers", "queue_position", "force_start", "seq_dl",
    "first_last_piece_prio", "super_seeding", "auto_tmm", "dl_limit", "up_limit",
    "inactive_seeding_time_limit", "content_folder", "layout_dirty", "placed_root",
    "origin_name", "has_root", "stalled_since", "provider", "health", "health_reason",
    "health_checked", "streamed_at",
})
# Written by the engine on its own schedule; clients see them through sync deltas anyway.
QUIET = frozenset({"next_check_at", "attempts", "health_checked", "streamed_at"})
FILE_UPDATABLE = frozenset({"selected", "provider_file_id", "link", "done", "path", "size",
                            "placed", "remote_path", "priority", "health", "health_reason"})
# Columns in the order of Torrent's fields, so a row becomes a Torrent without a lookup per
# field (listings build thousands); tags and files, the last two fields, come separately.
_FIELDS = [f for f in fields(Torrent)][:-2]
TORRENT_COLUMNS = ", ".join(
    "torrent_file IS NOT NULL AS has_torrent_file" if f.name == "has_torrent_file" else f.name
    for f in _FIELDS)
_BOOLS = [i for i, f in enumerate(_FIELDS) if f.type == "bool"]
_STATE = next(i for i, f in enumerate(_FIELDS) if f.name == "state")
_TRACKERS = next(i for i, f in enumerate(_FIELDS) if f.name == "trackers")
_STATES = {s.value: s for s in TorrentState}
CHUNK = 500  # keeps IN lists well under SQLite's variable limit
DUE = (f"(state IN {states.ENGINE_WORK} AND (paused = 0 OR state = {states.state(S.DELETING)})) "
       f"OR (layout_dirty = 1 AND {states.LIVE})")


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def bump(conn: sqlite3.Connection) -> int:
    """The next revision (inside the caller's transaction)."""
    row = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'revision' "
                       "RETURNING value").fetchone()
    return int(row[0])


def _file(row: sqlite3.Row) -> TorrentFile:
    return TorrentFile(index=row["idx"], path=row["path"], size=row["size"],
                       selected=bool(row["selected"]), provider_file_id=row["provider_file_id"],
                       link=row["link"], done=bool(row["done"]), placed=row["placed"],
                       remote_path=row["remote_path"], priority=row["priority"],
                       health=row["health"], health_reason=row["health_reason"])


def _torrent(row: Sequence[Any], tags: tuple[str, ...],
             files: tuple[TorrentFile, ...] = ()) -> Torrent:
    values = list(row)
    values[_STATE] = _STATES[values[_STATE]]
    for index in _BOOLS:
        values[index] = bool(values[index])
    trackers = values[_TRACKERS]
    values[_TRACKERS] = tuple(trackers.split("\n")) if trackers else ()
    # type-ignore: the row holds every field but the last two, in field order (positional,
    # since listings build thousands), which mypy cannot count
    return Torrent(*values, tags, files)  # type: ignore[call-arg]


class TorrentQueries:
    """Everything about torrents, their files and tags."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def add_torrent(self, new: NewTorrent, now: float) -> Torrent:
        """Insert a queued torrent with its known files and tags; DuplicateTorrent if live."""
        added = self.add_torrents([new], now)
        if not added:
            raise DuplicateTorrent(new.hash)
        created = self.get_torrent(added[0].id, with_files=True)
        assert created is not None
        return created

    def add_torrents(self, news: Sequence[NewTorrent], now: float) -> list[Torrent]:
        """Insert queued torrents with their known files and tags, in one transaction; a hash
        already live (or earlier in `news`), or blocked, is skipped. The added ones, in
        order, without files."""
        ids: list[int] = []
        with self._tx() as conn:
            rev = bump(conn)
            top, bottom = conn.execute("SELECT COALESCE(MIN(queue_position), 0), "
                                       "COALESCE(MAX(queue_position), 0) FROM torrents").fetchone()
            for new in news:
                if conn.execute("SELECT 1 FROM blocked_hashes WHERE hash = ?",
                                (new.hash,)).fetchone():   # flagged in the registry
                    continue
                position = top - 1 if new.add_to_top else bottom + 1
                values = _row_values(new, now, rev, position)
                # OR IGNORE: the live-hash index turns a duplicate into no row
                cur = conn.execute(
                    f"INSERT OR IGNORE INTO torrents ({', '.join(values)}) "  # noqa: S608
                    f"VALUES ({', '.join('?' * len(values))})", list(values.values()))
                if cur.rowcount != 1:
                    continue
                top, bottom = min(top, position), max(bottom, position)
                torrent_id = int(cur.lastrowid or 0)
                self._insert_files(conn, torrent_id, new.files)
                self._insert_tags(conn, torrent_id, new.tags)
                ids.append(torrent_id)
        found = self.get_torrents(ids)
        return [found[i] for i in ids if i in found]

    @staticmethod
    def _insert_files(conn: sqlite3.Connection, torrent_id: int,
                      files: Iterable[TorrentFile]) -> None:
        conn.executemany(
            "INSERT INTO files (torrent_id, idx, path, size, selected, provider_file_id, link, "
            "done, placed, remote_path, priority) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(torrent_id, f.index, f.path, f.size, int(f.selected), f.provider_file_id, f.link,
              int(f.done), f.placed, f.remote_path or f.path, f.priority) for f in files])

    @staticmethod
    def _insert_tags(conn: sqlite3.Connection, torrent_id: int, tags: Iterable[str]) -> None:
        tags = list(tags)
        conn.executemany("INSERT OR IGNORE INTO tags (name) VALUES (?)", [(t,) for t in tags])
        conn.executemany("INSERT OR IGNORE INTO torrent_tags (torrent_id, tag) VALUES (?,?)",
                         [(torrent_id, t) for t in tags])

    def _tags_for(self, ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
        found: dict[int, list[str]] = {}
        if len(ids) > 2 * CHUNK:      # most of the library: one pass over all tags is cheaper
            wanted = set(ids)
            for row in self._read().execute("SELECT torrent_id, tag FROM torrent_tags "
                                            "ORDER BY tag"):
                if row[0] in wanted:
                    found.setdefault(row[0], []).append(row[1])
            return {k: tuple(v) for k, v in found.items()}
        for part in _chunks(list(ids)):
            marks = ",".join("?" * len(part))
            for row in self._read().execute(
                    f"SELECT torrent_id, tag FROM torrent_tags WHERE torrent_id IN ({marks}) "  # noqa: S608
                    "ORDER BY tag", part):
                found.setdefault(row[0], []).append(row[1])
        return {k: tuple(v) for k, v in found.items()}

    def _rows(self, where: str, args: Sequence[Any], order: str = "id") -> list[Torrent]:
        cursor = self._read().cursor()
        cursor.row_factory = None             # plain tuples: thousands of rows, by position
        rows = cursor.execute(
            f"SELECT {TORRENT_COLUMNS} FROM torrents WHERE {where} ORDER BY {order}",  # noqa: S608
            args).fetchall()
        tags = self._tags_for([r[0] for r in rows])
        return [_torrent(r, tags.get(r[0], ())) for r in rows]

    def _one(self, where: str, args: tuple[Any, ...], with_files: bool) -> Torrent | None:
        found = self._rows(where, args)
        if not found:
            return None
        torrent = found[0]
        if with_files:
            torrent = _torrent_with_files(torrent, tuple(self.files_of(torrent.id)))
        return torrent

    def get_torrent(self, torrent_id: int, *, with_files: bool = False) -> Torrent | None:
        return self._one("id = ?", (torrent_id,), with_files)

    def get_torrents(self, ids: Iterable[int]) -> dict[int, Torrent]:
        """Torrents (any state, no files) by id, in one query however many; missing ids are
        left out."""
        wanted = orjson.dumps(list(ids)).decode()
        return {t.id: t for t in self._rows("id IN (SELECT value FROM json_each(?))",
                                            (wanted,))}

    def get_by_hash(self, info_hash: str, *, with_files: bool = False) -> Torrent | None:
        """The live (not being deleted) torrent with this hash."""
        return self._one(f"hash = ? AND {states.LIVE}", (info_hash.lower(),), with_files)

    def list_torrents(self, *, category: str | None = None,
                      hashes: Iterable[str] | None = None) -> list[Torrent]:
        """Live torrents, oldest first; optionally one category and/or some hashes."""
        where, args = [states.LIVE], []
        if category is not None:
            where.append("category = ?")
            args.append(category)
        if hashes is None:
            return self._rows(" AND ".join(where), args)
        found: list[Torrent] = []
        for part in _chunks(sorted({h.lower() for h in hashes})):
            clause = " AND ".join([*where, f"hash IN ({','.join('?' * len(part))})"])
            found += self._rows(clause, [*args, *part])
        return sorted(found, key=lambda t: t.id)

    def torrents_changed_since(self, rev: int, *, or_active: bool = False) -> list[Torrent]:
        """Live torrents changed after `rev`; with `or_active`, also every torrent still in
        progress (what a client sees of those moves with time: speed, ETA, queue rank)."""
        active = f" OR state IN {states.DOWNLOAD_QUEUE}" if or_active else ""
        return self._rows(f"(rev > ?{active}) AND {states.LIVE}", (rev,))

    def download_queue(self) -> list[int]:
        """Ids of the torrents not yet complete, in queue order (qBittorrent's queue)."""
        return [r[0] for r in self._read().execute(
            f"SELECT id FROM torrents WHERE state IN {states.DOWNLOAD_QUEUE} "  # noqa: S608
            "ORDER BY queue_position, id")]

    def files_of(self, torrent_id: int) -> list[TorrentFile]:
        return [_file(r) for r in self._read().execute(
            "SELECT * FROM files WHERE torrent_id = ? ORDER BY idx", (torrent_id,))]

    @staticmethod
    def _assignments(fields: dict[str, Any]) -> tuple[list[str], list[Any]]:
        unknown = set(fields) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        parts, args = [], []
        for name, value in fields.items():
            parts.append(f"{name} = ?")
            args.append(int(value) if isinstance(value, bool) else value)
        return parts, args

    def _update(self, conn: sqlite3.Connection, where: str, where_args: Sequence[Any],
                fields: dict[str, Any]) -> int:
        parts, args = self._assignments(fields)
        if not set(fields) <= QUIET:
            parts.append("rev = ?")
            args.append(bump(conn))
        if not parts:
            return 0
        return conn.execute(f"UPDATE torrents SET {', '.join(parts)} WHERE {where}",  # noqa: S608
                            [*args, *where_args]).rowcount

    def update_torrent(self, torrent_id: int, **fields: Any) -> None:
        if fields:
            with self._tx() as conn:
                self._update(conn, "id = ?", (torrent_id,), fields)

    def transition(self, torrent_id: int, from_states: Iterable[TorrentState],
                   to_state: TorrentState, now: float, **fields: Any) -> bool:
        """Move to `to_state` only if the torrent is in one of `from_states` (compare-and-set)."""
        with self._tx() as conn:
            return self._transition_in(conn, torrent_id, from_states, to_state, now, fields)

    @classmethod
    def _transition_in(cls, conn: sqlite3.Connection, torrent_id: int,
                       from_states: Iterable[TorrentState], to_state: TorrentState, now: float,
                       fields: dict[str, Any]) -> bool:
        """transition() inside the caller's transaction."""
        allowed = [s.value for s in from_states]
        parts, args = cls._assignments(fields)
        parts += ["state = ?", "state_since = ?", "rev = ?"]
        args += [to_state.value, now, bump(conn)]
        cur = conn.execute(
            f"UPDATE torrents SET {', '.join(parts)} WHERE id = ? "  # noqa: S608
            f"AND state IN ({','.join('?' * len(allowed))})",
            [*args, torrent_id, *allowed])
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
            self._update(conn, "id = ?", (torrent_id,), {})

    def update_file(self, torrent_id: int, index: int, **fields: Any) -> None:
        unknown = set(fields) - FILE_UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        args = [int(v) if isinstance(v, bool) else v for v in fields.values()]
        with self._tx() as conn:
            conn.execute(f"UPDATE files SET {sets} WHERE torrent_id = ? AND idx = ?",  # noqa: S608
                         [*args, torrent_id, index])
            self._update(conn, "id = ?", (torrent_id,), {})

    def claim_folder(self, torrent_id: int, candidates: Sequence[str]) -> str:
        """Give the torrent the first candidate folder name no other live torrent holds."""
        for name in candidates:
            try:
                with self._tx() as conn:
                    self._update(conn, "id = ?", (torrent_id,), {"folder": name})
                return name
            except sqlite3.IntegrityError:
                continue
        raise DuplicateTorrent(f"no free folder name among {list(candidates)}")

    def due_torrents(self, now: float, limit: int) -> list[Torrent]:
        """Torrents the engine should look at now: active and not paused (deletions and
        pending moves always)."""
        return self._rows(f"({DUE}) AND next_check_at <= ?", (now,),
                          order=f"next_check_at LIMIT {int(limit)}")

    def next_due_at(self, exclude: Iterable[int] = ()) -> float | None:
        """When the engine next has something to do, ignoring torrents it is already on."""
        ids = list(exclude)
        skip = f" AND id NOT IN ({','.join('?' * len(ids))})" if ids else ""
        row = self._read().execute(
            f"SELECT MIN(next_check_at) FROM torrents WHERE ({DUE}){skip}",  # noqa: S608
            ids).fetchone()
        return None if row[0] is None else float(row[0])

    def delete_torrent_row(self, torrent_id: int) -> None:
        with self._tx() as conn:
            if conn.execute("DELETE FROM torrents WHERE id = ?", (torrent_id,)).rowcount:
                bump(conn)

    def provider_id_users(self, provider: str, provider_torrent_id: str) -> int:
        """How many entries (any state) use this provider torrent."""
        row = self._read().execute(
            "SELECT COUNT(*) FROM torrents WHERE provider = ? AND provider_torrent_id = ?",
            (provider, provider_torrent_id)).fetchone()
        return int(row[0])

    def set_tags(self, torrent_id: int, tags: Iterable[str]) -> None:
        with self._tx() as conn:
            rev = bump(conn)
            conn.execute("DELETE FROM torrent_tags WHERE torrent_id = ?", (torrent_id,))
            self._insert_tags(conn, torrent_id, tags)
            conn.execute("UPDATE torrents SET rev = ? WHERE id = ?", (rev, torrent_id))

    def live_hashes(self) -> set[str]:
        return {r[0] for r in self._read().execute(
            f"SELECT hash FROM torrents WHERE {states.LIVE}")}  # noqa: S608

    def transfer_sums(self) -> tuple[int, int]:
        """(bytes fetched so far, current speed of active torrents), over live torrents."""
        row = self._read().execute(
            "SELECT COALESCE(SUM(CAST(size * progress AS INTEGER)), 0), COALESCE(SUM(CASE "  # noqa: S608
            f"WHEN state IN {states.TRANSFERRING} THEN speed ELSE 0 END), 0) "
            f"FROM torrents WHERE {states.LIVE}").fetchone()
        return int(row[0]), int(row[1])

    def count_torrents(self) -> int:
        return int(self._read().execute(
            f"SELECT COUNT(*) FROM torrents WHERE {states.LIVE}").fetchone()[0])  # noqa: S608

    def active_at_provider(self, provider: str | None = None) -> int:
        """Torrents holding a provider slot (sent, not yet finished there); of one provider,
        or of all."""
        where = " AND provider = ?" if provider is not None else ""
        return int(self._read().execute(
            f"SELECT COUNT(*) FROM torrents WHERE state IN {states.AT_PROVIDER} "  # noqa: S608
            f"AND paused = 0{where}",
            (provider,) if provider is not None else ()).fetchone()[0])

    def starting_ahead(self, torrent: Torrent, since: float) -> int:
        """Torrents of the same provider, ahead in the queue, sent (after `since`) but not
        started yet."""
        return int(self._read().execute(
            f"SELECT COUNT(*) FROM torrents WHERE provider = ? AND state IN {states.STARTING} "  # noqa: S608
            "AND state_since > ? AND (queue_position < ? OR "
            "(queue_position = ? AND id < ?))",
            (torrent.provider, since, torrent.queue_position, torrent.queue_position,
             torrent.id)).fetchone()[0])

    def torrents_waiting_on(self, provider: str) -> list[Torrent]:
        """Unpaused torrents the provider has and is still working on (to poll)."""
        return self._rows(f"provider = ? AND state IN {states.PROVIDER_WORKING} AND "
                          "provider_torrent_id != '' AND paused = 0", (provider,))

    def queue_ahead(self, torrent: Torrent) -> int:
        """Queued (unpaused) torrents that come before this one in the queue."""
        return int(self._read().execute(
            f"SELECT COUNT(*) FROM torrents WHERE state = {states.state(S.QUEUED)} "  # noqa: S608
            "AND paused = 0 AND force_start = 0 AND (queue_position < ? OR "
            "(queue_position = ? AND id < ?))",
            (torrent.queue_position, torrent.queue_position, torrent.id)).fetchone()[0])


def _row_values(new: NewTorrent, now: float, rev: int, position: int) -> dict[str, Any]:
    """A new torrent's column values."""
    return {
        "hash": new.hash, "name": new.name, "state": TorrentState.QUEUED.value,
        "category": new.category, "save_path": new.save_path,
        "magnet": new.magnet, "torrent_file": new.torrent_file,
        "trackers": "\n".join(new.trackers), "provider": new.provider,
        "paused": int(new.paused), "total_size": new.total_size, "size": 0,
        "ratio_limit": new.ratio_limit,
        "seeding_time_limit": new.seeding_time_limit, "added_on": int(now),
        "last_activity": int(now), "state_since": now, "next_check_at": 0,
        "rev": rev, "queue_position": position,
        "inactive_seeding_time_limit": new.inactive_seeding_time_limit,
        "force_start": int(new.force_start), "piece_size": new.piece_size,
        "origin_name": new.origin_name or new.name,
        "content_layout": new.content_layout, "dl_limit": new.dl_limit,
        "up_limit": new.up_limit, "seq_dl": int(new.seq_dl),
        "first_last_piece_prio": int(new.first_last_piece_prio),
        "auto_tmm": int(new.auto_tmm), "uncached": new.uncached,
    }


def _torrent_with_files(torrent: Torrent, files: tuple[TorrentFile, ...]) -> Torrent:
    return replace(torrent, files=files)
