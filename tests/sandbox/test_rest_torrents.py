"""The /rest/1.0 torrent routes: auth, envelopes, add, select, info, list, delete, slots."""

from __future__ import annotations

import base64
import re

import pytest
import requests

from .conftest import MIB, RD, assert_error, infohash_of, magnet

JS_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
INFO_KEYS = [
    "id", "filename", "original_filename", "hash", "bytes", "original_bytes", "host", "split",
    "progress", "status", "added", "files", "links",
]  # fmt: skip


def test_time_needs_no_token(rd: RD) -> None:
    response = requests.get(rd.server.api_url + "/time", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", response.text)
    iso = requests.get(rd.server.api_url + "/time/iso", timeout=5)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000", iso.text)


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz"])
def test_missing_token_is_bad_token(rd: RD, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = requests.get(rd.server.api_url + "/user", headers=headers, timeout=5)
    assert_error(response, 401, "bad_token", 8)


def test_only_configured_tokens_are_accepted(make_rd) -> None:
    rd = make_rd(tokens=("good-token",))
    assert_error(rd.get("/user"), 401, "bad_token", 8)
    assert rd.get("/user", headers={"Authorization": "Bearer good-token"}).status_code == 200
    # Real-Debrid also takes the token as the auth_token query parameter.
    url = rd.server.api_url + "/user?auth_token=good-token"
    assert requests.get(url, timeout=5).status_code == 200


def test_unknown_route_and_wrong_method(rd: RD) -> None:
    assert_error(rd.get("/no/such/route"), 404, "unknown_method", 3)
    assert_error(rd.get("/torrents/addMagnet"), 405, "method_not_allowed", 4)
    assert_error(rd.post("/torrents/info/ABC"), 405, "method_not_allowed", 4)


def test_user(rd: RD) -> None:
    user = rd.get("/user").json()
    assert user["username"] == "sandbox"
    assert user["type"] == "premium"
    assert user["premium"] > 300 * 86400
    assert JS_DATE.fullmatch(user["expiration"])
    assert {"id", "email", "points", "locale", "avatar"} <= set(user)


def test_add_magnet_answers_201_with_id_and_uri(rd: RD) -> None:
    response = rd.post("/torrents/addMagnet", data={"magnet": magnet("Some.Show.S01")})
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[A-Z0-9]{13}", body["id"])
    assert body["uri"] == f"{rd.server.api_url}/torrents/info/{body['id']}"


def test_add_magnet_without_magnet_is_parameter_missing(rd: RD) -> None:
    assert_error(rd.post("/torrents/addMagnet"), 400, "parameter_missing", 1)
    assert_error(rd.post("/torrents/addMagnet", data={"magnet": ""}), 400, "parameter_missing", 1)


@pytest.mark.parametrize(
    "uri",
    [
        "not a magnet",
        "magnet:?dn=no-topic",
        "magnet:?xt=urn:btih:1234",
        "magnet:?xt=urn:btih:" + "g" * 40,
        f"magnet:?xt=urn:btih:{'a' * 40}&xl=big",
        f"magnet:?xt=urn:btih:{'a' * 40}&xl={10**30}",
    ],
)
def test_invalid_magnet_is_bad_value(rd: RD, uri: str) -> None:
    assert_error(
        rd.post("/torrents/addMagnet", data={"magnet": uri}), 400, "parameter_bad_value", 2
    )


def test_same_hash_twice_makes_two_torrents(rd: RD) -> None:
    first = rd.add_magnet(magnet("Twice"))
    second = rd.add_magnet(magnet("Twice"))
    assert first != second
    assert rd.info(first)["hash"] == rd.info(second)["hash"]


def test_base32_magnet_is_converted_to_hex(rd: RD) -> None:
    infohash = infohash_of("base32")
    b32 = base64.b32encode(bytes.fromhex(infohash)).decode()
    torrent_id = rd.add_magnet(f"magnet:?xt=urn:btih:{b32}&dn=Base32.Movie.mkv")
    info = rd.info(torrent_id)
    assert info["hash"] == infohash
    assert info["filename"] == "Base32.Movie.mkv"


def test_info_before_selection(rd: RD) -> None:
    infohash = infohash_of("Folder.Release")
    info = rd.info(rd.add_magnet(magnet("Folder.Release", infohash)))
    assert list(info) == INFO_KEYS  # no ended, speed or seeders yet
    main = 100 * MIB + int(infohash[0:8], 16) % (1900 * MIB)
    sample = 5 * MIB + int(infohash[8:12], 16) % (20 * MIB)
    nfo = 1024 + int(infohash[12:16], 16) % 4096
    assert info["files"] == [
        {"id": 1, "path": "/Folder.Release.mkv", "bytes": main, "selected": 0},
        {"id": 2, "path": "/Sample/Folder.Release.sample.mkv", "bytes": sample, "selected": 0},
        {"id": 3, "path": "/Folder.Release.nfo", "bytes": nfo, "selected": 0},
    ]
    assert info["bytes"] == info["original_bytes"] == main + sample + nfo
    assert info["filename"] == info["original_filename"] == "Folder.Release"
    assert (info["status"], info["progress"], info["links"]) == ("waiting_files_selection", 0, [])
    assert (info["host"], info["split"]) == ("real-debrid.com", 2000)
    assert info["hash"] == infohash
    assert JS_DATE.fullmatch(info["added"])


def test_magnet_without_name_gets_a_sandbox_name(rd: RD) -> None:
    infohash = infohash_of("anonymous")
    info = rd.info(rd.add_magnet(f"magnet:?xt=urn:btih:{infohash.upper()}"))
    assert info["filename"] == f"sandbox-{infohash[:12]}"
    assert info["hash"] == infohash


@pytest.mark.parametrize("name", ["Movie.2024.1080p.mkv", "Clip.MP4", "Old.avi", "Stream.m2ts"])
def test_video_name_is_a_single_file(rd: RD, name: str) -> None:
    info = rd.info(rd.add_magnet(magnet(name)))
    assert [f["path"] for f in info["files"]] == [f"/{name}"]


def test_xl_sets_the_main_file_size(rd: RD) -> None:
    single = rd.info(rd.add_magnet(magnet("Exact.mkv", xl=123_456_789)))
    assert single["files"][0]["bytes"] == 123_456_789
    folder = rd.info(rd.add_magnet(magnet("Exact.Folder", xl=5_000)))
    assert folder["files"][0]["bytes"] == 5_000
    assert folder["files"][0]["path"] == "/Exact.Folder.mkv"


def test_select_files_204_then_202(rd: RD) -> None:
    torrent_id = rd.add_magnet(magnet("Select.Twice"))
    rd.select(torrent_id)
    again = rd.post(f"/torrents/selectFiles/{torrent_id}", data={"files": "all"})
    assert again.status_code == 202
    assert again.content == b""


def test_select_some_files(rd: RD) -> None:
    torrent_id = rd.add_magnet(magnet("Partial.Select"))
    rd.select(torrent_id, "3,1")
    info = rd.info(torrent_id)
    files = info["files"]
    assert [f["selected"] for f in files] == [1, 0, 1]
    assert info["bytes"] == files[0]["bytes"] + files[2]["bytes"]
    assert info["original_bytes"] == sum(f["bytes"] for f in files)
    assert len(info["links"]) == 2
    assert all(
        re.fullmatch(re.escape(rd.server.url) + r"/d/[A-Z0-9]{13}", x) for x in info["links"]
    )
    assert info["links"] == rd.info(torrent_id)["links"]  # stable


def test_select_files_errors(make_rd) -> None:
    rd = make_rd(conversion_seconds=30)
    assert_error(
        rd.post("/torrents/selectFiles/NOSUCHTORRENT", data={"files": "all"}),
        404, "unknown_ressource", 7,
    )  # fmt: skip
    converting = rd.add_magnet(magnet("Still.Converting"))
    assert rd.info(converting)["status"] == "magnet_conversion"
    path = f"/torrents/selectFiles/{converting}"
    assert_error(rd.post(path), 400, "parameter_missing", 1)
    assert_error(rd.post(path, data={"files": "all"}), 400, "parameter_bad_value", 2)
    rd.advance(31)
    assert_error(rd.post(path, data={"files": "1,9"}), 404, "unknown_ressource", 7)
    assert_error(rd.post(path, data={"files": "one"}), 400, "parameter_bad_value", 2)
    assert rd.info(converting)["status"] == "waiting_files_selection"  # nothing changed
    rd.select(converting, "2")


def test_delete(rd: RD) -> None:
    torrent_id = rd.add_magnet(magnet("Delete.Me"))
    response = rd.delete(f"/torrents/delete/{torrent_id}")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(rd.get(f"/torrents/info/{torrent_id}"), 404, "unknown_ressource", 7)
    assert_error(rd.delete(f"/torrents/delete/{torrent_id}"), 404, "unknown_ressource", 7)
    assert_error(rd.delete("/torrents/delete/NOPE"), 404, "unknown_ressource", 7)


def test_list_paging_and_total(rd: RD) -> None:
    ids = [rd.add_magnet(magnet(f"List.Item.{n}")) for n in range(5)]
    rd.select(ids[0])
    newest_first = list(reversed(ids))
    response = rd.get("/torrents")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    items = response.json()
    assert [item["id"] for item in items] == newest_first
    assert not {"files", "original_filename", "original_bytes"} & set(items[0])
    assert {"id", "filename", "hash", "bytes", "host", "split", "progress", "status", "added",
            "links"} <= set(items[0])  # fmt: skip
    assert items[-1]["status"] == "downloaded"
    assert "ended" in items[-1]
    assert len(items[-1]["links"]) == 3

    by_offset = rd.get("/torrents", params={"offset": 2, "limit": 2})
    assert [item["id"] for item in by_offset.json()] == newest_first[2:4]
    assert by_offset.headers["X-Total-Count"] == "5"
    by_page = rd.get("/torrents", params={"page": 3, "limit": 2})
    assert [item["id"] for item in by_page.json()] == newest_first[4:]

    for far in ({"offset": 10**30}, {"page": 10**30}):
        assert rd.get("/torrents", params=far).status_code == 204
    empty = rd.get("/torrents", params={"page": 4, "limit": 2})
    assert empty.status_code == 204
    assert empty.content == b""
    assert empty.headers["X-Total-Count"] == "5"

    for params in ({"limit": 5001}, {"limit": -1}, {"offset": -3}, {"page": 0}, {"limit": "x"}):
        assert_error(rd.get("/torrents", params=params), 400, "parameter_bad_value", 2)
    assert rd.get("/torrents", params={"limit": 5000}).status_code == 200


def test_list_filter_active(rd: RD) -> None:
    done = rd.downloaded(magnet("Filter.Done"))
    waiting = rd.add_magnet(magnet("Filter.Waiting"))
    uncached = rd.add_magnet(magnet("Filter.Slow [uncached]"))
    rd.select(uncached)
    response = rd.get("/torrents", params={"filter": "active"})
    assert {item["id"] for item in response.json()} == {waiting, uncached}
    assert response.headers["X-Total-Count"] == "2"
    assert done["id"] in {item["id"] for item in rd.get("/torrents").json()}


def test_empty_account_lists_204(rd: RD) -> None:
    response = rd.get("/torrents")
    assert response.status_code == 204
    assert response.headers["X-Total-Count"] == "0"


def test_infringing_is_451_and_creates_nothing(rd: RD) -> None:
    response = rd.post("/torrents/addMagnet", data={"magnet": magnet("Bad.Movie [infringing]")})
    assert_error(response, 451, "infringing_file", 35)
    assert rd.get("/torrents").status_code == 204


def test_active_count(make_rd) -> None:
    rd = make_rd(download_seconds=60)
    assert rd.get("/torrents/activeCount").json() == {"nb": 0, "limit": 50}
    rd.downloaded(magnet("Cached.Not.Active"))
    slow = rd.add_magnet(magnet("Uncached.Active [uncached]"))
    rd.select(slow)
    assert rd.get("/torrents/activeCount").json() == {"nb": 1, "limit": 50}
    rd.advance(61)
    assert rd.get("/torrents/activeCount").json()["nb"] == 0


def test_slots_full_is_509_and_changes_nothing(make_rd) -> None:
    rd = make_rd(max_active=1, download_seconds=60)
    first = rd.add_magnet(magnet("Slot.One [uncached]"))
    second = rd.add_magnet(magnet("Slot.Two [uncached]"))
    cached = rd.add_magnet(magnet("Slot.Cached"))
    rd.select(first)
    assert rd.get("/torrents/activeCount").json() == {"nb": 1, "limit": 1}

    full = rd.post("/torrents/addMagnet", data={"magnet": magnet("Slot.Three")})
    assert_error(full, 509, "too_many_active_downloads", 21)
    select = rd.post(f"/torrents/selectFiles/{second}", data={"files": "all"})
    assert_error(select, 509, "too_many_active_downloads", 21)
    assert rd.info(second)["status"] == "waiting_files_selection"
    assert rd.get("/torrents").headers["X-Total-Count"] == "3"
    rd.select(cached)  # cached torrents need no slot

    rd.advance(61)
    rd.select(second)
    assert rd.info(second)["status"] == "queued"


def test_instant_availability_is_disabled(rd: RD) -> None:
    for path in (
        "/torrents/instantAvailability/" + infohash_of("x"),
        "/torrents/instantAvailability/a/b",
    ):
        assert_error(rd.get(path), 403, "disabled_endpoint", 37)


def test_listing_fifty_thousand_torrents_pages_in_sql(rd: RD) -> None:
    created = rd.admin("POST", "/torrents", json={"count": 50_000, "name": "Scale"})
    assert created.status_code == 201, created.text
    last_page = rd.get("/torrents", params={"page": 10, "limit": 5000})
    first_page = rd.get("/torrents", params={"limit": 100})
    active = rd.get("/torrents", params={"filter": "active"})
    assert last_page.headers["X-Total-Count"] == first_page.headers["X-Total-Count"] == "50000"
    assert len(last_page.json()) == 5000
    assert last_page.json()[-1]["filename"] == "Scale.000000.mkv"
    assert first_page.json()[0]["filename"] == "Scale.049999.mkv"
    assert active.status_code == 204
