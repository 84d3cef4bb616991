"""A fake Sonarr, Radarr or Lidarr on a loopback HTTP server: its server, test API and records."""
# Built from the API reference (shared/reference/arr-apis.md §1–6, §10): auth, URL base, paging,
# history, commands, files. The routes are in fake_arr_routes, the per-app table in fake_arr_apps.

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.fake_arr_apps import (
    APPS,
    CLIENT_ID,
    CLIENT_NAME,
    EPOCH,
    Answer,
    App,
    History,
    Queued,
    json_response,
)
from tests.fake_arr_routes import ArrRoutes
from tests.helpers import free_port

__all__ = ["APPS", "CLIENT_ID", "CLIENT_NAME", "EPOCH", "App", "Call", "FakeArr", "running"]


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


class _Quiet(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class FakeArr(ArrRoutes):
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
            self._history: dict[int, History] = {}
            self._queue: list[Queued] = []
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
                record = History(self._next("history"), download_id, name, item_id,
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
            made = [Queued(download_id.upper(), item_id, s, title, status, tracked_state,
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
            return json_response({"status": "OK"}), "/ping", None
        auth_via, key = _api_key(request)
        if key != self.api_key:
            return Response(status=401), relative, auth_via
        if relative == path:            # not under the prefix: no such API route
            return Response(status=404), relative, auth_via
        try:
            with self._lock:
                return self._route(request, relative), relative, auth_via
        except Answer as answer:
            return answer.response, relative, auth_via


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


def running(kind: str, **options: Any) -> Iterator[FakeArr]:
    """For fixtures: `yield from running("sonarr")`."""
    with FakeArr(kind, **options) as fake:
        yield fake
