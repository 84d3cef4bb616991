"""A fake Sonarr, Radarr or Lidarr on a real loopback HTTP server, built from the API reference
(shared/reference/arr-apis.md §1–6, §10): auth, URL base, paging, history, commands, files."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.helpers import free_port

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
_INT_FIELDS = {"seriesId", "seasonNumber", "movieId", "artistId", "albumId"}
_INT_LIST_FIELDS = {"episodeIds", "movieIds", "albumIds", "artistIds", "seriesIds"}


@dataclass(frozen=True)
class Call:
    """A request the fake answered. `path` is relative to the API prefix ("history/failed/3"),
    or absolute ("/ping") outside it; `query` never holds `apikey`; `auth_via` says where
    the key came from: "query", "header", "bearer" or None."""

    method: str
    path: str
    query: dict[str, list[str]]
    json: Any
    status: int
    auth_via: str | None

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None


@dataclass
class _History:
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
class _Queued:
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


def _hash_id(text: str) -> int:
    """Like the Arrs' HashConverter.GetHashInt31: a stable positive 31-bit id."""
    digest = hashlib.sha1(text.encode(), usedforsecurity=False).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timespan(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{days}.{text}" if days else text


def _spaced(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class FakeArr:
    """One fake Arr of `kind` ("sonarr", "radarr", "lidarr"). Thread-safe; the Python API is
    for tests, the HTTP API is the Arr's."""

    def __init__(self, kind: str, api_key: str = "fake-arr-key", url_base: str = "", *,
                 auto_redownload: bool = True, instance_name: str = "") -> None:
        self.kind = str(kind).lower()
        self.app = APPS[self.kind]
        self.api_key = api_key
        self.url_base = ("/" + url_base.strip("/")) if url_base.strip("/") else ""
        self.auto_redownload = auto_redownload   # AutoRedownloadFailed (on by default)
        self.instance_name = instance_name or self.app.name
        self.port = free_port()
        self._lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._down = False
        self._delay = 0.0
        self._injected: dict[tuple[str, str], Response] = {}
        self.reset()

    def reset(self) -> None:
        """Forget every item, file, record, command and call; up, no delay, no injections."""
        with self._lock:
            self._down = False
            self._delay = 0.0
            self._injected.clear()
            self._ids: dict[str, int] = {}
            self._clock = EPOCH
            self._items: dict[int, dict[str, Any]] = {}
            self._files: dict[int, dict[str, Any]] = {}
            self._history: dict[int, _History] = {}
            self._queue: list[_Queued] = []
            self._roots: dict[int, str] = {}
            self._commands: dict[int, dict[str, Any]] = {}
            self._calls: list[Call] = []
            self._failed_ids: list[int] = []
            self._blocklist: list[dict[str, Any]] = []
            self._deleted_files: list[int] = []
            self._removals: list[dict[str, Any]] = []

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The URL to configure, with the URL base."""
        return f"http://127.0.0.1:{self.port}{self.url_base}"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeArr:
        """Listen (again, on the same port after stop())."""
        self._server = make_server("127.0.0.1", self.port, self._wsgi, threaded=True,
                                   request_handler=_Quiet)
        server = self._server
        # a short poll so that stop() returns at once
        self._thread = threading.Thread(target=lambda: server.serve_forever(0.05),
                                        daemon=True, name=f"fake-{self.kind}")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until start()."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(5)
            self._server = None

    def __enter__(self) -> FakeArr:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_down(self, down: bool = True) -> None:
        """Every request answers 503 (the Arr is starting or its proxy has no backend)."""
        self._down = down

    def set_delay(self, seconds: float) -> None:
        """Answer every request this much later (a client's read timeout)."""
        self._delay = seconds

    def inject(self, method: str, path: str, status: int = 200,
               body: bytes = b"<html><body>Login</body></html>",
               content_type: str = "text/html", headers: dict[str, str] | None = None) -> None:
        """`method path` (relative to the prefix) answers this instead, before auth, as a
        proxy in front of the Arr would. Status 0 removes the injection."""
        with self._lock:
            if status:
                self._injected[(method.upper(), path)] = Response(
                    body, status, headers=headers or {}, content_type=content_type)
            else:
                self._injected.pop((method.upper(), path), None)

    # -- state for tests -------------------------------------------------------------------
    def _next(self, name: str) -> int:
        self._ids[name] = self._ids.get(name, 0) + 1
        return self._ids[name]

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def add_item(self, title: str, path: str) -> int:
        """A series, movie or artist with its folder; its id."""
        with self._lock:
            item_id = self._next("item")
            self._items[item_id] = {"id": item_id, "title": title, "path": path.rstrip("/")}
            return item_id

    def add_file(self, item_id: int, path: str, season: int | None = None,
                 album_id: int | None = None, size: int = 1_000_000) -> int:
        with self._lock:
            file_id = self._next("file")
            self._files[file_id] = {"id": file_id, "item_id": item_id, "path": path,
                                    "season": season, "album_id": album_id, "size": size,
                                    "added": self._tick()}
            return file_id

    def add_root_folder(self, path: str) -> int:
        with self._lock:
            folder_id = self._next("root")
            self._roots[folder_id] = path.rstrip("/")
            return folder_id

    def add_history(self, download_id: str, item_id: int, search_ids: Iterable[int],
                    event_type: str | int, source_title: str = "Some.Release-GRP", *,
                    date: datetime | None = None, season: int | None = None) -> list[int]:
        """History records of one event: one per episode (Sonarr) or album (Lidarr), one for
        Radarr's movie (its search id is the movie id). The download id is kept as given:
        the Arr stores what the client returned (for qBittorrent, the upper-case hash)."""
        name = self.app.events[event_type] if isinstance(event_type, int) else event_type
        if name not in self.app.events or not name:
            raise ValueError(f"{self.app.name} has no history event {event_type!r}")
        ids = list(search_ids) or [item_id]
        if self.kind == "radarr" and ids != [item_id]:
            raise ValueError("a Radarr history record is for one movie: search_ids=[movie]")
        with self._lock:
            moment = date or self._tick()
            made = []
            for search_id in ids:
                record = _History(self._next("history"), download_id, name, item_id,
                                  search_id, source_title, moment, season)
                if name == "grabbed":
                    record.data = {"indexer": "Fake Indexer", "downloadClient": CLIENT_NAME,
                                   "downloadClientName": CLIENT_NAME,
                                   "torrentInfoHash": download_id, "protocol": "2"}
                self._history[record.id] = record
                made.append(record.id)
            return made

    def add_grab(self, download_id: str, item_id: int, search_ids: Iterable[int],
                 source_title: str = "Some.Release-GRP", *, date: datetime | None = None,
                 season: int | None = None) -> list[int]:
        """A grab sent to the qBittorrent client: the hash upper-cased, as the Arr keeps it.
        `season` marks a whole-season pack (Sonarr then redownloads with SeasonSearch)."""
        return self.add_history(download_id.upper(), item_id, search_ids, "grabbed",
                                source_title, date=date, season=season)

    def add_queue(self, download_id: str, item_id: int | None, search_ids: Iterable[int] = (),
                  title: str = "Some.Release-GRP", *, status: str = "downloading",
                  tracked_state: str = "downloading", timeleft: int | None = 600,
                  size: int = 1_000_000, sizeleft: int = 500_000,
                  season: int | None = None) -> list[int]:
        """A tracked download in the queue (its hash upper-cased): one record per episode
        (Sonarr) or album (Lidarr), one per download (Radarr); `item_id` None is an item the
        Arr could not match. Returns the queue ids (hashed as the Arr does)."""
        ids = list(search_ids) or ([item_id] if self.kind == "radarr" and item_id else [0])
        with self._lock:
            added = self._tick()
            made = [_Queued(download_id.upper(), item_id, s, title, status, tracked_state,
                            timeleft, size, sizeleft, season, added) for s in ids]
            self._queue.extend(made)
            return list(dict.fromkeys(self._queue_id(q) for q in made))

    def history_events(self, download_id: str | None = None) -> list[tuple[int, str, int]]:
        """(id, eventType, search id) of the history, oldest first."""
        with self._lock:
            return [(h.id, h.event_type, h.search_id) for h in self._history.values()
                    if download_id is None or h.download_id == download_id]

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str, path_prefix: str = "") -> list[Call]:
        return [c for c in self.calls
                if c.method == method.upper() and c.path.startswith(path_prefix)]

    @property
    def failed_ids(self) -> list[int]:
        """History ids POSTed to history/failed (that existed)."""
        with self._lock:
            return list(self._failed_ids)

    @property
    def blocklist(self) -> list[dict[str, Any]]:
        """{item_id, search_ids, source_title, download_id, message} per blocklisted release."""
        with self._lock:
            return [dict(b) for b in self._blocklist]

    @property
    def commands(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, body) of the commands POSTed (name as the Arr names it, body as sent)."""
        with self._lock:
            return [(c["name"], c["sent"]) for c in self._commands.values()
                    if c["trigger"] == "manual"]

    @property
    def redownloads(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, body) of the searches the Arr queued itself after a failure."""
        with self._lock:
            return [(c["name"], c["sent"]) for c in self._commands.values()
                    if c["trigger"] == "automatic"]

    @property
    def deleted_files(self) -> list[int]:
        with self._lock:
            return list(self._deleted_files)

    @property
    def queue_removals(self) -> list[dict[str, Any]]:
        """{download_id, remove_from_client, blocklist, skip_redownload} per queue DELETE."""
        with self._lock:
            return [dict(r) for r in self._removals]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # -- HTTP ------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response, path, auth_via = self._answer(request)
        query = {k: v for k, v in parse_qs(request.query_string.decode(),
                                           keep_blank_values=True).items()
                 if k.lower() != "apikey"}
        body = request.get_json(silent=True) if request.data else None
        with self._lock:
            self._calls.append(Call(request.method, path, query, body, response.status_code,
                                    auth_via))
        return response(environ, start_response)

    def _answer(self, request: Request) -> tuple[Response, str, str | None]:
        if self._delay:
            time.sleep(self._delay)
        path = request.path
        if self._down:
            return Response("Service Unavailable", 503, mimetype="text/plain"), path, None
        if self.url_base:
            if path != self.url_base and not path.lower().startswith(self.url_base.lower() + "/"):
                # UrlBaseMiddleware: 307 to {urlBase}{path}{query}, before any auth
                query = request.query_string.decode()
                target = self.url_base + quote(path) + (f"?{query}" if query else "")
                return Response(status=307, headers={"Location": target}), path, None
            path = path[len(self.url_base):] or "/"
        relative = path[len(self.app.prefix) + 1:] \
            if path.lower().startswith(self.app.prefix + "/") else path
        with self._lock:
            injected = self._injected.get((request.method, relative))
        if injected is not None:
            return injected, relative, None
        if path.rstrip("/").lower() == "/ping":
            return _json({"status": "OK"}), "/ping", None
        auth_via, key = _api_key(request)
        if key != self.api_key:
            return Response(status=401), relative, auth_via
        if relative == path:            # not under the prefix: no such API route
            return Response(status=404), relative, auth_via
        try:
            with self._lock:
                return self._route(request, relative), relative, auth_via
        except _Answer as answer:
            return answer.response, relative, auth_via

    def _route(self, request: Request, path: str) -> Response:
        method, parts = request.method, path.strip("/").split("/")
        app = self.app
        match (method, parts):
            case ("GET", ["system", "status"]):
                return _json(self._status())
            case ("GET", ["queue"]):
                return _json(self._queue_page(request))
            case ("DELETE", ["queue", queue_id]):
                return self._remove_queued(_int(queue_id), request)
            case ("GET", ["history"]):
                return _json(self._history_page(request))
            case ("POST", ["history", "failed", history_id]):
                self._mark_failed(_int(history_id))
                return _json({})
            case ("GET", ["blocklist"]):
                rows = [{"id": i + 1, app.item_key: b["item_id"], **b}
                        for i, b in enumerate(self._blocklist)]
                return _json(_paged(rows, request, "date", "descending"))
            case ("POST", ["command"]):
                return _json(self._command(request), 201)
            case ("GET", ["command"]):
                return _json([self._command_view(c) for c in self._commands.values()])
            case ("GET", ["command", command_id]):
                command = self._commands.get(_int(command_id))
                if command is None:
                    raise _Answer.error(404, f"Command with ID {command_id} does not exist")
                return _json(self._command_view(command, fetched=True))
            case ("GET", [app.items]):
                return _json([self._item_view(i) for i in self._items.values()])
            case ("GET", [app.items, item_id]):
                return _json(self._item_view(self._item(_int(item_id))))
            case ("GET", [app.files]):
                return _json(self._file_list(request))
            case ("DELETE", [app.files, file_id]):
                self._delete_file(_int(file_id))
                return Response(status=200)
            case ("GET", ["rootfolder"]):
                return _json([self._root_view(i, p) for i, p in self._roots.items()])
        return Response(status=404)

    # -- resources -------------------------------------------------------------------------
    def _status(self) -> dict[str, Any]:
        return {"appName": self.app.name, "instanceName": self.instance_name,
                "version": self.app.version, "buildTime": "2024-01-01T00:00:00Z",
                "isDebug": False, "isProduction": True, "isAdmin": False,
                "isUserInteractive": False, "startupPath": f"/app/{self.kind}/bin",
                "appData": "/config", "osName": "debian", "isLinux": True, "isOsx": False,
                "isWindows": False, "isDocker": True, "mode": "console", "branch": "main",
                "authentication": "forms", "urlBase": self.url_base,
                "runtimeVersion": "8.0.12", "runtimeName": ".NET",
                "startTime": _stamp(EPOCH), "packageUpdateMechanism": "docker"}

    def _queue_id(self, q: _Queued) -> int:
        base = f"trackedDownload-{CLIENT_ID}-{q.download_id}"
        if self.kind == "sonarr":
            return _hash_id(f"{base}-ep{q.search_id}")
        if self.kind == "lidarr":
            return _hash_id(f"{base}-album{q.search_id}")
        return _hash_id(base)

    def _queue_view(self, q: _Queued) -> dict[str, Any]:
        app = self.app
        row: dict[str, Any] = {
            "id": self._queue_id(q), "quality": _QUALITY, "size": q.size, "title": q.title,
            "sizeleft": q.sizeleft, "added": _stamp(q.added), "status": q.status,
            "trackedDownloadStatus": "ok", "trackedDownloadState": q.tracked_state,
            "statusMessages": [], "downloadId": q.download_id, "protocol": "torrent",
            "downloadClient": CLIENT_NAME, "downloadClientHasPostImportCategory": False,
            "indexer": "Fake Indexer"}
        if q.timeleft is not None:       # nulls are omitted
            row["timeleft"] = _timespan(q.timeleft)
        if q.item_id is not None:
            row[app.item_key] = q.item_id
            if self.kind != "radarr":
                row[app.search_key] = q.search_id
        if self.kind == "sonarr" and q.item_id is not None:
            row["seasonNumber"] = q.season if q.season is not None else 1
            row["episodeHasFile"] = False
        if self.kind == "lidarr":
            row.update(trackFileCount=0, trackHasFileCount=0, downloadForced=False)
        return row

    def _queue_page(self, request: Request) -> dict[str, Any]:
        include_unknown = request.args.get(self.app.unknown_flag, "").lower() == "true"
        rows = [q for q in self._queue if q.item_id is not None or include_unknown]
        # Radarr's queue has one record per download, whatever was added
        if self.kind == "radarr":
            rows = list({self._queue_id(q): q for q in rows}.values())
        # timeleft ascending; no timeleft sorts last (the Arrs' TimeleftComparer)
        rows.sort(key=lambda q: (q.timeleft is None, q.timeleft or 0))
        return _paged([self._queue_view(q) for q in rows], request, "timeleft", "ascending",
                      sort=False, last_page_past_end=True)

    def _remove_queued(self, queue_id: int, request: Request) -> Response:
        found = [q for q in self._queue if self._queue_id(q) == queue_id]
        if not found:
            raise _Answer.error(404, f"Queue item with ID {queue_id} does not exist")
        download_id = found[0].download_id

        def flag(name: str, default: bool) -> bool:
            value = request.args.get(name)
            return default if value is None else value.lower() == "true"

        removal = {"download_id": download_id,
                   "remove_from_client": flag("removeFromClient", True),
                   "blocklist": flag("blocklist", False),
                   "skip_redownload": flag("skipRedownload", False),
                   "change_category": flag("changeCategory", False)}
        self._removals.append(removal)
        # the tracked download goes as a whole (every episode of a pack)
        self._queue = [q for q in self._queue if q.download_id != download_id]
        if removal["blocklist"]:
            grabs = [h for h in self._history.values()
                     if h.download_id == download_id and h.event_type == "grabbed"]
            if grabs:
                self._fail(grabs, "Failed download via queue removal",
                           redownload=not removal["skip_redownload"])
        return Response(status=200)

    def _history_view(self, h: _History) -> dict[str, Any]:
        row: dict[str, Any] = {"id": h.id}
        if self.kind == "sonarr":
            row.update(episodeId=h.search_id, seriesId=h.item_id)
        elif self.kind == "radarr":
            row.update(movieId=h.item_id)
        else:
            row.update(albumId=h.search_id, artistId=h.item_id, trackId=0)
        row.update(sourceTitle=h.source_title, quality=_QUALITY, qualityCutoffNotMet=False,
                   date=_stamp(h.date), eventType=h.event_type, data=dict(h.data))
        if h.download_id:
            row["downloadId"] = h.download_id
        return row

    def _history_page(self, request: Request) -> dict[str, Any]:
        rows = list(self._history.values())
        # eventType is an int and may repeat; a value that is not an int binds to nothing
        wanted = {int(v) for v in request.args.getlist("eventType") if v.lstrip("-").isdigit()}
        if wanted:
            rows = [h for h in rows if self.app.events.index(h.event_type) in wanted]
        download_id = request.args.get("downloadId", "")
        if download_id.strip():
            rows = [h for h in rows if h.download_id == download_id]     # exact, case too
        search_filter = {"sonarr": "episodeId", "lidarr": "albumId"}.get(self.kind)
        if search_filter and request.args.get(search_filter, "").isdigit():
            rows = [h for h in rows if h.search_id == int(request.args[search_filter])]
        item_ids = {int(v) for v in request.args.getlist(self.app.item_key + "s")
                    if v.isdigit()}
        if item_ids:
            rows = [h for h in rows if h.item_id in item_ids]
        return _paged([self._history_view(h) for h in rows], request, "date", "descending")

    def _mark_failed(self, history_id: int) -> None:
        """FailedDownloadService.MarkAsFailed: every grab of that download fails together."""
        record = self._history.get(history_id)
        if record is None:
            raise _Answer.error(
                404, f"{self.app.history_model} with ID {history_id} does not exist")
        self._failed_ids.append(history_id)
        if not record.download_id:
            self._fail([record], "Manually marked as failed", redownload=True)
            return
        grabs = [record] if record.event_type == "grabbed" else []
        grabs += [h for h in self._history.values() if h.download_id == record.download_id
                  and h.event_type == "grabbed" and h.id != record.id]
        if not grabs:
            # the Arr takes .First() of an empty list here
            raise _Answer.error(500, "Sequence contains no elements")
        self._fail(grabs, "Manually marked as failed", redownload=True)

    def _fail(self, grabs: list[_History], message: str, *, redownload: bool) -> None:
        """DownloadFailedEvent: a downloadFailed record per episode/album, a blocklist entry,
        and (AutoRedownloadFailed) a search. The torrent stays in the client."""
        first = grabs[0]
        search_ids = list(dict.fromkeys(h.search_id for h in grabs))
        moment = self._tick()
        for search_id in search_ids:
            failed = _History(self._next("history"), first.download_id, "downloadFailed",
                              first.item_id, search_id, first.source_title, moment,
                              data={"message": message})
            self._history[failed.id] = failed
        self._blocklist.append({"item_id": first.item_id, "search_ids": search_ids,
                                "source_title": first.source_title,
                                "download_id": first.download_id, "message": message,
                                "date": _stamp(moment), "protocol": "torrent"})
        if not (redownload and self.auto_redownload):
            return
        if self.kind == "radarr":
            self._queue_command("MoviesSearch", {"movieIds": [first.item_id]}, "automatic")
        elif self.kind == "lidarr":
            self._queue_command("AlbumSearch", {"albumIds": search_ids}, "automatic")
        elif len(search_ids) > 1 and first.season is not None \
                and all(h.season == first.season for h in grabs):
            self._queue_command("SeasonSearch", {"seriesId": first.item_id,
                                                 "seasonNumber": first.season}, "automatic")
        else:
            self._queue_command("EpisodeSearch", {"episodeIds": search_ids}, "automatic")

    def _command(self, request: Request) -> dict[str, Any]:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise _Answer.error(400, "A non-empty request body is required.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise _Answer(_json([{"propertyName": "Name",
                                  "errorMessage": "'Name' must not be empty.",
                                  "severity": "error", "errorCode": "NotEmptyValidator"}], 400))
        known = [c for c in self.app.commands if c.lower() == name.lower()]
        if not known:
            raise _Answer.error(500, "Sequence contains no matching element")
        for key, value in body.items():
            bad_int = key in _INT_FIELDS and (isinstance(value, bool) or
                                              not isinstance(value, int))
            bad_list = key in _INT_LIST_FIELDS and not (
                isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in value))
            if bad_int or bad_list:
                raise _Answer.error(400, f"The JSON value could not be converted: $.{key}")
        return self._command_view(self._queue_command(known[0], body, "manual"))

    def _queue_command(self, name: str, sent: dict[str, Any], trigger: str) -> dict[str, Any]:
        command: dict[str, Any] = {"id": self._next("command"), "name": name, "sent": dict(sent),
                   "trigger": trigger, "status": "queued", "queued": self._tick()}
        self._commands[command["id"]] = command
        return command

    def _command_view(self, command: dict[str, Any], fetched: bool = False) -> dict[str, Any]:
        if fetched and command["status"] == "queued":
            # it ran in the meantime; a scan without a path throws in the Arr
            scan = command["name"] == self.app.scan
            command["status"] = "failed" if scan and not command["sent"].get("path") \
                else "completed"
            command["message"] = "A path must be provided" if command["status"] == "failed" \
                else "Completed"
            command["result"] = "unsuccessful" if scan else "successful"
        name = command["name"]
        body = {k: v for k, v in command["sent"].items() if k != "name"}
        body.update(sendUpdatesToClient=True, updateScheduledTask=True,
                    requiresDiskAccess=False, isExclusive=False, isLongRunning=False,
                    name=name, trigger=command["trigger"], suppressMessages=False)
        view = {"id": command["id"], "name": name, "commandName": _spaced(name),
                "body": body, "priority": "normal", "status": command["status"],
                "result": command.get("result", "unknown"),
                "queued": _stamp(command["queued"]), "trigger": command["trigger"],
                "stateChangeTime": _stamp(command["queued"]), "sendUpdatesToClient": True,
                "updateScheduledTask": True}
        if "message" in command:
            view["message"] = command["message"]
        return view

    def _item(self, item_id: int) -> dict[str, Any]:
        item = self._items.get(item_id)
        if item is None:
            raise _Answer.error(404, f"{self.app.item_model} with ID {item_id} does not exist")
        return item

    def _root_of(self, path: str) -> str:
        roots = [r for r in self._roots.values() if path.startswith(r + "/")]
        return max(roots, key=len) if roots else path.rsplit("/", 1)[0]

    def _item_view(self, item: dict[str, Any]) -> dict[str, Any]:
        title, path = item["title"], item["path"]
        row: dict[str, Any] = {"id": item["id"], self.app.title_key: title,
                               "sortName" if self.kind == "lidarr" else "sortTitle":
                               title.lower(), "path": path,
                               "rootFolderPath": self._root_of(path), "monitored": True,
                               "added": _stamp(EPOCH)}
        if self.kind == "sonarr":
            row.update(status="continuing", seasonFolder=True, seriesType="standard",
                       tvdbId=70000 + item["id"])
        elif self.kind == "radarr":
            row.update(year=2020, tmdbId=90000 + item["id"],
                       hasFile=any(f["item_id"] == item["id"] for f in self._files.values()))
        else:
            row.update(artistType="Group", foreignArtistId=f"fake-mbid-{item['id']}")
        return row

    def _file_view(self, f: dict[str, Any]) -> dict[str, Any]:
        app = self.app
        item_path = self._items[f["item_id"]]["path"] if f["item_id"] in self._items else ""
        relative = f["path"][len(item_path) + 1:] if item_path and \
            f["path"].startswith(item_path + "/") else f["path"].rsplit("/", 1)[-1]
        row: dict[str, Any] = {"id": f["id"], app.item_key: f["item_id"], "path": f["path"],
                               "size": f["size"], "dateAdded": _stamp(f["added"]),
                               "quality": _QUALITY}
        if self.kind != "lidarr":
            row["relativePath"] = relative
        if self.kind == "sonarr":
            row["seasonNumber"] = f["season"] if f["season"] is not None else 1
        if self.kind == "lidarr" and f["album_id"] is not None:
            row["albumId"] = f["album_id"]
        return row

    def _file_list(self, request: Request) -> list[dict[str, Any]]:
        by_item = request.args.get(self.app.item_key, "")
        by_ids = {int(v) for name in ("episodeFileIds", "movieFileIds", "trackFileIds")
                  for v in request.args.getlist(name) if v.isdigit()}
        by_album = request.args.get("albumId", "") if self.kind == "lidarr" else ""
        if not (by_item.isdigit() or by_ids or by_album.isdigit()):
            raise _Answer.error(400, self.app.file_filters)
        rows = list(self._files.values())
        if by_item.isdigit():
            self._item(int(by_item))
            rows = [f for f in rows if f["item_id"] == int(by_item)]
        if by_album.isdigit():
            rows = [f for f in rows if f["album_id"] == int(by_album)]
        if by_ids:
            rows = [f for f in rows if f["id"] in by_ids]
        return [self._file_view(f) for f in rows]

    def _delete_file(self, file_id: int) -> None:
        if file_id <= 0:
            raise _Answer.error(400, f"{file_id} is not a valid ID")
        if self._files.pop(file_id, None) is None:
            raise _Answer.error(404, f"{self.app.file_noun} not found")
        self._deleted_files.append(file_id)

    def _root_view(self, folder_id: int, path: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": folder_id, "path": path, "accessible": True,
                               "freeSpace": 1 << 40, "unmappedFolders": []}
        if self.kind == "lidarr":
            row.update(name=path.rsplit("/", 1)[-1] or path, defaultMetadataProfileId=1,
                       defaultQualityProfileId=1, totalSpace=2 << 40)
            del row["unmappedFolders"]
        return row


_QUALITY = {"quality": {"id": 7, "name": "WEBDL-1080p", "source": "web", "resolution": 1080},
            "revision": {"version": 1, "real": 0, "isRepack": False}}


class _Answer(Exception):
    """An answer from deep in a handler (the Arrs' ErrorModel pipeline)."""

    def __init__(self, response: Response) -> None:
        self.response = response

    @classmethod
    def error(cls, status: int, message: str) -> _Answer:
        return cls(_json({"message": message}, status))


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json; charset=utf-8")


def _int(text: str) -> int:
    # a route id that is not a number binds to 0, which no record has
    return int(text) if text.lstrip("-").isdigit() else 0


def _api_key(request: Request) -> tuple[str | None, str | None]:
    """ApiKeyAuthenticationHandler: query `apikey` (any case), then X-Api-Key, then Bearer."""
    for name, value in request.args.items(multi=True):
        if name.lower() == "apikey" and value.strip():
            return "query", value
    header = request.headers.get("X-Api-Key", "")
    if header.strip():
        return "header", header
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "bearer", token.strip()
    return None, None


def _paged(rows: list[dict[str, Any]], request: Request, default_key: str,
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


def running(kind: str, **options: Any) -> Iterator[FakeArr]:
    """For fixtures: `yield from running("sonarr")`."""
    with FakeArr(kind, **options) as fake:
        yield fake
