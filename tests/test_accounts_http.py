"""Two provider accounts over real HTTP (two standalone sandboxes): an add that the first
refuses for slots or an outage lands in the second, an infringing one does not, a category
pinned to the second never reaches the first, and each torrent records its account."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from debrid.sandbox import SandboxServer
from tests.conftest import make_settings
from tests.helpers import expected_bytes, magnet, random_hash, wait_until

PINNED = "tv-sonarr"


@dataclass
class Two:
    app: Flask
    client: FlaskClient
    first: SandboxServer
    second: SandboxServer

    def add(self, name: str, category: str = "") -> str:
        info_hash = random_hash()
        response = self.client.post("/api/v2/torrents/add", data={
            "urls": magnet(info_hash, name, size=1_000_000), "category": category})
        assert response.status_code == 200, response.text
        return info_hash

    def info(self, info_hash: str) -> dict[str, Any]:
        found = self.client.get(f"/api/torrents?hash={info_hash}")
        assert found.status_code == 200, found.text
        torrent: dict[str, Any] = found.json[0]
        return torrent

    def settled(self, info_hash: str) -> dict[str, Any]:
        return wait_until(lambda: (t := self.info(info_hash))["state"] in (
            "completed", "failed") and t, timeout=30, what="a final state")


def _requests(server: SandboxServer, path: str) -> int:
    log = requests.get(f"{server.url}/__admin/requests", timeout=5).json()["requests"]
    return sum(1 for r in log if r["path"].endswith(path))


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Two]:
    with SandboxServer() as first, SandboxServer() as second:
        settings = make_settings(tmp_path, auth={"api_key": "k" * 32}, providers=[
            {"name": "first", "type": "sandbox", "base_url": first.api_url},
            {"name": "second", "type": "sandbox", "base_url": second.api_url}],
            categories={PINNED: {"providers": ["second"]}},
            repair={"readd_wait_seconds": 2.0})
        app = create_app(settings)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + "k" * 32
        try:
            yield Two(app, client, first, second)
        finally:
            stop_app(app)


def _fault(server: SandboxServer, status: int, error_code: int | None) -> None:
    # every attempt (the client retries an outage a few times before giving up on it)
    body: dict[str, Any] = {"route": "/torrents/addMagnet", "status": status, "count": 10}
    if error_code is not None:
        body["error_code"] = error_code
    assert requests.post(f"{server.url}/__admin/faults", json=body, timeout=5).ok


@pytest.mark.parametrize(("status", "code"), [(509, 21), (503, 25)], ids=["slots", "503"])
def test_the_first_account_refusing_for_now_sends_the_add_to_the_second(
        two: Two, status: int, code: int | None) -> None:
    _fault(two.first, status, code)
    info_hash = two.add("Fallback.Movie.2020.1080p")
    done = two.settled(info_hash)
    assert done["state"] == "completed", done
    assert done["provider"] == "second"
    assert _requests(two.first, "/torrents/addMagnet") >= 1
    assert _requests(two.second, "/torrents/addMagnet") == 1


def test_an_infringing_refusal_never_reaches_the_second_account(two: Two) -> None:
    response = two.client.post("/api/v2/torrents/add", data={
        "urls": magnet(random_hash(), "Refused.Movie.2020 [infringing]", size=1_000_000)})
    assert response.text == "Fails."          # refused within the add's wait, and removed
    assert _requests(two.first, "/torrents/addMagnet") == 1
    assert _requests(two.second, "/torrents/addMagnet") == 0


def test_a_pinned_category_never_touches_the_first_account(two: Two) -> None:
    two.client.post("/api/v2/torrents/createCategory", data={"category": PINNED})
    info_hash = two.add("Pinned.Show.S01E01.1080p", category=PINNED)
    done = two.settled(info_hash)
    assert done["provider"] == "second"
    assert _requests(two.first, "/torrents/addMagnet") == 0
    assert _requests(two.second, "/torrents/addMagnet") == 1


def test_a_torrent_the_first_account_lost_is_repaired_on_the_second(two: Two) -> None:
    info_hash = two.add("Moved.Show.S01E01.1080p", "tv")
    assert two.settled(info_hash)["provider"] == "first"
    (lost,) = [t for t in requests.get(f"{two.first.url}/__admin/torrents", timeout=5).json()
               if t["hash"].lower() == info_hash]
    # the first account lost it, and has no cached copy any more: a re-add there downloads
    requests.post(f"{two.first.url}/__admin/seed", timeout=5, json={
        "hash": info_hash, "name": "Moved.Show.S01E01.1080p", "cached": False})
    requests.post(f"{two.first.url}/__admin/torrents/{lost['id']}", json={"dead": True},
                  timeout=5).raise_for_status()
    job = two.client.post("/api/repair", json={"mediaIds": [info_hash], "autoProcess": True})
    assert job.status_code == 202, job.text

    def done() -> dict[str, Any] | None:
        current = two.client.get(f"/api/repair/jobs/{job.json['id']}").json
        return current if current["status"] == "completed" else None
    (item,) = wait_until(done, timeout=60, what="the repair")["broken_items"]
    assert item["state"] == "done", item
    assert item["tried"] == ["first"]
    assert two.info(info_hash)["provider"] == "second"
    assert two.info(info_hash)["health"] == "healthy"
    left = [t for t in requests.get(f"{two.first.url}/__admin/torrents", timeout=5).json()
            if t["hash"].lower() == info_hash and not t["deleted"]]
    assert left == []                 # neither the lost copy nor the uncached one stays
    detail = two.client.get(f"/t/{info_hash}").json
    video = next(f for f in detail["files"] if f["selected"] and f["path"].endswith(".mkv"))
    folder = Path(two.info(info_hash)["content_path"]).name
    basic = base64.b64encode(b"anyone:" + b"k" * 32).decode()
    read = two.client.get(f"/webdav/__all__/{folder}/{video['path']}", headers={
        "Authorization": f"Basic {basic}", "Range": "bytes=0-63"})
    assert read.status_code == 206
    assert read.data == expected_bytes(info_hash, video["index"] + 1, 0, 64)
