"""Library sync: torrents in the provider account that Debridge did not add are imported into
the library (no category, so no Arr sees them) and kept in step with the account.

A pass lists the account a page at a time (5,000 torrents per call on Real-Debrid) and writes
each page before reading the next, so memory stays one page whatever the account's size.
Then it fetches the file lists of some finished torrents it does not know yet, newest first,
at background priority: adds and streams always go first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.errors import ProviderError, ProviderErrorKind
from core.ports import DebridProvider, RemoteTorrent, SyncStore
from core.priority import Priority, work_priority

log = logging.getLogger(__name__)
WRITE_BATCH = 1000


@dataclass(frozen=True)
class SyncReport:
    """What one pass over one account did."""

    provider: str
    listed: int
    new: int
    known: int
    removed: int
    details: int
    seconds: float


class LibrarySync:
    """Imports and refreshes the account torrents of every provider."""

    def __init__(self, store: SyncStore, providers: Mapping[str, DebridProvider],
                 details_per_sync: int, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.providers = providers
        self.details_per_sync = details_per_sync
        self.clock = clock

    def run(self) -> list[SyncReport]:
        """One pass over every provider; a provider that fails is skipped until next time."""
        reports = []
        for name in self.providers:
            try:
                reports.append(self.sync(name))
            except ProviderError as exc:
                log.warning("library sync of %s stopped: %s", name, exc.message)
        return reports

    def sync(self, name: str) -> SyncReport:
        provider = self.providers[name]
        started = self.clock()
        generation = int(self.store.get_meta(f"library-sync-generation:{name}") or 0) + 1
        self.store.set_meta(f"library-sync-generation:{name}", str(generation))
        listed = new = known = 0
        page: list[RemoteTorrent] = []
        with work_priority(Priority.BACKGROUND):
            for remote in provider.list_torrents():
                page.append(remote)
                if len(page) >= WRITE_BATCH:
                    added, updated = self.store.upsert_imported(name, page, generation, started)
                    listed, new, known = listed + len(page), new + added, known + updated
                    page = []
            if page:
                added, updated = self.store.upsert_imported(name, page, generation, started)
                listed, new, known = listed + len(page), new + added, known + updated
            removed = self.store.finish_import_pass(name, generation)
            details = self._details(name, provider)
        report = SyncReport(name, listed, new, known, removed, details,
                            round(self.clock() - started, 3))
        if new or removed:
            log.info("library sync of %s: %d torrents in the account, %d new, %d removed, "
                     "%d file lists fetched", name, listed, new, removed, details)
        return report

    def _details(self, name: str, provider: DebridProvider) -> int:
        """Fetch the files of finished account torrents not known yet (one call each)."""
        fetched = 0
        for imported in self.store.imported_needing_details(name, self.details_per_sync):
            try:
                remote = provider.get_torrent(imported.remote_id)
            except ProviderError as exc:
                if exc.kind is ProviderErrorKind.NOT_FOUND:
                    self.store.delete_imported(name, imported.remote_id)
                    continue
                raise
            self.store.set_imported_files(name, imported.remote_id, remote.files)
            fetched += 1
        return fetched
