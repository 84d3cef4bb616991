"""What the lifecycle steps share: configuration, scheduling, failing, and error handling."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ProviderError, ProviderErrorKind
from core.finalize import Finalizer
from core.models import LIVE_STATES, FailureReason, Torrent, TorrentState
from core.policy import Policies
from core.ports import DebridProvider, EngineStore
from core.routing import Routing
from core.selection import SelectionRules
from core.slots import SlotGate

log = logging.getLogger(__name__)
S = TorrentState
K = ProviderErrorKind

FAST_POLL_SECONDS = 30.0         # poll quickly this long after an add
MAX_POLL_SECONDS = 60.0          # a torrent that has not moved for a while is polled this often
MAX_BACKOFF_SECONDS = 600.0

REFUSAL_REASONS = {
    K.BLOCKED: FailureReason.INFRINGING,
    K.INVALID: FailureReason.INVALID,
    K.AUTH: FailureReason.BAD_TOKEN,
    K.PREMIUM_REQUIRED: FailureReason.BAD_TOKEN,
    K.NOT_CACHED: FailureReason.NOT_CACHED,
    K.UNSUPPORTED: FailureReason.PROVIDER_ERROR,
    K.PROTOCOL: FailureReason.PROVIDER_ERROR,
    K.QUOTA: FailureReason.QUOTA,
    K.SLOTS_FULL: FailureReason.SLOTS,
}
TRANSIENT = frozenset({K.RATE_LIMITED, K.UNAVAILABLE, K.SLOTS_FULL, K.QUOTA})
MOVE_TRIES = 5                   # a move that fails this many times in a row is given up
SUBMIT_GRACE_SECONDS = 5.0       # wait this long before reconciling an ambiguous add


@dataclass(frozen=True)
class EngineConfig:
    """The settings the engine acts on; no defaults here, app.py builds it from the settings
    (whose schema holds them)."""

    action: str
    mount_path: Path | None
    poll_interval: float
    max_parallel_transfers: int
    symlink_timeout: float
    stalled_timeout: float          # seconds without progress at the provider; 0 = never
    copy_timeout: float             # seconds a copy may get no byte from the CDN
    selection: SelectionRules
    policies: Policies
    routing: Routing | None = None   # None: each torrent stays with its account
    submit_grace: float = SUBMIT_GRACE_SECONDS   # not a setting


def backoff(attempts: int, base: float = 1.0) -> float:
    """Exponential backoff with jitter, capped."""
    delay: float = min(MAX_BACKOFF_SECONDS, base * 2 ** min(attempts, 12))
    return delay * random.uniform(0.8, 1.2)


class Outcomes:
    """The state every step needs, and the ways a step ends."""

    def __init__(self, store: EngineStore, providers: Mapping[str, DebridProvider],
                 finalizer: Finalizer, config: EngineConfig, slots: SlotGate,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.providers = providers
        self.finalizer = finalizer
        self.config = config
        self.slots = slots
        self.clock = clock

    def fail(self, torrent: Torrent, reason: FailureReason, message: str) -> None:
        changed = self.store.transition(
            torrent.id, [S.QUEUED, S.SUBMITTING, S.RESOLVING, S.DOWNLOADING, S.FINALIZING],
            S.FAILED, self.clock(), reason=reason.value, message=message, speed=0)
        if changed:
            log.info("torrent %s (%s) failed: %s", torrent.hash, torrent.name, message)

    def must_be_cached(self, torrent: Torrent) -> bool:
        """Whether only a cached copy will do (at the torrent's account)."""
        if torrent.uncached >= 0:        # the add chose (/api/add's downloadUncached)
            return torrent.uncached == 0
        return self.config.policies.must_be_cached(torrent.provider, torrent.category)

    def young(self, torrent: Torrent) -> bool:
        """Just added: a client may be waiting for the add's verdict."""
        return self.clock() - torrent.added_on < FAST_POLL_SECONDS

    def _schedule(self, torrent: Torrent, *, fast: bool = False, **fields: Any) -> None:
        """Look again after the poll interval (within a second when `fast`), later for a
        torrent whose progress has not moved for a while (a quarter of the time it has been
        still, at most a minute)."""
        now = self.clock()
        interval = self.config.poll_interval
        if fast:
            interval = min(interval, 1.0)
        else:
            still = now - float(fields.get("last_activity", torrent.last_activity))
            interval = max(interval, min(MAX_POLL_SECONDS, still / 4))
        self.store.update_torrent(torrent.id, next_check_at=now + interval, attempts=0,
                                  **fields)

    def _retry_later(self, torrent: Torrent, message: str, retry_after: float | None = None,
                     base: float = 1.0) -> None:
        delay = max(retry_after or 0.0, backoff(torrent.attempts, base))
        self.store.update_torrent(torrent.id, next_check_at=self.clock() + delay,
                                  attempts=torrent.attempts + 1, message=message)

    def _provider_failed(self, torrent: Torrent, exc: ProviderError) -> None:
        kind = exc.kind
        log.info("torrent %s: provider %s: %s (%s)", torrent.hash, torrent.provider,
                 exc.message, kind.value)
        if kind is K.SLOTS_FULL:
            self.slots.slots_full(torrent.provider)
        if torrent.state is S.DELETING:
            self._retry_later(torrent, exc.message, exc.retry_after)
        elif torrent.state in (S.QUEUED, S.SUBMITTING):
            current = self.store.get_torrent(torrent.id)
            if current is None or current.state is not S.SUBMITTING:
                return
            # A step that began in SUBMITTING was reconciling an add whose outcome is unknown:
            # whatever failed then (the listing, the add sent again), that add may still have
            # taken effect, so it is looked for again, never sent again from the queue.
            reconciling = torrent.state is S.SUBMITTING
            if exc.ambiguous or (reconciling and kind in TRANSIENT):
                self._retry_later(torrent, exc.message, max(exc.retry_after or 0.0,
                                                            self.config.submit_grace))
            elif kind in TRANSIENT:
                # back in the queue, in its place: it goes again when a slot frees up
                self.store.transition(torrent.id, [S.SUBMITTING], S.QUEUED, self.clock())
                self._retry_later(torrent, exc.message, exc.retry_after,
                                  base=5.0 if kind is K.SLOTS_FULL else 1.0)
            else:
                self.fail(torrent, REFUSAL_REASONS.get(kind, FailureReason.PROVIDER_ERROR),
                          exc.message)
        elif kind is K.NOT_FOUND and torrent.state is not S.FINALIZING:
            self.fail(torrent, FailureReason.DEAD, "the provider no longer has this torrent")
        elif kind in (K.BLOCKED, K.INVALID):
            self.fail(torrent, REFUSAL_REASONS[kind], exc.message)
        elif torrent.state is S.FINALIZING:
            self._copy_failed(torrent, exc)
        else:
            base = 60.0 if kind is K.QUOTA else 5.0 if kind is K.SLOTS_FULL else 1.0
            self._retry_later(torrent, exc.message, exc.retry_after, base=base)

    def _copy_failed(self, torrent: Torrent, exc: ProviderError) -> None:
        """A copy step that got nothing more from the provider (no link, or the CDN does not
        answer): try again with back-off, and fail once it has got no byte for
        copy_timeout, so the Arr learns of it instead of waiting on a frozen download."""
        now = self.clock()
        since = torrent.stalled_since or now
        if now - since >= self.config.copy_timeout:
            reason = FailureReason.QUOTA if exc.kind is K.QUOTA else FailureReason.LINKS
            self.fail(torrent, reason, f"no byte from the provider for "
                                       f"{self.config.copy_timeout / 60:g} minutes "
                                       f"(downloads.copy_timeout_minutes): {exc.message}")
            return
        base = 60.0 if exc.kind is K.QUOTA else 1.0
        left = self.config.copy_timeout - (now - since)
        delay = min(max(exc.retry_after or 0.0, backoff(torrent.attempts, base)), max(1.0, left))
        self.store.update_torrent(torrent.id, next_check_at=now + delay, speed=0,
                                  stalled_since=since, attempts=torrent.attempts + 1,
                                  message=exc.message)

    def _move_failed(self, torrent: Torrent, exc: OSError) -> None:
        """Moving files to a new place or name failed. Tried again a few times (a disk may
        come back); then the move is given up and the torrent fails with the reason,
        instead of staying 'moving' for ever."""
        if torrent.attempts < MOVE_TRIES:
            log.warning("torrent %s: moving its files failed: %s (%s)", torrent.hash,
                        exc.strerror or exc, exc.filename or "")
            self._retry_later(torrent, f"moving its files failed: {exc.strerror or exc}",
                              base=0.5)
            return
        message = (f"moving its files to {torrent.save_path} failed: "
                   f"{exc.strerror or exc} ({exc.filename or ''}); files not moved stay in "
                   f"{torrent.placed_root or torrent.save_path}")
        if self.store.transition(torrent.id, LIVE_STATES, S.FAILED, self.clock(),
                                 reason=FailureReason.LOCAL_IO.value, message=message,
                                 layout_dirty=False, speed=0, attempts=0):
            log.warning("torrent %s (%s) failed: %s", torrent.hash, torrent.name, message)

    def _local_failed(self, torrent: Torrent, exc: OSError) -> None:
        message = f"local file error: {exc.strerror or exc} ({exc.filename or ''})"
        log.warning("torrent %s: %s", torrent.hash, message)
        if torrent.state is S.FINALIZING and torrent.attempts >= 10:
            self.fail(torrent, FailureReason.LOCAL_IO, message)
        else:
            self._retry_later(torrent, message, base=2.0)
