"""WebDAV (/webdav/) over real HTTP: one gunicorn server for the module, its provider a sandbox
running in this process (so a test can see when a CDN stream stops).

The torrents use the 'symlink' action with a mount that never fills, so they stay finalizing:
served by the tree, and no CDN or link traffic but the tests' own.
"""

from __future__ import annotations

import base64
import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from xml.etree import ElementTree

import pytest
import requests
from flask import Flask

from app import create_app, stop_app
from debrid.sandbox import SandboxOptions, SandboxServer
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    ServerProcess,
    expected_bytes,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webdav_http")]

MIB = 1 << 20
TIMEOUT = 2.0                                   # webdav.upstream_timeout_seconds
KEY = "dav-key-" + "5f" * 16
AUTH = ("admin", PASSWORD)
CATEGORY = "tv-sonarr"
WEIRD = "Weird [x] #1 50% & co? é ü 漢字"        # '?' is no file name character anywhere
WEIRD_FOLDER = "Weird [x] #1 50% & co_ é ü 漢字"

# name -> (magnet dn, category, [(provider path, size)]); the sandbox numbers files from 1
TORRENTS: dict[str, tuple[str, str, list[tuple[str, int]]]] = {
    "plain": ("Plain.Movie.2020.1080p", CATEGORY,
              [("/Plain.Movie.2020.1080p.mkv", 3 * MIB + 777), ("/Disc 2/Part 2.mkv", MIB)]),
    "weird": (WEIRD, "", [("/a b/f #1 [2] 50%& ?.mkv", MIB + 5), ("/ünï 漢字 [b] #%&.mkv", 2000)]),
    "expire_mid": ("Expiring Mid Stream.mkv", "", [("/Expiring Mid Stream.mkv", 6 * MIB)]),
    "expire_before": ("Expired Before.mkv", "", [("/Expired Before.mkv", 2 * MIB)]),
    "stalled": ("Stalled", "", [("/a.mkv", MIB), ("/b.mkv", MIB), ("/c.mkv", 4 * MIB)]),
    "big": ("Big Remux.mkv", "", [("/Big Remux.mkv", 256 * MIB)]),
}
FOLDERS = {"plain": "Plain.Movie.2020.1080p", "weird": WEIRD_FOLDER,
           "expire_mid": "Expiring Mid Stream", "expire_before": "Expired Before",
           "stalled": "Stalled", "big": "Big Remux"}


# -- the sandbox's CDN, watched -------------------------------------------------------------
@dataclass
class CdnStream:
    path: str
    status: int = 0
    sent: int = 0
    closed: bool = False


class CdnWatch:
    """WSGI middleware around the sandbox: every CDN response body it sends, how many bytes
    went out and whether it was closed (the server closes it when a write fails, i.e. when
    the reader went away)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.streams: list[CdnStream] = []

    def of(self, file_name: str, since: int) -> list[CdnStream]:
        """The CDN responses that carried bytes of one file (200/206) since index `since`:
        not a 403 for a link an earlier test's clock jump expired (the reader then resolves
        it again), nor an earlier test's held response for another file."""
        return [s for s in self.streams[since:]
                if unquote(s.path).endswith("/" + file_name) and s.status in (200, 206)]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith("/cdn/"):
            return self.app(environ, start_response)
        stream = CdnStream(environ["PATH_INFO"])

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            stream.status = int(status.split()[0])
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        self.streams.append(stream)
        return _Watched(body, stream)


class _Watched:
    def __init__(self, body: Any, stream: CdnStream) -> None:
        self.body, self.stream = body, stream

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.stream.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.closed = True
        if hasattr(self.body, "close"):
            self.body.close()


# -- the server -----------------------------------------------------------------------------
@dataclass
class Dav:
    port: int
    server: ServerProcess
    sandbox: SandboxServer
    watch: CdnWatch
    hashes: dict[str, str]
    qbit: requests.Session = field(default_factory=requests.Session)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> str:
        return f"{self.sandbox.url}/__admin"

    def href(self, key: str, *path: str) -> str:
        return "/webdav/__all__/" + "/".join(quote(p) for p in (FOLDERS[key], *path))

    def get(self, href: str, **headers: str) -> requests.Response:
        return requests.get(self.base + href, headers=headers, auth=AUTH, timeout=30)

    def expected(self, key: str, file_id: int, offset: int = 0, length: int | None = None) -> bytes:
        size = TORRENTS[key][2][file_id - 1][1]
        length = size - offset if length is None else length
        return expected_bytes(self.hashes[key], file_id, offset, length)

    # the sandbox's admin API
    def fault(self, **rule: Any) -> None:
        requests.post(f"{self.admin}/faults", json=rule, timeout=5).raise_for_status()

    def configure(self, **options: Any) -> None:
        requests.post(f"{self.admin}/config", json=options, timeout=5).raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        requests.post(f"{self.admin}/clock", json={"advance": seconds},
                      timeout=5).raise_for_status()

    def mark(self) -> int:
        """A point in the sandbox's request log to count calls from (the log so far goes)."""
        return int(requests.delete(f"{self.admin}/requests", timeout=5).json()["next"])

    def calls(self, since: int, path_part: str) -> list[dict[str, Any]]:
        entries = requests.get(f"{self.admin}/requests", params={"since": since},
                               timeout=5).json()["requests"]
        return [e for e in entries if path_part in e["path"]]


@pytest.fixture(scope="module")
def dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dav]:
    tmp = tmp_path_factory.mktemp("webdav")
    sandbox = SandboxServer(SandboxOptions(download_seconds=1.0),
                            state_path=tmp / "sandbox.sqlite3").start()
    assert sandbox.app is not None
    watch = CdnWatch(sandbox.app.wsgi_app)
    sandbox.app.wsgi_app = watch  # type: ignore[method-assign]
    port = free_port()
    (tmp / "mount").mkdir()
    config = write_config(
        tmp, port=port,
        providers=[{"name": "sandbox", "type": "sandbox", "base_url": sandbox.api_url}],
        downloads={"action": "symlink", "folder": str(tmp / "downloads"),
                   "mount_path": str(tmp / "mount")},
        auth={"api_key": KEY, "max_failed_logins": 1000},
        webdav={"upstream_timeout_seconds": TIMEOUT}, library={"sync_interval_seconds": 0})
    server: ServerProcess | None = None
    try:
        server = start_debridge(config, tmp / "debridge.log", port)
        hashes = {key: random_hash() for key in TORRENTS}
        built = Dav(port, server, sandbox, watch, hashes)
        requests.post(f"{built.admin}/seed", timeout=5, json=[
            {"hash": hashes[key], "name": dn, "files": [{"path": p, "bytes": s} for p, s in files]}
            for key, (dn, _, files) in TORRENTS.items()]).raise_for_status()
        qbit = f"{built.base}/api/v2"
        assert built.qbit.post(f"{qbit}/auth/login", timeout=10,
                               data={"username": "admin", "password": PASSWORD}).text == "Ok."
        built.qbit.post(f"{qbit}/torrents/createCategory", data={"category": CATEGORY},
                        timeout=10).raise_for_status()
        for key, (dn, category, _) in TORRENTS.items():
            assert built.qbit.post(f"{qbit}/torrents/add", timeout=30, data={
                "urls": magnet(hashes[key], dn), "category": category}).text == "Ok."

        def all_served() -> bool:
            listed = {e.name for e in propfind(built, "/webdav/__all__/")[1:]}
            return listed == set(FOLDERS.values())

        wait_until(all_served, timeout=60, interval=0.2, what="every torrent in __all__")
        yield built
        built.qbit.close()
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()
    assert PASSWORD not in server.log()         # secrets never reach the log
    assert KEY not in server.log()


# -- HTTP helpers ---------------------------------------------------------------------------
@dataclass
class Entry:
    href: str
    props: dict[str, str | None]
    collection: bool

    @property
    def name(self) -> str:
        return unquote(self.href.rstrip("/").rsplit("/", 1)[-1])


def propfind(dav: Dav, href: str, depth: str = "1", **headers: str) -> list[Entry]:
    response = requests.request("PROPFIND", dav.base + href, auth=AUTH, timeout=30,
                                headers={"Depth": depth, **headers})
    assert response.status_code == 207, (response.status_code, response.text[:500])
    root = ElementTree.fromstring(response.content)  # noqa: S314 (our own server's answer)
    entries = []
    for item in root.findall("{DAV:}response"):
        props: dict[str, str | None] = {}
        collection = False
        for prop in item.iter("{DAV:}prop"):
            for child in prop:
                name = child.tag.split("}", 1)[1]
                props[name] = child.text
                if name == "resourcetype":
                    collection = child.find("{DAV:}collection") is not None
        entries.append(Entry(str(item.findtext("{DAV:}href")), props, collection))
    return entries


def walk_files(dav: Dav, href: str, prefix: str = "") -> dict[str, Entry]:
    """{path below href: entry} of every file, found with Depth: 1 PROPFINDs only."""
    found = {}
    for entry in propfind(dav, href)[1:]:
        if entry.collection:
            found.update(walk_files(dav, entry.href, f"{prefix}{entry.name}/"))
        else:
            found[prefix + entry.name] = entry
    return found


def raw(dav: Dav, method: str, target: str, body: bytes | None = None,
        **headers: str) -> tuple[int, dict[str, str], bytes]:
    """One request with the target exactly as given (no client-side normalising)."""
    connection = http.client.HTTPConnection("127.0.0.1", dav.port, timeout=30)
    token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
    try:
        connection.request(method, target, body=body,
                           headers={"Authorization": f"Basic {token}", **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


# -- protocol basics -------------------------------------------------------------------------
def test_options_advertises_a_read_only_class_1_server(dav: Dav) -> None:
    for href in ("/webdav/", dav.href("plain", "Plain.Movie.2020.1080p.mkv")):
        response = requests.options(dav.base + href, auth=AUTH, timeout=10)
        assert response.status_code == 200
        assert response.headers["DAV"] == "1"               # no locking: class 1 only
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert allowed == {"OPTIONS", "HEAD", "GET", "PROPFIND"}


def test_propfind_lists_groups_torrents_and_files(dav: Dav) -> None:
    root = propfind(dav, "/webdav/")
    assert [(e.href, e.collection) for e in root] == [
        ("/webdav/", True), ("/webdav/__all__/", True), ("/webdav/__bad__/", True),
        (f"/webdav/{CATEGORY}/", True)]
    assert [e.href for e in propfind(dav, "/webdav/__all__/", depth="0")] == ["/webdav/__all__/"]

    in_category = propfind(dav, f"/webdav/{CATEGORY}/")
    assert [e.href for e in in_category[1:]] == ["/webdav/tv-sonarr/Plain.Movie.2020.1080p/"]

    folder = dav.href("plain") + "/"
    listing = propfind(dav, folder)
    assert listing[0].href == folder
    assert {(e.href, e.collection) for e in listing[1:]} == {
        (folder + "Disc%202/", True), (folder + "Plain.Movie.2020.1080p.mkv", False)}
    head = requests.head(dav.base + folder + "Plain.Movie.2020.1080p.mkv", auth=AUTH, timeout=10)
    (movie,) = propfind(dav, folder + "Plain.Movie.2020.1080p.mkv", depth="0")
    assert movie.props["getcontentlength"] == str(3 * MIB + 777)
    assert movie.props["getcontenttype"] == "video/x-matroska"
    # the XML carries the entity tag bare; the header quotes it (a strong one)
    assert f'"{movie.props["getetag"]}"' == head.headers["ETag"]
    assert movie.props["getlastmodified"] == head.headers["Last-Modified"]
    assert abs(parsedate_to_datetime(str(movie.props["getlastmodified"])).timestamp()
               - time.time()) < 3600

    # the same file under its category: the same identity
    (again,) = propfind(dav, f"/webdav/{CATEGORY}/Plain.Movie.2020.1080p/"
                             "Plain.Movie.2020.1080p.mkv", depth="0")
    assert again.props["getetag"] == movie.props["getetag"]
    assert set(walk_files(dav, folder)) == {"Plain.Movie.2020.1080p.mkv", "Disc 2/Part 2.mkv"}


@pytest.mark.parametrize("href", ["/webdav/", "/webdav/__all__/", "/webdav/tv-sonarr/",
                                  "/webdav/__all__/Plain.Movie.2020.1080p/"])
@pytest.mark.parametrize("depth", ["infinity", "Infinity", None])
def test_propfind_of_infinite_depth_is_refused(dav: Dav, href: str, depth: str | None) -> None:
    headers = {} if depth is None else {"Depth": depth}        # no Depth means infinity
    response = requests.request("PROPFIND", dav.base + href, auth=AUTH, headers=headers,
                                timeout=10)
    assert response.status_code == 403
    assert b"propfind-finite-depth" in response.content


def test_propfind_of_a_file_at_infinite_depth_is_its_own_entry(dav: Dav) -> None:
    href = dav.href("plain", "Disc 2", "Part 2.mkv")
    (entry,) = propfind(dav, href, depth="infinity")
    assert entry.href == href
    assert entry.props["getcontentlength"] == str(MIB)


def test_get_and_head_describe_the_file_the_same_way(dav: Dav) -> None:
    href = dav.href("plain", "Plain.Movie.2020.1080p.mkv")
    size = 3 * MIB + 777
    head = requests.head(dav.base + href, auth=AUTH, timeout=10)
    get = dav.get(href)
    for response in (head, get):
        assert response.status_code == 200
        assert response.headers["Content-Length"] == str(size)
        assert response.headers["Content-Type"] == "video/x-matroska"
        assert response.headers["Accept-Ranges"] == "bytes"
        etag = response.headers["ETag"]
        assert etag.startswith('"')
        assert etag.endswith('"')
        assert len(etag) > 10
        parsedate_to_datetime(response.headers["Last-Modified"])
    assert head.content == b""
    assert get.content == dav.expected("plain", 1)
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Last-Modified"] == get.headers["Last-Modified"]
    other = requests.head(dav.base + dav.href("plain", "Disc 2", "Part 2.mkv"), auth=AUTH,
                          timeout=10)
    assert other.headers["ETag"] != head.headers["ETag"]
    # a client holding the current version is told so without a transfer
    cached = dav.get(href, **{"If-None-Match": head.headers["ETag"]})
    assert cached.status_code == 304
    assert cached.content == b""


SIZE = 3 * MIB + 777


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-99", 0, 99),                                   # the start
    ("bytes=1048570-1048585", MIB - 6, MIB + 9),             # across a 1 MiB block boundary
    ("bytes=-16", SIZE - 16, SIZE - 1),                      # the last 16 bytes
    (f"bytes={SIZE - 1000}-", SIZE - 1000, SIZE - 1),        # open-ended
    (f"bytes=2097152-{SIZE + 5000}", 2 * MIB, SIZE - 1),     # an end past the file is cut
])
def test_a_single_range_answers_206_with_exactly_those_bytes(dav: Dav, header: str, start: int,
                                                             end: int) -> None:
    response = dav.get(dav.href("plain", "Plain.Movie.2020.1080p.mkv"), Range=header)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.content == dav.expected("plain", 1, start, end - start + 1)


def test_a_range_read_asks_the_cdn_for_that_range_only(dav: Dav) -> None:
    # A CDN that sends just the range finishes its response, so the connection can serve
    # the next read (a media server's scan reads a little of many files).
    first = len(dav.watch.streams)
    response = dav.get(dav.href("big", "Big Remux.mkv"), Range="bytes=100000000-100065535")
    assert response.status_code == 206
    assert response.content == dav.expected("big", 1, 100_000_000, 65536)
    (stream,) = dav.watch.of("Big Remux.mkv", first)
    assert stream.sent == 65536


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_a_range_past_the_end_answers_416(dav: Dav, header: str) -> None:
    response = dav.get(dav.href("plain", "Plain.Movie.2020.1080p.mkv"), Range=header)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"


def test_if_range_serves_the_range_only_for_the_current_version(dav: Dav) -> None:
    href = dav.href("plain", "Plain.Movie.2020.1080p.mkv")
    etag = requests.head(dav.base + href, auth=AUTH, timeout=10).headers["ETag"]
    stale = dav.get(href, Range="bytes=10-19", **{"If-Range": '"0123456789abcdef"'})
    assert stale.status_code == 200
    assert stale.content == dav.expected("plain", 1)
    current = dav.get(href, Range="bytes=10-19", **{"If-Range": etag})
    assert current.status_code == 206
    assert current.content == dav.expected("plain", 1, 10, 10)


# -- names -----------------------------------------------------------------------------------
def test_names_with_special_characters_round_trip(dav: Dav) -> None:
    listed = {e.name: e for e in propfind(dav, "/webdav/__all__/")[1:]}
    assert WEIRD_FOLDER in listed
    folder = listed[WEIRD_FOLDER].href
    assert "#" not in folder
    assert "?" not in folder
    assert " " not in folder
    files = walk_files(dav, folder)
    assert set(files) == {"a b/f #1 [2] 50%& _.mkv", "ünï 漢字 [b] #%&.mkv"}
    for path, file_id in (("a b/f #1 [2] 50%& _.mkv", 1), ("ünï 漢字 [b] #%&.mkv", 2)):
        href = files[path].href
        assert href.startswith(folder)
        status, _headers, body = raw(dav, "GET", href)          # the href exactly as listed
        assert status == 200, (href, status)
        assert body == dav.expected("weird", file_id)
        status, _, body = raw(dav, "GET", href, Range="bytes=-5")
        assert status == 206
        assert body == dav.expected("weird", file_id, len(dav.expected("weird", file_id)) - 5)
        (entry,) = propfind(dav, href, depth="0")
        assert entry.href == href


@pytest.mark.parametrize("target", [
    "/webdav/__all__/" + quote(WEIRD, safe=""),                   # the unsanitised name: %3F
    "/webdav/__all__/" + quote(WEIRD_FOLDER, safe="") + "/a%20b/f%20%231%20%5B2%5D%2050%25%26"
    "%20%3F.mkv",
    "/webdav/__all__/Plain.Movie.2020.1080p/nope.mkv",
    "/webdav/__all__/Plain.Movie.2020.1080p/Plain.Movie.2020.1080p.mkv/more",
    "/webdav/no-such-group/",
    "/webdav/__bad__/Plain.Movie.2020.1080p/",
])
def test_a_path_that_does_not_exist_answers_404(dav: Dav, target: str) -> None:
    for method in ("GET", "HEAD", "PROPFIND"):
        status, _, _ = raw(dav, method, target, Depth="0")
        assert status == 404, (method, target, status)


# -- path traversal ------------------------------------------------------------------------
TRAVERSALS = [
    "/webdav/../config.json", "/webdav/../../../../etc/passwd",
    "/webdav/__all__/../../config.json", "/webdav/__all__/../../data/debridge.sqlite3",
    "/webdav/%2e%2e/%2e%2e/config.json", "/webdav/__all__/%2e%2e%2f%2e%2e%2fconfig.json",
    "/webdav/..%2f..%2fconfig.json",
    "/webdav/__all__/Plain.Movie.2020.1080p/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/webdav/%2fetc%2fpasswd", "/webdav//etc/passwd", "/webdav///config.json", "//etc/passwd",
    "/webdav/__all__/..%5c..%5cconfig.json", "/webdav/__all__\\..\\..\\config.json",
    "/webdav/__all__/Plain.Movie.2020.1080p/%00", "/webdav/__all__/%00/../../config.json",
    "/webdav/__all__/Plain.Movie.2020.1080p/Plain.Movie.2020.1080p.mkv%00.txt",
    "/webdav/%c0%ae%c0%ae/config.json", "/webdav/__all__/%ff%fe", "/webdav/%e0%80%af/etc/passwd",
    "/webdav/C:%5cWindows%5cwin.ini", "/webdav/file:///etc/passwd",
    "http://127.0.0.1/webdav/../config.json",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_never_leaves_the_tree(dav: Dav, target: str) -> None:
    secrets = (PASSWORD.encode(), KEY.encode(), b"root:", b'"auth"', b"SQLite format")
    for method in ("GET", "PROPFIND"):
        status, _, body = raw(dav, method, target, Depth="1")
        assert status in (400, 404), (method, target, status, body[:200])
        assert not any(s in body for s in secrets), (method, target)


# -- read-only ------------------------------------------------------------------------------
WRITES: list[tuple[str, bytes | None, dict[str, str]]] = [
    ("PUT", b"replaced", {"Content-Type": "video/x-matroska"}),
    ("DELETE", None, {}),
    ("MKCOL", None, {}),
    ("COPY", None, {"Destination": "/webdav/__all__/Copied", "Overwrite": "T"}),
    ("MOVE", None, {"Destination": "/webdav/__all__/Moved", "Overwrite": "T"}),
    ("PROPPATCH", b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
                  b'<D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>',
     {"Content-Type": "application/xml"}),
    ("LOCK", b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
             b'</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>',
     {"Content-Type": "application/xml", "Timeout": "Second-60"}),
    ("UNLOCK", None, {"Lock-Token": "<opaquelocktoken:0123>"}),
    ("POST", b"x=1", {"Content-Type": "application/x-www-form-urlencoded"}),
]


def _snapshot(dav: Dav) -> tuple[Any, ...]:
    listings = [sorted((e.href, tuple(sorted(e.props.items()))) for e in propfind(dav, href))
                for href in ("/webdav/", "/webdav/__all__/", dav.href("plain") + "/",
                             dav.href("plain", "Disc 2") + "/")]
    info = dav.qbit.get(f"{dav.base}/api/v2/torrents/info", timeout=10).json()
    provider = requests.get(f"{dav.admin}/torrents", timeout=10).json()
    return (listings, sorted((t["hash"], t["name"], t["category"]) for t in info),
            sorted((t["hash"], t["deleted"]) for t in provider))


def test_every_write_method_is_refused_and_changes_nothing(dav: Dav) -> None:
    before = _snapshot(dav)
    assert dav.hashes["plain"] in {h for h, _ in before[2]}
    targets = ["/webdav/", "/webdav/__all__/", dav.href("plain") + "/",
               dav.href("plain", "Plain.Movie.2020.1080p.mkv"), "/webdav/__all__/New%20Folder/",
               "/webdav/__all__/new.mkv"]
    for method, body, headers in WRITES:
        for target in targets:
            status, answer, _ = raw(dav, method, target, body=body, **headers)
            assert status in (403, 405), (method, target, status)
            if status == 405:
                allowed = {m.strip() for m in answer["Allow"].split(",")}
                assert allowed == {"OPTIONS", "HEAD", "GET", "PROPFIND"}
    assert _snapshot(dav) == before
    assert all(not deleted for h, deleted in before[2] if h == dav.hashes["plain"])
    for created in ("/webdav/__all__/New%20Folder/", "/webdav/__all__/new.mkv",
                    "/webdav/__all__/Copied", "/webdav/__all__/Moved"):
        assert raw(dav, "HEAD", created)[0] == 404
    assert dav.get(dav.href("plain", "Disc 2", "Part 2.mkv")).content == dav.expected("plain", 2)


# -- authentication --------------------------------------------------------------------------
def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 401),
    (_basic("admin", "wrong-password"), 401),
    (_basic("someone", PASSWORD), 401),
    (_basic("admin", KEY[:-1]), 401),
    ({"Authorization": f"Bearer {KEY}"}, 401),          # WebDAV clients speak Basic
    (_basic("admin", PASSWORD), 207),
    (_basic("anyone", KEY), 207),                       # any user name with the API key
    (_basic("", KEY), 207),
])
def test_basic_auth_with_the_login_or_the_api_key(dav: Dav, headers: dict[str, str],
                                                  status: int) -> None:
    response = requests.request("PROPFIND", dav.base + "/webdav/", timeout=10,
                                headers={"Depth": "0", **headers})
    assert response.status_code == status
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert 'realm="Debridge"' in response.headers["WWW-Authenticate"]
        file = requests.get(dav.base + dav.href("plain", "Disc 2", "Part 2.mkv"),
                            headers=headers, timeout=10)
        assert file.status_code == 401
        assert dav.expected("plain", 2)[:64] not in file.content


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """In-process apps (Flask test client) for what needs settings of its own."""
    apps: list[Flask] = []

    def make(**sections: dict[str, Any]) -> Flask:
        app = create_app(make_settings(tmp_path / str(len(apps)), **sections))
        apps.append(app)
        return app

    yield make
    for app in apps:
        stop_app(app)


def test_webdav_auth_none_needs_no_credentials(in_process: Callable[..., Flask]) -> None:
    client = in_process(webdav={"auth": "none"}).test_client()
    response = client.open("/webdav/", method="PROPFIND", headers={"Depth": "1"})
    assert response.status_code == 207
    assert b"/webdav/__all__/" in response.data
    assert client.options("/webdav/").status_code == 200


def test_repeated_wrong_passwords_ban_the_address(in_process: Callable[..., Flask]) -> None:
    client = in_process(auth={"max_failed_logins": 3}).test_client()

    def propfind_from(ip: str, password: str) -> int:
        return client.open("/webdav/", method="PROPFIND", environ_base={"REMOTE_ADDR": ip},
                           headers={"Depth": "0", **_basic("admin", password)}).status_code

    assert propfind_from("10.0.0.7", PASSWORD) == 207
    assert [propfind_from("10.0.0.7", "wrong") for _ in range(3)] == [401, 401, 401]
    assert propfind_from("10.0.0.7", PASSWORD) == 403        # even the right password now
    assert propfind_from("10.0.0.7", "wrong") == 403
    assert propfind_from("10.0.0.8", PASSWORD) == 207        # only that address


# -- links that expire -----------------------------------------------------------------------
def test_a_link_expired_before_the_first_byte_is_resolved_again_once(dav: Dav) -> None:
    href = dav.href("expire_before", "Expired Before.mkv")
    mark = dav.mark()
    first = dav.get(href, Range="bytes=0-15")
    assert first.status_code == 206
    assert len(dav.calls(mark, "/unrestrict/link")) == 1
    dav.advance_clock(2 * 86400)          # the sandbox's links live a day: this one is dead
    mark = dav.mark()
    response = dav.get(href)
    assert response.status_code == 200
    assert response.content == dav.expected("expire_before", 1)
    assert len(dav.calls(mark, "/unrestrict/link")) == 1            # exactly one refresh
    assert [c["status"] for c in dav.calls(mark, "/cdn/")] == [403, 200]
    assert response.headers["ETag"] == first.headers["ETag"]         # not the URL's identity


def test_a_link_that_expires_mid_stream_is_resolved_again_once(dav: Dav) -> None:
    href = dav.href("expire_mid", "Expiring Mid Stream.mkv")
    etag = requests.head(dav.base + href, auth=AUTH, timeout=10).headers["ETag"]
    # The CDN drops the connection after 2 MiB; the reconnect is held a moment, during which
    # the sandbox's clock passes the link's lifetime: the reconnect finds the link expired.
    dav.fault(route="^/cdn/", kind="cut", after_bytes=2 * MIB, count=1)
    dav.fault(route="^/cdn/", kind="timeout", delay=TIMEOUT * 0.6, count=1)
    mark = dav.mark()
    result: dict[str, requests.Response] = {}
    reader = threading.Thread(target=lambda: result.update(response=dav.get(href)))
    reader.start()
    wait_until(lambda: dav.calls(mark, "/cdn/"), timeout=10, interval=0.02,
               what="the first CDN request")
    dav.advance_clock(2 * 86400)
    reader.join(60)
    response = result["response"]
    assert response.status_code == 200
    assert response.content == dav.expected("expire_mid", 1)
    assert response.headers["ETag"] == etag
    assert len(dav.calls(mark, "/unrestrict/link")) == 2      # the first, and one refresh
    assert [c["status"] for c in dav.calls(mark, "/cdn/")] == [200, 403, 206]


# -- an upstream that fails ------------------------------------------------------------------
def test_a_provider_that_stops_answering_costs_a_502_after_the_timeout(dav: Dav) -> None:
    href = dav.href("stalled", "a.mkv")
    held = TIMEOUT + 1.5          # past the timeout: the reader must not wait for it
    dav.fault(route="/unrestrict/link$", kind="timeout", delay=held, count=1)
    mark = dav.mark()
    # what the store knows needs no provider
    head = requests.head(dav.base + href, auth=AUTH, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(MIB)
    started = time.monotonic()
    response = dav.get(href)
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert TIMEOUT - 0.5 < elapsed < TIMEOUT + 3
    # the provider answers in the end; its link serves the next reader
    wait_until(lambda: dav.calls(mark, "/unrestrict/link"), timeout=held + 5,
               what="the held provider call")
    assert dav.get(href).content == dav.expected("stalled", 1)


def test_a_cdn_that_stops_answering_costs_a_502_after_the_timeout(dav: Dav) -> None:
    href = dav.href("stalled", "b.mkv")
    held = TIMEOUT + 1.5          # past the timeout: the reader must not wait for it
    dav.fault(route="^/cdn/", kind="timeout", delay=held, count=1)
    mark = dav.mark()
    started = time.monotonic()
    response = dav.get(href, Range="bytes=100-")
    elapsed = time.monotonic() - started
    assert response.status_code == 502
    assert elapsed < TIMEOUT + 3
    wait_until(lambda: dav.calls(mark, "/cdn/"), timeout=held + 5, what="the held CDN call")
    again = dav.get(href, Range="bytes=100-")
    assert again.status_code == 206
    assert again.content == dav.expected("stalled", 2, 100)


def test_a_cdn_that_breaks_mid_body_and_refuses_to_resume_ends_the_response_short(
        dav: Dav) -> None:
    href = dav.href("stalled", "c.mkv")
    dav.fault(route="^/cdn/", kind="cut", after_bytes=MIB, count=1)
    dav.fault(route="^/cdn/", kind="status", status=500, count=5)
    try:
        started = time.monotonic()
        received = b""
        with requests.get(dav.base + href, auth=AUTH, stream=True, timeout=30) as response:
            assert response.status_code == 200                  # promised before the break
            assert response.headers["Content-Length"] == str(4 * MIB)
            chunks = response.iter_content(64 * 1024)
            with pytest.raises(requests.exceptions.ChunkedEncodingError):  # noqa: PT012
                for chunk in chunks:
                    received += chunk
        assert time.monotonic() - started < TIMEOUT + 5          # never a hang
        # short, and the client can tell (the error above); how much arrived depends on how
        # the last bytes were chunked (requests drops a partial chunk when it raises)
        assert len(received) < 4 * MIB
        assert received == dav.expected("stalled", 3, 0, len(received))
    finally:
        requests.delete(f"{dav.admin}/faults", timeout=5)


def test_a_client_that_disconnects_stops_the_cdn_stream(dav: Dav) -> None:
    """A player that seeks or stops closes its connection: the upstream transfer must stop
    with it, not run on to the end of a 256 MiB file."""
    href = dav.href("big", "Big Remux.mkv")
    dav.configure(cdn_bytes_per_second=4 * MIB)         # 64 s for the whole file
    try:
        first = len(dav.watch.streams)
        client = socket.create_connection(("127.0.0.1", dav.port), timeout=10)
        token = base64.b64encode(f"{AUTH[0]}:{AUTH[1]}".encode()).decode()
        client.sendall(f"GET {href} HTTP/1.1\r\nHost: 127.0.0.1:{dav.port}\r\n"
                       f"Authorization: Basic {token}\r\n\r\n".encode())
        received = b""
        while b"\r\n\r\n" not in received or len(received.split(b"\r\n\r\n", 1)[1]) < 8192:
            chunk = client.recv(65536)
            assert chunk, "the server closed the connection"
            received += chunk
        head, body = received.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        assert body == dav.expected("big", 1, 0, len(body))
        (stream,) = dav.watch.of("Big Remux.mkv", first)
        assert not stream.closed
        client.close()
        closed_at = time.monotonic()

        wait_until(lambda: stream.closed, timeout=10, interval=0.05,
                   what="the CDN stream to be closed")
        assert time.monotonic() - closed_at < 5
        sent = stream.sent
        time.sleep(0.5)
        assert stream.sent == sent                      # nothing more went out
        assert sent < 64 * MIB
        assert len(dav.watch.of("Big Remux.mkv", first)) == 1  # and nobody reopened it
    finally:
        dav.configure(cdn_bytes_per_second=0)
