"""Sending a queued torrent to a provider account: which account (cached first, then in
order, falling through on slots, limits and outages), slots and create limits, reuse of the
account's torrent, and reconciling an add whose outcome is unknown."""

from __future__ import annotations

import logging
from dataclasses import replace

from core.errors import ProviderError, ProviderErrorKind
from core.models import FailureReason, Torrent, TorrentState
from core.outcomes import Outcomes
from core.ports import CacheCheck, DebridProvider, RemoteStatus, RemoteTorrent
from core.slots import QUEUED

log = logging.getLogger(__name__)
S = TorrentState
K = ProviderErrorKind
# A refusal that says nothing about the release: the next account may take it.
FALL_THROUGH = frozenset({K.SLOTS_FULL, K.RATE_LIMITED, K.UNAVAILABLE, K.QUOTA, K.AUTH,
                          K.PREMIUM_REQUIRED, K.NOT_CACHED})
RECONCILE_SLACK = 120.0      # provider clocks and queues: look this far before the add
RECONCILE_OLDER_RUN = 100    # stop listing after this many torrents older than the add
# Big pages: the recent torrents come in one request. Pages are numbered, so a torrent
# deleted between two page requests (another reconciliation removing its duplicate) shifts
# the next page and one copy could be missed, then added again.
RECONCILE_PAGE = 1000


class Submission(Outcomes):
    """The QUEUED and SUBMITTING steps."""

    def _submit(self, torrent: Torrent) -> None:
        accounts = self._accounts(torrent)
        for name in accounts:
            reusable = self.store.imported_by_hash(name, torrent.hash)
            # a failed one is no use (a fresh add may still work)
            if reusable is not None and reusable.status != RemoteStatus.FAILED.value:
                self._reuse(self._on(torrent, name), reusable.remote_id)
                return
        waits: list[tuple[float, str]] = []
        not_cached: list[str] = []
        fell: ProviderError | None = None
        answers: dict[str, bool] = {}       # one cache question per account per submit
        ordered = self._cached_first(torrent, accounts, answers)
        for index, name in enumerate(ordered):
            candidate = replace(torrent, provider=name)
            provider = self.providers[name]
            only_cached = self.must_be_cached(candidate)
            if only_cached and provider.capabilities.cache_check is CacheCheck.NATIVE and \
                    not provider.capabilities.add_only_if_cached and \
                    not self._cached_at(provider, torrent.hash, answers):
                not_cached.append(name)
                continue
            allowed, why = self.slots.may_submit(candidate)
            if not allowed:
                waits.append((1.0, why))
                continue
            wait = provider.add_wait()
            if wait > 0:
                waits.append((min(wait, 60.0), f"{QUEUED} {name} takes no more adds for "
                                              f"{wait:.0f} s (its create limit)"))
                continue
            if not self.store.transition(torrent.id, [S.QUEUED], S.SUBMITTING, self.clock(),
                                         provider=name):
                return
            last = index == len(ordered) - 1
            try:
                self._send_add(candidate, only_if_cached=only_cached and
                               provider.capabilities.add_only_if_cached)
                return
            except ProviderError as exc:
                passing = exc.kind in FALL_THROUGH and (not last or exc.kind is K.NOT_CACHED)
                if exc.ambiguous or not passing:
                    self._provider_failed(candidate, exc)
                    return
                log.info("torrent %s: account %s refused it (%s)", torrent.hash, name,
                         exc.message)
                if exc.kind is K.SLOTS_FULL:
                    self.slots.slots_full(name)
                if exc.kind is K.NOT_CACHED:
                    not_cached.append(name)
                else:
                    fell = exc
                self.store.transition(torrent.id, [S.SUBMITTING], S.QUEUED, self.clock())
        if fell is not None and not waits:
            # every account that could take it refused for now: the queue tries again later
            self._retry_later(torrent, fell.message, fell.retry_after,
                              base=5.0 if fell.kind is K.SLOTS_FULL else 1.0)
        elif not waits and not_cached:
            self.fail(torrent, FailureReason.NOT_CACHED,
                      f"not cached at {', '.join(not_cached)}, and uncached downloads are off "
                      "for this release (providers[].download_uncached, "
                      "downloads.cached_only_categories)")
            return
        if waits:
            delay, why = min(waits)
            if torrent.message != why:
                log.info("torrent %s waits (%s)", torrent.hash, why)
            self.store.update_torrent(torrent.id, next_check_at=self.clock() + delay,
                                      message=why)

    def _accounts(self, torrent: Torrent) -> tuple[str, ...]:
        routing = self.config.routing
        if routing is None:
            return (torrent.provider,)
        return tuple(n for n in routing.accounts(torrent.category) if n in self.providers) \
            or (torrent.provider,)

    def _cached_first(self, torrent: Torrent, accounts: tuple[str, ...],
                      answers: dict[str, bool]) -> list[str]:
        """The accounts that say they have the release cached first (where they can say it
        without an add), then the others in order. One account: no question asked."""
        if len(accounts) < 2:
            return list(accounts)
        cached = [n for n in accounts
                  if self.providers[n].capabilities.cache_check is CacheCheck.NATIVE
                  and self._cached_at(self.providers[n], torrent.hash, answers)]
        return cached + [n for n in accounts if n not in cached]

    def _cached_at(self, provider: DebridProvider, info_hash: str,
                   answers: dict[str, bool]) -> bool:
        if provider.name not in answers:
            try:
                answers[provider.name] = bool(provider.check_cached([info_hash]).get(info_hash))
            except ProviderError as exc:
                log.info("provider %s: cache check failed: %s", provider.name, exc.message)
                answers[provider.name] = False
        return answers[provider.name]

    def _on(self, torrent: Torrent, name: str) -> Torrent:
        """The torrent moved to account `name` (only while nothing was sent anywhere)."""
        if torrent.provider == name:
            return torrent
        self.store.update_torrent(torrent.id, provider=name)
        return replace(torrent, provider=name)

    def _reuse(self, torrent: Torrent, remote_id: str) -> None:
        """The account already holds this torrent (added elsewhere): use it, add nothing."""
        if not self.store.transition(torrent.id, [S.QUEUED], S.SUBMITTING, self.clock()):
            return
        self.store.update_torrent(torrent.id, provider_torrent_id=remote_id)
        self.store.transition(torrent.id, [S.SUBMITTING], S.RESOLVING, self.clock(),
                              next_check_at=self.clock(), attempts=0, message="")
        log.info("torrent %s (%s) is already in the %s account as %s: reusing it",
                 torrent.hash, torrent.name, torrent.provider, remote_id)

    def _send_add(self, torrent: Torrent, *, only_if_cached: bool = False) -> None:
        provider = self.providers[torrent.provider]
        blob = self.store.torrent_file_of(torrent.id)
        remote_id = provider.add_torrent_file(blob, only_if_cached=only_if_cached) if blob \
            else provider.add_magnet(torrent.magnet, only_if_cached=only_if_cached)
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
