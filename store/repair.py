"""Repair's tables (a mixin of SqliteStore): jobs, attempts per hash, health, the copy swap."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import orjson

from core.models import Torrent, TorrentFile, TorrentState
from core.ports.repair import Attempts, JobConflict, JobState, RepairJob
from store.torrents import bump

_JSON = {"arrs", "media_ids", "plan", "summary"}
_BOOLS = {"dry_run", "auto_process", "stop_requested"}
_JOB_FIELDS = ("created", "state", "trigger", "dry_run", "auto_process", "arrs", "media_ids",
               "plan", "summary", "error", "started", "finished", "owner", "stop_requested")
COMPLETED = TorrentState.COMPLETED.value


def _job(row: sqlite3.Row) -> RepairJob:
    return RepairJob(
        id=row["id"], created=row["created"], state=JobState(row["state"]),
        trigger=row["trigger"], dry_run=bool(row["dry_run"]),
        auto_process=bool(row["auto_process"]), arrs=tuple(orjson.loads(row["arrs"])),
        media_ids=tuple(orjson.loads(row["media_ids"])),
        plan=tuple(orjson.loads(row["plan"])), summary=orjson.loads(row["summary"]),
        error=row["error"], started=row["started"], finished=row["finished"],
        owner=row["owner"], stop_requested=bool(row["stop_requested"]))


def _column(name: str, value: Any) -> Any:
    if name in _JSON:
        return orjson.dumps(list(value) if isinstance(value, tuple) else value).decode()
    if name in _BOOLS:
        return int(bool(value))
    if isinstance(value, JobState):
        return value.value
    return value


class RepairQueries:
    """The repair_jobs and repair_attempts tables, and the health columns."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _rows(self, where: str, args: Sequence[Any], order: str = "id") -> list[Torrent]:
        raise NotImplementedError

    def files_of(self, torrent_id: int) -> list[TorrentFile]:
        raise NotImplementedError

    # -- jobs -------------------------------------------------------------------------------
    def create_repair_job(self, job: RepairJob) -> RepairJob:
        values = {name: _column(name, getattr(job, name)) for name in _JOB_FIELDS}
        try:
            with self._tx() as conn:
                row = conn.execute(
                    f"INSERT INTO repair_jobs ({', '.join(values)}) VALUES "  # noqa: S608
                    f"({', '.join('?' * len(values))}) RETURNING *",
                    list(values.values())).fetchone()
        except sqlite3.IntegrityError:
            raise JobConflict("a repair job is already running") from None
        return _job(row)

    def get_repair_job(self, job_id: int) -> RepairJob | None:
        row = self._read().execute("SELECT * FROM repair_jobs WHERE id = ?",
                                   (job_id,)).fetchone()
        return None if row is None else _job(row)

    def list_repair_jobs(self, limit: int) -> list[RepairJob]:
        return [_job(r) for r in self._read().execute(
            "SELECT * FROM repair_jobs ORDER BY id DESC LIMIT ?", (limit,))]

    def update_repair_job(self, job_id: int, *, from_states: Sequence[JobState] = (),
                          **fields: Any) -> bool:
        unknown = set(fields) - set(_JOB_FIELDS)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        sets = ", ".join(f"{name} = ?" for name in fields)
        args = [_column(name, value) for name, value in fields.items()]
        where = "id = ?"
        if from_states:
            where += f" AND state IN ({','.join('?' * len(from_states))})"
        try:
            with self._tx() as conn:
                return conn.execute(f"UPDATE repair_jobs SET {sets} WHERE {where}",  # noqa: S608
                                    [*args, job_id, *[s.value for s in from_states]]
                                    ).rowcount == 1
        except sqlite3.IntegrityError:
            raise JobConflict("a repair job is already running") from None

    def delete_repair_job(self, job_id: int) -> bool:
        with self._tx() as conn:
            return conn.execute("DELETE FROM repair_jobs WHERE id = ?", (job_id,)).rowcount == 1

    def prune_repair_jobs(self, keep: int) -> int:
        """Forget finished jobs beyond the newest `keep`."""
        with self._tx() as conn:
            return conn.execute(
                "DELETE FROM repair_jobs WHERE state IN ('completed', 'stopped', 'failed') AND "
                "id NOT IN (SELECT id FROM repair_jobs ORDER BY id DESC LIMIT ?)",
                (keep,)).rowcount

    # -- attempts ---------------------------------------------------------------------------
    def get_attempts(self, info_hash: str) -> Attempts | None:
        row = self._read().execute(
            "SELECT hash, attempts, last_at, next_at, last_error FROM repair_attempts "
            "WHERE hash = ?", (info_hash,)).fetchone()
        return None if row is None else Attempts(*row)

    def record_attempt(self, info_hash: str, now: float, next_at: float, error: str) -> int:
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO repair_attempts (hash, attempts, last_at, next_at, last_error) "
                "VALUES (?, 1, ?, ?, ?) ON CONFLICT (hash) DO UPDATE SET attempts = "
                "attempts + 1, last_at = excluded.last_at, next_at = excluded.next_at, "
                "last_error = excluded.last_error RETURNING attempts",
                (info_hash, now, next_at, error)).fetchone()
        return int(row[0])

    def clear_attempts(self, info_hash: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM repair_attempts WHERE hash = ?", (info_hash,))

    # -- health -----------------------------------------------------------------------------
    def set_health(self, torrent_id: int, health: str, reason: str, now: float,
                   files: Mapping[int, tuple[str, str]] | None = None) -> None:
        """Bumps the revision only when the health shown changes (a scan of a healthy
        library writes no sync delta)."""
        with self._tx() as conn:
            row = conn.execute("SELECT health, health_reason FROM torrents WHERE id = ?",
                               (torrent_id,)).fetchone()
            if row is None:
                return
            if (row[0], row[1]) != (health, reason):
                conn.execute("UPDATE torrents SET health = ?, health_reason = ?, "
                             "health_checked = ?, rev = ? WHERE id = ?",
                             (health, reason, now, bump(conn), torrent_id))
            else:
                conn.execute("UPDATE torrents SET health_checked = ? WHERE id = ?",
                             (now, torrent_id))
            if files is not None:
                conn.executemany(
                    "UPDATE files SET health = ?, health_reason = ? WHERE torrent_id = ? AND "
                    "idx = ?", [(h, r, torrent_id, index) for index, (h, r) in files.items()])

    def health_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self._read().execute(
            "SELECT health, COUNT(*) FROM torrents WHERE state = ? GROUP BY health",
            (COMPLETED,))}

    def swap_provider_copy(self, torrent_id: int, old_provider_id: str, provider: str,
                           provider_torrent_id: str,
                           files: Mapping[int, tuple[str, str]], now: float) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE torrents SET provider = ?, provider_torrent_id = ?, health = 'healthy', "
                "health_reason = '', health_checked = ?, rev = ? WHERE id = ? AND "
                "provider_torrent_id = ?",
                (provider, provider_torrent_id, now, bump(conn), torrent_id, old_provider_id))
            if cur.rowcount != 1:
                return False
            conn.executemany(
                "UPDATE files SET provider_file_id = ?, link = ?, health = 'healthy', "
                "health_reason = '' WHERE torrent_id = ? AND idx = ?",
                [(file_id, link, torrent_id, index)
                 for index, (file_id, link) in files.items()])
            return True

    def completed_torrents(self, hashes: Sequence[str] | None = None,
                           categories: Sequence[str] | None = None) -> list[Torrent]:
        where, args = "state = ?", [COMPLETED]
        if hashes is not None:
            where += " AND hash IN (SELECT value FROM json_each(?))"
            args.append(orjson.dumps(list(hashes)).decode())
        if categories is not None:
            where += " AND category IN (SELECT value FROM json_each(?))"
            args.append(orjson.dumps(list(categories)).decode())
        torrents = self._rows(where, args)
        return [replace(t, files=tuple(self.files_of(t.id))) for t in torrents]

    def mark_streamed(self, torrent_id: int, now: float) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE torrents SET streamed_at = ? WHERE id = ?", (now, torrent_id))

    def queue_arr_notice(self, torrent_id: int, info_hash: str, event: str,
                         context: Mapping[str, str], now: float) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO hook_outbox (torrent_id, hash, hook, context, created, "
                         "next_at) VALUES (?,?,?,?,?,?)",
                         (torrent_id, info_hash, f"arr:{event}",
                          orjson.dumps(dict(context)).decode(), now, now))
