"""Resolve provider links to direct URLs: cached in the store, one call per link at a time."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from core.ports import DebridProvider, DirectLink, LinkStore

log = logging.getLogger(__name__)


class LinkResolver:
    """Direct links by (provider, provider link), reusing unexpired ones.

    Concurrent resolutions of the same link in this process wait for the first one, so N
    readers starting together cost one provider call.
    """

    def __init__(self, store: LinkStore, providers: Mapping[str, DebridProvider],
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._providers = providers
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def _lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def resolve(self, provider: str, link: str, *, stale_url: str = "") -> DirectLink:
        """A direct link for `link`. Pass `stale_url` when that URL just failed: it is
        replaced (unless another caller already replaced it meanwhile)."""
        key = (provider, link)
        lock = self._lock_for(key)
        with lock:
            cached = self._store.get_link(provider, link, self._clock())
            if cached is not None and cached.url != stale_url:
                return cached
            direct = self._providers[provider].resolve_link(link)
            self._store.put_link(provider, link, direct)
            log.debug("resolved a link of provider %s (expires %s)", provider, direct.expires_at)
        with self._guard:
            if not lock.locked():
                self._locks.pop(key, None)
        return direct
