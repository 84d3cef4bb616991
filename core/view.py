"""The surface-neutral torrent view: what every surface (qBit, REST, registry, UI) shows."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.models import FailureReason, Health, Torrent, TorrentFile, TorrentState

RUNNING = (TorrentState.SUBMITTING, TorrentState.RESOLVING, TorrentState.DOWNLOADING,
           TorrentState.FINALIZING)
TRANSFERRING = (TorrentState.DOWNLOADING, TorrentState.FINALIZING)


def placed_bytes(torrent: Torrent) -> int:
    """Bytes of the wanted files really there: the provider's while it downloads, then
    those copied or linked under content_path (the engine keeps `progress` so)."""
    return int(torrent.size * torrent.progress) if torrent.size > 0 else 0


def speed_now(torrent: Torrent, now: float) -> int:
    """Bytes per second now; 0 unless the provider or a copy is moving bytes."""
    return torrent.speed_at(now) if torrent.state in TRANSFERRING else 0


def eta_seconds(torrent: Torrent, now: float) -> int | None:
    """Seconds until the wanted bytes are all there at today's speed; None when unknown
    (nothing is moving, or it is complete)."""
    remaining = torrent.size - placed_bytes(torrent)
    speed = speed_now(torrent, now)
    if torrent.state is TorrentState.COMPLETED or speed <= 0 or remaining <= 0:
        return None
    return math.ceil(remaining / speed)


def health_of(torrent: Torrent) -> tuple[Health, str]:
    """The torrent's health and why: a failed one is broken; a completed one is what repair's
    scanner last found (healthy until it finds otherwise: its files were read when it
    completed); one not complete yet has nothing to judge."""
    if torrent.state is TorrentState.FAILED:
        return Health.BROKEN, torrent.reason or FailureReason.PROVIDER_ERROR.value
    if torrent.state is TorrentState.COMPLETED:
        if torrent.health in (Health.BROKEN, Health.REPAIRING):
            return Health(torrent.health), torrent.health_reason
        return Health.HEALTHY, ""
    return Health.UNKNOWN, ""


def file_health(torrent: Torrent, file: TorrentFile) -> tuple[str, str]:
    """A selected file's health and why ("" for a file not selected)."""
    if not file.selected:
        return "", ""
    if torrent.state is TorrentState.COMPLETED and file.health == Health.BROKEN:
        return Health.BROKEN.value, file.health_reason
    return health_of(torrent)[0].value, ""


@dataclass(frozen=True, slots=True)
class TorrentView:
    """One torrent as people and scripts see it, in no client's vocabulary."""

    hash: str
    name: str
    category: str
    tags: tuple[str, ...]
    state: TorrentState
    paused: bool
    progress: float            # placed_bytes / size
    placed_bytes: int
    size: int                  # bytes of the wanted files (0 until known)
    total_size: int            # bytes of every file (-1 until the metadata is known)
    speed: int
    eta: int | None
    provider: str
    seeders: int
    failure_reason: str        # a FailureReason value ("" unless failed)
    message: str               # why it failed, or the provider's last word
    health: Health
    health_reason: str
    added_on: int
    completed_on: int | None
    last_activity: int
    save_path: str
    content_path: str

    def as_json(self) -> dict[str, Any]:
        """The REST and UI rendering (state names are Debridge's own)."""
        return {
            "hash": self.hash, "name": self.name, "category": self.category,
            "tags": list(self.tags), "state": self.state.value, "paused": self.paused,
            "progress": round(self.progress, 4), "placed_bytes": self.placed_bytes,
            "size": self.size, "total_size": self.total_size, "speed": self.speed,
            "eta": self.eta, "provider": self.provider, "seeders": self.seeders,
            "failure_reason": self.failure_reason or None, "message": self.message,
            "health": self.health.value, "health_reason": self.health_reason or None,
            "added_on": self.added_on, "completed_on": self.completed_on,
            "last_activity": self.last_activity, "save_path": self.save_path,
            "content_path": self.content_path,
        }


def torrent_view(torrent: Torrent, now: float) -> TorrentView:
    """The neutral view of a torrent at `now`."""
    completed = torrent.state is TorrentState.COMPLETED
    failed = torrent.state is TorrentState.FAILED
    health, why = health_of(torrent)
    return TorrentView(
        hash=torrent.hash, name=torrent.name, category=torrent.category, tags=torrent.tags,
        state=torrent.state, paused=torrent.paused,
        progress=1.0 if completed else max(0.0, min(1.0, torrent.progress)),
        placed_bytes=torrent.size if completed else placed_bytes(torrent),
        size=torrent.size, total_size=torrent.total_size, speed=speed_now(torrent, now),
        eta=eta_seconds(torrent, now), provider=torrent.provider, seeders=torrent.seeders,
        failure_reason=torrent.reason if failed else "",
        message=torrent.message, health=health, health_reason=why,
        added_on=torrent.added_on,
        completed_on=torrent.completion_on if completed and torrent.completion_on else None,
        last_activity=torrent.last_activity or torrent.added_on,
        save_path=torrent.save_path, content_path=torrent.content_path)
