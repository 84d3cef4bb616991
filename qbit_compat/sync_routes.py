"""sync/maindata (field-level deltas, driven by the store's revisions) and sync/torrentPeers."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from typing import Any

from flask import Response, current_app
from flask.blueprints import BlueprintSetupState
from werkzeug.datastructures import MultiDict

from core.models import Torrent
from qbit_compat import serialize
from qbit_compat.app_routes import view
from qbit_compat.http import (
    encode,
    integer,
    json_bytes_response,
    json_mapping,
    json_object,
    json_response,
    services,
)
from qbit_compat.routing import Endpoint, session_id
from qbit_compat.sync_snapshots import Snapshot, Snapshots, diff_mapping
from qbit_compat.transfer_routes import transfer_totals

REQUIRED_KEYS = frozenset({"full_update", "rid", "server_state"})
SNAPSHOTS_KEY = "debridge.qbit.snapshots"     # in app.extensions: each app keeps its own


def keep_snapshots(state: BlueprintSetupState) -> None:
    """Give the app the blueprint is registered on its own snapshots (they go with it)."""
    state.app.extensions[SNAPSHOTS_KEY] = Snapshots()


def _snapshots() -> Snapshots:
    snapshots: Snapshots = current_app.extensions[SNAPSHOTS_KEY]
    return snapshots


def _free_space() -> int:
    try:
        return shutil.disk_usage(services().library.downloads_folder).free
    except OSError:
        return 0


def server_state() -> dict[str, Any]:
    """qBittorrent's server_state (the transfer totals plus session counters)."""
    totals = transfer_totals()
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


def _categories() -> dict[str, dict[str, Any]]:
    return {c.name: serialize.category(c) for c in services().library.categories()}


def _session_key() -> str:
    return hashlib.sha256(session_id().encode("utf-8", "surrogatepass")).hexdigest()


def _full(current: int) -> bytes:
    """Everything, and a fresh snapshot of it for this session. Each torrent is encoded as
    it is fingerprinted, so a large library is never held twice."""
    library = services().library
    snapshot = Snapshot(rid=current, categories=_categories(), tags=set(library.tags()),
                        server_state=server_state())
    now = view()

    def entries() -> Iterator[tuple[str, dict[str, Any]]]:
        for torrent in sorted(library.torrents(), key=lambda t: t.hash):  # sorted, as Qt
            entry = serialize.info_entry(torrent, now)
            del entry["hash"]
            snapshot.remember(torrent.hash, entry)
            snapshot.set_trackers(torrent.hash, torrent.trackers)
            yield torrent.hash, entry

    torrents = json_mapping(entries())
    _snapshots().put(_session_key(), snapshot)
    full = {"categories": snapshot.categories, "full_update": True, "rid": current,
            "server_state": snapshot.server_state, "tags": sorted(snapshot.tags),
            "torrents": torrents if torrents != b"{}" else {}, "trackers": snapshot.trackers}
    # qBittorrent 4.6+ leaves empty collections out of a full update
    return json_object((key, value if isinstance(value, bytes) else encode(value))
                       for key, value in sorted(full.items())
                       if value or key in REQUIRED_KEYS)


def _delta(snapshot: Snapshot, current: int) -> dict[str, Any]:
    """Only what changed since the snapshot: torrents re-read by revision (and the ones in
    progress, whose speed, ETA and queue rank move with time), not all of them."""
    library = services().library
    changed = library.changed_since(snapshot.rid)
    entries = _entries(changed)
    if entries and not snapshot.keys:
        snapshot.keys = tuple(sorted(next(iter(entries.values()))))
    new = [h for h in entries if h not in snapshot.torrents]
    torrents = {h: fields for h, entry in entries.items()
                if (fields := snapshot.changed_fields(h, entry))}
    touched: set[str] = set()
    for torrent in changed:
        touched |= snapshot.set_trackers(torrent.hash, torrent.trackers)
    removed: list[str] = []
    if library.count() != len(snapshot.torrents) or new:
        live = library.hashes()
        removed = [h for h in snapshot.torrents if h not in live]
        for info_hash in removed:
            del snapshot.torrents[info_hash]
            touched |= snapshot.set_trackers(info_hash, ())
    trackers = {url: list(snapshot.trackers[url]) for url in touched if url in snapshot.trackers}
    trackers_removed = sorted(url for url in touched if url not in snapshot.trackers)
    categories, categories_removed = diff_mapping(snapshot.categories, _categories())
    tags = set(library.tags())
    state = server_state()
    body: dict[str, Any] = {"rid": current}
    for key, value in (("torrents", torrents), ("torrents_removed", removed),
                       ("categories", categories), ("categories_removed", categories_removed),
                       ("tags", sorted(tags - snapshot.tags)),
                       ("tags_removed", sorted(snapshot.tags - tags)),
                       ("trackers", trackers), ("trackers_removed", trackers_removed),
                       ("server_state", diff_mapping(snapshot.server_state, state)[0])):
        if value:
            body[key] = value
    snapshot.categories = {**snapshot.categories, **categories}
    for name in categories_removed:
        snapshot.categories.pop(name, None)
    snapshot.tags, snapshot.server_state, snapshot.rid = tags, state, current
    _snapshots().put(_session_key(), snapshot)
    return body


def maindata(params: MultiDict[str, str]) -> Response:
    """Everything when the rid is 0 or not the one last sent to this session; otherwise only
    the fields, categories, tags and trackers that changed, and what was removed."""
    rid = integer(params, "rid", 0)
    current = services().library.revision()   # read first: later changes are re-sent
    snapshot = _snapshots().take(_session_key(), rid) if rid > 0 else None
    if snapshot is None:
        return json_bytes_response(_full(current))
    return json_response(_delta(snapshot, current))


def torrent_peers(params: MultiDict[str, str]) -> Response:
    """A debrid torrent has no peers of ours. Without a known hash: 404 (not 400)."""
    info_hash = params.get("hash", "")
    services().library.torrent(info_hash, with_files=False)       # 404 if unknown/missing
    rid = integer(params, "rid", 0)
    return json_response({"full_update": True, "peers": {}, "rid": 1 if rid <= 0 else rid + 1,
                          "show_flags": True})


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("sync/maindata", maindata),
    Endpoint("sync/torrentPeers", torrent_peers),
)
