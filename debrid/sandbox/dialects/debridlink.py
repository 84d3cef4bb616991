"""Debrid-Link's dialect (API v2 under /api/v2): the seedbox, account and downloader history.

Every answer is `{"success": true, "value": ..., "pagination"?}` or `{"success": false,
"error": key}`. Which HTTP status goes with which key is not documented; this fake answers
401 for token errors, 403 for a locked account or a refused server address, 429 for
floodDetected, 404 for unknowR (no such endpoint, also what the removed /seedbox/cached
answers), 500 for internalError and 400 for every other refusal. Clients must also accept
an error key with HTTP 200 (the admin faults can send one).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from debrid.sandbox import render
from debrid.sandbox.dialects import Dialect, DialectError, common
from debrid.sandbox.dialects.common import Refusal, Why
from debrid.sandbox.records import DownloadRecord, TorrentRecord
from debrid.sandbox.runtime import current, origin
from debrid.sandbox.status import seeders

blueprint = Blueprint("debridlink", __name__)
PER_PAGE_MIN, PER_PAGE_MAX, PER_PAGE_DEFAULT = 20, 100, 20
MAX_IDS = 50
SERVER_ID = "sandbox1"
CHUNKS = 16
_HASH = re.compile(r"[0-9a-fA-F]{40}|[A-Za-z2-7]{32}")
_STATUS_OF_KEY = {"badToken": 401, "hidedToken": 401, "expired_token": 401,
                  "accountLocked": 403, "serverNotAllowed": 403, "floodDetected": 429,
                  "unknowR": 404, "internalError": 500}
_REFUSALS = {Why.BAD_MAGNET: "notAddTorrent", Why.BAD_TORRENT: "notAddTorrent",
             Why.INFRINGING: "notAddTorrent", Why.NOT_CACHED: "notAddTorrent",
             Why.SLOTS_FULL: "maxTorrent", Why.NOT_FOUND: "badId"}
# the shared timeline's status word -> (status, error, errorString)
_STATES = {
    "magnet_conversion": (4, 0, ""),          # fetching the metadata: no files yet
    "waiting_files_selection": (3, 0, ""),    # waits for a free slot
    "queued": (3, 0, ""),
    "downloading": (4, 0, ""),
    "downloaded": (100, 0, ""),
    "magnet_error": (0, 2, "Unable to retrieve the torrent metadata from the magnet"),
    "dead": (0, 3, "The torrent files are no longer available on the server"),
}


class DLError(DialectError):
    """A refusal in Debrid-Link's words: an error key and its HTTP status."""

    def __init__(self, key: str, status: int | None = None) -> None:
        super().__init__(key)
        self.key = key
        self.status = status or _STATUS_OF_KEY.get(key, 400)

    def response(self) -> Response:
        return error_response(self.key, self.status)


def error_response(key: str, status: int | None = None) -> Response:
    response = jsonify({"success": False, "error": key})
    response.status_code = status or _STATUS_OF_KEY.get(key, 400)
    return response


def _ok(value: Any, pagination: dict[str, int] | None = None) -> Response:
    body: dict[str, Any] = {"success": True, "value": value}
    if pagination is not None:
        body["pagination"] = pagination
    return jsonify(body)


def _token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _http_error(status: int) -> Response:
    key = {404: "unknowR", 405: "unknowR", 413: "torrentTooBig"}.get(status) or \
        ("internalError" if status >= 500 else "badArguments")
    return error_response(key, status)


# -- request arguments ------------------------------------------------------------------------
def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DLError("badArguments") from None
    if not low <= value <= high:
        raise DLError("badArguments")
    return value


def _page() -> tuple[int, int]:
    """(page from 0, perPage from 20 to 100)."""
    return (_int_arg("page", 0, 0, 2**40),
            _int_arg("perPage", PER_PAGE_DEFAULT, PER_PAGE_MIN, PER_PAGE_MAX))


def _pagination(page: int, per_page: int, total: int) -> dict[str, int]:
    pages = max(1, math.ceil(total / per_page))
    return {"page": page, "pages": pages, "next": page + 1 if page + 1 < pages else -1,
            "previous": page - 1 if page > 0 else -1}


def _ids(raw: str) -> list[str]:
    """Ids comma-separated or as a JSON list, at most 50."""
    text = raw.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise DLError("badArguments") from None
        if not isinstance(parsed, list) or not all(isinstance(i, str) for i in parsed):
            raise DLError("badArguments")
        ids = [i.strip() for i in parsed]
    else:
        ids = [part.strip() for part in text.split(",")]
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids or len(ids) > MAX_IDS:
        raise DLError("badArguments")
    return ids


# -- rendering --------------------------------------------------------------------------------
def torrent_json(record: TorrentRecord) -> dict[str, Any]:
    """The torrent object; its files carry direct URLs once it has finished."""
    now = current().state.now()
    word = common.status(record)
    code, error, error_string = _STATES.get(word, (4, 0, ""))
    progress = common.progress(record)
    finished = record.timeline.finished(now) and word != "dead"
    links = common.file_links(record) if finished else {}
    known = render.metadata_known(record, now)
    active = word in ("downloading", "magnet_conversion")
    return {
        "id": record.id,
        "name": record.filename,
        "hashString": record.hash,
        "uploadRatio": 0,
        "serverId": SERVER_ID,
        "wait": False,
        "peersConnected": seeders(record.hash) if active else 0,
        "status": code,
        "error": error,
        "errorString": error_string,
        "totalSize": record.bytes if known else 0,
        "files": [_file_json(record, f.id, f.path, f.bytes, progress, finished,
                             links.get(f.id)) for f in record.files] if known else [],
        "trackers": [],
        "created": int(record.timeline.added),
        "downloadPercent": progress,
        "downloadSpeed": record.timeline.speed(record.bytes) if word == "downloading" else 0,
        "uploadSpeed": 0,
        "isZip": False,
    }


def _file_json(record: TorrentRecord, file_id: int, path: str, size: int, progress: int,
               finished: bool, link_id: str | None) -> dict[str, Any]:
    url = ""
    if link_id is not None:
        try:   # the live direct link, reused until it expires, then a fresh one
            url = common.direct_url(common.current_link(link_id))
        except Refusal:
            url = ""
    # an id of its own (here the torrent's and the file's 0-based index), not its place
    return {"id": f"{record.id}-{file_id - 1}", "name": path.lstrip("/"), "size": size,
            "downloadPercent": progress, "downloaded": finished, "downloadUrl": url}


def _download_json(record: DownloadRecord) -> dict[str, Any]:
    url = common.direct_url(record)
    return {"id": record.id, "name": record.filename, "url": url, "downloadUrl": url,
            "host": "seedbox", "size": record.filesize, "chunk": CHUNKS,
            "expired": current().state.now() >= record.expires,
            "created": int(record.generated), "isProcessing": False}


# -- seedbox ----------------------------------------------------------------------------------
@blueprint.post("/seedbox/add")
def seedbox_add() -> Response:
    upload = request.files.get("file")
    fields: Any = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(fields, dict) and not hasattr(fields, "get"):
        raise DLError("badArguments")
    structure = fields.get("structureType") or "list"
    if structure not in ("list", "tree"):
        raise DLError("badArguments")
    # `wait` (select files before it starts), `async` and `structureType: tree` are
    # accepted and not acted on: the sandbox answers at once with a flat file list.
    try:
        if upload is not None:
            record = common.add_upload(upload.read())
        else:
            url = fields.get("url")
            if not isinstance(url, str) or not url.strip():
                raise DLError("badArguments")
            url = url.strip()
            if _HASH.fullmatch(url):
                url = f"magnet:?xt=urn:btih:{url}"
            if not url.startswith("magnet:"):
                raise DLError("notAddTorrent")    # the sandbox fetches no torrent URLs
            record = common.add_magnet(url)
    except Refusal as refusal:
        raise DLError(_REFUSALS.get(refusal.why, "notAddTorrent")) from None
    return _ok(torrent_json(record))


@blueprint.get("/seedbox/list")
def seedbox_list() -> Response:
    page, per_page = _page()
    raw_ids = request.args.get("ids", "")
    if raw_ids.strip():
        found = []
        for torrent_id in _ids(raw_ids):
            try:
                found.append(common.torrent(torrent_id))
            except Refusal:
                continue                          # an unknown id is simply not listed
        items = found[page * per_page:(page + 1) * per_page]
        total = len(found)
    else:
        total, listed = common.torrents(page * per_page, per_page)
        items = []
        for record in listed:
            try:
                items.append(common.with_files(record))
            except Refusal:
                continue                          # deleted meanwhile
    return _ok([torrent_json(r) for r in items], _pagination(page, per_page, total))


@blueprint.delete("/seedbox/<ids>/remove")
def seedbox_remove(ids: str) -> Response:
    removed = [torrent_id for torrent_id in _ids(ids) if common.delete(torrent_id)]
    if not removed:
        raise DLError("badId")
    return _ok(removed)


@blueprint.route("/seedbox/cached", methods=["GET", "POST"], defaults={"rest": ""})
@blueprint.route("/seedbox/cached/<path:rest>", methods=["GET", "POST"])
def seedbox_cached(rest: str) -> Response:
    # Removed by Debrid-Link in November 2024: clients must add and look instead.
    raise DLError("unknowR")


# -- account and downloader -------------------------------------------------------------------
@blueprint.get("/account/infos")
def account_infos() -> Response:
    state = current().state
    left = max(0, int(state.premium_until - state.now()))
    return _ok({
        "email": "sandbox@example.invalid",
        "emailVerified": True,
        "accountType": 1 if left else 0,
        "premiumLeft": left,
        "pts": 1000,
        "trafficshare": 0,
        "registerDate": "2020-01-01",
        "serverDetected": False,
        "avatarUrl": f"{origin()}/img/avatar.png",
        "username": "sandbox",
    })


@blueprint.get("/downloader/list")
def downloader_list() -> Response:
    page, per_page = _page()
    total, records = current().state.list_downloads(page * per_page, per_page)
    return _ok([_download_json(r) for r in records], _pagination(page, per_page, total))


@blueprint.delete("/downloader/<ids>/remove")
def downloader_remove(ids: str) -> Response:
    state = current().state
    removed = [link_id for link_id in _ids(ids) if state.delete_download(link_id)]
    if not removed:
        raise DLError("badId")
    return _ok(removed)


DIALECT = Dialect(
    name="debridlink", label="Debrid-Link", blueprint=blueprint, prefix="/api/v2",
    api_paths=("/api/v2/",), base_path="/api/v2", token=_token,
    unauthorized=lambda: error_response("badToken"),
    rate_limited=lambda: error_response("floodDetected"), http_error=_http_error)
