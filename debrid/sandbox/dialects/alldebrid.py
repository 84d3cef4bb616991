"""AllDebrid's dialect (API v4 / v4.1): magnets, files, link unlock and delayed links, user.

Routes answer GET and POST (AllDebrid takes parameters either way and prefers POST forms).
Errors come in `{"status": "error", "error": {"code", "message"}}`, mostly with HTTP 200.
Magnet ids are integers (the state's sequence numbers); file links are `{origin}/f/<link>`
and unlocking one mints a CDN link. `options.delayed_link_seconds` (or an `archive` entry)
makes unlock answer `delayed` first; `options.rate_limit_per_second` adds AllDebrid's 12/s
beside the per-minute limit. Assumed where AllDebrid says nothing: a 429 sends no
Retry-After; an infringing magnet is refused as MAGNET_PROCESSING_FAILED.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, request

from debrid.sandbox.dialects import Dialect, common
from debrid.sandbox.dialects import alldebrid_render as ad
from debrid.sandbox.dialects.alldebrid_render import AdError, error_body, error_response, success
from debrid.sandbox.dialects.common import Refusal, Why
from debrid.sandbox.records import DownloadRecord, TorrentRecord
from debrid.sandbox.runtime import current, origin

blueprint = Blueprint("alldebrid", __name__)
METHODS = ["GET", "POST"]
PUBLIC_ENDPOINTS = frozenset({"alldebrid.ping"})
_LINK_PATH = re.compile(r"/f/([A-Z0-9]{13})/?")
_FILE_FIELD = re.compile(r"files\[\d*\]")
_HASH = re.compile(r"[0-9a-fA-F]{40}|[A-Za-z2-7]{32}")
# What each refusal of the shared state is called here.
UPLOAD_ERRORS = {Why.BAD_MAGNET: "MAGNET_INVALID_URI", Why.BAD_TORRENT: "MAGNET_INVALID_FILE",
                 Why.INFRINGING: "MAGNET_PROCESSING_FAILED"}
UNLOCK_ERRORS = {Why.NOT_FOUND: "LINK_DOWN", Why.GONE: "LINK_DOWN", Why.DEAD: "LINK_DOWN",
                 Why.NOT_READY: "LINK_TEMPORARY_UNAVAILABLE",
                 Why.EXHAUSTED: "LINK_HOST_LIMIT_REACHED"}
STATUS_FILTERS = {"active": range(0, 4), "ready": range(4, 5), "error": range(5, 100),
                  "expired": range(0)}


def token() -> str:
    """`Authorization: Bearer`, or the deprecated `apikey` parameter."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.values.get("apikey", "").strip()


def unauthorized() -> Response:
    return error_response("AUTH_BAD_APIKEY" if token() else "AUTH_MISSING_APIKEY")


def http_error(status: int) -> Response:
    return error_response("404") if status == 404 else error_response("GENERIC", status)


# -- AllDebrid's 12 requests a second, beside the shared per-minute limiter ---------------------

class PerSecond:
    """A one-second sliding window of accepted calls per token."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - 1.0:
                calls.popleft()
            if len(calls) >= limit:
                return False
            calls.append(now)
            return True


@dataclass
class Delayed:
    link_id: str
    key: str
    ready_at: float
    url: str = ""


class Runtime:
    """The dialect's memory: per-second windows and delayed links (lost on restart, when a
    delayed id answers DELAYED_INVALID_ID and the client unlocks again)."""

    def __init__(self) -> None:
        self.per_second = PerSecond()
        self.lock = threading.Lock()
        self.delayed: dict[int, Delayed] = {}
        self.ids = itertools.count(random.randrange(10_000, 90_000))


def _runtime() -> Runtime:
    found: Runtime = current_app.extensions.setdefault("alldebrid", Runtime())
    return found


@blueprint.before_request
def _per_second() -> Response | None:
    limit = current().options.rate_limit_per_second
    if limit and not _runtime().per_second.allow(token(), limit):
        return rate_limited()
    return None


def rate_limited() -> Response:
    return error_response("TOO_MANY_REQUESTS")


# -- parameters ---------------------------------------------------------------------------------

def _values(name: str) -> list[str]:
    """`name[]` (or `name`) from the query and the form, in order, blanks dropped."""
    found = request.values.getlist(f"{name}[]") or request.values.getlist(name)
    return [v.strip() for v in found if v.strip()]


def _magnet(raw: object) -> TorrentRecord:
    try:
        return common.torrent_by_number(raw)
    except Refusal:
        raise AdError("MAGNET_INVALID_ID") from None


# -- routes -------------------------------------------------------------------------------------

@blueprint.route("/v4/ping", methods=METHODS)
def ping() -> Response:
    return success({"ping": "pong"})


@blueprint.route("/v4/user", methods=METHODS)
def user() -> Response:
    state = current().state
    return success({"user": {
        "username": "sandbox", "email": "sandbox@example.invalid", "isPremium": True,
        "isSubscribed": False, "isTrial": False, "premiumUntil": int(state.premium_until),
        "lang": "en", "preferedDomain": "com", "fidelityPoints": 1000,
        "limitedHostersQuotas": {}, "notifications": []}})


def _slots_full(why: Why) -> None:
    if why is Why.SLOTS_FULL:       # the account's limit: the whole call is refused
        raise AdError("MAGNET_TOO_MANY_ACTIVE")


@blueprint.route("/v4/magnet/upload", methods=METHODS)
def upload_magnets() -> Response:
    uris = _values("magnets")
    if not uris:
        raise AdError("MAGNET_NO_URI")
    magnets = []
    for uri in uris:
        try:     # a bare infohash is a magnet too
            record = common.add_magnet(f"magnet:?xt=urn:btih:{uri}" if _HASH.fullmatch(uri)
                                       else uri)
        except Refusal as refusal:
            _slots_full(refusal.why)
            magnets.append({"magnet": uri, "error": error_body(UPLOAD_ERRORS[refusal.why])})
            continue
        magnets.append({"magnet": uri, **_added(record)})
    return success({"magnets": magnets})


@blueprint.route("/v4/magnet/upload/file", methods=METHODS)
def upload_files() -> Response:
    uploads = [f for key in request.files for f in request.files.getlist(key)
               if _FILE_FIELD.fullmatch(key)]
    if not uploads:
        raise AdError("MAGNET_NO_URI")
    files = []
    for upload in uploads:
        name = upload.filename or "file.torrent"
        try:
            record = common.add_upload(upload.read())
        except Refusal as refusal:
            _slots_full(refusal.why)
            files.append({"file": name, "error": error_body(UPLOAD_ERRORS[refusal.why])})
            continue
        files.append({"file": name, **_added(record)})
    return success({"files": files})


def _added(record: TorrentRecord) -> dict[str, Any]:
    """`ready` says it was cached: its statusCode is 4 at once (the only cache signal)."""
    now = current().state.now()
    return {"hash": record.hash, "name": record.filename, "filename_original": record.filename,
            "size": record.bytes, "ready": ad.status_code(record, now) == 4,
            "id": common.number_of(record)}


@blueprint.route("/v4.1/magnet/status", methods=METHODS)
def magnet_status() -> Response:
    now = current().state.now()
    if request.values.get("id", "").strip():
        record = _magnet(request.values["id"])
        return success({"magnets": ad.magnet_json(record, common.number_of(record), now)})
    wanted = request.values.get("status", "").strip()
    codes = STATUS_FILTERS.get(wanted, range(0, 100))
    records = _all_torrents()
    numbers = common.numbers_of(records)
    magnets = [m for m in (ad.magnet_json(r, numbers[r.id], now) for r in records)
               if m["statusCode"] in codes]
    data: dict[str, Any] = {"magnets": magnets}
    if request.values.get("session"):
        # Live mode: the sandbox always answers a full sync (valid for any counter).
        counter = request.values.get("counter", "0")
        data.update(fullsync=True, counter=int(counter) + 1 if counter.isdigit() else 1)
    return success(data)


def _all_torrents() -> list[TorrentRecord]:
    """Every torrent, newest first (AllDebrid lists them all in one answer, unpaged)."""
    records: list[TorrentRecord] = []
    while True:
        total, page = common.torrents(len(records), 5000)
        records.extend(page)
        if not page or len(records) >= total:
            return records


@blueprint.route("/v4/magnet/status", methods=METHODS)
def magnet_status_v4() -> Response:
    raise AdError("DISCONTINUED")       # superseded by /v4.1/magnet/status


@blueprint.route("/v4/magnet/files", methods=METHODS)
def magnet_files() -> Response:
    ids = _values("id")
    if not ids:
        raise AdError("MAGNET_INVALID_ID")
    now, base = current().state.now(), origin()
    magnets: list[dict[str, Any]] = []
    for raw in ids:
        try:
            record = common.torrent_by_number(raw)
        except Refusal:
            magnets.append({"id": raw, "error": error_body("MAGNET_INVALID_ID")})
            continue
        ready = ad.status_code(record, now) == 4
        magnets.append({"id": common.number_of(record),
                        "files": ad.file_tree(record, base) if ready else []})
    return success({"magnets": magnets})


@blueprint.route("/v4/magnet/delete", methods=METHODS)
def magnet_delete() -> Response:
    record = _magnet(request.values.get("id", ""))
    common.delete(record.id)
    return success({"message": "Magnet was successfully deleted"})


@blueprint.route("/v4/magnet/restart", methods=METHODS)
def magnet_restart() -> Response:
    """Only a dead magnet can be revived here; anything else is processing or complete."""
    raw = request.values.get("id", "")
    record = _magnet(raw)
    state = current().state
    if ad.status_code(record, state.now()) != 11:
        return success({"magnets": [{"magnet": raw, "error": error_body("MAGNET_PROCESSING")}]})
    state.set_dead(record.id, False)
    return success({"magnets": [{"magnet": raw, "message": "Magnet was successfully restarted"}]})


def _link_id(raw: str) -> str:
    if not raw:
        raise AdError("LINK_IS_MISSING")
    match = _LINK_PATH.fullmatch(urlsplit(raw).path)
    if match is None:
        raise AdError("LINK_HOST_NOT_SUPPORTED")
    return match.group(1)


def _download(link_id: str, key: str) -> DownloadRecord:
    try:
        return common.mint(link_id, key)
    except Refusal as refusal:
        raise AdError(UNLOCK_ERRORS[refusal.why]) from None


@blueprint.route("/v4/link/unlock", methods=METHODS)
def link_unlock() -> Response:
    link_id, key = _link_id(request.values.get("link", "").strip()), token()
    sandbox = current()
    state, options = sandbox.state, sandbox.options
    delay = options.delayed_link_seconds
    link = state.link(link_id)
    record = state.torrent(link.torrent_id) if link is not None else None
    usable = record is not None and ad.status_code(record, state.now()) == 4 and \
        key not in options.exhausted_tokens
    if usable and record is not None and (delay > 0 or record.archive):
        runtime = _runtime()
        with runtime.lock:
            delayed_id = next(runtime.ids)
            runtime.delayed[delayed_id] = Delayed(link_id, key, state.now() + delay)
        return success({"delayed": delayed_id})
    download = _download(link_id, key)
    return success(ad.unlock_json(download, common.direct_url(download)))


@blueprint.route("/v4/link/delayed", methods=METHODS)
def link_delayed() -> Response:
    """status 1: still generating (with time_left), 2: ready (with link), 3: failed."""
    runtime, now = _runtime(), current().state.now()
    try:
        delayed_id = int(request.values.get("id", "").strip())
    except ValueError:
        raise AdError("DELAYED_INVALID_ID") from None
    with runtime.lock:
        entry = runtime.delayed.get(delayed_id)
        if entry is None:
            raise AdError("DELAYED_INVALID_ID")
        if now < entry.ready_at:
            return success({"status": 1, "time_left": math.ceil(entry.ready_at - now),
                            "link": ""})
        if not entry.url:
            try:
                entry.url = common.direct_url(_download(entry.link_id, entry.key))
            except AdError:
                return success({"status": 3, "time_left": 0, "link": ""})
    return success({"status": 2, "time_left": 0, "link": entry.url})


@blueprint.route("/v4/link/infos", methods=METHODS)
def link_infos() -> Response:
    links = _values("link")
    if not links:
        raise AdError("LINK_IS_MISSING")
    state = current().state
    infos: list[dict[str, Any]] = []
    for raw in links:
        match = _LINK_PATH.fullmatch(urlsplit(raw).path)
        link = state.link(match.group(1)) if match else None
        record = state.torrent(link.torrent_id) if link is not None else None
        if link is None or record is None or ad.status_code(record, state.now()) != 4:
            code = "LINK_DOWN" if match else "LINK_HOST_NOT_SUPPORTED"
            infos.append({"link": raw, "error": error_body(code)})
            continue
        files = {f.id: f for f in record.files}
        name = files[link.file_ids[0]].path.rsplit("/", 1)[-1]
        infos.append({"link": raw, "filename": name, "host": ad.HOST,
                      "hostDomain": ad.HOST_DOMAIN,
                      "size": sum(files[i].bytes for i in link.file_ids)})
    return success({"infos": infos})


DIALECT = Dialect(
    name="alldebrid", label="AllDebrid", blueprint=blueprint, prefix="",
    api_paths=("/v4/", "/v4.1/"), base_path="", token=token, unauthorized=unauthorized,
    rate_limited=rate_limited, http_error=http_error, public_endpoints=PUBLIC_ENDPOINTS)
