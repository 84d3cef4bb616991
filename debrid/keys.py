"""Which account resolves a download link: download_api_keys in turn, then the main key."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from core.ports import BudgetStore
from debrid.base import AuthError, DebridError, HttpClient, QuotaExceeded

log = logging.getLogger(__name__)
T = TypeVar("T")
EXHAUSTED_SECONDS = 3600.0     # try an exhausted account again after this long
REFUSED_SECONDS = 6 * 3600.0   # a download key the provider rejects (revoked, expired)


class LinkAccounts:
    """Rotates link resolution over accounts; an account out of traffic is skipped for an
    hour (kept in the store, so every process skips it), the main key is the last resort."""

    def __init__(self, main: HttpClient, extra: Sequence[HttpClient], store: BudgetStore | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.main = main
        self.extra = list(extra)
        self.store = store
        self.clock = clock

    def _key(self, client: HttpClient) -> str:
        return f"link-account-rested:{client.account}"

    def _resting(self, client: HttpClient) -> bool:
        if self.store is None:
            return False
        until = self.store.get_meta(self._key(client))
        return until is not None and float(until) > self.clock()

    def _rest(self, client: HttpClient, seconds: float, why: str) -> None:
        log.warning("provider account %s cannot resolve links (%s); using the next one for "
                    "%.0f minutes", client.account, why, seconds / 60)
        if self.store is not None:
            self.store.set_meta(self._key(client), str(self.clock() + seconds))

    def call(self, work: Callable[[HttpClient], T]) -> T:
        """`work` with the first usable account; moves on when one is out of traffic."""
        candidates = [c for c in self.extra if not self._resting(c)] + [self.main]
        last: DebridError | None = None
        for client in candidates:
            try:
                return work(client)
            except QuotaExceeded as exc:
                last = exc
                if client is not self.main:
                    self._rest(client, EXHAUSTED_SECONDS, exc.message)
            except AuthError as exc:
                if client is self.main:
                    raise
                last = exc
                self._rest(client, REFUSED_SECONDS, exc.message)
        assert last is not None
        raise last
