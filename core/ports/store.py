"""What the domain needs from the store, by noun; each part asks for the Protocols it uses."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from core.models import (
    Category,
    ImportedTorrent,
    NewTorrent,
    Torrent,
    TorrentFile,
    TorrentState,
    TreeEntry,
    TreeFile,
)
from core.ports.announce import AnnounceStore
from core.ports.provider import DirectLink, RemoteFile, RemoteTorrent


@dataclass(frozen=True)
class Bucket:
    """A request budget's persisted state: tokens at `updated`, a block after a 429."""

    tokens: float
    updated: float
    blocked_until: float = 0.0
    strikes: int = 0                      # 429s in a row (the block doubles with each)
    rate_limited: tuple[float, ...] = ()  # when recent 429s arrived


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


class DeliveryState(enum.StrEnum):
    """Where a hook delivery is: owed, being sent, or finished one way or another."""

    PENDING = "pending"      # due at next_at
    SENDING = "sending"      # claimed by a process until claimed_until
    DONE = "done"            # delivered: never sent again
    FAILED = "failed"        # gave up after hooks.max_attempts
    DROPPED = "dropped"      # its hook is no longer configured


@dataclass(frozen=True)
class HookDelivery:
    """One hook call owed for one completed torrent: a row of the outbox. `context` holds
    the placeholder values at completion, so a torrent deleted since still gets its call."""

    id: int
    torrent_id: int
    hash: str
    hook: str                                # the hook's key (core.hooks.Hook.key)
    context: Mapping[str, str] = field(default_factory=dict)
    created: float = 0.0
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0                        # claims so far (one per try, cut off or not)
    next_at: float = 0.0
    error: str = ""


class HookStore(Protocol):
    """The completion hooks' outbox. Deliveries are queued in the transaction that completes
    the torrent, and claimed before they are sent, so that a crash at any moment neither
    loses a delivery nor repeats one marked done."""

    def complete_torrent(self, torrent_id: int, from_states: Iterable[TorrentState],
                         now: float, deliveries: Sequence[HookDelivery],
                         **fields: Any) -> bool:
        """transition() to COMPLETED; if it happened, queue `deliveries` (their ids are
        ignored) in the same transaction."""
        ...

    def claim_hook_deliveries(self, owner: str, now: float, until: float,
                              limit: int) -> list[HookDelivery]:
        """Claim for `owner` until `until` up to `limit` deliveries that are due (pending
        with next_at <= now, or claimed by anyone until before now), oldest first, counting
        one attempt for each."""
        ...

    def hook_claim_owners(self) -> set[str]:
        """Who holds claims on deliveries being sent."""
        ...

    def release_hook_claims(self, owner: str, now: float) -> int:
        """Make `owner`'s claims due again at once (it died, or is stopping)."""
        ...

    def hook_delivered(self, delivery_id: int, now: float) -> None:
        """Mark a delivery done (whoever claimed it last): it is never sent again."""
        ...

    def hook_retry(self, delivery_id: int, owner: str, next_at: float, error: str) -> None:
        """Put `owner`'s claimed delivery back, due at next_at."""
        ...

    def hook_given_up(self, delivery_id: int, owner: str, now: float, state: DeliveryState,
                      error: str) -> None:
        """Finish `owner`'s claimed delivery as FAILED or DROPPED."""
        ...

    def next_hook_due(self) -> float | None:
        """When the next delivery falls due (a claim ends), or None with none open."""
        ...

    def hook_deliveries(self, info_hash: str | None = None) -> list[HookDelivery]:
        """Every delivery (of one torrent's hash), oldest first."""
        ...

    def prune_hook_deliveries(self, finished_before: float) -> int:
        """Forget finished deliveries older than that."""
        ...


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

    def session_username(self, sid_hash: str) -> str | None: ...

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


class BlockStore(Protocol):
    """Info-hashes flagged in the registry: refused by every add (add_torrents skips them)."""

    def block_hash(self, info_hash: str, now: float) -> bool: ...

    def unblock_hash(self, info_hash: str) -> bool: ...

    def blocked_among(self, hashes: Iterable[str]) -> set[str]: ...


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One entry of the registry (/t): a live torrent's hash, a flagged hash, or both."""

    hash: str
    torrent: Torrent | None      # the live torrent (no files), None for a flagged-only hash
    flagged: bool


class RegistryStore(Protocol):
    """The registry's listing: live torrents and flagged hashes, in one info-hash order."""

    def registry_page(self, offset: int, limit: int) -> tuple[list[RegistryRow], int]:
        """Entries `offset` to `offset + limit` in info-hash order, and how many there are
        (read in one snapshot, so the page and the total agree)."""
        ...


# What each user of the store needs, together.
class AuthStore(SessionStore, MetaStore, Protocol):
    """Logins, sessions and bans, and the generated credentials."""


class SlotStore(ScheduleStore, MetaStore, Protocol):
    """The provider slots in use, and each provider's slot count learnt from it."""


class SyncStore(ImportedStore, MetaStore, Protocol):
    """Library sync: the imported torrents, and when each provider was last listed."""


class LibraryStore(TorrentStore, CategoryStore, MetaStore, LogStore, BlockStore, RegistryStore,
                   Protocol):
    """What the library's use cases read and write."""


class OutboxStore(HookStore, ScheduleStore, Protocol):
    """The hooks' outbox, and the lease that says which process delivers."""


class EngineStore(TorrentStore, ScheduleStore, ImportedStore, LinkStore, MetaStore, Protocol):
    """What the engine, its steps and library sync read and write."""


class Store(EngineStore, CategoryStore, SessionStore, LogStore, TreeStore, BudgetStore,
            BlockStore, RegistryStore, HookStore, AnnounceStore, Protocol):
    """All of it (implemented by store.SqliteStore)."""
