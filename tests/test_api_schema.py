"""The OpenAPI document (/api/openapi.json): valid, complete, and true of the app.

One app serves the module: a configured API key, the engine running, and a small library
(a movie and a two-file pack, both complete, in `films`). /api/config has an app of its own,
started from a config file without background work: its updates write that file and change
live keys, so before (and after) each of its requests the file is put back and the live
keys set as they started; the library's app never sees a change. Hand-made requests check
every documented answer against the document (schemathesis's checks), then schemathesis
fuzzes every operation in-process (no server, no port) with every check on. The document
as schemathesis loads it, the apps and the helpers are in tests/openapi_support.py.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from flask import Flask

from app import create_app, stop_app
from core.ports.repair import JobState
from core.services import EXTENSION_KEY
from tests.conftest import make_settings
from tests.helpers import PASSWORD, magnet, random_hash, wait_until
from tests.openapi_support import (
    AUTH,
    CHEAP_LOGINS,
    KEY,
    Configured,
    Library,
    answered,
    bound,
    running_configured,
    running_library,
    schema,
)

# one worker: the module's app is made once
pytestmark = pytest.mark.xdist_group("openapi")
SECURITY_FORMS = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "token": {"type": "apiKey", "in": "header", "name": "Authorization"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "apikeyQuery": {"type": "apiKey", "in": "query", "name": "apikey"},
    "tokenQuery": {"type": "apiKey", "in": "query", "name": "token"},
    "basic": {"type": "http", "scheme": "basic"},
}
# The surface the document describes; /api/v2 is qBittorrent's (documented by qBittorrent).
SURFACE = re.compile(r"^/(?:version$|t(?:/|$)|api(?:/|$)(?!v2(?:/|$)))")
IMPLICIT_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    with running_library(tmp_path_factory.mktemp("openapi")) as library:
        yield library


@pytest.fixture(scope="module")
def app(library: Library) -> Flask:
    return library.app


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Configured]:
    with running_configured(tmp_path_factory.mktemp("openapi-config")) as configured:
        yield configured


# -- the document itself ------------------------------------------------------------------------
def test_document_is_valid_openapi_3_needs_no_key_and_is_json(app: Flask) -> None:
    answer = app.test_client().get("/api/openapi.json")
    assert (answer.status_code, answer.mimetype) == (200, "application/json")
    served = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    served.validate()               # against the OpenAPI 3.1 meta-schema
    assert served.raw_schema["openapi"].startswith("3.")
    assert served.raw_schema == schema.raw_schema


def test_document_lists_every_security_form(app: Flask) -> None:
    found = app.test_client().get("/api/openapi.json").json
    schemes = found["components"]["securitySchemes"]
    for name, form in SECURITY_FORMS.items():
        assert {key: schemes[name][key] for key in form} == form
    assert sorted(next(iter(r)) for r in found["security"]) == sorted(SECURITY_FORMS)
    public = {path for path, item in found["paths"].items()
              if all(op.get("security") == [] for method, op in item.items()
                     if method != "parameters")}
    assert public == {"/version", "/api/openapi.json"}


def _openapi_path(rule: str) -> str:
    """A werkzeug rule as an OpenAPI path: <conv:name> is {name}; a trailing '/' dropped (the
    routes take both forms: app.url_map.strict_slashes is off)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule).rstrip("/") or "/"


def test_every_route_of_the_surface_is_documented(app: Flask) -> None:
    routes = {(method.lower(), _openapi_path(rule.rule))
              for rule in app.url_map.iter_rules() if SURFACE.match(rule.rule)
              for method in (rule.methods or set()) - IMPLICIT_METHODS}
    paths = app.test_client().get("/api/openapi.json").json["paths"]
    documented = {(method, path) for path, item in paths.items() for method in item
                  if method != "parameters"}
    assert sorted(routes - documented) == [], "routes missing from api/openapi.yaml"
    assert sorted(documented - routes) == [], "api/openapi.yaml documents no such route"


# -- every documented answer, on real data --------------------------------------------------
def test_the_torrent_routes_answer_as_documented(library: Library) -> None:
    new = random_hash()
    answered(library, "/api/torrents", "GET", 200)
    both = answered(library, "/api/torrents", "GET", 200,
                   query={"hash": [f"{library.movie}|{library.pack}"]})
    assert {v["hash"] for v in both.json()} == {library.movie, library.pack}
    answered(library, "/api/torrents", "GET", 200, query={"category": "films"})
    answered(library, "/api/torrents", "GET", 400, query={"hash": ["not-a-hash"]})
    answered(library, "/api/torrents", "GET", 400, query={"hash": [", |"]})    # names none
    answered(library, "/api/torrents", "GET", 404, query={"hash": [new]})
    items = answered(library, "/api/add", "POST", 200, media_type="application/json", body={
        "urls": [magnet(new, "New", 1 << 20), magnet(library.movie, "Movie"), "junk"],
        "category": "films", "downloadUncached": False}).json()
    assert [i["status"] for i in items] == ["added", "exists", "error"]
    answered(library, "/api/add", "POST", 200, media_type="application/x-www-form-urlencoded",
            body={"urls": magnet(random_hash(), "Form"), "action": "download"})
    answered(library, "/api/add", "POST", 400, media_type="application/json", body={"urls": []})
    answered(library, "/api/add", "POST", 400, media_type="application/json",
            body={"url": "x", "action": "symlink"})
    answered(library, "/api/torrents", "DELETE", 200, query={"hash": [new], "deleteFiles": "true",
                                                             "removeFromDebrid": "1"})
    answered(library, "/api/torrents", "DELETE", 404, query={"hash": [new]})
    answered(library, "/api/torrents", "DELETE", 400, query={"category": "films",
                                                            "deleteFiles": "maybe"})
    answered(library, "/api/refresh-token", "POST", 409)
    answered(library, "/version", "GET", 200, headers={"X-Api-Key": ""})
    answered(library, "/api/torrents", "GET", 401, headers={"X-Api-Key": "wrong"})


def test_the_browse_routes_answer_as_documented(library: Library) -> None:
    answered(library, "/api/browse", "GET", 200)
    for group in ("__all__", "__bad__", "films"):
        answered(library, "/api/browse/{group}", "GET", 200, path_parameters={"group": group})
    answered(library, "/api/browse/{group}", "GET", 200, path_parameters={"group": "films"},
            query={"offset": 1, "limit": 1})
    for page in ({"limit": 0}, {"offset": -1}, {"offset": "1_0"}, {"offset": "9" * 5000}):
        answered(library, "/api/browse/{group}", "GET", 400, path_parameters={"group": "films"},
                query=page)
    answered(library, "/api/browse/{group}", "GET", 404, path_parameters={"group": "nope"})
    pack = answered(library, "/api/browse/{group}/{torrent}", "GET", 200,
                   path_parameters={"group": "films", "torrent": library.pack_name}).json()
    assert [f["path"] for f in pack["files"]] == ["Season/e02.mkv", "e01.mkv"]
    answered(library, "/api/browse/{group}/{torrent}", "GET", 404,
            path_parameters={"group": "films", "torrent": "nope"})
    download = "/api/browse/download/{torrent}/{file}"
    where = {"torrent": library.pack_name, "file": "Season/e02.mkv"}
    assert pack["files"][0]["download"] == \
        f"/api/browse/download/{quote(library.pack_name)}/Season/e02.mkv"
    whole = answered(library, download, "GET", 200, path_parameters=where)
    assert len(whole.content) == 1 << 20
    etag = whole.headers["etag"][0]
    part = answered(library, download, "GET", 206, path_parameters=where,
                   headers={"Range": "bytes=10-19"})
    assert part.content == whole.content[10:20]
    answered(library, download, "GET", 304, path_parameters=where,
            headers={"If-None-Match": etag})
    answered(library, download, "GET", 412, path_parameters=where,
            headers={"If-Match": '"other"'})
    answered(library, download, "GET", 416, path_parameters=where,
            headers={"Range": "bytes=99999999-"})
    answered(library, download, "GET", 404, path_parameters={**where, "file": "nope.mkv"})


def test_the_registry_routes_answer_as_documented(library: Library) -> None:
    for prefix in ("/t", "/api/t"):
        listing = answered(library, prefix, "GET", 200)
        assert int(listing.headers["x-total-count"][0]) >= 2
        assert {library.movie, library.pack} <= {e["info_hash"] for e in listing.json()}
        page = answered(library, prefix, "GET", 200, query={"offset": 1, "limit": 1})
        assert len(page.json()) == 1
        answered(library, prefix, "GET", 200, query={"offset": "", "limit": ""})
        for bad in ({"offset": -1}, {"limit": "1e3"}, {"offset": "9" * 20}):
            answered(library, prefix, "GET", 400, query=bad)
        one = f"{prefix}/{{info_hash}}"
        entry = answered(library, one, "GET", 200,
                        path_parameters={"info_hash": library.pack.upper()}).json()
        assert (entry["completed"], len(entry["files"]), entry["peers"]) == (1, 2, [])
        answered(library, one, "GET", 400, path_parameters={"info_hash": "not-a-hash"})
        new = random_hash()
        for method in ("GET", "DELETE"):
            answered(library, one, method, 404, path_parameters={"info_hash": new})
        flagged = answered(library, one, "POST", 200, path_parameters={"info_hash": new},
                          media_type="application/json", body={"is_flagged": True}).json()
        assert (flagged["is_flagged"], flagged["state"], flagged["files"]) == (True, None, [])
        listed = answered(library, prefix, "GET", 200).json()
        assert [e["state"] for e in listed if e["info_hash"] == new] == [None]
        answered(library, one, "POST", 403, path_parameters={"info_hash": new})
        answered(library, one, "POST", 403, path_parameters={"info_hash": new},
                media_type="application/json", body={})
        answered(library, one, "DELETE", 200, path_parameters={"info_hash": new})  # flag stays
        answered(library, one, "POST", 200, path_parameters={"info_hash": new},
                media_type="application/json", body={"is_flagged": False})
        answered(library, one, "GET", 404, path_parameters={"info_hash": new})
        for bad_body in ({"is_flagged": 1}, {"flag": True}, [], "x"):
            answered(library, one, "POST", 400, path_parameters={"info_hash": new},
                    media_type="application/json", body=bad_body)
        answered(library, one, "POST", 200, path_parameters={"info_hash": new})    # adds it
        answered(library, one, "DELETE", 200, path_parameters={"info_hash": new})
        answered(library, one, "DELETE", 404, path_parameters={"info_hash": new})
        answered(library, prefix, "GET", 401, headers={"X-Api-Key": "wrong"})
        answered(library, one, "POST", 401, path_parameters={"info_hash": new},
                headers={"X-Api-Key": "wrong"})


def test_the_config_routes_answer_as_documented(library: Library,
                                                configured: Configured) -> None:
    try:
        shown = answered(configured, "/api/config", "GET", 200).json()
        assert shown["auth"]["api_key"] == "********"
        for body in ({"log_level": "debug"}, {"server.port": 9000, "query_tokens": False},
                     shown, {}):
            answered(configured, "/api/config", "POST", 200, media_type="application/json",
                    body=body)
        configured.reset()
        for body in ({"server.port": "x"}, {"port": 1}, {"colour": 1}, [], {"providers": {}},
                     {"hooks.on_complete": [{"type": "http", "url": "http://h:x/"}]}):
            answered(configured, "/api/config", "POST", 400, media_type="application/json",
                    body=body)
        answered(configured, "/api/config", "GET", 401, headers={"X-Api-Key": "wrong"})
        answered(configured, "/api/config", "POST", 401, headers={"X-Api-Key": "wrong"},
                media_type="application/json", body={"log_level": "debug"})
        configured.path.write_text('{"server": ')                   # broken by hand
        answered(configured, "/api/config", "POST", 409, media_type="application/json",
                body={"log_level": "debug"})
    finally:
        configured.reset()
    # the library's settings came from no file: they cannot be changed here
    answered(library, "/api/config", "POST", 409, media_type="application/json",
            body={"log_level": "debug"})


def test_a_provider_refusal_answers_as_documented(tmp_path: Path) -> None:
    """A hash the provider refuses within the add wait: 422 (the engine runs; the sandbox
    refuses an infringing torrent)."""
    application = create_app(make_settings(tmp_path, auth={"api_key": KEY}))
    try:
        info_hash = random_hash()
        admin = f"http://127.0.0.1:{application.extensions[EXTENSION_KEY].settings['sandbox.port']}"
        requests.post(f"{admin}/__admin/seed", timeout=5, json={
            "hash": info_hash, "name": "Refused", "infringing": True,
            "files": [{"path": "Refused.mkv", "bytes": 1 << 20}]}).raise_for_status()
        case = bound(schema["/t/{info_hash}"]["POST"].Case(
            headers=AUTH, path_parameters={"info_hash": info_hash}), application)
        response = case.call_and_validate()
        assert response.status_code == 422, response.text
    finally:
        stop_app(application)


def test_the_crossseed_routes_answer_as_documented(library: Library) -> None:
    link = "https://tracker.example/dl/1?passkey=x"
    announce = {"name": "Movie (2020)", "guid": link, "link": link, "tracker": "Example"}
    done = answered(library, "/api/announce", "POST", 200, media_type="application/json",
                   body={**announce, "infoHash": library.movie, "size": 2 << 20}).json()
    assert done["hash"] == library.movie
    answered(library, "/api/announce", "POST", 200,
            media_type="application/x-www-form-urlencoded",
            body={**announce, "infoHash": library.movie.upper()})
    answered(library, "/api/announce", "POST", 204, media_type="application/json",
            body={**announce, "guid": "https://tracker.example/dl/2"})     # nothing fetched
    answered(library, "/api/announce", "POST", 400, media_type="application/json",
            body={**announce, "link": "ftp://tracker.example/1"})
    answered(library, "/api/announce", "POST", 401, media_type="application/json",
            body=announce, headers={"X-Api-Key": "wrong"})
    pack = next(t for t in library.client.get("/api/torrents", headers=AUTH).json
                if t["hash"] == library.pack)
    answered(library, "/api/webhook", "POST", 204, media_type="application/json",
            body={"infoHash": library.movie})
    answered(library, "/api/webhook", "POST", 204,
            media_type="application/x-www-form-urlencoded", body={"path": pack["content_path"]})
    answered(library, "/api/webhook", "POST", 404, media_type="application/json",
            body={"infoHash": random_hash()})
    answered(library, "/api/webhook", "POST", 400, media_type="application/json",
            body={"infoHash": library.movie, "path": "/x"})
    wait_until(lambda: {v["state"] for v in library.client.get(
        "/api/torrents", headers=AUTH).json if v["hash"] in (library.movie, library.pack)}
        == {"completed"}, 40, what="the checks")


def _finished(library: Library, job_id: int) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        job = library.client.get(f"/api/repair/jobs/{job_id}", headers=AUTH).json
        return job if job["status"] not in ("scanning", "processing") else None
    return wait_until(done, 30, what=f"repair job {job_id}")


def test_the_repair_routes_answer_as_documented(library: Library) -> None:
    """A scan of the library (sound: nothing broken), its job's every route, and a pending
    job (put so in the store: the library has nothing to repair) processed and stopped."""
    jobs = "/api/repair/jobs/{job_id}"
    store = library.app.extensions[EXTENSION_KEY].repair.store
    job = answered(library, "/api/repair", "POST", 202, media_type="application/json",
                   body={"mediaIds": [library.movie.upper()], "dryRun": True}).json()
    assert (job["status"], job["media_ids"], job["dry_run"]) == ("scanning", [library.movie],
                                                                 True)
    done = _finished(library, job["id"])
    assert (done["status"], done["summary"]["checked"], done["broken_items"]) == \
        ("completed", 1, [])
    status = answered(library, "/api/repair/status", "GET", 200).json()
    assert (status["running"], status["last_run"]["id"]) == (None, job["id"])
    listed = answered(library, "/api/repair/jobs", "GET", 200).json()
    assert listed[0]["id"] == job["id"]
    where = {"job_id": job["id"]}
    answered(library, jobs, "GET", 200, path_parameters=where)
    # scanning in another (live) process: this one's loop leaves it alone
    store.update_repair_job(job["id"], state=JobState.SCANNING, owner="elsewhere:1:oas",
                            finished=0.0)
    assert answered(library, "/api/repair/status", "GET", 200).json()["running"]["id"] == \
        job["id"]
    answered(library, "/api/repair", "POST", 409, media_type="application/json", body={})
    answered(library, jobs, "DELETE", 409, path_parameters=where)
    answered(library, jobs + "/process", "POST", 409, path_parameters=where)
    answered(library, jobs + "/stop", "POST", 200, path_parameters=where)
    store.update_repair_job(job["id"], state=JobState.COMPLETED, owner="",
                            stop_requested=False, finished=done["finished_at"])
    answered(library, jobs + "/stop", "POST", 409, path_parameters=where)
    answered(library, jobs + "/process", "POST", 409, path_parameters=where)
    store.update_repair_job(job["id"], state=JobState.PENDING, finished=0.0)
    answered(library, jobs + "/stop", "POST", 200, path_parameters=where)
    store.update_repair_job(job["id"], state=JobState.PENDING, finished=0.0)
    processing = answered(library, jobs + "/process", "POST", 202, path_parameters=where)
    assert processing.json()["status"] in ("processing", "completed")   # an empty plan: quick
    assert _finished(library, job["id"])["status"] == "completed"
    answered(library, jobs, "DELETE", 204, path_parameters=where)
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/stop"),
                           ("POST", "/process")):
        answered(library, jobs + suffix, method, 404, path_parameters=where)
    answered(library, "/api/repair", "POST", 400, media_type="application/json",
             body={"arrs": ["nope"]})
    answered(library, "/api/repair", "POST", 400, media_type="application/json",
             body={"mediaIds": [12]})                 # an Arr's id needs `arrs`
    answered(library, "/api/repair", "POST", 400, media_type="application/json",
             body={"dryRun": True, "dry_run": True})
    assert answered(library, "/api/arrs", "GET", 200).json() == []
    answered(library, "/api/arrs", "GET", 401, headers={"X-Api-Key": "wrong"})
    answered(library, "/api/repair", "POST", 401, headers={"X-Api-Key": "wrong"})


def test_refusals_outside_the_fuzzer_answer_as_documented(tmp_path: Path) -> None:
    """A ban (403), a refused Host (400) and a too-big body (413): made with the test client,
    checked by schemathesis."""
    application = create_app(make_settings(tmp_path, auth={"api_key": KEY, "ban_seconds": 60}),
                             start_background=False)
    client = application.test_client()
    banned = {"REMOTE_ADDR": "10.20.30.40"}
    try:
        for _ in range(5):      # auth.max_failed_logins
            assert client.get("/api/browse", headers={"X-Api-Key": "guess"},
                              environ_base=banned).status_code == 401
        answers = [
            ("/api/browse", "GET", 403, client.get("/api/browse", headers=AUTH,
                                                    environ_base=banned)),
            ("/version", "GET", 400, client.get("/version", headers={"Host": "evil.example"})),
            ("/api/torrents", "GET", 400, client.get("/api/torrents", headers={
                **AUTH, "Host": "evil.example"})),
            ("/api/add", "POST", 413, client.post("/api/add", headers=AUTH, data=b"{}",
                                                  content_type="application/json",
                                                  environ_overrides={
                                                      "CONTENT_LENGTH": str(65 << 20)})),
            ("/t", "GET", 403, client.get("/t", headers=AUTH, environ_base=banned)),
            ("/api/config", "GET", 403, client.get("/api/config", headers=AUTH,
                                                   environ_base=banned)),
        ]
        # a body past the route's own limit (4096 bytes; 64 KiB) is a 400, before the
        # server's (64 MiB) could answer 413
        for path, route in (("/t/" + random_hash(), "/t/{info_hash}"),
                            ("/api/config", "/api/config")):
            for length in (65 << 10, 65 << 20):
                answers.append((route, "POST", 400, client.post(
                    path, headers=AUTH, data=b"{}", content_type="application/json",
                    environ_overrides={"CONTENT_LENGTH": str(length)})))
    finally:
        stop_app(application)
    for path, method, status, response in answers:
        assert response.status_code == status, (path, response.text)
        schema[path][method].Case(headers=AUTH).validate_response(response)
    assert answers[0][3].headers["Retry-After"] == "60"


def test_options_answers_204_with_allow_and_no_body(app: Flask) -> None:
    """Flask answers OPTIONS itself: no body, so no media type (every body here is JSON)."""
    for path in ("/api/torrents", "/version", "/api/browse/__all__"):
        answer = app.test_client().options(path, headers=AUTH)
        assert (answer.status_code, answer.data) == (204, b""), path
        assert "Content-Type" not in answer.headers
        assert "GET" in answer.headers["Allow"]


def test_refresh_token_answers_as_documented(tmp_path: Path) -> None:
    """With the key in the store (no auth.api_key), the key rotates: 200."""
    # schemathesis's checks send wrong keys too (the API must refuse them): no ban
    application = create_app(make_settings(tmp_path, auth=CHEAP_LOGINS), start_background=False)
    try:
        basic = {"Authorization": "Basic " + base64.b64encode(
            f"admin:{PASSWORD}".encode()).decode()}
        case = bound(schema["/api/refresh-token"]["POST"].Case(headers=basic), application)
        key = case.call_and_validate().json()["api_token"]
        again = bound(schema["/api/refresh-token"]["POST"].Case(
            headers={"X-Api-Key": key}), application).call_and_validate()
        assert again.status_code == 200
        assert again.json()["api_token"] != key
    finally:
        stop_app(application)


# -- schemathesis, on every operation ------------------------------------------------------
@schema.parametrize()
def test_schemathesis_finds_no_failure(case: Any, app: Flask, configured: Configured) -> None:
    settings_case = case.path == "/api/config"
    target = configured.app if settings_case else app
    # the wrong keys of the last case's checks (the API must refuse them) ban no one
    target.extensions[EXTENSION_KEY].authenticator.store.lift_bans()
    if settings_case:
        configured.reset()
    try:
        response = bound(case, target).call_and_validate()
    finally:
        if settings_case:
            configured.reset()
    # (a 403 for a flagged hash, POST /t/{info_hash}, says something)
    assert response.status_code != 403 or "is blocked" in response.text, \
        "banned: the answers say nothing of the operation"
