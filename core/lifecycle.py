"""Advance one torrent one step: submit, poll, place its files, delete; at the right priority.

The steps live in core.submission (queued, submitting) and core.polling (resolving,
downloading); what they share (scheduling, failing, error handling) in core.outcomes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.errors import ProviderError
from core.finalize import Cancelled, Fail, Wait
from core.layout import remove_placed_files, sync_layout
from core.models import Torrent, TorrentState
from core.outcomes import EngineConfig, backoff
from core.polling import Polling
from core.priority import Priority, work_priority
from core.submission import Submission

log = logging.getLogger(__name__)
S = TorrentState
__all__ = ["EngineConfig", "Lifecycle", "backoff"]


class Lifecycle(Submission, Polling):
    """One step for one torrent; every state change is written before it is acted on."""

    def advance(self, torrent_id: int) -> None:
        torrent = self.store.get_torrent(torrent_id, with_files=True)
        if torrent is None:
            return
        if torrent.layout_dirty and torrent.state is not S.DELETING:
            try:
                sync_layout(self.store, torrent)
            except OSError as exc:
                self._move_failed(torrent, exc)
                return
            torrent = self.store.get_torrent(torrent_id, with_files=True) or torrent
            if torrent.state in (S.COMPLETED, S.FAILED):
                return
        if torrent.provider not in self.providers and torrent.state is not S.DELETING:
            self._retry_later(torrent, f"provider {torrent.provider!r} is not configured")
            return
        step = {
            S.QUEUED: self._submit, S.SUBMITTING: self._reconcile_submission,
            S.RESOLVING: self._poll, S.DOWNLOADING: self._poll,
            S.FINALIZING: self._finalize, S.DELETING: self._delete,
        }.get(torrent.state)
        if step is None:
            return
        try:
            with work_priority(self.priority_of(torrent)):
                step(torrent)
        except ProviderError as exc:
            self._provider_failed(torrent, exc)
        except OSError as exc:
            self._local_failed(torrent, exc)

    def stop_transfers(self) -> None:
        """Debridge is stopping: copies in progress stop where they are."""
        self.finalizer.stop()

    def waits_for_slot(self, torrent: Torrent) -> bool:
        """The torrent is queued for a provider slot (an add's verdict need not wait)."""
        return self.slots.waits(torrent)

    def refresh(self, provider: str, torrents: Sequence[Torrent]) -> None:
        """Refresh torrents waiting on `provider` with one list call (background work)."""
        try:
            with work_priority(Priority.BACKGROUND):
                self.refresh_from_list(provider, torrents)
        except ProviderError as exc:
            log.info("provider %s: listing its active torrents failed: %s", provider,
                     exc.message)
            for torrent in torrents:
                current = self.store.get_torrent(torrent.id)
                if current is not None and current.state is torrent.state:
                    self._retry_later(current, exc.message, exc.retry_after)

    def priority_of(self, torrent: Torrent) -> Priority:
        """Someone waits on adds (the add's verdict, the cache probe), on placing files (the
        Arr's import) and on deletions; following a download the provider is busy with can
        wait."""
        if torrent.state is S.RESOLVING:
            interactive = self.young(torrent)
        elif torrent.state is S.DOWNLOADING:
            interactive = self.young(torrent) and self.must_be_cached(torrent)
        else:
            interactive = True
        return Priority.INTERACTIVE if interactive else Priority.BACKGROUND

    # -- placing files ------------------------------------------------------------------------
    def _finalize(self, torrent: Torrent) -> None:
        try:
            outcome = self.finalizer.run(torrent)
        except Cancelled:
            log.info("torrent %s: transfer stopped (paused, deleted or shutting down)",
                     torrent.hash)
            return
        if isinstance(outcome, Fail):
            self.fail(torrent, outcome.reason, outcome.message)
        elif isinstance(outcome, Wait):
            self.store.update_torrent(torrent.id, next_check_at=self.clock() + outcome.seconds,
                                      attempts=torrent.attempts + 1)

    # -- deletion -----------------------------------------------------------------------------
    def _delete(self, torrent: Torrent) -> None:
        """Remove local files if asked, then the provider's torrent unless it is kept (policy,
        or another entry uses it). A kept provider torrent stays in the library."""
        if torrent.delete_files:
            remove_placed_files(torrent)
        remote_id = torrent.provider_torrent_id
        if remote_id and torrent.provider in self.providers and \
                self.store.provider_id_users(torrent.provider, remote_id) == 1 and \
                not self.store.imported_uses(torrent.provider, remote_id):
            if torrent.delete_remote and not self.config.policies.keep_on_delete(
                    torrent.provider):
                self.providers[torrent.provider].delete_torrent(remote_id)
                log.info("torrent %s: deleted provider torrent %s", torrent.hash, remote_id)
            else:
                self.store.import_from_entry(torrent, self.clock())
                log.info("torrent %s: provider torrent %s kept in the library", torrent.hash,
                         remote_id)
        for f in torrent.files:
            if f.link:
                self.store.drop_link(torrent.provider, f.link)
        self.store.delete_torrent_row(torrent.id)
        log.info("torrent %s (%s) removed", torrent.hash, torrent.name)
