"""The Real-Debrid status machine, computed from a torrent's timestamps and the sandbox clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

ACTIVE_STATUSES = frozenset({"queued", "downloading"})


@dataclass(frozen=True)
class Timeline:
    """Absolute sandbox-clock times fixed when a torrent is added and when files are selected.

    Storing times rather than a current status is what lets a restarted sandbox, or an advanced
    clock, answer the right status without any background worker.
    """

    added: float
    conversion_end: float
    no_metadata: bool
    selected_at: float | None = None
    queue_end: float | None = None
    ended_at: float | None = None
    dead_at: float | None = None

    def status(self, now: float) -> str:
        if self.dead_at is not None and now >= self.dead_at:
            return "dead"
        if self.selected_at is None or self.queue_end is None or self.ended_at is None:
            if now < self.conversion_end:
                return "magnet_conversion"
            return "magnet_error" if self.no_metadata else "waiting_files_selection"
        if now < self.queue_end:
            return "queued"
        if now < self.ended_at:
            return "downloading"
        return "downloaded"

    def finished(self, now: float) -> bool:
        """True once the download has ended (downloaded, or dead after finishing)."""
        return self.ended_at is not None and now >= self.ended_at

    def progress(self, now: float) -> int:
        """Integer percent; rises linearly while downloading and never goes back."""
        if self.queue_end is None or self.ended_at is None:
            return 0
        # A torrent killed mid-download keeps the progress it had when it died.
        at = now if self.dead_at is None else min(now, self.dead_at)
        if at >= self.ended_at:
            return 100
        if at <= self.queue_end:
            return 0
        return min(99, int(100 * (at - self.queue_end) / (self.ended_at - self.queue_end)))

    def speed(self, selected_bytes: int) -> int:
        """Bytes per second while downloading: the selection spread over the download time."""
        if self.queue_end is None or self.ended_at is None or self.ended_at <= self.queue_end:
            return 0
        return int(selected_bytes / (self.ended_at - self.queue_end))


def seeders(infohash: str) -> int:
    """A deterministic peer count, so repeated polls of one torrent agree."""
    return 1 + int(infohash[16:18], 16) % 40


def js_date(timestamp: float) -> str:
    """A date as JavaScript's toJSON writes it, which is what Real-Debrid sends."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
