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


class FailureCause(enum.StrEnum):
    """Why a provider torrent failed, normalised by the adapter from its own status values."""

    DEAD = "dead"                  # swarm or content gone, purged, deleted at the hoster
    INFRINGING = "infringing"      # refused or removed for good (infringing, banned)
    MAGNET_ERROR = "magnet_error"  # the metadata could not be fetched
    TOO_LARGE = "too_large"        # over the account's or the provider's size limit
    VIRUS = "virus"                # flagged as malware, or the content is invalid
    TIMEOUT = "timeout"            # the provider gave up downloading it (took too long)
    ERROR = "error"                # any other failure the provider reports


class CacheCheck(enum.StrEnum):
    """How a provider can tell whether a release is cached before it downloads it."""

    NATIVE = "native"    # check_cached() asks it, costing no slot and no add
    PROBE = "probe"      # only by adding it and seeing it ready at once


@dataclass(frozen=True)
class Capabilities:
    """What a provider's API can do; the engine branches on these, never on its name."""

    cache_check: CacheCheck = CacheCheck.PROBE
    add_only_if_cached: bool = False   # an add can be told to refuse uncached (NotCached)
    file_selection: bool = True        # select_files() must be called before it downloads
    active_slots: bool = False         # active_count() reports (used, limit)
    link_step: bool = True             # file links must be resolved (False: already direct)
    link_lifetime_seconds: float | None = None   # how long a resolved link lives; None: unsaid
    max_hashes_per_check: int = 100    # check_cached() takes this many hashes per call


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
    failure: FailureCause | None = None   # set when status is FAILED
    message: str = ""           # the provider's own words about it, if any


@dataclass(frozen=True)
class DirectLink:
    """A resolved, expiring CDN URL for one file."""

    url: str
    filename: str
    size: int
    expires_at: float | None = None


@dataclass(frozen=True)
class Account:
    """Who the provider token belongs to, and what the API says of its allowance."""

    username: str
    premium: bool
    expires_at: str = ""                # premium until (ISO 8601), "" when unsaid
    traffic_left: int | None = None     # bytes left today or this period, where reported
    fair_use: float | None = None       # share of the fair-use allowance used (0..1)
    slots_used: int | None = None
    slots_max: int | None = None
    notes: tuple[str, ...] = ()         # anything else worth showing (plan, cooldown)


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
    capabilities: Capabilities

    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        """The provider's torrent id. `only_if_cached` (capabilities.add_only_if_cached):
        refuse with NotCached rather than download."""
        ...

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str: ...

    def add_wait(self) -> float:
        """Seconds until the provider accepts another add (its create limit); 0 = now, and
        then one add is counted against that limit."""
        ...

    def check_cached(self, hashes: Sequence[str]) -> dict[str, bool]:
        """Which of these info hashes are cached (capabilities.cache_check NATIVE; else
        Unsupported)."""
        ...

    def active_count(self) -> tuple[int, int]:
        """(active downloads, the account's limit) (capabilities.active_slots; else
        Unsupported)."""
        ...

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None:
        """Only called when capabilities.file_selection."""
        ...

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
