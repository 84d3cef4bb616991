"""Library use cases that add torrents: store the sources, wait for the provider's verdict,
and answer for each source."""

from __future__ import annotations

import contextlib
import enum
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import CategoryExists
from core.layout import layout_fields
from core.models import NewTorrent, Torrent, TorrentState
from core.naming import display_name, folder_candidates
from core.ports import LibraryStore
from core.preferences import Preferences
from core.routing import Routing
from core.sources import TorrentSource

log = logging.getLogger("core.library")
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
    download_uncached: bool | None = None   # None: the provider's and category's policy


class AddStatus(enum.StrEnum):
    """What became of one source of an add."""

    ADDED = "added"            # stored; `torrent` is its state after the wait
    EXISTS = "exists"          # already in the library (or given twice in this add)
    BLOCKED = "blocked"        # flagged in the registry
    REFUSED = "refused"        # the provider refused it within the wait (removed again)


@dataclass(frozen=True)
class AddResult:
    """One source's answer to an add."""

    hash: str
    name: str
    status: AddStatus
    message: str = ""
    torrent: Torrent | None = None

    @property
    def kept(self) -> bool:
        """The add took this source (qBittorrent's `Ok.`)."""
        return self.status is AddStatus.ADDED


class LibraryAdds:
    """Mixed into Library: needs its store, clock, wake, preferences, paths and categories."""

    store: LibraryStore
    clock: Callable[[], float]
    wake: Callable[[], None]
    preferences: Preferences
    routing: Routing
    add_wait_seconds: float
    waits_for_slot: Callable[[Torrent], bool]
    must_be_cached: Callable[[Torrent], bool]

    def save_path_for(self, category: str, explicit: str = "") -> str:
        raise NotImplementedError

    def create_category(self, name: str, save_path: str,
                        download_path: str | bool | None = None) -> None:
        raise NotImplementedError

    def add(self, sources: Sequence[TorrentSource], options: AddOptions) -> bool:
        """Store the sources, wait (bounded) for the provider's verdict; True if any is kept.

        A torrent the provider refuses within the wait is removed again, so the client sees
        a plain failure and can try another release.
        """
        return any(result.kept for result in self.add_each(sources, options))

    def add_each(self, sources: Sequence[TorrentSource], options: AddOptions) -> list[AddResult]:
        """`add`, answering for each source (in order): added (and its state once the
        provider's verdict is in or the wait is over), already in the library, blocked, or
        refused by the provider (and removed again)."""
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
        blocked = self.store.blocked_among(s.hash for s in sources) \
            if len(added) < len(sources) else set()
        if len(added) < len(sources):
            self._log_skipped(sources, {t.hash for t in added}, blocked)
        verdicts: dict[str, Torrent | None] = {}
        if added:
            self.wake()
            outcome = self.wait_for([t.id for t in added], self._has_verdict,
                                    self.add_wait_seconds)
            verdicts = {t.hash: found for t, found in zip(added, outcome, strict=True)}
            self._remove_refused([t for t in outcome if t is not None and t.state is S.FAILED])
        return self._results(sources, verdicts, blocked)

    def _remove_refused(self, refused: Sequence[Torrent]) -> None:
        for torrent in refused:
            log.info("torrent %s refused by the provider at add: %s", torrent.hash,
                     torrent.message)
            self.store.transition(torrent.id, [S.FAILED], S.DELETING, self.clock(),
                                  delete_files=True, delete_remote=True, next_check_at=0)
        if refused:
            self.wake()

    def _results(self, sources: Sequence[TorrentSource], verdicts: dict[str, Torrent | None],
                 blocked: set[str]) -> list[AddResult]:
        results: list[AddResult] = []
        answered: set[str] = set()
        for source in sources:
            torrent = verdicts.get(source.hash)
            if source.hash in verdicts and source.hash not in answered:
                if torrent is not None and torrent.state is S.FAILED:
                    results.append(AddResult(source.hash, source.name, AddStatus.REFUSED,
                                             torrent.message or "refused by the provider"))
                else:
                    results.append(AddResult(source.hash, source.name, AddStatus.ADDED, "",
                                             torrent))
            elif source.hash in blocked:
                results.append(AddResult(source.hash, source.name, AddStatus.BLOCKED,
                                         "blocked (flagged in the registry)"))
            else:
                results.append(AddResult(source.hash, source.name, AddStatus.EXISTS,
                                         "already in the library",
                                         self.store.get_by_hash(source.hash, with_files=False)))
            answered.add(source.hash)
        return results

    @staticmethod
    def _log_skipped(sources: Sequence[TorrentSource], added: set[str],
                     blocked: set[str]) -> None:
        seen: set[str] = set()
        skipped = []
        for source in sources:
            if source.hash not in blocked and (source.hash in seen or source.hash not in added):
                skipped.append(source.hash)
            seen.add(source.hash)
        if skipped:
            log.info("add of %d torrent(s) refused: already in the library (or given twice): "
                     "%s", len(skipped), ", ".join(skipped[:5]) + (", ..." if skipped[5:] else ""))
        if blocked:
            log.info("add of %d blocked torrent(s) refused: %s", len(blocked),
                     ", ".join(sorted(blocked)[:5]) + (", ..." if len(blocked) > 5 else ""))

    def _new_torrent(self, source: TorrentSource, options: AddOptions, name: str,
                     save_path: str, layout: str) -> NewTorrent:
        return NewTorrent(
            hash=source.hash, name=name, magnet=source.magnet,
            torrent_file=source.torrent_file, trackers=source.trackers, files=source.files,
            total_size=source.total_size, category=options.category, tags=options.tags,
            save_path=save_path, paused=options.paused, ratio_limit=options.ratio_limit,
            seeding_time_limit=options.seeding_time_limit,
            provider=self.routing.first(options.category),
            inactive_seeding_time_limit=options.inactive_seeding_time_limit,
            force_start=options.force_start, piece_size=source.piece_size,
            origin_name=source.name, content_layout=layout,
            dl_limit=max(0, options.dl_limit), up_limit=max(0, options.up_limit),
            seq_dl=options.seq_dl, first_last_piece_prio=options.first_last_piece_prio,
            auto_tmm=options.auto_tmm, add_to_top=options.add_to_top,
            uncached=-1 if options.download_uncached is None else int(options.download_uncached))

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
