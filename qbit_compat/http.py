"""qBittorrent's wire format: text and JSON bodies, headers, parameters, and error mapping."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from flask import Response, current_app
from werkzeug.datastructures import MultiDict

from core.errors import (
    CategoryExists,
    CategoryNotFound,
    DebridgeError,
    EmptyCategoryName,
    InvalidCategoryName,
    InvalidFileId,
    InvalidInput,
    InvalidPath,
    InvalidPriority,
    InvalidSavePath,
    InvalidTorrentFile,
    InvalidTorrentName,
    InvalidTrackerUrl,
    LoginBanned,
    MetadataMissing,
    QueueingDisabled,
    SelectionLocked,
    TooManySources,
    TorrentNotFound,
    TrackerExists,
    TrackerNotFound,
)
from core.services import EXTENSION_KEY, Services

TEXT = "text/plain; charset=UTF-8"
# Sent on every answer (the Content-Security-Policy depends on the persona).
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "X-XSS-Protection": "1; mode=block",
}
BAN_MESSAGE = "Your IP address has been banned after too many failed authentication attempts."
MAX_INT_TEXT = 20


class QbitError(Exception):
    """An answer with a status and qBittorrent's text body."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def bad_request(body: str = "Bad Request") -> QbitError:
    return QbitError(400, body)


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def text(body: str = "", status: int = 200) -> Response:
    return Response(body, status=status, content_type=TEXT)


def encode(data: Any) -> bytes:
    """Compact JSON with sorted keys, as QJsonDocument writes it. Doubles must already be
    written the Qt way (serialize.qt: 1.0 as 1) by whoever builds `data`."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def json_response(data: Any) -> Response:
    return json_bytes_response(encode(data))


def json_bytes_response(body: bytes) -> Response:
    return Response(body, status=200, content_type="application/json")


BATCH = 256   # items encoded per call: each orjson result keeps a buffer of ~16 KiB


def _batches(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def json_array(items: Iterable[Any]) -> bytes:
    """A JSON array encoded a batch at a time, so a long listing never holds every item."""
    return b"[" + b",".join(encode(batch)[1:-1] for batch in _batches(items)) + b"]"


def json_mapping(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """A JSON object from (key, value) pairs given in sorted key order, encoded a batch at a
    time (the value objects of one batch at most are alive at once)."""
    return b"{" + b",".join(encode(dict(batch))[1:-1] for batch in _batches(pairs)) + b"}"


def json_object(pairs: Iterable[tuple[str, bytes]]) -> bytes:
    """A JSON object from (key, encoded value) pairs; the caller gives the keys sorted."""
    return b"{" + b",".join(encode(key) + b":" + value for key, value in pairs) + b"}"


def error_response(exc: Exception) -> Response:
    """Every domain error becomes qBittorrent's status and body here, in one place."""
    if isinstance(exc, QbitError):
        return text(exc.body, exc.status)
    if isinstance(exc, TorrentNotFound):
        return text("Not Found", 404)
    if isinstance(exc, InvalidTorrentFile):
        return text(f"Error: '{exc.filename}' is not a valid torrent file.", 415)
    if isinstance(exc, TooManySources):
        return text(f"Too many torrents in one request (at most {exc.limit})", 400)
    if isinstance(exc, EmptyCategoryName):
        return text("Category cannot be empty", 400)
    if isinstance(exc, InvalidCategoryName | CategoryNotFound):
        return text("Incorrect category name", 409)
    if isinstance(exc, CategoryExists):
        return text("Unable to create category", 409)
    if isinstance(exc, LoginBanned):
        return text(f"{BAN_MESSAGE} Banned until {exc.until_text}.", 403)
    if isinstance(exc, InvalidTorrentName):
        return text("Incorrect torrent name", 409)
    if isinstance(exc, InvalidSavePath):
        return text("Save path cannot be empty", 400)
    if isinstance(exc, InvalidFileId):
        return (text("File ID is not valid", 409) if exc.numeric
                else text("File IDs must be integers", 400))
    if isinstance(exc, InvalidPriority):
        return text("Priority is not valid", 400)
    if isinstance(exc, MetadataMissing):
        return text("Torrent's metadata has not yet downloaded", 409)
    if isinstance(exc, SelectionLocked):
        return text("The provider has already selected this torrent's files: Debridge can "
                    "drop a file now but not add one", 409)
    if isinstance(exc, InvalidPath):
        return text(str(exc), 409)
    if isinstance(exc, InvalidTrackerUrl):
        return text("New tracker URL is invalid", 400)
    if isinstance(exc, TrackerExists):
        return text("New tracker URL already exists", 409)
    if isinstance(exc, TrackerNotFound):
        return text("Tracker not found", 409)
    if isinstance(exc, QueueingDisabled):
        return text("Torrent queueing must be enabled", 409)
    if isinstance(exc, InvalidInput):
        return text("Bad Request", 400)
    if isinstance(exc, DebridgeError):
        # anything else: its own status, with qBittorrent's kind of body (the reason phrase)
        return text(HTTPStatus(exc.status).phrase, exc.status)
    raise exc


# -- parameters -------------------------------------------------------------------------------
def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise bad_request()
    return value


def flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    """qBittorrent parses booleans case-insensitively; anything but 'true' is false."""
    value = params.get(name)
    return default if value is None else value.strip().lower() == "true"


def integer(params: Mapping[str, str], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value.strip() == "":
        return default
    if len(value) > MAX_INT_TEXT:
        raise bad_request()
    try:
        return int(value.strip())
    except ValueError:
        raise bad_request() from None


def number(params: Mapping[str, str], name: str, default: float) -> float:
    """A float parameter; malformed values fall back to the default, as qBittorrent does."""
    value = params.get(name)
    if value is None or len(value) > MAX_INT_TEXT:
        return default
    try:
        parsed = float(value)
    except ValueError:
        return default
    return parsed if math.isfinite(parsed) else default


def split_hashes(value: str) -> list[str] | None:
    """`a|b|c` as sent (stripped), or None for `all` (every torrent)."""
    if value.strip().lower() == "all":
        return None
    return [h.strip() for h in value.split("|") if h.strip()]


def hash_list(params: Mapping[str, str], name: str = "hashes") -> list[str] | None:
    """The `hashes` (or `id`) parameter: info-hashes, case-insensitive, or None for `all`;
    400 when missing."""
    hashes = split_hashes(required(params, name))
    return None if hashes is None else [h.lower() for h in hashes]


def form_or_query(method: str, form: MultiDict[str, str],
                  args: MultiDict[str, str]) -> MultiDict[str, str]:
    """GET reads only the query string; POST only the body (capture 85)."""
    return form if method == "POST" else args
