"""Replay the recorded real-qBittorrent exchanges against `python app.py serve`, in order.

Each capture's curl arguments are re-sent; status, content type and text bodies must match
exactly, JSON must have the same keys and the same JSON type for every value. Values that
must differ are normalised (versions, hashes, paths, times); key sets follow qBittorrent's
documented changes after 4.5.2 (tests/qbit_versions.py). The exchanges that do not apply to
the persona Debridge presents (4.6.7) are listed in NOT_APPLICABLE with the reason.
"""

from __future__ import annotations

import io
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import torf

from tests.captures import CAPTURES, Capture, capture, json_kind
from tests.helpers import free_port, start_debridge, wait_until, write_config
from tests.qbit_versions import (
    BUILD_INFO_ADDED,
    DOUBLES,
    INFO_ADDED,
    PREFERENCES_ADDED,
    PREFERENCES_REMOVED,
    PREFERENCES_RETYPED,
    PROPERTIES_ADDED,
    SERVER_STATE_ADDED,
    VERSIONS,
)

pytestmark = pytest.mark.slow
PERSONA = "4.6.7"
CAPTURE_PASSWORD = "refpass123"
CAPTURE_HASH = "89aa175f8a385b5ba206c3583a43390c51d74c20"
CAPTURE_SID = "edqiEvpky1pywSMDm9sB3XYBkOSHycxc"
CAPTURE_PORT = "28765"
SECURITY_HEADERS = ("x-frame-options", "x-xss-protection", "x-content-type-options",
                    "referrer-policy", "content-security-policy")

NOT_APPLICABLE = {
    "61": "torrents/count exists from qBittorrent 4.6.1 (WebAPI 2.9.3): 4.5.2 answered 404; "
          "the 4.6.7 answer is checked in test_qbit_personas",
    "70": "qBittorrent 4.6 answers PUT with 501 and closes the connection (4.5.2: 400); "
          "checked in test_qbit_personas",
    "82": "qBittorrent 4.6 answers HEAD like GET without a body (4.5.2: 405); checked in "
          "test_qbit_personas",
    "83": "as 70, for DELETE",
    "79": "the page of qBittorrent's own web interface: Debridge does not serve qBittorrent's "
          "web UI",
}
# Recorded requests a 4.6 client sends differently, and how.
ADAPTED = {
    "48": ("qBittorrent 4.6 requires inactiveSeedingTimeLimit in setShareLimits",
           [("inactiveSeedingTimeLimit", "-2")]),
}
# The recording logged out at 87 and in again before 90 (that login was not recorded).
LOGIN_BEFORE = "90"
# After resuming (52) the recorded server already had the data (skip_checking); Debridge gets
# it from the provider first, so the replay waits for the torrent to complete there.
WAIT_COMPLETE_AFTER = "52"

# What kind of JSON each capture holds, for the key-set rules.
KINDS = {"12": "build_info", "13": "preferences", "15": "info", "18": "maindata",
         "19": "transfer", "38": "info", "39": "info", "40": "info", "41": "properties",
         "42": "files", "43": "properties", "44": "maindata", "53": "info", "57": "info",
         "58": "trackers", "59": "maindata_delta", "73": "info", "74": "files",
         "75": "properties", "94": "info", "95": "info", "97": "info", "99b": "info",
         "16": "categories", "35": "categories", "17": "tags"}


@dataclass
class Request:
    path: str
    method: str = "GET"
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    multipart: bool = False
    use_jar: bool = False
    cookie: str | None = None


def parse(curl: str) -> Request:
    """The request a capture's curl arguments describe."""
    args = shlex.split(curl)
    request = Request(path="")
    explicit_method = None
    i = 0
    while i < len(args):
        arg = args[i]
        value = args[i + 1] if i + 1 < len(args) else ""
        if arg == "-X":
            explicit_method = value
        elif arg == "--data-urlencode":
            request.fields.append(tuple(value.split("=", 1)))  # type: ignore[arg-type]
        elif arg == "-F":
            name, _, content = value.partition("=")
            request.multipart = True
            if content.startswith("@"):
                request.files.append((name, content[1:].split(";")[0]))
            else:
                request.fields.append((name, content))
        elif arg == "-H":
            name, _, header = value.partition(":")
            request.headers[name.strip()] = header.strip()
        elif arg == "-b":
            if "=" in value:
                request.cookie = value
            else:
                request.use_jar = True
        elif arg == "-d":
            request.body = value
        elif arg == "-I":
            explicit_method = "HEAD"
            i += 1
            continue
        elif arg == "-c":
            request.use_jar = True           # the cookie lands in the jar
        else:
            request.path = arg
            i += 1
            continue
        i += 2
    sends_body = request.fields or request.files or request.body is not None
    request.method = explicit_method or ("POST" if sends_body else "GET")
    return request


def capture_like_torrent(tmp: Path) -> bytes:
    """A .torrent shaped like the recorded one (2 files, 40000 + 5000 bytes, 16 KiB pieces)."""
    root = tmp / "test-src" / "Test.Show.S01E01.1080p"
    (root / "Sample").mkdir(parents=True)
    (root / "Test.Show.S01E01.1080p.mkv").write_bytes(b"\x01" * 40000)
    (root / "Sample" / "sample.mkv").write_bytes(b"\x02" * 5000)
    torrent = torf.Torrent(path=root, trackers=["http://127.0.0.1:1/announce"],
                           piece_size=16384, comment="reference capture")
    torrent.generate()
    buffer = io.BytesIO()
    torrent.write_stream(buffer)
    return buffer.getvalue()


class Replayer:
    def __init__(self, url: str, port: int, tmp: Path) -> None:
        self.url, self.port = url, port
        self.jar = requests.Session()
        data = capture_like_torrent(tmp)
        self.files = {"./work/test.torrent": data, "./work/junk.torrent": b"not a torrent"}
        self.hash = str(torf.Torrent.read_stream(io.BytesIO(data)).infohash)
        self.last_rid = 0

    def ours(self, text: str) -> str:
        return text.replace(CAPTURE_HASH, self.hash).replace(CAPTURE_HASH.upper(),
                                                             self.hash.upper())

    def send(self, number: str, request: Request) -> requests.Response:
        path = self.ours(request.path)
        if number == "59":
            path = path.replace("rid=1", f"rid={self.last_rid}")
        headers = {k: self.ours(v).replace(CAPTURE_PORT, str(self.port))
                   for k, v in request.headers.items()}
        sid = self.jar.cookies.get("SID", "")
        if "Cookie" in headers:
            headers["Cookie"] = headers["Cookie"].replace(CAPTURE_SID, sid)
        if request.cookie:
            headers["Cookie"] = request.cookie
        session = self.jar if request.use_jar else requests
        kwargs: dict[str, Any] = {"headers": headers, "timeout": 30, "allow_redirects": False}
        fields = [(k, self.ours(v)) for k, v in request.fields]
        if request.body is not None:
            kwargs["data"] = request.body
        elif request.multipart:
            kwargs["files"] = [(k, (None, v)) for k, v in fields] + [
                (name, (Path(path_).name, self.files[path_], "application/x-bittorrent"))
                for name, path_ in request.files]
        elif fields:
            kwargs["data"] = fields
        return session.request(request.method, self.url + path, **kwargs)


def _normalised_text(text: str, replay: Replayer, downloads: Path) -> str:
    version, webapi = VERSIONS[PERSONA]
    return (replay.ours(text).replace("v4.5.2", version).replace("2.8.19", webapi)
            .replace("/srv/qbt/downloads", str(downloads)))


def _expected_keys(kind: str, recorded: dict[str, Any]) -> set[str]:
    keys = set(recorded)
    if kind == "preferences":
        return (keys - PREFERENCES_REMOVED[PERSONA]) | PREFERENCES_ADDED[PERSONA]
    added = {"info": INFO_ADDED, "properties": PROPERTIES_ADDED, "build_info": BUILD_INFO_ADDED,
             "server_state": SERVER_STATE_ADDED}.get(kind)
    return keys | added[PERSONA] if added else keys


def compare_shape(kind: str, ours: Any, theirs: Any, where: str) -> None:
    """Same keys (with the documented changes) and the same JSON kinds, recursively."""
    if isinstance(theirs, dict) and kind in ("categories", "torrents_map"):
        theirs_items = list(theirs.values())
        ours_items = list(ours.values())
        if theirs_items and ours_items:
            sub = "category" if kind == "categories" else "info"
            for item in ours_items:
                compare_shape(sub, item, theirs_items[0], where + "[*]")
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        expected = _expected_keys(kind, theirs)
        assert set(ours) == expected, (where, set(ours) ^ expected)
        for key, value in theirs.items():
            if key not in expected or (kind == "preferences" and key in PREFERENCES_RETYPED):
                continue
            sub = {"server_state": "server_state", "torrents": "torrents_map",
                   "categories": "categories"}.get(key, key) if kind == "maindata" else key
            compare_shape(sub, ours[key], value, f"{where}.{key}")
        return
    if isinstance(theirs, list):
        assert isinstance(ours, list), where
        if theirs and ours:
            item_kind = kind if kind in ("info", "files", "trackers") else "item"
            for i, item in enumerate(ours):
                # files: only index 0 carries is_seed, so line entries up by position
                model = theirs[min(i, len(theirs) - 1)] if kind == "files" else theirs[0]
                compare_shape(item_kind, item, model, f"{where}[{i}]")
        return
    assert json_kind(ours) == json_kind(theirs), (where, ours, theirs)
    name = where.rsplit(".", 1)[-1]
    if json_kind(theirs) == "number" and name not in DOUBLES:
        assert isinstance(ours, int), f"{where} must be an integer, got {ours!r}"


def _compare_json(number: str, ours: Any, recorded: Capture) -> None:
    kind = KINDS.get(number, "item")
    theirs = recorded.json()
    if kind == "maindata":
        # qBittorrent 4.6+ leaves empty collections out of a full update
        theirs = {k: v for k, v in theirs.items()
                  if v or k in ("full_update", "rid", "server_state")}
    if kind == "maindata_delta":
        # A delta holds what changed in this replay; the recorded fields that Debridge also
        # changed (not the recorded server's seeding clock) must be there, with their types.
        assert {"rid", "torrents", "tags"} <= set(ours), ours
        recorded_fields = next(iter(theirs["torrents"].values()))
        ours_fields = next(iter(ours["torrents"].values()))
        for key in set(recorded_fields) - {"seeding_time", "time_active"}:
            assert key in ours_fields, key
            compare_shape("field", ours_fields[key], recorded_fields[key], key)
        return
    compare_shape(kind, ours, theirs, number)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, int, Path]]:
    port = free_port()
    downloads = tmp_path / "downloads"
    config = write_config(tmp_path, port=port, sandbox_port=free_port(),
                          auth={"password": CAPTURE_PASSWORD},
                          downloads={"folder": str(downloads)},
                          # the recorded qBittorrent ran at its default domain list, '*'
                          qbit={"persona": PERSONA, "domain_list": "*"})
    process = start_debridge(config, tmp_path / "debridge.log", port)
    try:
        yield f"http://127.0.0.1:{port}", port, downloads
    finally:
        process.stop()


def _captures() -> list[str]:
    return sorted((p.stem.split("-")[0] for p in CAPTURES.glob("*.http")),
                  key=lambda n: (int(n.rstrip("b")), n))


def test_replay_every_recorded_exchange(server: tuple[str, int, Path], tmp_path: Path) -> None:
    url, port, downloads = server
    replay = Replayer(url, port, tmp_path)
    compared = []
    for number in _captures():
        if number in NOT_APPLICABLE:
            continue
        recorded = capture(number)
        if number == LOGIN_BEFORE:
            assert replay.jar.post(f"{url}/api/v2/auth/login", timeout=10, data={
                "username": "admin", "password": CAPTURE_PASSWORD}).text == "Ok."
        request = parse(recorded.request)
        if number in ADAPTED:
            request.fields += ADAPTED[number][1]
        response = replay.send(number, request)
        where = f"capture {recorded.name}"
        assert response.status_code == recorded.status, (where, response.text[:300])
        if recorded.content_type:
            assert response.headers.get("Content-Type") == recorded.content_type, where
        if recorded.status != 400 or recorded.body:
            for header in SECURITY_HEADERS:
                assert header in {h.lower() for h in response.headers}, (where, header)
        if recorded.content_type == "application/json":
            _compare_json(number, response.json(), recorded)
            if KINDS.get(number, "").startswith("maindata"):
                replay.last_rid = response.json()["rid"]
        else:
            expected = _normalised_text(recorded.body.decode(), replay, downloads)
            assert response.text == expected, where
        if "set-cookie" in recorded.headers and recorded.status == 200:
            assert "Set-Cookie" in response.headers, where
        if number == WAIT_COMPLETE_AFTER:
            wait_until(lambda: replay.jar.get(
                f"{url}/api/v2/torrents/info?hashes={replay.hash}", timeout=10
            ).json()[0]["state"] == "pausedUP", timeout=30, what="the torrent completed")
        compared.append(number)
    # everything recorded was either compared or listed as not applicable, with a reason
    assert sorted([*compared, *NOT_APPLICABLE], key=lambda n: (int(n.rstrip("b")), n)) \
        == _captures()
    assert len(compared) >= 85
