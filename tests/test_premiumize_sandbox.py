"""The sandbox's Premiumize dialect over raw HTTP: its envelope, auth, the transfer state
machine on the admin clock, the cloud folder tree, cache check, direct downloads, limits."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from debrid.sandbox import SandboxOptions, SandboxServer
from tests.helpers import expected_bytes, magnet, make_torrent, random_hash

KEY = "pm-sandbox-key"


class PM:
    """Raw calls to one sandbox's /api with the key as a Bearer header."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {KEY}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.server.api_url}{path}", **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] == "success", body
        return body

    def refused(self, method: str, path: str, **kwargs: Any) -> str:
        """The message of an HTTP 200 `status: error` answer."""
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"status", "message"}, body
        assert body["status"] == "error"
        return str(body["message"])

    def admin(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.server.url}/__admin{path}", timeout=10,
                                **kwargs)

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/clock", json={"advance": seconds}).raise_for_status()

    def configure(self, **options: Any) -> None:
        self.admin("POST", "/config", json=options).raise_for_status()

    def create(self, uri: str) -> str:
        return str(self.ok("POST", "/transfer/create", data={"src": uri})["id"])

    def transfer(self, transfer_id: str) -> dict[str, Any]:
        transfers = self.ok("GET", "/transfer/list")["transfers"]
        return next(t for t in transfers if t["id"] == transfer_id)


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    options = SandboxOptions(download_seconds=1.0, queue_seconds=0.2, tokens=(KEY,))
    with SandboxServer(options, dialect="premiumize") as running:
        yield running


@pytest.fixture
def pm(server: SandboxServer) -> Iterator[PM]:
    client = PM(server)
    client.admin("POST", "/reset").raise_for_status()
    client.configure(max_active=0, exhausted_tokens=[], conversion_seconds=0,
                     download_seconds=1, rate_limit_per_minute=0)
    yield client
    client.session.close()


def test_credentials_bearer_or_legacy_apikey(pm: PM) -> None:
    api = pm.server.api_url
    assert requests.get(f"{api}/account/info", timeout=5).json() == {
        "status": "error", "message": "Not logged in."}           # HTTP 200, like the rest
    wrong = requests.get(f"{api}/account/info", timeout=5,
                         headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["message"]) == (200, "Not logged in.")
    assert requests.get(f"{api}/account/info", params={"apikey": KEY},
                        timeout=5).json()["status"] == "success"
    created = requests.post(f"{api}/transfer/create", timeout=5,
                            data={"apikey": KEY, "src": magnet(random_hash(), "Form.Key")})
    assert created.json()["status"] == "success"


def test_unknown_routes_and_methods_answer_the_envelope(pm: PM) -> None:
    missing = pm.call("GET", "/torrents/instantAvailability")
    assert (missing.status_code, missing.json()["status"]) == (404, "error")
    wrong_method = pm.call("GET", "/transfer/create")
    assert (wrong_method.status_code, wrong_method.json()["status"]) == (405, "error")
    assert "POST" in wrong_method.headers["Allow"]


def test_create_answers_and_refusals(pm: PM, tmp_path: Path) -> None:
    uri = magnet(random_hash(), "Created.Show.S01", 1000)
    body = pm.ok("POST", "/transfer/create", data={"src": uri})
    assert set(body) == {"status", "id", "name", "type"}
    assert (body["name"], body["type"]) == ("Created.Show.S01", "torrent")
    assert pm.refused("POST", "/transfer/create", data={"src": uri}) == \
        "You already added this job."
    assert pm.refused("POST", "/transfer/create", data={}) == "no src found"
    assert pm.refused("POST", "/transfer/create", data={"src": "magnet:?xt=urn:btih:nothex"}) \
        == "Src not compatible."
    assert pm.refused("POST", "/transfer/create",
                      data={"src": "https://example.invalid/file"}) == "Src not compatible."
    for field in ("file", "src"):           # clients name the upload either way
        data, info_hash = make_torrent(tmp_path, f"Upload.{field}", {"a.mkv": 10, "b.mkv": 20})
        created = pm.ok("POST", "/transfer/create",
                        files={field: ("x.torrent", io.BytesIO(data))})
        assert created["name"] == f"Upload.{field}"
        assert info_hash in pm.transfer(created["id"])["src"]
    assert pm.refused("POST", "/transfer/create",
                      files={"file": ("x.torrent", io.BytesIO(b"junk"))}) == "Src not compatible."


def test_transfer_state_machine_and_folder_gap(pm: PM) -> None:
    pm.configure(conversion_seconds=5, download_seconds=10)
    info_hash = random_hash()
    transfer_id = pm.create(magnet(info_hash, "Machine.Show.S01E01 [uncached]", 10**9))
    waiting = pm.transfer(transfer_id)
    assert list(waiting) == ["id", "name", "status", "progress", "message", "src",
                             "folder_id", "file_id", "created_at"]
    assert (waiting["status"], waiting["progress"], waiting["folder_id"]) == ("waiting", 0, None)
    assert info_hash in waiting["src"]
    pm.advance(5)
    assert pm.transfer(transfer_id)["status"] == "queued"
    pm.advance(1)
    running = pm.transfer(transfer_id)
    assert running["status"] == "running"
    assert 0 < running["progress"] < 1
    assert running["message"].startswith("Downloading at ")
    assert " peers. " in running["message"]
    assert (running["folder_id"], running["file_id"]) == (None, None)
    pm.advance(10)
    finished = pm.transfer(transfer_id)
    assert (finished["status"], finished["progress"]) == ("finished", 1)
    folder = finished["folder_id"]
    assert folder
    assert finished["file_id"] is None
    assert pm.ok("GET", "/folder/list", params={"id": folder})["content"] == []   # the gap
    pm.advance(1)
    listing = pm.ok("GET", "/folder/list", params={"id": folder})
    assert listing["name"] == "Machine.Show.S01E01 [uncached]"
    names = [(i["name"], i["type"]) for i in listing["content"]]
    assert names == [("Machine.Show.S01E01 [uncached].mkv", "file"), ("Sample", "folder"),
                     ("Machine.Show.S01E01 [uncached].nfo", "file")]
    sample = listing["content"][1]
    inner = pm.ok("GET", "/folder/list", params={"id": sample["id"]})
    assert inner["parent_id"] == folder
    assert [i["name"] for i in inner["content"]] == ["Machine.Show.S01E01 [uncached].sample.mkv"]
    main = listing["content"][0]
    assert main["size"] == 10**9
    assert main["link"].startswith(pm.server.url + "/cdn/")
    chunk = requests.get(main["link"], headers={"Range": "bytes=0-1023"}, timeout=5)
    assert chunk.status_code == 206
    assert chunk.content == expected_bytes(info_hash, 1, 0, 1024)
    details = pm.ok("GET", "/item/details", params={"id": main["id"]})
    assert (details["name"], details["link"], details["folder_id"]) == (
        main["name"], main["link"], folder)                 # the live link is reused


def test_single_file_transfer_is_a_file_item(pm: PM) -> None:
    transfer_id = pm.create(magnet(random_hash(), "Lone.Movie.2021.mkv", 777))
    finished = pm.transfer(transfer_id)
    assert finished["folder_id"] is None
    assert finished["file_id"]
    early = pm.ok("GET", "/item/details", params={"id": finished["file_id"]})
    assert early["link"] is None                           # finished, not linked yet
    pm.advance(1)
    item = pm.ok("GET", "/item/details", params={"id": finished["file_id"]})
    assert (item["name"], item["size"], item["folder_id"]) == ("Lone.Movie.2021.mkv", 777, None)
    assert requests.get(item["link"], timeout=5).content[:8] == bytes(8)   # block 0
    root = pm.ok("GET", "/folder/list")["content"]
    assert [(i["id"], i["type"]) for i in root] == [(finished["file_id"], "file")]


def test_slots_full_banned_and_failures(pm: PM) -> None:
    pm.configure(max_active=1, download_seconds=30)
    pm.create(magnet(random_hash(), "First [uncached]", 100))
    assert pm.refused("POST", "/transfer/create", data={
        "src": magnet(random_hash(), "Second [uncached]", 100)}) == \
        "You already have a maximum of 1 active downloads in progress!"
    pm.configure(max_active=0)
    banned_id = pm.create(magnet(random_hash(), "Pirated [infringing]"))
    pm.advance(60)
    banned = pm.transfer(banned_id)
    assert (banned["status"], banned["progress"], banned["folder_id"]) == ("banned", 0, None)
    assert banned["message"]
    broken = pm.transfer(pm.create(magnet(random_hash(), "Broken [magnet_error]")))
    assert (broken["status"], broken["message"] is not None) == ("error", True)


def test_dead_and_deleted_transfers_lose_their_files(pm: PM) -> None:
    dead_id = pm.create(magnet(random_hash(), "Dies.Later.Pack", 100))
    pm.advance(1)
    folder = pm.transfer(dead_id)["folder_id"]
    item = pm.ok("GET", "/folder/list", params={"id": folder})["content"][0]
    pm.admin("POST", f"/torrents/{dead_id}", json={"dead": True}).raise_for_status()
    assert pm.transfer(dead_id)["status"] == "deleted"
    assert pm.refused("GET", "/folder/list", params={"id": folder}) == "Item not found."
    assert pm.refused("GET", "/item/details", params={"id": item["id"]}) == "Item not found."
    kept_id = pm.create(magnet(random_hash(), "Deleted.By.User.mkv", 100))
    pm.advance(1)
    link = pm.ok("GET", "/item/details", params={"id": pm.transfer(kept_id)["file_id"]})["link"]
    assert pm.ok("POST", "/transfer/delete", data={"id": kept_id}) == {"status": "success"}
    assert all(t["id"] != kept_id for t in pm.ok("GET", "/transfer/list")["transfers"])
    assert requests.get(link, timeout=5).status_code == 404
    assert pm.refused("POST", "/transfer/delete", data={"id": kept_id}) == "Transfer not found."


def test_transfer_list_is_newest_first_and_clearfinished(pm: PM) -> None:
    pm.configure(download_seconds=30)
    done = pm.create(magnet(random_hash(), "Done.mkv", 10))
    pending = pm.create(magnet(random_hash(), "Pending [uncached]", 10))
    listed = pm.ok("POST", "/transfer/list")["transfers"]        # POST, as some clients do
    assert [t["id"] for t in listed] == [pending, done]
    assert pm.ok("POST", "/transfer/clearfinished") == {"status": "success"}
    assert [t["id"] for t in pm.ok("GET", "/transfer/list")["transfers"]] == [pending]


def test_cache_check_parallel_arrays_in_input_order(pm: PM) -> None:
    cached, rare = random_hash(), random_hash()
    pm.admin("POST", "/seed", json={"hash": rare, "name": "Rare", "cached": False})
    items = [cached, magnet(random_hash(), "Named [uncached]"), rare, "not-a-hash",
             magnet(random_hash(), "Named.Movie.mkv", 1234)]
    for method in ("GET", "POST"):
        kwargs = {"params": {"items[]": items}} if method == "GET" else \
            {"data": {"items[]": items}}
        body = pm.ok(method, "/cache/check", **kwargs)
        assert body["response"] == [True, False, False, False, True]
        assert body["transcoded"] == [False] * 5
        assert body["filename"][1:4] == [None, None, None]
        assert body["filename"][4] == "Named.Movie.mkv"
        assert body["filesize"][4] == "1234"
    assert pm.ok("GET", "/transfer/list")["transfers"] == []     # a check adds nothing


def test_directdl_serves_cached_content_without_a_transfer(pm: PM) -> None:
    info_hash = random_hash()
    body = pm.ok("POST", "/transfer/directdl",
                 data={"src": magnet(info_hash, "Instant.Pack", 2048)})
    paths = [c["path"] for c in body["content"]]
    assert paths == ["Instant.Pack/Instant.Pack.mkv", "Instant.Pack/Sample/Instant.Pack.sample.mkv",
                     "Instant.Pack/Instant.Pack.nfo"]
    assert body["location"] == body["content"][0]["link"]
    assert body["filesize"] == sum(c["size"] for c in body["content"])
    data = requests.get(body["content"][0]["link"], timeout=5).content
    assert data == expected_bytes(info_hash, 1, 0, 2048)
    assert pm.ok("GET", "/transfer/list")["transfers"] == []
    assert pm.refused("POST", "/transfer/directdl",
                      data={"src": magnet(random_hash(), "Cold [uncached]")}) == \
        "Content not in cache."


def test_fair_use_exhausted_account(pm: PM) -> None:
    pm.configure(exhausted_tokens=[KEY])
    uri = magnet(random_hash(), "Costly.mkv")
    assert pm.refused("POST", "/transfer/create", data={"src": uri}) == \
        "Fair use limit reached!"
    assert pm.refused("POST", "/transfer/directdl", data={"src": uri}) == \
        "Fair use limit reached!"
    assert pm.ok("GET", "/account/info")["limit_used"] == 1.0
    assert pm.ok("GET", "/cache/check", params={"items[]": uri})["response"] == [True]


def test_account_info_fields(pm: PM) -> None:
    body = pm.ok("GET", "/account/info")
    assert set(body) == {"status", "customer_id", "premium_until", "limit_used", "space_used",
                         "booster_points"}
    clock = pm.admin("GET", "/clock").json()["timestamp"]
    assert body["premium_until"] > clock + 300 * 86400


def test_rate_limit_answers_429_with_retry_after(pm: PM) -> None:
    pm.configure(rate_limit_per_minute=3)
    assert [pm.call("GET", "/account/info").status_code for _ in range(3)] == [200] * 3
    limited = pm.call("GET", "/account/info")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "20"
    assert limited.json()["status"] == "error"


def test_expired_links_are_replaced_by_item_details(pm: PM) -> None:
    pm.configure(link_lifetime_seconds=100)
    transfer_id = pm.create(magnet(random_hash(), "Short.Lived.mkv", 10))
    pm.advance(1)
    file_id = pm.transfer(transfer_id)["file_id"]
    first = pm.ok("GET", "/item/details", params={"id": file_id})["link"]
    pm.advance(101)
    assert requests.get(first, timeout=5).status_code == 403
    second = pm.ok("GET", "/item/details", params={"id": file_id})["link"]
    assert second != first
    assert requests.get(second, timeout=5).status_code == 200
    pm.configure(link_lifetime_seconds=86400)


def test_fault_rules_carry_any_envelope_and_headers(pm: PM) -> None:
    rule = pm.admin("POST", "/faults", json={
        "route": "^/api/account/info$", "status": 200, "count": 1,
        "body": {"status": "error", "message": "Account not premium."},
        "headers": {"X-Test": "yes"}}).json()
    assert rule["body"]["message"] == "Account not premium."
    faulted = pm.call("GET", "/account/info")
    assert faulted.json() == {"status": "error", "message": "Account not premium."}
    assert faulted.headers["X-Test"] == "yes"
    assert pm.ok("GET", "/account/info")["customer_id"]
    bad = pm.admin("POST", "/faults", json={"route": "x", "headers": {"A": 1}})
    assert bad.status_code == 400
