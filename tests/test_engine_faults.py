"""Provider faults during the lifecycle: 429s, HTML 503s, timeouts, expired links, refusals.

Each test runs the real app (engine + Real-Debrid client) against the embedded sandbox and
injects faults through the sandbox's admin API; nothing may be lost or duplicated.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    expected_sha256,
    file_sha256,
    magnet,
    make_torrent,
    random_hash,
    wait_until,
)

API = "/api/v2"


class Harness:
    def __init__(self, app: Flask) -> None:
        self.app = app
        settings = app.extensions["debridge"].settings
        self.admin = f"http://127.0.0.1:{settings['sandbox.port']}/__admin"
        self.client = app.test_client()
        assert self.client.post(f"{API}/auth/login", data={
            "username": "admin", "password": PASSWORD}).text == "Ok."

    def fault(self, **rule: Any) -> None:
        requests.post(f"{self.admin}/faults", json=rule, timeout=5).raise_for_status()

    def provider_torrents(self) -> list[dict[str, Any]]:
        return [t for t in requests.get(f"{self.admin}/torrents", timeout=5).json()
                if not t["deleted"]]

    def calls(self, fragment: str) -> list[dict[str, Any]]:
        log = requests.get(f"{self.admin}/requests", timeout=5).json()["requests"]
        return [r for r in log if fragment in r["path"]]

    def add(self, **data: Any) -> str:
        return self.client.post(f"{API}/torrents/add", data=data).text

    def info(self, info_hash: str) -> dict[str, Any] | None:
        found = self.client.get(f"{API}/torrents/info?hashes={info_hash}").json
        return found[0] if found else None

    def completed(self, info_hash: str, timeout: float = 40) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            torrent = self.info(info_hash)
            assert torrent is not None
            assert torrent["state"] != "error", torrent
            return torrent if torrent["state"] == "pausedUP" else None
        return wait_until(done, timeout=timeout, interval=0.1, what="pausedUP")

    def check_bytes(self, torrent: dict[str, Any]) -> None:
        files = self.client.get(f"{API}/torrents/files?hash={torrent['hash']}").json
        for f in files:
            if f["priority"]:
                path = Path(torrent["save_path"]) / f["name"]
                assert file_sha256(path) == expected_sha256(torrent["hash"], f["index"] + 1,
                                                            f["size"])


@pytest.fixture
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    overrides = getattr(request, "param", {})
    app = create_app(make_settings(tmp_path, **overrides))
    try:
        yield Harness(app)
    finally:
        stop_app(app)


def test_rate_limits_and_html_errors_are_retried_without_duplicates(harness: Harness) -> None:
    harness.fault(route="addMagnet", kind="status", status=429, error_code=34, count=2)
    harness.fault(route="selectFiles", kind="status", status=503, html=True, count=2)
    harness.fault(route="/torrents/info/", kind="status", status=502, html=True, count=3)
    harness.fault(route="unrestrict", kind="status", status=429, error_code=34, count=2)
    info_hash = random_hash()
    assert harness.add(urls=magnet(info_hash, "Flaky.Show.S01E01", 500_000)) == "Ok."
    torrent = harness.completed(info_hash)
    harness.check_bytes(torrent)
    assert [t["hash"] for t in harness.provider_torrents()] == [info_hash]


@pytest.mark.parametrize("harness", [{"providers": [{
    "name": "sandbox", "type": "sandbox", "timeout_seconds": 0.5}]}], indirect=True)
def test_a_timed_out_add_is_reconciled_not_duplicated(harness: Harness) -> None:
    """The provider takes the add but answers too late: Debridge adopts that torrent."""
    harness.fault(route="addMagnet", kind="timeout", delay=1.0, count=1)
    info_hash = random_hash()
    harness.add(urls=magnet(info_hash, "Slow.Answer.S01E01", 300_000))
    torrent = harness.completed(info_hash, timeout=60)
    harness.check_bytes(torrent)
    assert [t["hash"] for t in harness.provider_torrents()] == [info_hash]
    assert len(harness.calls("addMagnet")) == 1


def test_an_expired_cdn_link_is_resolved_again(harness: Harness) -> None:
    harness.fault(route="^/cdn/", kind="status", status=403, count=1)
    info_hash = random_hash()
    assert harness.add(urls=magnet(info_hash, "Expiring.Link.2021.mkv", 700_000)) == "Ok."
    harness.check_bytes(harness.completed(info_hash))
    assert len(harness.calls("unrestrict")) == 2


def test_a_dead_cdn_stays_unfinished_and_recovers(harness: Harness) -> None:
    harness.fault(route="^/cdn/", kind="status", status=500, count=4)
    info_hash = random_hash()
    assert harness.add(urls=magnet(info_hash, "Cdn.Down.2021.mkv", 200_000)) == "Ok."
    torrent = harness.completed(info_hash, timeout=60)
    harness.check_bytes(torrent)


def test_magnet_error_is_refused_at_add(harness: Harness) -> None:
    info_hash = random_hash()
    assert harness.add(urls=magnet(info_hash, "No.Metadata [magnet_error]")) == "Fails."
    assert harness.client.get(f"{API}/torrents/info").json == []
    wait_until(lambda: not harness.provider_torrents(), timeout=10,
               what="the provider torrent removed")


def test_nothing_selectable_is_refused_with_a_reason(harness: Harness, tmp_path: Path) -> None:
    data, _ = make_torrent(tmp_path, "Only.Text", {"readme.txt": 100, "info.nfo": 50})
    result = harness.client.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "only-text.torrent")}).text
    assert result == "Fails."
    assert harness.client.get(f"{API}/torrents/info").json == []


@pytest.mark.parametrize("harness", [{"qbit": {"add_wait_seconds": 0.2}}], indirect=True)
def test_late_refusal_shows_error_with_the_reason(harness: Harness) -> None:
    requests.post(f"{harness.admin}/config", json={"conversion_seconds": 1.0}, timeout=5)
    info_hash = random_hash()
    assert harness.add(urls=magnet(info_hash, "Late.Failure [magnet_error]")) == "Ok."
    torrent = wait_until(lambda: (t := harness.info(info_hash)) and t["state"] == "error" and t,
                         timeout=20, what="state error")
    assert torrent["progress"] == 0
    comment = harness.client.get(f"{API}/torrents/properties?hash={info_hash}").json["comment"]
    assert "metadata" in comment


def test_season_pack_keeps_every_episode_and_drops_extras(harness: Harness,
                                                          tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Show.S03.1080p", {
        "Show.S03E01.mkv": 100_000, "Show.S03E02.mkv": 100_001, "Show.S03E03.mkv": 100_002,
        "Sample/show.s03.sample.mkv": 5_000, "Extras/Behind.The.Scenes.mkv": 9_000,
        "Show.S03.nfo": 300})
    assert harness.client.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "pack.torrent")}).text == "Ok."
    torrent = harness.completed(info_hash)
    files = harness.client.get(f"{API}/torrents/files?hash={info_hash}").json
    chosen = sorted(f["name"].split("/", 1)[1] for f in files if f["priority"])
    assert chosen == ["Show.S03E01.mkv", "Show.S03E02.mkv", "Show.S03E03.mkv"]
    present = sorted(p.name for p in Path(torrent["content_path"]).rglob("*") if p.is_file())
    assert present == chosen
    harness.check_bytes(torrent)
