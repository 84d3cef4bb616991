"""TorBox's answers read into the shared types: its error codes, download states, account."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import requests

from core.ports import Account, FailureCause, RemoteFile, RemoteStatus, RemoteTorrent
from debrid.base import (
    AuthError,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotFound,
    PremiumRequired,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
)

# Every code TorBox documents (`error` of its envelope). COOLDOWN_LIMIT is the plan's
# download cooldown (user/me cooldown_until), not a request rate: QuotaExceeded (retryable,
# and it must not pause the account's other calls as a 429 does). DUPLICATE_ITEM answers a
# re-add; the client turns it into the id of the torrent already there.
ERROR_CODES: dict[str, type[DebridError]] = {
    "NO_AUTH": AuthError, "BAD_TOKEN": AuthError, "AUTH_ERROR": AuthError,
    "OAUTH_VERIFICATION_ERROR": AuthError, "INVALID_DEVICE": AuthError,
    "VENDOR_DISABLED": AuthError, "BAD_CONFIRMATION": AuthError,
    "CONFIRMATION_EXPIRED": AuthError, "PLAN_RESTRICTED_FEATURE": PremiumRequired,
    "ACTIVE_LIMIT": SlotsFull, "MONTHLY_LIMIT": QuotaExceeded, "COOLDOWN_LIMIT": QuotaExceeded,
    "ITEM_NOT_FOUND": NotFound, "ENDPOINT_NOT_FOUND": Unsupported,
    "DOWNLOAD_TOO_LARGE": InvalidTorrent, "TOO_MUCH_DATA": InvalidTorrent,
    "BOZO_TORRENT": InvalidTorrent, "BOZO_NZB": InvalidTorrent,
    "DUPLICATE_ITEM": ProtocolError, "INVALID_OPTION": ProtocolError,
    "MISSING_REQUIRED_OPTION": ProtocolError, "TOO_MANY_OPTIONS": ProtocolError,
    "DIFF_ISSUE": ProtocolError, "BOZO_RSS_FEED": ProtocolError, "BOZO_REGEX": ProtocolError,
    "DOWNLOAD_SERVER_ERROR": ServiceUnavailable, "NO_SERVERS_AVAILABLE_ERROR": ServiceUnavailable,
    "DATABASE_ERROR": ServiceUnavailable, "UNKNOWN_ERROR": ServiceUnavailable,
    "REDIRECT_ERROR": ServiceUnavailable, "SELLIX_ERROR": ServiceUnavailable,
    "SEARCH_ERROR": ServiceUnavailable, "LINK_OFFLINE": LinkUnavailable,
}
# When the body names no code (its rate limiter's answers) or is not TorBox's envelope.
STATUS_FALLBACK: dict[int, type[DebridError]] = {
    400: ProtocolError, 401: AuthError, 403: AuthError, 404: NotFound, 429: RateLimited,
}
# The limiter's own words, "60 per 1 hour", sometimes without a 429 (observed).
_LIMIT_WORDS = re.compile(r"\b\d+\s+per\s+\d*\s*(second|minute|hour|day)", re.IGNORECASE)

# download_state values (lowercase, parenthesised text stripped), by what they mean while
# the download is not both finished and present. TorBox adds qBittorrent's own states.
STATES: dict[str, RemoteStatus] = {
    **dict.fromkeys(("metadl", "checkingresumedata", "allocating"), RemoteStatus.METADATA),
    **dict.fromkeys(("queueddl", "queued", "paused", "pauseddl", "stoppeddl", "checkingdl",
                     "checking"), RemoteStatus.QUEUED),
    **dict.fromkeys(("downloading", "forceddl", "stalled", "stalleddl", "forcedmetadl"),
                    RemoteStatus.DOWNLOADING),
    # "completed" is not done (TorBox's docs): READY needs download_finished and
    # download_present; before that it is still being moved to storage.
    **dict.fromkeys(("completed", "cached", "uploading", "downloaded", "stalledup",
                     "queuedup", "pausedup", "stoppedup", "forcedup", "checkingup", "moving"),
                    RemoteStatus.PROCESSING),
}
FAILED_STATES = {"error": FailureCause.ERROR, "expired": FailureCause.DEAD,
                 "missing": FailureCause.DEAD, "missingfiles": FailureCause.DEAD,
                 "dead": FailureCause.DEAD}
# Words in a "failed (...)" state, for the cause.
_CAUSE_WORDS = ((FailureCause.TOO_LARGE, ("large", "size")),
                (FailureCause.VIRUS, ("virus", "infected", "malware")),
                (FailureCause.INFRINGING, ("dmca", "copyright", "infring", "blocked")),
                (FailureCause.TIMEOUT, ("timeout", "timed out", "too long")),
                (FailureCause.MAGNET_ERROR, ("metadata", "magnet")),
                (FailureCause.DEAD, ("no seeds", "dead", "unavailable")))
_PARENS = re.compile(r"\s*\(.*?\)\s*")
PLANS = {0: "free", 1: "essential", 2: "pro", 3: "standard"}
PLAN_SLOTS = {1: 3, 2: 10, 3: 5}   # not in the API: TorBox's pricing (decypharr's table)


def error_from_body(status: int, body: Mapping[str, Any], service: str = "TorBox",
                    retry_after: float | None = None) -> DebridError:
    """A `{success: false, error, detail}` answer (at any HTTP status) as our error."""
    code = body.get("error") if isinstance(body.get("error"), str) and body.get("error") \
        else None
    detail = str(body.get("detail") or "").strip()
    cls = ERROR_CODES.get(code) if code else None
    if cls is None:
        if status == 429 or _LIMIT_WORDS.search(detail):
            cls = RateLimited
        else:
            cls = STATUS_FALLBACK.get(status) or (ServiceUnavailable if status >= 500
                                                  else ProtocolError)
    what = f"{service} {code}" if code else service
    if cls is RateLimited:
        what = f"{service} rate limit reached"
    message = f"{what}: {detail}" if detail else f"{what} (HTTP {status})"
    return cls(message, native_code=code, http_status=status, retry_after=retry_after)


def map_error(response: requests.Response, service: str = "TorBox") -> DebridError:
    """An HTTP error answer as our error: by its `error` code, else by its status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ({"success", "error", "detail"} & body.keys()):
        return error_from_body(response.status_code, body, service,
                               retry_after_of(response.headers))
    cls = STATUS_FALLBACK.get(response.status_code,
                              ServiceUnavailable if response.status_code >= 500
                              else ProtocolError)
    return cls(f"HTTP {response.status_code} without {service}'s error body",
               http_status=response.status_code)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Retry-After in seconds (TorBox sends seconds; up to the hour of its create limit)."""
    try:
        seconds = float(str(headers.get("Retry-After", "")).strip())
    except ValueError:
        return None
    return seconds if 0 < seconds <= 86400 else None


def timestamp(value: object) -> float | None:
    """TorBox's ISO 8601 dates as unix time; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def status_of(raw: str, finished: bool, present: bool) -> tuple[RemoteStatus, FailureCause | None]:
    """A download_state and the two flags as our status (and the cause when failed)."""
    state = _PARENS.sub("", raw).strip().lower()
    cause = FAILED_STATES.get(state)
    if cause is None and state.startswith(("failed", "error")):
        inside = raw.lower()
        cause = next((c for c, words in _CAUSE_WORDS if any(w in inside for w in words)),
                     FailureCause.ERROR)
    if cause is not None:
        return RemoteStatus.FAILED, cause
    if finished and present:
        return RemoteStatus.READY, None
    if finished:
        return RemoteStatus.PROCESSING, None
    return STATES.get(state, RemoteStatus.DOWNLOADING), None


def file_path(name: str) -> str:
    """A file's `name` without the torrent's root folder TorBox puts first."""
    name = name.strip("/")
    return name.split("/", 1)[1] if "/" in name else name


def parse_torrent(data: Mapping[str, Any], *, with_files: bool = True) -> RemoteTorrent:
    """A /torrents/mylist object. File links are `<torrent id>/<file id>` references that
    resolve_link turns into a requestdl link; they are set once the download is ready."""
    try:
        torrent_id = str(data["id"])
        raw = str(data.get("download_state") or "")
        finished, present = bool(data.get("download_finished")), bool(data.get("download_present"))
        status, cause = status_of(raw, finished, present)
        progress = float(data.get("progress") or 0.0)
        progress = progress / 100.0 if progress > 1.0 else progress
        ready = status is RemoteStatus.READY
        files = tuple(
            RemoteFile(id=str(f["id"]), path=file_path(str(f["name"])), size=int(f["size"]),
                       selected=True, link=f"{torrent_id}/{f['id']}" if ready else "")
            for f in (data.get("files") or []) if with_files)
        seeds = data.get("seeds")
        return RemoteTorrent(
            id=torrent_id, hash=str(data.get("hash") or "").lower(),
            name=str(data.get("name") or ""), status=status, raw_status=raw,
            progress=1.0 if ready else max(0.0, min(1.0, progress)),
            size=int(data.get("size") or 0), speed=int(data.get("download_speed") or 0),
            seeders=int(seeds) if seeds is not None else None, files=files,
            links=tuple(f.link for f in files if f.link),
            added=timestamp(data.get("created_at")),
            ended=timestamp(data.get("updated_at")) if ready else None,
            failure=cause, message=raw if cause is not None else "")
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected torrent object from TorBox: {exc!r}") from None


def parse_account(data: Mapping[str, Any]) -> Account:
    """/user/me: the plan, premium-until and the download cooldown."""
    now = time.time()
    plan = int(data.get("plan") or 0)
    expires = str(data.get("premium_expires_at") or "")
    until = timestamp(expires)
    notes = [f"plan: {PLANS.get(plan, str(plan))}"]
    cooldown = timestamp(data.get("cooldown_until"))
    if cooldown is not None and cooldown > now:
        notes.append(f"download cooldown until {data.get('cooldown_until')}")
    slots = PLAN_SLOTS.get(plan)
    extra = int(data.get("additional_concurrent_slots") or 0)
    return Account(username=str(data.get("email") or data.get("id") or ""),
                   premium=plan > 0 and (until is None or until > now), expires_at=expires,
                   slots_max=slots + extra if slots is not None else None, notes=tuple(notes))
