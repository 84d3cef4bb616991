"""Preferences clients change at run time (qBittorrent's setPreferences), kept in the store.

The keys that mean something for a debrid torrent are validated and honoured: the default
save path, queueing and the active-download limit, the global share limits, DHT (which
decides how Sonarr treats metaDL). Other known qBittorrent keys are stored and echoed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import InvalidInput
from core.naming import LAYOUTS
from core.ports import MetaStore

META_KEY = "qbit.preferences"

# The honoured keys, their types and Debridge's defaults. A debrid torrent never needs to
# seed, so the default goal is ratio 0 with the "pause" action: completed torrents are paused
# with their goal reached, which is what lets Sonarr remove them after import.
HONOURED: dict[str, tuple[type, Any]] = {
    "save_path": (str, ""),
    # qBittorrent's default is queueing on (Sonarr's "Priority: First" needs it); no limit of
    # Debridge's own: the provider's active-download slots are what limit a debrid account.
    "queueing_enabled": (bool, True),
    "max_active_downloads": (int, -1),
    "max_ratio_enabled": (bool, True),
    "max_ratio": (float, 0.0),
    "max_ratio_act": (int, 0),
    "max_seeding_time_enabled": (bool, False),
    "max_seeding_time": (int, -1),
    "max_inactive_seeding_time_enabled": (bool, False),
    "max_inactive_seeding_time": (int, -1),
    "dht": (bool, True),
    # Debridge gives every torrent its own folder unless a client asks otherwise
    "torrent_content_layout": (str, "Subfolder"),
}


@dataclass(frozen=True)
class ShareLimits:
    """The global limits a torrent with limit -2 follows (-1: none)."""

    ratio: float
    seeding_minutes: int
    inactive_minutes: int


def _json_safe(value: Any, depth: int = 0) -> bool:
    """Only values any JSON writer can write back: 64-bit integers, finite numbers, shallow."""
    if depth > 8:
        return False
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return value == value and abs(value) != float("inf")
    if isinstance(value, list):
        return all(_json_safe(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v, depth + 1) for k, v in value.items())
    return False


def _coerce(key: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise InvalidInput(f"{key} must be true or false")
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                float(value) != int(value) or abs(value) > 2**31:
            raise InvalidInput(f"{key} must be an integer")
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 1e9:
            raise InvalidInput(f"{key} must be a number")
        return float(value)
    if not isinstance(value, str) or "\x00" in value or len(value) > 4096:
        raise InvalidInput(f"{key} must be text")
    return value


class Preferences:
    """Read and change the stored preferences."""

    def __init__(self, store: MetaStore) -> None:
        self.store = store

    def stored(self) -> dict[str, Any]:
        raw = self.store.get_meta(META_KEY)
        return json.loads(raw) if raw else {}

    def get(self, key: str) -> Any:
        return self.stored().get(key, HONOURED[key][1])

    def honoured(self) -> dict[str, Any]:
        stored = self.stored()
        return {key: stored.get(key, default) for key, (_, default) in HONOURED.items()}

    def update(self, changes: Mapping[str, Any], known: Mapping[str, Any]) -> None:
        """Apply a partial update. Honoured keys are validated; other keys must be known
        (present in `known`, the preferences a client sees) and keep their JSON type."""
        stored = self.stored()
        for key, value in changes.items():
            if key in HONOURED:
                value = _coerce(key, HONOURED[key][0], value)
                if key == "save_path" and value and not value.startswith("/"):
                    raise InvalidInput("save_path must be an absolute path")
                if key == "max_active_downloads" and value < -1:
                    raise InvalidInput("max_active_downloads must be -1 or more")
                if key == "max_ratio_act" and value not in (0, 1, 2, 3):
                    raise InvalidInput("max_ratio_act must be 0, 1, 2 or 3")
                if key == "torrent_content_layout" and value not in LAYOUTS:
                    raise InvalidInput("torrent_content_layout must be Original, Subfolder or "
                                       "NoSubfolder")
            elif key in known:
                template = known[key]
                if not _json_safe(value):
                    raise InvalidInput(f"{key} has a value out of range")
                if type(value) is not type(template) and not (
                        isinstance(template, float) and isinstance(value, int)
                        and not isinstance(value, bool)):
                    raise InvalidInput(f"{key} has the wrong type")
                if isinstance(value, str) and ("\x00" in value or len(value) > 4096):
                    raise InvalidInput(f"{key} is not acceptable text")
                if isinstance(value, list | dict) and len(json.dumps(value)) > 65536:
                    raise InvalidInput(f"{key} is too large")
            else:
                continue   # qBittorrent ignores keys it does not know
            stored[key] = value
        self.store.set_meta(META_KEY, json.dumps(stored, sort_keys=True))

    def share_limits(self) -> ShareLimits:
        prefs = self.honoured()
        return ShareLimits(
            ratio=prefs["max_ratio"] if prefs["max_ratio_enabled"] else -1.0,
            seeding_minutes=(prefs["max_seeding_time"] if prefs["max_seeding_time_enabled"]
                             else -1),
            inactive_minutes=(prefs["max_inactive_seeding_time"]
                              if prefs["max_inactive_seeding_time_enabled"] else -1))

    def active_download_limit(self) -> int | None:
        """How many torrents may be at the provider at once (None: no limit)."""
        prefs = self.honoured()
        if not prefs["queueing_enabled"] or prefs["max_active_downloads"] < 0:
            return None
        return int(prefs["max_active_downloads"])
