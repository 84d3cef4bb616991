"""SandboxOptions: the sandbox's tunable behaviour, and validated partial updates of it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SandboxOptions:
    """Timings, limits and access rules; every field has a default so tests set only what matters.

    Frozen so a request always reads one consistent snapshot while the admin API swaps in a new
    one with `updated()`.
    """

    download_seconds: float = 30.0  # how long an [uncached] torrent spends downloading
    conversion_seconds: float = 0.0  # time in magnet_conversion
    queue_seconds: float = 0.5  # time in queued before downloading
    link_lifetime_seconds: float = 86400.0  # lifetime of an unrestricted download URL
    expired_link_status: int = 403  # what the CDN answers for an expired URL
    max_active: int = 0  # active (queued/downloading) torrent slots; 0 = unlimited
    rate_limit_per_minute: int = 0  # API requests per bearer token per minute; 0 = off
    dead_after_seconds: float = 60.0  # when a [dead] torrent dies, counted from its end
    tokens: tuple[str, ...] = ()  # accepted bearer tokens; empty = any non-empty token
    exhausted_tokens: tuple[str, ...] = ()  # accounts out of traffic: unrestrict answers 503/36
    cdn_bytes_per_second: int = 0  # CDN throttle per connection; 0 = unthrottled
    rate_limit_per_second: int = 0  # API requests per token per second (dialects that have one)
    delayed_link_seconds: float = 0.0  # link steps that can defer (AllDebrid): ready after this
    create_limit: int = 0  # adds per token per create window (TorBox: 60 an hour); 0 = off
    create_window_seconds: float = 3600.0  # the rolling window create_limit counts in

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["tokens"] = list(self.tokens)
        data["exhausted_tokens"] = list(self.exhausted_tokens)
        return data


# Durations, counts and rates all stay far below this; it keeps dates and SQLite ints in range.
_MAX_VALUE = 100 * 365 * 86400
_FIELDS = {field.name: field for field in dataclasses.fields(SandboxOptions)}


def updated(options: SandboxOptions, patch: Mapping[str, Any]) -> SandboxOptions:
    """Return `options` with the fields in `patch` replaced; ValueError names a bad field."""
    changes: dict[str, Any] = {}
    for name, value in patch.items():
        field = _FIELDS.get(name)
        if field is None:
            raise ValueError(f"unknown option {name!r}")
        changes[name] = _coerce(name, field.type, value)
    return dataclasses.replace(options, **changes)


def _coerce(name: str, annotation: object, value: object) -> object:
    # Annotations are strings under `from __future__ import annotations`.
    kind = str(annotation)
    if kind == "tuple[str, ...]":
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise ValueError(f"option {name!r} must be a list of strings")
        if not all(isinstance(item, str) and item for item in value):
            raise ValueError(f"option {name!r} must be a list of non-empty strings")
        return tuple(value)
    # bool is an int subclass; a JSON true where a number belongs is a caller mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"option {name!r} must be a number")
    if not 0 <= value <= _MAX_VALUE:  # also rejects NaN and infinity
        raise ValueError(f"option {name!r} must be between 0 and {_MAX_VALUE}")
    if kind == "int":
        if int(value) != value:
            raise ValueError(f"option {name!r} must be an integer")
        value = int(value)
        if name == "expired_link_status" and not 400 <= value <= 599:
            raise ValueError("option 'expired_link_status' must be an HTTP error status")
        return value
    return float(value)
