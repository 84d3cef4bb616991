"""qbit.persona: everything a client sees matches the chosen qBittorrent version (4.6.7, 5.1.4)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from tests.captures import capture
from tests.conftest import make_settings
from tests.helpers import PASSWORD, magnet, make_torrent, random_hash, wait_until
from tests.qbit_versions import (
    BUILD_INFO_ADDED,
    COOKIE,
    INFO_ADDED,
    NEVER,
    PAUSE_ENDPOINTS,
    PREFERENCES_ADDED,
    PREFERENCES_COUNT,
    PREFERENCES_REMOVED,
    PROPERTIES_ADDED,
    SERVER_STATE_ADDED,
    TRANSFER_ADDED,
    VERSIONS,
)

API = "/api/v2"


@pytest.fixture(params=["4.6.7", "5.1.4"])
def persona(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(tmp_path: Path, persona: str) -> Iterator[Flask]:
    application = create_app(make_settings(tmp_path, qbit={"persona": persona}))
    try:
        yield application
    finally:
        stop_app(application)


@pytest.fixture
def qbit(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post(f"{API}/auth/login", data={"username": "admin",
                                                  "password": PASSWORD}).text == "Ok."
    return client


def _add_paused(qbit: FlaskClient, persona: str, name: str = "Persona.Test.S01E01") -> str:
    info_hash = random_hash()
    stop = "stopped" if persona == "5.1.4" else "paused"
    assert qbit.post(f"{API}/torrents/add", data={"urls": magnet(info_hash, name, 1000),
                                                  stop: "true"}).text == "Ok."
    return info_hash


def test_versions_build_info_cookie_and_headers(app: Flask, qbit: FlaskClient,
                                                persona: str) -> None:
    version, webapi = VERSIONS[persona]
    assert qbit.get(f"{API}/app/version").text == version
    assert qbit.get(f"{API}/app/webapiVersion").text == webapi
    build = qbit.get(f"{API}/app/buildInfo").json
    assert set(build) == set(capture("12").json()) | BUILD_INFO_ADDED[persona]
    login = app.test_client().post(f"{API}/auth/login",
                                   data={"username": "admin", "password": PASSWORD})
    assert re.fullmatch(rf"SID=[A-Za-z0-9]{{32}}; {re.escape(COOKIE[persona])}",
                        login.headers["Set-Cookie"])
    csp = login.headers["Content-Security-Policy"]
    assert ("frame-src 'self' blob:;" in csp) is (persona == "5.1.4")
    assert login.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_preferences_key_set(qbit: FlaskClient, persona: str) -> None:
    prefs = qbit.get(f"{API}/app/preferences").json
    recorded = set(capture("13").json())
    assert set(prefs) == (recorded - PREFERENCES_REMOVED[persona]) | PREFERENCES_ADDED[persona]
    assert len(prefs) == PREFERENCES_COUNT[persona]
    assert ("add_stopped_enabled" in prefs) is (persona == "5.1.4")
    assert ("start_paused_enabled" in prefs) is (persona == "4.6.7")


def test_pause_names_states_and_filters(qbit: FlaskClient, persona: str) -> None:
    pause, resume = PAUSE_ENDPOINTS[persona]
    other_pause, other_resume = PAUSE_ENDPOINTS["5.1.4" if persona == "4.6.7" else "4.6.7"]
    info_hash = _add_paused(qbit, persona)
    entry = qbit.get(f"{API}/torrents/info").json[0]
    assert entry["state"] == ("stoppedDL" if persona == "5.1.4" else "pausedDL")
    stopped, running = ("stopped", "running") if persona == "5.1.4" else ("paused", "resumed")
    assert len(qbit.get(f"{API}/torrents/info?filter={stopped}").json) == 1
    assert qbit.get(f"{API}/torrents/info?filter={running}").json == []
    # the other version's filter name is unknown here, which means "all" (as qBittorrent)
    other = "paused" if persona == "5.1.4" else "stopped"
    assert len(qbit.get(f"{API}/torrents/info?filter={other}").json) == 1
    for name in (other_pause, other_resume):
        assert qbit.post(f"{API}/torrents/{name}", data={"hashes": info_hash}).status_code \
            == 404
    assert qbit.post(f"{API}/torrents/{resume}", data={"hashes": info_hash}).status_code == 200
    done = wait_until(lambda: [t for t in qbit.get(f"{API}/torrents/info").json
                               if t["progress"] == 1], timeout=30, what="completed")[0]
    assert done["state"] == ("stoppedUP" if persona == "5.1.4" else "pausedUP")
    assert qbit.post(f"{API}/torrents/{pause}", data={"hashes": "all"}).status_code == 200


def test_info_properties_and_times(qbit: FlaskClient, persona: str) -> None:
    _add_paused(qbit, persona)
    entry = qbit.get(f"{API}/torrents/info").json[0]
    assert set(entry) == set(capture("38").json()[0]) | INFO_ADDED[persona]
    assert entry["completion_on"] == NEVER[persona]
    assert entry["seen_complete"] == NEVER[persona]
    if persona == "5.1.4":
        assert entry["private"] is None              # no metadata yet
        assert entry["has_metadata"] is False
    props = qbit.get(f"{API}/torrents/properties?hash={entry['hash']}").json
    assert set(props) == set(capture("41").json()) | PROPERTIES_ADDED[persona]
    assert props["completion_date"] == -1


def test_transfer_and_server_state(qbit: FlaskClient, persona: str) -> None:
    transfer = qbit.get(f"{API}/transfer/info").json
    assert set(transfer) == set(capture("19").json()) | TRANSFER_ADDED[persona]
    maindata = qbit.get(f"{API}/sync/maindata?rid=0").json
    assert set(maindata) == {"full_update", "rid", "server_state"}   # empty ones left out
    assert set(maindata["server_state"]) == set(capture("44").json()["server_state"]) \
        | SERVER_STATE_ADDED[persona]


def test_head_is_get_without_a_body_and_other_methods_are_501(qbit: FlaskClient,
                                                               persona: str) -> None:
    head = qbit.head(f"{API}/app/version")
    assert (head.status_code, head.data) == (200, b"")
    assert head.headers["Content-Length"] == str(len(VERSIONS[persona][0]))
    assert qbit.head(f"{API}/torrents/add").status_code == 405      # still POST-only
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        response = qbit.open(f"{API}/app/version", method=method)
        assert (response.status_code, response.data) == (501, b"")


def test_count_and_share_limits(qbit: FlaskClient, persona: str) -> None:
    info_hash = _add_paused(qbit, persona)
    count = qbit.get(f"{API}/torrents/count")
    assert (count.text, count.content_type) == ("1", "text/plain; charset=UTF-8")
    limits = {"hashes": info_hash, "ratioLimit": "1.5", "seedingTimeLimit": "60"}
    assert qbit.post(f"{API}/torrents/setShareLimits", data=limits).status_code == 400
    limits["inactiveSeedingTimeLimit"] = "30"
    assert qbit.post(f"{API}/torrents/setShareLimits", data=limits).status_code == 200
    entry = qbit.get(f"{API}/torrents/info").json[0]
    assert (entry["ratio_limit"], entry["seeding_time_limit"],
            entry["inactive_seeding_time_limit"]) == (1.5, 60, 30)


def test_five_only_endpoints(qbit: FlaskClient, persona: str, tmp_path: Path) -> None:
    info_hash = _add_paused(qbit, persona)
    five = persona == "5.1.4"
    tags = qbit.post(f"{API}/torrents/setTags", data={"hashes": info_hash, "tags": "a,b"})
    assert tags.status_code == (200 if five else 404)
    assert qbit.get(f"{API}/app/cookies").status_code == (200 if five else 404)
    listing = qbit.get(f"{API}/app/getDirectoryContent", query_string={
        "dirPath": str(tmp_path), "mode": "dirs"})
    assert listing.status_code == (200 if five else 404)
    if five:
        assert str(tmp_path / "downloads") in listing.json
        entry = qbit.get(f"{API}/torrents/info?includeTrackers=true").json[0]
        assert entry["trackers"][0]["url"] == "http://127.0.0.1:1/announce"
        assert entry["tags"] == "a, b"


def test_export_content_type(qbit: FlaskClient, persona: str, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Export.Me", {"a.mkv": 1000})
    stop = "stopped" if persona == "5.1.4" else "paused"
    assert qbit.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "x.torrent"), stop: "true"}).text == "Ok."
    exported = qbit.get(f"{API}/torrents/export?hash={info_hash}")
    assert exported.data == data
    expected = "application/x-bittorrent" if persona == "5.1.4" else "text/plain; charset=UTF-8"
    assert exported.content_type == expected
