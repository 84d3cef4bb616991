"""What Debridge needs from Sonarr, Radarr and Lidarr: status, grabs, mark-failed, commands,
media items and their files (implemented by arr.ArrClient)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class ArrKind(enum.StrEnum):
    """Which Arr: decides the API prefix (v3 or v1), the resource names and the commands."""

    SONARR = "sonarr"
    RADARR = "radarr"
    LIDARR = "lidarr"


class ArrErrorKind(enum.StrEnum):
    UNAUTHORIZED = "unauthorized"    # 401: the API key is wrong
    NOT_FOUND = "not_found"          # 404: no such record (a history id, a file id)
    REFUSED = "refused"              # another 4xx: the Arr understood and said no
    SERVER = "server"                # 5xx
    UNREACHABLE = "unreachable"      # connection refused, timeout, DNS
    BAD_ANSWER = "bad_answer"        # 2xx that is not the JSON the API documents


class ArrError(Exception):
    """An Arr call that did not succeed. `message` is safe to log: never the key or a query."""

    def __init__(self, kind: ArrErrorKind, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status

    @property
    def retryable(self) -> bool:
        """Worth trying again later: the Arr is down or busy, or its key may be fixed."""
        return self.kind in (ArrErrorKind.SERVER, ArrErrorKind.UNREACHABLE,
                             ArrErrorKind.BAD_ANSWER, ArrErrorKind.UNAUTHORIZED)


@dataclass(frozen=True)
class ArrStatus:
    """GET system/status: what validates a URL and key."""

    app_name: str            # "Sonarr", "Radarr", "Lidarr"
    version: str
    instance_name: str = ""


@dataclass(frozen=True)
class HistoryRecord:
    """A history record. `search_id` is what that Arr's search command takes for it: the
    episode id (Sonarr), the movie id (Radarr), the album id (Lidarr)."""

    id: int
    download_id: str         # the upper-case info-hash, as the Arr keeps it
    event_type: str          # "grabbed", "downloadFailed", ...
    item_id: int             # seriesId / movieId / artistId
    search_id: int
    source_title: str = ""
    date: str = ""


@dataclass(frozen=True)
class QueueRecord:
    id: int
    download_id: str
    title: str
    status: str
    tracked_state: str       # trackedDownloadState
    item_id: int
    search_id: int


@dataclass(frozen=True)
class MediaItem:
    """A series, movie or artist, with its folder."""

    id: int
    title: str
    path: str


@dataclass(frozen=True)
class MediaFile:
    """An episode file, movie file or track file. `season` (Sonarr) and `album_id` (Lidarr)
    say which search finds it again."""

    id: int
    item_id: int
    path: str
    size: int = 0
    season: int | None = None
    album_id: int | None = None


@dataclass(frozen=True)
class Command:
    """A command the Arr queued (POST command answers 201 with it)."""

    id: int
    name: str
    status: str


class ArrApi(Protocol):
    """One Sonarr, Radarr or Lidarr. Every method raises ArrError when the call fails."""

    kind: ArrKind

    def status(self) -> ArrStatus: ...

    def grabs(self, download_id: str) -> list[HistoryRecord]:
        """The `grabbed` history records of a download (the hash, any case), newest first; a
        season pack gives one per episode."""
        ...

    def mark_failed(self, history_id: int) -> None:
        """POST history/failed/{id}: the Arr blocklists the release (and searches again when
        its own AutoRedownloadFailed is on)."""
        ...

    def queue(self, download_id: str) -> list[QueueRecord]:
        """The queue records of a download (every page read)."""
        ...

    def refresh_monitored_downloads(self) -> Command: ...

    def search(self, search_ids: Sequence[int]) -> Command:
        """EpisodeSearch / MoviesSearch / AlbumSearch for these ids."""
        ...

    def search_files(self, files: Sequence[MediaFile]) -> list[Command]:
        """Searches that find these (deleted) files' media again: SeasonSearch per season
        (Sonarr), MoviesSearch (Radarr), AlbumSearch (Lidarr)."""
        ...

    def items(self) -> list[MediaItem]: ...

    def item_for_path(self, path: str) -> MediaItem | None:
        """The item whose folder holds `path` (longest prefix), or None."""
        ...

    def files(self, item_id: int) -> list[MediaFile]: ...

    def delete_file(self, file_id: int) -> None: ...

    def root_folders(self) -> list[str]: ...
