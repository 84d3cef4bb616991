"""Debrid providers: the shared contract, one module per provider, and the sandbox."""

from __future__ import annotations

from core.ports import DebridProvider
from core.settings import ProviderSettings
from debrid.realdebrid import RealDebrid

SANDBOX_TOKEN = "sandbox"  # noqa: S105 (the embedded sandbox accepts any token)


def build_provider(settings: ProviderSettings) -> DebridProvider:
    """The client for one configured provider account (the sandbox speaks Real-Debrid)."""
    if settings.type == "realdebrid":
        return RealDebrid(name=settings.name, api_key=settings.api_key,
                          base_url=settings.base_url, timeout=settings.timeout_seconds)
    if settings.type == "sandbox":
        if not settings.base_url:
            raise ValueError(f"provider {settings.name!r}: the sandbox was not started")
        return RealDebrid(name=settings.name, api_key=settings.api_key or SANDBOX_TOKEN,
                          base_url=settings.base_url, timeout=settings.timeout_seconds)
    raise ValueError(f"unknown provider type {settings.type!r}")
