"""The OpenAPI document (/api/openapi.json): valid, complete, and true of the app.

One app serves the module: a configured API key, the engine running, and a small library
(a movie and a two-file pack, both complete, in `films`). Hand-made requests check every
documented answer against the document (schemathesis's checks), then schemathesis fuzzes
every operation in-process (no server, no port) with every check on.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from flask import Flask
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData
from werkzeug.security import generate_password_hash

from api.openapi import document
from app import create_app, stop_app
from core.errors import FetchFailed
from core.naming import category_is_valid
from core.schema import default_config
from core.services import EXTENSION_KEY
from tests.conftest import make_settings
from tests.helpers import PASSWORD, magnet, make_torrent, random_hash, wait_until

# one worker: the module's app is made once
pytestmark = pytest.mark.xdist_group("openapi")
KEY = "oas-" + "0123456789abcdef" * 2
AUTH = {"X-Api-Key": KEY}
# schemathesis sends many wrong keys and Basic passwords: no ban, and a password hash that
# is cheap to check
CHEAP_LOGINS = {"max_failed_logins": 1000,
                "password": generate_password_hash(PASSWORD, "pbkdf2:sha256:1")}
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

# A category as the add routes take it (AddCategory's format): qBittorrent's rule.
schemathesis.openapi.format(
    "category", st.text(min_size=1, max_size=40).filter(lambda c: category_is_valid(c.strip())))

CONFIG = schemathesis.Config.from_dict({
    "seed": 20261123,
    "generation": {"max-examples": 20, "deterministic": True},
    "checks": {"enabled": True},
    "auth": {"openapi": {"apiKeyHeader": {"api_key": KEY}}},
})
# The document the app serves (its downloads.action is the default), loaded when the module
# is: schemathesis's lazy (fixture) loader does not run under pytest 9.2.
schema = schemathesis.openapi.from_dict(document(default_config()["downloads"]["action"]),
                                        config=CONFIG)


class NoFetch:
    """The announce's .torrent fetcher, going nowhere."""

    def fetch(self, url: str, *, cookie: str = "") -> Any:
        raise FetchFailed("no fetching in this test")


class Library:
    """The module's app and what it holds."""

    def __init__(self, app: Flask, tmp: Path) -> None:
        self.app = app
        self.client = app.test_client()
        self.movie = random_hash()
        data, self.pack = make_torrent(tmp, "Show S01", {"e01.mkv": 1 << 20,
                                                          "Season/e02.mkv": 1 << 20})
        added = self.client.post("/api/add", headers=AUTH, data={
            "urls": magnet(self.movie, "Movie (2020)", 2 << 20), "category": "films",
            "file": (io.BytesIO(data), "show.torrent", "application/x-bittorrent")},
            content_type="multipart/form-data")
        assert [i["status"] for i in added.json] == ["added", "added"], added.json
        wait_until(lambda: {v["state"] for v in self.client.get(
            "/api/torrents", headers=AUTH).json} == {"completed"}, 40, what="completion")
        self.pack_name = next(t["name"] for t in self.client.get(
            "/api/browse/films", headers=AUTH).json["torrents"] if t["hash"] == self.pack)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    tmp = tmp_path_factory.mktemp("openapi")
    # announces answer at once, fetch nothing (the fuzzer's links name hosts anywhere), and
    # a made-up hash the sandbox would fill with gigabytes selects nothing
    settings = make_settings(tmp, qbit={"add_wait_seconds": 0.0},
                             auth={"api_key": KEY, **CHEAP_LOGINS},
                             api={"announce_wait_seconds": 0.0},
                             selection={"max_file_mb": 10.0})
    application = create_app(settings)
    application.extensions[EXTENSION_KEY].announcer.fetcher = NoFetch()
    try:
        yield Library(application, tmp)
    finally:
        stop_app(application)


@pytest.fixture(scope="module")
def app(library: Library) -> Flask:
    return library.app


def _bound(case: Any, app: Flask) -> Any:
    """The case, sent to `app` (the schema was loaded before the app was made)."""
    case.operation.app = case.operation.schema.app = app
    return case


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
              if all(op.get("security") == [] for op in item.values())}
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
def _answer(library: Library, path: str, method: str, status: int, **request: Any) -> Any:
    """Send a hand-made request through schemathesis; every check holds and it answers
    `status`."""
    headers = {**AUTH, **request.pop("headers", {})}
    case = _bound(schema[path][method].Case(headers=headers, **request), library.app)
    response = case.call_and_validate()
    assert response.status_code == status, response.text
    return response


def test_the_torrent_routes_answer_as_documented(library: Library) -> None:
    new = random_hash()
    _answer(library, "/api/torrents", "GET", 200)
    both = _answer(library, "/api/torrents", "GET", 200,
                   query={"hash": [f"{library.movie}|{library.pack}"]})
    assert {v["hash"] for v in both.json()} == {library.movie, library.pack}
    _answer(library, "/api/torrents", "GET", 200, query={"category": "films"})
    _answer(library, "/api/torrents", "GET", 400, query={"hash": ["not-a-hash"]})
    _answer(library, "/api/torrents", "GET", 400, query={"hash": [", |"]})    # names none
    _answer(library, "/api/torrents", "GET", 404, query={"hash": [new]})
    items = _answer(library, "/api/add", "POST", 200, media_type="application/json", body={
        "urls": [magnet(new, "New", 1 << 20), magnet(library.movie, "Movie"), "junk"],
        "category": "films", "downloadUncached": False}).json()
    assert [i["status"] for i in items] == ["added", "exists", "error"]
    _answer(library, "/api/add", "POST", 200, media_type="application/x-www-form-urlencoded",
            body={"urls": magnet(random_hash(), "Form"), "action": "download"})
    _answer(library, "/api/add", "POST", 400, media_type="application/json", body={"urls": []})
    _answer(library, "/api/add", "POST", 400, media_type="application/json",
            body={"url": "x", "action": "symlink"})
    _answer(library, "/api/torrents", "DELETE", 200, query={"hash": [new], "deleteFiles": "true",
                                                             "removeFromDebrid": "1"})
    _answer(library, "/api/torrents", "DELETE", 404, query={"hash": [new]})
    _answer(library, "/api/torrents", "DELETE", 400, query={"category": "films",
                                                            "deleteFiles": "maybe"})
    _answer(library, "/api/refresh-token", "POST", 409)
    _answer(library, "/version", "GET", 200, headers={"X-Api-Key": ""})
    _answer(library, "/api/torrents", "GET", 401, headers={"X-Api-Key": "wrong"})


def test_the_browse_routes_answer_as_documented(library: Library) -> None:
    _answer(library, "/api/browse", "GET", 200)
    for group in ("__all__", "__bad__", "films"):
        _answer(library, "/api/browse/{group}", "GET", 200, path_parameters={"group": group})
    _answer(library, "/api/browse/{group}", "GET", 200, path_parameters={"group": "films"},
            query={"offset": 1, "limit": 1})
    for page in ({"limit": 0}, {"offset": -1}, {"offset": "1_0"}, {"offset": "9" * 5000}):
        _answer(library, "/api/browse/{group}", "GET", 400, path_parameters={"group": "films"},
                query=page)
    _answer(library, "/api/browse/{group}", "GET", 404, path_parameters={"group": "nope"})
    pack = _answer(library, "/api/browse/{group}/{torrent}", "GET", 200,
                   path_parameters={"group": "films", "torrent": library.pack_name}).json()
    assert [f["path"] for f in pack["files"]] == ["Season/e02.mkv", "e01.mkv"]
    _answer(library, "/api/browse/{group}/{torrent}", "GET", 404,
            path_parameters={"group": "films", "torrent": "nope"})
    download = "/api/browse/download/{torrent}/{file}"
    where = {"torrent": library.pack_name, "file": "Season/e02.mkv"}
    assert pack["files"][0]["download"] == \
        f"/api/browse/download/{quote(library.pack_name)}/Season/e02.mkv"
    whole = _answer(library, download, "GET", 200, path_parameters=where)
    assert len(whole.content) == 1 << 20
    etag = whole.headers["etag"][0]
    part = _answer(library, download, "GET", 206, path_parameters=where,
                   headers={"Range": "bytes=10-19"})
    assert part.content == whole.content[10:20]
    _answer(library, download, "GET", 304, path_parameters=where,
            headers={"If-None-Match": etag})
    _answer(library, download, "GET", 412, path_parameters=where,
            headers={"If-Match": '"other"'})
    _answer(library, download, "GET", 416, path_parameters=where,
            headers={"Range": "bytes=99999999-"})
    _answer(library, download, "GET", 404, path_parameters={**where, "file": "nope.mkv"})


def test_the_crossseed_routes_answer_as_documented(library: Library) -> None:
    link = "https://tracker.example/dl/1?passkey=x"
    announce = {"name": "Movie (2020)", "guid": link, "link": link, "tracker": "Example"}
    done = _answer(library, "/api/announce", "POST", 200, media_type="application/json",
                   body={**announce, "infoHash": library.movie, "size": 2 << 20}).json()
    assert done["hash"] == library.movie
    _answer(library, "/api/announce", "POST", 200,
            media_type="application/x-www-form-urlencoded",
            body={**announce, "infoHash": library.movie.upper()})
    _answer(library, "/api/announce", "POST", 204, media_type="application/json",
            body={**announce, "guid": "https://tracker.example/dl/2"})     # nothing fetched
    _answer(library, "/api/announce", "POST", 400, media_type="application/json",
            body={**announce, "link": "ftp://tracker.example/1"})
    _answer(library, "/api/announce", "POST", 401, media_type="application/json",
            body=announce, headers={"X-Api-Key": "wrong"})
    pack = next(t for t in library.client.get("/api/torrents", headers=AUTH).json
                if t["hash"] == library.pack)
    _answer(library, "/api/webhook", "POST", 204, media_type="application/json",
            body={"infoHash": library.movie})
    _answer(library, "/api/webhook", "POST", 204,
            media_type="application/x-www-form-urlencoded", body={"path": pack["content_path"]})
    _answer(library, "/api/webhook", "POST", 404, media_type="application/json",
            body={"infoHash": random_hash()})
    _answer(library, "/api/webhook", "POST", 400, media_type="application/json",
            body={"infoHash": library.movie, "path": "/x"})
    wait_until(lambda: {v["state"] for v in library.client.get(
        "/api/torrents", headers=AUTH).json if v["hash"] in (library.movie, library.pack)}
        == {"completed"}, 40, what="the checks")


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
        ]
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
        case = _bound(schema["/api/refresh-token"]["POST"].Case(headers=basic), application)
        key = case.call_and_validate().json()["api_token"]
        again = _bound(schema["/api/refresh-token"]["POST"].Case(
            headers={"X-Api-Key": key}), application).call_and_validate()
        assert again.status_code == 200
        assert again.json()["api_token"] != key
    finally:
        stop_app(application)


# -- schemathesis, on every operation ------------------------------------------------------
@schema.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """DELETE /api/torrents wants hash or category (or both), which OpenAPI cannot say: its
    400 for neither is not a schema-valid request rejected."""
    return not (case.method == "DELETE" and response.status_code == 400
                and isinstance(failure, RejectedPositiveData)
                and not {"hash", "category"} & set(case.query or {}))


@schema.parametrize()
def test_schemathesis_finds_no_failure(case: Any, app: Flask) -> None:
    # the wrong keys of the last case's checks (the API must refuse them) ban no one
    app.extensions[EXTENSION_KEY].authenticator.store.lift_bans()
    response = _bound(case, app).call_and_validate()
    assert response.status_code != 403, "banned: the answers say nothing of the operation"
