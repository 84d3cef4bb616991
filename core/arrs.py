"""The Arrs Debridge talks to: the configured `arrs`, those registered by a qBit login, and
which of them owns a category."""

from __future__ import annotations

import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from core.hooks import safe_url
from core.ports.arr import ArrApi, ArrError, ArrKind, ArrStatus
from core.ports.repair import ArrRegistry, Registration

log = logging.getLogger(__name__)
ARR_KEYS = ("name", "type", "url", "api_key", "categories", "mark_failed",
            "refresh_on_complete")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")
_URL = re.compile(r"https?://[^\s/?#@]+(/[^\s?#]*)?\Z")
MAX_URL = 512
MAX_KEY = 256


class ArrConfigError(ValueError):
    """An entry of `arrs` is malformed; the message names the entry and the key."""


@dataclass(frozen=True)
class ArrSettings:
    """One Arr: where it is, its key, the categories it adds into, and what it is told."""

    name: str
    type: str
    url: str
    api_key: str = field(repr=False)
    categories: tuple[str, ...] = ()
    mark_failed: bool = True             # a failed download's grab is marked failed there
    refresh_on_complete: bool = True     # RefreshMonitoredDownloads when one completes
    registered: bool = False             # by a qBit login, not in the config file

    @property
    def kind(self) -> ArrKind:
        return ArrKind(self.type)

    def shown(self) -> dict[str, Any]:
        """The entry as settings show it: the key masked."""
        return {"name": self.name, "type": self.type, "url": self.url,
                "api_key": "***" if self.api_key else "", "categories": list(self.categories),
                "mark_failed": self.mark_failed, "refresh_on_complete": self.refresh_on_complete}


def valid_url(url: str) -> bool:
    """An http(s) address without credentials, query or fragment, with a usable host and
    port."""
    if not isinstance(url, str) or len(url) > MAX_URL or not _URL.match(url):
        return False
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:           # a port out of range or not a number, a broken [IPv6]
        return False
    return bool(parts.hostname) and (port is None or port > 0)


def parse_arrs(raw: Any) -> tuple[ArrSettings, ...]:
    """The entries of `arrs`; ArrConfigError names the first bad one."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ArrConfigError("'arrs' must be a list of objects")
    result: list[ArrSettings] = []
    for index, entry in enumerate(raw):
        where = f"arrs[{index}]"
        if not isinstance(entry, Mapping):
            raise ArrConfigError(f"{where} must be an object")
        unknown = sorted(set(entry) - set(ARR_KEYS))
        if unknown:
            raise ArrConfigError(f"unknown key '{where}.{unknown[0]}'")
        name, kind, url, key = (entry.get(k) for k in ("name", "type", "url", "api_key"))
        if not isinstance(name, str) or not _NAME.match(name):
            raise ArrConfigError(f"'{where}.name' must be a short name (letters, digits, "
                                 "space . _ -)")
        if not isinstance(kind, str) or kind not in {k.value for k in ArrKind}:
            raise ArrConfigError(f"'{where}.type' must be one of "
                                 f"{', '.join(k.value for k in ArrKind)}")
        if not isinstance(url, str) or not valid_url(url.rstrip("/")):
            raise ArrConfigError(f"'{where}.url' must be the Arr's http:// or https:// "
                                 "address (with its URL base, if any)")
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
            raise ArrConfigError(f"'{where}.api_key' must be the Arr's API key")
        categories = entry.get("categories", [])
        if not isinstance(categories, list) or not all(
                isinstance(c, str) and c.strip() for c in categories):
            raise ArrConfigError(f"'{where}.categories' must be a list of category names")
        flags = {}
        for flag in ("mark_failed", "refresh_on_complete"):
            value = entry.get(flag, True)
            if not isinstance(value, bool):
                raise ArrConfigError(f"'{where}.{flag}' must be true or false")
            flags[flag] = value
        result.append(ArrSettings(name, kind, url.rstrip("/"), key.strip(),
                                  tuple(dict.fromkeys(c.strip() for c in categories)),
                                  **flags))
    names = [a.name for a in result]
    for name in names:
        if names.count(name) > 1:
            raise ArrConfigError(f"duplicate Arr name {name!r} in 'arrs'")
    return tuple(result)


def registered_name(kind: ArrKind, url: str) -> str:
    """How a registered Arr is named: its type and address."""
    parts = urllib.parse.urlsplit(url)
    return f"{kind.value}@{parts.netloc}{parts.path.rstrip('/')}"


Connect = Callable[[ArrSettings], ArrApi]
Detect = Callable[[str, str], tuple[ArrKind, ArrStatus]]


class ArrDirectory:
    """Every Arr Debridge knows of. A category is owned by the Arrs that list it; the
    configured entries come first, then those registered by login."""

    def __init__(self, configured: Sequence[ArrSettings], registry: ArrRegistry,
                 connect: Connect, detect: Detect, *, register_by_login: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.configured = tuple(configured)
        self.registry = registry
        self.connect = connect
        self.detect = detect
        self.register_by_login = register_by_login
        self.clock = clock

    def may_listen(self) -> bool:
        """Whether any Arr may want notices (configured, registered, or registering)."""
        return bool(self.configured) or self.register_by_login or \
            bool(self.registry.registrations())

    def entries(self) -> list[ArrSettings]:
        known = {a.url for a in self.configured}
        registered = [ArrSettings(registered_name(ArrKind(r.type), r.url), r.type, r.url,
                                  r.api_key, r.categories, registered=True)
                      for r in self.registry.registrations() if r.url not in known]
        return [*self.configured, *registered]

    def named(self, names: Sequence[str]) -> list[ArrSettings]:
        """The Arrs of these names (all when empty); an unknown name is an error."""
        entries = self.entries()
        if not names:
            return entries
        by_name = {a.name: a for a in entries}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise KeyError(unknown[0])
        return [by_name[n] for n in names]

    def owners(self, category: str) -> list[ArrSettings]:
        return [a for a in self.entries() if category in a.categories]

    def client(self, arr: ArrSettings) -> ArrApi:
        return self.connect(arr)

    # -- registration by qBit login ---------------------------------------------------------
    def login(self, username: str, password: str) -> bool:
        """A qBit login whose user name is an Arr's address and password its API key: True
        (and the Arr registered) when that Arr answers its status call with that key."""
        url = username.strip().rstrip("/")
        if not self.register_by_login or not valid_url(url) or not password \
                or len(password) > MAX_KEY:
            return False
        try:
            kind, status = self.detect(url, password)
        except ArrError as exc:
            log.info("a qBit login named an Arr at %s, which did not accept it: %s",
                     safe_url(url), exc.message)
            return False
        self.registry.save_registration(Registration(url, kind.value, password, (),
                                                     status.version, self.clock()))
        log.info("%s %s at %s registered itself by logging in", status.app_name,
                 status.version, safe_url(url))
        return True

    def note_category(self, username: str | None, category: str) -> None:
        """A session added into `category`: if it is a registered Arr's, that Arr owns it."""
        if not username or not category or not valid_url(username.strip().rstrip("/")):
            return
        if self.registry.add_registration_category(username.strip().rstrip("/"), category):
            log.info("the Arr at %s adds into category %r: failures there are reported to "
                     "it", safe_url(username), category)

    def statuses(self) -> list[dict[str, Any]]:
        """Each Arr with what its status call says now (never its key); asked all at once,
        so one Arr that does not answer costs its timeout, not the sum."""
        entries = self.entries()
        with ThreadPoolExecutor(max(1, min(8, len(entries)))) as pool:
            return list(pool.map(self._status_row, entries))

    def _status_row(self, arr: ArrSettings) -> dict[str, Any]:
        row: dict[str, Any] = {"name": arr.name, "type": arr.type, "url": safe_url(arr.url),
                               "categories": list(arr.categories), "registered": arr.registered,
                               "mark_failed": arr.mark_failed,
                               "refresh_on_complete": arr.refresh_on_complete}
        try:
            status = self.client(arr).status()
            row.update(reachable=True, version=status.version, error="")
        except ArrError as exc:
            row.update(reachable=False, version="", error=exc.message)
        return row
