"""The Real-Debrid REST routes under /rest/1.0: torrents, unrestrict, downloads, user, time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, jsonify, request

from . import render
from .catalogue import (
    InvalidMagnetError,
    InvalidTorrentError,
    entry_for_magnet,
    entry_for_upload,
    parse_magnet,
    parse_torrent_file,
)
from .errors import ApiError, bad_parameter, missing_parameter, unknown_resource
from .runtime import Sandbox, bearer_token, current, origin
from .status import js_date

blueprint = Blueprint("rest", __name__)
PUBLIC_ENDPOINTS = frozenset({"rest.server_time", "rest.server_time_iso"})
DEFAULT_LIMIT = 100
MAX_LIMIT = 5000
_MAX_OFFSET = 2**62  # SQLite integers are 64-bit; any offset past this is past the end anyway
_HOSTER_PATH = re.compile(r"/d/([A-Z0-9]{13})/?")


def _no_content(status: int = 204) -> Response:
    response = Response(status=status)
    del response.headers["Content-Type"]  # there is no body to describe
    return response


def _check_slots(sandbox: Sandbox) -> None:
    """509 when every active slot is taken; callers hold the state lock so check and act agree."""
    limit = sandbox.options.max_active
    if limit and sandbox.state.active_count() >= limit:
        raise ApiError(509, 21)


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_parameter() from None


def _page() -> tuple[int, int]:
    """(offset, limit) from `offset` or 1-based `page`, and `limit` (0 to 5000, default 100)."""
    limit = _int_arg("limit", DEFAULT_LIMIT)
    if not 0 <= limit <= MAX_LIMIT:
        raise bad_parameter()
    if request.args.get("page"):
        page = _int_arg("page", 1)
        if page < 1:
            raise bad_parameter()
        return min((page - 1) * limit, _MAX_OFFSET), limit
    offset = _int_arg("offset", 0)
    if offset < 0:
        raise bad_parameter()
    return min(offset, _MAX_OFFSET), limit


def _listing(items: list[dict[str, Any]], total: int) -> Response:
    # Real-Debrid answers an empty page with 204 and no body; the total still travels.
    response = jsonify(items) if items else _no_content()
    response.headers["X-Total-Count"] = str(total)
    return response


def _add(info_hash: str, make_entry: Callable[[Any, float], Any], *,
         converts: bool = True) -> Response:
    """Create a torrent from a catalogue entry: 451 if infringing, 509 if slots are full."""
    sandbox = current()
    options, state = sandbox.options, sandbox.state
    with state.lock:
        entry = make_entry(state.catalogue_entry(info_hash), options.dead_after_seconds)
        if entry.infringing:
            raise ApiError(451, 35)
        _check_slots(sandbox)
        torrent_id = state.add_torrent(
            entry, conversion_seconds=options.conversion_seconds if converts else 0.0)
    return _created(torrent_id)


def _created(torrent_id: str) -> Response:
    response = jsonify({"id": torrent_id, "uri": f"{origin()}/rest/1.0/torrents/info/{torrent_id}"})
    response.status_code = 201
    return response


@blueprint.get("/time")
def server_time() -> Response:
    moment = datetime.fromtimestamp(current().state.now(), UTC)
    return Response(moment.strftime("%Y-%m-%d %H:%M:%S"), mimetype="text/plain")


@blueprint.get("/time/iso")
def server_time_iso() -> Response:
    moment = datetime.fromtimestamp(current().state.now(), UTC)
    return Response(moment.strftime("%Y-%m-%dT%H:%M:%S%z"), mimetype="text/plain")


@blueprint.get("/user")
def user() -> Response:
    state = current().state
    until = state.premium_until
    return jsonify(
        {
            "id": 1000001,
            "username": "sandbox",
            "email": "sandbox@example.invalid",
            "points": 1000,
            "locale": "en",
            "avatar": f"{origin()}/images/forum/avatar.png",
            "type": "premium",
            "premium": max(0, int(until - state.now())),
            "expiration": js_date(until),
        }
    )


@blueprint.post("/torrents/addMagnet")
def add_magnet() -> Response:
    uri = request.form.get("magnet", "").strip()
    if not uri:
        raise missing_parameter()
    try:
        magnet = parse_magnet(uri)
    except InvalidMagnetError:
        raise bad_parameter() from None
    return _add(magnet.hash, lambda seeded, dead_after: entry_for_magnet(magnet, seeded,
                                                                        dead_after))


@blueprint.put("/torrents/addTorrent")
def add_torrent() -> Response:
    try:
        meta = parse_torrent_file(request.get_data())
    except InvalidTorrentError:
        raise ApiError(400, 30) from None
    # The upload carries its metadata, so there is nothing to convert.
    return _add(meta.hash, lambda seeded, dead_after: entry_for_upload(meta, seeded, dead_after),
                converts=False)


def _parse_selection(raw: str, known: list[int]) -> list[int]:
    if raw == "all":
        return known
    try:
        wanted = {int(part) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise bad_parameter() from None
    if not wanted:
        raise bad_parameter()
    if not wanted <= set(known):
        raise unknown_resource()  # Real-Debrid: 404 "wrong parameter (invalid file id(s))"
    return sorted(wanted)


@blueprint.post("/torrents/selectFiles/<torrent_id>")
def select_files(torrent_id: str) -> Response:
    raw = request.form.get("files", "").strip()
    if not raw:
        raise missing_parameter()
    sandbox = current()
    options, state = sandbox.options, sandbox.state
    with state.lock:
        torrent = state.torrent(torrent_id)
        if torrent is None:
            raise unknown_resource()
        if torrent.timeline.selected_at is not None:
            return _no_content(202)  # "action already done"
        if torrent.timeline.status(state.now()) != "waiting_files_selection":
            raise bad_parameter()  # still converting, failed, or dead: nothing to select yet
        file_ids = _parse_selection(raw, [f.id for f in torrent.files])
        if not torrent.cached:
            _check_slots(sandbox)
        state.select_files(
            torrent_id,
            file_ids,
            archive=torrent.archive,
            cached=torrent.cached,
            queue_seconds=options.queue_seconds,
            download_seconds=options.download_seconds,
        )
    return _no_content()


@blueprint.get("/torrents/info/<torrent_id>")
def torrent_info(torrent_id: str) -> Response:
    state = current().state
    torrent = state.torrent(torrent_id)
    if torrent is None:
        raise unknown_resource()
    return jsonify(render.torrent_json(torrent, state.now(), origin(), full=True))


@blueprint.get("/torrents")
def torrents() -> Response:
    offset, limit = _page()
    state = current().state
    unfinished_only = request.args.get("filter") == "active"
    total, page = state.list_torrents(offset, limit, unfinished_only=unfinished_only)
    now, base = state.now(), origin()
    return _listing([render.torrent_json(t, now, base, full=False) for t in page], total)


@blueprint.delete("/torrents/delete/<torrent_id>")
def delete_torrent(torrent_id: str) -> Response:
    if not current().state.delete_torrent(torrent_id):
        raise unknown_resource()
    return _no_content()


@blueprint.get("/torrents/activeCount")
def active_count() -> Response:
    sandbox = current()
    limit = sandbox.options.max_active or 50
    return jsonify({"nb": sandbox.state.active_count(), "limit": limit})


@blueprint.get("/torrents/instantAvailability", defaults={"hashes": ""})
@blueprint.get("/torrents/instantAvailability/<path:hashes>")
def instant_availability(hashes: str) -> Response:
    # Disabled by Real-Debrid since November 2024; clients must probe instead.
    raise ApiError(403, 37)


@blueprint.post("/unrestrict/link")
def unrestrict_link() -> Response:
    raw = request.form.get("link", "").strip()
    if not raw:
        raise missing_parameter()
    match = _HOSTER_PATH.fullmatch(urlsplit(raw).path)
    sandbox = current()
    state, options = sandbox.state, sandbox.options
    if bearer_token() in options.exhausted_tokens:
        raise ApiError(503, 36)  # fair_usage_limit: this account's traffic is used up
    with state.lock:
        link = state.link(match.group(1)) if match else None
        if link is None:
            raise ApiError(400, 16)
        torrent = state.torrent(link.torrent_id, include_deleted=True)
        if torrent is None or torrent.deleted:
            raise ApiError(503, 24)
        now = state.now()
        if torrent.timeline.status(now) == "dead":
            raise ApiError(503, 19)
        if not torrent.timeline.finished(now):
            raise ApiError(503, 24)
        filename = render.link_filename(torrent, link.file_ids)
        record = state.add_download(
            link=link,
            torrent=torrent,
            filename=filename,
            mime=render.mime_type(filename),
            lifetime=options.link_lifetime_seconds,
        )
    return jsonify(render.unrestrict_json(record, origin()))


@blueprint.get("/downloads")
def downloads() -> Response:
    offset, limit = _page()
    total, page = current().state.list_downloads(offset, limit)
    base = origin()
    return _listing([render.download_json(record, base) for record in page], total)


@blueprint.delete("/downloads/delete/<download_id>")
def delete_download(download_id: str) -> Response:
    if not current().state.delete_download(download_id):
        raise unknown_resource()
    return _no_content()
