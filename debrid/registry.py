"""Every provider type in one place: its client class, its declaration, and its sandbox.

Adding a provider is one module (a ProviderBase client with a KIND and a `build`) plus one
line in PROVIDERS. Each provider with a sandbox dialect also gets a `sandbox-<dialect>`
type (Real-Debrid's is plain `sandbox`) that the app can start in-process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from core.ports import BudgetStore, DebridProvider
from core.provider_kinds import KINDS, ProviderKind
from core.settings import ProviderSettings
from debrid import alldebrid, debridlink, premiumize, realdebrid, torbox
from debrid.base import ClientConfig, ProviderBase

SANDBOX_TOKEN = "sandbox"  # noqa: S105 (the embedded sandbox accepts any token)
SANDBOX_PER_MINUTE = 6000

Builder = Callable[[ClientConfig], DebridProvider]


@dataclass(frozen=True)
class ProviderType:
    """A registered type: its declaration, how to build a client, and, for a sandbox type,
    which dialect of debrid.sandbox speaks it."""

    kind: ProviderKind
    build: Builder
    dialect: str = ""            # set on sandbox types


_TYPES: dict[str, ProviderType] = {}


def register(kind: ProviderKind, build: Builder, *, dialect: str = "",
             sandbox_type: str = "") -> None:
    """Register a provider type; with `dialect`, also its sandbox stand-in `sandbox_type`
    (default `sandbox-<dialect>`)."""
    _TYPES[kind.type] = ProviderType(kind, build)
    KINDS.register(kind)
    if dialect:
        name = sandbox_type or f"sandbox-{dialect}"
        label = "the sandbox" if name == "sandbox" else f"the {kind.label} sandbox"
        stand_in = replace(kind, type=name, label=label, needs_key=False,
                           per_minute=SANDBOX_PER_MINUTE, sandbox=True, key_help="",
                           api_root="")
        _TYPES[name] = ProviderType(stand_in, build, dialect)
        KINDS.register(stand_in)


def unregister(type_: str) -> None:
    _TYPES.pop(type_, None)
    KINDS.unregister(type_)


def provider_type(type_: str) -> ProviderType:
    try:
        return _TYPES[type_]
    except KeyError:
        raise ValueError(f"unknown provider type {type_!r}") from None


def provider_types() -> list[ProviderType]:
    return list(_TYPES.values())


def build_provider(settings: ProviderSettings,
                   store: BudgetStore | None = None) -> DebridProvider:
    """The client for one configured provider account. With a store, every API call goes
    through the account's shared request budget, and adds through its create limit."""
    registered = provider_type(settings.type)
    kind = registered.kind
    if kind.sandbox and not settings.base_url:
        raise ValueError(f"provider {settings.name!r}: the sandbox was not started")
    create_limit = kind.create_limit
    if settings.create_limit or settings.create_window_seconds:
        count = settings.create_limit or (create_limit[0] if create_limit else 0)
        seconds = settings.create_window_seconds or (create_limit[1] if create_limit else 60.0)
        create_limit = (count, seconds) if count else None
    config = ClientConfig(
        name=settings.name, api_key=settings.api_key or (SANDBOX_TOKEN if kind.sandbox else ""),
        base_url=settings.base_url, timeout=settings.timeout_seconds,
        per_minute=settings.rate_limit_per_minute or kind.per_minute,
        create_limit=create_limit, store=store,
        download_api_keys=settings.download_api_keys, service=kind.label)
    client = registered.build(config)
    if isinstance(client, ProviderBase):
        client.limit_adds(config)        # a configured create limit, for any provider
    return client


def provider_table() -> str:
    """One row per provider type: what its API can do, its limits, where its key comes from."""
    rows = ["| `type` | provider | cache check | file selection | slot count | links | "
            "published limits | API key |", "|---|---|---|---|---|---|---|---|"]
    for registered in provider_types():
        kind, caps = registered.kind, registered.kind.capabilities
        cache = {"native": "yes (asked before the add)", "probe": "by adding it"}[
            caps.cache_check.value] + (", add only if cached" if caps.add_only_if_cached else "")
        life = f", live {caps.link_lifetime_seconds / 3600:g} h" \
            if caps.link_lifetime_seconds else ""
        links = ("resolved per file" if caps.link_step else "direct in the file list") + life
        limits = f"{kind.per_minute}/min"
        if kind.create_limit:
            limits += f"; adds {kind.create_limit[0]} per {kind.create_limit[1] / 3600:g} h"
        key = f"<{kind.key_help}>" if kind.key_help else "none (any token)"
        rows.append(f"| `{kind.type}` | {kind.label} | {cache} | "
                    f"{'yes' if caps.file_selection else 'no'} | "
                    f"{'yes' if caps.active_slots else 'no'} | {links} | {limits} | {key} |")
    return "\n".join(rows)


# One line per provider: (its module's declaration, its builder, its sandbox dialect).
PROVIDERS: list[tuple[ProviderKind, Builder, str, str]] = [
    (realdebrid.KIND, realdebrid.RealDebrid.build, "realdebrid", "sandbox"),
    (alldebrid.KIND, alldebrid.AllDebrid.build, "alldebrid", ""),
    (torbox.KIND, torbox.TorBox.build, "torbox", ""),
    (debridlink.KIND, debridlink.DebridLink.build, "debridlink", ""),
    (premiumize.KIND, premiumize.Premiumize.build, "premiumize", ""),
]
for _kind, _build, _dialect, _sandbox_type in PROVIDERS:
    register(_kind, _build, dialect=_dialect, sandbox_type=_sandbox_type)
