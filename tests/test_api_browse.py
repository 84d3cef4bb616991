"""REST browse (/api/browse): token auth, groups, torrents, files, and ranged downloads.

One app (with its embedded sandbox) serves the whole module; the library holds a completed
torrent in a category and a multi-file one, added through /api/v2 as an Arr would.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from core.schema import default_config
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    ROOT,
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    wait_until,
)

KEY = "k3y-" + "0123456789abcdef" * 2
BEARER = {"Authorization": f"Bearer {KEY}"}


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class StockedApp:
    """An app whose library holds a movie and a season pack, both complete, and the admin
    API of its sandbox (for faults)."""

    def __init__(self, app: Flask, tmp: Path) -> None:
        self.app = app
        settings = app.extensions["debridge"].settings
        self.admin = f"http://127.0.0.1:{settings['sandbox.port']}/__admin"
        self.qbit = app.test_client()
        assert self.qbit.post("/api/v2/auth/login", data={
            "username": "admin", "password": PASSWORD}).text == "Ok."
        self.qbit.post("/api/v2/torrents/createCategory", data={"category": "films"})
        self.movie = random_hash()
        assert self.qbit.post("/api/v2/torrents/add", data={
            "urls": magnet(self.movie, "Movie [2020] #1 50% & co.mkv", 3 << 20),
            "category": "films"}).text == "Ok."
        data, self.pack = make_torrent(tmp, "Show S01", {"e01.mkv": 2 << 20,
                                                          "Season/e02.mkv": 2 << 20})
        response = self.qbit.post("/api/v2/torrents/add", data={
            "torrents": (io.BytesIO(data), "show.torrent", "application/x-bittorrent")},
            content_type="multipart/form-data")
        assert response.text == "Ok."
        for info_hash in (self.movie, self.pack):
            wait_until(lambda h=info_hash: self._progress(h) == 1, 40, what="completion")

    def _progress(self, info_hash: str) -> float:
        found = self.qbit.get(f"/api/v2/torrents/info?hashes={info_hash}").json
        return found[0]["progress"] if found else 0.0

    def fault(self, **rule: Any) -> None:
        requests.post(f"{self.admin}/faults", json=rule, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        requests.delete(f"{self.admin}/faults", timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StockedApp]:
    tmp = tmp_path_factory.mktemp("browse")
    settings = make_settings(tmp, auth={"api_key": KEY, "max_failed_logins": 3},
                             webdav={"upstream_timeout_seconds": 2.0})
    app = create_app(settings)
    try:
        yield StockedApp(app, tmp)
    finally:
        stop_app(app)


@pytest.fixture
def client(library: StockedApp) -> FlaskClient:
    return library.app.test_client()


def _get(client: FlaskClient, url: str, **headers: str) -> Any:
    return client.get(url, headers={**BEARER, **headers})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"X-Api-Key": "wrong"}, _basic("admin", "wrong"),
                                     {"Authorization": "Digest abc"}])
def test_without_a_valid_key_the_api_answers_401_in_json(client: FlaskClient,
                                                         headers: dict[str, str]) -> None:
    response = client.get("/api/browse/", headers=headers, environ_base={
        "REMOTE_ADDR": f"10.0.0.{len(str(headers))}"})
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert "API key" in response.json["error"]
    assert "Bearer" in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("headers", [BEARER, {"X-Api-Key": KEY}, _basic("admin", PASSWORD),
                                     _basic("anyone", KEY)])
def test_bearer_x_api_key_and_basic_are_accepted(client: FlaskClient,
                                                 headers: dict[str, str]) -> None:
    response = client.get("/api/browse/", headers=headers)
    assert response.status_code == 200
    assert [g["name"] for g in response.json["groups"]] == ["__all__", "__bad__", "films"]


@pytest.mark.parametrize("wrong", [{"Authorization": "Bearer guess"}, {"X-Api-Key": "guess"}])
def test_wrong_api_keys_ban_the_address(client: FlaskClient, wrong: dict[str, str]) -> None:
    env = {"REMOTE_ADDR": f"10.8.8.{len(str(wrong))}"}
    for _ in range(3):
        assert client.get("/api/browse/", headers=wrong, environ_base=env).status_code == 401
    banned = client.get("/api/browse/", headers=BEARER, environ_base=env)
    assert banned.status_code == 403
    assert banned.json["code"] == 403
    other = client.get("/api/browse/", headers=BEARER, environ_base={"REMOTE_ADDR": "10.8.9.1"})
    assert other.status_code == 200


def test_wrong_basic_passwords_ban_the_address(client: FlaskClient) -> None:
    env = {"REMOTE_ADDR": "10.9.9.9"}
    for _ in range(3):
        assert client.get("/api/browse/", headers=_basic("admin", "nope"),
                          environ_base=env).status_code == 401
    banned = client.get("/api/browse/", headers=_basic("admin", PASSWORD), environ_base=env)
    assert banned.status_code == 403
    assert banned.json["code"] == 403


def test_groups_torrents_and_files(client: FlaskClient, library: StockedApp) -> None:
    groups = _get(client, "/api/browse/").json["groups"]
    assert groups[2] == {"name": "films", "kind": "category", "category": "films"}
    everything = _get(client, "/api/browse/__all__").json
    names = {t["name"]: t for t in everything["torrents"]}
    assert set(names) == {"Movie [2020] #1 50% & co", "Show S01"}
    assert everything["total"] == 2
    assert names["Show S01"]["hash"] == library.pack
    assert not names["Show S01"]["imported"]
    films = _get(client, "/api/browse/films/").json["torrents"]
    assert [t["name"] for t in films] == ["Movie [2020] #1 50% & co"]
    pack = _get(client, "/api/browse/__all__/Show%20S01").json
    assert [(f["path"], f["size"]) for f in pack["files"]] == [("Season/e02.mkv", 2 << 20),
                                                              ("e01.mkv", 2 << 20)]
    assert pack["files"][0]["download"] == "/api/browse/download/Show%20S01/Season/e02.mkv"
    page = _get(client, "/api/browse/__all__?offset=1&limit=1").json
    assert page["total"] == 2
    assert len(page["torrents"]) == 1
    assert page["offset"] == 1


@pytest.mark.parametrize("url", ["/api/browse/nope", "/api/browse/__all__/nope",
                                 "/api/browse/films/Show%20S01",
                                 "/api/browse/download/Show%20S01/e03.mkv",
                                 "/api/browse/download/Show%20S01/../Show%20S01/e01.mkv",
                                 "/api/browse/download/Show%20S01/%2e%2e/e01.mkv",
                                 "/api/browse/download/..%2f__all__/e01.mkv",
                                 "/api/browse/download/Show%20S01/e01.mkv%00",
                                 "/api/browse/download/Show%20S01/Season",
                                 "/api/nothing-here"])
def test_unknown_and_hostile_paths_answer_404_in_json(client: FlaskClient, url: str) -> None:
    response = _get(client, url)
    assert response.status_code == 404
    assert response.json["code"] == 404


@pytest.mark.parametrize("query", ["limit=0", "limit=10001", "offset=-1", "limit=x",
                                   "offset=1e3", "limit=" + "9" * 400])
def test_bad_paging_answers_400(client: FlaskClient, query: str) -> None:
    response = _get(client, f"/api/browse/__all__?{query}")
    assert response.status_code == 400
    assert response.json["code"] == 400


def test_download_serves_exact_bytes_with_ranges(client: FlaskClient,
                                                 library: StockedApp) -> None:
    url = "/api/browse/download/" + quote("Movie [2020] #1 50% & co") + "/" + \
        quote("Movie [2020] #1 50% & co.mkv")
    size = 3 << 20
    whole = _get(client, url)
    assert whole.status_code == 200
    assert whole.data == expected_bytes(library.movie, 1, 0, size)
    assert whole.headers["Accept-Ranges"] == "bytes"
    etag = whole.headers["ETag"]
    assert etag.startswith('"')
    assert not etag.startswith("W/")
    for header, start, length in (("bytes=0-0", 0, 1), ("bytes=1048570-1048589", 1048570, 20),
                                  ("bytes=-16", size - 16, 16), (f"bytes={size - 1}-",
                                                                  size - 1, 1)):
        part = _get(client, url, Range=header)
        assert part.status_code == 206, header
        assert part.data == expected_bytes(library.movie, 1, start, length), header
        assert part.headers["Content-Range"] == f"bytes {start}-{start + length - 1}/{size}"
    outside = _get(client, url, Range=f"bytes={size}-")
    assert outside.status_code == 416
    assert outside.json["code"] == 416
    assert _get(client, url, **{"If-None-Match": etag}).status_code == 304
    stale = _get(client, url, Range="bytes=0-9", **{"If-Range": '"not-the-etag"'})
    assert stale.status_code == 200
    assert len(stale.data) == size
    again = _get(client, url, Range="bytes=0-9", **{"If-Range": etag})
    assert again.status_code == 206
    assert len(again.data) == 10


def test_a_provider_that_stops_answering_gives_a_json_502_in_time(
        client: FlaskClient, library: StockedApp) -> None:
    url = "/api/browse/download/Show%20S01/Season/e02.mkv"
    with library.app.app_context():     # no cached link: the next read must ask the provider
        store = library.app.extensions["debridge.runtime"].store
        store._conn().execute("DELETE FROM links")
    library.fault(route="unrestrict", kind="timeout", delay=4)
    try:
        began = time.monotonic()
        response = _get(client, url, Range="bytes=0-99")
        elapsed = time.monotonic() - began
    finally:
        library.clear_faults()
    assert response.status_code == 502
    assert response.json["code"] == 502
    assert elapsed < 2.0 + 3.0
    recovered = wait_until(lambda: _get(client, url, Range="bytes=0-99").status_code == 206,
                           30, interval=0.5, what="downloads to work again")
    assert recovered


def test_api_key_command_prints_a_key_the_api_accepts(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    config = tmp_path / "config.json"
    data = default_config()
    data["server"]["data_dir"] = str(settings.data_dir)
    config.write_text(json.dumps(data))
    result = subprocess.run([sys.executable, "app.py", "api-key", "--config", str(config)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().rsplit(" ", 1)[-1]
    app = create_app(settings, start_background=False)
    try:
        client = app.test_client()
        assert client.get("/api/browse/", headers={"X-Api-Key": key}).status_code == 200
        assert client.get("/api/browse/", headers={"X-Api-Key": key[:-1]}).status_code == 401
    finally:
        stop_app(app)
