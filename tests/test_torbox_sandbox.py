"""The sandbox's TorBox dialect over HTTP: envelopes, ids, states, caches, links, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import expected_bytes, magnet, make_torrent, random_hash

TOKEN = "tb-sandbox-token"
OTHER = "tb-other-token"
BASELINE: dict[str, Any] = {
    "download_seconds": 30.0, "queue_seconds": 1.0, "conversion_seconds": 0.0, "max_active": 0,
    "rate_limit_per_minute": 0, "create_limit": 0, "create_window_seconds": 3600.0,
    "link_lifetime_seconds": 86400.0, "exhausted_tokens": [], "tokens": [TOKEN, OTHER],
}


class TB:
    """Raw HTTP against the TorBox dialect, as a client that follows the docs would send it."""

    def __init__(self, server: SandboxServer, token: str = TOKEN) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.token = token

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.server.api_url + path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["success"], body["error"]) == (True, None), body
        assert set(body) == {"success", "error", "detail", "data"}
        return body["data"]

    def add(self, uri: str, **form: str) -> int:
        data = self.ok("POST", "/torrents/createtorrent", data={"magnet": uri, **form})
        assert isinstance(data["torrent_id"], int)
        return int(data["torrent_id"])

    def item(self, torrent_id: int, bypass: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {"id": torrent_id}
        if bypass:
            params["bypass_cache"] = "true"
        data: dict[str, Any] = self.ok("GET", "/torrents/mylist", params=params)
        return data

    def listing(self, bypass: bool = True, **params: Any) -> list[dict[str, Any]]:
        if bypass:
            params["bypass_cache"] = "true"
        data: list[dict[str, Any]] = self.ok("GET", "/torrents/mylist", params=params)
        return data

    def link(self, torrent_id: int, file_id: int = 0, **params: Any) -> requests.Response:
        return self.call("GET", "/torrents/requestdl", params={
            "token": self.token, "torrent_id": torrent_id, "file_id": file_id, **params})

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = requests.request(method, f"{self.server.url}/__admin{path}", timeout=10,
                                    **kwargs)
        assert response.status_code < 400, response.text
        return response

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advance": seconds})

    def configure(self, **options: Any) -> None:
        self.admin("POST", "/config", json=options)


def refused(response: requests.Response, status: int, code: str | None) -> str:
    """TorBox's error envelope, exactly; returns the detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error", "detail", "data"}
    assert body["success"] in (False, None)
    assert body["error"] == code
    assert body["data"] is None
    assert body["detail"]
    return str(body["detail"])


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(SandboxOptions(), dialect="torbox") as running:
        yield running


@pytest.fixture
def tb(server: SandboxServer) -> Iterator[TB]:
    client = TB(server)
    client.admin("POST", "/reset")
    client.configure(**BASELINE)
    yield client
    client.session.close()


def test_cached_magnet_answers_in_the_envelope_with_integer_ids(tb: TB) -> None:
    info_hash = random_hash()
    response = tb.call("POST", "/torrents/createtorrent",
                       data={"magnet": magnet(info_hash, "Show.S01E01.1080p", 4_000_000)})
    body = response.json()
    assert response.status_code == 200
    assert body["detail"] == "Found Cached Torrent. Using Cached Torrent."
    assert body["data"]["hash"] == info_hash
    first = body["data"]["torrent_id"]
    second = tb.add(magnet(random_hash(), "Other.mkv", 10))
    assert isinstance(first, int)
    assert second > first
    item = tb.item(first)
    assert (item["id"], item["hash"], item["name"]) == (first, info_hash, "Show.S01E01.1080p")
    assert (item["download_state"], item["download_finished"], item["download_present"]) == \
        ("cached", True, True)
    assert item["progress"] == 1.0
    assert item["cached"] is True
    assert item["active"] is False
    # file ids start at 0 and names begin with the torrent's root folder
    assert [(f["id"], f["name"], f["short_name"]) for f in item["files"]] == [
        (0, "Show.S01E01.1080p/Show.S01E01.1080p.mkv", "Show.S01E01.1080p.mkv"),
        (1, "Show.S01E01.1080p/Sample/Show.S01E01.1080p.sample.mkv",
         "Show.S01E01.1080p.sample.mkv"),
        (2, "Show.S01E01.1080p/Show.S01E01.1080p.nfo", "Show.S01E01.1080p.nfo")]
    assert item["files"][0]["size"] == 4_000_000
    assert item["created_at"].endswith("Z")


def test_uncached_download_reads_completed_before_it_is_present(tb: TB) -> None:
    torrent_id = tb.add(magnet(random_hash(), "Slow.Movie.2020 [uncached]", 3_000_000))
    queued = tb.item(torrent_id)
    assert (queued["download_state"], queued["active"]) == ("queuedDL", True)
    assert queued["download_finished"] is False
    assert queued["download_present"] is False
    tb.advance(1.5 + 10)                       # past the queue, a third of the download
    downloading = tb.item(torrent_id)
    assert downloading["download_state"] == "downloading"
    assert 0 < downloading["progress"] < 1
    assert downloading["download_speed"] > 0
    assert downloading["seeds"] > 0
    assert downloading["eta"] > 0
    tb.advance(20)                             # the download ended; not in storage yet
    completed = tb.item(torrent_id)
    assert completed["download_state"] == "completed"
    assert (completed["download_finished"], completed["download_present"]) == (True, False)
    refused(tb.link(torrent_id), 400, "DOWNLOAD_SERVER_ERROR")
    tb.advance(3)                              # a tenth of the download later
    done = tb.item(torrent_id)
    assert (done["download_state"], done["download_finished"], done["download_present"]) == \
        ("completed", True, True)
    assert tb.link(torrent_id).status_code == 200


def test_a_magnet_without_metadata_stays_in_metadl_with_no_seeds(tb: TB) -> None:
    torrent_id = tb.add(magnet(random_hash(), "Nobody.Has.It [magnet_error]"))
    tb.advance(3600)
    item = tb.item(torrent_id)
    assert (item["download_state"], item["seeds"], item["files"]) == ("metaDL", 0, [])


def test_add_only_if_cached_refuses_uncached_and_adds_nothing(tb: TB) -> None:
    uri = magnet(random_hash(), "Rare.Film [uncached]")
    detail = refused(tb.call("POST", "/torrents/createtorrent",
                             data={"magnet": uri, "add_only_if_cached": "true"}), 400, None)
    assert "not cached" in detail.lower()
    assert tb.listing() == []
    assert tb.add(magnet(random_hash(), "Common.Film"), add_only_if_cached="true")


def test_a_re_add_is_duplicate_item_until_deleted(tb: TB) -> None:
    info_hash = random_hash()
    torrent_id = tb.add(magnet(info_hash, "Twice.mkv"))
    again = tb.call("POST", "/torrents/createtorrent", data={"magnet": magnet(info_hash, "x")})
    refused(again, 400, "DUPLICATE_ITEM")
    tb.ok("POST", "/torrents/controltorrent", json={"torrent_id": torrent_id,
                                                    "operation": "delete"})
    assert tb.add(magnet(info_hash, "Twice.mkv")) != torrent_id


def test_create_refusals(tb: TB, tmp_path: Path) -> None:
    create = "/torrents/createtorrent"
    refused(tb.call("POST", create, data={}), 400, "MISSING_REQUIRED_OPTION")
    refused(tb.call("POST", create, data={"magnet": "magnet:?xt=urn:btih:nothex"}), 400,
            "BOZO_TORRENT")
    refused(tb.call("POST", create, files={"file": ("x.torrent", b"not bencode")}), 400,
            "BOZO_TORRENT")
    refused(tb.call("POST", create, data={"magnet": magnet(random_hash(), "Bad [infringing]")}),
            400, "BOZO_TORRENT")
    refused(tb.call("POST", create, data={"magnet": magnet(random_hash(), "a"), "seed": "9"}),
            400, "INVALID_OPTION")
    data, _ = make_torrent(tmp_path, "Both", {"a.mkv": 10})
    refused(tb.call("POST", create, data={"magnet": magnet(random_hash(), "a")},
                    files={"file": ("a.torrent", data)}), 400, "TOO_MANY_OPTIONS")
    tb.configure(max_active=1)
    tb.add(magnet(random_hash(), "One [uncached]", 100))
    refused(tb.call("POST", create, data={"magnet": magnet(random_hash(), "Two [uncached]")}),
            400, "ACTIVE_LIMIT")
    assert len(tb.listing()) == 1


def test_torrent_file_upload_is_multipart_file(tb: TB, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "E02.mkv": 2000})
    created = tb.ok("POST", "/torrents/createtorrent",
                    files={"file": ("pack.torrent", data, "application/x-bittorrent")},
                    data={"seed": "3", "allow_zip": "false"})
    assert created["hash"] == info_hash
    item = tb.item(created["torrent_id"])
    assert [(f["name"], f["size"]) for f in item["files"]] == [
        ("Pack.S01/E01.mkv", 1000), ("Pack.S01/E02.mkv", 2000)]


def test_mylist_is_cached_per_token_for_600_seconds_unless_bypassed(tb: TB) -> None:
    first = tb.add(magnet(random_hash(), "First.mkv"))
    other = TB(tb.server, OTHER)
    assert [t["id"] for t in tb.listing(bypass=False)] == [first]   # fills the cache
    assert tb.item(first, bypass=False)["id"] == first
    second = tb.add(magnet(random_hash(), "Second.mkv"))
    tb.ok("POST", "/torrents/controltorrent", json={"torrent_id": first, "operation": "delete"})
    assert [t["id"] for t in tb.listing(bypass=False)] == [first]   # stale: as it was
    assert tb.item(first, bypass=False)["id"] == first              # even the deleted one
    assert [t["id"] for t in other.listing(bypass=False)] == [second]   # each key its own
    assert [t["id"] for t in tb.listing()] == [second]              # bypass_cache: fresh
    refused(tb.call("GET", "/torrents/mylist", params={"id": first, "bypass_cache": "true"}),
            404, "ITEM_NOT_FOUND")
    third = tb.add(magnet(random_hash(), "Third.mkv"))
    assert [t["id"] for t in tb.listing(bypass=False)] == [second]  # the bypass refreshed it
    tb.advance(601)
    assert [t["id"] for t in tb.listing(bypass=False)] == [third, second]
    other.session.close()


def test_mylist_pages_newest_first(tb: TB) -> None:
    ids = [tb.add(magnet(random_hash(), f"Page.{i}.mkv", 10)) for i in range(5)]
    pages = [tb.listing(offset=offset, limit=2) for offset in (0, 2, 4, 6)]
    assert [[t["id"] for t in page] for page in pages] == [
        ids[::-1][:2], ids[::-1][2:4], ids[::-1][4:], []]
    refused(tb.call("GET", "/torrents/mylist", params={"offset": "x"}), 400, "INVALID_OPTION")


def test_requestdl_takes_the_key_in_the_query_and_opens_for_an_hour(tb: TB) -> None:
    info_hash = random_hash()
    torrent_id = tb.add(magnet(info_hash, "Linked.Movie", 2_000_000))
    response = tb.link(torrent_id, 0)
    body = response.json()
    assert response.status_code == 200
    assert body["success"] is True
    url = body["data"]
    assert isinstance(url, str)
    assert "/cdn/" in url
    got = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=10)
    assert got.status_code == 206
    assert got.content == expected_bytes(info_hash, 1, 100, 100)
    redirect = tb.link(torrent_id, 0, redirect="true")
    assert redirect.status_code == 302
    assert "/cdn/" in redirect.headers["Location"]
    # the bearer header alone is not enough here: requestdl reads `token`
    bare = tb.call("GET", "/torrents/requestdl", params={"torrent_id": torrent_id,
                                                         "file_id": 0})
    refused(bare, 403, "NO_AUTH")
    tb.advance(3601)
    assert requests.get(url, timeout=10).status_code == 403         # expired
    assert tb.link(torrent_id, 0).status_code == 200                # a new one works


def test_requestdl_refusals(tb: TB) -> None:
    torrent_id = tb.add(magnet(random_hash(), "Gone.Soon.mkv", 100))
    refused(tb.link(torrent_id, 7), 404, "ITEM_NOT_FOUND")
    refused(tb.link(torrent_id, 0, zip_link="true"), 400, "INVALID_OPTION")
    refused(tb.call("GET", "/torrents/requestdl", params={"token": TOKEN}), 400,
            "MISSING_REQUIRED_OPTION")
    tb.configure(exhausted_tokens=[TOKEN])
    refused(tb.link(torrent_id, 0), 400, "MONTHLY_LIMIT")
    tb.configure(exhausted_tokens=[])
    dead = tb.add(magnet(random_hash(), "Purged.mkv", 100))
    sandbox_id = next(t["id"] for t in tb.admin("GET", "/torrents").json()
                      if t["filename"] == "Purged.mkv")
    tb.admin("POST", f"/torrents/{sandbox_id}", json={"dead": True})
    assert tb.item(dead)["download_state"] == "expired"
    assert tb.item(dead)["download_present"] is False
    refused(tb.link(dead, 0), 400, "LINK_OFFLINE")
    tb.ok("DELETE", f"/torrents/controltorrent/{torrent_id}")
    refused(tb.link(torrent_id, 0), 404, "ITEM_NOT_FOUND")


def test_controltorrent(tb: TB) -> None:
    keep = tb.add(magnet(random_hash(), "Keep.mkv"))
    drop = tb.add(magnet(random_hash(), "Drop.mkv"))
    control = "/torrents/controltorrent"
    refused(tb.call("POST", control, json={"torrent_id": drop, "operation": "Delete"}), 400,
            "INVALID_OPTION")                  # operations are lowercase
    refused(tb.call("POST", control, json={"torrent_id": drop}), 400, "MISSING_REQUIRED_OPTION")
    refused(tb.call("POST", control, json={"operation": "delete"}), 400,
            "MISSING_REQUIRED_OPTION")
    tb.ok("POST", control, json={"torrent_id": keep, "operation": "reannounce"})
    tb.ok("POST", control, json={"torrent_id": drop, "operation": "delete"})
    refused(tb.call("POST", control, json={"torrent_id": drop, "operation": "delete"}), 404,
            "ITEM_NOT_FOUND")
    refused(tb.call("DELETE", f"{control}/{drop}"), 404, "ITEM_NOT_FOUND")
    assert [t["id"] for t in tb.listing()] == [keep]
    tb.ok("POST", control, json={"operation": "delete", "all": True})
    assert tb.listing() == []


def test_checkcached_answers_only_cached_hashes(tb: TB) -> None:
    cached, uncached, unknown = random_hash(), random_hash(), random_hash()
    tb.admin("POST", "/seed", json=[
        {"hash": cached, "name": "Seeded.Pack", "files": [{"path": "a.mkv", "bytes": 5}]},
        {"hash": uncached, "name": "Rare", "cached": False}])
    both = f"{cached.upper()},{uncached}"
    data = tb.ok("GET", "/torrents/checkcached", params={"hash": [both, unknown]})
    assert data == {cached: {"name": "Seeded.Pack", "size": 5, "hash": cached}}
    listed = tb.ok("GET", "/torrents/checkcached",
                   params={"hash": cached, "format": "list", "list_files": "true"})
    assert listed == [{"name": "Seeded.Pack", "size": 5, "hash": cached,
                       "files": [{"name": "Seeded.Pack/a.mkv", "size": 5}]}]
    posted = tb.ok("POST", "/torrents/checkcached", json={"hashes": [cached, unknown]})
    assert list(posted) == [cached]
    assert tb.ok("GET", "/torrents/checkcached", params={"hash": unknown}) == {}
    # what the account finished downloading is cached too
    done = random_hash()
    tb.add(magnet(done, "Fetched.mkv", 10))
    assert list(tb.ok("GET", "/torrents/checkcached", params={"hash": done})) == [done]
    many = ",".join(random_hash() for _ in range(101))
    refused(tb.call("GET", "/torrents/checkcached", params={"hash": many}), 400,
            "TOO_MANY_OPTIONS")
    refused(tb.call("GET", "/torrents/checkcached"), 400, "MISSING_REQUIRED_OPTION")


def test_auth_answers_no_auth_and_bad_token(tb: TB) -> None:
    url = tb.server.api_url + "/user/me"
    refused(requests.get(url, timeout=10), 403, "NO_AUTH")
    refused(requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10), 403,
            "BAD_TOKEN")
    refused(tb.call("GET", "/torrents/requestdl", params={"token": "nope", "torrent_id": 1,
                                                          "file_id": 0}), 403, "BAD_TOKEN")


def test_unknown_endpoints_and_methods(tb: TB) -> None:
    refused(tb.call("GET", "/torrents/instantAvailability"), 404, "ENDPOINT_NOT_FOUND")
    refused(tb.call("GET", "/torrents/createtorrent"), 405, "ENDPOINT_NOT_FOUND")


def test_user_me(tb: TB) -> None:
    me = tb.ok("GET", "/user/me", params={"settings": "true"})
    assert me["plan"] == 2
    assert me["is_subscribed"] is True
    assert "settings" in me
    assert me["premium_expires_at"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert me["email"]
    assert "cooldown_until" in me
    assert "settings" not in tb.ok("GET", "/user/me")


def test_general_limit_answers_429_with_retry_after_and_headers(tb: TB) -> None:
    tb.configure(rate_limit_per_minute=3)
    answers = [tb.call("GET", "/user/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
    limited = answers[3]
    assert refused(limited, 429, None) == "3 per 1 minute"
    assert limited.json()["success"] is None
    assert int(limited.headers["Retry-After"]) >= 1
    # the limit is per token
    other = TB(tb.server, OTHER)
    assert other.call("GET", "/user/me").status_code == 200
    other.session.close()


def test_create_limit_is_per_token_in_a_moving_window(tb: TB) -> None:
    """TorBox's 60 creates an hour, scaled down: 3 in a 600 s window of the sandbox clock."""
    tb.configure(create_limit=3, create_window_seconds=600)
    remaining = []
    for i in range(3):
        response = tb.call("POST", "/torrents/createtorrent",
                           data={"magnet": magnet(random_hash(), f"C{i}.mkv")})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        remaining.append(response.headers["x-ratelimit-remaining"])
        tb.advance(100)
    assert remaining == ["2", "1", "0"]
    refused_add = tb.call("POST", "/torrents/createtorrent",
                          data={"magnet": magnet(random_hash(), "Fourth.mkv")})
    assert refused(refused_add, 429, None) == "3 per 10 minute"
    wait = int(refused_add.headers["Retry-After"])
    assert 295 <= wait <= 301                          # when the first one leaves the window
    assert refused_add.headers["x-ratelimit-remaining"] == "0"
    assert len(tb.listing()) == 3
    assert tb.call("GET", "/user/me").status_code == 200            # other calls go on
    other = TB(tb.server, OTHER)
    assert other.add(magnet(random_hash(), "Theirs.mkv"))           # per token
    other.session.close()
    tb.advance(wait)
    assert tb.add(magnet(random_hash(), "Fifth.mkv"))
    refused(tb.call("POST", "/torrents/createtorrent",
                    data={"magnet": magnet(random_hash(), "Sixth.mkv")}), 429, None)


def test_reset_forgets_the_list_cache_and_the_create_counts(tb: TB) -> None:
    tb.configure(create_limit=1)
    tb.add(magnet(random_hash(), "Before.mkv"))
    assert len(tb.listing(bypass=False)) == 1
    tb.admin("POST", "/reset")
    assert tb.listing(bypass=False) == []
    assert tb.add(magnet(random_hash(), "After.mkv"))


def test_fault_rules_can_answer_a_provider_envelope_with_headers(tb: TB) -> None:
    body = {"success": False, "error": "DATABASE_ERROR", "detail": "db down", "data": None}
    tb.admin("POST", "/faults", json={"route": "/user/me$", "status": 500, "body": body,
                                      "headers": {"Retry-After": "7"}, "count": 1})
    response = tb.call("GET", "/user/me")
    assert (response.status_code, response.json(), response.headers["Retry-After"]) == \
        (500, body, "7")
    assert tb.call("GET", "/user/me").status_code == 200
