"""One request budget per provider account: a token bucket in the store, with priorities.

Every thread of every worker process takes a token from the same bucket before each API
call (a retry is a call), so the account never goes over its limit whoever is calling. The
bucket holds a tenth of the minute's limit as a burst and refills at the rest, so no sixty
seconds ever see more than the limit. Waiting callers are served by priority, then in the
order they came; background callers also leave one token in the bucket, so an add or a
stream waits at most about one token interval however busy polling is. A 429 empties the
bucket and blocks everyone for a while, doubling with each 429 in a row (Real-Debrid sends
no Retry-After).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from core.ports import Bucket, BudgetState, BudgetStore, Waiter
from core.priority import Priority, current_priority

log = logging.getLogger(__name__)
BURST_SHARE = 0.1            # of the per-minute limit, available at once
MAX_SLEEP = 0.5              # re-check at least this often (another process may have freed)
MIN_SLEEP = 0.001
EPSILON = 1e-6
FIRST_BLOCK = 1.0            # seconds blocked after a first 429 without Retry-After
MAX_BLOCK = 60.0
RATE_LIMIT_MEMORY = 3600.0   # how long a 429 counts in recent_rate_limits


class RequestBudget:
    """The budget of one account (`account` names its bucket in the store)."""

    def __init__(self, store: BudgetStore, account: str, per_minute: int,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, *, window: float = 60.0) -> None:
        """`per_minute` requests in any `window` seconds (a minute unless said)."""
        if per_minute < 1 or window <= 0:
            raise ValueError("a request budget needs at least one request per window")
        self.store = store
        self.account = account
        self.per_minute = per_minute
        self.window = window
        self.capacity = max(1.0, per_minute * BURST_SHARE)
        # the burst plus a window's refill never exceed the limit
        self.rate = max(per_minute - self.capacity, 1.0) / window     # tokens per second
        # background callers keep this many tokens for interactive ones
        self.reserve = 1.0 if self.capacity >= 3 else 0.0
        self.clock = clock
        self.sleep = sleep
        self._local = threading.local()

    @property
    def interval(self) -> float:
        """Seconds between two tokens when the bucket is empty."""
        return 1.0 / self.rate

    # -- taking -------------------------------------------------------------------------------
    def acquire(self, priority: Priority | None = None) -> float:
        """Wait for a token (at the calling context's priority); returns the seconds waited."""
        priority = current_priority() if priority is None else priority
        started = self.clock()
        waiter = Waiter(uuid.uuid4().hex, int(priority), started)
        while True:
            now = self.clock()
            wait = self.store.update_bucket(
                self.account, functools.partial(self._take, now=now, priority=priority),
                now=now, waiter=waiter)
            if wait <= 0:
                return self.clock() - started
            self.sleep(min(wait, MAX_SLEEP))

    def try_acquire(self) -> float:
        """Take a token now if there is one (0.0); else the seconds until there will be, and
        nothing taken. For callers that must not block (the engine queues instead)."""
        now = self.clock()
        return self.store.update_bucket(
            self.account, functools.partial(self._take, now=now, priority=Priority.INTERACTIVE),
            now=now)

    def _refill(self, bucket: Bucket | None, now: float) -> Bucket:
        if bucket is None:
            return Bucket(tokens=self.capacity, updated=now)
        elapsed = max(0.0, now - bucket.updated)
        tokens = min(self.capacity, bucket.tokens + elapsed * self.rate)
        return replace(bucket, tokens=tokens, updated=max(now, bucket.updated))

    def _take(self, bucket: Bucket | None, ahead: int, *, now: float,
              priority: Priority) -> tuple[Bucket, float]:
        current = self._refill(bucket, now)
        self._local.strikes = current.strikes
        if now < current.blocked_until:
            return current, current.blocked_until - now
        if ahead:       # callers of higher priority, or who came first, go first
            return current, min(MAX_SLEEP, ahead * self.interval)
        need = 1.0 + (self.reserve if priority is Priority.BACKGROUND else 0.0)
        if current.tokens >= need - EPSILON:     # float refill must not leave it a hair short
            return replace(current, tokens=max(0.0, current.tokens - 1.0)), 0.0
        return current, max(MIN_SLEEP, (need - current.tokens) / self.rate)

    # -- outcomes -----------------------------------------------------------------------------
    def rate_limited(self, retry_after: float | None = None) -> float:
        """The provider answered 429: block every caller. Returns the block's length."""
        now = self.clock()

        def block(bucket: Bucket | None, _: int) -> tuple[Bucket, float]:
            current = self._refill(bucket, now)
            seconds = retry_after if retry_after and retry_after > 0 else \
                min(MAX_BLOCK, FIRST_BLOCK * 2 ** min(current.strikes, 10))
            recent = tuple(m for m in current.rate_limited if m > now - RATE_LIMIT_MEMORY)
            until = max(current.blocked_until, now + seconds)
            # empty, and refilling only once the block is over: no burst right after it
            return replace(current, tokens=0.0, updated=until, strikes=current.strikes + 1,
                           blocked_until=until, rate_limited=(*recent[-49:], now)), seconds

        seconds = self.store.update_bucket(self.account, block, now=now)
        log.warning("provider account %s is rate limited: pausing its API calls for %.0f s",
                    self.account, seconds)
        return seconds

    def succeeded(self) -> None:
        """A call went through: a run of 429s is over."""
        if getattr(self._local, "strikes", 0):
            now = self.clock()
            self.store.update_bucket(
                self.account, lambda bucket, _: (replace(self._refill(bucket, now),
                                                         strikes=0), None), now=now)
            self._local.strikes = 0

    # -- reading ------------------------------------------------------------------------------
    def state(self) -> BudgetState:
        now = self.clock()
        bucket, waiting = self.store.read_bucket(self.account, now)
        current = self._refill(bucket, now)
        return BudgetState(
            account=self.account, per_minute=self.per_minute, capacity=self.capacity,
            tokens=round(current.tokens, 3),
            waiting_interactive=waiting.get(int(Priority.INTERACTIVE), 0),
            waiting_background=waiting.get(int(Priority.BACKGROUND), 0),
            blocked_for=max(0.0, current.blocked_until - now),
            recent_rate_limits=sum(1 for m in current.rate_limited
                                   if m > now - RATE_LIMIT_MEMORY))
