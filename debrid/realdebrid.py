"""Real-Debrid REST API client (https://api.real-debrid.com/rest/1.0), over requests."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime
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
    Blocked,
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
)
from debrid.keys import LinkAccounts

log = logging.getLogger(__name__)
API_ROOT = "https://api.real-debrid.com/rest/1.0"
PAGE_SIZE = 5000                     # the most /torrents returns per page
LINK_CACHE_SECONDS = 6 * 3600.0      # RD does not say; links are refreshed on failure anyway
KIND = ProviderKind(
    type="realdebrid", label="Real-Debrid", needs_key=True, per_minute=250,
    capabilities=Capabilities(cache_check=CacheCheck.PROBE, file_selection=True,
                              active_slots=True, link_step=True,
                              link_lifetime_seconds=LINK_CACHE_SECONDS),
    key_help="https://real-debrid.com/apitoken", api_root=API_ROOT)

# Real-Debrid's numeric error codes (key off error_code, never the string).
ERROR_CODES: dict[int, type[DebridError]] = {
    -1: ServiceUnavailable, 1: ProtocolError, 2: InvalidTorrent, 3: Unsupported,
    4: Unsupported, 5: RateLimited, 6: ServiceUnavailable, 7: NotFound, 8: AuthError,
    9: AuthError, 10: AuthError, 11: AuthError, 12: AuthError, 13: AuthError, 14: AuthError,
    15: AuthError, 16: LinkUnavailable, 17: ServiceUnavailable, 18: QuotaExceeded,
    19: LinkUnavailable, 20: PremiumRequired, 21: SlotsFull, 22: AuthError,
    23: QuotaExceeded, 24: LinkUnavailable, 25: ServiceUnavailable, 26: InvalidTorrent,
    27: ServiceUnavailable, 28: Blocked, 29: InvalidTorrent, 30: InvalidTorrent,
    31: ProtocolError, 32: ProtocolError, 33: ProtocolError, 34: RateLimited, 35: Blocked,
    36: QuotaExceeded, 37: Unsupported,
}
# When the body is not Real-Debrid's JSON envelope (a proxy's HTML page, say).
STATUS_FALLBACK: dict[int, type[DebridError]] = {
    401: AuthError, 403: AuthError, 404: NotFound, 429: RateLimited, 451: Blocked,
    509: SlotsFull,
}
STATUSES = {
    "magnet_conversion": RemoteStatus.METADATA,
    "waiting_files_selection": RemoteStatus.WAITING_SELECTION,
    "queued": RemoteStatus.QUEUED,
    "downloading": RemoteStatus.DOWNLOADING,
    "compressing": RemoteStatus.PROCESSING,
    "uploading": RemoteStatus.PROCESSING,
    "downloaded": RemoteStatus.READY,
    "magnet_error": RemoteStatus.FAILED,
    "error": RemoteStatus.FAILED,
    "virus": RemoteStatus.FAILED,
    "dead": RemoteStatus.FAILED,
}
FAILURES = {"magnet_error": FailureCause.MAGNET_ERROR, "dead": FailureCause.DEAD,
            "virus": FailureCause.VIRUS, "error": FailureCause.ERROR}
# {service}: who answered ("Real-Debrid", or "the sandbox" standing in for it)
MESSAGES = {
    8: "{service} rejected the API token", 21: "{service}'s active-download slots are full",
    35: "{service} refused it: infringing file", 34: "{service} rate limit reached",
    23: "{service} traffic exhausted", 36: "{service} fair-use limit reached",
    30: "{service} says the torrent file is invalid", 29: "the torrent is too big",
    7: "{service} does not know this resource",
}


def map_error(response: requests.Response, service: str = "Real-Debrid") -> DebridError:
    """Real-Debrid's `{"error", "error_code"}` envelope to our error hierarchy; the message
    names `service`, the one that answered."""
    try:
        body = response.json()
        code = int(body["error_code"])
        text = str(body.get("error", ""))
    except (ValueError, KeyError, TypeError):
        cls = STATUS_FALLBACK.get(response.status_code,
                                  ServiceUnavailable if response.status_code >= 500
                                  else ProtocolError)
        return cls(f"HTTP {response.status_code} without {service}'s error body",
                   http_status=response.status_code)
    cls = ERROR_CODES.get(code) or STATUS_FALLBACK.get(response.status_code, ProtocolError)
    message = MESSAGES.get(code, "{service} error {code} ({text})")
    return cls(message.format(service=service, code=code, text=text), native_code=code,
               http_status=response.status_code)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProtocolError(f"expected JSON, got {response.headers.get('Content-Type')}",
                            http_status=response.status_code) from None


def _timestamp(value: object) -> float | None:
    """Real-Debrid's dates (JavaScript toJSON strings) as unix time; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def parse_torrent(data: dict[str, Any]) -> RemoteTorrent:
    """A /torrents/info (or /torrents list) object. Links pair with the selected files in
    file-id order; one link for several selected files is RD's single-archive case."""
    try:
        raw_status = str(data["status"])
        files = sorted(data.get("files") or [], key=lambda f: int(f["id"]))
        links = [str(link) for link in data.get("links") or []]
        selected = [f for f in files if int(f.get("selected", 0)) == 1]
        is_archive = len(selected) > 1 and len(links) == 1
        paired = dict(zip((int(f["id"]) for f in selected), links, strict=False)) \
            if len(links) == len(selected) else {}
        remote_files = tuple(
            RemoteFile(id=str(f["id"]), path=str(f["path"]).lstrip("/"), size=int(f["bytes"]),
                       selected=int(f.get("selected", 0)) == 1,
                       link=paired.get(int(f["id"]), ""))
            for f in files)
        return RemoteTorrent(
            id=str(data["id"]), hash=str(data["hash"]).lower(),
            name=str(data.get("filename") or data.get("original_filename") or ""),
            status=STATUSES.get(raw_status, RemoteStatus.PROCESSING), raw_status=raw_status,
            progress=max(0.0, min(1.0, float(data.get("progress", 0)) / 100.0)),
            size=int(data.get("bytes", 0)), speed=int(data.get("speed") or 0),
            seeders=int(data["seeders"]) if data.get("seeders") is not None else None,
            files=remote_files, links=tuple(links), is_archive=is_archive,
            added=_timestamp(data.get("added")), ended=_timestamp(data.get("ended")),
            failure=FAILURES.get(raw_status, FailureCause.ERROR)
            if STATUSES.get(raw_status) is RemoteStatus.FAILED else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"unexpected torrent object from Real-Debrid: {exc}") from None


class RealDebrid(ProviderBase):
    """One Real-Debrid account (or anything speaking its API, such as the sandbox)."""

    capabilities = KIND.capabilities

    def __init__(self, *, name: str, api_key: str, base_url: str = "", timeout: float = 30.0,
                 attempts: int = 3, session: requests.Session | None = None,
                 per_minute: int = 0, store: BudgetStore | None = None,
                 download_api_keys: Sequence[str] = (), service: str = "Real-Debrid") -> None:
        """`service` names who answers in error messages (the sandbox, say)."""
        self.name = name
        config = ClientConfig(name=name, api_key=api_key, base_url=base_url, timeout=timeout,
                              per_minute=per_minute, store=store, attempts=attempts,
                              session=session)
        errors = functools.partial(map_error, service=service)
        self.http = self.client(config, api_key, name, errors, API_ROOT)
        self.link_clients = [self.client(config, key, f"{name}/links{i + 1}", errors, API_ROOT)
                             for i, key in enumerate(download_api_keys)]
        self.links = LinkAccounts(self.http, self.link_clients, store)

    @classmethod
    def build(cls, config: ClientConfig) -> RealDebrid:
        return cls(name=config.name, api_key=config.api_key, base_url=config.base_url,
                   timeout=config.timeout, attempts=config.attempts, session=config.session,
                   per_minute=config.per_minute, store=config.store,
                   download_api_keys=config.download_api_keys,
                   service=config.service or KIND.label)

    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        response = self.http.request("POST", "torrents/addMagnet", idempotent=False,
                                     data={"magnet": magnet})
        return self._created_id(response)

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        response = self.http.request("PUT", "torrents/addTorrent", idempotent=False, data=data,
                                     headers={"Content-Type": "application/x-bittorrent"})
        return self._created_id(response)

    @staticmethod
    def _created_id(response: requests.Response) -> str:
        body = _json(response)
        if not isinstance(body, dict) or not body.get("id"):
            raise ProtocolError("add answered without a torrent id")
        return str(body["id"])

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None:
        files = ",".join(file_ids) if file_ids else "all"
        try:
            self.http.request("POST", f"torrents/selectFiles/{torrent_id}", idempotent=True,
                              data={"files": files})
        except ProtocolError as exc:
            if exc.native_code != 31:       # action_already_done: the selection stands
                raise

    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        response = self.http.request("GET", f"torrents/info/{torrent_id}", idempotent=True)
        body = _json(response)
        if not isinstance(body, dict):
            raise ProtocolError("torrents/info did not answer an object")
        return parse_torrent(body)

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """Every torrent of the account (or the active ones), newest first, a page at a time:
        memory stays one page. A torrent added during the walk shifts the pages, so one may
        come twice; callers that care skip repeats."""
        page_size = page_size or PAGE_SIZE
        params: dict[str, str | int] = {"limit": page_size}
        if active_only:
            params["filter"] = "active"
        page = 1
        while True:
            response = self.http.request("GET", "torrents", idempotent=True,
                                         params={**params, "page": page})
            if response.status_code == 204:
                return
            items = _json(response)
            if not isinstance(items, list):
                raise ProtocolError("/torrents did not answer a list")
            for item in items:
                yield parse_torrent(item)
            total = int(response.headers.get("X-Total-Count", "0") or 0)
            if len(items) < page_size or page * page_size >= total:
                return
            page += 1

    def delete_torrent(self, torrent_id: str) -> None:
        with suppress(NotFound):            # already gone: deleting is idempotent
            self.http.request("DELETE", f"torrents/delete/{torrent_id}", idempotent=True)

    def resolve_link(self, link: str) -> DirectLink:
        response = self.links.call(lambda http: http.request(
            "POST", "unrestrict/link", idempotent=True, data={"link": link}))
        body = _json(response)
        try:
            return DirectLink(url=str(body["download"]), filename=str(body.get("filename", "")),
                              size=int(body.get("filesize", 0)),
                              expires_at=time.time() + LINK_CACHE_SECONDS)
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("unrestrict/link answered without a download URL") from None

    def get_account(self) -> Account:
        body = _json(self.http.request("GET", "user", idempotent=True))
        if not isinstance(body, dict):
            raise ProtocolError("/user did not answer an object")
        return Account(username=str(body.get("username", "")),
                       premium=body.get("type") == "premium",
                       expires_at=str(body.get("expiration", "")))

    def active_count(self) -> tuple[int, int]:
        """(active downloads, the account's limit)."""
        body = _json(self.http.request("GET", "torrents/activeCount", idempotent=True))
        try:
            return int(body["nb"]), int(body["limit"])
        except (KeyError, TypeError, ValueError):
            raise ProtocolError("torrents/activeCount answered an unexpected object") from None
