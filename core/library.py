"""Use cases the surfaces call: add, delete, pause, list torrents, manage categories."""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from core.errors import (
    CategoryExists,
    CategoryNotFound,
    EmptyCategoryName,
    InvalidCategoryName,
    InvalidInput,
    TorrentNotFound,
)
from core.library_adds import AddOptions, AddResult, AddStatus, LibraryAdds
from core.library_edits import LibraryEdits
from core.library_registry import LibraryRegistry
from core.models import LIVE_STATES, Category, Torrent, TorrentFile, TorrentState
from core.naming import category_is_valid, clean_relpath
from core.ports import LibraryStore
from core.preferences import Preferences
from core.routing import Routing
from core.view import TorrentView, torrent_view

log = logging.getLogger(__name__)
__all__ = ["AddOptions", "AddResult", "AddStatus", "Library"]
S = TorrentState


class Library(LibraryAdds, LibraryEdits, LibraryRegistry):
    """The torrent library as clients see it."""

    def __init__(self, store: LibraryStore, *, downloads_folder: Path, routing: Routing,
                 add_wait_seconds: float, wake: Callable[[], None],
                 clock: Callable[[], float] = time.time,
                 waits_for_slot: Callable[[Torrent], bool] = lambda _: False,
                 must_be_cached: Callable[[Torrent], bool] = lambda _: False) -> None:
        self.store = store
        self.configured_downloads_folder = downloads_folder
        self.routing = routing
        self.add_wait_seconds = add_wait_seconds
        self.wake = wake
        self.clock = clock
        self.preferences = Preferences(store)
        self.waits_for_slot = waits_for_slot
        self.must_be_cached = must_be_cached

    # -- paths --------------------------------------------------------------------------------
    @property
    def downloads_folder(self) -> Path:
        """The default save path: a client's setPreferences save_path, else the setting."""
        chosen = self.preferences.get("save_path")
        return Path(chosen) if chosen else self.configured_downloads_folder

    def _under_downloads(self, relative: str) -> str:
        cleaned = clean_relpath(relative)
        base = self.downloads_folder
        return str(base / cleaned) if cleaned else str(base)

    def category_save_path(self, category: Category) -> str:
        """Where a category's torrents go: its savePath if absolute, else under downloads."""
        if category.save_path.startswith("/"):
            return category.save_path.rstrip("/") or "/"
        return self._under_downloads(category.save_path or category.name)

    def save_path_for(self, category: str, explicit: str = "") -> str:
        if explicit:
            if "\x00" in explicit:
                raise InvalidInput("savepath contains NUL")
            if explicit.startswith("/"):
                return explicit.rstrip("/") or "/"
            return self._under_downloads(explicit)
        if category:
            found = self.store.get_category(category)
            if found is None:
                raise CategoryNotFound(category)
            return self.category_save_path(found)
        return str(self.downloads_folder)

    # -- reading ------------------------------------------------------------------------------
    def torrents(self, *, category: str | None = None,
                 hashes: Iterable[str] | None = None) -> list[Torrent]:
        return self.store.list_torrents(category=category, hashes=hashes)

    def views(self, *, category: str | None = None,
              hashes: Iterable[str] | None = None) -> list[TorrentView]:
        """The neutral view of each torrent (REST, registry, UI), now."""
        now = self.clock()
        return [torrent_view(t, now) for t in self.torrents(category=category, hashes=hashes)]

    def torrent(self, info_hash: str, *, with_files: bool = True) -> Torrent:
        found = self.store.get_by_hash(info_hash.lower(), with_files=with_files)
        if found is None:
            raise TorrentNotFound(info_hash)
        return found

    def _select(self, hashes: Iterable[str] | None) -> list[Torrent]:
        """None selects every torrent (qBittorrent's `all`)."""
        return self.store.list_torrents(hashes=hashes)

    # -- changes ------------------------------------------------------------------------------
    def delete(self, hashes: Iterable[str] | None, *, delete_files: bool,
               delete_remote: bool | None = None) -> int:
        """Remove torrents; with files, also their content, and (unless `delete_remote` says
        otherwise) the provider's torrent."""
        chosen = self._select(hashes)
        remote = delete_files if delete_remote is None else delete_remote
        for torrent in chosen:
            self.store.transition(torrent.id, LIVE_STATES, S.DELETING, self.clock(),
                                  delete_files=delete_files, delete_remote=remote,
                                  next_check_at=0)
            log.info("torrent %s (%s) deleted by a client (files: %s)", torrent.hash,
                     torrent.name, delete_files)
        if chosen:
            self.wake()
            self.wait_for([t.id for t in chosen], lambda t: t is None, self.add_wait_seconds)
        return len(chosen)

    def set_paused(self, hashes: Iterable[str] | None, paused: bool) -> None:
        for torrent in self._select(hashes):
            if torrent.paused != paused:
                # a resumed torrent's stall clock starts again (downloads.stalled_timeout)
                resumed = {} if paused else {"last_activity": int(self.clock())}
                self.store.update_torrent(torrent.id, paused=paused, next_check_at=0,
                                          **resumed)
        if not paused:
            self.wake()

    def set_share_limits(self, hashes: Iterable[str] | None, ratio_limit: float,
                         seeding_time_limit: int, inactive_seeding_time_limit: int = -2) -> None:
        for torrent in self._select(hashes):
            self.store.update_torrent(torrent.id, ratio_limit=ratio_limit,
                                      seeding_time_limit=seeding_time_limit,
                                      inactive_seeding_time_limit=inactive_seeding_time_limit)

    def count(self) -> int:
        return self.store.count_torrents()

    def torrent_file(self, info_hash: str) -> bytes | None:
        """The .torrent a torrent was added from (None: added as a magnet)."""
        return self.store.torrent_file_of(self.torrent(info_hash, with_files=False).id)

    def revision(self) -> int:
        """The revision of the latest change a client can see (sync/maindata's rid)."""
        return self.store.revision()

    def changed_since(self, revision: int) -> list[Torrent]:
        """Torrents changed after `revision`, and every torrent still in progress (what a
        client sees of those moves with time: speed, ETA, queue rank)."""
        return self.store.torrents_changed_since(revision, or_active=True)

    def hashes(self) -> set[str]:
        return self.store.live_hashes()

    def transfer_totals(self) -> tuple[int, int]:
        """(bytes fetched so far, current speed of the active torrents)."""
        return self.store.transfer_sums()

    def log_since(self, last_known_id: int,
                  types: Iterable[int]) -> list[tuple[int, int, int, str]]:
        """Operator messages after `last_known_id`: (id, time, type, message)."""
        return self.store.log_since(last_known_id, types)

    def queue_ranks(self) -> dict[int, int]:
        """Each incomplete torrent's place in the download queue, from 1 (qBittorrent
        numbers only the torrents in the queue)."""
        return {torrent_id: rank for rank, torrent_id in
                enumerate(self.store.download_queue(), start=1)}

    # -- looking again (cross-seed's webhook) -------------------------------------------------
    def check_now(self, torrent: Torrent) -> bool:
        """Look at a torrent again at once. One still at the provider is polled now (the
        engine's next step for it is due and woken). A completed one goes back to placing
        its files: each placed file is opened and its first byte read (for symlinks that
        read goes through the mount to the provider's link), and one that is gone or
        unreadable is placed again from a freshly resolved link. Paused, failed ones and an
        add whose outcome is still unknown (its reconciliation waits for the provider's
        listing) are left alone. True when something was scheduled."""
        if torrent.paused or torrent.state in (S.FAILED, S.SUBMITTING, S.DELETING):
            return False
        now = self.clock()
        if torrent.state is S.COMPLETED:
            scheduled = self.store.transition(torrent.id, [S.COMPLETED], S.FINALIZING, now,
                                              next_check_at=0)
        else:
            self.store.update_torrent(torrent.id, next_check_at=0)
            scheduled = True
        if scheduled:
            log.info("torrent %s (%s) is checked again now (asked by a client)", torrent.hash,
                     torrent.name)
            self.wake()
        return scheduled

    def torrent_at_path(self, path: str) -> Torrent:
        """The torrent whose content is at `path` or holds it (a file or folder under its
        content_path); the most specific when several do, the newest on a tie."""
        wanted = posixpath.normpath(path.strip()) if path.strip() else ""
        if not wanted.startswith("/") or "\x00" in wanted or len(wanted) > 4096:
            raise InvalidInput("'path' must be an absolute path")
        wanted = "/" + wanted.lstrip("/")      # normpath keeps a leading '//'
        best: tuple[int, int, Torrent] | None = None
        for torrent in self.store.list_torrents():
            root = torrent.content_path.rstrip("/") or ("/" if torrent.content_path else "")
            if not root or not _holds(root, wanted, torrent, self.store.files_of):
                continue
            rank = (len(root), torrent.id, torrent)
            if best is None or rank[:2] > best[:2]:
                best = rank
        if best is None:
            raise TorrentNotFound(path)
        return best[2]

    # -- block list ---------------------------------------------------------------------------
    def block(self, info_hash: str) -> bool:
        """Flag a hash: every add refuses it from now on, and a copy in the library is
        deleted with its files and the provider's torrent. False if it was flagged already."""
        info_hash = info_hash.lower()
        new = self.store.block_hash(info_hash, self.clock())
        if new:
            log.info("torrent %s blocked (flagged in the registry)", info_hash)
        if self.store.get_by_hash(info_hash, with_files=False) is not None:
            self.delete([info_hash], delete_files=True)
        return new

    def unblock(self, info_hash: str) -> bool:
        """Unflag a hash (nothing is added). False if it was not flagged."""
        lifted = self.store.unblock_hash(info_hash.lower())
        if lifted:
            log.info("torrent %s unblocked", info_hash.lower())
        return lifted

    def blocked(self, hashes: Iterable[str]) -> set[str]:
        return self.store.blocked_among(h.lower() for h in hashes)

    # -- tags ---------------------------------------------------------------------------------
    def tags(self) -> list[str]:
        return self.store.list_tags()

    def create_tags(self, tags: Iterable[str]) -> None:
        self.store.create_tags(tags)

    def add_tags(self, hashes: Iterable[str] | None, tags: Sequence[str]) -> None:
        self.store.create_tags(tags)
        for torrent in self._select(hashes):
            self.store.set_tags(torrent.id, sorted({*torrent.tags, *tags}))

    def set_tags(self, hashes: Iterable[str] | None, tags: Sequence[str]) -> None:
        """Replace torrents' tags (qBittorrent 5.1's setTags)."""
        self.store.create_tags(tags)
        for torrent in self._select(hashes):
            self.store.set_tags(torrent.id, sorted(set(tags)))

    def delete_tags(self, tags: Iterable[str]) -> None:
        self.store.delete_tags(tags)

    def remove_tags(self, hashes: Iterable[str] | None, tags: Sequence[str]) -> None:
        """Remove some tags from torrents; no tags given removes all of them."""
        for torrent in self._select(hashes):
            kept = [t for t in torrent.tags if tags and t not in tags]
            self.store.set_tags(torrent.id, kept)

    # -- categories ---------------------------------------------------------------------------
    def categories(self) -> list[Category]:
        return self.store.list_categories()

    def create_category(self, name: str, save_path: str,
                        download_path: str | bool | None = None) -> None:
        if not name:
            raise EmptyCategoryName()
        if not category_is_valid(name):
            raise InvalidCategoryName(name)
        if not self.store.create_category(name, _path(save_path), _path(download_path)):
            raise CategoryExists(name)

    def edit_category(self, name: str, save_path: str,
                      download_path: str | bool | None = None) -> None:
        if not name:
            raise EmptyCategoryName()
        if not self.store.edit_category(name, _path(save_path), _path(download_path)):
            raise CategoryNotFound(name)

    def remove_categories(self, names: Iterable[str]) -> None:
        self.store.remove_categories([n for n in names if n])

    def set_category(self, hashes: Iterable[str] | None, category: str) -> None:
        """Change the category label (files stay where they are, as with manual management)."""
        if category and self.store.get_category(category) is None:
            raise CategoryNotFound(category)
        for torrent in self._select(hashes):
            self.store.update_torrent(torrent.id, category=category)


def _holds(root: str, wanted: str, torrent: Torrent,
           files_of: Callable[[int], list[TorrentFile]]) -> bool:
    """`wanted` is the torrent's content or inside it. A torrent without a root folder whose
    content_path is its save path (several files, no subfolder) holds only its own files
    there, not the folder's other torrents."""
    if wanted == root:
        return True
    if not wanted.startswith(root.rstrip("/") + "/"):
        return False
    if torrent.has_root or root != torrent.save_path.rstrip("/"):
        return True
    inner = wanted[len(root.rstrip("/")) + 1:]
    return any(f.path == inner or f.path.startswith(inner + "/") for f in files_of(torrent.id))


def _path(value: str | bool | None) -> Any:
    """A category path as stored: no trailing slash, no NUL (booleans and None pass)."""
    if not isinstance(value, str):
        return value
    if "\x00" in value or len(value) > 4096:
        raise InvalidInput("the path is not acceptable")
    return value.rstrip("/") if value != "/" else value
