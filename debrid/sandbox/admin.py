"""The loopback-only admin API under /__admin/: config, catalogue, faults, log, clock, reset."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .catalogue import MAX_SECONDS, CatalogueEntry, derived_files, entry_from_seed
from .options import updated
from .records import TorrentRecord
from .runtime import current, origin
from .status import js_date

blueprint = Blueprint("admin", __name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


class AdminError(ValueError):
    """A bad admin request; answered 400 with the message."""


@blueprint.before_request
def _loopback_only() -> tuple[Response, int] | None:
    # The admin API can rewrite everything, so only this machine may use it.
    if request.remote_addr not in LOOPBACK:
        return jsonify({"error": "the admin API only answers loopback clients"}), 403
    return None


@blueprint.errorhandler(ValueError)
def _bad_request(exc: ValueError) -> tuple[Response, int]:
    return jsonify({"error": str(exc)}), 400


def _body() -> Any:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True)
    if data is None:
        raise AdminError("the body must be JSON")
    return data


def _object_body() -> dict[str, Any]:
    data = _body()
    if not isinstance(data, dict):
        raise AdminError("the body must be a JSON object")
    return data


def _date(timestamp: float | None) -> str | None:
    return None if timestamp is None else js_date(timestamp)


def _torrent_json(torrent: TorrentRecord, now: float) -> dict[str, Any]:
    timeline = torrent.timeline
    return {
        "id": torrent.id,
        "hash": torrent.hash,
        "filename": torrent.filename,
        "status": timeline.status(now),
        "progress": timeline.progress(now),
        "cached": torrent.cached,
        "archive": torrent.archive,
        "deleted": torrent.deleted,
        "bytes": torrent.bytes,
        "original_bytes": torrent.original_bytes,
        "files": [
            {"id": f.id, "path": f.path, "bytes": f.bytes, "selected": int(f.selected)}
            for f in torrent.files
        ],
        "links": [f"{origin()}/d/{link_id}" for link_id in torrent.links],
        "added": _date(timeline.added),
        "selected": _date(timeline.selected_at),
        "ended": _date(timeline.ended_at),
        "dead_at": _date(timeline.dead_at),
    }


@blueprint.get("/config")
def get_config() -> Response:
    return jsonify(current().options.as_dict())


@blueprint.post("/config")
def set_config() -> Response:
    sandbox = current()
    before = sandbox.options
    sandbox.options = updated(before, _object_body())
    if sandbox.options.rate_limit_per_minute != before.rate_limit_per_minute:
        sandbox.limiter.reset()  # a new limit starts with full buckets
    return jsonify(sandbox.options.as_dict())


@blueprint.post("/reset")
def reset() -> Response:
    sandbox = current()
    sandbox.state.reset()
    sandbox.faults.clear()
    sandbox.requests.clear()
    sandbox.limiter.reset()
    sandbox.scratch.clear()
    return jsonify({"reset": True})


@blueprint.post("/seed")
def seed() -> tuple[Response, int]:
    data = _body()
    payloads = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in payloads):
        raise AdminError("the body must be an entry object or a list of them")
    entries = [entry_from_seed(item) for item in payloads]  # validate all before storing any
    for entry in entries:
        current().state.seed(entry)
    seeded = [entry.to_json() for entry in entries]
    return jsonify(seeded if isinstance(data, list) else seeded[0]), 201


@blueprint.get("/catalogue")
def catalogue() -> Response:
    return jsonify([entry.to_json() for entry in current().state.catalogue()])


@blueprint.get("/torrents")
def torrents() -> Response:
    state = current().state
    now = state.now()
    return jsonify([_torrent_json(torrent, now) for torrent in state.all_torrents()])


@blueprint.post("/torrents")
def bulk_add() -> tuple[Response, int]:
    """Create `count` downloaded torrents at once: an account at scale without 100k calls."""
    data = _object_body()
    count, name = data.get("count"), data.get("name", "Bulk")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 200_000:
        raise AdminError("'count' must be an integer from 1 to 200000")
    if not isinstance(name, str) or not name:
        raise AdminError("'name' must be a non-empty string")
    entries = []
    for index in range(count):
        infohash = hashlib.sha1(f"{name}:{index}".encode(), usedforsecurity=False).hexdigest()
        title = f"{name}.{index:06d}.mkv"  # one file each keeps 50k torrents quick to build
        entries.append(CatalogueEntry(infohash, title, derived_files(infohash, title)))
    ids = current().state.add_downloaded_torrents(entries)
    return jsonify({"created": len(ids), "ids": ids}), 201


@blueprint.post("/torrents/<torrent_id>")
def update_torrent(torrent_id: str) -> tuple[Response, int]:
    data = _object_body()
    if not isinstance(data.get("dead"), bool):
        raise AdminError("send {'dead': true} to kill the torrent, or false to revive it")
    state = current().state
    if not state.set_dead(torrent_id, data["dead"]):
        return jsonify({"error": f"no torrent {torrent_id}"}), 404
    torrent = state.torrent(torrent_id)
    assert torrent is not None  # set_dead just found it
    return jsonify(_torrent_json(torrent, state.now())), 200


@blueprint.get("/faults")
def faults() -> Response:
    return jsonify([rule.to_json() for rule in current().faults.rules()])


@blueprint.post("/faults")
def add_fault() -> tuple[Response, int]:
    data = _body()
    payloads = data if isinstance(data, list) else [data]
    if not all(isinstance(item, dict) for item in payloads):
        raise AdminError("the body must be a rule object or a list of them")
    rules = [current().faults.add(item).to_json() for item in payloads]
    return jsonify(rules if isinstance(data, list) else rules[0]), 201


@blueprint.delete("/faults")
def clear_faults() -> Response:
    current().faults.clear()
    return jsonify([])


@blueprint.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int) -> tuple[Response, int]:
    if not current().faults.remove(rule_id):
        return jsonify({"error": f"no fault rule {rule_id}"}), 404
    return jsonify({"deleted": rule_id}), 200


@blueprint.get("/requests")
def requests_log() -> Response:
    try:
        since = int(request.args.get("since", "0"))
    except ValueError:
        raise AdminError("'since' must be an integer") from None
    entries, next_seq = current().requests.since(since)
    return jsonify({"requests": entries, "next": next_seq})


@blueprint.delete("/requests")
def clear_requests() -> Response:
    return jsonify({"requests": [], "next": current().requests.clear()})


def _clock_json() -> dict[str, Any]:
    state = current().state
    now = state.now()
    return {"now": js_date(now), "timestamp": now, "offset": state.clock_offset}


@blueprint.get("/clock")
def clock() -> Response:
    return jsonify(_clock_json())


@blueprint.post("/clock")
def advance_clock() -> Response:
    seconds = _object_body().get("advance")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise AdminError("'advance' must be a non-negative number of seconds")
    state = current().state
    if state.clock_offset + seconds > MAX_SECONDS:  # dates must stay representable
        raise AdminError(f"the clock cannot run more than {MAX_SECONDS} seconds ahead")
    state.advance(float(seconds))
    return jsonify(_clock_json())
