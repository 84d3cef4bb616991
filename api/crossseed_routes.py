"""cross-seed's endpoints: POST /api/announce (autobrr's gate: 200, 202 or 204) and
POST /api/webhook (look at a torrent again now), with JSON or form bodies."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from typing import Any

from flask import Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.http import BadRequest, NotFound, blueprint, services
from core.announce import Announcement, Verdict
from core.errors import TorrentNotFound
from core.sources import parse_info_hash
from core.view import torrent_view

# An announce is a few hundred bytes; this holds every field at its longest, escaped.
MAX_BODY = 256 * 1024
DIGITS = re.compile(r"[0-9]{1,20}")      # (str.isdigit takes '²', which int() refuses)
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
FIELDS = frozenset({"name", "guid", "link", "tracker", "size", "infoHash", "magnet", "cookie",
                    "path"})
CREDENTIALS = frozenset({"apikey", "token"})     # the query's key, not a field
STATUS = {Verdict.COMPLETE: 200, Verdict.DOWNLOADING: 202, Verdict.UNUSABLE: 204}


def _too_large() -> BadRequest:
    return BadRequest(f"the body is larger than {MAX_BODY // 1024} KiB")


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the JSON body must be an object")
    return data


def _form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """A form's fields; one of ours given twice is refused, others are ignored anyway."""
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields and key in FIELDS:
            raise BadRequest(f"{key!r} is given more than once")
        fields.setdefault(key, value)
    return fields


def _fields() -> dict[str, Any]:
    """The body's fields, and the query string's beside them (cross-seed's guide sends
    `?apikey=...&infoHash=...` with no body); a field given in both is refused."""
    fields = _body()
    query = _form([(k, v) for k, v in request.args.items(multi=True) if k not in CREDENTIALS])
    for key, value in query.items():
        if key in fields and key in FIELDS:
            raise BadRequest(f"{key!r} is given more than once")
        fields.setdefault(key, value)
    return fields


def _body() -> dict[str, Any]:
    """A JSON object, or an urlencoded or multipart form (cross-seed takes both; curl's
    --data-urlencode sends a form). Without a Content-Type, a body that starts with '{' is
    JSON, any other a form."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise _too_large()
    request.max_content_length = MAX_BODY     # also caps chunked bodies, as they are read
    mimetype = request.mimetype
    try:
        if mimetype == "application/json" or mimetype.endswith("+json"):
            return _json_object(request.get_data())
        if mimetype in FORMS:
            return _form(list(request.form.items(multi=True)))
        if mimetype:
            raise BadRequest("send the fields as JSON (application/json) or as a form "
                             "(application/x-www-form-urlencoded)")
        raw = request.get_data()
    except RequestEntityTooLarge:
        raise _too_large() from None
    if raw.lstrip().startswith(b"{"):
        return _json_object(raw)
    try:
        text = raw.decode("utf-8")
        return _form(urllib.parse.parse_qsl(text, keep_blank_values=True,
                                            strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the body is neither JSON nor a form") from None


def _string(fields: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = fields.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key!r} is required")
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{key!r} must be a string")
    return value


def _size(fields: dict[str, Any]) -> int | None:
    """Bytes, as a JSON number or the digits of a form field; absent or empty: None."""
    value = fields.get("size")
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and DIGITS.fullmatch(value):
        return int(value)
    raise BadRequest("'size' must be a whole number of bytes")


@blueprint.post("/announce")
def announce() -> Response:
    """200: the release is complete in Debridge; 202: added (or known) and still on its
    way, ask again; 204: nothing will come of it (blocked, refused, not cached while
    uncached downloads are off, or no torrent behind the link). Unknown fields are
    ignored."""
    fields = _fields()
    announcement = Announcement(
        name=_string(fields, "name", required=True), guid=_string(fields, "guid", required=True),
        link=_string(fields, "link", required=True),
        tracker=_string(fields, "tracker", required=True), size=_size(fields),
        info_hash=_string(fields, "infoHash"), magnet=_string(fields, "magnet"),
        cookie=_string(fields, "cookie"))
    answer = services().announcer.announce(announcement)
    status = STATUS[answer.verdict]
    if status == 204 or answer.torrent is None:
        return Response(status=204)
    view = torrent_view(answer.torrent, time.time())
    response = jsonify({"hash": view.hash, "name": view.name, "category": view.category,
                        "state": view.state.value, "progress": round(view.progress, 4),
                        "message": answer.message})
    response.status_code = status
    return response


@blueprint.post("/webhook")
def webhook() -> Response:
    """Look at one torrent again now, named by `infoHash` (40 hex or 32 base32) or by a
    `path` at or under its content_path: 204 once it is scheduled, 404 when no torrent
    matches. cross-seed's other fields (outputDir, ignore*/include*) are ignored."""
    fields = _fields()
    info_hash, path = _string(fields, "infoHash"), _string(fields, "path")
    if bool(info_hash) == bool(path):
        raise BadRequest("give one of 'infoHash' or 'path'")
    library = services().library
    try:
        if info_hash:
            torrent = library.torrent(parse_info_hash(info_hash), with_files=False)
        else:
            torrent = library.torrent_at_path(path)
    except TorrentNotFound:
        what = f"info-hash {info_hash}" if info_hash else "content at that path"
        raise NotFound(f"no torrent with {what} in the library") from None
    library.check_now(torrent)
    return Response(status=204)
