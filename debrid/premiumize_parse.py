"""Premiumize's answers read into the contract: error messages, transfers, status values."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import requests

from core.ports import FailureCause, RemoteFile, RemoteStatus, RemoteTorrent
from debrid.base import (
    AuthError,
    Blocked,
    DebridError,
    InvalidTorrent,
    NotCached,
    NotFound,
    PremiumRequired,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
)

DUPLICATE = "already_added"
GENERIC = "try_again"
# Premiumize's errors carry no code, only a message (usually with HTTP 200), so they are
# told apart by their words; the first pattern that matches (case-insensitively) wins. The
# native_code set on the error is the key in the middle. Sources: the API documentation,
# stremthru, decypharr, rdt-client and premiumizer (the messages those clients match).
MESSAGES: tuple[tuple[str, str, type[DebridError]], ...] = (
    (r"^not logged in", "not_logged_in", AuthError),   # "Not logged in." (older: "... Please
    (r"invalid (api ?key|token)|unauthori[sz]ed", "bad_key", AuthError),   # log in first.")
    (r"account not premium", "not_premium", PremiumRequired),
    (r"fair use limit", "fair_use", QuotaExceeded),               # "Fair use limit reached!"
    (r"maximum of \d+ active downloads", "active_limit", SlotsFull),
    (r"already added this job", DUPLICATE, ProtocolError),         # the add answers that one
    (r"src not compatible|invalid (magnet|torrent|src)|not a valid torrent",
     "bad_source", InvalidTorrent),
    (r"too (big|large)", "too_large", InvalidTorrent),
    (r"banned|infring|dmca|copyright", "banned", Blocked),
    (r"not (in )?cached?\b", "not_cached", NotCached),
    (r"not found|does not exist|invalid (item |file |folder |transfer )?id|no such",
     "not_found", NotFound),
    (r"too many requests|rate limit|slow.?down", "rate_limited", RateLimited),
    (r"an error occured|try again|temporar|maintenance|unavailable|overload",
     GENERIC, ServiceUnavailable),
)
_MESSAGES = tuple((re.compile(pattern, re.IGNORECASE), code, cls)
                  for pattern, code, cls in MESSAGES)
# When the body says nothing we recognise: what the HTTP status means. 521 is Cloudflare's
# "web server is down", which Premiumize answers when it is.
STATUS_FALLBACK: dict[int, type[DebridError]] = {
    401: AuthError, 403: AuthError, 404: NotFound, 413: InvalidTorrent, 429: RateLimited,
}

STATUSES = {
    "waiting": RemoteStatus.METADATA,        # fetching the magnet's metadata
    "queued": RemoteStatus.QUEUED,
    "running": RemoteStatus.DOWNLOADING,
    "finished": RemoteStatus.READY,          # READY only once its files have links
    "seeding": RemoteStatus.READY,
    "error": RemoteStatus.FAILED,
    "timeout": RemoteStatus.FAILED,
    "deleted": RemoteStatus.FAILED,
    "banned": RemoteStatus.FAILED,
}
FAILURES = {"error": FailureCause.ERROR, "timeout": FailureCause.TIMEOUT,
            "deleted": FailureCause.DEAD, "banned": FailureCause.INFRINGING}
ACTIVE_STATUSES = frozenset({"waiting", "queued", "running"})   # what takes a download slot
_BTIH = re.compile(r"urn:btih:([0-9a-f]{40}|[a-z2-7]{32})(?![0-9a-z])", re.IGNORECASE)
_HEX40 = re.compile(r"[0-9a-f]{40}", re.IGNORECASE)
_SPEED = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?i?b)/s", re.IGNORECASE)
_PEERS = re.compile(r"(\d+)\s+peers?\b", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


def map_message(message: str, service: str = "Premiumize") -> DebridError:
    """One of Premiumize's error messages as our error, its words kept in the message."""
    text = message.strip() or "no message"
    for pattern, code, cls in _MESSAGES:
        if pattern.search(text):
            return cls(f"{service}: {text}", native_code=code)
    return ProtocolError(f"{service} answered an error it does not document: {text}",
                         native_code="unknown")


def map_error(response: requests.Response, service: str = "Premiumize") -> DebridError:
    """An HTTP error (>= 400): its JSON message if recognised, else what the status means."""
    status = response.status_code
    message = ""
    try:
        body = response.json()
        if isinstance(body, dict):
            message = str(body.get("message") or body.get("error") or "")
    except ValueError:
        pass
    if message:
        error = map_message(message, service)
        if not isinstance(error, ProtocolError) or error.native_code == DUPLICATE:
            error.http_status = status
            if error.native_code == GENERIC:   # "An error occured": not a coded refusal, an
                error.native_code = None       # add behind it may have taken effect
            return error
    cls = STATUS_FALLBACK.get(status) or (ServiceUnavailable if status >= 500 else ProtocolError)
    what = f"{service} is down (HTTP 521)" if status == 521 else \
        f"{service} answered HTTP {status}" + (f": {message}" if message else "")
    return cls(what, http_status=status)


def info_hash_of_magnet(src: str) -> str:
    """The v1 info-hash in a magnet (or a bare 40-hex hash) as lowercase hex; "" if none."""
    if _HEX40.fullmatch(src.strip()):
        return src.strip().lower()
    match = _BTIH.search(src)
    if match is None:
        return ""
    value = match.group(1)
    if len(value) == 40:
        return value.lower()
    try:
        return base64.b32decode(value.upper()).hex()
    except binascii.Error:
        return ""


@dataclass(frozen=True)
class Transfer:
    """One item of /transfer/list. `hash` comes from `src` (a magnet, when it is one)."""

    id: str
    name: str
    status: str
    progress: float | None
    message: str
    src: str
    folder_id: str
    file_id: str
    created: float | None
    hash: str


def _text(value: object) -> str:
    return "" if value is None else str(value)


def parse_transfer(item: Any) -> Transfer:
    if not isinstance(item, dict) or not item.get("id") or not item.get("status"):
        raise ProtocolError("transfer/list listed a transfer without an id or a status")
    try:
        progress = None if item.get("progress") is None else float(item["progress"])
        created = float(item["created_at"]) if item.get("created_at") else None
    except (TypeError, ValueError):
        raise ProtocolError(f"transfer {item['id']} has a progress or date that is not a "
                            "number") from None
    src = _text(item.get("src"))
    return Transfer(id=str(item["id"]), name=_text(item.get("name")),
                    status=str(item["status"]).lower(), progress=progress,
                    message=_text(item.get("message")), src=src,
                    folder_id=_text(item.get("folder_id")), file_id=_text(item.get("file_id")),
                    created=created, hash=info_hash_of_magnet(src))


def _speed(message: str) -> int:
    """Bytes per second from a running transfer's message ("Downloading at 2.5 MB/s ...")."""
    match = _SPEED.search(message)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()]) if match else 0


def remote_torrent(transfer: Transfer, files: list[RemoteFile] | None) -> RemoteTorrent:
    """The contract's view of a transfer; `files` is None in listings (not read). A finished
    transfer whose cloud files are not all linked yet is PROCESSING, not READY."""
    raw = transfer.status
    status = STATUSES.get(raw, RemoteStatus.PROCESSING)
    if status is RemoteStatus.READY and files is not None and \
            (not files or not all(f.link for f in files)):
        status = RemoteStatus.PROCESSING
    done = raw in ("finished", "seeding")
    progress = transfer.progress if transfer.progress is not None else (1.0 if done else 0.0)
    running = raw == "running"
    peers = _PEERS.search(transfer.message) if running else None
    return RemoteTorrent(
        id=transfer.id, hash=transfer.hash, name=transfer.name, status=status, raw_status=raw,
        progress=max(0.0, min(1.0, progress)), size=sum(f.size for f in files or ()),
        speed=_speed(transfer.message) if running else 0,
        seeders=int(peers.group(1)) if peers else None, files=tuple(files or ()),
        links=tuple(f.link for f in files or () if f.link), added=transfer.created,
        failure=FAILURES.get(raw, FailureCause.ERROR) if status is RemoteStatus.FAILED
        else None, message=transfer.message)
