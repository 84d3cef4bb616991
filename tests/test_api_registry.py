"""The UDPT-style registry (/t, /api/t): every route with every credential form, wrong keys,
bad input, the block list on the add paths, and UDPT's documented curl commands verbatim.

One app (with its embedded sandbox) serves the module, also on a real loopback port for curl;
each hash is seeded in the sandbox as a small file, so a torrent completes in a second.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from app import create_app, stop_app
from core.library import AddOptions, AddStatus
from core.sources import parse_magnet
from tests.conftest import make_settings
from tests.helpers import PASSWORD, free_port, magnet, random_hash, wait_until

KEY = "MyAccessToken"           # UDPT's documented token, so its examples run as written
PREFIXES = ("/t", "/api/t")
AUTH_FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "token": (f"?token={KEY}", {}),
    "apikey": (f"?apikey={KEY}", {}),
    "bearer": ("", {"Authorization": f"Bearer {KEY}"}),
    "Token": ("", {"Authorization": f"Token {KEY}"}),
    "x-api-key": ("", {"X-Api-Key": KEY}),
    "basic-login": ("", {"Authorization": "Basic " + base64.b64encode(
        f"admin:{PASSWORD}".encode()).decode()}),
    "basic-key": ("", {"Authorization": "Basic " + base64.b64encode(
        f"anyone:{KEY}".encode()).decode()}),
}
WRONG_FORMS: dict[str, tuple[str, dict[str, str]]] = {
    "token": ("?token=guess", {}),
    "apikey": ("?apikey=guess", {}),
    "bearer": ("", {"Authorization": "Bearer guess"}),
    "Token": ("", {"Authorization": "Token guess"}),
    "x-api-key": ("", {"X-Api-Key": "guess"}),
    "basic": ("", {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}),
    "none": ("", {}),
}


class Registry:
    """The module's app: a test client with the key, the sandbox's admin API, a real server."""

    def __init__(self, app: Flask, port: int) -> None:
        self.app = app
        self.port = port
        settings = app.extensions["debridge"].settings
        self.admin = f"http://127.0.0.1:{settings['sandbox.port']}/__admin"
        self.client = app.test_client()
        self.qbit = app.test_client()
        assert self.qbit.post("/api/v2/auth/login", data={
            "username": "admin", "password": PASSWORD}).text == "Ok."

    def hash(self, **flags: Any) -> str:
        """A new hash the sandbox knows as one small, cached file."""
        info_hash = random_hash()
        requests.post(f"{self.admin}/seed", json={
            "hash": info_hash, "name": f"Reg {info_hash[:6]}",
            "files": [{"path": f"Reg {info_hash[:6]}.mkv", "bytes": 1 << 20}], **flags},
            timeout=5).raise_for_status()
        return info_hash

    def call(self, method: str, url: str, body: Any = None, **headers: str) -> Any:
        sep = "&" if "?" in url else "?"
        data = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        return self.client.open(f"{url}{sep}token={KEY}", method=method, data=data,
                                headers=headers)

    def qbit_info(self, info_hash: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.qbit.get(
            f"/api/v2/torrents/info?hashes={info_hash}").json
        return found

    def total(self) -> int:
        return int(self.call("GET", "/t").headers["X-Total-Count"])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    tmp = tmp_path_factory.mktemp("registry")
    port = free_port()
    settings = make_settings(tmp, auth={"api_key": KEY, "max_failed_logins": 1000},
                             server={"port": port})
    app = create_app(settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Registry(app, port)
    finally:
        server.shutdown()
        thread.join(10)
        stop_app(app)


def _json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.json
    assert body["status"] == "err"
    assert body["code"] == status
    assert body["reason"] == body["error"]
    assert body["reason"]
    return body


def _completed(registry: Registry, info_hash: str) -> bool:
    return registry.call("GET", f"/t/{info_hash}").json["completed"] == 1


# -- the routes -----------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", PREFIXES)
def test_add_get_list_and_delete(registry: Registry, prefix: str) -> None:
    info_hash = registry.hash()
    assert registry.call("POST", f"{prefix}/{info_hash}").json == {"status": "ok"}
    again = registry.call("POST", f"{prefix}/{info_hash.upper()}", {})
    assert (again.status_code, again.json) == (200, {"status": "ok"})   # idempotent
    as_base32 = base64.b32encode(bytes.fromhex(info_hash)).decode()
    assert registry.call("POST", f"{prefix}/{as_base32.lower()}", "").json == {"status": "ok"}
    assert len(registry.qbit_info(info_hash)) == 1

    wait_until(lambda: _completed(registry, info_hash), 40, what="completion")
    entry = registry.call("GET", f"{prefix}/{as_base32}").json
    assert entry["info_hash"] == info_hash
    assert {k: entry[k] for k in ("is_flagged", "completed", "leechers", "peers", "state",
                                  "progress", "size", "provider", "health")} == {
        "is_flagged": False, "completed": 1, "leechers": 0, "peers": [], "state": "completed",
        "progress": 1.0, "size": 1 << 20, "provider": "sandbox", "health": "healthy"}
    assert isinstance(entry["seeders"], int)
    assert entry["completed_on"] >= entry["added_on"] > 0
    assert entry["files"] == [{"index": 0, "path": f"Reg {info_hash[:6]}.mkv",
                               "size": 1 << 20, "selected": True, "done": True,
                               "linked": True, "health": "healthy", "health_reason": None}]

    listing = registry.call("GET", f"{prefix}/")
    assert listing.status_code == 200
    listed = {e["info_hash"]: e for e in listing.json}
    assert listed[info_hash] == {k: v for k, v in entry.items()
                                 if k not in ("files", "peers", "health", "health_reason")}
    assert [e["info_hash"] for e in listing.json] == sorted(listed)
    assert int(listing.headers["X-Total-Count"]) == len(listing.json)

    assert registry.call("DELETE", f"{prefix}/{info_hash}").json == {"status": "ok"}
    assert registry.qbit_info(info_hash) == []
    _json_error(registry.call("GET", f"{prefix}/{info_hash}"), 404)
    _json_error(registry.call("DELETE", f"{prefix}/{info_hash}"), 404)


def test_flag_blocks_every_add_and_only_unflagging_lifts_it(registry: Registry) -> None:
    info_hash = registry.hash()
    assert registry.call("POST", f"/t/{info_hash}").json == {"status": "ok"}
    assert registry.qbit_info(info_hash)
    flagged = registry.call("POST", f"/t/{info_hash}", {"is_flagged": True})
    assert flagged.status_code == 200
    assert flagged.json == {
        "info_hash": info_hash, "is_flagged": True, "completed": 0, "seeders": 0,
        "leechers": 0, "peers": [], "files": [], "health": None, "health_reason": None,
        "state": None, "progress": None, "size": None, "provider": None, "added_on": None,
        "completed_on": None}
    assert registry.qbit_info(info_hash) == []          # the copy is gone
    listed = [e for e in registry.call("GET", "/t").json if e["info_hash"] == info_hash]
    assert listed == [{k: v for k, v in flagged.json.items()
                       if k not in ("files", "peers", "health", "health_reason")}]

    # every add path refuses it
    assert registry.qbit.post("/api/v2/torrents/add", data={
        "urls": magnet(info_hash, "Again")}).text == "Fails."
    body = _json_error(registry.call("POST", f"/t/{info_hash}", {}), 403)
    assert "blocked" in body["reason"]
    library = registry.app.extensions["debridge"].library
    [result] = library.add_each([parse_magnet(magnet(info_hash, "Lib"))], AddOptions())
    assert result.status is AddStatus.BLOCKED
    assert registry.qbit_info(info_hash) == []

    # flagging again is harmless; DELETE keeps the block
    assert registry.call("POST", f"/t/{info_hash}", {"is_flagged": True}).json["is_flagged"]
    assert registry.call("DELETE", f"/t/{info_hash}").json == {"status": "ok"}
    assert registry.call("GET", f"/t/{info_hash}").json["is_flagged"] is True
    assert registry.qbit.post("/api/v2/torrents/add", data={
        "urls": magnet(info_hash, "Again")}).text == "Fails."

    # unflagging lifts the block and adds nothing
    assert registry.call("POST", f"/t/{info_hash}", {"is_flagged": False}).json == \
        {"status": "ok"}
    _json_error(registry.call("GET", f"/t/{info_hash}"), 404)
    assert registry.qbit_info(info_hash) == []
    assert info_hash not in {e["info_hash"] for e in registry.call("GET", "/t").json}
    assert registry.call("POST", f"/t/{info_hash}").json == {"status": "ok"}
    assert registry.qbit_info(info_hash)[0]["hash"] == info_hash


def test_flag_an_unknown_hash_and_unflag_an_unknown_one(registry: Registry) -> None:
    unknown = random_hash()
    before = registry.total()
    assert registry.call("POST", f"/api/t/{unknown.upper()}",
                         {"is_flagged": True}).json["info_hash"] == unknown
    assert registry.total() == before + 1               # listed, as UDPT lists flagged ones
    assert registry.call("POST", f"/t/{unknown}", {"is_flagged": False}).json == \
        {"status": "ok"}
    assert registry.total() == before
    never = random_hash()
    assert registry.call("POST", f"/t/{never}", {"is_flagged": False}).json == {"status": "ok"}
    _json_error(registry.call("GET", f"/t/{never}"), 404)


def test_a_hash_the_provider_refuses_is_an_error_and_not_kept(registry: Registry) -> None:
    info_hash = registry.hash(infringing=True)
    body = _json_error(registry.call("POST", f"/t/{info_hash}"), 422)
    assert info_hash in body["reason"]
    wait_until(lambda: registry.qbit_info(info_hash) == [], 10, what="removal")


# -- credentials ----------------------------------------------------------------------------
def _routes(registry: Registry) -> list[tuple[str, str, Any, Callable[[Any], bool]]]:
    """(method, path, body, success) for each route; the writes use a flagged hash, so no
    provider work is needed."""
    flagged = random_hash()
    registry.call("POST", f"/t/{flagged}", {"is_flagged": True})
    return [
        ("GET", "", None, lambda r: isinstance(r.json, list) and "X-Total-Count" in r.headers),
        ("GET", f"/{flagged}", None, lambda r: r.json["is_flagged"] is True),
        ("POST", f"/{flagged}", json.dumps({"is_flagged": True}),
         lambda r: r.json["info_hash"] == flagged),
        ("DELETE", f"/{flagged}", None, lambda r: r.json == {"status": "ok"}),
    ]


@pytest.mark.parametrize("form", AUTH_FORMS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_every_route_takes_every_credential_form(registry: Registry, form: str,
                                                 prefix: str) -> None:
    query, headers = AUTH_FORMS[form]
    for method, path, body, ok in _routes(registry):
        response = registry.client.open(f"{prefix}{path}{query}", method=method, data=body,
                                        headers=headers)
        assert response.status_code == 200, (method, path, response.text)
        assert ok(response), (method, path, response.json)
    added = registry.hash()
    response = registry.client.post(f"{prefix}/{added}{query}", headers=headers)
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize("form", WRONG_FORMS)
@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_wrong_key_is_401_json_and_changes_nothing(registry: Registry, form: str,
                                                     prefix: str) -> None:
    query, headers = WRONG_FORMS[form]
    target = random_hash()
    env = {"REMOTE_ADDR": "10.1.2.3"}
    for method, path, body in [("GET", "", None), ("GET", f"/{target}", None),
                               ("POST", f"/{target}", '{"is_flagged": true}'),
                               ("POST", f"/{target}", ""), ("DELETE", f"/{target}", None)]:
        response = registry.client.open(f"{prefix}{path}{query}", method=method, data=body,
                                        headers=headers, environ_base=env)
        _json_error(response, 401)
        assert "Bearer" in response.headers["WWW-Authenticate"]
    _json_error(registry.call("GET", f"/t/{target}"), 404)        # neither flagged nor added


# -- bad input ------------------------------------------------------------------------------
BAD_HASHES = ["xyz", "0" * 39, "0" * 41, "g" * 40, "A" * 31, "A" * 33, "1" * 32, "0" * 40 + "%0A",
              "%20" + "0" * 40, "0" * 20 + "%00" + "0" * 19, "%EF%BC%90" * 40]
BAD_PAGES = ["offset=-1", "limit=-1", "offset=x", "limit=x", f"offset={10**30}",
             f"limit={10**30}", "limit=1.5", "offset=1e3", "limit=%2B5", "limit=%205",
             "limit=%EF%BC%95", "offset=0x10", "limit=" + "9" * 400]
BAD_BODIES = ["{", "is_flagged=true", b"\xff\xfe\x00", "[" * 3000, "[]", "null", "1",
              '"x"', "true", '{"is_flagged": 1}', '{"is_flagged": 0}', '{"is_flagged": "true"}',
              '{"is_flagged": null}', '{"is_flagged": []}', '{"is_flaged": true}',
              '{"is_flagged": true, "is_flagged": false}', '{"is_flagged": NaN}',
              '{"is_flagged": false, "pad": "' + "x" * 5000 + '"}', b"{}" + b" " * 5000]


@pytest.mark.parametrize("bad", BAD_HASHES)
def test_a_malformed_hash_is_400_json(registry: Registry, bad: str) -> None:
    before = registry.total()
    for method, body in [("GET", None), ("DELETE", None), ("POST", ""),
                         ("POST", '{"is_flagged": true}')]:
        for prefix in PREFIXES:
            _json_error(registry.call(method, f"{prefix}/{bad}", body), 400)
    assert registry.total() == before


@pytest.mark.parametrize("query", BAD_PAGES)
def test_bad_paging_is_400_json(registry: Registry, query: str) -> None:
    for prefix in PREFIXES:
        body = _json_error(registry.call("GET", f"{prefix}?{query}"), 400)
        assert "whole number" in body["reason"]


@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
@pytest.mark.parametrize("content_type", ["application/json",
                                          "application/x-www-form-urlencoded"])
def test_a_bad_body_is_400_json_and_changes_nothing(registry: Registry, body: str | bytes,
                                                    content_type: str) -> None:
    info_hash = registry.hash()
    before = registry.total()
    for prefix in PREFIXES:
        _json_error(registry.call("POST", f"{prefix}/{info_hash}", body,
                                  **{"Content-Type": content_type}), 400)
    assert registry.total() == before
    _json_error(registry.call("GET", f"/t/{info_hash}"), 404)
    assert registry.qbit_info(info_hash) == []


def test_a_body_past_the_server_limit_is_json(registry: Registry) -> None:
    info_hash = random_hash()
    response = registry.call("POST", f"/t/{info_hash}", b"{" + b" " * (65 << 20) + b"}")
    assert response.status_code in (400, 413)
    _json_error(response, response.status_code)
    _json_error(registry.call("GET", f"/t/{info_hash}"), 404)


@pytest.mark.parametrize(("method", "path", "status"), [
    ("PUT", "/t/" + "0" * 40, 405), ("PATCH", "/api/t/" + "0" * 40, 405),
    ("POST", "/t", 405), ("DELETE", "/api/t/", 405), ("GET", "/t/" + "0" * 40 + "/x", 404),
    ("GET", "/api/t/a/b", 404)])
def test_other_methods_and_paths_are_json(registry: Registry, method: str, path: str,
                                          status: int) -> None:
    _json_error(registry.call(method, path), status)


# -- UDPT's documented curl commands, run as written (host and port changed) ----------------
def _curl(registry: Registry, command: str, cwd: Path) -> Any:
    command = command.replace("127.0.0.1:1212", f"127.0.0.1:{registry.port}")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60,
                          env=env, cwd=cwd, check=True)
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_udpts_documented_curl_examples_work_verbatim(registry: Registry,
                                                      tmp_path: Path) -> None:
    info_hash = registry.hash()
    url = f"http://127.0.0.1:1212/t/{info_hash}?token=MyAccessToken"
    # add: UDPT's empty payload, as a bare curl POST
    assert _curl(registry, f"curl -X POST {url}", tmp_path) == {"status": "ok"}
    listing = _curl(registry, "curl http://127.0.0.1:1212/t/?token=MyAccessToken", tmp_path)
    assert info_hash in {e["info_hash"] for e in listing}
    assert {"info_hash", "is_flagged", "completed", "seeders", "leechers"} <= set(listing[0])
    entry = _curl(registry, f"curl {url}", tmp_path)
    assert entry["info_hash"] == info_hash
    assert entry["peers"] == []
    unflag = f'curl -X POST {url} -d "{{\\"is_flagged\\": false}}"'
    assert _curl(registry, unflag + ' -H "Content-Type: application/json"', tmp_path) == \
        {"status": "ok"}
    assert _curl(registry, unflag, tmp_path) == {"status": "ok"}    # sent as a form: JSON too
    assert _curl(registry, f"curl -X DELETE {url}", tmp_path) == {"status": "ok"}
    flag = f'curl -X POST {url} -d "{{\\"is_flagged\\": true}}" ' \
        '-H "Content-Type: application/json"'
    flagged = _curl(registry, flag, tmp_path)
    assert {k: flagged[k] for k in ("info_hash", "is_flagged", "completed", "seeders",
                                    "leechers", "peers")} == {
        "info_hash": info_hash, "is_flagged": True, "completed": 0, "seeders": 0,
        "leechers": 0, "peers": []}
    assert _curl(registry, f"curl {url}", tmp_path)["is_flagged"] is True
    wrong = _curl(registry, f"curl {shlex.quote(url.replace('MyAccessToken', 'x'))}", tmp_path)
    assert (wrong["status"], wrong["code"]) == ("err", 401)
