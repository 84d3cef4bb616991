"""sync/maindata (rid deltas from the store's revisions) and sync/torrentPeers."""

from __future__ import annotations

import shutil
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from core.models import Torrent
from qbit_compat import serialize
from qbit_compat.app_routes import view
from qbit_compat.http import integer, json_response, required, services
from qbit_compat.routing import endpoint
from qbit_compat.transfer_routes import transfer_totals

TOMBSTONES_KEPT = 20_000
REQUIRED_KEYS = frozenset({"full_update", "rid", "server_state"})


def _free_space() -> int:
    try:
        return shutil.disk_usage(services().library.downloads_folder).free
    except OSError:
        return 0


def server_state(torrents: list[Torrent]) -> dict[str, Any]:
    """qBittorrent's server_state (the transfer totals plus session counters)."""
    totals = transfer_totals(torrents)
    library = services().library
    return {
        **totals,
        "alltime_dl": totals["dl_info_data"],
        "alltime_ul": 0,
        "average_time_queue": 0,
        "free_space_on_disk": _free_space(),
        "global_ratio": "0.00",
        "queued_io_jobs": 0,
        "queueing": bool(library.preferences.get("queueing_enabled")),
        "read_cache_hits": "0",
        "read_cache_overload": "0",
        "refresh_interval": 1500,
        "total_buffers_size": 0,
        "total_peer_connections": 0,
        "total_queued_size": 0,
        "total_wasted_session": 0,
        "use_alt_speed_limits": bool(library.preferences.stored().get(
            "use_alt_speed_limits", False)),
        "use_subcategories": False,
        "write_cache_overload": "0",
    }


def _entries(torrents: list[Torrent]) -> dict[str, dict[str, Any]]:
    current = view()
    out = {}
    for torrent in torrents:
        entry = serialize.info_entry(torrent, current)
        out[entry.pop("hash")] = entry
    return out


def _trackers(torrents: list[Torrent], only: set[str] | None = None) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for torrent in torrents:
        for url in torrent.trackers:
            if only is None or url in only:
                found.setdefault(url, []).append(torrent.hash)
    return found


@endpoint("sync/maindata")
def maindata(params: MultiDict[str, str]) -> Response:
    """Everything with rid=0 (or an unknown rid), else only what changed since that rid."""
    library = services().library
    store = library.store
    rid = integer(params, "rid", 0)
    current = store.revision()
    everything = library.torrents()
    if rid <= 0 or rid > current or rid < store.forgotten_before():
        full: dict[str, Any] = {
            "categories": {c.name: {"name": c.name, "savePath": c.save_path}
                           for c in library.categories()},
            "full_update": True, "rid": current, "server_state": server_state(everything),
            "tags": library.tags(), "torrents": _entries(everything),
            "trackers": _trackers(everything),
        }
        # qBittorrent 4.6+ leaves empty collections out of a full update
        return json_response({k: v for k, v in full.items() if v or k in REQUIRED_KEYS})
    body: dict[str, Any] = {"rid": current, "server_state": server_state(everything)}
    if rid < current:
        changed = store.torrents_changed_since(rid)
        live = {t.hash for t in everything}
        if changed:
            body["torrents"] = _entries(changed)
            urls = {url for t in changed for url in t.trackers}
            if urls:
                body["trackers"] = _trackers(everything, urls)
        removed = [h for h in store.removed_since("torrent", rid) if h not in live]
        if removed:
            body["torrents_removed"] = removed
        categories = store.categories_changed_since(rid)
        if categories:
            body["categories"] = {c.name: {"name": c.name, "savePath": c.save_path}
                                  for c in categories}
        known = {c.name for c in library.categories()}
        gone = [n for n in store.removed_since("category", rid) if n not in known]
        if gone:
            body["categories_removed"] = gone
        tags = store.tags_changed_since(rid)
        if tags:
            body["tags"] = tags
        kept = set(library.tags())
        dropped = [t for t in store.removed_since("tag", rid) if t not in kept]
        if dropped:
            body["tags_removed"] = dropped
    store.purge_tombstones(TOMBSTONES_KEPT)
    return json_response(body)


@endpoint("sync/torrentPeers")
def torrent_peers(params: MultiDict[str, str]) -> Response:
    """A debrid torrent has no peers of ours: an empty peer list for a known torrent."""
    services().library.torrent(required(params, "hash"), with_files=False)  # 404 if unknown
    return json_response({"full_update": True, "peers": {}, "rid": integer(params, "rid", 0) + 1,
                          "show_flags": True})

