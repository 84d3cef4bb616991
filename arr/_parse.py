"""Each Arr's dialect (prefix, resource and field names, commands); its JSON to port records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.ports.arr import (
    ArrKind,
    ArrStatus,
    Command,
    HistoryRecord,
    MediaFile,
    MediaItem,
    QueueRecord,
)


class Shape(ValueError):
    """A 2xx body that is not what the API documents (the client makes it BAD_ANSWER)."""


@dataclass(frozen=True)
class Dialect:
    app: str                 # appName in system/status, and who is named in messages
    prefix: str              # api/v3 or api/v1
    items: str               # series / movie / artist
    title_key: str           # Lidarr's artists have artistName, not title
    item_key: str            # seriesId / movieId / artistId
    search_key: str          # episodeId / movieId / albumId
    files: str               # episodefile / moviefile / trackfile
    unknown_flag: str        # includeUnknown…Items
    search_command: str
    search_field: str
    event_types: tuple[str, ...]   # history eventType by its int (for an Arr that sends ints)


_SONARR_EVENTS = ("unknown", "grabbed", "seriesFolderImported", "downloadFolderImported",
                  "downloadFailed", "episodeFileDeleted", "episodeFileRenamed", "downloadIgnored")
_RADARR_EVENTS = ("unknown", "grabbed", "", "downloadFolderImported", "downloadFailed", "",
                  "movieFileDeleted", "movieFolderImported", "movieFileRenamed",
                  "downloadIgnored")
_LIDARR_EVENTS = ("unknown", "grabbed", "artistFolderImported", "trackFileImported",
                  "downloadFailed", "trackFileDeleted", "trackFileRenamed",
                  "albumImportIncomplete", "downloadImported", "trackFileRetagged",
                  "downloadIgnored")

DIALECTS: dict[ArrKind, Dialect] = {
    ArrKind.SONARR: Dialect("Sonarr", "api/v3", "series", "title", "seriesId", "episodeId",
                            "episodefile", "includeUnknownSeriesItems", "EpisodeSearch",
                            "episodeIds", _SONARR_EVENTS),
    ArrKind.RADARR: Dialect("Radarr", "api/v3", "movie", "title", "movieId", "movieId",
                            "moviefile", "includeUnknownMovieItems", "MoviesSearch",
                            "movieIds", _RADARR_EVENTS),
    ArrKind.LIDARR: Dialect("Lidarr", "api/v1", "artist", "artistName", "artistId", "albumId",
                            "trackfile", "includeUnknownArtistItems", "AlbumSearch",
                            "albumIds", _LIDARR_EVENTS),
}
GRABBED = 1


def obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Shape(f"{what} is not an object")
    return value


def array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise Shape(f"{what} is not a list")
    return value


def integer(data: dict[str, Any], key: str, default: int | None = None) -> int:
    """A required int field; JSON omits nulls, so an optional one takes `default`."""
    value = data.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise Shape(f"{key!r} is not an integer")
    return value


def text(data: dict[str, Any], key: str, default: str | None = "") -> str:
    value = data.get(key)
    if value is None and default is not None:
        return default
    if not isinstance(value, str):
        raise Shape(f"{key!r} is not a string")
    return value


def page(body: Any) -> tuple[list[dict[str, Any]], int]:
    """A PagingResource: its records and totalRecords."""
    data = obj(body, "the page")
    records = [obj(r, "a record") for r in array(data.get("records"), "records")]
    return records, integer(data, "totalRecords")


def status(body: Any) -> ArrStatus:
    data = obj(body, "system/status")
    return ArrStatus(app_name=text(data, "appName", None), version=text(data, "version"),
                     instance_name=text(data, "instanceName"))


def event_type(dialect: Dialect, value: Any) -> str:
    # the Arrs write enums as camelCase strings; an int is mapped by the app's own table
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) \
            and 0 <= value < len(dialect.event_types):
        return dialect.event_types[value] or "unknown"
    raise Shape("'eventType' is neither a string nor a known number")


def history(dialect: Dialect, data: dict[str, Any]) -> HistoryRecord:
    return HistoryRecord(
        id=integer(data, "id"), download_id=text(data, "downloadId"),
        event_type=event_type(dialect, data.get("eventType")),
        item_id=integer(data, dialect.item_key, 0),
        search_id=integer(data, dialect.search_key, 0),
        source_title=text(data, "sourceTitle"), date=text(data, "date"))


def queue(dialect: Dialect, data: dict[str, Any]) -> QueueRecord:
    return QueueRecord(
        id=integer(data, "id"), download_id=text(data, "downloadId"), title=text(data, "title"),
        status=text(data, "status"), tracked_state=text(data, "trackedDownloadState"),
        # an unknown item (includeUnknown…) has no series/movie/artist: 0
        item_id=integer(data, dialect.item_key, 0),
        search_id=integer(data, dialect.search_key, 0))


def item(dialect: Dialect, data: dict[str, Any]) -> MediaItem:
    return MediaItem(id=integer(data, "id"), title=text(data, dialect.title_key),
                     path=text(data, "path", None))


def media_file(dialect: Dialect, data: dict[str, Any]) -> MediaFile:
    season = data.get("seasonNumber") if dialect.files == "episodefile" else None
    album = data.get("albumId") if dialect.files == "trackfile" else None
    if season is not None and not isinstance(season, int):
        raise Shape("'seasonNumber' is not an integer")
    if album is not None and not isinstance(album, int):
        raise Shape("'albumId' is not an integer")
    return MediaFile(id=integer(data, "id"), item_id=integer(data, dialect.item_key, 0),
                     path=text(data, "path", None), size=integer(data, "size", 0),
                     season=season, album_id=album)


def command(data: Any) -> Command:
    body = obj(data, "the command")
    return Command(id=integer(body, "id"), name=text(body, "name", None),
                   status=text(body, "status"))


def _moment(record: HistoryRecord) -> datetime:
    try:
        moment = datetime.fromisoformat(record.date.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def newest_first(records: list[HistoryRecord]) -> list[HistoryRecord]:
    """By date, then by id (a season pack's records share one date), newest first."""
    return sorted(records, key=lambda r: (_moment(r), r.id), reverse=True)


def _folder_key(path: str) -> tuple[str, bool]:
    windows = "\\" in path or (len(path) > 1 and path[1] == ":")
    normal = path.replace("\\", "/").rstrip("/")
    return (normal.casefold() if windows else normal), windows


def holds(folder: str, path: str) -> bool:
    """`folder` contains `path` by whole components: /tv/Show holds /tv/Show/x, not
    /tv/Show 2/x. Windows folders (C:\\TV) compare without case, as that filesystem does."""
    key, windows = _folder_key(folder)
    if not key:
        return False
    target = path.replace("\\", "/")
    target = target.casefold() if windows else target
    return target.rstrip("/") == key or target.startswith(key + "/")
