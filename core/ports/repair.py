"""What repair needs: its jobs and attempts in the store, the Arrs registered by login, and
checks of the disk (the mount, symlinks) and of links."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.models import Torrent, TorrentFile


class JobState(enum.StrEnum):
    SCANNING = "scanning"        # looking for what is broken (one job at a time)
    PENDING = "pending"          # a plan waits to be processed (POST .../process)
    PROCESSING = "processing"    # carrying out the plan (one job at a time)
    COMPLETED = "completed"
    STOPPED = "stopped"          # stopped by a user, part of the plan done
    FAILED = "failed"            # the run itself failed (the reason is kept)


RUNNING = (JobState.SCANNING, JobState.PROCESSING)


@dataclass(frozen=True)
class RepairJob:
    """A repair job. `plan` holds one dict per torrent to repair: what was found, what will
    be (or was) done, and how far it got; `summary` what the scan saw, and the gate's
    verdict."""

    id: int
    created: float
    state: JobState
    trigger: str = "api"
    dry_run: bool = False
    auto_process: bool = False
    arrs: tuple[str, ...] = ()
    media_ids: tuple[str, ...] = ()
    plan: tuple[Mapping[str, Any], ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""
    started: float = 0.0
    finished: float = 0.0
    owner: str = ""
    stop_requested: bool = False


@dataclass(frozen=True)
class Attempts:
    """Repairs tried for one info-hash."""

    hash: str
    attempts: int
    last_at: float
    next_at: float
    last_error: str = ""


@dataclass(frozen=True)
class Registration:
    """An Arr registered by a qBit login (its URL as the user name, its key as password)."""

    url: str
    type: str
    api_key: str = field(repr=False)
    categories: tuple[str, ...] = ()
    version: str = ""
    registered: float = 0.0


class JobConflict(Exception):
    """Another job is scanning or processing."""


class RepairStore(Protocol):
    """Repair jobs, attempts, health and the provider-copy swap (store/repair.py)."""

    def create_repair_job(self, job: RepairJob) -> RepairJob:
        """Insert a job; JobConflict when it would run beside one that is running."""
        ...

    def get_repair_job(self, job_id: int) -> RepairJob | None: ...

    def list_repair_jobs(self, limit: int) -> list[RepairJob]:
        """Newest first."""
        ...

    def update_repair_job(self, job_id: int, *, from_states: Sequence[JobState] = (),
                          **fields: Any) -> bool:
        """Change a job (only when in one of `from_states`, if given); JobConflict when the
        change would start it beside a running one."""
        ...

    def delete_repair_job(self, job_id: int) -> bool: ...

    def prune_repair_jobs(self, keep: int) -> int: ...

    def get_attempts(self, info_hash: str) -> Attempts | None: ...

    def record_attempt(self, info_hash: str, now: float, next_at: float, error: str) -> int:
        """Count one more repair of this hash; returns how many there have been."""
        ...

    def clear_attempts(self, info_hash: str) -> None: ...

    def set_health(self, torrent_id: int, health: str, reason: str, now: float,
                   files: Mapping[int, tuple[str, str]] | None = None) -> None:
        """A torrent's health, and its files' (index -> (health, reason)) when given."""
        ...

    def health_counts(self) -> dict[str, int]:
        """Completed torrents by health."""
        ...

    def swap_provider_copy(self, torrent_id: int, old_provider_id: str, provider: str,
                           provider_torrent_id: str,
                           files: Mapping[int, tuple[str, str]], now: float) -> bool:
        """Point a torrent at a new provider copy, with each file's new (provider file id,
        link), healthy, in one transaction; False when its copy changed meanwhile."""
        ...

    def completed_torrents(self, hashes: Sequence[str] | None = None,
                           categories: Sequence[str] | None = None) -> list[Torrent]:
        """Completed torrents with their files (optionally only these hashes or
        categories)."""
        ...

    def mark_streamed(self, torrent_id: int, now: float) -> None: ...

    def queue_arr_notice(self, torrent_id: int, info_hash: str, event: str,
                         context: Mapping[str, str], now: float) -> None:
        """Queue an Arr notice in the hooks' outbox (delivered with retries)."""
        ...


class ArrRegistry(Protocol):
    """Arrs registered by login (store/arrs.py)."""

    def save_registration(self, registration: Registration) -> None: ...

    def registrations(self) -> list[Registration]: ...

    def add_registration_category(self, url: str, category: str) -> bool: ...


class DiskChecks(Protocol):
    """What the scanner reads of the disk (repair.checks)."""

    def mount_problem(self) -> str | None:
        """Why the mount the symlinks point into cannot be trusted now, or None."""
        ...

    def broken_placements(self, torrent: Torrent) -> dict[int, str]:
        """The torrent's placed files (symlinks) whose target is missing: index -> why."""
        ...

    def placement_targets(self, torrent: Torrent) -> list[str]:
        """Where the torrent's placed symlinks point (what an Arr's imported links point
        at too)."""
        ...

    def broken_links_under(self, roots: Sequence[str]) -> list[tuple[str, str]]:
        """Broken symlinks under these folders that point into the mount: (path, target)."""
        ...


class LinkProbe(Protocol):
    """Reads the first byte of a file through its provider link (repair.checks)."""

    def problem(self, torrent: Torrent, file: TorrentFile) -> str | None:
        """Why the file cannot be read now, or None when its first byte came."""
        ...
