"""The fake Arrs' per-app table (APPS), the records they keep and the formats they answer in."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

EPOCH = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CLIENT_ID = 1                       # the download client's id, part of the queue-id hash
CLIENT_NAME = "Debridge"
_COMMON_COMMANDS = ("RefreshMonitoredDownloads", "RssSync", "ApplicationUpdate", "Backup",
                    "CheckHealth", "RenameFiles")


@dataclass(frozen=True)
class App:
    """What differs between the three (reference §1–7)."""

    name: str
    version: str
    prefix: str
    items: str                      # series / movie / artist
    title_key: str
    item_key: str                   # seriesId / movieId / artistId
    search_key: str                 # episodeId / movieId / albumId (the grab's unit)
    files: str                      # episodefile / moviefile / trackfile
    file_noun: str                  # "Episode file" for "... not found"
    file_filters: str               # the 400 message without a filter
    unknown_flag: str
    history_model: str              # the ModelNotFoundException type name
    item_model: str
    events: tuple[str, ...]         # history eventType names by int (§3 table)
    commands: tuple[str, ...]
    scan: str


APPS: dict[str, App] = {
    "sonarr": App(
        "Sonarr", "4.0.19.2979", "/api/v3", "series", "title", "seriesId", "episodeId",
        "episodefile", "Episode file", "seriesId or episodeFileIds must be provided",
        "includeUnknownSeriesItems", "EpisodeHistory", "Series",
        ("unknown", "grabbed", "seriesFolderImported", "downloadFolderImported",
         "downloadFailed", "episodeFileDeleted", "episodeFileRenamed", "downloadIgnored"),
        ("EpisodeSearch", "SeasonSearch", "SeriesSearch", "DownloadedEpisodesScan",
         "RescanSeries", "RefreshSeries", "MissingEpisodeSearch", *_COMMON_COMMANDS),
        "DownloadedEpisodesScan"),
    "radarr": App(
        "Radarr", "6.0.4.10291", "/api/v3", "movie", "title", "movieId", "movieId",
        "moviefile", "Movie file", "movieId or movieFileIds must be provided",
        "includeUnknownMovieItems", "MovieHistory", "Movie",
        ("unknown", "grabbed", "", "downloadFolderImported", "downloadFailed", "",
         "movieFileDeleted", "movieFolderImported", "movieFileRenamed", "downloadIgnored"),
        ("MoviesSearch", "DownloadedMoviesScan", "RescanMovie", "RefreshMovie",
         "MissingMoviesSearch", *_COMMON_COMMANDS),
        "DownloadedMoviesScan"),
    "lidarr": App(
        "Lidarr", "2.13.3.4711", "/api/v1", "artist", "artistName", "artistId", "albumId",
        "trackfile", "Track file", "artistId, albumId, trackFileIds or unmapped must be provided",
        "includeUnknownArtistItems", "EntityHistory", "Artist",
        ("unknown", "grabbed", "artistFolderImported", "trackFileImported", "downloadFailed",
         "trackFileDeleted", "trackFileRenamed", "albumImportIncomplete", "downloadImported",
         "trackFileRetagged", "downloadIgnored"),
        ("AlbumSearch", "ArtistSearch", "DownloadedAlbumsScan", "RefreshArtist", "RefreshAlbum",
         "RescanFolders", "MissingAlbumSearch", *_COMMON_COMMANDS),
        "DownloadedAlbumsScan"),
}
# command fields that the Arr deserializes into ints (a wrong type is a 400 there too)
INT_FIELDS = {"seriesId", "seasonNumber", "movieId", "artistId", "albumId"}
INT_LIST_FIELDS = {"episodeIds", "movieIds", "albumIds", "artistIds", "seriesIds"}


@dataclass
class History:
    id: int
    download_id: str
    event_type: str
    item_id: int
    search_id: int
    source_title: str
    date: datetime
    season: int | None = None          # a whole-season release (Sonarr's redownload choice)
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Queued:
    download_id: str
    item_id: int | None                # None: an item the Arr could not match (unknown)
    search_id: int
    title: str
    status: str
    tracked_state: str
    timeleft: int | None
    size: int
    sizeleft: int
    season: int | None
    added: datetime


def hash_id(text: str) -> int:
    """Like the Arrs' HashConverter.GetHashInt31: a stable positive 31-bit id."""
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def timespan(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}.{text}" if days else text


def spaced(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


QUALITY = {"quality": {"id": 7, "name": "WEBDL-1080p", "source": "web", "resolution": 1080},
           "revision": {"version": 1, "real": 0, "isRepack": False}}


class Answer(Exception):
    """An answer from deep in a handler (the Arrs' ErrorModel pipeline)."""

    def __init__(self, response: Response) -> None:
        self.response = response

    @classmethod
    def error(cls, status: int, message: str) -> Answer:
        return cls(json_response({"message": message}, status))


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json; charset=utf-8")


def paged(rows: list[dict[str, Any]], request: Request, default_key: str,
          default_direction: str, *, sort: bool = True,
          last_page_past_end: bool = False) -> dict[str, Any]:
    """PagingResource: page 1 and pageSize 10 by default. The queue answers a page past the
    end with page max(floor(total/pageSize), 1) (QueueController's integer division); a
    database-paged resource (history) answers it empty."""
    page = _positive(request.args.get("page"), 1)
    size = _positive(request.args.get("pageSize"), 10)
    key = request.args.get("sortKey") or default_key
    direction = request.args.get("sortDirection") or default_direction
    if sort and key == "date":
        rows = sorted(rows, key=lambda r: (r.get("date", ""), r["id"]),
                      reverse=direction == "descending")
    elif not sort and direction == "descending":
        rows = rows[::-1]
    chosen = rows[(page - 1) * size:page * size]
    if not chosen and page > 1 and last_page_past_end:
        page = max(len(rows) // size, 1)
        chosen = rows[(page - 1) * size:page * size]
    return {"page": page, "pageSize": size, "sortKey": key, "sortDirection": direction,
            "totalRecords": len(rows), "records": chosen}


def _positive(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() and int(text) > 0 else default
