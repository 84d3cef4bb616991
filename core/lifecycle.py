"""Advance one torrent one step: submit, reconcile, poll, select files, fail, delete."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import DuplicateTorrent, ProviderError, ProviderErrorKind
from core.finalize import Cancelled, Fail, Finalizer, Wait
from core.layout import layout_fields, remove_placed_files, sync_layout
from core.models import FailureReason, Torrent, TorrentFile, TorrentState
from core.naming import clean_relpath, folder_candidates
from core.ports import DebridProvider, RemoteStatus, RemoteTorrent, Store
from core.selection import Candidate, Selection, SelectionRules, select_files

log = logging.getLogger(__name__)
S = TorrentState

# Share of the reported progress that belongs to the provider; the rest is the local step.
PROVIDER_SHARE = 0.9
FAST_POLL_SECONDS = 30.0         # poll quickly this long after an add
MAX_BACKOFF_SECONDS = 600.0

_FAILED_STATUS_REASONS = {
    "magnet_error": (FailureReason.MAGNET_ERROR,
                     "the provider could not fetch the magnet's metadata"),
    "dead": (FailureReason.DEAD, "the provider reports the torrent dead (no seeders, or its "
                                 "content was removed)"),
    "virus": (FailureReason.INVALID, "the provider flagged the content as a virus"),
}
_REFUSAL_REASONS = {
    ProviderErrorKind.BLOCKED: FailureReason.INFRINGING,
    ProviderErrorKind.INVALID: FailureReason.INVALID,
    ProviderErrorKind.AUTH: FailureReason.BAD_TOKEN,
    ProviderErrorKind.PREMIUM_REQUIRED: FailureReason.BAD_TOKEN,
    ProviderErrorKind.NOT_CACHED: FailureReason.NOT_CACHED,
    ProviderErrorKind.UNSUPPORTED: FailureReason.PROVIDER_ERROR,
    ProviderErrorKind.PROTOCOL: FailureReason.PROVIDER_ERROR,
}
_TRANSIENT = frozenset({ProviderErrorKind.RATE_LIMITED, ProviderErrorKind.UNAVAILABLE,
                        ProviderErrorKind.SLOTS_FULL, ProviderErrorKind.QUOTA})


@dataclass(frozen=True)
class EngineConfig:
    """The settings the engine acts on."""

    action: str = "download"
    mount_path: Path | None = None
    poll_interval: float = 5.0
    max_parallel_transfers: int = 4
    symlink_timeout: float = 1800.0
    submit_grace: float = 5.0       # wait this long before reconciling an ambiguous add
    selection: SelectionRules = field(default_factory=SelectionRules)


def backoff(attempts: int, base: float = 1.0) -> float:
    """Exponential backoff with jitter, capped."""
    return min(MAX_BACKOFF_SECONDS, base * 2 ** min(attempts, 12)) * random.uniform(0.8, 1.2)


class Lifecycle:
    """One step for one torrent; every state change is written before it is acted on."""

    def __init__(self, store: Store, providers: Mapping[str, DebridProvider],
                 finalizer: Finalizer, config: EngineConfig,
                 clock: Callable[[], float] = time.time,
                 active_limit: Callable[[], int | None] = lambda: None) -> None:
        self.store = store
        self.providers = providers
        self.finalizer = finalizer
        self.config = config
        self.clock = clock
        self.active_limit = active_limit   # qBittorrent's queueing: torrents at the provider

    def advance(self, torrent_id: int) -> None:
        torrent = self.store.get_torrent(torrent_id, with_files=True)
        if torrent is None:
            return
        if torrent.layout_dirty and torrent.state is not S.DELETING:
            try:
                sync_layout(self.store, torrent)
            except OSError as exc:
                self._local_failed(torrent, exc)
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
            step(torrent)
        except ProviderError as exc:
            self._provider_failed(torrent, exc)
        except OSError as exc:
            self._local_failed(torrent, exc)

    # -- submission ---------------------------------------------------------------------------
    def _submit(self, torrent: Torrent) -> None:
        limit = self.active_limit()
        if limit is not None and not torrent.force_start and \
                self.store.active_at_provider() + self.store.queue_ahead(torrent) >= limit:
            # Queueing is on and the active slots are taken: wait for one, in queue order.
            self.store.update_torrent(torrent.id, next_check_at=self.clock() + 1.0)
            return
        if not self.store.transition(torrent.id, [S.QUEUED], S.SUBMITTING, self.clock()):
            return
        self._send_add(torrent)

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
        send it again."""
        provider = self.providers[torrent.provider]
        mine = [rt for rt in provider.list_torrents() if rt.hash == torrent.hash
                and self.store.provider_id_users(torrent.provider, rt.id) == 0]
        if not mine:
            self._send_add(torrent)
            return
        self.store.update_torrent(torrent.id, provider_torrent_id=mine[0].id)
        self.store.transition(torrent.id, [S.SUBMITTING], S.RESOLVING, self.clock(),
                              next_check_at=self.clock(), attempts=0, message="")
        log.info("torrent %s: adopted provider torrent %s after an interrupted add",
                 torrent.hash, mine[0].id)

    # -- polling ------------------------------------------------------------------------------
    def _poll(self, torrent: Torrent) -> None:
        provider = self.providers[torrent.provider]
        remote = provider.get_torrent(torrent.provider_torrent_id)
        torrent = self._learn_metadata(torrent, remote)
        status = remote.status
        if status is RemoteStatus.FAILED:
            reason, text = _FAILED_STATUS_REASONS.get(
                remote.raw_status, (FailureReason.PROVIDER_ERROR,
                                    f"the provider reported status {remote.raw_status!r}"))
            self.fail(torrent, reason, text)
        elif status is RemoteStatus.METADATA:
            self._schedule(torrent, seeders=remote.seeders or 0)
        elif status is RemoteStatus.WAITING_SELECTION:
            self._select(torrent, provider)
        elif status is RemoteStatus.READY:
            self._ready(torrent, remote)
        else:
            self._downloading(torrent, remote)

    def _learn_metadata(self, torrent: Torrent, remote: RemoteTorrent) -> Torrent:
        """The first time the provider lists files: store them and fix the content folder. (A
        .torrent's files are known from the add; they are replaced only if they differ.)"""
        if not remote.files or (torrent.folder and len(torrent.files) == len(remote.files)):
            return torrent
        known = {f.path: f for f in torrent.files}
        paths = [clean_relpath(rf.path) for rf in remote.files]
        indexes = [known[p].index if p in known else None for p in paths]
        if None in indexes or len(set(indexes)) != len(indexes):
            indexes = list(range(len(paths)))      # no clean match: the provider's order
            known = {}
        # A client may have set priorities on a .torrent's files before the provider knew them.
        files = [TorrentFile(index=int(index), path=path, size=rf.size, selected=rf.selected,
                             provider_file_id=rf.id, link=rf.link, remote_path=path,
                             priority=known[path].priority if path in known else -1)
                 for index, path, rf in zip(indexes, paths, remote.files, strict=True)]
        self.store.set_files(torrent.id, files)
        # A magnet without a name gets the provider's; folders follow the torrent's own name.
        unnamed = torrent.origin_name in ("", torrent.hash) and remote.name
        origin = remote.name if unnamed else (torrent.origin_name or torrent.name)
        name = remote.name if unnamed and torrent.name == torrent.hash else torrent.name
        try:
            self.store.claim_folder(torrent.id, folder_candidates(origin, torrent.hash))
        except DuplicateTorrent:
            self.store.claim_folder(torrent.id, [f"{torrent.hash}"])
        # a single file named like the torrent is single-file mode; anything else a folder
        multi_file = not (len(paths) == 1 and paths[0] == clean_relpath(origin))
        layout = {} if torrent.files else layout_fields(torrent.content_layout, paths,
                                                         multi_file)
        self.store.update_torrent(torrent.id, name=name, origin_name=origin,
                                  total_size=sum(f.size for f in files), **layout)
        refreshed = self.store.get_torrent(torrent.id, with_files=True)
        assert refreshed is not None
        return refreshed

    def _select(self, torrent: Torrent, provider: DebridProvider) -> None:
        wanted = [f.provider_file_id for f in torrent.files if f.priority > 0]
        skipped = {f.provider_file_id for f in torrent.files if f.priority == 0}
        choice = select_files([Candidate(f.provider_file_id, f.path, f.size)
                               for f in torrent.files if f.provider_file_id not in skipped],
                              self.config.selection)
        if wanted:     # files a client asked for, beside those Debridge's rules pick
            choice = Selection(tuple(dict.fromkeys([*choice.ids, *wanted])))
        if not choice.ids:
            self.fail(torrent, FailureReason.NOTHING_SELECTABLE, choice.reason)
            return
        chosen = set(choice.ids)
        for f in torrent.files:
            self.store.update_file(torrent.id, f.index, selected=f.provider_file_id in chosen)
        size = sum(f.size for f in torrent.files if f.provider_file_id in chosen)
        self.store.update_torrent(torrent.id, size=size)
        provider.select_files(torrent.provider_torrent_id, choice.ids)
        log.info("torrent %s: selected %d of %d files", torrent.hash, len(chosen),
                 len(torrent.files))
        self.store.transition(torrent.id, [S.RESOLVING, S.DOWNLOADING], S.DOWNLOADING,
                              self.clock(), next_check_at=self.clock() + 0.2, attempts=0)

    def _adopt_remote_files(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        """Take the provider's selection and links (it is the truth once it has them)."""
        by_id = {rf.id: rf for rf in remote.files}
        for f in torrent.files:
            rf = by_id.get(f.provider_file_id)
            if rf is not None and (rf.selected != f.selected or rf.link != f.link):
                self.store.update_file(torrent.id, f.index, selected=rf.selected, link=rf.link)
        selected = sum(rf.size for rf in remote.files if rf.selected)
        if selected:
            self.store.update_torrent(torrent.id, size=selected)

    def _downloading(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        if remote.files:
            self._adopt_remote_files(torrent, remote)
        now = self.clock()
        if torrent.state is S.RESOLVING:
            self.store.transition(torrent.id, [S.RESOLVING], S.DOWNLOADING, now)
        self._schedule(torrent, progress=PROVIDER_SHARE * remote.progress, speed=remote.speed,
                       seeders=remote.seeders or 0, last_activity=int(now))

    def _ready(self, torrent: Torrent, remote: RemoteTorrent) -> None:
        self._adopt_remote_files(torrent, remote)
        selected = [rf for rf in remote.files if rf.selected]
        if remote.is_archive:
            self.fail(torrent, FailureReason.LINKS,
                      f"the provider packed the {len(selected)} selected files into one "
                      "archive; Debridge does not unpack archives yet")
            return
        if not selected or any(not rf.link for rf in selected):
            waited = self.clock() - torrent.state_since
            if waited > 120:
                self.fail(torrent, FailureReason.LINKS,
                          "the provider finished but gave no link for some selected files")
            else:
                self._schedule(torrent, fast=True)
            return
        self.store.transition(torrent.id, [S.RESOLVING, S.DOWNLOADING], S.FINALIZING,
                              self.clock(), progress=PROVIDER_SHARE, speed=0,
                              next_check_at=self.clock(), attempts=0)
        log.info("torrent %s: ready at the provider, placing files (%s)", torrent.hash,
                 self.config.action)

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
        if torrent.delete_files:
            remove_placed_files(torrent)
        remote_id = torrent.provider_torrent_id
        if (remote_id and torrent.delete_remote
                and torrent.provider in self.providers
                and self.store.provider_id_users(torrent.provider, remote_id) == 1):
            self.providers[torrent.provider].delete_torrent(remote_id)
            log.info("torrent %s: deleted provider torrent %s", torrent.hash, remote_id)
        for f in torrent.files:
            if f.link:
                self.store.drop_link(torrent.provider, f.link)
        self.store.delete_torrent_row(torrent.id)
        log.info("torrent %s (%s) removed", torrent.hash, torrent.name)

    # -- outcomes -----------------------------------------------------------------------------
    def fail(self, torrent: Torrent, reason: FailureReason, message: str) -> None:
        changed = self.store.transition(
            torrent.id, [S.QUEUED, S.SUBMITTING, S.RESOLVING, S.DOWNLOADING, S.FINALIZING],
            S.FAILED, self.clock(), reason=reason.value, message=message, speed=0)
        if changed:
            log.info("torrent %s (%s) failed: %s", torrent.hash, torrent.name, message)

    def _schedule(self, torrent: Torrent, *, fast: bool = False, **fields: object) -> None:
        age = self.clock() - torrent.added_on
        interval = self.config.poll_interval
        if fast or age < FAST_POLL_SECONDS:
            interval = min(interval, 1.0)
        self.store.update_torrent(torrent.id, next_check_at=self.clock() + interval,
                                  attempts=0, **fields)

    def _retry_later(self, torrent: Torrent, message: str, retry_after: float | None = None,
                     base: float = 1.0) -> None:
        delay = max(retry_after or 0.0, backoff(torrent.attempts, base))
        self.store.update_torrent(torrent.id, next_check_at=self.clock() + delay,
                                  attempts=torrent.attempts + 1, message=message)

    def _provider_failed(self, torrent: Torrent, exc: ProviderError) -> None:
        kind = exc.kind
        log.info("torrent %s: provider %s: %s (%s)", torrent.hash, torrent.provider,
                 exc.message, kind.value)
        if torrent.state is S.DELETING:
            self._retry_later(torrent, exc.message, exc.retry_after)
        elif torrent.state in (S.QUEUED, S.SUBMITTING):
            current = self.store.get_torrent(torrent.id)
            if current is None or current.state is not S.SUBMITTING:
                return
            if exc.ambiguous:
                self._retry_later(torrent, exc.message, self.config.submit_grace)
            elif kind in _TRANSIENT:
                self.store.transition(torrent.id, [S.SUBMITTING], S.QUEUED, self.clock())
                self._retry_later(torrent, exc.message, exc.retry_after,
                                  base=5.0 if kind is ProviderErrorKind.SLOTS_FULL else 1.0)
            else:
                self.fail(torrent, _REFUSAL_REASONS.get(kind, FailureReason.PROVIDER_ERROR),
                          exc.message)
        elif kind is ProviderErrorKind.NOT_FOUND and torrent.state is not S.FINALIZING:
            self.fail(torrent, FailureReason.DEAD, "the provider no longer has this torrent")
        elif kind in (ProviderErrorKind.BLOCKED, ProviderErrorKind.INVALID):
            self.fail(torrent, _REFUSAL_REASONS[kind], exc.message)
        elif torrent.state is S.FINALIZING and torrent.attempts >= 30:
            self.fail(torrent, FailureReason.LINKS, exc.message)
        else:
            self._retry_later(torrent, exc.message, exc.retry_after)

    def _local_failed(self, torrent: Torrent, exc: OSError) -> None:
        message = f"local file error: {exc.strerror or exc} ({exc.filename or ''})"
        log.warning("torrent %s: %s", torrent.hash, message)
        if torrent.state is S.FINALIZING and torrent.attempts >= 10:
            self.fail(torrent, FailureReason.LOCAL_IO, message)
        else:
            self._retry_later(torrent, message, base=2.0)
