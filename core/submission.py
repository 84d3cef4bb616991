"""Sending a queued torrent to its provider: slots, reuse of the account's torrent, and
reconciling an add whose outcome is unknown."""

from __future__ import annotations

import logging

from core.models import Torrent, TorrentState
from core.outcomes import Outcomes
from core.ports import DebridProvider, RemoteStatus, RemoteTorrent

log = logging.getLogger(__name__)
S = TorrentState
RECONCILE_SLACK = 120.0      # provider clocks and queues: look this far before the add
RECONCILE_OLDER_RUN = 100    # stop listing after this many torrents older than the add
# Big pages: the recent torrents come in one request. Pages are numbered, so a torrent
# deleted between two page requests (another reconciliation removing its duplicate) shifts
# the next page and one copy could be missed, then added again.
RECONCILE_PAGE = 1000


class Submission(Outcomes):
    """The QUEUED and SUBMITTING steps."""

    def _submit(self, torrent: Torrent) -> None:
        reusable = self.store.imported_by_hash(torrent.provider, torrent.hash)
        # a failed one is no use (a fresh add may still work)
        if reusable is not None and reusable.status != RemoteStatus.FAILED.value:
            self._reuse(torrent, reusable.remote_id)
            return
        allowed, why = self.slots.may_submit(torrent)
        if not allowed:
            if torrent.message != why:
                log.info("torrent %s waits for a slot (%s)", torrent.hash, why)
            self.store.update_torrent(torrent.id, next_check_at=self.clock() + 1.0, message=why)
            return
        if not self.store.transition(torrent.id, [S.QUEUED], S.SUBMITTING, self.clock()):
            return
        self._send_add(torrent)

    def _reuse(self, torrent: Torrent, remote_id: str) -> None:
        """The account already holds this torrent (added elsewhere): use it, add nothing."""
        if not self.store.transition(torrent.id, [S.QUEUED], S.SUBMITTING, self.clock()):
            return
        self.store.update_torrent(torrent.id, provider_torrent_id=remote_id)
        self.store.transition(torrent.id, [S.SUBMITTING], S.RESOLVING, self.clock(),
                              next_check_at=self.clock(), attempts=0, message="")
        log.info("torrent %s (%s) is already in the %s account as %s: reusing it",
                 torrent.hash, torrent.name, torrent.provider, remote_id)

    def _send_add(self, torrent: Torrent) -> None:
        provider = self.providers[torrent.provider]
        blob = self.store.torrent_file_of(torrent.id)
        remote_id = provider.add_torrent_file(blob) if blob else provider.add_magnet(
            torrent.magnet)
        # Record the id first: if the torrent was deleted meanwhile, deletion must see it.
        self.store.update_torrent(torrent.id, provider_torrent_id=remote_id)
        self.store.transition(torrent.id, [S.SUBMITTING], S.RESOLVING, self.clock(),
                              next_check_at=self.clock(), attempts=0, message="")
        log.info("torrent %s (%s) added to provider %s as %s", torrent.hash, torrent.name,
                 torrent.provider, remote_id)

    def _reconcile_submission(self, torrent: Torrent) -> None:
        """An add whose outcome is unknown (crash or timeout): adopt the provider's copy, or
        send it again. Copies from several unanswered attempts are cut down to one."""
        provider = self.providers[torrent.provider]
        copies = self._unowned_copies(provider, torrent)
        if not copies:
            self._send_add(torrent)
            return
        keep, extra = copies[-1], copies[:-1]          # the oldest; newest come first
        for duplicate in extra:
            provider.delete_torrent(duplicate.id)
            log.info("torrent %s: deleted duplicate provider torrent %s left by an unanswered "
                     "add", torrent.hash, duplicate.id)
        self.store.update_torrent(torrent.id, provider_torrent_id=keep.id)
        self.store.transition(torrent.id, [S.SUBMITTING], S.RESOLVING, self.clock(),
                              next_check_at=self.clock(), attempts=0, message="")
        log.info("torrent %s: adopted provider torrent %s after an interrupted add",
                 torrent.hash, keep.id)

    def _unowned_copies(self, provider: DebridProvider, torrent: Torrent) -> list[RemoteTorrent]:
        """Provider torrents with this hash, added since this add began, that no other entry
        uses. The list comes newest first, so the walk stops once past the add's time."""
        since = torrent.state_since - RECONCILE_SLACK
        copies: list[RemoteTorrent] = []
        older_run = 0
        for remote in provider.list_torrents(page_size=RECONCILE_PAGE):
            if remote.added is not None and remote.added < since:
                older_run += 1
                if older_run >= RECONCILE_OLDER_RUN:
                    break
                continue
            older_run = 0
            if remote.hash == torrent.hash and all(c.id != remote.id for c in copies) and \
                    self.store.provider_id_users(torrent.provider, remote.id) == 0:
                copies.append(remote)
        return copies
