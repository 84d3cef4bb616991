"""Ports: what the domain needs from a provider, from content links and from the store."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from core.models import (
    Category,
    FileNode,
    FolderNode,
    Group,
    ImportedTorrent,
    NewTorrent,
    Torrent,
    TorrentFile,
    TorrentNode,
    TorrentState,
    TreeEntry,
    TreeFile,
)


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
class Bucket:
    """A request budget's persisted state: tokens at `updated`, a block after a 429."""

    tokens: float
    updated: float
    blocked_until: float = 0.0
    strikes: int = 0                      # 429s in a row (the block doubles with each)
    rate_limited: tuple[float, ...] = ()  # when recent 429s arrived


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


T = TypeVar("T")
BucketChange = Callable[[Bucket | None, int], tuple[Bucket, T]]


@dataclass(frozen=True)
class Waiter:
    """A caller waiting for a token: callers are served by priority, then first come."""

    id: str
    priority: int
    since: float


class BudgetStore(Protocol):
    """Where request budgets live, so every thread and process shares one per account."""

    def update_bucket(self, account: str, change: BucketChange[T], *, now: float,
                      waiter: Waiter | None = None) -> T:
        """In one write transaction: call change(bucket, live waiters ahead of `waiter`),
        store the bucket it returns. A change that returns a positive wait registers the
        waiter (until now + wait + a margin); any other result removes it."""
        ...

    def read_bucket(self, account: str, now: float) -> tuple[Bucket | None, dict[int, int]]:
        """The bucket and the live waiters by priority."""
        ...

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...


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


class ContentStream(Protocol):
    """An open read of a direct link from some offset."""

    def chunks(self, size: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class FileReader(Protocol):
    """A file of the tree opened for reading: seekable, bytes from the provider's CDN."""

    file: TreeFile

    def seekable(self) -> bool: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def tell(self) -> int: ...

    def expect(self, stop: int) -> None:
        """The caller reads no further than `stop`: the CDN is asked for just that."""
        ...

    def open(self) -> None:
        """Open the CDN now (a failure raises UpstreamFailed before any byte is promised)."""
        ...

    def read(self, size: int = -1) -> bytes: ...

    def close(self) -> None: ...


class FileStreams(Protocol):
    """Opens readers of the tree's files."""

    def open(self, entry: TreeEntry, file: TreeFile) -> FileReader: ...


class TreeView(Protocol):
    """The library as folders, as the surfaces read it (browse.Tree)."""

    def groups(self) -> list[Group]: ...

    def group(self, name: str) -> Group | None: ...

    def torrents(self, group: Group) -> list[TorrentNode]: ...

    def torrent(self, group: Group, name: str) -> TorrentNode | None: ...

    def folder(self, node: TorrentNode) -> FolderNode: ...

    def resolve(self, path: str) -> Group | TorrentNode | FolderNode | FileNode | None: ...


class ContentSource(Protocol):
    """Opens direct links from `offset` (to `end`, exclusive, when given: a CDN may then
    keep the connection for the next request). Raises LinkExpired when the link must be
    resolved again."""

    def open(self, url: str, offset: int, end: int | None = None) -> ContentStream: ...


# -- the store, by noun: each part of the domain asks for the Protocols it uses ------------------
class TorrentStore(Protocol):
    """Torrents, their files and tags (a change bumps the revision clients sync against)."""

    def add_torrent(self, new: NewTorrent, now: float) -> Torrent: ...

    def add_torrents(self, news: Sequence[NewTorrent], now: float) -> list[Torrent]:
        """Add a batch in one transaction, skipping hashes already live or repeated."""
        ...

    def get_torrent(self, torrent_id: int, *, with_files: bool = False) -> Torrent | None: ...

    def get_torrents(self, ids: Iterable[int]) -> dict[int, Torrent]: ...

    def get_by_hash(self, info_hash: str, *, with_files: bool = False) -> Torrent | None: ...

    def list_torrents(self, *, category: str | None = None,
                      hashes: Iterable[str] | None = None) -> list[Torrent]: ...

    def files_of(self, torrent_id: int) -> list[TorrentFile]: ...

    def update_torrent(self, torrent_id: int, **fields: Any) -> None: ...

    def transition(self, torrent_id: int, from_states: Iterable[TorrentState],
                   to_state: TorrentState, now: float, **fields: Any) -> bool:
        """Compare-and-set: move to `to_state` only from one of `from_states`."""
        ...

    def set_files(self, torrent_id: int, files: Iterable[TorrentFile]) -> None: ...

    def update_file(self, torrent_id: int, index: int, **fields: Any) -> None: ...

    def claim_folder(self, torrent_id: int, candidates: Sequence[str]) -> str: ...

    def delete_torrent_row(self, torrent_id: int) -> None: ...

    def provider_id_users(self, provider: str, provider_torrent_id: str) -> int: ...

    def set_tags(self, torrent_id: int, tags: Iterable[str]) -> None: ...

    def torrent_file_of(self, torrent_id: int) -> bytes | None: ...

    def count_torrents(self) -> int: ...

    def live_hashes(self) -> set[str]: ...

    def download_queue(self) -> list[int]: ...

    def revision(self) -> int: ...

    def torrents_changed_since(self, rev: int, *, or_active: bool = False) -> list[Torrent]: ...

    def transfer_sums(self) -> tuple[int, int]: ...


class CategoryStore(Protocol):
    """qBittorrent's categories and tags."""

    def list_categories(self) -> list[Category]: ...

    def get_category(self, name: str) -> Category | None: ...

    def create_category(self, name: str, save_path: str,
                        download_path: str | bool | None = None) -> bool: ...

    def edit_category(self, name: str, save_path: str,
                      download_path: str | bool | None = None) -> bool: ...

    def remove_categories(self, names: Iterable[str]) -> None: ...

    def list_tags(self) -> list[str]: ...

    def create_tags(self, tags: Iterable[str]) -> None: ...

    def delete_tags(self, tags: Iterable[str]) -> None: ...


class MetaStore(Protocol):
    """Small values kept at run time (generated credentials, preferences, job times)."""

    def get_meta(self, key: str) -> str | None: ...

    def set_meta(self, key: str, value: str) -> None: ...

    def set_meta_if_absent(self, key: str, value: str) -> bool: ...


class SessionStore(Protocol):
    """qBittorrent sessions (by the hash of their id) and failed-login bans."""

    def create_session(self, sid_hash: str, username: str, now: float) -> None: ...

    def session_last_seen(self, sid_hash: str) -> float | None: ...

    def touch_session(self, sid_hash: str, now: float) -> None: ...

    def delete_session(self, sid_hash: str) -> None: ...

    def purge_sessions(self, idle_before: float) -> int: ...

    def banned_until(self, ip: str, surface: str) -> float: ...

    def record_login_failure(self, ip: str, surface: str, now: float, max_failures: int,
                             ban_seconds: float) -> bool: ...

    def clear_login_failures(self, ip: str, surface: str) -> None: ...

    def purge_login_failures(self, before: float) -> None: ...


class ImportedStore(Protocol):
    """The account's torrents Debridge did not add (library sync), and their files."""

    def upsert_imported(self, provider: str, remotes: Sequence[RemoteTorrent],
                        generation: int, now: float) -> tuple[int, int]: ...

    def finish_import_pass(self, provider: str, generation: int) -> int: ...

    def imported_needing_details(self, provider: str, limit: int) -> list[ImportedTorrent]: ...

    def set_imported_files(self, provider: str, remote_id: str,
                           files: Sequence[RemoteFile]) -> None: ...

    def delete_imported(self, provider: str, remote_id: str) -> None: ...

    def imported_by_hash(self, provider: str, info_hash: str) -> ImportedTorrent | None: ...

    def imported_uses(self, provider: str, remote_id: str) -> bool: ...

    def import_from_entry(self, torrent: Torrent, now: float) -> None: ...


class ScheduleStore(Protocol):
    """What the engine works on next, the provider slots in use, and the lease that lets one
    process at a time do it."""

    def due_torrents(self, now: float, limit: int) -> list[Torrent]: ...

    def next_due_at(self, exclude: Iterable[int] = ()) -> float | None: ...

    def torrents_waiting_on(self, provider: str) -> list[Torrent]: ...

    def active_at_provider(self, provider: str | None = None) -> int: ...

    def starting_ahead(self, torrent: Torrent, since: float) -> int: ...

    def queue_ahead(self, torrent: Torrent) -> int: ...

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float,
                      steal_from_dead: bool = False) -> bool: ...

    def release_lease(self, name: str, owner: str) -> None: ...

    def lease_holder(self, name: str, now: float) -> str | None: ...


class LinkStore(Protocol):
    """Resolved direct links, by provider and provider link."""

    def get_link(self, provider: str, source: str, now: float) -> DirectLink | None: ...

    def put_link(self, provider: str, source: str, link: DirectLink) -> None: ...

    def drop_link(self, provider: str, source: str) -> None: ...


class LogStore(Protocol):
    """Operator messages (qBittorrent's log/main)."""

    def append_log(self, entries: Iterable[tuple[int, int, str]], keep: int) -> None: ...

    def log_since(self, last_known_id: int,
                  types: Iterable[int]) -> list[tuple[int, int, int, str]]: ...


class TreeStore(Protocol):
    """The queries the browse tree reads."""

    def tree_stamp(self) -> tuple[int, int]: ...

    def tree_categories(self) -> list[str]: ...

    def tree_all(self) -> tuple[list[TreeEntry], list[TreeEntry]]: ...

    def tree_all_named(self, base: str) -> tuple[TreeEntry | None, list[TreeEntry]]: ...

    def tree_all_folders(self, names: list[str]) -> tuple[set[str], set[str]]: ...

    def tree_category(self, category: str, folder: str | None = None) -> list[TreeEntry]: ...

    def tree_bad(self, limit: int) -> tuple[list[TreeEntry], list[TreeEntry]]: ...

    def tree_files(self, entry: TreeEntry) -> list[TreeFile]: ...


# What each user of the store needs, together.
class AuthStore(SessionStore, MetaStore, Protocol):
    """Logins, sessions and bans, and the generated credentials."""


class SlotStore(ScheduleStore, MetaStore, Protocol):
    """The provider slots in use, and each provider's slot count learnt from it."""


class SyncStore(ImportedStore, MetaStore, Protocol):
    """Library sync: the imported torrents, and when each provider was last listed."""


class LibraryStore(TorrentStore, CategoryStore, MetaStore, LogStore, Protocol):
    """What the library's use cases read and write."""


class EngineStore(TorrentStore, ScheduleStore, ImportedStore, LinkStore, MetaStore, Protocol):
    """What the engine, its steps and library sync read and write."""


class Store(EngineStore, CategoryStore, SessionStore, LogStore, TreeStore, BudgetStore,
            Protocol):
    """All of it (implemented by store.SqliteStore)."""
