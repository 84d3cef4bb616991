"""Typed errors of the domain and of the provider port; each surface maps them in one place."""

from __future__ import annotations

import enum
import time
from typing import ClassVar


class DebridgeError(Exception):
    """Base of every error Debridge raises on purpose. `status` is its HTTP status: every
    surface answers with it (qBittorrent's keeps its own where real qBittorrent differs)."""

    status: ClassVar[int] = 500


class InvalidInput(DebridgeError):
    """A request parameter is missing or malformed."""

    status = 400


class InvalidSource(DebridgeError):
    """A URL that is not a usable magnet link."""

    status = 400


class InvalidTorrentFile(DebridgeError):
    """An uploaded .torrent that cannot be parsed."""

    status = 400

    def __init__(self, filename: str, why: str = "") -> None:
        super().__init__(f"{filename!r} is not a valid torrent file{': ' + why if why else ''}")
        self.filename = filename


class TooManySources(DebridgeError):
    """One add asked for more torrents than Debridge takes in one request."""

    status = 400

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} torrents in one request: at most {limit} are taken")
        self.limit = limit


class DuplicateTorrent(DebridgeError):
    """A torrent with this info-hash is already in Debridge."""

    status = 409


class NotFound(DebridgeError):
    """No such thing: a folder or file of the tree, a route's record."""

    status = 404


class Unauthorized(DebridgeError):
    """No credential, or a wrong one."""

    status = 401


class TorrentBlocked(DebridgeError):
    """The info-hash is on the block list (flagged in the registry): every add refuses it."""

    status = 403

    def __init__(self, info_hash: str) -> None:
        super().__init__(f"torrent {info_hash} is blocked (flagged); unflag it to add it")
        self.info_hash = info_hash


class TorrentNotFound(DebridgeError):
    """No torrent with this hash."""

    status = 404


class CategoryError(DebridgeError):
    """Base of category problems."""

    status = 400


class EmptyCategoryName(CategoryError):
    """The category name is empty."""


class InvalidCategoryName(CategoryError):
    """The category name is not allowed (qBittorrent's rules)."""


class CategoryExists(CategoryError):
    """The category already exists."""

    status = 409


class CategoryNotFound(CategoryError):
    """The category does not exist."""

    status = 404


class InvalidTorrentName(DebridgeError):
    """A torrent name that is empty or not usable."""

    status = 400


class InvalidSavePath(DebridgeError):
    """A save path that is empty or not absolute."""

    status = 400


class SavePathUnusable(DebridgeError):
    """A save path that cannot be created or written to."""

    status = 409

    def __init__(self, path: str, *, creatable: bool) -> None:
        super().__init__(path)
        self.creatable = creatable


class InvalidFileId(DebridgeError):
    """A file index that is not a number, or not a file of the torrent."""

    status = 400

    def __init__(self, text: str, *, numeric: bool) -> None:
        super().__init__(text)
        self.numeric = numeric


class InvalidPriority(DebridgeError):
    """A file priority qBittorrent does not know."""

    status = 400


class SelectionLocked(DebridgeError):
    """The provider already fixed the selection: files can be dropped, not added."""

    status = 409


class InvalidPath(DebridgeError):
    """A rename whose old path is unknown or whose new path is invalid or taken; the message
    says which, in qBittorrent's words."""

    status = 409


class MetadataMissing(DebridgeError):
    """The torrent's files are not known yet (a magnet still being resolved)."""

    status = 409


class InvalidTrackerUrl(DebridgeError):
    """A tracker URL that is not a URL."""

    status = 400


class TrackerNotFound(DebridgeError):
    """The torrent has no such tracker."""

    status = 404


class TrackerExists(DebridgeError):
    """The torrent already has this tracker."""

    status = 409


class QueueingDisabled(DebridgeError):
    """Queue positions only exist with queueing enabled."""

    status = 409


class ConfigFileError(DebridgeError):
    """The config file cannot be edited: the settings came from none, it is no longer valid
    JSON, or it cannot be read or replaced. Nothing was changed."""

    status = 409


class LoginBanned(DebridgeError):
    """Too many failed logins from this address to this surface, until `until` (unix time)."""

    status = 403

    def __init__(self, ip: str, surface: str, until: float) -> None:
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(until))
        super().__init__(f"banned until {when} after too many failed logins from {ip}; "
                         f"wait, or lift it with `python app.py unban {ip}`")
        self.ip, self.surface, self.until = ip, surface, until
        self.until_text = when


class ProviderErrorKind(enum.StrEnum):
    """What went wrong at a provider, independent of its error codes."""

    AUTH = "auth"                      # bad or expired token, locked account
    PREMIUM_REQUIRED = "premium_required"
    RATE_LIMITED = "rate_limited"
    SLOTS_FULL = "slots_full"
    QUOTA = "quota"                    # traffic / fair-use cap
    NOT_FOUND = "not_found"
    NOT_CACHED = "not_cached"
    BLOCKED = "blocked"                # infringing: permanent refusal
    INVALID = "invalid"                # bad magnet/torrent, too big
    LINK_UNAVAILABLE = "link_unavailable"
    UNAVAILABLE = "unavailable"        # 5xx, maintenance, timeouts
    UNSUPPORTED = "unsupported"
    PROTOCOL = "protocol"              # an answer we cannot understand


class ProviderError(DebridgeError):
    """A provider call failed. Adapters raise subclasses; the engine reads `kind`.

    `retryable`: trying again later may succeed. `ambiguous`: the request may have taken
    effect although no answer arrived (a timeout or 5xx after sending), so an add must be
    reconciled by hash before it is sent again.
    """

    status = 502      # the provider failed us: a bad gateway on every surface
    kind: ProviderErrorKind = ProviderErrorKind.UNAVAILABLE
    retryable: bool = False

    def __init__(self, message: str, *, provider: str = "", native_code: int | str | None = None,
                 http_status: int | None = None, retry_after: float | None = None,
                 ambiguous: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.native_code = native_code
        self.http_status = http_status
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class LinkExpired(DebridgeError):
    """A direct link answered 401/403/404/410/503 before any byte: resolve it again."""

    status = 502

    def __init__(self, link_status: int) -> None:
        super().__init__(f"direct link answered HTTP {link_status}")
        self.link_status = link_status


class UpstreamFailed(DebridgeError):
    """A file's bytes could not be fetched from the provider's CDN (a 502 on every surface)."""

    status = 502


class FetchFailed(DebridgeError):
    """A .torrent could not be fetched from a download link (unreachable, refused, too big,
    too slow, or not http(s)); the message names the host at most, never the link."""

    status = 502
