"""AllDebrid API v4 / v4.1 client (https://api.alldebrid.com), over requests."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from core.ports import (
    Account,
    BudgetStore,
    CacheCheck,
    Capabilities,
    DirectLink,
    RemoteFile,
    RemoteTorrent,
)
from core.priority import Priority
from core.provider_kinds import ProviderKind
from debrid.alldebrid_parse import (
    body_error,
    data_of,
    error_from,
    map_error,
    parse_files,
    parse_magnet,
)
from debrid.base import (
    ClientConfig,
    DebridError,
    ErrorMapper,
    HttpClient,
    LinkUnavailable,
    NotCached,
    NotFound,
    ProtocolError,
    ProviderBase,
    RateLimited,
    ServiceUnavailable,
)
from debrid.budget import RequestBudget
from debrid.keys import LinkAccounts

log = logging.getLogger(__name__)
API_ROOT = "https://api.alldebrid.com"
PER_SECOND = 12                      # AllDebrid's second limit, beside 600 a minute
ACTIVE_LIMIT = 30                    # active magnets per account (what its refusal quotes)
LINK_CACHE_SECONDS = 6 * 3600.0      # AllDebrid does not say; links are unlocked again on failure
DELAYED_POLL_SECONDS = 5.0           # AllDebrid asks for 5 s or more between delayed polls
DELAYED_WAIT_SECONDS = 30.0          # then the link counts as unavailable for now
KIND = ProviderKind(
    type="alldebrid", label="AllDebrid", needs_key=True, per_minute=600,
    capabilities=Capabilities(cache_check=CacheCheck.PROBE, add_only_if_cached=False,
                              file_selection=False, active_slots=True, link_step=True,
                              link_lifetime_seconds=None),
    key_help="https://alldebrid.com/apikeys", api_root=API_ROOT)


class PacedBudget(RequestBudget):
    """The account's per-minute budget with AllDebrid's 12 a second on top: the minute's
    burst (a tenth of 600) would otherwise go out within one second and draw 429s."""

    def __init__(self, store: BudgetStore, account: str, per_minute: int,
                 per_second: int = PER_SECOND, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(store, account, per_minute, clock, sleep)
        self.second = RequestBudget(store, f"{account}/second", per_second, clock, sleep,
                                    window=1.0)

    def acquire(self, priority: Priority | None = None) -> float:
        return super().acquire(priority) + self.second.acquire(priority)


class AllDebridHttp(HttpClient):
    """HttpClient that also reads the status envelope: an error answered with HTTP 200 is
    raised inside the retry loop like any other (a rate-limit one blocks the budget)."""

    service = "AllDebrid"

    def _once(self, method: str, path: str, idempotent: bool,
              kwargs: dict[str, Any]) -> requests.Response:
        response = super()._once(method, path, idempotent, kwargs)
        error = body_error(response, self.service)
        if error is None:
            return response
        error.provider = self.provider
        log.info("provider %s: %s %s -> %s", self.provider, method, path, error.message)
        if isinstance(error, RateLimited) and self.budget is not None:
            self.budget.rate_limited(error.retry_after)
        raise error


class AllDebrid(ProviderBase):
    """One AllDebrid account (or anything speaking its API, such as the sandbox)."""

    capabilities = KIND.capabilities

    def __init__(self, *, name: str, api_key: str, base_url: str = "", timeout: float = 30.0,
                 attempts: int = 3, session: requests.Session | None = None,
                 per_minute: int = 0, store: BudgetStore | None = None,
                 download_api_keys: Sequence[str] = (), service: str = "AllDebrid",
                 delayed_poll: float = DELAYED_POLL_SECONDS,
                 delayed_wait: float = DELAYED_WAIT_SECONDS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """`service` names who answers in error messages; `delayed_poll`/`delayed_wait`
        pace and bound the wait for a delayed link."""
        self.name = name
        self.service = service
        self.delayed_poll, self.delayed_wait, self.sleep = delayed_poll, delayed_wait, sleep
        config = ClientConfig(name=name, api_key=api_key, base_url=base_url, timeout=timeout,
                              per_minute=per_minute, store=store, attempts=attempts,
                              session=session)
        errors = functools.partial(map_error, service=service)
        self.http = self._client(config, api_key, name, errors)
        self.link_clients = [self._client(config, key, f"{name}/links{i + 1}", errors)
                             for i, key in enumerate(download_api_keys)]
        self.links = LinkAccounts(self.http, self.link_clients, store)

    def _client(self, config: ClientConfig, token: str, account: str,
                errors: ErrorMapper) -> AllDebridHttp:
        budget = PacedBudget(config.store, account, config.per_minute) \
            if config.store is not None and config.per_minute > 0 else None
        http = AllDebridHttp(provider=config.name, base_url=config.base_url or API_ROOT,
                             token=token, timeout=config.timeout, map_error=errors,
                             attempts=config.attempts, session=config.session, budget=budget,
                             account=account)
        http.service = self.service
        return http

    @classmethod
    def build(cls, config: ClientConfig) -> AllDebrid:
        client = cls(name=config.name, api_key=config.api_key, base_url=config.base_url,
                     timeout=config.timeout, attempts=config.attempts, session=config.session,
                     per_minute=config.per_minute, store=config.store,
                     download_api_keys=config.download_api_keys,
                     service=config.service or KIND.label)
        client.limit_adds(config)       # providers[].create_limit, if one is set
        return client

    def _post(self, path: str, *, idempotent: bool = True, http: HttpClient | None = None,
              **kwargs: Any) -> dict[str, Any]:
        return data_of((http or self.http).request("POST", path, idempotent=idempotent,
                                                   **kwargs))

    def _refusal(self, error: object) -> DebridError:
        """The error of one item inside a successful answer (one magnet of an upload)."""
        refusal = error_from(error, 200, self.service)
        refusal.provider = self.name
        return refusal

    # -- adding -------------------------------------------------------------------------------
    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        data = self._post("v4/magnet/upload", idempotent=False, data={"magnets[]": magnet})
        return self._added(data.get("magnets"), only_if_cached)

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        files = {"files[]": ("upload.torrent", data, "application/x-bittorrent")}
        answer = self._post("v4/magnet/upload/file", idempotent=False, files=files)
        return self._added(answer.get("files"), only_if_cached)

    def _added(self, items: object, only_if_cached: bool) -> str:
        """The one magnet an upload answered: its own error, or its id. `ready` is the only
        cache signal left: with `only_if_cached`, an uncached magnet is deleted again."""
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise ProtocolError("an upload answered no single magnet")
        item = items[0]
        if item.get("error"):
            raise self._refusal(item["error"])
        if item.get("id") in (None, ""):
            raise ProtocolError("an upload answered without a magnet id")
        magnet_id = str(item["id"])
        if only_if_cached and not item.get("ready"):
            self.delete_torrent(magnet_id)
            raise NotCached(f"{self.service} does not have it cached", provider=self.name)
        return magnet_id

    # -- reading ------------------------------------------------------------------------------
    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        """The magnet's status; once it is ready (4), also its files and their links."""
        magnet = self._post("v4.1/magnet/status", data={"id": torrent_id}).get("magnets")
        if isinstance(magnet, list):     # an id answers one object; tolerate a list of it
            magnet = next((m for m in magnet if str(m.get("id")) == torrent_id), None)
        if not isinstance(magnet, dict):
            raise ProtocolError("magnet/status with an id answered no magnet object")
        remote = parse_magnet(magnet)
        if remote.raw_status != "4":
            return remote
        return parse_magnet(magnet, self._files(torrent_id))

    def _files(self, torrent_id: str) -> tuple[RemoteFile, ...]:
        items = self._post("v4/magnet/files", data={"id[]": torrent_id}).get("magnets")
        item = next((m for m in items or [] if str(m.get("id")) == torrent_id), None) \
            if isinstance(items, list) else None
        if item is None:
            raise ProtocolError("magnet/files did not answer the magnet asked for")
        if item.get("error"):
            raise self._refusal(item["error"])
        return parse_files(item.get("files") or [])

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """Every magnet of the account (or the active ones), newest first. AllDebrid answers
        them all at once, unpaged, so `page_size` has nothing to size."""
        data = {"status": "active"} if active_only else {}
        magnets = self._post("v4.1/magnet/status", data=data).get("magnets")
        if not isinstance(magnets, list):
            raise ProtocolError("magnet/status without an id did not answer a list")
        parsed = [parse_magnet(m) for m in magnets]
        parsed.sort(key=lambda t: (t.added or 0.0, int(t.id) if t.id.isdigit() else 0),
                    reverse=True)
        yield from parsed

    def active_count(self) -> tuple[int, int]:
        """(magnets being processed, the ~30 AllDebrid allows): a refusal still tells the
        engine if the real limit is lower."""
        return sum(1 for _ in self.list_torrents(active_only=True)), ACTIVE_LIMIT

    def delete_torrent(self, torrent_id: str) -> None:
        with suppress(NotFound):            # already gone: deleting is idempotent
            self._post("v4/magnet/delete", data={"id": torrent_id})

    # -- links --------------------------------------------------------------------------------
    def resolve_link(self, link: str) -> DirectLink:
        """Unlock an `/f/` link; a `delayed` answer is polled (bounded) with the same key."""
        return self.links.call(functools.partial(self._unlock, link))

    def _unlock(self, link: str, http: HttpClient) -> DirectLink:
        data = self._post("v4/link/unlock", data={"link": link}, http=http)
        url = str(data.get("link") or "")
        if not url and data.get("delayed"):
            url = self._delayed(data["delayed"], http)
            data = self._infos(link, http) or {"filename": unquote(urlsplit(url).path)
                                                .rsplit("/", 1)[-1]}
        if not url:
            raise ProtocolError("link/unlock answered neither a link nor a delayed id")
        try:
            size = int(data.get("filesize") or data.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        return DirectLink(url=url, filename=str(data.get("filename") or ""), size=size,
                          expires_at=time.time() + LINK_CACHE_SECONDS)

    def _infos(self, link: str, http: HttpClient) -> dict[str, Any]:
        """link/infos of one link ({} when it has none): a delayed link comes bare."""
        with suppress(LinkUnavailable, ProtocolError):
            infos = self._post("v4/link/infos", data={"link[]": link}, http=http).get("infos")
            if isinstance(infos, list) and infos and isinstance(infos[0], dict) and \
                    not infos[0].get("error"):
                return infos[0]
        return {}

    def _delayed(self, delayed_id: object, http: HttpClient) -> str:
        """Poll link/delayed every `delayed_poll` seconds until status 2 (ready) or 3
        (failed), for at most `delayed_wait` seconds."""
        polls = max(1, int(self.delayed_wait / self.delayed_poll)) if self.delayed_poll > 0 \
            else 1
        for _ in range(polls):
            self.sleep(self.delayed_poll)
            data = self._post("v4/link/delayed", data={"id": str(delayed_id)}, http=http)
            if data.get("status") == 2 and data.get("link"):
                return str(data["link"])
            if data.get("status") == 3:
                raise LinkUnavailable(f"{self.service} could not generate this link "
                                      "(its delayed link failed)", provider=self.name)
        raise ServiceUnavailable(f"{self.service} is still generating this link (delayed "
                                 f"{delayed_id}, {self.delayed_wait:g} s)", provider=self.name)

    # -- account ------------------------------------------------------------------------------
    def get_account(self) -> Account:
        user = data_of(self.http.request("GET", "v4/user", idempotent=True)).get("user")
        if not isinstance(user, dict):
            raise ProtocolError("/v4/user answered no user object")
        until = user.get("premiumUntil")
        expires = datetime.fromtimestamp(until, UTC).isoformat() \
            if isinstance(until, int | float) and until > 0 else ""
        notes = [label for flag, label in (("isTrial", "trial"), ("isSubscribed", "subscribed"))
                 if user.get(flag)]
        if user.get("fidelityPoints") is not None:
            notes.append(f"{user['fidelityPoints']} fidelity points")
        return Account(username=str(user.get("username", "")),
                       premium=bool(user.get("isPremium")), expires_at=expires,
                       notes=tuple(notes))
