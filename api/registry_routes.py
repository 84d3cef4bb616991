"""The UDPT-style registry at /t and /api/t: list, look up, add, flag, unflag and remove."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, jsonify, request

from api.http import BadRequest, blueprint, root, services
from core.library_registry import MAX_PAGE
from core.models import Torrent, TorrentFile, TorrentState
from core.ports import RegistryRow
from core.sources import parse_info_hash
from core.view import TorrentView, file_health, torrent_view

MAX_BODY = 4096          # `{"is_flagged": false}` is 21 bytes: anything this long is not one
MAX_WHOLE = 2**63 - 1    # SQLite's integers: a larger offset cannot be asked for
_WHOLE = re.compile(r"[0-9]{1,19}")
_BODY_HINT = 'the body must be empty, {} or {"is_flagged": true|false}'
OK = {"status": "ok"}


def _whole(name: str, default: int) -> int:
    """A query parameter holding a whole number (an empty one is absent, as in UDPT's
    documented `/t?offset=&limit=`)."""
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not _WHOLE.fullmatch(raw) or int(raw) > MAX_WHOLE:
        raise BadRequest(f"{name} must be a whole number from 0 to {MAX_WHOLE}")
    return int(raw)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are unique: `{"is_flagged": true, "is_flagged": false}` says
    two things, and the last one winning would be a guess."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key is given twice")
    return found


def _body() -> dict[str, Any]:
    """The POST body as JSON whatever its Content-Type (curl's `-d` without `-H` sends it as
    a form, and UDPT reads it so): empty or an object with at most `is_flagged`, a boolean.
    An unknown key is refused: a misspelt flag must not add the torrent instead."""
    if (request.content_length or 0) > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY} bytes; {_BODY_HINT}")
    data = request.stream.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        raise BadRequest(f"the body is larger than {MAX_BODY} bytes; {_BODY_HINT}")
    if not data.strip():
        return {}
    try:
        value = json.loads(data, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):       # UnicodeDecodeError is a ValueError
        raise BadRequest(f"the body is not JSON; {_BODY_HINT}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the body is not a JSON object; {_BODY_HINT}")
    unknown = sorted(set(value) - {"is_flagged"})
    if unknown:
        raise BadRequest(f"unknown key {unknown[0]!r}; {_BODY_HINT}")
    if "is_flagged" in value and not isinstance(value["is_flagged"], bool):
        raise BadRequest(f"is_flagged must be true or false; {_BODY_HINT}")
    return value


def _view(row: RegistryRow, now: float) -> TorrentView | None:
    return torrent_view(row.torrent, now) if row.torrent is not None else None


def _entry(row: RegistryRow, view: TorrentView | None) -> dict[str, Any]:
    """UDPT's keys (no swarm here: seeders as the provider reports them, else 0), then ours;
    a flagged hash with no torrent has ours null."""
    body: dict[str, Any] = {
        "info_hash": row.hash, "is_flagged": row.flagged, "completed": 0, "seeders": 0,
        "leechers": 0, "state": None, "progress": None, "size": None, "provider": None,
        "added_on": None, "completed_on": None}
    if view is not None:
        body.update(completed=int(view.state is TorrentState.COMPLETED),
                    seeders=max(0, view.seeders), state=view.state.value,
                    progress=round(view.progress, 4), size=view.size, provider=view.provider,
                    added_on=view.added_on, completed_on=view.completed_on)
    return body


def _file(torrent: Torrent, file: TorrentFile) -> dict[str, Any]:
    health, why = file_health(torrent, file)
    return {"index": file.index, "path": file.path, "size": file.size,
            "selected": file.selected, "done": file.done, "linked": bool(file.link),
            "health": health or None, "health_reason": why or None}


def _detail(row: RegistryRow, now: float) -> dict[str, Any]:
    """The entry, its files and link health where UDPT has its peers (`peers` stays, empty:
    a debrid provider shows no swarm)."""
    view = _view(row, now)
    body = _entry(row, view)
    body.update(files=[], health=None, health_reason=None, peers=[])
    if view is not None and row.torrent is not None:
        body.update(health=view.health.value, health_reason=view.health_reason or None,
                    files=[_file(row.torrent, f) for f in row.torrent.files])
    return body


@blueprint.get("/t")
@blueprint.get("/t/")
@root.get("/t")
@root.get("/t/")
def registry_list() -> Response:
    """A page of entries in info-hash order (limit clamped to 1000, UDPT's maximum and
    default); X-Total-Count says how many there are."""
    library = services().library
    offset = _whole("offset", 0)
    limit = min(_whole("limit", MAX_PAGE), MAX_PAGE)
    rows, total = library.registry(offset, limit)
    now = library.clock()
    response = jsonify([_entry(row, _view(row, now)) for row in rows])
    response.headers["X-Total-Count"] = str(total)
    return response


@blueprint.get("/t/<info_hash>")
@blueprint.get("/t/<info_hash>/")
@root.get("/t/<info_hash>")
@root.get("/t/<info_hash>/")
def registry_get(info_hash: str) -> Response:
    library = services().library
    return jsonify(_detail(library.registry_entry(parse_info_hash(info_hash)), library.clock()))


@blueprint.delete("/t/<info_hash>")
@blueprint.delete("/t/<info_hash>/")
@root.delete("/t/<info_hash>")
@root.delete("/t/<info_hash>/")
def registry_delete(info_hash: str) -> Response:
    """Remove the torrent with its files and the provider's copy; a flag stays."""
    services().library.remove(parse_info_hash(info_hash))
    return jsonify(OK)


@blueprint.post("/t/<info_hash>")
@blueprint.post("/t/<info_hash>/")
@root.post("/t/<info_hash>")
@root.post("/t/<info_hash>/")
def registry_post(info_hash: str) -> Response:
    """Empty or `{}`: add by hash (idempotent). `{"is_flagged": true}`: block (any copy is
    deleted) and answer the entry. `{"is_flagged": false}`: unblock, and nothing more."""
    library = services().library
    wanted = parse_info_hash(info_hash)
    flag = _body().get("is_flagged")
    if flag is True:
        library.block(wanted)
        return jsonify(_detail(library.registry_entry(wanted), library.clock()))
    if flag is False:
        library.unblock(wanted)
    else:
        library.add_hash(wanted)
    return jsonify(OK)
