"""Hostile input to every /api/v2 endpoint: never a 5xx, and a rejected request changes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import encode_multipart

from app import create_app, stop_app
from qbit_compat import endpoints
from tests.conftest import make_settings
from tests.helpers import PASSWORD, magnet

API = "/api/v2"
ENDPOINTS = endpoints()
PARAMS = ("hashes", "hash", "urls", "category", "savePath", "savepath", "tags", "tag",
          "deleteFiles", "filter", "sort", "reverse", "limit", "offset", "indexes",
          "ratioLimit", "seedingTimeLimit", "inactiveSeedingTimeLimit", "value", "paused",
          "rename", "username", "password", "categories", "json", "rid")
HOSTILE = ["", " ", "x" * 200_000, "\x00", "../../etc/passwd", "/etc", "日本語\u202e", "-1",
           "99999999999999999999999999", "1e309", "NaN", "all", "|||", "%00%2e%2e",
           "<script>alert(1)</script>", "true", "magnet:?xt=urn:btih:" + "z" * 40,
           "magnet:?xt=urn:btih:" + "a" * 40 + "&dn=" + "\x00" * 10, "a\r\nSet-Cookie: x=1"]
BASE_HASH = "ab" * 20


def _snapshot(app: Flask) -> Any:
    """What a request can change (the engine's own progress through states is left out)."""
    library = app.extensions["debridge"].library
    torrents = [(t.hash, t.name, t.category, t.tags, t.paused, t.save_path, t.ratio_limit,
                 t.seeding_time_limit) for t in library.torrents()]
    return torrents, library.categories(), library.tags()


@pytest.fixture(scope="module", params=["4.6.7", "5.1.4"])
def app(request: pytest.FixtureRequest,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("hostile")
    application = create_app(make_settings(tmp, qbit={"add_wait_seconds": 0.5,
                                                      "persona": request.param}))
    try:
        yield application
    finally:
        stop_app(application)


@pytest.fixture(scope="module")
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert client.post(f"{API}/auth/login", data={"username": "admin",
                                                  "password": PASSWORD}).text == "Ok."
    return client


def _baseline(client: FlaskClient) -> None:
    """One paused torrent and one category, recreated when an accepted request removed them."""
    client.post(f"{API}/torrents/createCategory", data={"category": "base"})
    if not client.get(f"{API}/torrents/info?hashes={BASE_HASH}").json:
        assert client.post(f"{API}/torrents/add", data={
            "urls": magnet(BASE_HASH, "Base.Torrent", size=1000), "paused": "true",
            "stopped": "true", "category": "base"}).text == "Ok."
    client.post(f"{API}/torrents/pause", data={"hashes": BASE_HASH})
    client.post(f"{API}/torrents/stop", data={"hashes": BASE_HASH})


def _send(client: FlaskClient, name: str, params: dict[str, str], post: bool,
          upload: bytes | None = None) -> Any:
    if not post:
        return client.get(f"{API}/{name}", query_string=params)
    if upload is None:
        return client.post(f"{API}/{name}", data=params)
    # Encoded here: the test client spools big multipart bodies to a file it never closes.
    fields: dict[str, Any] = {**params, "anyfield": (io.BytesIO(upload), "x.torrent")}
    boundary, body = encode_multipart(fields)
    return client.post(f"{API}/{name}", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _check(app: Flask, client: FlaskClient, name: str, params: dict[str, str],
           upload: bytes | None = None) -> None:
    endpoint = ENDPOINTS[name]
    for post in ((True,) if endpoint.post_only else (False, True)):
        _baseline(client)
        before = _snapshot(app)
        response = _send(client, name, params, post, upload)
        assert response.status_code < 500, (name, params.keys(), response.data[:200])
        assert response.content_type in ("text/plain; charset=UTF-8", "application/json")
        if "\n" in str(response.headers):
            assert "x=1" not in response.headers.get("Set-Cookie", "")
        rejected = response.status_code >= 400 or response.data == b"Fails."
        if rejected:
            assert _snapshot(app) == before, (name, response.status_code)


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_hostile_values_in_every_parameter(app: Flask, client: FlaskClient, name: str) -> None:
    for value in [*HOSTILE, None]:                         # None: every parameter missing
        params = {} if value is None else dict.fromkeys(PARAMS, value)
        if name == "auth/logout":                          # keep the shared session alive
            own = app.test_client()
            own.post(f"{API}/auth/login", data={"username": "admin", "password": PASSWORD})
            _check(app, own, name, params)
        else:
            _check(app, client, name, params)


def test_hostile_uploads(app: Flask, client: FlaskClient) -> None:
    for blob in (b"", b"\x00" * 1000, b"d" * 100_000, b"d4:infod4:name3:abc12:piece lengthi-1ee"
                 b"e", b"x" * (11 * 1024 * 1024)):
        _check(app, client, "torrents/add", {"category": "base"}, upload=blob)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(n for n in ENDPOINTS if n != "auth/logout")),  # above
       params=st.dictionaries(st.sampled_from(PARAMS), st.text(max_size=300), max_size=6))
def test_random_parameters_never_break_the_server(app: Flask, client: FlaskClient, name: str,
                                                  params: dict[str, str]) -> None:
    _check(app, client, name, params)


def test_oversized_request_body_is_refused_cleanly(client: FlaskClient, tmp_path: Path) -> None:
    response = client.post(f"{API}/torrents/add",
                           data={"urls": "x" * (70 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.content_type.startswith("text/plain")
