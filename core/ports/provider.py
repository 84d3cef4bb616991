"""What the domain needs from a debrid provider: its torrents, links, account and budget."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


class RemoteStatus(enum.StrEnum):
    """A provider torrent's status, normalised across providers."""

    METADATA = "metadata"                  # fetching magnet metadata
    WAITING_SELECTION = "waiting_selection"
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    PROCESSING = "processing"              # compressing / uploading to the hoster
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class RemoteFile:
    """A file inside a provider torrent. `path` is root-relative with '/' separators."""

    id: str
    path: str
    size: int
    selected: bool
    link: str = ""          # provider-side link, resolved to a direct URL on demand


@dataclass(frozen=True)
class RemoteTorrent:
    """A provider torrent. `files` is empty in list results; `progress` is 0..1."""

    id: str
    hash: str
    name: str
    status: RemoteStatus
    raw_status: str
    progress: float
    size: int
    speed: int = 0
    seeders: int | None = None
    files: tuple[RemoteFile, ...] = ()
    links: tuple[str, ...] = ()
    is_archive: bool = False    # several selected files share one archive link
    added: float | None = None  # when the provider got it (unix time)
    ended: float | None = None  # when the provider finished it


@dataclass(frozen=True)
class DirectLink:
    """A resolved, expiring CDN URL for one file."""

    url: str
    filename: str
    size: int
    expires_at: float | None = None


@dataclass(frozen=True)
class Account:
    """Who the provider token belongs to."""

    username: str
    premium: bool
    expires_at: str = ""


@dataclass(frozen=True)
class BudgetState:
    """What a provider account's request budget looks like now (for the REST API and UI)."""

    account: str
    per_minute: int
    capacity: float
    tokens: float
    waiting_interactive: int
    waiting_background: int
    blocked_for: float                    # seconds until a 429 block ends (0: none)
    recent_rate_limits: int               # 429s in the last hour


class DebridProvider(Protocol):
    """A debrid provider account. Every method may raise core.errors.ProviderError."""

    name: str

    def add_magnet(self, magnet: str) -> str: ...

    def add_torrent_file(self, data: bytes) -> str: ...

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None: ...

    def get_torrent(self, torrent_id: str) -> RemoteTorrent: ...

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """The account's torrents, newest first, a page at a time (no files in them).
        `active_only`: those the provider is still working on."""
        ...

    def delete_torrent(self, torrent_id: str) -> None: ...

    def resolve_link(self, link: str) -> DirectLink: ...

    def get_account(self) -> Account: ...

    def budgets(self) -> list[BudgetState]:
        """The request budget of each account this provider calls with."""
        ...
