"""What tests/test_api_schema.py runs on: the document loaded for schemathesis (its
configuration, formats and failure filter), the module's two apps, and how a hand-made
request goes through schemathesis's checks."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from core.settings import Settings, load_settings
from server.logs import OPERATOR_LOGGERS
from tests.conftest import make_settings
from tests.helpers import PASSWORD, free_port, magnet, make_torrent, random_hash, wait_until

KEY = "oas-" + "0123456789abcdef" * 2
AUTH = {"X-Api-Key": KEY}
# schemathesis sends many wrong keys and Basic passwords: no ban, and a password hash that
# is cheap to check
CHEAP_LOGINS = {"max_failed_logins": 1000,
                "password": generate_password_hash(PASSWORD, "pbkdf2:sha256:1")}
# A category as the add routes take it (AddCategory's format): qBittorrent's rule.
schemathesis.openapi.format(
    "category", st.text(min_size=1, max_size=40).filter(lambda c: category_is_valid(c.strip())))
# The rules of a settings update the document states but its schema cannot (README).
UNSAYABLE_SETTINGS = ("missing value for 'downloads.mount_path'", "duplicate provider name",
                      "is not a regular expression", "no provider named", "duplicate Arr name",
                      "must be the Arr's API key")
# A repair names Arrs by name, and the library's app has none (GET /api/arrs lists them).
UNSAYABLE_REPAIRS = ("no Arr named",)


CONFIG = schemathesis.Config.from_dict({
    "seed": 20261123,
    "generation": {"max-examples": 20, "deterministic": True},
    "checks": {"enabled": True},
    "auth": {"openapi": {"apiKeyHeader": {"api_key": KEY}}},
    # POST /api/config's coverage phase is thousands of requests (a case per setting, form
    # and boundary): its auth is checked once per request whatever the body, so those cases
    # leave ignored_auth (two more requests each) to its fuzzing phase
    "operations": [{"include-path": "/api/config", "include-method": "POST",
                    "phases": {"coverage": {"checks": {"ignored_auth": {"enabled": False}}}}}],
})
# The document the app serves (its downloads.action is the default), loaded when the module
# is: schemathesis's lazy (fixture) loader does not run under pytest 9.2.
schema = schemathesis.openapi.from_dict(document(default_config()["downloads"]["action"]),
                                        config=CONFIG)


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


@dataclass
class Configured:
    """/api/config's app, from a config file; reset() puts back the file and the live keys."""

    app: Flask
    path: Path
    original: bytes
    started: Settings

    def reset(self) -> None:
        self.path.write_bytes(self.original)
        self.path.with_name(self.path.name + ".bak").unlink(missing_ok=True)
        self.app.extensions[EXTENSION_KEY].config.running.apply(self.started)


class NoFetch:
    """The announce's .torrent fetcher, going nowhere."""

    def fetch(self, url: str, *, cookie: str = "") -> Any:
        raise FetchFailed("no fetching in this test")


@contextmanager
def running_library(tmp: Path) -> Iterator[Library]:
    """The library's app (the engine running), stopped after."""
    # A hash the fuzzer adds to the registry (a bare magnet) is a sandbox torrent of 100 MiB
    # to 2 GiB: selecting no file that large, it fails at once instead of being copied.
    # Announces answer at once and fetch nothing (the fuzzer's links name hosts anywhere).
    settings = make_settings(tmp, qbit={"add_wait_seconds": 0.0},
                             auth={"api_key": KEY, **CHEAP_LOGINS},
                             api={"announce_wait_seconds": 0.0},
                             selection={"max_file_mb": 16})
    application = create_app(settings)
    application.extensions[EXTENSION_KEY].announcer.fetcher = NoFetch()
    try:
        yield Library(application, tmp)
    finally:
        stop_app(application)


@contextmanager
def running_configured(tmp: Path) -> Iterator[Configured]:
    """/api/config's app, from a config file in `tmp`; the logging levels its live changes
    set are put back after."""
    config = default_config()
    config["server"]["data_dir"] = str(tmp / "data")
    config["auth"].update(api_key=KEY, **CHEAP_LOGINS)
    config["sandbox"]["port"] = free_port()
    path = tmp / "config.json"
    path.write_text(json.dumps(config, indent=2))
    loggers = [logging.getLogger(name) for name in ("", *OPERATOR_LOGGERS)]
    levels = [logger.level for logger in loggers]
    started = load_settings(path, environ={})
    application = create_app(started, start_background=False)
    try:
        yield Configured(application, path, path.read_bytes(), started)
    finally:
        stop_app(application)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def bound(case: Any, app: Flask) -> Any:
    """The case, sent to `app` (the schema was loaded before the app was made)."""
    case.operation.app = case.operation.schema.app = app
    return case


def answered(where: Library | Configured, path: str, method: str, status: int,
            **request: Any) -> Any:
    """Send a hand-made request through schemathesis; every check holds and it answers
    `status`."""
    headers = {**AUTH, **request.pop("headers", {})}
    case = bound(schema[path][method].Case(headers=headers, **request), where.app)
    response = case.call_and_validate()
    assert response.status_code == status, response.text
    return response


def unsayable(case: Any, response: Any) -> bool:
    """A 400 the document states but its schema cannot: DELETE /api/torrents wants hash or
    category (or both); a settings update breaks a rule across keys (UNSAYABLE_SETTINGS); a
    repair names an Arr the app does not know (UNSAYABLE_REPAIRS)."""
    if response.status_code != 400:
        return False
    if case.method == "DELETE" and case.path == "/api/torrents":
        return not {"hash", "category"} & set(case.query or {})
    rules = {"/api/config": UNSAYABLE_SETTINGS, "/api/repair": UNSAYABLE_REPAIRS}.get(
        case.path, ()) if case.method == "POST" else ()
    if rules:
        error = json.loads(response.content)["error"]
        return any(rule in error for rule in rules)
    return False


@schema.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Those 400s are not schema-valid requests rejected."""
    return not (isinstance(failure, RejectedPositiveData) and unsayable(case, response))
