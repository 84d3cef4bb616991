"""Sonarr, Radarr and Lidarr over HTTP (requests): the ArrApi port, one request per call."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from arr import _parse
from arr._parse import DIALECTS, GRABBED, Shape
from core import __version__
from core.ports.arr import (
    ArrError,
    ArrErrorKind,
    ArrKind,
    ArrStatus,
    Command,
    HistoryRecord,
    MediaFile,
    MediaItem,
    QueueRecord,
)

PAGE_SIZE = 250             # the Arrs default to 10 a page; fewer round trips
MAX_REDIRECTS = 3
REDIRECTS = (301, 302, 303, 307, 308)
CONNECT_TIMEOUT = 5.0


def display_url(url: str) -> str:
    """scheme://host:port/path: no user, password, query or fragment (safe in messages)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _reason(exc: requests.RequestException) -> str:
    # the exception text holds the full URL (with its query): name the cause only
    if isinstance(exc, requests.Timeout):
        return "timed out"
    cause = str(exc)
    if "Connection refused" in cause:
        return "connection refused"
    if "Name or service not known" in cause or "nodename nor servname" in cause \
            or "getaddrinfo failed" in cause or "Temporary failure in name resolution" in cause:
        return "host not found"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    return type(exc).__name__


def _arr_message(response: requests.Response) -> str:
    """The ErrorModel `message` (or the first validation failure's), if the body is JSON."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
        return str(body.get("errorMessage") or body.get("message") or "")
    if isinstance(body, dict):
        return str(body.get("message") or "")
    return ""


class ArrClient:
    """One Sonarr, Radarr or Lidarr at `url` (with its URL base, if it has one). The key goes
    in the X-Api-Key header only. No retries here: the caller's outbox retries."""

    def __init__(self, kind: ArrKind, url: str, api_key: str, *, timeout: float = 10.0,
                 session: requests.Session | None = None, page_size: int = PAGE_SIZE) -> None:
        self.kind = ArrKind(kind)
        self.dialect = DIALECTS[self.kind]
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {display_url(url)!r}")
        # the query and fragment are dropped: a key pasted into the URL never goes out
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.where = f"{self.dialect.app} at {display_url(url)}"
        self.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.page_size = page_size
        self._own_session = session is None
        self.session = session or requests.Session()
        self._headers = {"X-Api-Key": api_key, "Accept": "application/json",
                         "User-Agent": f"Debridge/{__version__}"}

    def close(self) -> None:
        if self._own_session:
            self.session.close()

    def __enter__(self) -> ArrClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------
    def _request(self, method: str, resource: str, *, params: Any = None,
                 body: Any = None) -> requests.Response:
        """One call, with the Arr's answer mapped to ArrError. A same-origin redirect (the
        Arr's 307 to its URL base) is followed by hand: requests would also follow one to
        another host, and X-Api-Key is not a header it knows to strip."""
        url = f"{self.base}/{self.dialect.prefix}/{resource}"
        what = f"{method} {resource}"
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.request(
                    method, url, params=params, json=body, headers=self._headers,
                    timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise ArrError(ArrErrorKind.UNREACHABLE,
                               f"{self.where} is unreachable ({_reason(exc)})") from None
            if response.status_code not in REDIRECTS:
                break
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if _origin(target) != _origin(url):
                raise ArrError(ArrErrorKind.REFUSED,
                               f"{self.where} redirected {what} to another host "
                               f"({display_url(target)}); not following with the API key",
                               response.status_code)
            if response.status_code == 303:
                method, body = "GET", None
            url, params = target, None      # the Location carries the query already
        else:
            raise ArrError(ArrErrorKind.REFUSED, f"{self.where} redirected {what} too often",
                           response.status_code)
        self._check(response, what)
        return response

    def _check(self, response: requests.Response, what: str) -> None:
        code = response.status_code
        if code < 300:
            return
        detail = _arr_message(response)
        suffix = f": {detail}" if detail else ""
        answered = f"{self.where} answered {code} to {what}"
        if code == 401:
            raise ArrError(ArrErrorKind.UNAUTHORIZED,
                           f"{self.where} answered 401 (wrong API key)", code)
        if code == 404:
            hint = suffix or " (not found: is the URL, with its URL base, right?)"
            raise ArrError(ArrErrorKind.NOT_FOUND, answered + hint, code)
        if code >= 500:
            raise ArrError(ArrErrorKind.SERVER, answered + suffix, code)
        raise ArrError(ArrErrorKind.REFUSED, answered + suffix, code)

    def _json(self, method: str, resource: str, *, params: Any = None,
              body: Any = None) -> Any:
        response = self._request(method, resource, params=params, body=body)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type").split(";")[0]
            raise ArrError(ArrErrorKind.BAD_ANSWER,
                           f"{self.where} answered {method} {resource} with {kind}, not JSON",
                           response.status_code) from None

    def _shape_error(self, what: str, exc: Shape) -> ArrError:
        return ArrError(ArrErrorKind.BAD_ANSWER,
                        f"{self.where} answered {what} with an unexpected shape ({exc})", 200)

    def _pages(self, resource: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a paged resource. Stops on totalRecords, never on an empty page: a
        queue page past the end answers the last page again."""
        number = 1
        while True:
            body = self._json("GET", resource,
                              params={**params, "page": number, "pageSize": self.page_size})
            try:
                records, total = _parse.page(body)
            except Shape as exc:
                raise self._shape_error(f"GET {resource}", exc) from None
            yield from records
            if not records or number * self.page_size >= total:
                return
            number += 1

    def _command(self, name: str, **fields: Any) -> Command:
        body = self._json("POST", "command", body={"name": name, **fields})
        try:
            return _parse.command(body)
        except Shape as exc:
            raise self._shape_error("POST command", exc) from None

    def _list(self, resource: str, params: Any = None) -> list[dict[str, Any]]:
        body = self._json("GET", resource, params=params)
        try:
            return [_parse.obj(r, "an entry") for r in _parse.array(body, resource)]
        except Shape as exc:
            raise self._shape_error(f"GET {resource}", exc) from None

    # -- the port --------------------------------------------------------------------------
    def status(self) -> ArrStatus:
        body = self._json("GET", "system/status")
        try:
            answer = _parse.status(body)
        except Shape as exc:
            raise self._shape_error("GET system/status", exc) from None
        if answer.app_name.casefold() != self.dialect.app.casefold():
            raise ArrError(ArrErrorKind.REFUSED,
                           f"{self.where} is {answer.app_name or 'not an Arr'}, "
                           f"not {self.dialect.app}: check the URL and the kind", 200)
        return answer

    def grabs(self, download_id: str) -> list[HistoryRecord]:
        wanted = download_id.upper()       # the Arr keeps the hash upper-case; exact match
        params = {"downloadId": wanted, "eventType": GRABBED, "sortKey": "date",
                  "sortDirection": "descending"}
        found: dict[int, HistoryRecord] = {}
        try:
            for data in self._pages("history", params):
                record = _parse.history(self.dialect, data)
                if record.download_id.upper() == wanted and record.event_type == "grabbed":
                    found[record.id] = record     # a page shift may repeat a record
        except Shape as exc:
            raise self._shape_error("GET history", exc) from None
        return _parse.newest_first(list(found.values()))

    def mark_failed(self, history_id: int) -> None:
        self._request("POST", f"history/failed/{int(history_id)}")

    def queue(self, download_id: str) -> list[QueueRecord]:
        wanted = download_id.upper()
        params = {self.dialect.unknown_flag: "true"}
        found: dict[int, QueueRecord] = {}
        try:
            for data in self._pages("queue", params):
                record = _parse.queue(self.dialect, data)
                if record.download_id.upper() == wanted:
                    found.setdefault(record.id, record)
        except Shape as exc:
            raise self._shape_error("GET queue", exc) from None
        return list(found.values())

    def refresh_monitored_downloads(self) -> Command:
        return self._command("RefreshMonitoredDownloads")

    def search(self, search_ids: Sequence[int]) -> Command:
        """Raises ValueError for no ids: an empty search is a caller's bug, not a request."""
        ids = list(dict.fromkeys(int(i) for i in search_ids))
        if not ids:
            raise ValueError("search needs at least one id")
        return self._command(self.dialect.search_command, **{self.dialect.search_field: ids})

    def search_files(self, files: Sequence[MediaFile]) -> list[Command]:
        """One command per search the files need (none for no files). A failure part-way
        raises; the commands before it stay queued in the Arr."""
        if self.kind is ArrKind.RADARR:
            movies = list(dict.fromkeys(f.item_id for f in files))
            return [self._command("MoviesSearch", movieIds=movies)] if movies else []
        if self.kind is ArrKind.LIDARR:
            albums = list(dict.fromkeys(f.album_id for f in files if f.album_id is not None))
            # a track file with no album: only a search of its whole artist finds it again
            artists = list(dict.fromkeys(f.item_id for f in files if f.album_id is None))
            commands = [self._command("AlbumSearch", albumIds=albums)] if albums else []
            return commands + [self._command("ArtistSearch", artistId=a) for a in artists]
        # a file without a season needs its whole series, which also covers its seasons
        whole = list(dict.fromkeys(f.item_id for f in files if f.season is None))
        seasons = list(dict.fromkeys((f.item_id, f.season) for f in files
                                     if f.season is not None and f.item_id not in whole))
        return ([self._command("SeriesSearch", seriesId=s) for s in whole]
                + [self._command("SeasonSearch", seriesId=s, seasonNumber=n)
                   for s, n in seasons])

    def items(self) -> list[MediaItem]:
        entries = self._list(self.dialect.items)
        try:
            return [_parse.item(self.dialect, e) for e in entries]
        except Shape as exc:
            raise self._shape_error(f"GET {self.dialect.items}", exc) from None

    def item_for_path(self, path: str) -> MediaItem | None:
        holders = [i for i in self.items() if _parse.holds(i.path, path)]
        return max(holders, key=lambda i: len(i.path.rstrip("/\\")), default=None)

    def files(self, item_id: int) -> list[MediaFile]:
        resource = self.dialect.files
        entries = self._list(resource, {self.dialect.item_key: int(item_id)})
        try:
            return [_parse.media_file(self.dialect, e) for e in entries]
        except Shape as exc:
            raise self._shape_error(f"GET {resource}", exc) from None

    def delete_file(self, file_id: int) -> None:
        self._request("DELETE", f"{self.dialect.files}/{int(file_id)}")

    def root_folders(self) -> list[str]:
        entries = self._list("rootfolder")
        try:
            return [_parse.text(e, "path", None) for e in entries]
        except Shape as exc:
            raise self._shape_error("GET rootfolder", exc) from None
