"""The sandbox's AllDebrid dialect over raw HTTP: envelopes, error codes and their HTTP
statuses, removed endpoints, the statusCode machine on the admin clock, the file tree,
link unlock and delayed links, rate limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import expected_bytes, magnet, make_torrent, random_hash

TOKEN = "ad-sandbox-token"
FAST = {"download_seconds": 100.0, "queue_seconds": 1.0, "conversion_seconds": 0.0}


class AD:
    """Raw calls to one AllDebrid-dialect sandbox (POST forms, as AllDebrid prefers)."""

    def __init__(self, server: SandboxServer, token: str = TOKEN) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, path: str, method: str = "POST", **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return self.session.request(method, f"{self.server.api_url}{path}", **kwargs)

    def ok(self, path: str, **kwargs: Any) -> Any:
        response = self.call(path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert list(body) == ["status", "data"], body
        assert body["status"] == "success", body
        return body["data"]

    def error(self, path: str, code: str, status: int = 200, **kwargs: Any) -> dict[str, Any]:
        response = self.call(path, **kwargs)
        assert response.status_code == status, response.text
        body = response.json()
        assert body["status"] == "error", body
        assert body["error"]["code"] == code, body
        assert body["error"]["message"]
        return dict(body["error"])

    def upload(self, uri: str) -> dict[str, Any]:
        magnets = self.ok("/v4/magnet/upload", data={"magnets[]": uri})["magnets"]
        assert len(magnets) == 1
        return dict(magnets[0])

    def status(self, magnet_id: int) -> dict[str, Any]:
        return dict(self.ok("/v4.1/magnet/status", data={"id": magnet_id})["magnets"])

    def files(self, magnet_id: int) -> list[dict[str, Any]]:
        magnets = self.ok("/v4/magnet/files", data={"id[]": magnet_id})["magnets"]
        assert [m["id"] for m in magnets] == [magnet_id]
        return list(magnets[0]["files"])

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.server.url}/__admin{path}", timeout=15,
                                    **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advance": seconds})


@pytest.fixture
def make_ad() -> Iterator[Callable[..., AD]]:
    servers: list[SandboxServer] = []

    def make(**options: Any) -> AD:
        server = SandboxServer(SandboxOptions(**{**FAST, **options}), dialect="alldebrid")
        servers.append(server.start())
        return AD(server)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ad(make_ad: Callable[..., AD]) -> AD:
    return make_ad()


def _leaves(tree: list[dict[str, Any]], folder: str = "") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for entry in tree:
        if "e" in entry:
            assert set(entry) == {"n", "e"}
            found.update(_leaves(entry["e"], f"{folder}{entry['n']}/"))
        else:
            assert set(entry) == {"n", "s", "l"}
            found[f"{folder}{entry['n']}"] = entry
    return found


def test_upload_answers_each_magnet_and_ready_means_cached(ad: AD) -> None:
    info_hash = random_hash()
    good, bad = magnet(info_hash, "Pack.S01", 1000), "magnet:?xt=urn:btih:nothex"
    magnets = ad.ok("/v4/magnet/upload", data={"magnets[]": [good, bad]})["magnets"]
    assert list(magnets[0]) == ["magnet", "hash", "name", "filename_original", "size", "ready",
                                "id"]
    assert (magnets[0]["magnet"], magnets[0]["hash"], magnets[0]["ready"]) == (good, info_hash,
                                                                               True)
    assert isinstance(magnets[0]["id"], int)
    assert magnets[1] == {"magnet": bad, "error": {"code": "MAGNET_INVALID_URI",
                                                   "message": "Magnet is not valid"}}
    slow = ad.upload(magnet(random_hash(), "Slow [uncached]"))
    assert slow["ready"] is False
    refused = ad.upload(magnet(random_hash(), "Nope [infringing]"))
    assert refused["error"]["code"] == "MAGNET_PROCESSING_FAILED"
    ad.error("/v4/magnet/upload", "MAGNET_NO_URI")
    bare = random_hash()
    assert ad.upload(bare)["hash"] == bare          # a bare infohash is accepted
    assert len(ad.ok("/v4.1/magnet/status")["magnets"]) == 3


def test_upload_file_takes_files_fields(ad: AD, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Disc", {"a.mkv": 10, "b.mkv": 20})
    files = ad.ok("/v4/magnet/upload/file", files=[
        ("files[0]", ("one.torrent", data)), ("files[]", ("two.torrent", b"junk"))])["files"]
    assert files[0]["file"] == "one.torrent"
    assert (files[0]["hash"], files[0]["name"], files[0]["ready"]) == (info_hash, "Disc", True)
    assert files[1] == {"file": "two.torrent", "error": {
        "code": "MAGNET_INVALID_FILE", "message": "File is not a valid torrent"}}
    ad.error("/v4/magnet/upload/file", "MAGNET_NO_URI")


def test_status_is_an_object_with_an_id_and_an_array_without(ad: AD) -> None:
    first = ad.upload(magnet(random_hash(), "First.mkv", 10))["id"]
    second = ad.upload(magnet(random_hash(), "Second [uncached]", 10))["id"]
    one = ad.status(first)
    assert list(one) == [
        "id", "filename", "size", "hash", "status", "statusCode", "downloaded", "uploaded",
        "seeders", "downloadSpeed", "uploadSpeed", "uploadDate", "completionDate", "type",
        "notified", "version", "nbLinks"]
    assert (one["id"], one["statusCode"], one["status"], one["nbLinks"]) == (first, 4, "Ready",
                                                                            1)
    listed = ad.ok("/v4.1/magnet/status")["magnets"]
    assert [m["id"] for m in listed] == [second, first]          # newest first
    assert [m["id"] for m in ad.ok("/v4.1/magnet/status",
                                   data={"status": "active"})["magnets"]] == [second]
    assert [m["id"] for m in ad.ok("/v4.1/magnet/status",
                                   data={"status": "ready"})["magnets"]] == [first]
    assert ad.ok("/v4.1/magnet/status", data={"status": "error"})["magnets"] == []
    assert ad.ok("/v4.1/magnet/status", data={"status": "expired"})["magnets"] == []
    live = ad.ok("/v4.1/magnet/status", data={"session": 42, "counter": 0})
    assert (live["fullsync"], live["counter"], len(live["magnets"])) == (True, 1, 2)
    assert ad.status(first) == ad.ok("/v4.1/magnet/status", method="GET",
                                     params={"id": first})["magnets"]   # GET works too
    for bad in ("999999", "abc", "-1", str(2**70)):
        ad.error("/v4.1/magnet/status", "MAGNET_INVALID_ID", data={"id": bad})


def test_status_codes_follow_the_clock(ad: AD) -> None:
    magnet_id = ad.upload(magnet(random_hash(), "Clocked [uncached]", 100_000))["id"]
    seen = [ad.status(magnet_id)]
    for step in (1.0 + 40, 45, 5, 5, 10):       # 40 %, 85 %, 90 %, 95 %, done (of 100 s)
        ad.advance(step)
        seen.append(ad.status(magnet_id))
    assert [s["statusCode"] for s in seen] == [0, 1, 2, 3, 3, 4]
    assert [s["status"] for s in seen] == ["In Queue", "Downloading", "Compressing / Moving",
                                           "Uploading", "Uploading", "Ready"]
    downloaded, size = [s["downloaded"] for s in seen], seen[-1]["size"]
    assert downloaded == sorted(downloaded)
    assert 0 < downloaded[1] < size
    assert downloaded[2:] == [size] * 4
    assert seen[1]["downloadSpeed"] > 0
    assert seen[1]["seeders"] > 0
    assert [s["completionDate"] > 0 for s in seen] == [False] * 5 + [True]
    assert ad.files(magnet_id)
    assert not any(s["nbLinks"] for s in seen[:-1])


def test_failed_magnets_have_terminal_codes(ad: AD) -> None:
    stuck = ad.upload(magnet(random_hash(), "Stuck [magnet_error]"))["id"]
    assert ad.status(stuck)["statusCode"] == 0
    ad.advance(20 * 60)
    assert (ad.status(stuck)["statusCode"], ad.status(stuck)["status"]) == (
        7, "Not downloaded in 20 min")
    huge = ad.upload(magnet(random_hash(), "Huge.mkv", 2 << 40))["id"]
    assert (ad.status(huge)["statusCode"], ad.status(huge)["status"]) == (8, "File too big")
    info_hash = random_hash()
    dead = ad.upload(magnet(info_hash, "Dies.mkv", 10))["id"]
    internal = next(t["id"] for t in ad.admin("GET", "/torrents") if t["hash"] == info_hash)
    ad.admin("POST", f"/torrents/{internal}", json={"dead": True})
    assert (ad.status(dead)["statusCode"], ad.status(dead)["status"]) == (
        11, "Deleted on the hoster website")
    assert ad.files(dead) == []
    assert [m["id"] for m in ad.ok("/v4.1/magnet/status",
                                   data={"status": "error"})["magnets"]] == [dead, huge, stuck]
    # restart revives the dead one; a magnet that is fine is "processing or complete"
    restarted = ad.ok("/v4/magnet/restart", data={"id": dead})["magnets"][0]
    assert restarted["message"] == "Magnet was successfully restarted"
    assert ad.status(dead)["statusCode"] == 4
    again = ad.ok("/v4/magnet/restart", data={"id": dead})["magnets"][0]
    assert again["error"]["code"] == "MAGNET_PROCESSING"


def test_file_tree_root_folder_links_and_shuffled_order(ad: AD) -> None:
    info_hash = random_hash()
    magnet_id = ad.upload(magnet(info_hash, "Tree.Show.S01", 5000))["id"]
    tree = ad.files(magnet_id)
    assert [entry["n"] for entry in tree] == ["Tree.Show.S01"]
    leaves = _leaves(tree[0]["e"])
    assert sorted(leaves) == ["Sample/Tree.Show.S01.sample.mkv", "Tree.Show.S01.mkv",
                              "Tree.Show.S01.nfo"]
    assert leaves["Tree.Show.S01.mkv"]["s"] == 5000
    assert all(leaf["l"].startswith(f"{ad.server.url}/f/") for leaf in leaves.values())
    orders = {json.dumps(ad.files(magnet_id)) for _ in range(20)}
    assert len(orders) > 1                       # the order is not stable
    assert all(_leaves(json.loads(o)[0]["e"]) == leaves for o in orders)   # the content is
    single = ad.upload(magnet(random_hash(), "Alone.mkv", 77))["id"]
    assert [set(e) for e in ad.files(single)] == [{"n", "s", "l"}]
    slow = ad.upload(magnet(random_hash(), "Later [uncached]"))["id"]
    assert ad.files(slow) == []                  # no links before it is ready
    answer = ad.ok("/v4/magnet/files", data={"id[]": [magnet_id, 999_999]})["magnets"]
    assert answer[1] == {"id": "999999", "error": {"code": "MAGNET_INVALID_ID",
                                                   "message": "Magnet ID is invalid"}}
    ad.error("/v4/magnet/files", "MAGNET_INVALID_ID")


def test_unlock_mints_cdn_links_and_refuses_in_alldebrid_words(make_ad) -> None:
    ad = make_ad(link_lifetime_seconds=60, exhausted_tokens=["spent-key"])
    info_hash = random_hash()
    magnet_id = ad.upload(magnet(info_hash, "Unlock.mkv", 3000))["id"]
    link = ad.files(magnet_id)[0]["l"]
    unlocked = ad.ok("/v4/link/unlock", data={"link": link})
    assert list(unlocked) == ["link", "host", "hostDomain", "filename", "paws", "filesize",
                              "streams", "id", "streaming"]
    assert (unlocked["filename"], unlocked["filesize"]) == ("Unlock.mkv", 3000)
    content = requests.get(unlocked["link"], headers={"Range": "bytes=100-199"}, timeout=5)
    assert content.status_code == 206
    assert content.content == expected_bytes(info_hash, 1, 100, 100)
    infos = ad.ok("/v4/link/infos", data={"link[]": [link, "https://x.example/f/AAAAAAAAAAAAA",
                                                   "https://x.example/d/1"]})["infos"]
    assert infos[0] == {"link": link, "filename": "Unlock.mkv", "host": "alldebrid",
                        "hostDomain": "alldebrid.com", "size": 3000}
    assert [i["error"]["code"] for i in infos[1:]] == ["LINK_DOWN", "LINK_HOST_NOT_SUPPORTED"]
    ad.advance(61)                               # the CDN link expired: unlock again
    assert requests.get(unlocked["link"], timeout=5).status_code == 403
    fresh = ad.ok("/v4/link/unlock", data={"link": link})["link"]
    assert fresh != unlocked["link"]
    assert requests.head(fresh, timeout=5).status_code == 200
    ad.error("/v4/link/unlock", "LINK_IS_MISSING")
    ad.error("/v4/link/unlock", "LINK_HOST_NOT_SUPPORTED", data={"link": "https://x.example/a"})
    spent = AD(ad.server, "spent-key")
    spent.error("/v4/link/unlock", "LINK_HOST_LIMIT_REACHED", data={"link": link})
    assert ad.ok("/v4/magnet/delete", data={"id": magnet_id}) == {
        "message": "Magnet was successfully deleted"}
    ad.error("/v4/magnet/delete", "MAGNET_INVALID_ID", data={"id": magnet_id})
    ad.error("/v4/link/unlock", "LINK_DOWN", data={"link": link})
    ad.error("/v4.1/magnet/status", "MAGNET_INVALID_ID", data={"id": magnet_id})


def test_delayed_links_by_option_and_for_archives(make_ad) -> None:
    ad = make_ad(delayed_link_seconds=30)
    link = ad.files(ad.upload(magnet(random_hash(), "Wait.mkv", 10))["id"])[0]["l"]
    delayed = ad.ok("/v4/link/unlock", data={"link": link})
    assert list(delayed) == ["delayed"]
    assert ad.ok("/v4/link/delayed", data={"id": delayed["delayed"]}) == {
        "status": 1, "time_left": 30, "link": ""}
    ad.advance(31)
    ready = ad.ok("/v4/link/delayed", data={"id": delayed["delayed"]})
    assert (ready["status"], ready["time_left"]) == (2, 0)
    assert requests.head(ready["link"], timeout=5).status_code == 200
    assert ad.ok("/v4/link/delayed", data={"id": delayed["delayed"]}) == ready   # stays ready
    for bad in ("123", "x"):
        ad.error("/v4/link/delayed", "DELAYED_INVALID_ID", data={"id": bad})
    plain = make_ad()
    info_hash = random_hash()
    plain.admin("POST", "/seed", json={"hash": info_hash, "name": "Packed", "archive": True,
                                       "files": [{"path": "a.rar", "bytes": 5}]})
    packed = plain.files(plain.upload(magnet(info_hash, "Packed"))["id"])
    delayed_id = plain.ok("/v4/link/unlock", data={"link": _leaf_link(packed)})["delayed"]
    assert plain.ok("/v4/link/delayed", data={"id": delayed_id})["status"] == 2


def _leaf_link(tree: list[dict[str, Any]]) -> str:
    return str(next(iter(_leaves(tree).values()))["l"])


def test_auth_envelopes_public_ping_and_the_apikey_parameter(make_ad) -> None:
    ad = make_ad(tokens=[TOKEN])
    anonymous = requests.post(f"{ad.server.api_url}/v4/user", timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"status": "error", "error": {
        "code": "AUTH_MISSING_APIKEY", "message": "The auth apikey was not sent"}}
    AD(ad.server, "wrong").error("/v4/user", "AUTH_BAD_APIKEY", 401)
    assert requests.get(f"{ad.server.api_url}/v4/ping", timeout=5).json() == {
        "status": "success", "data": {"ping": "pong"}}
    by_param = requests.get(f"{ad.server.api_url}/v4/user", params={"apikey": TOKEN}, timeout=5)
    user = by_param.json()["data"]["user"]
    assert (user["username"], user["isPremium"], user["isTrial"]) == ("sandbox", True, False)
    assert user["premiumUntil"] > 0


def test_removed_and_unknown_endpoints(ad: AD) -> None:
    removed = ad.error("/v4/magnet/instant", "404", 404, data={"magnets[]": random_hash()})
    assert removed["message"] == "Endpoint doesn't exist"
    ad.error("/v4/endpointDontExist", "404", 404)
    ad.error("/v4/magnet/status", "DISCONTINUED", data={"id": 1})


def test_slots_full_refuses_the_whole_upload(make_ad) -> None:
    ad = make_ad(max_active=1)
    ad.upload(magnet(random_hash(), "Busy [uncached]"))
    ad.error("/v4/magnet/upload", "MAGNET_TOO_MANY_ACTIVE",
             data={"magnets[]": magnet(random_hash(), "More [uncached]")})


def test_rate_limits_per_second_and_per_minute(make_ad) -> None:
    ad = make_ad(rate_limit_per_second=3)
    assert [ad.call("/v4/user").status_code for _ in range(3)] == [200] * 3
    refused = ad.call("/v4/user")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert "Retry-After" not in refused.headers
    assert AD(ad.server, "other-token").call("/v4/user").status_code == 200    # per token
    per_minute = make_ad(rate_limit_per_minute=2)
    assert [per_minute.call("/v4/user").status_code for _ in range(3)] == [200, 200, 429]
    assert per_minute.call("/v4/user").json()["status"] == "error"


def test_faults_answer_any_envelope_with_headers(ad: AD) -> None:
    ad.admin("POST", "/faults", json={
        "route": "^/v4/user$", "status": 200, "count": 1, "headers": {"X-Test": "yes"},
        "body": {"status": "error", "error": {"code": "MAINTENANCE", "message": "later"}}})
    faulted = ad.call("/v4/user")
    assert faulted.headers["X-Test"] == "yes"
    assert faulted.json()["error"]["code"] == "MAINTENANCE"
    ad.admin("POST", "/faults", json={"route": "^/v4/magnet/delete$", "status": 503,
                                      "html": True, "count": 1})
    html = ad.call("/v4/magnet/delete", data={"id": 1})
    assert html.status_code == 503
    assert html.headers["Content-Type"].startswith("text/html")
    assert ad.call("/v4/user").json()["status"] == "success"
