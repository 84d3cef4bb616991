"""The /api/v2 surface answers as the recorded real qBittorrent does (statuses, bodies, types)."""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.captures import capture, json_kind, shape
from tests.helpers import PASSWORD, magnet, make_torrent, random_hash, wait_until
from tests.qbit_versions import (
    PREFERENCES_ADDED,
    PREFERENCES_COUNT,
    PREFERENCES_REMOVED,
    PREFERENCES_RETYPED,
)

API = "/api/v2"
# Fields qBittorrent writes as doubles; every other number must be an integer (typed clients).
DOUBLES = {"ratio", "progress", "availability", "max_ratio", "ratio_limit", "share_ratio"}
V46_INFO_KEYS = {"max_inactive_seeding_time", "inactive_seeding_time_limit"}


def _assert_types_match(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key, value in theirs.items():
        assert json_kind(ours[key]) == json_kind(value), key
        if json_kind(value) == "number" and key not in DOUBLES:
            assert isinstance(ours[key], int), f"{key} must be an integer, got {ours[key]!r}"


def _security_headers_present(headers: Any) -> None:
    for name in ("X-Frame-Options", "X-XSS-Protection", "X-Content-Type-Options",
                 "Referrer-Policy", "Content-Security-Policy"):
        assert name in headers


# -- without a session ------------------------------------------------------------------------
@pytest.mark.parametrize(("number", "method", "path"), [
    ("01", "GET", "app/version"), ("02", "GET", "app/webapiVersion"),
    ("03", "GET", "torrents/info"), ("04", "GET", "foo/bar"),
    ("80", "GET", "app/preferences?x=1"), ("89", "POST", "torrents/delete"),
])
def test_everything_but_login_is_forbidden_without_a_session(
        anonymous: FlaskClient, number: str, method: str, path: str) -> None:
    recorded = capture(number)
    response = anonymous.open(f"{API}/{path}", method=method,
                              data={"hashes": "all", "deleteFiles": "false"}
                              if method == "POST" else None)
    assert (response.status_code, response.content_type, response.data) == \
        (recorded.status, recorded.content_type, recorded.body)
    _security_headers_present(response.headers)


def test_login_failure_success_and_cookie(anonymous: FlaskClient) -> None:
    failed = anonymous.post(f"{API}/auth/login", data={"username": "admin", "password": "no"})
    assert (failed.status_code, failed.text) == (200, capture("05").body.decode())
    assert "Set-Cookie" not in failed.headers
    assert anonymous.get(f"{API}/auth/login?username=admin&password={PASSWORD}").status_code \
        == capture("06").status
    # credentials in the query string of a POST are ignored (capture 85)
    assert anonymous.post(f"{API}/auth/login?username=admin&password={PASSWORD}").text \
        == "Fails."
    ok = anonymous.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD})
    assert (ok.status_code, ok.text, ok.content_type) == (200, "Ok.", capture("07").content_type)
    cookie = ok.headers["Set-Cookie"]
    assert re.fullmatch(r"SID=[A-Za-z0-9]{32}; HttpOnly; path=/; SameSite=Strict", cookie)
    # with a session, any credentials are Ok. (capture 22)
    again = anonymous.post(f"{API}/auth/login", data={"username": "x", "password": "wrong"})
    assert again.text == "Ok."


def test_raw_set_cookie_line_echoed_back_is_accepted(app: Any) -> None:
    """cross-seed sends the whole Set-Cookie string back as its Cookie header."""
    client = app.test_client()
    line = client.post(f"{API}/auth/login",
                       data={"username": "admin", "password": PASSWORD}).headers["Set-Cookie"]
    fresh = app.test_client(use_cookies=False)
    response = fresh.get(f"{API}/app/webapiVersion", headers={"Cookie": line})
    assert (response.status_code, response.text) == (200, "2.9.3")
    bad = fresh.get(f"{API}/app/version", headers={"Cookie": "SID=notavalidsession"})
    assert (bad.status_code, bad.data) == (capture("69").status, capture("69").body)


def test_logout(qbit: FlaskClient) -> None:
    assert qbit.get(f"{API}/auth/logout").status_code == capture("86").status
    response = qbit.post(f"{API}/auth/logout")
    assert (response.status_code, response.data) == (200, b"")
    assert response.headers["Set-Cookie"].startswith("SID=; expires=")
    assert qbit.get(f"{API}/app/version").status_code == capture("88").status


def test_bans_after_repeated_failures(tmp_path: Path) -> None:
    from app import create_app, stop_app
    from tests.conftest import make_settings
    app = create_app(make_settings(tmp_path, auth={"max_failed_logins": 3, "ban_seconds": 60}),
                     start_background=False)
    try:
        client = app.test_client()
        for _ in range(3):
            assert client.post(f"{API}/auth/login",
                               data={"username": "admin", "password": "bad"}).text == "Fails."
        banned = client.post(f"{API}/auth/login",
                             data={"username": "admin", "password": PASSWORD})
        assert banned.status_code == 403
        assert banned.text.startswith("Your IP address has been banned after too many "
                                      "failed authentication attempts. Banned until ")
    finally:
        stop_app(app)


# -- routing ----------------------------------------------------------------------------------
def test_unknown_methods_wrong_verbs_and_bodies(qbit: FlaskClient) -> None:
    for number, path in (("20", "foo/bar"), ("21", "torrents/nonexistent"),
                         ("60", "torrents/stop")):
        response = qbit.post(f"{API}/{path}") if number == "60" else qbit.get(f"{API}/{path}")
        assert (response.status_code, response.data) == (capture(number).status,
                                                          capture(number).body)
    # qBittorrent 4.6+: HEAD is a GET without a body; other methods are 501 and close
    head = qbit.head(f"{API}/app/version")
    assert (head.status_code, head.data) == (200, b"")
    assert head.headers["Content-Length"] == str(len("v4.6.7"))
    for method in ("PUT", "DELETE", "PATCH"):
        response = qbit.open(f"{API}/app/version", method=method)
        assert (response.status_code, response.data) == (501, b"")
        assert response.headers["Connection"] == "close"
    assert qbit.get(f"{API}/torrents/count").text == "0"       # 4.6.1+ (2.9.3)
    as_json = qbit.post(f"{API}/auth/login", data=json.dumps({"username": "admin"}),
                        content_type="application/json")
    assert (as_json.status_code, as_json.data) == (capture("84").status, b"")
    post_on_get = qbit.post(f"{API}/app/version")
    assert (post_on_get.status_code, post_on_get.text) == (200, "v4.6.7")
    assert qbit.get(f"{API}/torrents/add?urls=x").status_code == capture("23").status


# -- app --------------------------------------------------------------------------------------
def test_versions_build_info_and_default_save_path(qbit: FlaskClient, tmp_path: Path) -> None:
    assert qbit.get(f"{API}/app/version").text == "v4.6.7"
    response = qbit.get(f"{API}/app/webapiVersion")
    assert (response.text, response.content_type) == ("2.9.3", capture("11").content_type)
    build = qbit.get(f"{API}/app/buildInfo")
    assert build.content_type == "application/json"
    assert shape(build.json) == shape(capture("12").json())
    assert qbit.get(f"{API}/app/defaultSavePath").text == str(tmp_path / "downloads")


def test_preferences_have_qbittorrents_keys_types_and_pass_sonarrs_test(
        qbit: FlaskClient, tmp_path: Path) -> None:
    response = qbit.get(f"{API}/app/preferences")
    prefs, recorded = response.json, capture("13").json()
    assert response.data == json.dumps(prefs, separators=(",", ":"), sort_keys=True,
                                       ensure_ascii=False).encode()
    expected = (set(recorded) - PREFERENCES_REMOVED["4.6.7"]) | PREFERENCES_ADDED["4.6.7"]
    assert set(prefs) == expected
    assert len(prefs) == PREFERENCES_COUNT["4.6.7"]
    _assert_types_match(prefs, {k: v for k, v in recorded.items()
                                if k in prefs and k not in PREFERENCES_RETYPED})
    assert isinstance(prefs["proxy_type"], str)
    assert prefs["save_path"] == str(tmp_path / "downloads")
    # Sonarr's Test: no "remove" ratio action; magnets allowed (DHT on)
    removes = prefs["max_ratio_act"] in (1, 3)
    assert not ((prefs["max_ratio_enabled"] or (prefs["max_seeding_time_enabled"]
                 and prefs["max_seeding_time"] < 20160)) and removes)
    assert prefs["dht"] is True
    assert prefs["max_inactive_seeding_time_enabled"] is False


# -- categories -------------------------------------------------------------------------------
def test_category_lifecycle(qbit: FlaskClient) -> None:
    for number, data in (("30", {"category": "tv-sonarr", "savePath": ""}),
                         ("31", {"category": "tv-sonarr"}),
                         ("32", {"category": "cross-seed-link", "savePath": "/srv/qbt/links"}),
                         ("33", {"category": "/bad//name/"}),
                         ("34", {"category": ""})):
        response = qbit.post(f"{API}/torrents/createCategory", data=data)
        assert (response.status_code, response.data) == (capture(number).status,
                                                         capture(number).body), number
    categories = qbit.get(f"{API}/torrents/categories").json
    assert categories == capture("35").json()
    assert qbit.post(f"{API}/torrents/createCategory").status_code == 400


def test_set_category(qbit: FlaskClient) -> None:
    info_hash = random_hash()
    qbit.post(f"{API}/torrents/createCategory", data={"category": "tv-sonarr"})
    assert qbit.post(f"{API}/torrents/add", data={
        "urls": magnet(info_hash, "Cat.Test.S01E01", 1000), "paused": "true"}).text == "Ok."
    missing = qbit.post(f"{API}/torrents/setCategory",
                        data={"hashes": info_hash, "category": "doesnotexist"})
    assert (missing.status_code, missing.data) == (capture("45").status, capture("45").body)
    done = qbit.post(f"{API}/torrents/setCategory",
                     data={"hashes": info_hash.upper(), "category": "tv-sonarr"})
    assert (done.status_code, done.data) == (200, b"")
    assert qbit.get(f"{API}/torrents/info?category=tv-sonarr").json[0]["hash"] == info_hash
    assert qbit.get(f"{API}/torrents/info?category=").json == []
    assert qbit.post(f"{API}/torrents/setCategory", data={"hashes": info_hash}).status_code \
        == 400


# -- add and the torrent objects --------------------------------------------------------------
def test_add_failures(qbit: FlaskClient) -> None:
    assert qbit.post(f"{API}/torrents/add").text == capture("26").body.decode()
    assert qbit.post(f"{API}/torrents/add", data={"urls": "not a url at all"}).text == "Fails."
    junk = qbit.post(f"{API}/torrents/add",
                     data={"torrents": (io.BytesIO(b"junk"), "junk.torrent")})
    assert (junk.status_code, junk.data, junk.content_type) == \
        (capture("24").status, capture("24").body, capture("24").content_type)


def test_torrent_file_add_info_properties_files_match_qbittorrent(
        qbit: FlaskClient, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Test.Show.S01E01.1080p", {
        "Test.Show.S01E01.1080p.mkv": 40000, "Sample/sample.mkv": 5000})
    response = qbit.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "test.torrent"), "category": "tv-sonarr",
        "paused": "true", "skip_checking": "true", "tags": "sonarr,test",
        "contentLayout": "Original", "ratioLimit": "2", "seedingTimeLimit": "120"})
    assert (response.status_code, response.data) == (capture("36").status, capture("36").body)
    duplicate = qbit.post(f"{API}/torrents/add",
                          data={"torrents": (io.BytesIO(data), "test.torrent")})
    assert duplicate.data == capture("37").body

    entry = qbit.get(f"{API}/torrents/info").json[0]
    recorded = capture("38").json()[0]
    assert set(entry) == set(recorded) | V46_INFO_KEYS
    _assert_types_match(entry, recorded)
    assert (entry["hash"], entry["category"], entry["tags"]) == (info_hash, "tv-sonarr",
                                                                 "sonarr, test")
    assert (entry["state"], entry["ratio_limit"], entry["seeding_time_limit"]) == \
        ("pausedDL", 2, 120)
    assert entry["total_size"] == 45000
    assert entry["trackers_count"] == 1

    props = qbit.get(f"{API}/torrents/properties?hash={info_hash.upper()}")
    assert props.status_code == 200
    assert set(props.json) == set(capture("41").json())
    _assert_types_match(props.json, capture("41").json())

    files = qbit.get(f"{API}/torrents/files?hash={info_hash}").json
    recorded_files = capture("42").json()
    assert [set(f) for f in files] == [set(f) for f in recorded_files]
    for ours, theirs in zip(files, recorded_files, strict=True):
        _assert_types_match(ours, theirs)
    # the torrent's own file order (torf writes files sorted by path)
    assert [f["name"] for f in files] == ["Test.Show.S01E01.1080p/Sample/sample.mkv",
                                          "Test.Show.S01E01.1080p/Test.Show.S01E01.1080p.mkv"]
    only_second = qbit.get(f"{API}/torrents/files?hash={info_hash}&indexes=1").json
    assert [f["index"] for f in only_second] == [1]


def test_magnet_without_metadata_matches_qbittorrent(qbit: FlaskClient) -> None:
    info_hash = "1111111111111111111111111111111111111111"
    response = qbit.post(f"{API}/torrents/add", data={
        "urls": f"magnet:?xt=urn:btih:{info_hash}&dn=magnet.test", "paused": "true",
        "category": "tv-sonarr"})
    assert response.data == capture("72").body
    entry = qbit.get(f"{API}/torrents/info").json[0]
    recorded = capture("73").json()[0]
    _assert_types_match(entry, recorded)
    for key in ("content_path", "size", "total_size", "state", "eta", "magnet_uri"):
        assert entry[key] == recorded[key], key
    props = qbit.get(f"{API}/torrents/properties?hash={info_hash}").json
    recorded_props = capture("75").json()
    for key in ("total_size", "pieces_num", "piece_size", "completion_date", "creation_date"):
        assert props[key] == recorded_props[key], key
    assert qbit.get(f"{API}/torrents/files?hash={info_hash}").json == capture("74").json()
    deleted = qbit.post(f"{API}/torrents/delete",
                        data={"hashes": info_hash, "deleteFiles": "false"})
    assert (deleted.status_code, deleted.data) == (capture("76").status, capture("76").body)
    assert qbit.get(f"{API}/torrents/info").json == []


@pytest.mark.parametrize(("number", "path"), [
    ("27", "torrents/properties?hash=0123456789abcdef0123456789abcdef01234567"),
    ("28", "torrents/properties"),
    ("29", "torrents/files?hash=0123456789abcdef0123456789abcdef01234567"),
])
def test_unknown_hash_and_missing_parameter(qbit: FlaskClient, number: str,
                                            path: str) -> None:
    response = qbit.get(f"{API}/{path}")
    assert (response.status_code, response.data, response.content_type) == \
        (capture(number).status, capture(number).body, capture(number).content_type)


def test_delete_requires_delete_files(qbit: FlaskClient) -> None:
    response = qbit.post(f"{API}/torrents/delete", data={"hashes": random_hash()})
    assert (response.status_code, response.data) == (capture("77").status, capture("77").body)


def test_info_filters_hashes_and_pagination(qbit: FlaskClient) -> None:
    hashes = [random_hash() for _ in range(3)]
    for i, info_hash in enumerate(hashes):
        assert qbit.post(f"{API}/torrents/add", data={
            "urls": magnet(info_hash, f"Filter.Test.S01E0{i}", 1000 + i),
            "paused": "true"}).text == "Ok."
    both = qbit.get(f"{API}/torrents/info?hashes={hashes[0].upper()}|{hashes[2]}").json
    assert sorted(t["hash"] for t in both) == sorted([hashes[0], hashes[2]])
    assert len(qbit.get(f"{API}/torrents/info?filter=paused").json) == 3
    assert qbit.get(f"{API}/torrents/info?filter=completed").json == []
    assert len(qbit.get(f"{API}/torrents/info?filter=downloading").json) == 3
    page = qbit.get(f"{API}/torrents/info?sort=name&reverse=true&limit=2&offset=1").json
    assert [t["name"] for t in page] == ["Filter.Test.S01E01", "Filter.Test.S01E00"]
    assert qbit.get(f"{API}/torrents/info?limit=abc").status_code == 400


def test_responses_are_compact_sorted_json(qbit: FlaskClient) -> None:
    qbit.post(f"{API}/torrents/createCategory", data={"category": "b"})
    qbit.post(f"{API}/torrents/createCategory", data={"category": "a"})
    body = qbit.get(f"{API}/torrents/categories").data
    assert body == b'{"a":{"name":"a","savePath":""},"b":{"name":"b","savePath":""}}'


def test_added_magnet_completes_through_the_engine(qbit: FlaskClient,
                                                   tmp_path: Path) -> None:
    info_hash = random_hash()
    assert qbit.post(f"{API}/torrents/add", data={
        "urls": magnet(info_hash, "Engine.Test.2024.mkv", 123_457)}).text == "Ok."
    entry = wait_until(lambda: [t for t in qbit.get(f"{API}/torrents/info").json
                                if t["state"] == "pausedUP"], timeout=30, what="pausedUP")[0]
    # single-file torrents get a folder named without the extension
    assert entry["content_path"] == str(tmp_path / "downloads" / "Engine.Test.2024")
    assert (Path(entry["content_path"]) / "Engine.Test.2024.mkv").stat().st_size == 123_457
    assert entry["completion_on"] <= int(time.time())


def test_category_download_path_ban_peers_and_interfaces(qbit: FlaskClient) -> None:
    qbit.post(f"{API}/torrents/createCategory", data={
        "category": "a", "savePath": "/s", "downloadPath": "/d", "downloadPathEnabled": "true"})
    qbit.post(f"{API}/torrents/createCategory", data={
        "category": "b", "savePath": "/s", "downloadPathEnabled": "false"})
    qbit.post(f"{API}/torrents/createCategory", data={"category": "c", "savePath": "/s"})
    categories = qbit.get(f"{API}/torrents/categories").json
    assert categories["a"]["download_path"] == "/d"
    assert categories["b"]["download_path"] is False
    assert "download_path" not in categories["c"]
    qbit.post(f"{API}/torrents/editCategory", data={
        "category": "a", "savePath": "/t", "downloadPath": "/e", "downloadPathEnabled": "true"})
    assert qbit.get(f"{API}/torrents/categories").json["a"] == {
        "download_path": "/e", "name": "a", "savePath": "/t"}
    assert qbit.post(f"{API}/transfer/banPeers",
                     data={"peers": "1.1.1.1:80|[::2]:81|bad"}).status_code == 200
    assert qbit.get(f"{API}/app/preferences").json["banned_IPs"] == "1.1.1.1\n::2"
    interfaces = qbit.get(f"{API}/app/networkInterfaceList").json
    assert {"name": "lo", "value": "lo"} in interfaces
    assert "127.0.0.1" in qbit.get(f"{API}/app/networkInterfaceAddressList?iface=lo").json


def test_log_main_shows_operator_messages_with_ids_and_filters(qbit: FlaskClient) -> None:
    info_hash = random_hash()
    assert qbit.post(f"{API}/torrents/add", data={
        "urls": magnet(info_hash, "Log.Test.S01E01", 1000), "paused": "true"}).text == "Ok."
    entries = wait_until(lambda: [e for e in qbit.get(f"{API}/log/main").json
                                  if info_hash in e["message"]], what="add logged")
    entry = entries[0]
    assert set(entry) == {"id", "message", "timestamp", "type"}
    assert all(isinstance(entry[k], int) for k in ("id", "timestamp", "type"))
    assert abs(entry["timestamp"] - time.time()) < 60
    assert entry["type"] == 1
    # last_known_id returns only newer entries; turning a type off hides it
    assert all(e["id"] > entry["id"] for e in
               qbit.get(f"{API}/log/main?last_known_id={entry['id']}").json)
    assert qbit.get(f"{API}/log/main?normal=false&info=false&warning=false&critical=false"
                    ).json == []
    assert not [e for e in qbit.get(f"{API}/log/main?normal=false").json if e["type"] == 1]
    assert qbit.get(f"{API}/log/main?last_known_id=x").status_code == 400
    assert qbit.get(f"{API}/log/peers").json == []
