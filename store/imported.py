"""Torrents of the provider account that Debridge did not add (a mixin of SqliteStore).

Library sync writes them a page at a time; a sync pass stamps every row it sees with its
generation, and a row missing from two complete passes in a row is removed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager

from core.models import ImportedTorrent, Torrent
from core.naming import folder_for
from core.ports import RemoteFile, RemoteStatus, RemoteTorrent
from store.states import LIVE

MISSING_PASSES = 2
_COLUMNS = ("provider, remote_id, hash, name, size, status, progress, added, ended, links, "
            "files_known")


def _changed(conn: sqlite3.Connection) -> None:
    """Imported torrents changed: cached tree listings are stale."""
    conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'library'")


def _imported(row: sqlite3.Row) -> ImportedTorrent:
    return ImportedTorrent(provider=row[0], remote_id=row[1], hash=row[2], name=row[3],
                           size=row[4], status=row[5], progress=row[6], added=row[7],
                           ended=row[8], links=row[9], files_known=bool(row[10]))


class ImportedQueries:
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def upsert_imported(self, provider: str, remotes: Sequence[RemoteTorrent],
                        generation: int, now: float) -> tuple[int, int]:
        """Record a page of the account's torrents; returns (new, already known). Torrents a
        client entry uses, or whose hash a client entry holds, are that entry's, not new."""
        seen = [(r.name, r.size, r.status.value, r.progress, r.ended, len(r.links), generation,
                 provider, r.id, folder_for(r.name)) for r in remotes]
        fresh = [(provider, r.id, r.hash, r.name, r.size, r.status.value, r.progress,
                  r.added or now, r.ended, len(r.links), generation, folder_for(r.name),
                  provider, r.id, r.hash, provider) for r in remotes]
        with self._tx() as conn:
            known = conn.executemany(
                "UPDATE imported_torrents SET name = ?1, size = ?2, files_known = CASE WHEN "
                "status != ?3 OR links != ?6 THEN 0 ELSE files_known END, status = ?3, "
                "progress = ?4, ended = ?5, links = ?6, seen_gen = ?7, missing = 0, folder = ?10 "
                "WHERE provider = ?8 AND remote_id = ?9", seen).rowcount
            new = conn.executemany(
                "INSERT INTO imported_torrents (provider, remote_id, hash, name, size, status, "  # noqa: S608
                "progress, added, ended, links, seen_gen, folder) "
                "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
                "torrents WHERE provider = ? AND provider_torrent_id = ?) AND NOT EXISTS "
                f"(SELECT 1 FROM torrents WHERE hash = ? AND {LIVE} AND "
                "provider = ?) ON CONFLICT (provider, remote_id) DO NOTHING", fresh).rowcount
            _changed(conn)
        return new, known

    def finish_import_pass(self, provider: str, generation: int) -> int:
        """After a complete listing: count a miss for every row it did not see and remove
        those missed MISSING_PASSES times in a row. Returns how many were removed."""
        with self._tx() as conn:
            conn.execute("UPDATE imported_torrents SET missing = missing + 1 "
                         "WHERE provider = ? AND seen_gen < ?", (provider, generation))
            conn.execute("DELETE FROM imported_files WHERE provider = ? AND remote_id IN "
                         "(SELECT remote_id FROM imported_torrents WHERE provider = ? AND "
                         "missing >= ?)", (provider, provider, MISSING_PASSES))
            _changed(conn)
            return conn.execute("DELETE FROM imported_torrents WHERE provider = ? AND "
                                "missing >= ?", (provider, MISSING_PASSES)).rowcount

    def imported_needing_details(self, provider: str, limit: int) -> list[ImportedTorrent]:
        """Finished account torrents whose files are not known yet, newest first."""
        return [_imported(r) for r in self._read().execute(
            f"SELECT {_COLUMNS} FROM imported_torrents WHERE provider = ? AND "  # noqa: S608
            "files_known = 0 AND status = ? ORDER BY added DESC LIMIT ?",
            (provider, RemoteStatus.READY.value, limit))]

    def set_imported_files(self, provider: str, remote_id: str,
                           files: Sequence[RemoteFile]) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM imported_files WHERE provider = ? AND remote_id = ?",
                         (provider, remote_id))
            conn.executemany(
                "INSERT INTO imported_files (provider, remote_id, file_id, path, size, "
                "selected, link) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(provider, remote_id, f.id, f.path, f.size, int(f.selected), f.link)
                 for f in files])
            conn.execute("UPDATE imported_torrents SET files_known = 1 WHERE provider = ? AND "
                         "remote_id = ?", (provider, remote_id))
            _changed(conn)

    def imported_files(self, provider: str, remote_id: str) -> list[RemoteFile]:
        return [RemoteFile(id=r[0], path=r[1], size=r[2], selected=bool(r[3]), link=r[4])
                for r in self._read().execute(
                    "SELECT file_id, path, size, selected, link FROM imported_files WHERE "
                    "provider = ? AND remote_id = ? ORDER BY CAST(file_id AS INTEGER), file_id",
                    (provider, remote_id))]

    def delete_imported(self, provider: str, remote_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM imported_files WHERE provider = ? AND remote_id = ?",
                         (provider, remote_id))
            conn.execute("DELETE FROM imported_torrents WHERE provider = ? AND remote_id = ?",
                         (provider, remote_id))
            _changed(conn)

    def imported_by_hash(self, provider: str, info_hash: str) -> ImportedTorrent | None:
        row = self._read().execute(
            f"SELECT {_COLUMNS} FROM imported_torrents WHERE provider = ? AND hash = ? "  # noqa: S608
            "ORDER BY status = ? DESC, added LIMIT 1",
            (provider, info_hash.lower(), RemoteStatus.READY.value)).fetchone()
        return None if row is None else _imported(row)

    def imported_uses(self, provider: str, remote_id: str) -> bool:
        return self._read().execute(
            "SELECT 1 FROM imported_torrents WHERE provider = ? AND remote_id = ?",
            (provider, remote_id)).fetchone() is not None

    def count_imported(self, provider: str | None = None) -> int:
        where, args = ("WHERE provider = ?", (provider,)) if provider else ("", ())
        return int(self._read().execute(
            f"SELECT COUNT(*) FROM imported_torrents {where}", args).fetchone()[0])  # noqa: S608

    def import_from_entry(self, torrent: Torrent, now: float) -> None:
        """A client entry goes but its provider torrent stays: keep it in the library."""
        # the provider has finished it once every selected file has its link (the entry is
        # already being deleted here, so its state no longer tells)
        selected = [f for f in torrent.files if f.selected]
        ready = bool(selected) and all(f.link for f in selected)
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO imported_torrents (provider, remote_id, hash, name, size, status, "
                "progress, added, ended, links, files_known, seen_gen, folder) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0, ?) ON CONFLICT (provider, remote_id) "
                "DO NOTHING",
                (torrent.provider, torrent.provider_torrent_id, torrent.hash,
                 torrent.origin_name or torrent.name, torrent.size,
                 (RemoteStatus.READY if ready else RemoteStatus.DOWNLOADING).value,
                 1.0 if ready else torrent.progress, float(torrent.added_on),
                 float(torrent.completion_on) if ready and torrent.completion_on else None,
                 sum(1 for f in selected if f.link),
                 # the folder the mount showed it under, so symlinks into it keep working
                 torrent.folder or folder_for(torrent.origin_name or torrent.name)))
            conn.executemany(
                "INSERT OR REPLACE INTO imported_files (provider, remote_id, file_id, path, "
                "size, selected, link) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(torrent.provider, torrent.provider_torrent_id, f.provider_file_id,
                  f.source_path, f.size, int(f.selected), f.link)
                 for f in torrent.files if f.provider_file_id])
            _changed(conn)
