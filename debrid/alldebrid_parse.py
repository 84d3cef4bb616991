"""AllDebrid's answers read into the contract: error codes, statusCode values, magnets, and
the file tree of /v4/magnet/files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from core.ports import FailureCause, RemoteFile, RemoteStatus, RemoteTorrent
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

# AllDebrid's `error.code` strings (docs, the OpenAPI description and working clients).
ERROR_CODES: dict[str, type[DebridError]] = {
    "AUTH_MISSING_APIKEY": AuthError, "AUTH_BAD_APIKEY": AuthError, "AUTH_BLOCKED": AuthError,
    "AUTH_USER_BANNED": AuthError, "AUTH_MISSING_AGENT": AuthError, "AUTH_BAD_AGENT": AuthError,
    "MUST_BE_PREMIUM": PremiumRequired, "MAGNET_MUST_BE_PREMIUM": PremiumRequired,
    "FREE_TRIAL_LIMIT_REACHED": QuotaExceeded,
    "MAGNET_INVALID_ID": NotFound, "MAGNET_INVALID_URI": InvalidTorrent,
    "MAGNET_INVALID_FILE": InvalidTorrent, "MAGNET_NO_URI": InvalidTorrent,
    "MAGNET_TOO_MANY_ACTIVE": SlotsFull, "MAGNET_TOO_MANY": SlotsFull,
    "MAGNET_TOO_LARGE": InvalidTorrent, "MAGNET_MAGNET_TOO_BIG": InvalidTorrent,
    "MAGNET_CANT_BOOTSTRAP": InvalidTorrent, "MAGNET_PROCESSING_FAILED": InvalidTorrent,
    "MAGNET_TOOK_TOO_LONG": InvalidTorrent, "MAGNET_LINKS_REMOVED": LinkUnavailable,
    "MAGNET_UPLOAD_FAILED": ServiceUnavailable, "MAGNET_FILE_UPLOAD_FAILED": ServiceUnavailable,
    "MAGNET_INTERNAL_ERROR": ServiceUnavailable, "MAGNET_PROCESSING_COOLDOWN": ServiceUnavailable,
    "MAGNET_PROCESSING": ProtocolError, "MAGNET_NO_SERVER": ServiceUnavailable,
    "LINK_IS_MISSING": ProtocolError, "LINK_HOST_NOT_SUPPORTED": LinkUnavailable,
    "LINK_NOT_SUPPORTED": LinkUnavailable, "LINK_DOWN": LinkUnavailable,
    "LINK_PASS_PROTECTED": LinkUnavailable, "LINK_HOST_UNAVAILABLE": ServiceUnavailable,
    "LINK_TEMPORARY_UNAVAILABLE": ServiceUnavailable, "LINK_HOST_FULL": ServiceUnavailable,
    "LINK_ERROR": ServiceUnavailable, "LINK_TOO_MANY_DOWNLOADS": QuotaExceeded,
    "LINK_HOST_LIMIT_REACHED": QuotaExceeded, "DELAYED_INVALID_ID": LinkUnavailable,
    "REDIRECTOR_NOT_SUPPORTED": Unsupported, "REDIRECTOR_ERROR": ServiceUnavailable,
    "STREAM_INVALID_GEN_ID": ProtocolError, "STREAM_INVALID_STREAM_ID": ProtocolError,
    "NO_SERVER": ServiceUnavailable, "MAINTENANCE": ServiceUnavailable,
    "GENERIC": ServiceUnavailable, "404": Unsupported, "DISCONTINUED": Unsupported,
}
# When the body is not AllDebrid's envelope (an HTML 503 from its front), or names no code.
STATUS_FALLBACK: dict[int, type[DebridError]] = {
    401: AuthError, 403: AuthError, 404: NotFound, 429: RateLimited,
}
# {service}: who answered ("AllDebrid", or "the AllDebrid sandbox")
MESSAGES = {
    "AUTH_BAD_APIKEY": "{service} rejected the API key",
    "AUTH_MISSING_APIKEY": "{service} got no API key",
    "AUTH_BLOCKED": "{service} blocks this API key from this IP or country (confirm it in "
                    "the account's settings)",
    "MAGNET_TOO_MANY_ACTIVE": "{service}'s active magnet slots are full",
    "MAGNET_TOO_MANY": "{service} holds its maximum of magnets: delete some there",
    "NO_SERVER": "{service} refuses this feature from server and VPN addresses "
                 "(NO_SERVER): see https://alldebrid.com/vpn",
    "MAGNET_INVALID_ID": "{service} does not know this magnet",
    "404": "{service} no longer has this endpoint",
    "DISCONTINUED": "{service} discontinued this endpoint",
}
STATUSES = {0: RemoteStatus.QUEUED, 1: RemoteStatus.DOWNLOADING, 2: RemoteStatus.PROCESSING,
            3: RemoteStatus.PROCESSING, 4: RemoteStatus.READY}
FIRST_FAILURE = 5       # statusCode 5 and above are terminal
FAILURES = {5: FailureCause.ERROR, 6: FailureCause.ERROR, 7: FailureCause.TIMEOUT,
            8: FailureCause.TOO_LARGE, 9: FailureCause.ERROR, 10: FailureCause.TIMEOUT,
            11: FailureCause.DEAD, 12: FailureCause.ERROR, 13: FailureCause.ERROR,
            14: FailureCause.ERROR, 15: FailureCause.DEAD}


def error_from(error: object, http_status: int, service: str) -> DebridError:
    """An `{"code", "message"}` error object (of the envelope or of one magnet)."""
    fields = error if isinstance(error, dict) else {}
    code = str(fields.get("code", "")) or None
    text = str(fields.get("message", "")) or "no message"
    cls = (ERROR_CODES.get(code) if code else None) or STATUS_FALLBACK.get(http_status) or \
        (ServiceUnavailable if http_status >= 500 else ProtocolError)
    message = MESSAGES.get(code or "", "{service} error {code}: {text}")
    return cls(message.format(service=service, code=code, text=text), native_code=code,
               http_status=http_status)


def body_error(response: requests.Response, service: str) -> DebridError | None:
    """The error an answer carries (None for a success envelope); AllDebrid often sends its
    errors with HTTP 200."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
        if response.status_code < 400:
            return ProtocolError(f"{service} answered without its status envelope "
                                 f"({response.headers.get('Content-Type')})",
                                 http_status=response.status_code)
        cls = STATUS_FALLBACK.get(response.status_code,
                                  ServiceUnavailable if response.status_code >= 500
                                  else ProtocolError)
        return cls(f"HTTP {response.status_code} without {service}'s error body",
                   http_status=response.status_code)
    if body["status"] == "success" and response.status_code < 400:
        return None
    return error_from(body.get("error"), response.status_code, service)


def map_error(response: requests.Response, service: str = "AllDebrid") -> DebridError:
    """HTTP >= 400 (HttpClient calls this) in the one error hierarchy."""
    return body_error(response, service) or ProtocolError(
        f"HTTP {response.status_code} with a success envelope", http_status=response.status_code)


def data_of(response: requests.Response) -> dict[str, Any]:
    """`data` of a success envelope (errors were raised on the way in)."""
    try:
        data = response.json()["data"]
    except (ValueError, KeyError, TypeError):
        raise ProtocolError("AllDebrid answered without `data`",
                            http_status=response.status_code) from None
    if not isinstance(data, dict):
        raise ProtocolError("AllDebrid's `data` is not an object")
    return data


def parse_magnet(data: dict[str, Any], files: tuple[RemoteFile, ...] = ()) -> RemoteTorrent:
    """A /v4.1/magnet/status object; `files` from /v4/magnet/files once it is ready."""
    try:
        code = int(data["statusCode"])
        size = int(data.get("size") or 0)
        ready = code == 4
        status = RemoteStatus.FAILED if code >= FIRST_FAILURE else \
            STATUSES.get(code, RemoteStatus.PROCESSING)
        downloaded = int(data.get("downloaded") or 0)
        progress = 1.0 if ready else min(1.0, downloaded / size) if size > 0 else 0.0
        return RemoteTorrent(
            id=str(data["id"]), hash=str(data.get("hash") or "").lower(),
            name=str(data.get("filename") or ""), status=status, raw_status=str(code),
            progress=max(0.0, progress), size=size, speed=int(data.get("downloadSpeed") or 0),
            seeders=int(data["seeders"]) if data.get("seeders") is not None else None,
            files=files, added=_unix(data.get("uploadDate")),
            ended=_unix(data.get("completionDate")),
            failure=FAILURES.get(code, FailureCause.ERROR)
            if status is RemoteStatus.FAILED else None,
            message=str(data.get("status") or ""))
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected magnet object from AllDebrid: {exc!r}") from None


def _unix(value: object) -> float | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def parse_files(tree: object) -> tuple[RemoteFile, ...]:
    """The `files` tree flattened, sorted by path (AllDebrid's order changes between calls,
    so the root-relative path is the file's id). A multi-file torrent's tree is its root
    folder alone; paths are relative to it, as every provider's are."""
    if not isinstance(tree, list):
        raise ProtocolError("AllDebrid's magnet files are not a list")
    entries = tree
    if len(tree) == 1 and isinstance(tree[0], dict) and "e" in tree[0]:
        entries = tree[0]["e"]
    try:
        files = sorted(_walk(entries, ""), key=lambda f: f.path)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected file tree from AllDebrid: {exc!r}") from None
    return tuple(files)


def _walk(entries: object, folder: str) -> Iterator[RemoteFile]:
    if not isinstance(entries, list):
        raise TypeError("a folder's entries are not a list")
    for entry in entries:
        path = f"{folder}{entry['n']}"
        if "e" in entry:
            yield from _walk(entry["e"], f"{path}/")
        else:
            yield RemoteFile(id=path, path=path, size=int(entry.get("s") or 0), selected=True,
                             link=str(entry.get("l") or ""))
