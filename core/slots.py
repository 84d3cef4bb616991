"""Active-download slots: the provider's limit, downloads.max_active and qBittorrent queueing.

A torrent holds a slot from the add until the provider has finished it. Torrents beyond a
limit wait queued (qBittorrent's queuedDL) and start in queue order as slots free up. The
provider's own limit and how many slots other tools use are read from the provider now and
then (where the provider reports them: capabilities.active_slots) and kept in the store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping

from core.errors import ProviderError
from core.models import Torrent
from core.ports import DebridProvider, SlotStore

log = logging.getLogger(__name__)
SLOTS_TTL = 60.0          # re-read the provider's slots this often while torrents wait
FULL_TTL = 15.0           # after a slots-full refusal, look again sooner
QUEUED = "queued:"        # how the message of a torrent waiting for a slot begins
START_WAIT = 60.0         # a torrent ahead that has not started after this long is passed


class SlotGate:
    """Decides whether a queued torrent may be sent to its provider now."""

    def __init__(self, store: SlotStore, providers: Mapping[str, DebridProvider],
                 max_active: int, queue_limit: Callable[[], int | None],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.providers = providers
        self.max_active = max_active
        self.queue_limit = queue_limit      # qBittorrent's max_active_downloads, if queueing
        self.clock = clock

    def may_submit(self, torrent: Torrent, *, refresh: bool = True) -> tuple[bool, str]:
        """(allowed, why not). Without `refresh`, only what the store knows is used (no
        provider call)."""
        ours = self.store.active_at_provider()
        ahead = 0 if torrent.force_start else self.store.queue_ahead(torrent)
        limit = self.queue_limit()
        if limit is not None and not torrent.force_start and ours + ahead >= limit:
            return False, f"{QUEUED} {ours} of qBittorrent's {limit} active downloads in use"
        if self.max_active and ours + ahead >= self.max_active:
            return False, f"{QUEUED} {ours} of downloads.max_active {self.max_active} in use"
        at_provider = self.store.active_at_provider(torrent.provider)
        room = self.provider_room(torrent.provider, at_provider, refresh=refresh)
        if room is not None and at_provider + ahead >= room:
            return False, f"{QUEUED} the provider's {room} download slots for Debridge are taken"
        if torrent.message.startswith(QUEUED) and (ahead or self.store.starting_ahead(
                torrent, self.clock() - START_WAIT)):
            # torrents that waited for a slot start one after the other, in queue order
            return False, f"{QUEUED} waiting for the torrents ahead of it to start"
        return True, ""

    def provider_room(self, provider: str, ours: int, *, refresh: bool = True) -> int | None:
        """How many slots Debridge may use at the provider: its limit minus what other tools
        use there. None when the provider does not say."""
        known = self._read(provider)
        now = self.clock()
        stale = known is None or now - known["at"] > known.get("ttl", SLOTS_TTL)
        if stale and refresh:
            known = self._refresh(provider, ours) or known
        if known is None:
            return None
        foreign = max(0, int(known["used"] - known["ours"]))
        return max(0, int(known["limit"]) - foreign)

    def waits(self, torrent: Torrent) -> bool:
        """Whether a queued torrent is waiting for a slot (from what the store knows)."""
        return not self.may_submit(torrent, refresh=False)[0]

    def slots_full(self, provider: str) -> None:
        """The provider refused for lack of slots: believe it until the next look."""
        ours = self.store.active_at_provider(provider)
        known = self._read(provider) or {"limit": ours}
        self._write(provider, {"used": max(known["limit"], ours), "limit": known["limit"],
                               "ours": ours, "at": self.clock(), "ttl": FULL_TTL})

    def _refresh(self, provider: str, ours: int) -> dict[str, float] | None:
        client = self.providers.get(provider)
        if client is None or not client.capabilities.active_slots:
            return None
        try:
            used, limit = client.active_count()
        except ProviderError as exc:
            log.info("provider %s: cannot read its active downloads: %s", provider, exc.message)
            return None
        known = {"used": used, "limit": limit, "ours": ours, "at": self.clock()}
        self._write(provider, known)
        return known

    def _read(self, provider: str) -> dict[str, float] | None:
        raw = self.store.get_meta(f"slots:{provider}")
        return json.loads(raw) if raw else None

    def _write(self, provider: str, known: dict[str, float]) -> None:
        self.store.set_meta(f"slots:{provider}", json.dumps(known))
