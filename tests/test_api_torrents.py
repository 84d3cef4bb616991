"""Decypharr's REST routes: /version, GET/DELETE /api/torrents, POST /api/add, refresh-token,
every credential form, and qBittorrent's API with a Bearer key.

One app (with its embedded sandbox) serves the module; tests use their own hashes and
categories so they do not see each other's torrents.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.helpers import PASSWORD, free_port, magnet, make_torrent, random_hash, wait_until

KEY = "api-" + "fedcba9876543210" * 2
BEARER = {"Authorization": f"Bearer {KEY}"}
FORMS: dict[str, dict[str, Any]] = {
    "bearer": {"headers": {"Authorization": f"Bearer {KEY}"}},
    "token": {"headers": {"Authorization": f"Token {KEY}"}},
    "x-api-key": {"headers": {"X-Api-Key": KEY}},
    "apikey": {"query_string": {"apikey": KEY}},
    "token-query": {"query_string": {"token": KEY}},
    "basic-login": {"headers": {"Authorization": "Basic " + base64.b64encode(
        f"admin:{PASSWORD}".encode()).decode()}},
    "basic-key": {"headers": {"Authorization": "Basic " + base64.b64encode(
        f"anyone:{KEY}".encode()).decode()}},
}
WRONG: dict[str, dict[str, Any]] = {
    "bearer": {"headers": {"Authorization": "Bearer nope"}},
    "token": {"headers": {"Authorization": "Token nope"}},
    "x-api-key": {"headers": {"X-Api-Key": "nope"}},
    "apikey": {"query_string": {"apikey": "nope"}},
    "token-query": {"query_string": {"token": "nope"}},
    "basic": {"headers": {"Authorization": "Basic " + base64.b64encode(b"admin:no").decode()}},
    "none": {},
    "digest": {"headers": {"Authorization": "Digest x"}},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("rest")
    # the port `served` listens on: Host headers must name it (qbit.host_header_validation)
    settings = make_settings(tmp, server={"port": free_port()},
                             auth={"api_key": KEY, "max_failed_logins": 1000},
                             qbit={"add_wait_seconds": 6.0},
                             sandbox={"download_seconds": 60.0})
    application = create_app(settings)
    yield application
    stop_app(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _admin(app: Flask) -> str:
    return f"http://127.0.0.1:{app.extensions['debridge'].settings['sandbox.port']}/__admin"


def _provider_hashes(app: Flask) -> set[str]:
    found = requests.get(f"{_admin(app)}/torrents", timeout=5).json()
    return {t["hash"].lower() for t in found if not t["deleted"]}


def _count(client: FlaskClient) -> int:
    return len(client.get("/api/torrents", headers=BEARER).json)


def _state(client: FlaskClient, info_hash: str) -> str:
    return str(client.get(f"/api/torrents?hash={info_hash}", headers=BEARER).json[0]["state"])


# -- /version and auth --------------------------------------------------------------------
def test_version_needs_no_key_and_tells_only_the_version(client: FlaskClient) -> None:
    answer = client.get("/version")
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    assert set(answer.json) == {"version"}
    assert answer.json["version"][0].isdigit()
    assert KEY not in answer.text
    assert PASSWORD not in answer.text


@pytest.mark.parametrize("form", FORMS)
def test_every_credential_form_lists_torrents(client: FlaskClient, form: str) -> None:
    answer = client.get("/api/torrents", **FORMS[form])
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json, list)


@pytest.mark.parametrize("form", WRONG)
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/torrents"), ("POST", "/api/add"),
                                          ("DELETE", "/api/torrents"),
                                          ("POST", "/api/refresh-token")])
def test_a_wrong_or_missing_key_is_a_401_in_json(client: FlaskClient, form: str, method: str,
                                                 path: str) -> None:
    before = _count(client)
    answer = client.open(path, method=method, json={"url": magnet(random_hash(), "X")},
                         **WRONG[form])
    assert answer.status_code == 401
    assert answer.mimetype == "application/json"
    assert answer.json["code"] == 401
    assert answer.json["error"]
    assert "Bearer" in answer.headers["WWW-Authenticate"]
    assert _count(client) == before
    assert client.get("/api/torrents", headers=BEARER).status_code == 200   # key unchanged


def test_the_first_credential_decides_and_a_wrong_one_has_no_fallback(
        client: FlaskClient) -> None:
    answer = client.get("/api/torrents", headers={"Authorization": "Bearer nope",
                                                  "X-Api-Key": KEY},
                        query_string={"apikey": KEY})
    assert answer.status_code == 401
    assert client.get("/api/torrents", headers={"X-Api-Key": "nope"},
                      query_string={"apikey": KEY}).status_code == 401


def test_query_tokens_can_be_turned_off(tmp_path: Path) -> None:
    application = create_app(make_settings(tmp_path, auth={"api_key": KEY},
                                           api={"query_tokens": False}),
                             start_background=False)
    try:
        client = application.test_client()
        assert client.get("/api/torrents", query_string={"apikey": KEY}).status_code == 401
        assert client.get("/api/torrents", query_string={"token": KEY}).status_code == 401
        assert client.get("/api/torrents", headers={"X-Api-Key": KEY}).status_code == 200
    finally:
        stop_app(application)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/nowhere"), ("PUT", "/api/torrents"), ("PATCH", "/api/add"),
    ("GET", "/api/add"), ("POST", "/version"),
    ("GET", "/t/not-a-route/x/y"), ("POST", "/api/torrents")])
def test_nothing_under_the_rest_surface_is_html(client: FlaskClient, method: str,
                                                path: str) -> None:
    answer = client.open(path, method=method, headers=BEARER)
    assert answer.status_code in (404, 405), answer.status_code
    assert answer.mimetype == "application/json"
    assert answer.json["code"] == answer.status_code


def test_an_oversized_body_is_a_413_in_json(client: FlaskClient) -> None:
    answer = client.post("/api/add", headers=BEARER, data=b"{" + b" " * (65 * 1024 * 1024),
                         content_type="application/json")
    assert answer.status_code == 413
    assert answer.json["code"] == 413


# -- POST /api/add ----------------------------------------------------------------------------
def test_add_json_url_answers_the_item_with_its_state(client: FlaskClient) -> None:
    info_hash = random_hash()
    answer = client.post("/api/add", headers=BEARER, json={
        "url": magnet(info_hash, "Rest.Movie.2021.1080p"), "category": "rest-json"})
    assert answer.status_code == 200, answer.text
    [item] = answer.json
    assert (item["hash"], item["status"]) == (info_hash, "added")
    assert item["torrent"]["category"] == "rest-json"
    assert item["state"] in ("queued", "submitting", "resolving", "downloading", "finalizing",
                             "completed")
    listed = client.get("/api/torrents", headers=BEARER,
                        query_string={"category": "rest-json"}).json
    assert [t["hash"] for t in listed] == [info_hash]
    wait_until(lambda: _state(client, info_hash) == "completed", timeout=30)
    [done] = client.get(f"/api/torrents?hash={info_hash.upper()}", headers=BEARER).json
    assert done["progress"] == 1
    assert done["placed_bytes"] == done["size"] > 0
    assert done["health"] == "healthy"
    assert done["completed_on"] >= done["added_on"]
    assert done["eta"] is None
    assert done["failure_reason"] is None


def test_a_bad_item_never_hides_the_good_ones(client: FlaskClient, tmp_path: Path) -> None:
    good, again = random_hash(), random_hash()
    data, uploaded = make_torrent(tmp_path, "Rest.Upload.2020", {"Rest.Upload.2020.mkv": 5_000_000})
    answer = client.post("/api/add", headers=BEARER, data={
        "urls": f"{magnet(good, 'Rest.Good.2020')}\nnot a magnet\n{magnet(again, 'Rest.Two')}",
        "category": "rest-mixed",
        "files": [(io.BytesIO(data), "good.torrent"), (io.BytesIO(b"garbage"), "bad.torrent")],
    }, content_type="multipart/form-data")
    assert answer.status_code == 200, answer.text
    items = answer.json
    assert [i["status"] for i in items] == ["added", "error", "added", "error", "added"]
    assert items[0]["hash"] == uploaded
    assert items[1]["source"] == "bad.torrent"
    assert "not a valid torrent file" in items[1]["error"]
    assert items[3]["source"] == "not a magnet"
    assert items[3]["error"]
    hashes = {t["hash"] for t in client.get("/api/torrents?category=rest-mixed",
                                            headers=BEARER).json}
    assert hashes == {uploaded, good, again}
    # the same again: already there, nothing added twice
    repeat = client.post("/api/add", headers=BEARER, json={"urls": [magnet(good, "Rest.Good")]})
    assert repeat.json[0]["status"] == "exists"
    assert repeat.json[0]["state"]


def test_download_uncached_false_refuses_an_uncached_release(app: Flask,
                                                            client: FlaskClient) -> None:
    info_hash = random_hash()
    answer = client.post("/api/add", headers=BEARER, json={
        "url": magnet(info_hash, "Rest.Rare.Show.S01E01 [uncached]"),
        "downloadUncached": False})
    [item] = answer.json
    assert item["status"] == "refused"
    assert "cached" in item["error"]
    wait_until(lambda: info_hash not in _provider_hashes(app), timeout=15,
               what="the refused torrent to leave the provider")
    assert client.get(f"/api/torrents?hash={info_hash}", headers=BEARER).status_code == 404


@pytest.mark.parametrize(("body", "content_type"), [
    (b"[1, 2]", "application/json"), (b"{not json", "application/json"),
    (b'{"urls": 5}', "application/json"), (b'{"url": ["a", 3]}', "application/json"),
    (b'{"url": "magnet:?xt=urn:btih:' + b"a" * 40 + b'", "category": "bad\\\\name"}',
     "application/json"),
    (b'{"url": "magnet:?xt=urn:btih:' + b"a" * 40 + b'", "downloadUncached": "maybe"}',
     "application/json"),
    (b'{"url": "magnet:?xt=urn:btih:' + b"a" * 40 + b'", "action": "strm"}', "application/json"),
    (b"{}", "application/json"), (b"", "application/x-www-form-urlencoded"),
    (b'{"category": 7, "url": "x"}', "application/json"),
])
def test_bad_add_requests_are_400_and_add_nothing(client: FlaskClient, body: bytes,
                                                  content_type: str) -> None:
    before = _count(client)
    answer = client.post("/api/add", headers=BEARER, data=body, content_type=content_type)
    assert answer.status_code == 400, answer.text
    assert answer.json["code"] == 400
    assert answer.json["error"]
    assert _count(client) == before


# -- GET/DELETE /api/torrents -------------------------------------------------------------
@pytest.mark.parametrize("query", ["hash=xyz", "hash=" + "g" * 40, "hash=,,|" + "1" * 39])
def test_a_malformed_hash_is_a_400(client: FlaskClient, query: str) -> None:
    assert client.get(f"/api/torrents?{query}", headers=BEARER).status_code == 400
    answer = client.delete(f"/api/torrents?{query}", headers=BEARER)
    assert answer.status_code == 400
    assert answer.json["code"] == 400


def test_delete_by_hash_and_by_category_and_from_the_provider(app: Flask,
                                                             client: FlaskClient) -> None:
    first, second, third = random_hash(), random_hash(), random_hash()
    for info_hash in (first, second, third):
        client.post("/api/add", headers=BEARER, json={
            "url": magnet(info_hash, f"Rest.Del.{info_hash[:6]}"), "category": "rest-del"})
    wait_until(lambda: {first, second, third} <= _provider_hashes(app), timeout=15)
    before = _count(client)
    assert client.delete("/api/torrents", headers=BEARER).status_code == 400
    assert client.delete("/api/torrents?removeFromDebrid=perhaps&hash=" + first,
                         headers=BEARER).status_code == 400
    assert client.delete(f"/api/torrents?hash={random_hash()}", headers=BEARER).status_code \
        == 404
    assert _count(client) == before
    # by hash, keeping the provider's copy
    gone = client.delete(f"/api/torrents?hash={first}", headers=BEARER)
    assert gone.status_code == 200
    assert gone.json == {"deleted": [first]}
    wait_until(lambda: client.get(f"/api/torrents?hash={first}",
                                  headers=BEARER).status_code == 404, timeout=15)
    assert first in _provider_hashes(app)
    # the rest of the category, from the provider too (Decypharr's documented call)
    gone = client.delete("/api/torrents?category=rest-del&removeFromDebrid=true",
                         headers=BEARER)
    assert sorted(gone.json["deleted"]) == sorted([second, third])
    wait_until(lambda: not ({second, third} & _provider_hashes(app)), timeout=15,
               what="the provider's copies to go")
    assert client.get("/api/torrents?category=rest-del", headers=BEARER).json == []


# -- refresh-token ------------------------------------------------------------------------
def test_refresh_token_refuses_the_old_key_at_once_everywhere(tmp_path: Path) -> None:
    application = create_app(make_settings(tmp_path), start_background=False)
    try:
        client = application.test_client()
        old = application.extensions["debridge"].authenticator
        first = client.post("/api/v2/auth/login", data={"username": "admin",
                                                        "password": PASSWORD})
        assert first.text == "Ok."
        key = client.post("/api/refresh-token",
                          headers={"Authorization": "Basic " + base64.b64encode(
                              f"admin:{PASSWORD}".encode()).decode()}).json["api_token"]
        assert old.api_key_valid(key)
        new = client.post("/api/refresh-token", headers={"Authorization": f"Token {key}"})
        assert new.status_code == 200
        assert set(new.json) == {"api_token"}
        fresh = new.json["api_token"]
        assert fresh != key
        for headers in ({"Authorization": f"Bearer {key}"}, {"X-Api-Key": key}):
            assert client.get("/api/torrents", headers=headers).status_code == 401
        assert client.get("/api/torrents", query_string={"apikey": key}).status_code == 401
        assert client.get("/api/v2/torrents/info",
                          headers={"Authorization": f"Bearer {key}"}).status_code == 403
        dav = base64.b64encode(f"x:{key}".encode()).decode()
        assert client.open("/webdav/", method="PROPFIND",
                           headers={"Authorization": f"Basic {dav}", "Depth": "0"}
                           ).status_code == 401
        assert client.get("/api/torrents", headers={"X-Api-Key": fresh}).status_code == 200
        assert client.get("/api/v2/torrents/info",
                          headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    finally:
        stop_app(application)


def test_refresh_token_with_the_key_in_the_config_file_is_a_409(client: FlaskClient) -> None:
    answer = client.post("/api/refresh-token", headers=BEARER)
    assert answer.status_code == 409
    assert "auth.api_key" in answer.json["error"]
    assert client.get("/api/torrents", headers=BEARER).status_code == 200


# -- qBittorrent's API with a Bearer key --------------------------------------------------
def test_qbit_api_takes_a_bearer_key_without_session_or_csrf(client: FlaskClient) -> None:
    info_hash = random_hash()
    headers = {**BEARER, "Origin": "http://evil.example"}
    added = client.post("/api/v2/torrents/add", headers=headers,
                        data={"urls": magnet(info_hash, "Rest.Qbit.Bearer"),
                              "category": "rest-bearer"})
    assert added.text == "Ok."
    listed = client.get("/api/v2/torrents/info?category=rest-bearer", headers=BEARER).json
    assert [t["hash"] for t in listed] == [info_hash]
    assert client.get("/api/v2/torrents/info",
                      headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/api/v2/torrents/info").status_code == 403       # no session: as before
    client.post("/api/v2/torrents/delete", headers=BEARER,
                data={"hashes": info_hash, "deleteFiles": "true"})


# -- the documented examples, verbatim --------------------------------------------------------
@pytest.fixture(scope="module")
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", app.extensions["debridge"].settings["server.port"], app,
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_port}"
    server.shutdown()


def test_decypharr_python_example(served: str) -> None:
    TOKEN = KEY  # noqa: N806 (the documentation's names)
    BASE_URL = served  # noqa: N806
    headers = {"Authorization": f"Bearer {TOKEN}"}
    # List torrents
    r = requests.get(f"{BASE_URL}/api/torrents", headers=headers)
    torrents = r.json()
    assert r.status_code == 200
    assert isinstance(torrents, list)
    # Add torrent
    info_hash = random_hash()
    r = requests.post(f"{BASE_URL}/api/add", headers=headers,
                      json={"url": f"magnet:?xt=urn:btih:{info_hash}"})
    assert r.status_code == 200
    assert r.json()[0]["status"] == "added"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_decypharr_javascript_example(served: str, tmp_path: Path) -> None:
    info_hash = random_hash()
    script = tmp_path / "example.mjs"
    script.write_text(f"""
const TOKEN = '{KEY}';
const BASE_URL = '{served}';
const headers = {{ 'Authorization': `Bearer ${{TOKEN}}`, 'Content-Type': 'application/json'}};
// List torrents
await fetch(`${{BASE_URL}}/api/torrents`, {{ headers }})
  .then(r => r.json())
  .then(data => console.log(JSON.stringify({{listed: Array.isArray(data)}})));
// Add torrent
await fetch(`${{BASE_URL}}/api/add`, {{
  method: 'POST', headers, body: JSON.stringify({{ url: 'magnet:?xt=urn:btih:{info_hash}' }})
}}).then(r => r.json()).then(data => console.log(JSON.stringify(data[0])));
""")
    out = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60,
                         check=True).stdout.splitlines()
    assert json.loads(out[0]) == {"listed": True}
    assert json.loads(out[1])["hash"] == info_hash
    assert json.loads(out[1])["status"] == "added"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_decypharr_curl_examples(served: str, tmp_path: Path) -> None:
    def curl(*args: str) -> Any:
        done = subprocess.run(["curl", "-s", *args], capture_output=True, text=True,
                              timeout=60, check=True)
        return json.loads(done.stdout)

    assert curl(f"{served}/version")["version"]
    assert isinstance(curl("-H", f"Authorization: Bearer {KEY}", f"{served}/api/torrents"), list)
    info_hash = random_hash()
    added = curl("-X", "POST", "-H", f"Authorization: Bearer {KEY}",
                 "-d", f'{{"url": "magnet:?xt=urn:btih:{info_hash}"}}', f"{served}/api/add")
    assert added[0]["hash"] == info_hash
    data, uploaded = make_torrent(tmp_path, "Curl.Upload", {"Curl.Upload.mkv": 3_000_000})
    (tmp_path / "file.torrent").write_bytes(data)
    posted = curl("-X", "POST", "-H", f"Authorization: Bearer {KEY}",
                  "-F", f"file=@{tmp_path / 'file.torrent'}", f"{served}/api/add")
    assert posted[0]["hash"] == uploaded
    assert posted[0]["status"] == "added"
    deleted = curl("-X", "DELETE", "-H", f"Authorization: Bearer {KEY}",
                   f"{served}/api/torrents?hash={info_hash}")
    assert deleted == {"deleted": [info_hash]}


def test_a_flagged_hash_is_an_error_item_of_an_add_and_stays_out(app: Flask,
                                                                 client: FlaskClient) -> None:
    blocked, good = random_hash(), random_hash()
    flagged = client.post(f"/t/{blocked}", headers=BEARER, json={"is_flagged": True})
    assert flagged.status_code == 200
    answer = client.post("/api/add", headers=BEARER, json={
        "urls": [magnet(blocked, "Rest.Flagged.2020"), magnet(good, "Rest.Unflagged.2020")]})
    assert answer.status_code == 200
    assert [i["status"] for i in answer.json] == ["blocked", "added"]
    assert "blocked" in answer.json[0]["error"]
    assert client.get(f"/api/torrents?hash={blocked}", headers=BEARER).status_code == 404
    assert blocked not in _provider_hashes(app)
    client.post(f"/t/{blocked}", headers=BEARER, json={"is_flagged": False})
