"""Domain records: torrents, their files, categories, and the lifecycle states."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class TorrentState(enum.StrEnum):
    """Where a torrent is in Debridge's lifecycle (persisted; see design.md)."""

    QUEUED = "queued"            # accepted, not yet handed to the provider
    SUBMITTING = "submitting"    # add call sent; outcome unknown until recorded
    RESOLVING = "resolving"      # provider fetching metadata / waiting for file selection
    DOWNLOADING = "downloading"  # provider is fetching (uncached)
    FINALIZING = "finalizing"    # provider done; links resolving, files being placed
    COMPLETED = "completed"      # files present under content_path and readable
    FAILED = "failed"            # refused or lost by the provider; reason kept
    DELETING = "deleting"        # removal in progress; invisible to clients


SPEED_FRESH = 5.0      # seconds a copy's measured speed stays true without a new measure

# States of a torrent clients see (DELETING is on its way out).
LIVE_STATES = (TorrentState.QUEUED, TorrentState.SUBMITTING, TorrentState.RESOLVING,
               TorrentState.DOWNLOADING, TorrentState.FINALIZING, TorrentState.COMPLETED,
               TorrentState.FAILED)

# States the engine still has work to do in.
ACTIVE_STATES = frozenset({
    TorrentState.QUEUED, TorrentState.SUBMITTING, TorrentState.RESOLVING,
    TorrentState.DOWNLOADING, TorrentState.FINALIZING, TorrentState.DELETING,
})


class Health(enum.StrEnum):
    """What repair's scanner last found of a torrent or a file."""

    HEALTHY = "healthy"
    BROKEN = "broken"        # the reason is kept beside it
    REPAIRING = "repairing"
    UNKNOWN = "unknown"      # never checked


class FailureReason(enum.StrEnum):
    """Why a torrent failed; the text shown to users is kept beside it."""

    INFRINGING = "infringing"
    INVALID = "invalid"
    MAGNET_ERROR = "magnet_error"
    DEAD = "dead"
    NOTHING_SELECTABLE = "nothing_selectable"
    PROVIDER_ERROR = "provider_error"
    NOT_CACHED = "not_cached"
    SLOTS = "slots"
    QUOTA = "quota"
    BAD_TOKEN = "bad_token"  # noqa: S105 (a reason code, not a secret)
    LINKS = "links"
    LOCAL_IO = "local_io"
    MOUNT_TIMEOUT = "mount_timeout"
    STALLED = "stalled"      # no metadata, or no progress, at the provider for too long
    ARCHIVE = "archive"      # not a failure: completed, its content is the provider's archive


@dataclass(slots=True)
class TorrentFile:
    """A file of a torrent; `index` is qBittorrent's 0-based index, `path` is root-relative."""

    index: int
    path: str
    size: int
    selected: bool = False
    provider_file_id: str = ""
    link: str = ""
    done: bool = False
    placed: str = ""          # where its bytes are, under the torrent's placed_root ("": none)
    remote_path: str = ""     # the provider's path (the mount's layout); "" = same as path
    priority: int = -1        # a client's file priority (qBittorrent's 0/1/6/7); -1 = auto
    health: str = "unknown"   # a Health value
    health_reason: str = ""

    @property
    def source_path(self) -> str:
        return self.remote_path or self.path


@dataclass(slots=True)
class Torrent:
    """A torrent as Debridge keeps it. A value: never changed in place (use
    dataclasses.replace); not frozen only because frozen construction is 15 times slower and
    listings build thousands of these."""

    id: int
    hash: str
    name: str
    state: TorrentState
    category: str = ""
    save_path: str = ""
    folder: str = ""             # fixed content folder name ("" until metadata is known)
    magnet: str = ""
    has_torrent_file: bool = False
    trackers: tuple[str, ...] = ()
    provider: str = ""
    provider_torrent_id: str = ""
    paused: bool = False
    progress: float = 0.0
    size: int = 0                # bytes of the selected files (0 until known)
    total_size: int = -1         # bytes of all files (-1 until metadata is known)
    speed: int = 0
    seeders: int = 0
    reason: str = ""             # FailureReason value when failed
    message: str = ""            # human-readable failure reason / last provider message
    ratio_limit: float = -2.0
    seeding_time_limit: int = -2
    added_on: int = 0
    completion_on: int = 0
    last_activity: int = 0
    state_since: float = 0.0
    next_check_at: float = 0.0
    attempts: int = 0
    delete_files: bool = False
    delete_remote: bool = False
    queue_position: int = 0
    force_start: bool = False
    seq_dl: bool = False
    first_last_piece_prio: bool = False
    super_seeding: bool = False
    auto_tmm: bool = False
    dl_limit: int = 0
    up_limit: int = 0
    inactive_seeding_time_limit: int = -2
    content_folder: str = ""     # local folder name under save_path ("" = folder)
    layout_dirty: bool = False   # files on disk must be moved to match the store
    placed_root: str = ""        # the folder every placed file is under
    piece_size: int = 0          # from an uploaded .torrent; 0 = unknown
    origin_name: str = ""        # the torrent's own name (its folder's name), not a rename
    content_layout: str = "Subfolder"   # qBittorrent's Original / Subfolder / NoSubfolder
    has_root: bool = True        # files sit in a root folder under save_path
    stalled_since: float = 0.0   # since when a copy got no byte from the CDN (0: it flows)
    uncached: int = -1           # uncached downloads: -1 = by policy, 0 = refused, 1 = allowed
    health: str = "unknown"      # a Health value (repair's scanner)
    health_reason: str = ""      # why it is broken
    health_checked: float = 0.0  # when the scanner last looked
    streamed_at: float = 0.0     # when a file of it was last streamed (repair skips it)
    rev: int = 0
    tags: tuple[str, ...] = ()                           # (the store fills these two last)
    files: tuple[TorrentFile, ...] = field(default=())

    @property
    def local_folder(self) -> str:
        """The folder the files sit in, under save_path ("" = save_path itself)."""
        return (self.content_folder or self.folder) if self.has_root else ""

    @property
    def content_path(self) -> str:
        """qBittorrent's content_path: the root folder; without one, the single file or
        save_path itself. Empty while the files are not known (no metadata)."""
        if self.has_root:
            return f"{self.save_path}/{self.local_folder}" if self.local_folder else ""
        if not self.has_metadata:
            return ""
        # without a root folder, content_folder holds a single file's path (or is empty)
        return f"{self.save_path}/{self.content_folder}" if self.content_folder \
            else self.save_path

    @property
    def has_metadata(self) -> bool:
        return self.total_size >= 0

    def speed_at(self, now: float) -> int:
        """Bytes per second now. A copy writes its speed every second while bytes arrive, so
        one that has written nothing for a few seconds is not moving (a stalled CDN read
        cannot say so itself)."""
        if self.state is TorrentState.FINALIZING and now - self.last_activity > SPEED_FRESH:
            return 0
        return self.speed


@dataclass(frozen=True)
class ImportedTorrent:
    """A torrent of the provider account that Debridge did not add (library sync)."""

    provider: str
    remote_id: str
    hash: str
    name: str
    size: int
    status: str               # the provider's own status word
    progress: float           # 0..1
    added: float
    ended: float | None
    links: int
    files_known: bool


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """A torrent as the browse tree lists it: a client's entry (torrent_id > 0) or an
    imported account torrent (remote_id)."""

    base: str                 # its folder name before the tree makes names unique
    hash: str
    provider: str
    size: int
    modified: float
    torrent_id: int = 0
    remote_id: str = ""
    reserved: bool = False    # imported, and a client entry holds the same folder name


@dataclass(frozen=True, slots=True)
class TreeFile:
    """A file the tree serves: its path at the provider, size and provider link."""

    path: str
    size: int
    link: str
    file_id: str


@dataclass(frozen=True)
class Group:
    """A folder at the tree's root: `__all__`, `__bad__`, or one category's."""

    name: str
    category: str | None = None      # None for __all__ and __bad__


@dataclass(frozen=True)
class TorrentNode:
    """A torrent's folder in a group, under the name the tree gives it."""

    name: str
    entry: TreeEntry


@dataclass(frozen=True)
class FileNode:
    """A file of the tree, in its torrent."""

    name: str
    file: TreeFile
    torrent: TreeEntry


@dataclass
class FolderNode:
    """A folder inside a torrent (or the torrent's own folder, path '')."""

    name: str
    torrent: TreeEntry
    children: dict[str, FolderNode | FileNode] = field(default_factory=dict)


@dataclass(frozen=True)
class Category:
    """A qBittorrent category; an empty save_path means <downloads.folder>/<name>.
    download_path is stored and echoed (None: never set; False: turned off)."""

    name: str
    save_path: str = ""
    download_path: str | bool | None = None


@dataclass(frozen=True)
class NewTorrent:
    """What the add use case stores for one accepted source."""

    hash: str
    name: str
    magnet: str
    torrent_file: bytes | None
    trackers: tuple[str, ...]
    files: tuple[TorrentFile, ...]
    total_size: int
    category: str
    tags: tuple[str, ...]
    save_path: str
    paused: bool
    ratio_limit: float
    seeding_time_limit: int
    provider: str
    inactive_seeding_time_limit: int = -2
    force_start: bool = False
    piece_size: int = 0
    origin_name: str = ""
    content_layout: str = "Subfolder"
    dl_limit: int = 0
    up_limit: int = 0
    seq_dl: bool = False
    first_last_piece_prio: bool = False
    auto_tmm: bool = False
    add_to_top: bool = False
    uncached: int = -1           # see Torrent.uncached
