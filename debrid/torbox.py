"""TorBox API v1 client (https://api.torbox.app/v1/api), over requests."""

from __future__ import annotations

import base64
import binascii
import functools
import io
import logging
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import torf

from core.ports import (
    Account,
    BudgetStore,
    CacheCheck,
    Capabilities,
    DirectLink,
    RemoteStatus,
    RemoteTorrent,
)
from core.provider_kinds import ProviderKind
from debrid.base import (
    ClientConfig,
    DebridError,
    HttpClient,
    LinkUnavailable,
    NotCached,
    NotFound,
    ProtocolError,
    ProviderBase,
    RateLimited,
    SlotsFull,
)
from debrid.keys import LinkAccounts
from debrid.torbox_parse import (
    error_from_body,
    map_error,
    parse_account,
    parse_torrent,
    retry_after_of,
    timestamp,
)

log = logging.getLogger(__name__)
API_ROOT = "https://api.torbox.app/v1/api"
PAGE_SIZE = 1000                 # mylist's default page
MAX_HASHES = 100                 # checkcached takes about 100 hashes per call
LINK_LIFETIME = 3600.0           # a requestdl link "opens for 1 hour" to start a download
LINK_SLACK = 60.0                # handed out no later than a minute before that
KIND = ProviderKind(
    type="torbox", label="TorBox", needs_key=True, per_minute=300,
    capabilities=Capabilities(cache_check=CacheCheck.NATIVE, add_only_if_cached=True,
                              file_selection=False, active_slots=False, link_step=True,
                              link_lifetime_seconds=LINK_LIFETIME,
                              max_hashes_per_check=MAX_HASHES),
    # createtorrent (and the other create endpoints): 60 an hour; the engine paces adds
    # with add_wait(). TorBox's terms forbid re-adding torrents automatically to keep them.
    create_limit=(60, 3600.0), allow_renew=False,
    key_help="https://torbox.app/settings", api_root=API_ROOT)
_LINK = re.compile(r"(\d+)/(\d+)")


class TorBox(ProviderBase):
    """One TorBox account (or anything speaking its API, such as the sandbox)."""

    capabilities = KIND.capabilities

    def __init__(self, *, name: str, api_key: str, base_url: str = "", timeout: float = 30.0,
                 attempts: int = 3, session: requests.Session | None = None,
                 per_minute: int = 0, store: BudgetStore | None = None,
                 download_api_keys: Sequence[str] = (), service: str = "TorBox",
                 create_limit: tuple[int, float] | None = None) -> None:
        """`service` names who answers in error messages (the sandbox, say);
        `create_limit` (adds, seconds) is counted in the store, for add_wait()."""
        self.name = name
        self.service = service
        config = ClientConfig(name=name, api_key=api_key, base_url=base_url, timeout=timeout,
                              per_minute=per_minute, create_limit=create_limit, store=store,
                              attempts=attempts, session=session)
        errors = functools.partial(map_error, service=service)
        self.http = self.client(config, api_key, name, errors, API_ROOT)
        # Adds go through a client with no budget and no retries of its own: a 429 there is
        # mostly the hourly create limit, which must pause adds, not every call for an hour
        # (and a retry would only be refused again). The main budget is taken by hand.
        self.creates = HttpClient(provider=name, base_url=base_url or API_ROOT, token=api_key,
                                  timeout=timeout, map_error=errors, attempts=1,
                                  session=session, account=name)
        self.link_clients = [self.client(config, key, f"{name}/links{i + 1}", errors, API_ROOT)
                             for i, key in enumerate(download_api_keys)]
        # requestdl takes the key in the query: each account's key by its client's name
        self._keys = {name: api_key, **{c.account: key for c, key in
                                        zip(self.link_clients, download_api_keys, strict=True)}}
        self.links = LinkAccounts(self.http, self.link_clients, store)
        self.limit_adds(config)

    @classmethod
    def build(cls, config: ClientConfig) -> TorBox:
        return cls(name=config.name, api_key=config.api_key, base_url=config.base_url,
                   timeout=config.timeout, attempts=config.attempts, session=config.session,
                   per_minute=config.per_minute, store=config.store,
                   download_api_keys=config.download_api_keys,
                   service=config.service or KIND.label, create_limit=config.create_limit)

    # -- the envelope ----------------------------------------------------------------------
    def _data(self, response: requests.Response) -> Any:
        """`data` of a successful answer; TorBox can refuse with HTTP 200 and
        success false (or null, from its rate limiter), so the body decides."""
        try:
            body = response.json()
        except ValueError:
            raise ProtocolError(f"expected JSON from {self.service}, got "
                                f"{response.headers.get('Content-Type')}",
                                http_status=response.status_code,
                                provider=self.name) from None
        if not isinstance(body, dict):
            raise ProtocolError(f"{self.service} answered without its envelope",
                                http_status=response.status_code, provider=self.name)
        if body.get("success") is True:
            return body.get("data")
        error = error_from_body(response.status_code, body, self.service,
                                retry_after_of(response.headers))
        error.provider = self.name
        raise error

    def _call(self, client: HttpClient, method: str, path: str, *, idempotent: bool = True,
              **kwargs: Any) -> Any:
        response = client.request(method, path, idempotent=idempotent, **kwargs)
        try:
            return self._data(response)
        except RateLimited as exc:      # a 200 refusal blocks the budget as a 429 does
            if client.budget is not None:
                client.budget.rate_limited(exc.retry_after)
            raise

    # -- adding ----------------------------------------------------------------------------
    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        return self._create({"magnet": magnet}, None, only_if_cached, _magnet_hash(magnet))

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        files = {"file": ("torrent.torrent", data, "application/x-bittorrent")}
        return self._create({}, files, only_if_cached, _file_hash(data))

    def _create(self, form: dict[str, str], files: dict[str, Any] | None,
                only_if_cached: bool, info_hash: str) -> str:
        # allow_zip false: files stay files (TorBox zips big multi-file torrents otherwise)
        form = {**form, "allow_zip": "false"}
        if only_if_cached:
            form["add_only_if_cached"] = "true"
        if self.http.budget is not None:
            self.http.budget.acquire()
        try:
            data = self._data(self.creates.request("POST", "torrents/createtorrent",
                                                   idempotent=False, data=form, files=files))
        except RateLimited as exc:
            self._add_refused(exc)
            raise
        except DebridError as exc:
            if exc.native_code == "DUPLICATE_ITEM" and info_hash:
                return self._existing(info_hash, exc)
            if exc.native_code == "COOLDOWN_LIMIT" and exc.retry_after is None:
                exc.retry_after = self._cooldown_left()
            if only_if_cached and "cach" in exc.message.lower() and \
                    isinstance(exc, ProtocolError | NotFound):
                raise NotCached(f"{self.service} does not have it cached; not added",
                                native_code=exc.native_code, http_status=exc.http_status,
                                provider=self.name) from None
            raise
        if isinstance(data, dict) and data.get("torrent_id") is not None:
            return str(data["torrent_id"])
        if isinstance(data, dict) and data.get("queued_id") is not None:
            raise SlotsFull(f"{self.service} queued it until a download slot is free",
                            native_code="QUEUED", provider=self.name)
        if only_if_cached:
            raise NotCached(f"{self.service} does not have it cached; not added",
                            provider=self.name)
        raise ProtocolError("createtorrent answered without a torrent id", provider=self.name)

    def _add_refused(self, exc: RateLimited) -> None:
        """A 429 on an add: the hourly create limit pauses adds (add_wait says how long);
        the per-minute limit pauses every call, as any 429 does."""
        hourly = "hour" in exc.message.lower() or (exc.retry_after or 0.0) > 60.0
        budget = self.add_limit if hourly else self.http.budget
        if budget is not None:
            budget.rate_limited(exc.retry_after)
        log.info("provider %s: add refused by the %s limit (retry in %s s)", self.name,
                 "create" if hourly else "request", exc.retry_after)

    def _cooldown_left(self) -> float | None:
        """Seconds until the plan's download cooldown ends (user/me says), for a retry."""
        with suppress(DebridError):
            data = self._call(self.http, "GET", "user/me")
            until = timestamp(data.get("cooldown_until")) if isinstance(data, dict) else None
            if until is not None and until > time.time():
                return until - time.time()
        return None

    def _existing(self, info_hash: str, refusal: DebridError) -> str:
        """TorBox refuses a re-add (DUPLICATE_ITEM): the account's torrent is the add."""
        for remote in self.list_torrents():
            if remote.hash == info_hash:
                log.info("provider %s: %s is already in the account as %s", self.name,
                         info_hash, remote.id)
                return remote.id
        raise refusal

    # -- reading ---------------------------------------------------------------------------
    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        """Fresh state: mylist's cache can be ten minutes old, so it is always bypassed."""
        data = self._call(self.http, "GET", "torrents/mylist",
                          params={"id": torrent_id, "bypass_cache": "true"})
        if isinstance(data, list):
            data = next((item for item in data if isinstance(item, dict)
                         and str(item.get("id")) == torrent_id), None)
        if data is None:
            raise NotFound(f"{self.service} has no torrent {torrent_id}", provider=self.name)
        if not isinstance(data, dict):
            raise ProtocolError("mylist?id= did not answer an object", provider=self.name)
        return parse_torrent(data)

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """Every torrent of the account, newest first, a page at a time, fresh (bypassing
        mylist's cache). TorBox has no active filter: it is applied here. A page may
        overlap the next (torrents added meanwhile): repeats are skipped."""
        limit = page_size or PAGE_SIZE
        offset = 0
        seen: set[str] = set()
        while True:
            try:
                items = self._call(self.http, "GET", "torrents/mylist", params={
                    "bypass_cache": "true", "offset": offset, "limit": limit})
            except NotFound:            # past the last page
                return
            if items is None:
                return
            if not isinstance(items, list):
                raise ProtocolError("mylist did not answer a list", provider=self.name)
            for item in items:
                remote = parse_torrent(item, with_files=False)
                if remote.id in seen:
                    continue
                seen.add(remote.id)
                if active_only and remote.status in (RemoteStatus.READY, RemoteStatus.FAILED):
                    continue
                yield remote
            if len(items) < limit:
                return
            offset += len(items)

    def check_cached(self, hashes: Sequence[str]) -> dict[str, bool]:
        """Which hashes TorBox has cached (it answers only those), 100 per call."""
        result: dict[str, bool] = {}
        for start in range(0, len(hashes), MAX_HASHES):
            chunk = list(hashes[start:start + MAX_HASHES])
            data = self._call(self.http, "GET", "torrents/checkcached", params={
                "hash": ",".join(h.lower() for h in chunk), "format": "object",
                "list_files": "false"})
            items = list(data.values()) if isinstance(data, dict) else data or []
            if not isinstance(items, list):
                raise ProtocolError("checkcached answered neither object nor list",
                                    provider=self.name)
            found = {str(item.get("hash", "")).lower() for item in items
                     if isinstance(item, dict)}
            if isinstance(data, dict):
                found |= {str(key).lower() for key in data}
            result.update({h: h.lower() in found for h in chunk})
        return result

    def get_account(self) -> Account:
        data = self._call(self.http, "GET", "user/me", params={"settings": "true"})
        if not isinstance(data, dict):
            raise ProtocolError("user/me did not answer an object", provider=self.name)
        return parse_account(data)

    # -- changing --------------------------------------------------------------------------
    def delete_torrent(self, torrent_id: str) -> None:
        ident: int | str = int(torrent_id) if torrent_id.isdigit() else torrent_id
        with suppress(NotFound):            # already gone: deleting is idempotent
            self._call(self.http, "POST", "torrents/controltorrent",
                       json={"torrent_id": ident, "operation": "delete"})

    def resolve_link(self, link: str) -> DirectLink:
        """`<torrent id>/<file id>` to a requestdl link (the key goes in the query: TorBox
        reads it there). A torrent gone from the account makes the link unavailable."""
        match = _LINK.fullmatch(link)
        if match is None:
            raise ProtocolError(f"not a TorBox file reference: {link!r}", provider=self.name)
        torrent_id, file_id = match.groups()

        def request_link(client: HttpClient) -> Any:
            return self._call(client, "GET", "torrents/requestdl", params={
                "token": self._keys[client.account], "torrent_id": torrent_id,
                "file_id": file_id, "zip_link": "false", "redirect": "false"})

        try:
            url = self.links.call(request_link)
        except NotFound as exc:
            raise LinkUnavailable(f"{self.service} no longer has torrent {torrent_id}",
                                  native_code=exc.native_code, http_status=exc.http_status,
                                  provider=self.name) from None
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ProtocolError("requestdl answered without a URL", provider=self.name)
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        return DirectLink(url=url, filename=name, size=0,
                          expires_at=time.time() + LINK_LIFETIME - LINK_SLACK)


def _magnet_hash(magnet: str) -> str:
    """The v1 infohash of a magnet as 40 lowercase hex digits ("" when it has none)."""
    query = magnet.split("?", 1)[1] if "?" in magnet else ""
    for topic in parse_qs(query).get("xt", []):
        if topic.lower().startswith("urn:btih:"):
            value = topic[9:]
            if re.fullmatch(r"[0-9a-fA-F]{40}", value):
                return value.lower()
            with suppress(binascii.Error, ValueError):
                return base64.b32decode(value.upper()).hex()
    return ""


def _file_hash(data: bytes) -> str:
    try:
        return str(torf.Torrent.read_stream(io.BytesIO(data), validate=False).infohash)
    except (torf.TorfError, ValueError, TypeError):
        return ""
