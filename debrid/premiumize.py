"""Premiumize API client (https://www.premiumize.me/api): transfers, cloud folders, cache check."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import requests
import torf

from core.ports import (
    Account,
    BudgetStore,
    CacheCheck,
    Capabilities,
    DirectLink,
    RemoteFile,
    RemoteTorrent,
)
from core.provider_kinds import ProviderKind
from debrid.base import (
    ClientConfig,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotCached,
    NotFound,
    ProtocolError,
    ProviderBase,
    RateLimited,
    ServiceUnavailable,
)
from debrid.premiumize_parse import (
    ACTIVE_STATUSES,
    DUPLICATE,
    Transfer,
    info_hash_of_magnet,
    map_error,
    map_message,
    parse_transfer,
    remote_torrent,
)

log = logging.getLogger(__name__)
API_ROOT = "https://www.premiumize.me/api"
ACTIVE_LIMIT = 25                    # "You already have a maximum of 25 active downloads"
# Premiumize mints a file's CDN link once and it stops working after about a day (decypharr
# observed ~24 h); item/details is asked again for every resolution, and on any failure.
LINK_CACHE_SECONDS = 6 * 3600.0
MAX_FOLDER_DEPTH = 32                # a torrent's folders nest far less; stops a cycle
KIND = ProviderKind(
    # No request limit is published (only fair-use points, which cache checks do not cost);
    # 250/min is what clients of comparable APIs keep to (decypharr, riven), and a poll of
    # every transfer is one list call, so it is ample.
    type="premiumize", label="Premiumize", needs_key=True, per_minute=250,
    # The create has no cache gate of its own (add_only_if_cached False): the engine asks
    # the free cache check first; add_magnet(only_if_cached=True) does the same if asked.
    capabilities=Capabilities(cache_check=CacheCheck.NATIVE, add_only_if_cached=False,
                              file_selection=False, active_slots=True, link_step=False,
                              link_lifetime_seconds=LINK_CACHE_SECONDS,
                              max_hashes_per_check=100),
    key_help="https://www.premiumize.me/account", api_root=API_ROOT)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(f"expected JSON, got {response.headers.get('Content-Type')}",
                            http_status=response.status_code) from None
    if not isinstance(body, dict):
        raise ProtocolError("Premiumize answered JSON that is not an object",
                            http_status=response.status_code)
    return body


def _iso(timestamp: object) -> str:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float) or timestamp <= 0:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _torrent_file_hash(data: bytes) -> str:
    """The upload's v1 info-hash, "" when torf cannot read it."""
    try:
        return str(torf.Torrent.read_stream(io.BytesIO(data), validate=False).infohash).lower()
    except (torf.TorfError, KeyError, TypeError, ValueError, UnicodeError):
        return ""


class Premiumize(ProviderBase):
    """One Premiumize account (or the sandbox speaking its dialect).

    Premiumize has no per-transfer lookup: every read lists the transfers and picks one. A
    finished transfer's files are its cloud folder (or its single file); they can lag the
    `finished` status, so a transfer is READY only once every file there has a link.
    RemoteFile.link is the cloud item's id: resolve_link asks item/details for its current
    CDN URL, so an expired one is replaced."""

    capabilities = KIND.capabilities

    def __init__(self, *, name: str, api_key: str, base_url: str = "", timeout: float = 30.0,
                 attempts: int = 3, session: requests.Session | None = None,
                 per_minute: int = 0, store: BudgetStore | None = None,
                 service: str = "Premiumize") -> None:
        self.name = name
        self.service = service
        config = ClientConfig(name=name, api_key=api_key, base_url=base_url, timeout=timeout,
                              per_minute=per_minute, store=store, attempts=attempts,
                              session=session)
        self.http = self.client(config, api_key, name,
                                lambda response: map_error(response, service), API_ROOT)

    @classmethod
    def build(cls, config: ClientConfig) -> Premiumize:
        return cls(name=config.name, api_key=config.api_key, base_url=config.base_url,
                   timeout=config.timeout, attempts=config.attempts, session=config.session,
                   per_minute=config.per_minute, store=config.store,
                   service=config.service or KIND.label)

    # -- the envelope: most refusals are HTTP 200 with status "error" --------------------------
    def _call(self, method: str, path: str, *, idempotent: bool, **kwargs: Any) -> dict[str, Any]:
        body = _json(self.http.request(method, path, idempotent=idempotent, **kwargs))
        if body.get("status") != "error":
            return body
        error = map_message(str(body.get("message") or ""), self.service)
        error.provider, error.http_status = self.name, 200
        if isinstance(error, ServiceUnavailable) and not idempotent:
            error.ambiguous = True       # "An error occured" after a create may have created it
        if isinstance(error, RateLimited) and self.http.budget is not None:
            self.http.budget.rate_limited(error.retry_after)
        log.info("provider %s: %s %s -> %s", self.name, method, path.split("?")[0], error.message)
        raise error

    # -- adding -------------------------------------------------------------------------------
    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        info_hash = info_hash_of_magnet(magnet)
        if only_if_cached:
            self._require_cached(info_hash)
        return self._create(info_hash, data={"src": magnet})

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        info_hash = _torrent_file_hash(data)       # "" when unreadable: Premiumize judges it
        if only_if_cached:
            self._require_cached(info_hash)
        files = {"file": ("upload.torrent", data, "application/x-bittorrent")}
        return self._create(info_hash, files=files)

    def _require_cached(self, info_hash: str) -> None:
        """Premiumize's create has no cache gate: the (free) cache check stands in for it."""
        if not info_hash:
            raise InvalidTorrent("no v1 info-hash to check the cache with")
        if not self.check_cached([info_hash]).get(info_hash):
            raise NotCached(f"{self.service} does not have {info_hash} cached",
                            provider=self.name)

    def _create(self, info_hash: str, **kwargs: Any) -> str:
        try:
            body = self._call("POST", "transfer/create", idempotent=False, **kwargs)
        except ProtocolError as exc:
            if exc.native_code == DUPLICATE and info_hash:
                return self._existing(info_hash, exc)
            raise
        if not body.get("id"):
            raise ProtocolError("transfer/create answered without a transfer id")
        return str(body["id"])

    def _existing(self, info_hash: str, refusal: DebridError) -> str:
        """'You already added this job.': that transfer is this add's answer."""
        for transfer in self._transfers():
            if transfer.hash == info_hash:
                return transfer.id
        raise refusal

    # -- reading ------------------------------------------------------------------------------
    def _transfers(self) -> list[Transfer]:
        body = self._call("GET", "transfer/list", idempotent=True)
        items = body.get("transfers")
        if not isinstance(items, list):
            raise ProtocolError("transfer/list answered without a transfers list")
        transfers = [parse_transfer(item) for item in items]
        # newest first where Premiumize dates them; the listing's own order otherwise
        return sorted(transfers, key=lambda t: -(t.created or 0.0))

    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        transfer = next((t for t in self._transfers() if t.id == torrent_id), None)
        if transfer is None:
            raise NotFound(f"{self.service} has no transfer {torrent_id}", provider=self.name)
        files: list[RemoteFile] | None = None
        if transfer.status in ("finished", "seeding"):
            files = self._files(transfer)
        return remote_torrent(transfer, files)

    def _files(self, transfer: Transfer) -> list[RemoteFile]:
        """The transfer's content: its single file, or its folder walked depth first. A
        folder or file Premiumize does not find (yet) means no files: PROCESSING."""
        try:
            return self._content(transfer)
        except NotFound:
            return []

    def _content(self, transfer: Transfer) -> list[RemoteFile]:
        if transfer.file_id:
            item = self._call("GET", "item/details", idempotent=True,
                              params={"id": transfer.file_id})
            return [_remote_file(item, str(item.get("name") or transfer.name))]
        if not transfer.folder_id:
            return []
        files: list[RemoteFile] = []
        self._walk(transfer.folder_id, "", files, 0)
        return files

    def _walk(self, folder_id: str, prefix: str, files: list[RemoteFile], depth: int) -> None:
        if depth > MAX_FOLDER_DEPTH:
            raise ProtocolError("the transfer's folders nest too deep")
        body = self._call("GET", "folder/list", idempotent=True, params={"id": folder_id})
        content = body.get("content")
        if not isinstance(content, list):
            raise ProtocolError("folder/list answered without a content list")
        for item in content:
            if not isinstance(item, dict) or not item.get("id"):
                raise ProtocolError("folder/list listed an item without an id")
            path = f"{prefix}{item.get('name') or item['id']}"
            if item.get("type") == "folder":
                self._walk(str(item["id"]), f"{path}/", files, depth + 1)
            else:
                files.append(_remote_file(item, path))

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        """Every transfer (one call: Premiumize does not page), newest first, without files;
        a finished transfer is listed READY (its files are read by get_torrent)."""
        for transfer in self._transfers():
            if not active_only or transfer.status in ACTIVE_STATUSES:
                yield remote_torrent(transfer, None)

    def active_count(self) -> tuple[int, int]:
        """(transfers waiting, queued or running, 25): Premiumize counts those against its
        limit of 25 active downloads; it reports no count of its own."""
        active = sum(1 for t in self._transfers() if t.status in ACTIVE_STATUSES)
        return active, ACTIVE_LIMIT

    def check_cached(self, hashes: Sequence[str]) -> dict[str, bool]:
        """Up to 100 hashes per call (the answer's arrays follow the items' order)."""
        wanted = list(dict.fromkeys(h.lower() for h in hashes if h))
        cached: dict[str, bool] = {}
        for start in range(0, len(wanted), KIND.capabilities.max_hashes_per_check):
            batch = wanted[start:start + KIND.capabilities.max_hashes_per_check]
            body = self._call("GET", "cache/check", idempotent=True,
                              params={"items[]": batch})
            answers = body.get("response")
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise ProtocolError(f"cache/check answered {len(answers or [])} results "
                                    f"for {len(batch)} items")
            cached.update((h, answer is True) for h, answer in zip(batch, answers, strict=True))
        return cached

    def delete_torrent(self, torrent_id: str) -> None:
        with suppress(NotFound):            # already gone: deleting is idempotent
            self._call("POST", "transfer/delete", idempotent=True, data={"id": torrent_id})

    def resolve_link(self, link: str) -> DirectLink:
        """`link` is a cloud item id; its current CDN URL comes from item/details. A file
        gone from the cloud (deleted, purged) is LinkUnavailable: the torrent needs repair."""
        try:
            item = self._call("GET", "item/details", idempotent=True, params={"id": link})
        except NotFound as exc:
            raise LinkUnavailable(exc.message, provider=self.name, native_code=exc.native_code,
                                  http_status=exc.http_status) from None
        url = item.get("link")
        if not isinstance(url, str) or not url:
            raise LinkUnavailable(f"{self.service} lists no download link for item {link}",
                                  provider=self.name)
        try:
            size = int(item.get("size") or 0)
        except (TypeError, ValueError):
            raise ProtocolError("item/details answered a size that is not a number") from None
        return DirectLink(url=url, filename=str(item.get("name") or ""), size=size,
                          expires_at=time.time() + LINK_CACHE_SECONDS)

    def get_account(self) -> Account:
        body = self._call("GET", "account/info", idempotent=True)
        until = body.get("premium_until")
        premium = isinstance(until, int | float) and not isinstance(until, bool) \
            and until > time.time()
        used = body.get("limit_used")
        fair_use = min(1.0, max(0.0, float(used))) \
            if isinstance(used, int | float) and not isinstance(used, bool) else None
        notes: list[str] = []
        space, points = body.get("space_used"), body.get("booster_points")
        if isinstance(space, int | float) and not isinstance(space, bool):
            notes.append(f"cloud space used: {space / 1e9:.1f} GB")
        if points is not None:
            notes.append(f"booster points: {points}")
        return Account(username=str(body.get("customer_id") or ""), premium=premium,
                       expires_at=_iso(until), fair_use=fair_use, notes=tuple(notes))


def _remote_file(item: dict[str, Any], path: str) -> RemoteFile:
    """A cloud file: `link` is its item id once Premiumize lists a URL for it."""
    try:
        size = int(item.get("size") or 0)
    except (TypeError, ValueError):
        raise ProtocolError(f"item {item.get('id')} has a size that is not a number") from None
    return RemoteFile(id=str(item.get("id") or ""), path=path.lstrip("/"), size=size,
                      selected=True, link=str(item["id"]) if item.get("link") else "")
