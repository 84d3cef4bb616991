"""What the browse tree reads: torrents by group and by folder name, and their files (a mixin
of SqliteStore). Every query is served by an index and reads no torrent's files but one."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager

from core.models import TreeEntry, TreeFile
from core.naming import folder_for
from core.ports import RemoteStatus
from store.states import LIVE, SERVED, S, state

# The condition of the partial unique index torrents_folder: a query by folder states it so
# that SQLite uses that index instead of scanning every served torrent.
_BY_FOLDER = f"folder != '' AND {LIVE}"
_MANAGED = ("SELECT folder, hash, provider, size, CASE WHEN completion_on > 0 THEN "
            "completion_on ELSE added_on END, id FROM torrents ")
_IMPORTED = ("SELECT i.folder, i.hash, i.provider, i.size, COALESCE(i.ended, i.added), "  # noqa: S608
             "i.remote_id, EXISTS (SELECT 1 FROM torrents t WHERE t.folder = i.folder AND "
             f"t.folder != '' AND t.state != {state(S.DELETING)}) FROM imported_torrents i ")
_IMPORTED_ORDER = " ORDER BY i.added, i.provider, i.remote_id"


def _managed(row: sqlite3.Row) -> TreeEntry:
    return TreeEntry(base=row[0], hash=row[1], provider=row[2], size=row[3],
                     modified=float(row[4]), torrent_id=row[5])


def _imported(row: sqlite3.Row) -> TreeEntry:
    return TreeEntry(base=row[0], hash=row[1], provider=row[2], size=row[3],
                     modified=float(row[4]), remote_id=row[5], reserved=bool(row[6]))


class TreeQueries:
    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def fill_imported_folders(self) -> int:
        """Give imported rows stored before the tree existed their folder name."""
        rows = self._read().execute(
            "SELECT provider, remote_id, name FROM imported_torrents WHERE folder = ''"
        ).fetchall()
        if rows:
            with self._tx() as conn:
                conn.executemany("UPDATE imported_torrents SET folder = ? WHERE provider = ? "
                                 "AND remote_id = ?",
                                 [(folder_for(r[2]), r[0], r[1]) for r in rows])
        return len(rows)

    def tree_categories(self) -> list[str]:
        """Every category a client made, and any a served torrent still carries."""
        return [r[0] for r in self._read().execute(
            "SELECT name FROM categories UNION SELECT DISTINCT category FROM torrents "  # noqa: S608
            f"WHERE state IN {SERVED} AND category != '' ORDER BY 1")]

    def tree_all(self) -> tuple[list[TreeEntry], list[TreeEntry]]:
        """(client entries, imported torrents) that `__all__` serves."""
        conn = self._read()
        managed = [_managed(r) for r in conn.execute(
            _MANAGED + f"WHERE state IN {SERVED} AND folder != ''")]
        imported = [_imported(r) for r in conn.execute(
            _IMPORTED + "WHERE i.status = ? AND i.files_known = 1" + _IMPORTED_ORDER,
            (RemoteStatus.READY.value,))]
        return managed, imported

    def tree_all_named(self, base: str) -> tuple[TreeEntry | None, list[TreeEntry]]:
        """The client entry `__all__` serves under `base`, and the imported torrents whose
        folder is `base` (in the order the tree names them)."""
        conn = self._read()
        row = conn.execute(_MANAGED + f"WHERE folder = ? AND {_BY_FOLDER} AND state IN {SERVED}",
                           (base,)).fetchone()
        imported = [_imported(r) for r in conn.execute(
            _IMPORTED + "WHERE i.folder = ? AND i.status = ? AND i.files_known = 1"
            + _IMPORTED_ORDER, (base, RemoteStatus.READY.value))]
        return (None if row is None else _managed(row)), imported

    def tree_all_folders(self, names: list[str]) -> tuple[set[str], set[str]]:
        """Which of `names` are folders of the client entries `__all__` serves, and which of
        the imported torrents it serves."""
        if not names:
            return set(), set()
        marks = ",".join("?" * len(names))
        conn = self._read()
        managed = {r[0] for r in conn.execute(
            f"SELECT folder FROM torrents WHERE folder IN ({marks}) AND {_BY_FOLDER} AND "  # noqa: S608
            f"state IN {SERVED}", names)}
        imported = {r[0] for r in conn.execute(
            f"SELECT DISTINCT folder FROM imported_torrents WHERE folder IN ({marks}) AND "  # noqa: S608
            "status = ? AND files_known = 1", [*names, RemoteStatus.READY.value])}
        return managed, imported

    def tree_category(self, category: str, folder: str | None = None) -> list[TreeEntry]:
        """The served client entries of a category (only the one named `folder`, if given)."""
        where, args = "WHERE state IN " + SERVED + " AND category = ? AND folder != ''", \
            [category]
        if folder is not None:
            where, args = where + f" AND folder = ? AND {_BY_FOLDER}", [category, folder]
        return [_managed(r) for r in self._read().execute(_MANAGED + where, args)]

    def tree_bad(self, limit: int) -> tuple[list[TreeEntry], list[TreeEntry]]:
        """(failed client entries and completed ones repair found broken, failed account
        torrents), newest first."""
        conn = self._read()
        managed = [
            TreeEntry(base=r[0] or folder_for(r[6]), hash=r[1], provider=r[2], size=r[3],
                      modified=float(r[4]), torrent_id=r[5])
            for r in conn.execute(
                "SELECT folder, hash, provider, size, CASE WHEN state_since > 0 THEN "  # noqa: S608
                "CAST(state_since AS INTEGER) ELSE added_on END, id, CASE WHEN origin_name != '' "
                "THEN origin_name ELSE name END "
                f"FROM torrents WHERE state = {state(S.FAILED)} OR (state = "
                f"{state(S.COMPLETED)} AND health = 'broken') ORDER BY id DESC LIMIT ?",
                (limit,))]
        imported = [_imported(r) for r in conn.execute(
            _IMPORTED + "WHERE i.status = ?" + _IMPORTED_ORDER + " LIMIT ?",
            (RemoteStatus.FAILED.value, limit))]
        return managed, imported

    def tree_files(self, entry: TreeEntry) -> list[TreeFile]:
        """The files a torrent of the tree serves: selected, with a provider link."""
        if entry.torrent_id:
            return [TreeFile(path=r[0], size=r[1], link=r[2], file_id=str(r[3]))
                    for r in self._read().execute(
                        "SELECT CASE WHEN remote_path != '' THEN remote_path ELSE path END, "
                        "size, link, idx FROM files WHERE torrent_id = ? AND selected = 1 AND "
                        "link != '' ORDER BY idx", (entry.torrent_id,))]
        return [TreeFile(path=r[0], size=r[1], link=r[2], file_id=r[3])
                for r in self._read().execute(
                    "SELECT path, size, link, file_id FROM imported_files WHERE provider = ? "
                    "AND remote_id = ? AND selected = 1 AND link != '' "
                    "ORDER BY CAST(file_id AS INTEGER), file_id",
                    (entry.provider, entry.remote_id))]
