"""Provider types as declarations: what settings validation and the engine know of each type.

debrid/registry.py registers one ProviderKind per provider module (and one per sandbox
dialect); core reads only these declarations, never a provider's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from core.ports.provider import Capabilities


@dataclass(frozen=True)
class ProviderKind:
    """One `providers[].type`: its published limits, whether it needs a key, and what its
    API can do. `create_limit` is (adds, seconds) where the provider limits adds apart from
    its general request limit (TorBox: 60 per hour)."""

    type: str
    label: str
    needs_key: bool
    per_minute: int
    capabilities: Capabilities = field(default_factory=Capabilities)
    create_limit: tuple[int, float] | None = None
    allow_renew: bool = True        # re-adding a lost torrent to renew it is allowed
    key_help: str = ""              # where a user gets the API key
    api_root: str = ""
    sandbox: bool = False           # a local stand-in (needs no key; the app may start it)


class ProviderKinds:
    """The registered types, in registration order."""

    def __init__(self) -> None:
        self._kinds: dict[str, ProviderKind] = {}

    def register(self, kind: ProviderKind) -> None:
        self._kinds[kind.type] = kind

    def unregister(self, type_: str) -> None:
        self._kinds.pop(type_, None)

    def get(self, type_: str) -> ProviderKind | None:
        return self._kinds.get(type_)

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __iter__(self) -> Iterator[ProviderKind]:
        return iter(tuple(self._kinds.values()))


KINDS = ProviderKinds()
