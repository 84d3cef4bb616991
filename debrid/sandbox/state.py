"""SQLite state of the sandbox: catalogue, torrents, files, hoster links, downloads, clock."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .catalogue import CatalogueEntry, entry_from_json
from .records import (
    SCHEMA,
    DownloadRecord,
    FileRecord,
    LinkRecord,
    TorrentRecord,
    download_from_row,
    random_id,
    random_ids,
    torrent_from_row,
)

_PREMIUM_DAYS = 365

# Not finished and not failed: what `GET /torrents?filter=active` lists.
_UNFINISHED = """
    (dead_at IS NULL OR dead_at > :now) AND (
        (selected_at IS NULL AND (no_metadata = 0 OR conversion_end > :now))
        OR (selected_at IS NOT NULL AND ended_at > :now))
"""
# queued or downloading: what takes one of the account's active slots.
_ACTIVE = """
    deleted_at IS NULL AND selected_at IS NOT NULL AND ended_at > :now
    AND (dead_at IS NULL OR dead_at > :now)
"""


class State:
    """All persistent sandbox state behind one re-entrant lock.

    One connection and one lock keep this simple; routes that must check and change state
    atomically (slots, selection) hold `lock` across several calls, hence re-entrant.
    """

    def __init__(self, path: str | Path) -> None:
        self.lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB keeps 50k-torrent indexes hot
        self._db.executescript(SCHEMA)
        self._clock_offset = float(self._meta("clock_offset") or 0.0)
        if self._meta("premium_until") is None:
            self._set_meta("premium_until", str(self.now() + _PREMIUM_DAYS * 86400))

    def close(self) -> None:
        with self.lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        with self.lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- the sandbox clock: real time plus an offset the admin API can only move forward --

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance(self, seconds: float) -> float:
        with self.lock:
            self._clock_offset += seconds
            self._set_meta("clock_offset", repr(self._clock_offset))
        return self._clock_offset

    @property
    def clock_offset(self) -> float:
        return self._clock_offset

    @property
    def premium_until(self) -> float:
        return float(self._meta("premium_until") or 0.0)

    # -- catalogue --

    def seed(self, entry: CatalogueEntry) -> None:
        with self.lock:
            self._db.execute(
                "INSERT OR REPLACE INTO catalogue (hash, entry) VALUES (?, ?)",
                (entry.hash, json.dumps(entry.to_json())),
            )

    def catalogue_entry(self, infohash: str) -> CatalogueEntry | None:
        with self.lock:
            row = self._db.execute(
                "SELECT entry FROM catalogue WHERE hash = ?", (infohash,)
            ).fetchone()
        return None if row is None else entry_from_json(json.loads(row[0]))

    def catalogue(self) -> list[CatalogueEntry]:
        with self.lock:
            rows = self._db.execute("SELECT entry FROM catalogue ORDER BY hash").fetchall()
        return [entry_from_json(json.loads(row[0])) for row in rows]

    # -- torrents --

    def add_torrent(self, entry: CatalogueEntry, *, conversion_seconds: float) -> str:
        with self._transaction() as db:
            return self._insert_torrent(db, entry, self.now(), conversion_seconds)

    def add_downloaded_torrents(self, entries: list[CatalogueEntry]) -> list[str]:
        """Bulk-create cached torrents with every file selected, in one transaction.

        For the admin API: building a 50,000-torrent account through addMagnet would take
        100,000 HTTP calls. Rows are batched per table; ids rely on the UNIQUE constraints
        (a collision among 36**13 ids would abort the batch, not corrupt it).
        """
        now = self.now()
        torrents: list[tuple[Any, ...]] = []
        files: list[tuple[str, int, str, int, int]] = []
        links: list[tuple[str, str, int, str]] = []
        ids: list[str] = []
        fresh_ids = iter(random_ids(len(entries) + sum(len(e.files) for e in entries)))
        for entry in entries:
            torrent_id = next(fresh_ids)
            total = sum(f.bytes for f in entry.files)
            dead_at = None if entry.dead_after is None else now + entry.dead_after
            torrents.append(
                (
                    torrent_id, entry.hash, entry.name, entry.cached, entry.archive, False,
                    entry.dead_after, total, total, now, now, now, now, now, dead_at,
                )
            )  # fmt: skip
            file_ids = list(range(1, len(entry.files) + 1))
            files.extend(
                (torrent_id, i, f.path, f.bytes, 1)
                for i, f in zip(file_ids, entry.files, strict=True)
            )
            groups = [file_ids] if entry.archive else [[i] for i in file_ids]
            links.extend(
                (next(fresh_ids), torrent_id, position, _json_ids(group))
                for position, group in enumerate(groups)
            )
            ids.append(torrent_id)
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO torrents (id, hash, filename, cached, archive, no_metadata,"
                " dead_after, original_bytes, bytes, added, conversion_end, selected_at,"
                " queue_end, ended_at, dead_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                torrents,
            )
            # In key order: B-tree inserts in order are several times faster than random ones.
            db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)", sorted(files))
            db.executemany("INSERT INTO links VALUES (?, ?, ?, ?)", sorted(links))
        return ids

    def _insert_torrent(
        self, db: sqlite3.Connection, entry: CatalogueEntry, now: float, conversion_seconds: float
    ) -> str:
        torrent_id = self._unused_id(db, "torrents")
        total = sum(f.bytes for f in entry.files)
        db.execute(
            "INSERT INTO torrents (id, hash, filename, cached, archive, no_metadata,"
            " dead_after, original_bytes, bytes, added, conversion_end)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                torrent_id, entry.hash, entry.name, entry.cached, entry.archive,
                entry.no_metadata, entry.dead_after, total, total, now, now + conversion_seconds,
            ),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO files (torrent_id, file_id, path, bytes) VALUES (?, ?, ?, ?)",
            [(torrent_id, i, f.path, f.bytes) for i, f in enumerate(entry.files, start=1)],
        )
        return torrent_id

    def torrent(self, torrent_id: str, *, include_deleted: bool = False) -> TorrentRecord | None:
        with self.lock:
            row = self._db.execute("SELECT * FROM torrents WHERE id = ?", (torrent_id,)).fetchone()
            if row is None or (row["deleted_at"] is not None and not include_deleted):
                return None
            files = self._files(torrent_id)
            links = self._links_of([torrent_id]).get(torrent_id, [])
        return torrent_from_row(row, files, links)

    def list_torrents(
        self, offset: int, limit: int, *, unfinished_only: bool = False
    ) -> tuple[int, list[TorrentRecord]]:
        """One page, newest first, without files; paged in SQL so 50k torrents stay cheap."""
        where = "deleted_at IS NULL" + (f" AND {_UNFINISHED}" if unfinished_only else "")
        params = {"now": self.now(), "limit": limit, "offset": offset}
        with self.lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM torrents WHERE {where}", params)  # noqa: S608
            total = total.fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM torrents WHERE {where} ORDER BY seq DESC"  # noqa: S608
                " LIMIT :limit OFFSET :offset",
                params,
            ).fetchall()
            links = self._links_of([row["id"] for row in rows])
        return total, [torrent_from_row(row, [], links.get(row["id"], [])) for row in rows]

    def all_torrents(self) -> list[TorrentRecord]:
        with self.lock:
            ids = [row[0] for row in self._db.execute("SELECT id FROM torrents ORDER BY seq")]
            found = (self.torrent(torrent_id, include_deleted=True) for torrent_id in ids)
            return [record for record in found if record is not None]

    def active_count(self) -> int:
        with self.lock:
            row = self._db.execute(
                f"SELECT COUNT(*) FROM torrents WHERE {_ACTIVE}",  # noqa: S608
                {"now": self.now()},
            ).fetchone()
        return int(row[0])

    def select_files(
        self,
        torrent_id: str,
        file_ids: list[int],
        *,
        archive: bool,
        cached: bool,
        queue_seconds: float,
        download_seconds: float,
    ) -> None:
        """Record the selection, fix the torrent's timeline and mint its hoster links."""
        now = self.now()
        # A cached torrent is done the moment it is selected, as on Real-Debrid.
        queue_end = now if cached else now + queue_seconds
        ended = now if cached else queue_end + download_seconds
        with self._transaction() as db:
            self._select(db, torrent_id, file_ids, archive, now, queue_end, ended)

    def _select(
        self,
        db: sqlite3.Connection,
        torrent_id: str,
        file_ids: list[int],
        archive: bool,
        now: float,
        queue_end: float,
        ended: float,
    ) -> None:
        db.executemany(
            "UPDATE files SET selected = 1 WHERE torrent_id = ? AND file_id = ?",
            [(torrent_id, file_id) for file_id in file_ids],
        )
        # The dead time counts from the end of the download, known only now.
        db.execute(
            "UPDATE torrents SET selected_at = ?, queue_end = ?, ended_at = ?,"
            " bytes = (SELECT COALESCE(SUM(bytes), 0) FROM files"
            "          WHERE torrent_id = torrents.id AND selected = 1),"
            " dead_at = CASE WHEN dead_at IS NULL AND dead_after IS NOT NULL"
            "           THEN ? + dead_after ELSE dead_at END"
            " WHERE id = ?",
            (now, queue_end, ended, ended, torrent_id),
        )
        groups = [sorted(file_ids)] if archive else [[file_id] for file_id in sorted(file_ids)]
        db.executemany(
            "INSERT INTO links (id, torrent_id, position, file_ids) VALUES (?, ?, ?, ?)",
            [
                (self._unused_id(db, "links"), torrent_id, position, _json_ids(group))
                for position, group in enumerate(groups)
            ],
        )

    def delete_torrent(self, torrent_id: str) -> bool:
        # Soft delete: its hoster links and download URLs must still be recognised, so that
        # they can answer "unavailable" rather than "unknown".
        with self.lock:
            cursor = self._db.execute(
                "UPDATE torrents SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (self.now(), torrent_id),
            )
        return cursor.rowcount == 1

    def set_dead(self, torrent_id: str, dead: bool) -> bool:
        with self.lock:
            cursor = self._db.execute(
                "UPDATE torrents SET dead_at = ? WHERE id = ? AND deleted_at IS NULL",
                (self.now() if dead else None, torrent_id),
            )
        return cursor.rowcount == 1

    def torrent_id_for_seq(self, seq: int) -> str | None:
        """The id of the torrent with this `seq` (a dialect's numeric id), deleted or not."""
        with self.lock:
            row = self._db.execute("SELECT id FROM torrents WHERE seq = ?", (seq,)).fetchone()
        return None if row is None else str(row[0])

    def torrent_id_with_hash(self, infohash: str) -> str | None:
        """The newest torrent of the account with this infohash that is not deleted."""
        with self.lock:
            row = self._db.execute(
                "SELECT id FROM torrents WHERE hash = ? AND deleted_at IS NULL"
                " ORDER BY seq DESC LIMIT 1",
                (infohash,),
            ).fetchone()
        return None if row is None else str(row[0])

    # -- hoster links and generated downloads --

    def link(self, link_id: str) -> LinkRecord | None:
        with self.lock:
            row = self._db.execute("SELECT * FROM links WHERE id = ?", (link_id,)).fetchone()
        if row is None:
            return None
        return LinkRecord(row["id"], row["torrent_id"], json.loads(row["file_ids"]))

    def add_download(
        self,
        *,
        link: LinkRecord,
        torrent: TorrentRecord,
        filename: str,
        mime: str,
        lifetime: float,
    ) -> DownloadRecord:
        sizes = {f.id: f.bytes for f in torrent.files}
        segments = [(file_id, sizes[file_id]) for file_id in link.file_ids]
        now = self.now()
        with self._transaction() as db:
            record = DownloadRecord(
                id=self._unused_id(db, "downloads"),
                token=secrets.token_hex(16),
                link_id=link.id,
                torrent_id=torrent.id,
                hash=torrent.hash,
                segments=segments,
                filename=filename,
                mime=mime,
                filesize=sum(size for _, size in segments),
                generated=now,
                expires=now + lifetime,
            )
            db.execute(
                "INSERT INTO downloads (id, token, link_id, torrent_id, hash, segments, filename,"
                " mime, filesize, generated, expires) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id, record.token, record.link_id, record.torrent_id, record.hash,
                    json.dumps(segments), filename, mime, record.filesize, now, record.expires,
                ),
            )  # fmt: skip
        return record

    def download_by_token(self, token: str) -> DownloadRecord | None:
        with self.lock:
            row = self._db.execute(
                "SELECT d.*, t.deleted_at AS torrent_deleted_at, t.ended_at AS torrent_ended"
                " FROM downloads d LEFT JOIN torrents t ON t.id = d.torrent_id"
                " WHERE d.token = ?",
                (token,),
            ).fetchone()
        return None if row is None else download_from_row(row)

    def download_for_link(self, link_id: str) -> DownloadRecord | None:
        """The newest direct link minted for a hoster link that has not expired, if any (for
        providers whose file lists carry direct URLs, which stay the same while they live)."""
        with self.lock:
            row = self._db.execute(
                "SELECT d.*, t.deleted_at AS torrent_deleted_at, t.ended_at AS torrent_ended"
                " FROM downloads d LEFT JOIN torrents t ON t.id = d.torrent_id"
                " WHERE d.link_id = ? AND d.expires > ? ORDER BY d.seq DESC LIMIT 1",
                (link_id, self.now()),
            ).fetchone()
        return None if row is None else download_from_row(row)

    def list_downloads(self, offset: int, limit: int) -> tuple[int, list[DownloadRecord]]:
        with self.lock:
            total = self._db.execute("SELECT COUNT(*) FROM downloads").fetchone()[0]
            rows = self._db.execute(
                "SELECT * FROM downloads ORDER BY seq DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return total, [download_from_row(row) for row in rows]

    def delete_download(self, download_id: str) -> bool:
        with self.lock:
            cursor = self._db.execute("DELETE FROM downloads WHERE id = ?", (download_id,))
        return cursor.rowcount == 1

    def reset(self) -> None:
        with self._transaction() as db:
            for table in ("catalogue", "torrents", "files", "links", "downloads"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_offset', '0.0')")
            self._clock_offset = 0.0

    # -- helpers --

    def _unused_id(self, db: sqlite3.Connection, table: str) -> str:
        while True:
            candidate = random_id()
            query = f"SELECT 1 FROM {table} WHERE id = ?"  # noqa: S608 - fixed table names
            if db.execute(query, (candidate,)).fetchone() is None:
                return candidate

    def _files(self, torrent_id: str) -> list[FileRecord]:
        rows = self._db.execute(
            "SELECT file_id, path, bytes, selected FROM files WHERE torrent_id = ?"
            " ORDER BY file_id",
            (torrent_id,),
        )
        return [FileRecord(r[0], r[1], r[2], bool(r[3])) for r in rows]

    def _links_of(self, torrent_ids: list[str]) -> dict[str, list[str]]:
        links: dict[str, list[str]] = {}
        # Chunked so a 5000-item page stays under SQLite's bound-parameter limit.
        for start in range(0, len(torrent_ids), 500):
            chunk = torrent_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT torrent_id, id FROM links WHERE torrent_id IN ({marks})"  # noqa: S608
                " ORDER BY torrent_id, position",
                chunk,
            )
            for torrent_id, link_id in rows:
                links.setdefault(torrent_id, []).append(link_id)
        return links


def _json_ids(file_ids: list[int]) -> str:
    """json.dumps for a list of ints, without its per-call overhead in bulk inserts."""
    return "[" + ",".join(map(str, file_ids)) + "]"
