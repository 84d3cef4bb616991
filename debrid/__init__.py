"""Debrid providers: the shared contract, one module per provider, and the sandbox."""

from __future__ import annotations

from core.ports import BudgetStore, DebridProvider
from core.settings import ProviderSettings
from debrid.realdebrid import RealDebrid

SANDBOX_TOKEN = "sandbox"  # noqa: S105 (the embedded sandbox accepts any token)
# Requests per minute when providers[].rate_limit_per_minute is 0: the published limits.
PUBLISHED_LIMITS = {"realdebrid": 250, "sandbox": 6000}


def build_provider(settings: ProviderSettings,
                   store: BudgetStore | None = None) -> DebridProvider:
    """The client for one configured provider account (the sandbox speaks Real-Debrid).
    With a store, every API call goes through the account's shared request budget."""
    per_minute = settings.rate_limit_per_minute or PUBLISHED_LIMITS[settings.type]

    def real_debrid(api_key: str, service: str) -> RealDebrid:
        return RealDebrid(name=settings.name, api_key=api_key, base_url=settings.base_url,
                          timeout=settings.timeout_seconds, per_minute=per_minute, store=store,
                          download_api_keys=settings.download_api_keys, service=service)

    if settings.type == "realdebrid":
        return real_debrid(settings.api_key, "Real-Debrid")
    if settings.type == "sandbox":
        if not settings.base_url:
            raise ValueError(f"provider {settings.name!r}: the sandbox was not started")
        return real_debrid(settings.api_key or SANDBOX_TOKEN, "the sandbox")
    raise ValueError(f"unknown provider type {settings.type!r}")
