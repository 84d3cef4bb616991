"""Use cases the surfaces call: add, delete, pause, list torrents, manage categories."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
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
from core.layout import layout_fields
from core.library_edits import LibraryEdits
from core.models import LIVE_STATES, Category, NewTorrent, Torrent, TorrentState
from core.naming import category_is_valid, clean_relpath, display_name, folder_candidates
from core.ports import LibraryStore
from core.preferences import Preferences
from core.sources import TorrentSource

log = logging.getLogger(__name__)
S = TorrentState
VERDICT_POLL_SECONDS = 0.05
# A batch bigger than this is logged in one line: a line per torrent would cost a batch of
# thousands seconds (and the engine logs each one as it sends it).
LOGGED_ADDS = 100


@dataclass(frozen=True)
class AddOptions:
    """What a client may ask for with an add (qBittorrent's torrents/add parameters)."""

    category: str = ""
    tags: tuple[str, ...] = ()
    save_path: str = ""
    paused: bool = False
    ratio_limit: float = -2.0
    seeding_time_limit: int = -2
    inactive_seeding_time_limit: int = -2
    rename: str = ""
    force_start: bool = False
    content_layout: str = ""          # "" = the torrent_content_layout preference
    dl_limit: int = 0
    up_limit: int = 0
    seq_dl: bool = False
    first_last_piece_prio: bool = False
    auto_tmm: bool = False
    add_to_top: bool = False


class Library(LibraryEdits):
    """The torrent library as clients see it."""

    def __init__(self, store: LibraryStore, *, downloads_folder: Path, default_provider: str,
                 add_wait_seconds: float, wake: Callable[[], None],
                 clock: Callable[[], float] = time.time,
                 waits_for_slot: Callable[[Torrent], bool] = lambda _: False,
                 must_be_cached: Callable[[Torrent], bool] = lambda _: False) -> None:
        self.store = store
        self.configured_downloads_folder = downloads_folder
        self.default_provider = default_provider
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

    # -- add ----------------------------------------------------------------------------------
    def add(self, sources: Sequence[TorrentSource], options: AddOptions) -> bool:
        """Store the sources, wait (bounded) for the provider's verdict; True if any is kept.

        A torrent the provider refuses within the wait is removed again, so the client sees
        a plain failure and can try another release.
        """
        if options.category and self.store.get_category(options.category) is None:
            # qBittorrent creates a missing category on add (another add may be faster).
            with contextlib.suppress(CategoryExists):
                self.create_category(options.category, "")
        save_path = self.save_path_for(options.category, options.save_path)
        layout = options.content_layout or self.preferences.get("torrent_content_layout")
        # A rename changes the name shown, not the folder (named after the torrent).
        rename = display_name(options.rename)
        news = [self._new_torrent(source, options, rename or source.name, save_path, layout)
                for source in sources]
        added = self.store.add_torrents(news, self.clock())   # one transaction for them all
        by_hash = {source.hash: source for source in reversed(sources)}   # the first wins
        for torrent in added:
            source = by_hash[torrent.hash]
            if source.files:               # a .torrent: its folder and layout are known now
                self.store.claim_folder(torrent.id, folder_candidates(source.name,
                                                                      source.hash))
                self.store.update_torrent(torrent.id, **layout_fields(
                    layout, [f.path for f in source.files], source.multi_file))
            if len(added) <= LOGGED_ADDS:
                log.info("torrent %s (%s) added to category %r", torrent.hash, torrent.name,
                         options.category)
        if len(added) > LOGGED_ADDS:
            log.info("%d torrents added to category %r, %s (%s) first", len(added),
                     options.category, added[0].hash, added[0].name)
        if len(added) < len(sources):
            self._log_skipped(sources, {t.hash for t in added})
        if not added:
            return False
        self.wake()
        outcome = self.wait_for([t.id for t in added], self._has_verdict,
                                self.add_wait_seconds)
        refused = [t for t in outcome if t is not None and t.state is S.FAILED]
        for torrent in refused:
            log.info("torrent %s refused by the provider at add: %s", torrent.hash,
                     torrent.message)
            self.store.transition(torrent.id, [S.FAILED], S.DELETING, self.clock(),
                                  delete_files=True, delete_remote=True, next_check_at=0)
        if refused:
            self.wake()
        return len(refused) < len(added)

    @staticmethod
    def _log_skipped(sources: Sequence[TorrentSource], added: set[str]) -> None:
        seen: set[str] = set()
        skipped = []
        for source in sources:
            if source.hash in seen or source.hash not in added:
                skipped.append(source.hash)
            seen.add(source.hash)
        log.info("add of %d torrent(s) refused: already in the library (or given twice): %s",
                 len(skipped), ", ".join(skipped[:5]) + (", ..." if skipped[5:] else ""))

    def _new_torrent(self, source: TorrentSource, options: AddOptions, name: str,
                     save_path: str, layout: str) -> NewTorrent:
        return NewTorrent(
            hash=source.hash, name=name, magnet=source.magnet,
            torrent_file=source.torrent_file, trackers=source.trackers, files=source.files,
            total_size=source.total_size, category=options.category, tags=options.tags,
            save_path=save_path, paused=options.paused, ratio_limit=options.ratio_limit,
            seeding_time_limit=options.seeding_time_limit, provider=self.default_provider,
            inactive_seeding_time_limit=options.inactive_seeding_time_limit,
            force_start=options.force_start, piece_size=source.piece_size,
            origin_name=source.name, content_layout=layout,
            dl_limit=max(0, options.dl_limit), up_limit=max(0, options.up_limit),
            seq_dl=options.seq_dl, first_last_piece_prio=options.first_last_piece_prio,
            auto_tmm=options.auto_tmm, add_to_top=options.add_to_top)

    def wait_for(self, ids: Sequence[int], done: Callable[[Torrent | None], bool],
                 timeout: float) -> list[Torrent | None]:
        """Poll the store until `done` holds for every torrent or the time is up: one query
        per poll for those not done yet, and polls spaced out when a query is slow (a batch
        of thousands), so the engine deciding the verdicts keeps most of the process."""
        deadline = self.clock() + timeout
        latest: dict[int, Torrent | None] = {}
        pending = list(dict.fromkeys(ids))
        while True:
            started = time.monotonic()
            found = self.store.get_torrents(pending)
            latest.update((i, found.get(i)) for i in pending)
            pending = self._not_done(pending, latest, done, deadline)
            if not pending or self.clock() >= deadline:
                return [latest[i] for i in ids]
            time.sleep(max(VERDICT_POLL_SECONDS, 4 * (time.monotonic() - started)))

    def _not_done(self, ids: list[int], latest: dict[int, Torrent | None],
                  done: Callable[[Torrent | None], bool], deadline: float) -> list[int]:
        """The ids `done` does not hold for, asked only until the deadline (a check may read
        the store, and thousands of them would outlast any wait)."""
        remaining: list[int] = []
        for position, torrent_id in enumerate(ids):
            if self.clock() >= deadline:
                return remaining + ids[position:]
            if not done(latest[torrent_id]):
                remaining.append(torrent_id)
        return remaining

    # -- reading ------------------------------------------------------------------------------
    def torrents(self, *, category: str | None = None,
                 hashes: Iterable[str] | None = None) -> list[Torrent]:
        return self.store.list_torrents(category=category, hashes=hashes)

    def torrent(self, info_hash: str, *, with_files: bool = True) -> Torrent:
        found = self.store.get_by_hash(info_hash.lower(), with_files=with_files)
        if found is None:
            raise TorrentNotFound(info_hash)
        return found

    def _select(self, hashes: Iterable[str] | None) -> list[Torrent]:
        """None selects every torrent (qBittorrent's `all`)."""
        return self.store.list_torrents(hashes=hashes)

    # -- changes ------------------------------------------------------------------------------
    def delete(self, hashes: Iterable[str] | None, *, delete_files: bool) -> int:
        """Remove torrents; with files, also their content and the provider's torrent."""
        chosen = self._select(hashes)
        for torrent in chosen:
            self.store.transition(torrent.id, LIVE_STATES, S.DELETING, self.clock(),
                                  delete_files=delete_files, delete_remote=delete_files,
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


    def _has_verdict(self, torrent: Torrent | None) -> bool:
        """The provider has accepted the torrent and its files were selected (and, for a
        release that must be cached, found it cached), or refused it, or it will not be sent
        yet (paused, waiting in the queue for a slot, gone). Refusals known this early reach
        the client as a failed add."""
        if torrent is None or torrent.paused:
            return True
        if torrent.state is S.QUEUED and self.waits_for_slot(torrent):
            return True              # accepted into the queue, waiting for a slot
        if torrent.state is S.DOWNLOADING and self.must_be_cached(torrent):
            return False             # the cache probe decides within seconds
        return torrent.state not in (S.QUEUED, S.SUBMITTING, S.RESOLVING)


def _path(value: str | bool | None) -> Any:
    """A category path as stored: no trailing slash, no NUL (booleans and None pass)."""
    if not isinstance(value, str):
        return value
    if "\x00" in value or len(value) > 4096:
        raise InvalidInput("the path is not acceptable")
    return value.rstrip("/") if value != "/" else value
