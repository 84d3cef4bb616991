"""The sandbox's Debrid-Link dialect over raw HTTP: envelopes, errors, paging, the removed
cache check, and the torrent state machine on the admin clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import expected_bytes, magnet, make_torrent, random_hash

TOKEN = "dl-sandbox-token"
TORRENT_KEYS = ["id", "name", "hashString", "uploadRatio", "serverId", "wait",
                "peersConnected", "status", "error", "errorString", "totalSize", "files",
                "trackers", "created", "downloadPercent", "downloadSpeed", "uploadSpeed",
                "isZip"]
FILE_KEYS = ["id", "name", "size", "downloadPercent", "downloaded", "downloadUrl"]


class DL:
    """Raw HTTP against the sandbox: no retries, no parsing beyond what a test asserts."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.server.api_url + path, **kwargs)

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.server.url}/__admin{path}", timeout=10,
                                    **kwargs)
        assert response.status_code < 300, response.text
        return response

    def ok(self, response: requests.Response) -> Any:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True, body
        return body

    def add(self, url: str) -> dict[str, Any]:
        return self.ok(self.request("POST", "/seedbox/add", json={"url": url, "async": True}))[
            "value"]

    def get(self, torrent_id: str) -> dict[str, Any]:
        [torrent] = self.ok(self.request("GET", "/seedbox/list",
                                         params={"ids": torrent_id}))["value"]
        return torrent

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advance": seconds})

    def configure(self, **options: Any) -> None:
        self.admin("POST", "/config", json=options)


def refused(response: requests.Response, status: int, key: str) -> None:
    """Debrid-Link's error envelope, exactly."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"success": False, "error": key}


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxOptions(tokens=(TOKEN,)), dialect="debridlink") as running:
        yield running


@pytest.fixture
def dl(server: SandboxServer) -> Iterator[DL]:
    client = DL(server)
    client.admin("POST", "/reset")
    client.configure(download_seconds=60, queue_seconds=5, conversion_seconds=0,
                     max_active=0, rate_limit_per_minute=0, link_lifetime_seconds=86400)
    yield client
    client.admin("DELETE", "/faults")
    client.session.close()


def test_add_answers_the_torrent_object_in_the_envelope(dl: DL) -> None:
    info_hash = random_hash()
    response = dl.request("POST", "/seedbox/add", json={
        "url": magnet(info_hash, "Show.S01E01.1080p", 2_000_000), "async": True,
        "structureType": "list"})
    body = dl.ok(response)
    assert list(body) == ["success", "value"]
    torrent = body["value"]
    assert list(torrent) == TORRENT_KEYS
    assert (torrent["hashString"], torrent["name"], torrent["status"], torrent["error"]) == \
        (info_hash, "Show.S01E01.1080p", 100, 0)          # cached: stored at once
    assert torrent["downloadPercent"] == 100
    assert isinstance(torrent["created"], int)
    files = torrent["files"]
    assert [list(f) for f in files] == [FILE_KEYS] * 3
    assert [f["name"] for f in files] == ["Show.S01E01.1080p.mkv",
                                          "Sample/Show.S01E01.1080p.sample.mkv",
                                          "Show.S01E01.1080p.nfo"]
    assert files[0]["size"] == 2_000_000 == torrent["totalSize"] - files[1]["size"] - \
        files[2]["size"]
    assert all(f["downloaded"] and f["downloadUrl"] for f in files)
    head = requests.get(files[0]["downloadUrl"], headers={"Range": "bytes=0-9"}, timeout=5)
    assert head.status_code == 206
    assert head.content == expected_bytes(info_hash, 1, 0, 10)


def test_add_takes_a_bare_hash_a_form_and_a_torrent_file(dl: DL, tmp_path: Path) -> None:
    info_hash = random_hash()
    assert dl.add(info_hash)["hashString"] == info_hash
    form = dl.ok(dl.request("POST", "/seedbox/add", data={"url": magnet(random_hash(), "F")}))
    assert form["value"]["name"] == "F"
    data, upload_hash = make_torrent(tmp_path, "Pack", {"A.mkv": 1000, "B.mkv": 2000})
    upload = dl.ok(dl.request("POST", "/seedbox/add",
                              files={"file": ("x.torrent", data, "application/x-bittorrent")}))
    assert upload["value"]["hashString"] == upload_hash
    assert [(f["name"], f["size"]) for f in upload["value"]["files"]] == \
        [("A.mkv", 1000), ("B.mkv", 2000)]


def test_add_refusals(dl: DL) -> None:
    add = dl.request
    refused(add("POST", "/seedbox/add", json={}), 400, "badArguments")
    refused(add("POST", "/seedbox/add", json={"url": magnet(random_hash(), "X"),
                                              "structureType": "graph"}), 400, "badArguments")
    refused(add("POST", "/seedbox/add", json={"url": "magnet:?xt=urn:btih:nothex"}), 400,
            "notAddTorrent")
    refused(add("POST", "/seedbox/add", json={"url": "https://example.invalid/a.torrent"}),
            400, "notAddTorrent")
    refused(add("POST", "/seedbox/add", files={"file": ("x.torrent", b"junk")}), 400,
            "notAddTorrent")
    refused(add("POST", "/seedbox/add", json={"url": magnet(random_hash(), "Y [infringing]")}),
            400, "notAddTorrent")
    dl.configure(max_active=1)
    dl.add(magnet(random_hash(), "One [uncached]"))
    refused(add("POST", "/seedbox/add", json={"url": magnet(random_hash(), "Two [uncached]")}),
            400, "maxTorrent")
    assert len(dl.ok(add("GET", "/seedbox/list"))["value"]) == 1   # refusals added nothing


def test_auth_unknown_routes_and_the_removed_cache_check(dl: DL, server: SandboxServer) -> None:
    url = server.api_url
    refused(requests.get(f"{url}/account/infos", timeout=5), 401, "badToken")
    refused(requests.get(f"{url}/account/infos", timeout=5,
                         headers={"Authorization": "Bearer nope"}), 401, "badToken")
    refused(dl.request("GET", "/seedbox/cached", params={"url": random_hash()}), 404, "unknowR")
    refused(dl.request("POST", "/seedbox/cached", data={"url": random_hash()}), 404, "unknowR")
    refused(dl.request("GET", f"/seedbox/cached/{random_hash()},{random_hash()}"), 404,
            "unknowR")
    refused(dl.request("GET", "/seedbox/nothing"), 404, "unknowR")
    wrong_method = dl.request("GET", "/seedbox/add")
    refused(wrong_method, 405, "unknowR")
    assert "POST" in wrong_method.headers["Allow"]


def test_account_infos(dl: DL) -> None:
    value = dl.ok(dl.request("GET", "/account/infos"))["value"]
    assert (value["username"], value["accountType"]) == ("sandbox", 1)
    assert 364 * 86400 < value["premiumLeft"] <= 365 * 86400     # seconds left, not a date
    assert {"email", "pts", "trafficshare", "serverDetected"} <= set(value)


def test_uncached_torrent_states_on_the_clock(dl: DL) -> None:
    info_hash = random_hash()
    torrent = dl.add(magnet(info_hash, "Slow.Movie [uncached]", 60_000_000))
    assert (torrent["status"], torrent["downloadPercent"]) == (3, 0)       # download queued
    assert torrent["files"]
    assert not any(f["downloadUrl"] for f in torrent["files"])
    dl.advance(5 + 30)
    halfway = dl.get(torrent["id"])
    assert halfway["status"] == 4
    assert 0 < halfway["downloadPercent"] < 100
    assert halfway["peersConnected"] > 0
    assert halfway["downloadSpeed"] > 0
    assert not any(f["downloaded"] or f["downloadUrl"] for f in halfway["files"])
    dl.advance(31)
    stored = dl.get(torrent["id"])
    assert (stored["status"], stored["downloadPercent"], stored["downloadSpeed"]) == (100, 100, 0)
    assert all(f["downloaded"] and f["downloadUrl"] for f in stored["files"])


def test_metadata_comes_after_the_conversion(dl: DL) -> None:
    dl.configure(conversion_seconds=30)
    torrent = dl.add(magnet(random_hash(), "Fetching.mkv"))
    assert (torrent["status"], torrent["files"], torrent["totalSize"]) == (4, [], 0)
    dl.advance(31)
    known = dl.get(torrent["id"])
    assert known["status"] == 100
    assert known["files"]
    assert known["totalSize"] > 0


def test_failures_show_as_an_error_on_a_stopped_torrent(dl: DL) -> None:
    never = dl.add(magnet(random_hash(), "Never [magnet_error]"))
    assert (never["status"], never["error"], never["files"]) == (0, 2, [])
    assert "metadata" in never["errorString"]
    dying = dl.add(magnet(random_hash(), "Dying.mkv [dead]"))
    url = dying["files"][0]["downloadUrl"]
    dl.advance(61)                                  # dead_after_seconds, from its end
    dead = dl.get(dying["id"])
    assert (dead["status"], dead["error"]) == (0, 3)
    assert "no longer available" in dead["errorString"]
    assert not any(f["downloadUrl"] for f in dead["files"])
    assert url


def test_a_files_url_stays_while_it_lives_then_is_renewed(dl: DL) -> None:
    torrent = dl.add(magnet(random_hash(), "Renewed.mkv", 1000))
    url = torrent["files"][0]["downloadUrl"]
    assert dl.get(torrent["id"])["files"][0]["downloadUrl"] == url
    dl.advance(86400 + 1)
    assert requests.get(url, timeout=5).status_code == 403       # expired at the CDN
    fresh = dl.get(torrent["id"])["files"][0]["downloadUrl"]
    assert fresh != url
    assert requests.get(fresh, timeout=5).status_code == 200


def test_list_pages_newest_first(dl: DL) -> None:
    ids = dl.admin("POST", "/torrents", json={"count": 45, "name": "Paged"}).json()["ids"]
    newest_first = list(reversed(ids))
    seen = []
    for page, expected in ((0, {"page": 0, "pages": 3, "next": 1, "previous": -1}),
                           (1, {"page": 1, "pages": 3, "next": 2, "previous": 0}),
                           (2, {"page": 2, "pages": 3, "next": -1, "previous": 1})):
        body = dl.ok(dl.request("GET", "/seedbox/list", params={"page": page, "perPage": 20}))
        assert list(body) == ["success", "value", "pagination"]
        assert body["pagination"] == expected
        seen += [t["id"] for t in body["value"]]
    assert seen == newest_first
    past = dl.ok(dl.request("GET", "/seedbox/list", params={"page": 3, "perPage": 20}))
    assert past["value"] == []
    assert past["pagination"]["next"] == -1
    default = dl.ok(dl.request("GET", "/seedbox/list"))
    assert len(default["value"]) == 20                 # perPage defaults to its minimum
    for bad in ({"perPage": 19}, {"perPage": 101}, {"page": -1}, {"page": "x"}):
        refused(dl.request("GET", "/seedbox/list", params=bad), 400, "badArguments")


def test_ids_filter_and_remove(dl: DL) -> None:
    first = dl.add(magnet(random_hash(), "First.mkv"))["id"]
    second = dl.add(magnet(random_hash(), "Second.mkv"))["id"]
    listed = dl.ok(dl.request("GET", "/seedbox/list", params={"ids": f"{first},UNKNOWN"}))
    assert [t["id"] for t in listed["value"]] == [first]           # unknown ids: not listed
    as_json = dl.ok(dl.request("GET", "/seedbox/list",
                               params={"ids": json.dumps([second, first])}))
    assert [t["id"] for t in as_json["value"]] == [second, first]
    too_many = ",".join(f"ID{i}" for i in range(51))
    refused(dl.request("GET", "/seedbox/list", params={"ids": too_many}), 400, "badArguments")
    removed = dl.ok(dl.request("DELETE", f"/seedbox/{first},UNKNOWN/remove"))
    assert removed["value"] == [first]
    refused(dl.request("DELETE", f"/seedbox/{first}/remove"), 400, "badId")
    assert [t["id"] for t in dl.ok(dl.request("GET", "/seedbox/list"))["value"]] == [second]
    assert dl.ok(dl.request("GET", "/seedbox/list", params={"ids": first}))["value"] == []


def test_flood_detected_is_the_rate_limit(dl: DL) -> None:
    dl.configure(rate_limit_per_minute=2)
    assert [dl.request("GET", "/account/infos").status_code for _ in range(2)] == [200, 200]
    flood = dl.request("GET", "/account/infos")
    refused(flood, 429, "floodDetected")
    assert "Retry-After" not in flood.headers              # Debrid-Link documents none


def test_downloader_history(dl: DL) -> None:
    torrent = dl.add(magnet(random_hash(), "History.mkv", 1000))
    url = torrent["files"][0]["downloadUrl"]
    body = dl.ok(dl.request("GET", "/downloader/list"))
    [link] = body["value"]
    assert (link["downloadUrl"], link["name"], link["size"], link["expired"]) == \
        (url, "History.mkv", 1000, False)
    assert body["pagination"]["pages"] == 1
    dl.advance(86400 + 1)
    assert dl.ok(dl.request("GET", "/downloader/list"))["value"][0]["expired"] is True
    assert dl.ok(dl.request("DELETE", f"/downloader/{link['id']}/remove"))["value"] == \
        [link["id"]]
    refused(dl.request("DELETE", f"/downloader/{link['id']}/remove"), 400, "badId")


def test_a_fault_can_answer_an_error_with_http_200(dl: DL) -> None:
    dl.admin("POST", "/faults", json={"route": "/account/infos$", "status": 200, "count": 1,
                                      "body": {"success": False, "error": "maxData"},
                                      "headers": {"X-Sandbox": "fault"}})
    faulted = dl.request("GET", "/account/infos")
    assert faulted.status_code == 200
    assert faulted.headers["X-Sandbox"] == "fault"
    assert faulted.json() == {"success": False, "error": "maxData"}
    assert dl.ok(dl.request("GET", "/account/infos"))["value"]["username"] == "sandbox"
