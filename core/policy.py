"""What each provider account is allowed to do: uncached downloads, keeping torrents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.schema import PROVIDER_BY_KEY


@dataclass(frozen=True)
class ProviderPolicy:
    """providers[].download_uncached and keep_on_delete (defaults: the schema's, for a
    provider no longer configured)."""

    download_uncached: bool = PROVIDER_BY_KEY["download_uncached"].default
    keep_on_delete: bool = PROVIDER_BY_KEY["keep_on_delete"].default


@dataclass(frozen=True)
class Policies:
    """Per-provider policies plus the per-category uncached overrides."""

    providers: Mapping[str, ProviderPolicy]
    cached_only_categories: frozenset[str]
    uncached_categories: frozenset[str]

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
