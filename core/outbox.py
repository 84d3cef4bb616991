"""Deliver completion hooks from the persisted outbox, off the engine's path, in the process
holding the background lease: what to send, when to try again, when to give up."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from core.engine import LEASE_NAME, holder_is_dead
from core.hooks import Hook, call_for, placeholders
from core.models import Torrent, TorrentFile, TorrentState
from core.ports import (
    DeliveryState,
    HookDelivery,
    HookFailed,
    HookSender,
    HookSkipped,
    OutboxStore,
)

log = logging.getLogger(__name__)
IDLE = 2.0              # look this often when nothing is due (another process may queue)
CLAIM_MARGIN = 30.0     # a claim outlives the hook's own timeout by this much
MAX_DELAY = 3600.0      # retries are at most this far apart
RETENTION = 7 * 86400.0  # finished deliveries are kept this long (to inspect), then forgotten
PRUNE_EVERY = 3600.0
WORKERS = 4             # deliveries in flight at once: one slow peer does not hold the others


@dataclass(frozen=True)
class HookPolicy:
    """hooks.timeout_seconds, hooks.max_attempts and hooks.retry_seconds."""

    timeout: float = 10.0
    max_attempts: int = 5
    retry_seconds: float = 30.0

    def delay(self, attempts: int) -> float:
        """How long after failed attempt number `attempts` the next one comes (doubling)."""
        return float(min(MAX_DELAY, self.retry_seconds * 2 ** max(0, attempts - 1)))


class HookOutbox:
    """Queues one delivery per configured hook when a torrent first completes (in the same
    transaction), and delivers them on its own threads.

    A delivery is claimed (with an attempt counted) before it is sent and marked done right
    after the peer accepts it; a claim of a process that died is taken back at once, so a
    kill between completion and delivery delays the call, never loses it. Only a kill after
    the peer accepted and before `done` is written (one HTTP answer and one SQLite commit)
    sends it again: at least once, towards the peer.
    """

    def __init__(self, store: OutboxStore, sender: HookSender, hooks: Sequence[Hook],
                 policy: HookPolicy, *, owner: str,
                 owner_is_dead: Callable[[str], bool] = holder_is_dead,
                 clock: Callable[[], float] = time.time, workers: int = WORKERS) -> None:
        self.store = store
        self.sender = sender
        self.hooks = tuple(hooks)
        self.policy = policy
        self.owner = owner
        self.owner_is_dead = owner_is_dead
        self.clock = clock
        self._by_key = {hook.key: hook for hook in self.hooks}
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hook")
        self._inflight: set[int] = set()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._leading = False        # held the lease at the last look
        self._pruned_at = 0.0

    # -- recording (on the engine's path: one more insert in the completion's transaction) ---
    def complete(self, torrent: Torrent, files: Sequence[TorrentFile], now: float,
                 **fields: Any) -> bool:
        """Move a finalizing torrent to COMPLETED, queueing its hook deliveries with it. Only
        the first completion counts (a recheck that places files again fires nothing), as
        qBittorrent runs its program once when a torrent finishes."""
        deliveries: list[HookDelivery] = []
        configured = [hook for hook in self.hooks if hook.type != "arr"]  # the store queues those
        if torrent.completion_on == 0 and configured:
            context = placeholders(torrent, files)
            deliveries = [HookDelivery(0, torrent.id, torrent.hash, hook.key, context)
                          for hook in configured]
        done = self.store.complete_torrent(torrent.id, [TorrentState.FINALIZING], now,
                                           deliveries, **fields)
        if done and deliveries:
            self._wake.set()
        return done

    # -- the delivery loop ----------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hook-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming and give deliveries in flight `timeout` seconds to finish. If they
        all did, what is still claimed was never started: it is handed back. One still in
        flight keeps its claim (a restart takes it back as a dead process's): handing it
        back now could have it sent twice."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        while not self.idle() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.idle():
            self.store.release_hook_claims(self.owner, self.clock())

    def wake(self) -> None:
        self._wake.set()

    def idle(self) -> bool:
        """No delivery is being sent by this process."""
        with self._guard:
            return not self._inflight

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.run_once()
            except Exception:
                log.exception("completion hooks: delivery loop error")
                delay = IDLE
            self._wake.wait(delay)
            self._wake.clear()

    def run_once(self) -> float:
        """Claim and start what is due, if this process holds the lease; returns how long the
        loop may sleep."""
        now = self.clock()
        if self.store.lease_holder(LEASE_NAME, now) != self.owner:
            self._leading = False
            return IDLE
        if not self._leading:
            self._leading = True
            self._take_back_dead_claims(now)
        if now - self._pruned_at > PRUNE_EVERY:
            self._pruned_at = now
            self.store.prune_hook_deliveries(now - RETENTION)
        with self._guard:
            free = self._workers - len(self._inflight)
        if free > 0 and not self._stop.is_set():
            until = now + self.policy.timeout + CLAIM_MARGIN
            for delivery in self.store.claim_hook_deliveries(self.owner, now, until, free):
                with self._guard:
                    if delivery.id in self._inflight:   # a peer slower than its claim
                        continue
                    self._inflight.add(delivery.id)
                try:
                    future = self._pool.submit(self._attempt, delivery)
                except RuntimeError:      # stopping: stop() hands the claim back
                    self._settled(delivery.id)
                    continue
                # also when cancelled unstarted by stop()
                future.add_done_callback(functools.partial(self._settled, delivery.id))
        with self._guard:
            full = len(self._inflight) >= self._workers
        if full:
            return IDLE                # every worker busy: the next to finish wakes the loop
        due = self.store.next_hook_due()
        if due is None:
            return IDLE
        return max(0.05, min(IDLE, due - self.clock()))

    def _take_back_dead_claims(self, now: float) -> None:
        """Deliveries a killed process was sending are due again now (not when its claim
        would have run out)."""
        for owner in self.store.hook_claim_owners():
            if owner != self.owner and self.owner_is_dead(owner):
                count = self.store.release_hook_claims(owner, now)
                log.info("completion hooks: %d delivery(ies) cut off when %s stopped are "
                         "sent again", count, owner)

    def _attempt(self, delivery: HookDelivery) -> None:
        try:
            self.deliver(delivery)
        except Exception:
            log.exception("completion hooks: delivery %d failed unexpectedly", delivery.id)

    def _settled(self, delivery_id: int, _: object = None) -> None:
        with self._guard:
            self._inflight.discard(delivery_id)
        self._wake.set()

    def deliver(self, delivery: HookDelivery) -> None:
        """One attempt at a claimed delivery, and its outcome recorded."""
        hook = self._by_key.get(delivery.hook)
        now = self.clock()
        if hook is None:
            log.info("torrent %s: a completion hook is no longer configured; its delivery "
                     "is dropped", delivery.hash)
            self.store.hook_given_up(delivery.id, self.owner, now, DeliveryState.DROPPED,
                                     "the hook is no longer configured")
            return
        if delivery.attempts > self.policy.max_attempts:
            # its last attempts were cut off (the process died while sending)
            self._give_up(delivery, hook, now, "cut off while sending")
            return
        try:
            self.sender.send(call_for(hook, delivery.context), self.policy.timeout)
        except HookSkipped as exc:
            self.store.hook_given_up(delivery.id, self.owner, self.clock(),
                                     DeliveryState.DROPPED, str(exc))
            log.info("torrent %s: %s not needed: %s", delivery.hash, hook.label, exc)
            return
        except HookFailed as exc:
            self._failed(delivery, hook, str(exc))
            return
        except Exception as exc:
            log.exception("torrent %s: %s raised", delivery.hash, hook.label)
            self._failed(delivery, hook, f"unexpected error ({type(exc).__name__})")
            return
        self.store.hook_delivered(delivery.id, self.clock())
        log.info("torrent %s: %s delivered", delivery.hash, hook.label)

    def _failed(self, delivery: HookDelivery, hook: Hook, why: str) -> None:
        now = self.clock()
        if delivery.attempts >= self.policy.max_attempts:
            self._give_up(delivery, hook, now, why)
            return
        wait = self.policy.delay(delivery.attempts)
        self.store.hook_retry(delivery.id, self.owner, now + wait, why)
        log.info("torrent %s: %s failed (%s), attempt %d of %d; trying again in %gs",
                 delivery.hash, hook.label, why, delivery.attempts, self.policy.max_attempts,
                 wait)

    def _give_up(self, delivery: HookDelivery, hook: Hook, now: float, why: str) -> None:
        self.store.hook_given_up(delivery.id, self.owner, now, DeliveryState.FAILED, why)
        log.warning("torrent %s: %s failed (%s); gave up after %d attempt(s)", delivery.hash,
                    hook.label, why, min(delivery.attempts, self.policy.max_attempts))
