"""The fake Arrs' HTTP routes and resources: each request on FakeArr's state, and its JSON."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from tests.fake_arr_apps import (
    CLIENT_ID,
    CLIENT_NAME,
    EPOCH,
    INT_FIELDS,
    INT_LIST_FIELDS,
    QUALITY,
    Answer,
    App,
    History,
    Queued,
    hash_id,
    json_response,
    paged,
    spaced,
    stamp,
    timespan,
)


class ArrRoutes:
    """The Arr's API over the state a FakeArr keeps (a mixin: FakeArr sets these)."""

    kind: str
    app: App
    url_base: str
    instance_name: str
    auto_redownload: bool
    _items: dict[int, dict[str, Any]]
    _files: dict[int, dict[str, Any]]
    _history: dict[int, History]
    _queue: list[Queued]
    _roots: dict[int, str]
    _commands: dict[int, dict[str, Any]]
    _failed_ids: list[int]
    _blocklist: list[dict[str, Any]]
    _deleted_files: list[int]
    _removals: list[dict[str, Any]]

    if TYPE_CHECKING:
        def _next(self, name: str) -> int: ...
        def _tick(self) -> datetime: ...

    def _route(self, request: Request, path: str) -> Response:
        method, parts = request.method, path.strip("/").split("/")
        app = self.app
        match (method, parts):
            case ("GET", ["system", "status"]):
                return json_response(self._status())
            case ("GET", ["queue"]):
                return json_response(self._queue_page(request))
            case ("DELETE", ["queue", queue_id]):
                return self._remove_queued(_int(queue_id), request)
            case ("GET", ["history"]):
                return json_response(self._history_page(request))
            case ("POST", ["history", "failed", history_id]):
                self._mark_failed(_int(history_id))
                return json_response({})
            case ("GET", ["blocklist"]):
                rows = [{"id": i + 1, app.item_key: b["item_id"], **b}
                        for i, b in enumerate(self._blocklist)]
                return json_response(paged(rows, request, "date", "descending"))
            case ("POST", ["command"]):
                return json_response(self._command(request), 201)
            case ("GET", ["command"]):
                return json_response([self._command_view(c) for c in self._commands.values()])
            case ("GET", ["command", command_id]):
                command = self._commands.get(_int(command_id))
                if command is None:
                    raise Answer.error(404, f"Command with ID {command_id} does not exist")
                return json_response(self._command_view(command, fetched=True))
            case ("GET", [app.items]):
                return json_response([self._item_view(i) for i in self._items.values()])
            case ("GET", [app.items, item_id]):
                return json_response(self._item_view(self._item(_int(item_id))))
            case ("GET", [app.files]):
                return json_response(self._file_list(request))
            case ("DELETE", [app.files, file_id]):
                self._delete_file(_int(file_id))
                return Response(status=200)
            case ("GET", ["rootfolder"]):
                return json_response([self._root_view(i, p) for i, p in self._roots.items()])
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
                "startTime": stamp(EPOCH), "packageUpdateMechanism": "docker"}

    def _queue_id(self, q: Queued) -> int:
        base = f"trackedDownload-{CLIENT_ID}-{q.download_id}"
        if self.kind == "sonarr":
            return hash_id(f"{base}-ep{q.search_id}")
        if self.kind == "lidarr":
            return hash_id(f"{base}-album{q.search_id}")
        return hash_id(base)

    def _queue_view(self, q: Queued) -> dict[str, Any]:
        app = self.app
        row: dict[str, Any] = {
            "id": self._queue_id(q), "quality": QUALITY, "size": q.size, "title": q.title,
            "sizeleft": q.sizeleft, "added": stamp(q.added), "status": q.status,
            "trackedDownloadStatus": "ok", "trackedDownloadState": q.tracked_state,
            "statusMessages": [], "downloadId": q.download_id, "protocol": "torrent",
            "downloadClient": CLIENT_NAME, "downloadClientHasPostImportCategory": False,
            "indexer": "Fake Indexer"}
        if q.timeleft is not None:       # nulls are omitted
            row["timeleft"] = timespan(q.timeleft)
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
        return paged([self._queue_view(q) for q in rows], request, "timeleft", "ascending",
                     sort=False, last_page_past_end=True)

    def _remove_queued(self, queue_id: int, request: Request) -> Response:
        found = [q for q in self._queue if self._queue_id(q) == queue_id]
        if not found:
            raise Answer.error(404, f"Queue item with ID {queue_id} does not exist")
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

    def _history_view(self, h: History) -> dict[str, Any]:
        row: dict[str, Any] = {"id": h.id}
        if self.kind == "sonarr":
            row.update(episodeId=h.search_id, seriesId=h.item_id)
        elif self.kind == "radarr":
            row.update(movieId=h.item_id)
        else:
            row.update(albumId=h.search_id, artistId=h.item_id, trackId=0)
        row.update(sourceTitle=h.source_title, quality=QUALITY, qualityCutoffNotMet=False,
                   date=stamp(h.date), eventType=h.event_type, data=dict(h.data))
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
        return paged([self._history_view(h) for h in rows], request, "date", "descending")

    def _mark_failed(self, history_id: int) -> None:
        """FailedDownloadService.MarkAsFailed: every grab of that download fails together."""
        record = self._history.get(history_id)
        if record is None:
            raise Answer.error(
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
            raise Answer.error(500, "Sequence contains no elements")
        self._fail(grabs, "Manually marked as failed", redownload=True)

    def _fail(self, grabs: list[History], message: str, *, redownload: bool) -> None:
        """DownloadFailedEvent: a downloadFailed record per episode/album, a blocklist entry,
        and (AutoRedownloadFailed) a search. The torrent stays in the client."""
        first = grabs[0]
        search_ids = list(dict.fromkeys(h.search_id for h in grabs))
        moment = self._tick()
        for search_id in search_ids:
            failed = History(self._next("history"), first.download_id, "downloadFailed",
                             first.item_id, search_id, first.source_title, moment,
                             data={"message": message})
            self._history[failed.id] = failed
        self._blocklist.append({"item_id": first.item_id, "search_ids": search_ids,
                                "source_title": first.source_title,
                                "download_id": first.download_id, "message": message,
                                "date": stamp(moment), "protocol": "torrent"})
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
            raise Answer.error(400, "A non-empty request body is required.")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Answer(json_response([{"propertyName": "Name",
                                         "errorMessage": "'Name' must not be empty.",
                                         "severity": "error",
                                         "errorCode": "NotEmptyValidator"}], 400))
        known = [c for c in self.app.commands if c.lower() == name.lower()]
        if not known:
            raise Answer.error(500, "Sequence contains no matching element")
        for key, value in body.items():
            bad_int = key in INT_FIELDS and (isinstance(value, bool) or
                                             not isinstance(value, int))
            bad_list = key in INT_LIST_FIELDS and not (
                isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool)
                                                for v in value))
            if bad_int or bad_list:
                raise Answer.error(400, f"The JSON value could not be converted: $.{key}")
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
        view = {"id": command["id"], "name": name, "commandName": spaced(name),
                "body": body, "priority": "normal", "status": command["status"],
                "result": command.get("result", "unknown"),
                "queued": stamp(command["queued"]), "trigger": command["trigger"],
                "stateChangeTime": stamp(command["queued"]), "sendUpdatesToClient": True,
                "updateScheduledTask": True}
        if "message" in command:
            view["message"] = command["message"]
        return view

    def _item(self, item_id: int) -> dict[str, Any]:
        item = self._items.get(item_id)
        if item is None:
            raise Answer.error(404, f"{self.app.item_model} with ID {item_id} does not exist")
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
                               "added": stamp(EPOCH)}
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
                               "size": f["size"], "dateAdded": stamp(f["added"]),
                               "quality": QUALITY}
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
            raise Answer.error(400, self.app.file_filters)
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
            raise Answer.error(400, f"{file_id} is not a valid ID")
        if self._files.pop(file_id, None) is None:
            raise Answer.error(404, f"{self.app.file_noun} not found")
        self._deleted_files.append(file_id)

    def _root_view(self, folder_id: int, path: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": folder_id, "path": path, "accessible": True,
                               "freeSpace": 1 << 40, "unmappedFolders": []}
        if self.kind == "lidarr":
            row.update(name=path.rsplit("/", 1)[-1] or path, defaultMetadataProfileId=1,
                       defaultQualityProfileId=1, totalSpace=2 << 40)
            del row["unmappedFolders"]
        return row


def _int(text: str) -> int:
    # a route id that is not a number binds to 0, which no record has
    return int(text) if text.lstrip("-").isdigit() else 0
