"""Debrid-Link API v2 client (https://debrid-link.com/api/v2): its seedbox, over requests."""

from __future__ import annotations

import functools
import logging
import posixpath
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import requests

from core.ports import (
    Account,
    BudgetStore,
    CacheCheck,
    Capabilities,
    DirectLink,
    FailureCause,
    RemoteFile,
    RemoteStatus,
    RemoteTorrent,
)
from core.provider_kinds import ProviderKind
from debrid.base import (
    AuthError,
    ClientConfig,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotFound,
    PremiumRequired,
    ProtocolError,
    ProviderBase,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
    _retry_after,
)

log = logging.getLogger(__name__)
API_ROOT = "https://debrid-link.com/api/v2"
PER_PAGE_MIN, PER_PAGE_MAX = 20, 100   # what /seedbox/list accepts as perPage
# Debrid-Link does not say how long a file's downloadUrl lives; resolving again is one
# /seedbox/list call, so a link is re-read after this long (or as soon as it fails).
LINK_CACHE_SECONDS = 6 * 3600.0
KIND = ProviderKind(
    type="debridlink", label="Debrid-Link", needs_key=True,
    per_minute=250,                     # not published; what clients use without floods
    capabilities=Capabilities(cache_check=CacheCheck.PROBE, add_only_if_cached=False,
                              file_selection=False, active_slots=False, link_step=False,
                              link_lifetime_seconds=None),     # unsaid
    key_help="https://debrid-link.com/webapp/apikey", api_root=API_ROOT)

# Every error key of https://debrid-link.com/api_doc/v2/errors (and maxTransfer, seen in
# clients), onto our hierarchy. The key decides; the HTTP status only when the key is unknown.
ERROR_CODES: dict[str, type[DebridError]] = {
    # the token or the account
    "badToken": AuthError, "badSign": AuthError, "hidedToken": AuthError,
    "expired_token": AuthError, "accountLocked": AuthError, "maxAttempts": AuthError,
    "captchaRequired": AuthError, "access_denied": AuthError,
    "authorization_pending": AuthError, "invalid_client": AuthError,
    "invalid_scope": AuthError, "unauthorized_client": AuthError,
    "unsupported_grant_type": AuthError, "unsupported_response_type": AuthError,
    # a datacenter or VPN address: only the user can fix it (ask Debrid-Link, move the app)
    "serverNotAllowed": AuthError, "disabledServerHost": AuthError,
    "notFreeHost": PremiumRequired,
    # our request
    "badArguments": ProtocolError, "invalid_request": ProtocolError, "unknowR": Unsupported,
    "badId": NotFound,
    # adds
    "notAddTorrent": InvalidTorrent, "torrentTooBig": InvalidTorrent,
    "maxTorrent": SlotsFull,
    # allowances
    "maxData": QuotaExceeded, "maxDataHost": QuotaExceeded, "maxLink": QuotaExceeded,
    "maxLinkHost": QuotaExceeded, "maxTransfer": QuotaExceeded,
    "floodDetected": RateLimited,
    # files and hosters
    "fileNotFound": NotFound, "fileNotAvailable": LinkUnavailable,
    "badFileUrl": LinkUnavailable, "badFilePassword": LinkUnavailable,
    "notDebrid": LinkUnavailable, "hostNotValid": Unsupported,
    # the service
    "internalError": ServiceUnavailable, "server_error": ServiceUnavailable,
    "freeServerOverload": ServiceUnavailable, "maintenanceHost": ServiceUnavailable,
    "noServerHost": ServiceUnavailable,
}
# When the body is not Debrid-Link's envelope, or names a key we do not know.
STATUS_FALLBACK: dict[int, type[DebridError]] = {
    401: AuthError, 403: AuthError, 404: NotFound, 429: RateLimited,
}
# {service}: who answered ("Debrid-Link", or the sandbox standing in for it)
MESSAGES = {
    "badToken": "{service} rejected the API key (unknown, revoked or expired)",
    "hidedToken": "{service} has this API key disabled",
    "expired_token": "{service} says the token has expired",
    "accountLocked": "the {service} account is locked",
    "serverNotAllowed": "{service} refuses calls from a server or VPN address (ask its "
                        "support to allow this one, or run Debridge elsewhere)",
    "disabledServerHost": "{service} refuses this hoster from a server or VPN address",
    "floodDetected": "{service} rate limit reached (floodDetected)",
    "maxTorrent": "{service}'s torrent limit for today is reached",
    "maxData": "{service}'s daily traffic limit is reached",
    "maxLink": "{service}'s daily link limit is reached",
    "maxTransfer": "{service}'s transfer limit is reached",
    "torrentTooBig": "the torrent is too big (or has too many files) for {service}",
    "notAddTorrent": "{service} could not add the torrent",
    "badArguments": "{service} refused the request's arguments",
    "badId": "{service} does not know this id",
    "unknowR": "{service} has no such endpoint",
    "fileNotFound": "{service} says the file is gone",
    "fileNotAvailable": "{service} says the file is unavailable for now",
    "freeServerOverload": "{service} has no server free for free accounts",
    "internalError": "{service} internal error",
}
STATUS_WORDS = {0: "stopped", 1: "check queued", 2: "checking", 3: "download queued",
                4: "downloading", 5: "seed queued", 6: "seeding", 100: "stored"}
STATUSES = {0: RemoteStatus.QUEUED, 1: RemoteStatus.QUEUED, 2: RemoteStatus.QUEUED,
            3: RemoteStatus.QUEUED, 4: RemoteStatus.DOWNLOADING, 5: RemoteStatus.READY,
            6: RemoteStatus.READY, 100: RemoteStatus.READY}
DONE = frozenset({5, 6, 100})        # downloaded (seeding or stored): the files are there
ACTIVE = frozenset({RemoteStatus.METADATA, RemoteStatus.QUEUED, RemoteStatus.DOWNLOADING,
                    RemoteStatus.PROCESSING})
# errorString is free text; these words tell why (first match wins)
FAILURE_WORDS: tuple[tuple[tuple[str, ...], FailureCause], ...] = (
    (("metadata", "magnet"), FailureCause.MAGNET_ERROR),
    (("infring", "copyright", "dmca", "not allowed", "banned"), FailureCause.INFRINGING),
    (("too big", "too large", "too many files"), FailureCause.TOO_LARGE),
    (("virus", "malware"), FailureCause.VIRUS),
    (("timeout", "timed out", "too long"), FailureCause.TIMEOUT),
    (("no longer", "removed", "deleted", "dead", "no peer", "no seed", "not found"),
     FailureCause.DEAD),
)


def envelope_error(body: dict[str, Any], status: int,
                   service: str = "Debrid-Link") -> DebridError:
    """A `{"success": false, "error": key, ...}` answer (whatever its HTTP status) as our
    error; the message names `service`, the one that answered."""
    code = str(body.get("error") or "")
    cls = ERROR_CODES.get(code) or STATUS_FALLBACK.get(status) or \
        (ServiceUnavailable if status >= 500 else ProtocolError)
    text = MESSAGES.get(code, "{service} error {code}" if code else "{service} refused it")
    text = text.format(service=service, code=code)
    description = body.get("error_description")
    if isinstance(description, str) and description:
        text = f"{text}: {description}"
    if code == "hidedToken" and isinstance(body.get("validTokenUrl"), str):
        text = f"{text}; enable it at {body['validTokenUrl']}"
    return cls(text, native_code=code or None, http_status=status)


def map_error(response: requests.Response, service: str = "Debrid-Link") -> DebridError:
    """An HTTP error answer (>= 400) as our error, from its envelope when it has one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("success") is False:
        return envelope_error(body, response.status_code, service)
    cls = STATUS_FALLBACK.get(response.status_code,
                              ServiceUnavailable if response.status_code >= 500
                              else ProtocolError)
    return cls(f"HTTP {response.status_code} without {service}'s error body",
               http_status=response.status_code)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProtocolError(f"expected JSON, got {response.headers.get('Content-Type')}",
                            http_status=response.status_code) from None


def _failure(text: str) -> FailureCause:
    lowered = text.lower()
    for words, cause in FAILURE_WORDS:
        if any(word in lowered for word in words):
            return cause
    return FailureCause.ERROR


def parse_torrent(data: dict[str, Any]) -> RemoteTorrent:
    """A torrent object of /seedbox/list or /seedbox/add. A file's `id` is its 1-based place
    in the torrent, as a .torrent numbers its files (Debrid-Link lists them in torrent order);
    its `link`, set once it has a URL, is `<torrent id>/<Debrid-Link's file id>`, a stable
    reference that resolve_link turns into the current URL."""
    try:
        torrent_id = str(data["id"])
        code = int(data["status"])
        error = int(data.get("error") or 0)
        files = [f for f in data.get("files") or [] if isinstance(f, dict)]
        percent = float(data.get("downloadPercent") or 0)
        remote_files = tuple(
            RemoteFile(id=str(place), path=str(f["name"]).lstrip("/"),
                       size=int(f.get("size") or 0), selected=True,
                       link=f"{torrent_id}/{f['id']}" if f.get("downloadUrl") else "")
            for place, f in enumerate(files, start=1))
        message = str(data.get("errorString") or "")
        if error and code not in DONE:
            # a tracker warning on a finished torrent changes nothing: its files are there
            status = RemoteStatus.FAILED
        elif code in DONE or percent >= 100:
            status = RemoteStatus.READY
        elif not files:
            status = RemoteStatus.METADATA       # added async: the metadata is on its way
        else:
            status = STATUSES.get(code, RemoteStatus.PROCESSING)
        created = int(data.get("created") or 0)
        return RemoteTorrent(
            id=torrent_id, hash=str(data.get("hashString") or "").lower(),
            name=str(data.get("name") or ""), status=status,
            raw_status=STATUS_WORDS.get(code, f"status {code}") + (f", error {error}"
                                                                 if error else ""),
            progress=1.0 if status is RemoteStatus.READY else max(0.0, min(1.0, percent / 100)),
            size=int(data.get("totalSize") or 0), speed=int(data.get("downloadSpeed") or 0),
            seeders=int(data.get("peersConnected") or 0) if code == 4 else None,
            files=remote_files, added=float(created) if created > 0 else None,
            failure=_failure(message) if status is RemoteStatus.FAILED else None,
            message=message)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected torrent object from Debrid-Link: {exc}") from None


class DebridLink(ProviderBase):
    """One Debrid-Link account (or anything speaking its API, such as the sandbox)."""

    capabilities = KIND.capabilities

    def __init__(self, *, name: str, api_key: str, base_url: str = "", timeout: float = 30.0,
                 attempts: int = 3, session: requests.Session | None = None,
                 per_minute: int = 0, store: BudgetStore | None = None,
                 service: str = "Debrid-Link") -> None:
        """`service` names who answers in error messages (the sandbox, say)."""
        self.name = name
        self.service = service
        config = ClientConfig(name=name, api_key=api_key, base_url=base_url, timeout=timeout,
                              per_minute=per_minute, store=store, attempts=attempts,
                              session=session)
        self.http = self.client(config, api_key, name,
                                functools.partial(map_error, service=service), API_ROOT)

    @classmethod
    def build(cls, config: ClientConfig) -> DebridLink:
        if config.download_api_keys:
            log.warning("provider %s: Debrid-Link files carry direct links, so "
                        "download_api_keys are not used", config.name)
        return cls(name=config.name, api_key=config.api_key, base_url=config.base_url,
                   timeout=config.timeout, attempts=config.attempts, session=config.session,
                   per_minute=config.per_minute, store=config.store,
                   service=config.service or KIND.label)

    def _call(self, method: str, path: str, *, idempotent: bool,
              **kwargs: Any) -> dict[str, Any]:
        """The envelope of a successful call. Debrid-Link may refuse with HTTP 200 and
        `success: false`: that raises the mapped error as an HTTP error would, and a flood
        refusal blocks the request budget and is retried as a 429 is (it took no effect)."""
        attempt = 1
        while True:
            response = self.http.request(method, path, idempotent=idempotent, **kwargs)
            body = _json(response)
            if isinstance(body, dict) and body.get("success") is True:
                return body
            endpoint = path.split("?")[0]
            if not isinstance(body, dict) or "success" not in body:
                raise ProtocolError(f"{endpoint} answered without {self.service}'s envelope",
                                    provider=self.name, http_status=response.status_code)
            error = envelope_error(body, response.status_code, self.service)
            error.provider, error.retry_after = self.name, _retry_after(response)
            log.info("provider %s: %s %s -> HTTP %d %s", self.name, method, endpoint,
                     response.status_code, error.message)
            if isinstance(error, RateLimited):
                if self.http.budget is not None:
                    self.http.budget.rate_limited(error.retry_after)
                if attempt < self.http.attempts:
                    attempt += 1
                    if self.http.budget is None:     # else the budget's block paces it
                        time.sleep(min(error.retry_after or float(attempt), self.http.max_wait))
                    continue
            raise error

    # -- torrents -------------------------------------------------------------------------------
    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        # async: answer at once, without waiting for the metadata (the poll sees it come)
        return self._add(json={"url": magnet, "async": True, "structureType": "list"})

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        return self._add(files={"file": ("upload.torrent", data, "application/x-bittorrent")},
                         data={"structureType": "list"})

    def _add(self, **kwargs: Any) -> str:
        try:
            body = self._call("POST", "seedbox/add", idempotent=False, **kwargs)
        except ProtocolError as exc:
            if exc.native_code != "badArguments":
                raise
            # the magnet or the file is what an add sends: bad arguments are a bad torrent
            raise InvalidTorrent(exc.message, provider=self.name, native_code=exc.native_code,
                                 http_status=exc.http_status) from None
        value = body.get("value")
        if not isinstance(value, dict) or not value.get("id"):
            raise ProtocolError("seedbox/add answered without a torrent id", provider=self.name)
        return str(value["id"])

    def _torrent_data(self, torrent_id: str) -> dict[str, Any]:
        body = self._call("GET", "seedbox/list", idempotent=True, params={"ids": torrent_id})
        for item in _items(body):
            if str(item.get("id")) == torrent_id:
                return item
        raise NotFound(f"{self.service} has no torrent {torrent_id}", provider=self.name)

    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        return parse_torrent(self._torrent_data(torrent_id))

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """Every torrent of the account, newest first as the API lists them, a page at a
        time. Debrid-Link cannot filter by state, so `active_only` filters here."""
        per_page = max(PER_PAGE_MIN, min(PER_PAGE_MAX, page_size or PER_PAGE_MAX))
        page = 0
        while True:
            body = self._call("GET", "seedbox/list", idempotent=True,
                              params={"page": page, "perPage": per_page})
            items = _items(body)
            for item in items:
                torrent = parse_torrent(item)
                if not active_only or torrent.status in ACTIVE:
                    yield torrent
            pages = _pages(body)
            if not items or (page + 1 >= pages if pages is not None
                             else len(items) < per_page):
                return
            page += 1

    def delete_torrent(self, torrent_id: str) -> None:
        with suppress(NotFound):            # already gone: deleting is idempotent
            self._call("DELETE", f"seedbox/{torrent_id}/remove", idempotent=True)

    # -- links and account ------------------------------------------------------------------
    def resolve_link(self, link: str) -> DirectLink:
        """The current downloadUrl of a `<torrent id>/<file id>` reference, read afresh (an
        expired URL is replaced by the one the torrent carries now)."""
        torrent_id, _, file_id = link.partition("/")
        if not torrent_id or not file_id:
            raise LinkUnavailable(f"not a {self.service} file reference: {link!r}",
                                  provider=self.name)
        try:
            data = self._torrent_data(torrent_id)
        except NotFound:
            raise LinkUnavailable(f"{self.service} no longer has torrent {torrent_id}",
                                  provider=self.name) from None
        for f in data.get("files") or []:
            if isinstance(f, dict) and str(f.get("id")) == file_id:
                url = f.get("downloadUrl")
                if not url:
                    raise LinkUnavailable(f"{self.service} has no download link for file "
                                          f"{file_id} (not ready, or gone)", provider=self.name)
                return DirectLink(url=str(url), filename=posixpath.basename(str(f["name"])),
                                  size=int(f.get("size") or 0),
                                  expires_at=time.time() + LINK_CACHE_SECONDS)
        raise LinkUnavailable(f"{self.service} torrent {torrent_id} has no file {file_id}",
                              provider=self.name)

    def get_account(self) -> Account:
        """accountType 0 free, 1 premium (premiumLeft: seconds left), 2 lifetime."""
        value = self._call("GET", "account/infos", idempotent=True).get("value")
        if not isinstance(value, dict):
            raise ProtocolError("account/infos did not answer an object", provider=self.name)
        try:
            kind = int(value.get("accountType") or 0)
            left = int(value.get("premiumLeft") or 0)
            points = int(value.get("pts") or 0)
        except (TypeError, ValueError):
            raise ProtocolError("account/infos answered unexpected numbers",
                                provider=self.name) from None
        until = datetime.fromtimestamp(time.time() + left, UTC).isoformat(timespec="seconds") \
            if left > 0 else ""
        notes = [note for note, shown in (
            ("lifetime account", kind == 2), (f"{points} fidelity points", points > 0),
            ("a server or VPN address was detected", value.get("serverDetected") is True))
            if shown]
        return Account(username=str(value.get("username") or value.get("email") or ""),
                       premium=kind in (1, 2) or left > 0, expires_at=until,
                       notes=tuple(notes))


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    value = body.get("value")
    if not isinstance(value, list):
        raise ProtocolError("seedbox/list did not answer a list")
    return [item for item in value if isinstance(item, dict)]


def _pages(body: dict[str, Any]) -> int | None:
    pagination = body.get("pagination")
    pages = pagination.get("pages") if isinstance(pagination, dict) else None
    return pages if isinstance(pages, int) and not isinstance(pages, bool) else None
