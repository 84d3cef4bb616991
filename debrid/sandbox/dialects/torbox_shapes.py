"""TorBox's envelope, error codes, JSON shapes and limits, for the TorBox dialect."""

from __future__ import annotations

import math
import posixpath
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify

from debrid.sandbox import render
from debrid.sandbox.catalogue import CatalogueEntry
from debrid.sandbox.dialects import DialectError, common
from debrid.sandbox.records import TorrentRecord
from debrid.sandbox.runtime import Sandbox, current
from debrid.sandbox.status import seeders

AUTH_ID = "00000000-sand-box0-0000-000000000001"
LIST_CACHE_SECONDS = 600.0      # how long /torrents/mylist answers from its cache
PRESENT_SHARE = 0.1             # a download reaches storage a tenth of its time after it
PRESENT_MIN_SECONDS = 1.0       # ends, at least a second
EXPIRY_SECONDS = 30 * 86400.0   # TorBox removes downloads nobody touched for 30 days
LINK_LIFETIME_SECONDS = 3600.0  # a requestdl link "opens for 1 hour"
PLAN_PRO = 2

# Default details, in TorBox's words where they are known.
DETAILS = {
    "NO_AUTH": "No authentication provided.",
    "BAD_TOKEN": "The provided token is invalid.",
    "ITEM_NOT_FOUND": "The item you queried cannot be found.",
    "ENDPOINT_NOT_FOUND": "You have hit an endpoint that doesn't exist.",
    "INVALID_OPTION": "The provided option is invalid.",
    "MISSING_REQUIRED_OPTION": "The API is missing required information to process the "
                               "request.",
    "TOO_MANY_OPTIONS": "Client sent too many options.",
    "DUPLICATE_ITEM": "This item already exists.",
    "BOZO_TORRENT": "The torrent sent is not a valid torrent.",
    "ACTIVE_LIMIT": "You have reached your maximum active download limit.",
    "MONTHLY_LIMIT": "You have hit your monthly download limit.",
    "LINK_OFFLINE": "The link given is inaccessible or has no online files.",
    "DOWNLOAD_SERVER_ERROR": "There was an error interacting with the download on the "
                             "download server.",
    "TOO_MUCH_DATA": "Client sent too much data to the API.",
    "UNKNOWN_ERROR": "The reason for the error is unknown.",
}


def envelope(data: Any = None, detail: str = "", *, success: bool | None = True,
             error: str | None = None, status: int = 200) -> Response:
    """`{success, error, detail, data}`, the shape of every TorBox answer."""
    response = jsonify({"success": success, "error": error, "detail": detail, "data": data})
    response.status_code = status
    return response


class TorBoxError(DialectError):
    """A refusal in TorBox's envelope: HTTP status, error code (None for the answers that
    carry none, such as the rate limiter's) and detail."""

    def __init__(self, status: int, code: str | None, detail: str = "",
                 headers: dict[str, str] | None = None, success: bool | None = False) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.detail = detail or DETAILS.get(code or "", "")
        self.headers = headers or {}
        self.success = success

    def response(self) -> Response:
        response = envelope(None, self.detail, success=self.success, error=self.code,
                            status=self.status)
        response.headers.update(self.headers)
        return response


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the account's torrents --------------------------------------------------------------------

def phase(record: TorrentRecord, now: float) -> tuple[str, bool, bool, bool]:
    """(download_state, download_finished, download_present, active) now. A finished
    download reaches storage a moment later: until then it reads "completed" but is not
    present (TorBox: do not use "completed" for completion)."""
    status = common.status(record)
    timeline = record.timeline
    if status == "dead":
        return "expired", timeline.finished(now), False, False
    if status in ("magnet_conversion", "magnet_error"):
        return "metaDL", False, False, True         # an unresolvable magnet stays so
    if status in ("waiting_files_selection", "queued"):
        return "queuedDL", False, False, True
    if status == "downloading":
        return "downloading", False, False, True
    if record.cached:
        return "cached", True, True, False
    ended, started = timeline.ended_at or 0.0, timeline.queue_end or 0.0
    present = now >= ended + max(PRESENT_MIN_SECONDS, PRESENT_SHARE * (ended - started))
    return "completed", True, present, not present


def file_json(record: TorrentRecord, file_id: int, path: str, size: int) -> dict[str, Any]:
    name = common.name_of(record, path)
    return {"id": file_id - 1, "md5": None, "hash": record.hash, "name": name, "size": size,
            "zipped": False, "s3_path": f"{record.hash}/{name}", "infected": False,
            "mimetype": render.mime_type(name), "short_name": posixpath.basename(name),
            "absolute_path": f"/torrents/{record.hash}/{name}", "opensubtitles_hash": None}


def torrent_json(record: TorrentRecord, now: float) -> dict[str, Any]:
    """A /torrents/mylist item: TorBox's integer id is the record's seq, file ids start
    at 0 and file names begin with the torrent's root folder."""
    state, finished, present, active = phase(record, now)
    timeline = record.timeline
    known = render.metadata_known(record, now)
    downloading = state == "downloading"
    progress = common.progress(record) / 100.0 if state != "cached" else 1.0
    speed = timeline.speed(record.bytes) if downloading else 0
    left = record.bytes * (1.0 - progress)
    expires = timeline.dead_at if state == "expired" else timeline.added + EXPIRY_SECONDS
    peers = seeders(record.hash) if state in ("downloading", "metaDL") and \
        common.status(record) != "magnet_error" else 0
    return {
        "id": record.seq, "auth_id": AUTH_ID, "server": 1, "hash": record.hash,
        "name": record.filename, "magnet": None, "size": record.original_bytes if known else 0,
        "active": active, "created_at": iso(timeline.added),
        "updated_at": iso(timeline.ended_at if finished else timeline.added),
        "download_state": state, "seeds": peers, "peers": peers, "ratio": 0.0,
        "progress": progress, "download_speed": speed, "upload_speed": 0,
        "eta": int(left / speed) if speed else 0, "torrent_file": False,
        "expires_at": iso(expires), "download_present": present,
        "download_finished": finished,
        "files": [file_json(record, f.id, f.path, f.bytes) for f in record.files] if known
        else [],
        "inactive_check": 0, "availability": 1.0 if peers or finished else 0.0,
        "cached": record.cached, "owner": AUTH_ID, "seed_torrent": False,
        "allow_zipped": False, "long_term_seeding": False, "tracker": None,
        "tracker_message": None, "total_uploaded": 0,
        "total_downloaded": record.bytes if finished else int(record.bytes * progress),
    }


def cached_json(entry: CatalogueEntry, list_files: bool) -> dict[str, Any]:
    """What /torrents/checkcached says of one cached hash."""
    item: dict[str, Any] = {"name": entry.name, "size": sum(f.bytes for f in entry.files),
                            "hash": entry.hash}
    if list_files:
        item["files"] = [{"name": f"{entry.name}/{f.path.lstrip('/')}", "size": f.bytes}
                         for f in entry.files]
    return item


def user_json(sandbox: Sandbox, with_settings: bool) -> dict[str, Any]:
    state = sandbox.state
    created = state.premium_until - 2 * 365 * 86400
    data: dict[str, Any] = {
        "id": 1000001, "auth_id": AUTH_ID, "created_at": iso(created),
        "updated_at": iso(created), "plan": PLAN_PRO, "total_downloaded": 0,
        "customer": "cus_sandbox", "is_subscribed": True,
        "premium_expires_at": iso(state.premium_until), "cooldown_until": iso(created),
        "email": "sandbox@example.invalid", "user_referral": AUTH_ID,
        "base_email": "sandbox@example.invalid", "total_bytes_downloaded": 0,
        "total_bytes_uploaded": 0, "torrents_downloaded": 0, "web_downloads_downloaded": 0,
        "usenet_downloads_downloaded": 0, "additional_concurrent_slots": 0,
        "long_term_seeding": False, "long_term_storage": False, "is_vendor": False,
        "vendor_id": None, "purchases_referred": 0,
    }
    if with_settings:
        data["settings"] = {"seed_torrents": 3, "allow_zipped": False, "jdownloader_enabled":
                            False, "webdav_flatten": False}
    return data


# -- limits ------------------------------------------------------------------------------------

class CreateLimiter:
    """TorBox's limit on createtorrent: `limit` per token in any `window` seconds of the
    sandbox clock (a moving window; refused calls are not counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}

    def take(self, token: str, limit: int, window: float, now: float) -> dict[str, str]:
        """The x-ratelimit headers after counting this create; TorBoxError 429 when the
        window is full."""
        with self._lock:
            hits = self._hits.setdefault(token, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                wait = max(1, math.ceil(hits[0] + window - now))
                raise TorBoxError(429, None, f"{limit} per {_window_words(window)}", {
                    **_headers(limit, 0, wait), "Retry-After": str(wait)}, success=None)
            hits.append(now)
            reset = max(1, math.ceil(hits[0] + window - now))
            return _headers(limit, limit - len(hits), reset)


def create_limiter(sandbox: Sandbox) -> CreateLimiter:
    limiter: CreateLimiter = sandbox.scratch.setdefault("torbox:creates", CreateLimiter())
    return limiter


def general_headers(sandbox: Sandbox, token: str) -> dict[str, str]:
    """x-ratelimit-* of the per-token request limit (none when it is off)."""
    per_minute = sandbox.options.rate_limit_per_minute
    if per_minute <= 0:
        return {}
    left, full_in = sandbox.limiter.remaining(token, per_minute)
    return _headers(per_minute, left, max(1, math.ceil(full_in)))


def rate_limited() -> Response:
    """The answer to a call over the per-token limit: 429 with Retry-After."""
    sandbox = current()
    per_minute = max(1, sandbox.options.rate_limit_per_minute)
    wait = max(1, math.ceil(60.0 / per_minute))
    headers = {**_headers(per_minute, 0, wait), "Retry-After": str(wait)}
    return TorBoxError(429, None, f"{per_minute} per 1 minute", headers,
                       success=None).response()


def _headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, remaining)),
            "x-ratelimit-reset": str(reset)}


def _window_words(seconds: float) -> str:
    """As the limiter words it: "60 per 1 hour"."""
    for unit, size in (("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} second"
