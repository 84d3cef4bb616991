"""Library use cases of the UDPT-style registry (/t): page, look up, add by hash, remove."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.errors import DebridgeError, TorrentBlocked, TorrentNotFound
from core.library_adds import AddOptions, AddResult, AddStatus
from core.ports import LibraryStore, RegistryRow
from core.sources import TorrentSource, parse_magnet

MAX_PAGE = 1000     # UDPT's documented maximum (and its default)


class AddRefused(DebridgeError):
    """The provider refused a torrent added by hash (it was removed again)."""

    status = 422


class LibraryRegistry:
    """Mixed into Library: needs its store, its adds, deletes and block list."""

    store: LibraryStore

    def add_each(self, sources: Sequence[TorrentSource], options: AddOptions) -> list[AddResult]:
        raise NotImplementedError

    def delete(self, hashes: Iterable[str] | None, *, delete_files: bool) -> int:
        raise NotImplementedError

    def registry(self, offset: int, limit: int) -> tuple[list[RegistryRow], int]:
        """A page of the registry in info-hash order (at most MAX_PAGE entries), and its
        total: every live torrent and every flagged hash."""
        return self.store.registry_page(max(0, offset), max(0, min(limit, MAX_PAGE)))

    def registry_entry(self, info_hash: str) -> RegistryRow:
        """One hash's entry, its torrent with files; TorrentNotFound when the hash is
        neither in the library nor flagged."""
        info_hash = info_hash.lower()
        torrent = self.store.get_by_hash(info_hash, with_files=True)
        flagged = bool(self.store.blocked_among([info_hash]))
        if torrent is None and not flagged:
            raise TorrentNotFound(f"no torrent {info_hash} in the registry")
        return RegistryRow(info_hash, torrent, flagged)

    def add_hash(self, info_hash: str) -> AddResult:
        """Add a torrent by its hash alone (a bare magnet), idempotently: one already in the
        library is an answer too (EXISTS). TorrentBlocked when flagged; AddRefused when the
        provider refuses it within the add wait."""
        source = parse_magnet(f"magnet:?xt=urn:btih:{info_hash.lower()}")
        result = self.add_each([source], AddOptions())[0]
        if result.status is AddStatus.BLOCKED:
            raise TorrentBlocked(source.hash)
        if result.status is AddStatus.REFUSED:
            raise AddRefused(f"the provider refused {source.hash}: {result.message}")
        return result

    def remove(self, info_hash: str) -> None:
        """Remove a hash's torrent with its files and the provider's copy. A flag stays (only
        unflagging lifts it); TorrentNotFound when the hash is neither there nor flagged."""
        info_hash = info_hash.lower()
        if not self.delete([info_hash], delete_files=True) \
                and not self.store.blocked_among([info_hash]):
            raise TorrentNotFound(f"no torrent {info_hash} in the registry")
