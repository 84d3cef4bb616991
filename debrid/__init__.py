"""Debrid providers: the shared contract, one module per provider, the registry, the sandbox."""

from __future__ import annotations

from debrid.registry import SANDBOX_TOKEN, build_provider, provider_type, provider_types

__all__ = ["SANDBOX_TOKEN", "build_provider", "provider_type", "provider_types"]
