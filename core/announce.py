"""cross-seed's announce, autobrr's gate: find a release's info-hash, add it once, and tell
whether it is complete, still on its way, or of no use."""

from __future__ import annotations

import enum
import logging
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import (
    FetchFailed,
    InvalidInput,
    InvalidSource,
    InvalidTorrentFile,
    TorrentNotFound,
)
from core.library import AddOptions, AddStatus, Library
from core.models import Torrent, TorrentState
from core.ports import AnnounceStore, TorrentFetcher
from core.sources import TorrentSource, parse_info_hash, parse_magnet, parse_torrent_file

log = logging.getLogger(__name__)
S = TorrentState
# autobrr retries up to 100 times 900 s apart (cross-seed's advice): 25 hours. A release is
# remembered well past that, so its last retry still finds what the first one did.
MEMORY_SECONDS = 3 * 86400
PURGE_EVERY_SECONDS = 3600.0
MAX_TEXT = 1024          # name, tracker
MAX_URL = 4096           # guid, link, cookie
# The links fetched: http(s), an ASCII host name or address, a port that exists, printable
# ASCII after it (percent-encoded, as trackers write them). api/openapi.yaml says the same.
PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
LINK = re.compile(rf"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~-]+(?::{PORT})?(?:[/?#][!-~]*)?")
ADDED, REFUSED = "added", "refused"


class Verdict(enum.StrEnum):
    """What an announce answers (cross-seed's 200, 202 and 204)."""

    COMPLETE = "complete"          # in the library, its files placed
    DOWNLOADING = "downloading"    # in the library, still on its way: ask again later
    UNUSABLE = "unusable"          # blocked, refused, not cached and may not download, or
    #                                no .torrent could be had: nothing will come of it


@dataclass(frozen=True)
class Announcement:
    """One announce: cross-seed's {name, guid, link, tracker}, its older `size`, and what
    autobrr may add (infoHash, magnet) or need (the tracker's cookie for `link`)."""

    name: str
    guid: str
    link: str
    tracker: str
    size: int | None = None      # accepted (cross-seed v5 sent it); not needed to add
    info_hash: str = ""
    magnet: str = ""
    cookie: str = ""


@dataclass(frozen=True)
class AnnounceAnswer:
    """The verdict, the hash it is about ("" when none was found) and why."""

    verdict: Verdict
    hash: str = ""
    message: str = ""
    torrent: Torrent | None = None


@dataclass(frozen=True)
class AnnounceConfig:
    """api.announce_category and api.announce_wait_seconds, as they are now (both live)."""

    category: str
    wait_seconds: float


def announce_config(settings: Mapping[str, Any]) -> AnnounceConfig:
    return AnnounceConfig(str(settings["api.announce_category"]),
                          float(settings["api.announce_wait_seconds"]))


def _host(url: str) -> str:
    """Only the host of a download link is ever logged: its path and query carry passkeys."""
    return urllib.parse.urlsplit(url).hostname or "?"


def _text(value: str, field: str, limit: int, *, empty: bool = False,
          banned: str = "\x00") -> str:
    """A text field as the store can keep it: within its length, none of `banned`, and
    UTF-8 (a JSON body may carry a lone surrogate)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field!r} is not valid text") from None
    if (not value and not empty) or len(value) > limit or any(c in value for c in banned):
        raise InvalidInput(f"{field!r} must be {'a' if empty else 'a non-empty'} string of "
                           f"at most {limit} characters without NUL or line breaks")
    return value


def validated(announcement: Announcement) -> tuple[str, TorrentSource | None]:
    """The announce's own info-hash ("" if none) and magnet source; InvalidInput (400) for
    anything malformed, before anything is fetched, added or remembered."""
    a = announcement
    _text(a.name, "name", MAX_TEXT)
    _text(a.guid, "guid", MAX_URL)
    _text(a.tracker, "tracker", MAX_TEXT)
    _text(a.link, "link", MAX_URL)
    if not LINK.fullmatch(a.link):
        raise InvalidInput("'link' must be an http:// or https:// URL (ASCII, "
                           "percent-encoded)")
    if a.size is not None and a.size < 0:
        raise InvalidInput("'size' must be a whole number of bytes (0 or more)")
    _text(a.cookie, "cookie", MAX_URL, empty=True, banned="\r\n\x00")
    info_hash = parse_info_hash(a.info_hash) if a.info_hash else ""
    source = parse_magnet(_text(a.magnet, "magnet", MAX_URL, empty=True)) if a.magnet \
        else None
    if source is not None and info_hash and source.hash != info_hash:
        raise InvalidInput("'infoHash' and the magnet link name different torrents")
    return info_hash or (source.hash if source else ""), source


class Announcer:
    """The announce use case: one add per info-hash however often autobrr asks."""

    def __init__(self, library: Library, store: AnnounceStore, fetcher: TorrentFetcher,
                 config: Callable[[], AnnounceConfig],
                 clock: Callable[[], float] = time.time) -> None:
        self.library = library
        self.store = store
        self.fetcher = fetcher
        self.config = config          # read per announce: /api/config may change it
        self.clock = clock
        self._purged_at = 0.0

    def announce(self, announcement: Announcement) -> AnnounceAnswer:
        """Resolve the hash (given, remembered for the guid, or from the .torrent at the
        link), then answer from the library, or add the release and answer from its state
        once the provider's verdict is in and the announce wait is over."""
        info_hash, source = validated(announcement)
        self._purge()
        a, config = announcement, self.config()
        info_hash = info_hash or self.store.announced_hash(a.guid) or ""
        if not info_hash:
            source = self._fetch(a)
            if source is None:
                return self._unusable(a, "", "no torrent could be had from the link")
            info_hash = source.hash
        self.store.remember_announce(a.guid, info_hash, self.clock())
        return self._answer(a, info_hash, source, config)

    def _answer(self, a: Announcement, info_hash: str, source: TorrentSource | None,
                config: AnnounceConfig) -> AnnounceAnswer:
        if self.library.blocked([info_hash]):
            return self._unusable(a, info_hash, "blocked (flagged in the registry)")
        try:
            return self._settle(a, self.library.torrent(info_hash, with_files=False),
                                config.wait_seconds)
        except TorrentNotFound:
            pass
        memory = self.store.announce_outcome(info_hash)
        if memory is not None and memory.outcome == ADDED:
            return self._unusable(a, info_hash, "added by an earlier announce and removed "
                                                "from the library since")
        if memory is not None:
            return self._unusable(a, info_hash, memory.message)
        if source is None or not source.torrent_file:
            source = self._source_for(a, info_hash, source)
        result = self.library.add_each([source], AddOptions(category=config.category))[0]
        if result.status is AddStatus.BLOCKED:
            return self._unusable(a, info_hash, result.message)
        if result.status is AddStatus.REFUSED:
            self.store.set_announce_outcome(info_hash, REFUSED, result.message, self.clock())
            return self._unusable(a, info_hash, result.message)
        if result.status is AddStatus.ADDED:
            self.store.set_announce_outcome(info_hash, ADDED, "", self.clock())
            log.info("announce of %s (%s) added torrent %s", a.name, a.tracker, info_hash)
        if result.torrent is None:
            return self._unusable(a, info_hash, "removed from the library meanwhile")
        return self._settle(a, result.torrent, config.wait_seconds)

    def _source_for(self, a: Announcement, info_hash: str,
                    magnet: TorrentSource | None) -> TorrentSource:
        """What to add for a hash known without its .torrent: the .torrent at the link when
        it is that torrent (the provider then needs no peers for the metadata), else the
        magnet given, else a bare magnet of the hash."""
        fetched = self._fetch(a)
        if fetched is not None and fetched.hash == info_hash:
            return fetched
        if fetched is not None:
            log.info("announce of %s (%s): the link's torrent is %s, not the announced %s; "
                     "adding the announced hash", a.name, a.tracker, fetched.hash, info_hash)
        if magnet is not None:
            return magnet
        name = urllib.parse.quote(a.name, safe="", errors="replace")
        return parse_magnet(f"magnet:?xt=urn:btih:{info_hash}&dn={name}")

    def _fetch(self, a: Announcement) -> TorrentSource | None:
        """The release behind the link (a .torrent, or the magnet it redirected to); None
        when the link gives nothing usable (logged with the link's host only)."""
        try:
            fetched = self.fetcher.fetch(a.link, cookie=a.cookie)
            if fetched.magnet:
                return parse_magnet(fetched.magnet)
            return parse_torrent_file(fetched.data, f"the .torrent from {_host(a.link)}")
        except (FetchFailed, InvalidSource, InvalidTorrentFile) as exc:
            log.info("announce of %s (%s): no torrent from %s: %s", a.name, a.tracker,
                     _host(a.link), exc)
            return None

    def _settle(self, a: Announcement, torrent: Torrent, wait: float) -> AnnounceAnswer:
        """Complete now, or within the announce wait; failed; else still on its way."""
        if torrent.state not in (S.COMPLETED, S.FAILED) and wait > 0:
            waited = self.library.wait_for(
                [torrent.id], lambda t: t is None or t.state in (S.COMPLETED, S.FAILED),
                wait)[0]
            if waited is None:
                return self._unusable(a, torrent.hash, "removed from the library meanwhile")
            torrent = waited
        if torrent.state is S.COMPLETED:
            return AnnounceAnswer(Verdict.COMPLETE, torrent.hash, "complete", torrent)
        if torrent.state is S.FAILED:
            return self._unusable(a, torrent.hash, torrent.message or "failed")
        return AnnounceAnswer(Verdict.DOWNLOADING, torrent.hash, "still downloading", torrent)

    def _unusable(self, a: Announcement, info_hash: str, why: str) -> AnnounceAnswer:
        log.info("announce of %s (%s) answered 'nothing to use'%s: %s", a.name, a.tracker,
                 f" for {info_hash}" if info_hash else "", why)
        return AnnounceAnswer(Verdict.UNUSABLE, info_hash, why)

    def _purge(self) -> None:
        now = self.clock()
        if now - self._purged_at >= PURGE_EVERY_SECONDS:
            self._purged_at = now
            self.store.forget_announces(now - MEMORY_SECONDS)
