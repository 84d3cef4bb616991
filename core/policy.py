"""What each provider account is allowed to do: uncached downloads, keeping torrents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderPolicy:
    """providers[].download_uncached and keep_on_delete."""

    download_uncached: bool = True
    keep_on_delete: bool = False


@dataclass(frozen=True)
class Policies:
    """Per-provider policies plus the per-category uncached overrides."""

    providers: Mapping[str, ProviderPolicy] = field(default_factory=dict)
    cached_only_categories: frozenset[str] = frozenset()
    uncached_categories: frozenset[str] = frozenset()

    @classmethod
    def build(cls, providers: Mapping[str, ProviderPolicy], cached_only: Iterable[str],
              uncached: Iterable[str]) -> Policies:
        return cls(dict(providers), frozenset(cached_only), frozenset(uncached))

    def of(self, provider: str) -> ProviderPolicy:
        return self.providers.get(provider, ProviderPolicy())

    def must_be_cached(self, provider: str, category: str) -> bool:
        """An uncached release of this category at this provider is refused."""
        if category in self.cached_only_categories:
            return True
        if category in self.uncached_categories:
            return False
        return not self.of(provider).download_uncached

    def keep_on_delete(self, provider: str) -> bool:
        return self.of(provider).keep_on_delete
