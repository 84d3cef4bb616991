"""What cross-seed's announces need: the .torrent behind a download link, and a memory of
what was announced (so autobrr's retries never fetch or add again)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FetchedTorrent:
    """What a download link gave: a .torrent's bytes, or the magnet link it redirected to."""

    data: bytes = b""
    magnet: str = ""


class TorrentFetcher(Protocol):
    """Outbound HTTP for one file: a tracker's (or an indexer's) .torrent download link."""

    def fetch(self, url: str, *, cookie: str = "") -> FetchedTorrent:
        """The .torrent at an http(s) URL, bounded in size and time; `cookie` is sent as the
        Cookie header to that URL's host only. core.errors.FetchFailed when it cannot be
        had."""
        ...


@dataclass(frozen=True)
class AnnounceMemory:
    """What became of a hash an announce brought: `added` (by an announce: never again), or
    `refused` (by the provider or the policy: answered so without asking again)."""

    outcome: str
    message: str
    at: float


class AnnounceStore(Protocol):
    """Announced releases: guid -> info-hash, and each hash's outcome."""

    def announced_hash(self, guid: str) -> str | None: ...

    def remember_announce(self, guid: str, info_hash: str, now: float) -> None: ...

    def announce_outcome(self, info_hash: str) -> AnnounceMemory | None: ...

    def set_announce_outcome(self, info_hash: str, outcome: str, message: str,
                             now: float) -> None: ...

    def forget_announces(self, before: float) -> int:
        """Drop guids and outcomes last seen before `before`; returns how many rows went."""
        ...
