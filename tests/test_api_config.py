"""GET and POST /api/config: every setting with secrets masked; a partial update (nested,
dotted or bare keys) validated, written atomically with a backup, applied live or listed for
a restart; a bad value or a bad body changes neither the file nor the running settings."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from app import create_app, stop_app
from core.schema import default_config
from core.settings import load_settings
from server.logs import OPERATOR_LOGGERS
from tests.conftest import make_settings
from tests.helpers import PASSWORD, free_port, start_debridge, wait_until, write_config

KEY = "cfg-key-" + "0123456789abcdef" * 2
PROVIDER_KEY = "provider-secret-4f1c9a"
DOWNLOAD_KEY = "download-secret-77e2b0"
SECRETS = (KEY, PASSWORD, PROVIDER_KEY, DOWNLOAD_KEY)
BEARER = {"Authorization": f"Bearer {KEY}"}
JSON = {**BEARER, "Content-Type": "application/json"}
NO_CHANGE = {"changed": [], "applied": [], "restart_required": [],
             "overridden_by_environment": []}


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _write(tmp_path: Path) -> Path:
    config = default_config()
    config["server"]["data_dir"] = str(tmp_path / "data")
    config["auth"].update(password=PASSWORD, api_key=KEY)
    config["downloads"]["folder"] = str(tmp_path / "downloads")
    config["sandbox"].update(port=free_port(), download_seconds=1.0)
    config["providers"] = [
        {"name": "sandbox", "type": "sandbox", "api_key": PROVIDER_KEY,
         "download_api_keys": [DOWNLOAD_KEY]},
        {"name": "spare", "type": "sandbox"},
    ]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No DEBRIDGE__ variable of the runner's; the logging levels a live change sets are put
    back for the next tests."""
    for var in list(os.environ):
        if var.startswith("DEBRIDGE__"):
            monkeypatch.delenv(var)
    loggers = [logging.getLogger(name) for name in ("", *OPERATOR_LOGGERS)]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


class Configured:
    """An app started from a config file, as `app.py serve` starts each worker."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = _write(tmp_path)
        self.original = self.path.read_bytes()
        self.backup = self.path.with_name("config.json.bak")
        self.app = create_app(load_settings(self.path), start_background=False)
        self.client: FlaskClient = self.app.test_client()

    def file(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())

    def post(self, body: str | bytes, headers: dict[str, str] | None = None) -> Any:
        return self.client.post("/api/config", data=body, headers=JSON if headers is None
                                else headers)

    def get(self) -> dict[str, Any]:
        response = self.client.get("/api/config", headers=BEARER)
        assert response.status_code == 200
        return response.json  # type: ignore[no-any-return]


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Configured]:
    started = Configured(tmp_path)
    try:
        yield started
    finally:
        stop_app(started.app)


# -- GET ----------------------------------------------------------------------------------------
def test_get_is_every_setting_shaped_like_config_json_with_secrets_masked(
        configured: Configured) -> None:
    response = configured.client.get("/api/config", headers=BEARER)
    assert response.status_code == 200
    assert response.is_json
    shown = response.json
    defaults = default_config()
    assert set(shown) == set(defaults)
    for section, values in defaults.items():
        if section != "providers":
            assert set(shown[section]) == set(values), section
    assert shown["server"]["port"] == 8282
    assert shown["auth"]["api_key"] == "********"
    assert shown["auth"]["password"] == "********"
    first, spare = shown["providers"]
    assert first["api_key"] == "********"
    assert first["download_api_keys"] == ["********"]
    assert spare["api_key"] == ""                    # not set: shown as not set
    # as configured, not the built-in sandbox's address start-up filled in
    assert first["base_url"] == ""
    assert spare["base_url"] == ""
    assert not any(secret in response.text for secret in SECRETS)


# -- POST: the three forms --------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    '{"log_level": "debug"}',                        # Decypharr's documented example
    '{"server.log_level": "debug"}',
    '{"server": {"log_level": "debug"}}',
])
def test_each_form_writes_the_file_keeps_a_backup_and_applies_live(
        configured: Configured, body: str) -> None:
    response = configured.post(body)
    assert response.status_code == 200
    assert response.json == {**NO_CHANGE, "changed": ["server.log_level"],
                             "applied": ["server.log_level"]}
    assert configured.file()["server"]["log_level"] == "debug"
    assert configured.backup.read_bytes() == configured.original
    for path in (configured.path, configured.backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert configured.get()["server"]["log_level"] == "debug"
    assert logging.getLogger("core").getEffectiveLevel() == logging.DEBUG
    assert not list(configured.path.parent.glob(".config.json.*"))   # no temporary left
    # the file still loads as it would at the next start
    assert load_settings(configured.path, environ={})["server.log_level"] == "debug"


def test_restart_keys_are_listed_and_live_ones_take_effect_at_once(
        configured: Configured) -> None:
    assert configured.client.get(f"/api/config?apikey={KEY}").status_code == 200
    response = configured.post(json.dumps({
        "server.port": 9000, "qbit": {"persona": "5.1.4"}, "query_tokens": False,
        "qbit.allow_shutdown": False}))                 # already so: not a change
    assert response.json == {**NO_CHANGE,
                             "changed": ["api.query_tokens", "qbit.persona", "server.port"],
                             "applied": ["api.query_tokens"],
                             "restart_required": ["qbit.persona", "server.port"]}
    written = configured.file()
    assert (written["server"]["port"], written["qbit"]["persona"]) == (9000, "5.1.4")
    running = configured.get()
    assert (running["server"]["port"], running["qbit"]["persona"]) == (8282, "4.6.7")
    assert running["api"]["query_tokens"] is False
    refused = configured.client.get(f"/api/config?apikey={KEY}")
    assert refused.status_code == 401
    assert refused.is_json
    # posting the same again changes nothing, and does not rotate the backup
    backup = configured.backup.read_bytes()
    assert configured.post('{"server.port": 9000}').json == NO_CHANGE
    assert configured.backup.read_bytes() == backup


def test_a_masked_secret_posted_back_keeps_it(configured: Configured) -> None:
    everything = configured.get()
    everything["server"]["log_level"] = "warning"
    response = configured.post(json.dumps(everything))    # what a settings page does
    assert response.json["changed"] == ["server.log_level"]
    written = configured.file()
    assert written["auth"]["api_key"] == KEY
    assert written["auth"]["password"] == PASSWORD
    assert written["providers"][0]["api_key"] == PROVIDER_KEY
    assert written["providers"][0]["download_api_keys"] == [DOWNLOAD_KEY]
    # unchanged providers stay as written (no sandbox address baked in: it still starts)
    assert written["providers"] == json.loads(configured.original)["providers"]


def test_a_new_secret_is_written_but_never_answered_or_logged(
        configured: Configured, caplog: pytest.LogCaptureFixture) -> None:
    new_key = "a-brand-new-key-" + "9" * 24
    with caplog.at_level(logging.INFO):
        response = configured.post(json.dumps({"auth.api_key": new_key}))
    assert response.json == {**NO_CHANGE, "changed": ["auth.api_key"],
                             "restart_required": ["auth.api_key"]}
    assert configured.file()["auth"]["api_key"] == new_key
    assert "auth.api_key" in caplog.text
    assert new_key not in caplog.text
    assert new_key not in response.text
    assert new_key not in json.dumps(configured.get())
    assert configured.get()["auth"]["api_key"] == "********"   # the old key still works


def test_providers_are_replaced_as_a_whole_list(configured: Configured) -> None:
    providers = [{"name": "rd", "type": "realdebrid", "api_key": "rd-token-1"},
                 {"name": "sandbox", "type": "sandbox", "api_key": "********"}]
    response = configured.post(json.dumps({"providers": providers}))
    assert response.json == {**NO_CHANGE, "changed": ["providers"],
                             "restart_required": ["providers"]}
    written = configured.file()["providers"]
    assert [p["name"] for p in written] == ["rd", "sandbox"]
    assert written[1]["api_key"] == PROVIDER_KEY              # kept by name, reordered
    assert "rd-token-1" not in response.text
    assert [p["name"] for p in configured.get()["providers"]] == ["sandbox", "spare"]


def test_categories_pin_accounts_as_a_whole_mapping_after_a_restart(
        configured: Configured) -> None:
    refused = configured.post(json.dumps({"categories": {"tv-sonarr": {"providers": ["nope"]}}}))
    assert refused.status_code == 400
    assert "no provider named 'nope'" in refused.json["error"]
    assert "categories" not in configured.file() or configured.file()["categories"] == {}
    pinned = {"tv-sonarr": {"providers": ["spare", "sandbox"]}}
    response = configured.post(json.dumps({"categories": pinned}))
    assert response.json == {**NO_CHANGE, "changed": ["categories"],
                             "restart_required": ["categories"]}
    assert configured.file()["categories"] == pinned
    assert configured.get()["categories"] == {}            # what runs, until the restart
    again = configured.post(json.dumps({"categories": pinned}))
    assert again.json == NO_CHANGE


def test_arrs_are_shown_masked_and_a_masked_key_posted_back_keeps_the_secret(
        configured: Configured) -> None:
    sonarr = {"name": "sonarr", "type": "sonarr", "url": "http://127.0.0.1:8989",
              "api_key": "arr-secret-" + "8" * 20, "categories": ["tv-sonarr"]}
    refused = configured.post(json.dumps({"arrs": [{**sonarr, "type": "plex"}]}))
    assert refused.status_code == 400
    assert "arrs[0].type" in refused.json["error"]
    assert configured.file().get("arrs", []) == []
    answer = configured.post(json.dumps({"arrs": [sonarr]}))
    assert answer.json == {**NO_CHANGE, "changed": ["arrs"], "restart_required": ["arrs"]}
    assert configured.file()["arrs"][0]["api_key"] == sonarr["api_key"]
    stop_app(configured.app)
    restarted = create_app(load_settings(configured.path), start_background=False)
    try:
        shown = restarted.test_client().get("/api/config", headers=BEARER).json["arrs"]
        assert shown == [{**sonarr, "api_key": "********", "mark_failed": True,
                          "refresh_on_complete": True}]
        renamed = restarted.test_client().post("/api/config", headers=JSON, data=json.dumps(
            {"arrs": [{**shown[0], "categories": ["tv", "anime"]}]}))
        assert renamed.json["changed"] == ["arrs"]
        kept = configured.file()["arrs"][0]
        assert kept["api_key"] == sonarr["api_key"]          # the mask kept the secret
        assert kept["categories"] == ["tv", "anime"]
    finally:
        stop_app(restarted)


def test_an_environment_override_is_reported(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBRIDGE__SERVER__LOG_LEVEL", "warning")
    configured = Configured(tmp_path)
    try:
        response = configured.post('{"log_level": "debug", "server.workers": 2}')
        assert response.json == {**NO_CHANGE,
                                 "changed": ["server.log_level", "server.workers"],
                                 "restart_required": ["server.workers"],
                                 "overridden_by_environment": ["server.log_level"]}
        assert configured.file()["server"]["log_level"] == "debug"
        assert configured.get()["server"]["log_level"] == "warning"
    finally:
        stop_app(configured.app)


# -- bad input changes nothing ------------------------------------------------------------------
@pytest.mark.parametrize(("body", "named"), [
    ('{"server.port": "eighty"}', "server.port"),
    ('{"server": {"port": 70000}}', "server.port"),
    ('{"downloads.poll_interval_seconds": 1e999}', "downloads.poll_interval_seconds"),
    ('{"log_level": "loud"}', "server.log_level"),
    ('{"server.prot": 1}', "server.prot"),
    ('{"colour": "blue"}', "colour"),
    ('{"port": 9000}', "server.port and sandbox.port"),
    ('{"server": "debug"}', "'server'"),
    ('{"log_level": "debug", "server.log_level": "info"}', "given twice"),
    # one bad key spoils the whole update, the good keys with it
    ('{"log_level": "debug", "downloads.action": "symlink"}', "downloads.mount_path"),
    ('{"log_level": "debug", "providers": {"name": "x"}}', "providers"),
    ('{"providers": [{"name": "Bad Name", "type": "sandbox"}]}', "providers[0].name"),
    ('{"providers": [{"name": "x", "type": "sandbox", "api_key": "********"}]}',
     "providers[0].api_key"),
    (json.dumps({"auth.api_key": [KEY + "-in-a-list"]}), "auth.api_key"),
    (json.dumps({"auth.password": {"value": PASSWORD}}), "auth.password"),
    ('{"sandbox.download_seconds": NaN}', "JSON"),
    ("log_level=debug", "JSON"),
    ('[{"log_level": "debug"}]', "object"),
    ('"debug"', "object"),
    ("", "empty"),
    ("[" * 60_000, "JSON"),                          # nested deeper than Python recurses
    ("[" * 100_000, "larger"),
    (json.dumps({"qbit.domain_list": "a" * 70_000}), "larger"),
    (b'{"log_level": "\xff"}', "UTF-8"),
])
def test_bad_input_is_400_naming_it_and_changes_nothing(configured: Configured,
                                                        body: str | bytes, named: str) -> None:
    before = configured.get()
    response = configured.post(body)
    assert response.status_code == 400
    assert response.is_json
    assert response.json["code"] == 400
    assert named in response.json["error"]
    assert not any(secret in response.text for secret in SECRETS)
    assert configured.path.read_bytes() == configured.original
    assert not configured.backup.exists()
    assert configured.get() == before


def test_a_file_that_cannot_be_replaced_is_409_and_nothing_runs_changed(
        configured: Configured, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str, target: str) -> None:
        raise OSError(16, "Device or resource busy")     # a bind-mounted config.json

    monkeypatch.setattr("store.config_file.os.replace", refuse)
    response = configured.post('{"log_level": "debug"}')
    assert response.status_code == 409
    assert response.is_json
    assert "Device or resource busy" in response.json["error"]
    assert configured.path.read_bytes() == configured.original
    assert configured.get()["server"]["log_level"] == "info"
    assert not list(configured.path.parent.glob(".config.json*"))


def test_a_file_broken_by_hand_is_409_and_left_alone(configured: Configured) -> None:
    configured.path.write_text('{"server": {"port": 8282,')
    response = configured.post('{"log_level": "debug"}')
    assert response.status_code == 409
    assert response.is_json
    assert "not valid JSON" in response.json["error"]
    assert configured.path.read_text() == '{"server": {"port": 8282,'


def test_settings_not_read_from_a_file_are_shown_but_not_changed(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, auth={"api_key": KEY}), start_background=False)
    try:
        client = app.test_client()
        assert client.get("/api/config", headers=BEARER).status_code == 200
        response = client.post("/api/config", data='{"log_level": "debug"}', headers=JSON)
        assert response.status_code == 409
        assert response.is_json
        assert "not read from a config file" in response.json["error"]
    finally:
        stop_app(app)


def test_concurrent_updates_lose_nothing(configured: Configured) -> None:
    changes = {"downloads.max_active": 7, "downloads.max_parallel_transfers": 3,
               "library.details_per_sync": 50, "qbit.add_wait_seconds": 2.5,
               "auth.ban_seconds": 60, "auth.max_failed_logins": 9,
               "selection.min_file_mb": 1.5, "webdav.upstream_timeout_seconds": 12.0}
    statuses: list[int] = []

    def post(key: str, value: Any) -> None:
        statuses.append(configured.app.test_client().post(
            "/api/config", data=json.dumps({key: value}), headers=JSON).status_code)

    threads = [threading.Thread(target=post, args=item) for item in changes.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * len(changes)
    written = load_settings(configured.path, environ={})
    assert {key: written[key] for key in changes} == changes


# -- authentication -----------------------------------------------------------------------------
@pytest.mark.parametrize(("headers", "query"), [
    ({"Authorization": f"Bearer {KEY}"}, ""),
    ({"Authorization": f"Token {KEY}"}, ""),
    ({"X-Api-Key": KEY}, ""),
    ({}, f"?apikey={KEY}"),
    ({}, f"?token={KEY}"),
    (_basic("admin", PASSWORD), ""),
    (_basic("anyone", KEY), ""),
], ids=["bearer", "token", "x-api-key", "apikey", "token-query", "basic-login", "basic-key"])
def test_every_auth_form_works(configured: Configured, headers: dict[str, str],
                               query: str) -> None:
    assert configured.client.get(f"/api/config{query}", headers=headers).status_code == 200
    response = configured.client.post(f"/api/config{query}", data='{"log_level": "error"}',
                                      headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 200
    assert configured.file()["server"]["log_level"] == "error"


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer not-the-key"},
    {"X-Api-Key": "not-the-key"},
    _basic("admin", "not-the-password"),
    {},
], ids=["bearer", "x-api-key", "basic", "none"])
def test_a_wrong_or_missing_key_is_401_json_and_changes_nothing(
        configured: Configured, headers: dict[str, str]) -> None:
    for response in (configured.client.get("/api/config", headers=headers),
                     configured.post('{"log_level": "debug"}', headers=headers)):
        assert response.status_code == 401
        assert response.is_json
        assert response.json["code"] == 401
        assert not any(secret in response.text for secret in SECRETS)
    assert configured.path.read_bytes() == configured.original
    assert configured.get()["server"]["log_level"] == "info"


# -- every worker -------------------------------------------------------------------------------
def test_other_workers_pick_up_live_keys_within_a_second(configured: Configured) -> None:
    # Other workers of one server: the master's settings (the sandbox resolved), the same
    # data dir and config file, each with its own watch of the store.
    started = configured.app.extensions["debridge"].settings
    other = create_app(started)
    try:
        posted = time.monotonic()
        response = configured.post('{"query_tokens": false, "log_level": "warning"}')
        assert response.json["applied"] == ["api.query_tokens", "server.log_level"]
        wait_until(lambda: not other.extensions["debridge"].settings["api.query_tokens"],
                   timeout=5, interval=0.05, what="the other worker to apply the change")
        assert time.monotonic() - posted < 3       # one second's check, with slack for load
        client = other.test_client()
        assert client.get(f"/api/config?apikey={KEY}").status_code == 401
        assert client.get("/api/config", headers=BEARER).json["server"]["log_level"] == \
            "warning"
        # a worker gunicorn starts afresh (from the first start's settings) catches up too
        respawned = create_app(started)
        try:
            wait_until(lambda: not respawned.extensions["debridge"].settings[
                "api.query_tokens"], timeout=5, what="a new worker to apply the change")
        finally:
            stop_app(respawned)
    finally:
        stop_app(other)


@pytest.mark.slow
def test_live_key_reaches_both_workers_of_a_real_server(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port=port, server={"workers": 2},
                          auth={"api_key": KEY})
    server = start_debridge(config, tmp_path / "debridge.log", port)
    base = f"http://127.0.0.1:{port}/api/config"
    try:
        # a new connection each time, so that both workers answer some
        assert {requests.get(f"{base}?apikey={KEY}", timeout=10).status_code
                for _ in range(12)} == {200}
        response = requests.post(base, json={"query_tokens": False}, headers=BEARER,
                                 timeout=10)
        assert response.json()["applied"] == ["api.query_tokens"]

        def refused_everywhere() -> bool:
            return {requests.get(f"{base}?apikey={KEY}", timeout=10).status_code
                    for _ in range(12)} == {401}

        wait_until(refused_everywhere, timeout=5, interval=0.5, what="both workers")
        assert json.loads(config.read_text())["api"]["query_tokens"] is False
        assert KEY not in server.log()
    finally:
        server.stop()


def test_completion_hooks_secrets_are_masked_and_kept_when_posted_back(
        configured: Configured) -> None:
    hook_key = "crossseed-secret-5b7d2e"
    hooks = [{"type": "cross-seed", "url": "http://127.0.0.1:2468", "api_key": hook_key},
             {"type": "http", "url": f"http://127.0.0.1:9/notify?token={hook_key}"}]
    assert configured.post(json.dumps({"hooks.on_complete": hooks}),
                           headers=BEARER).status_code == 200
    # hooks.on_complete takes a restart (GET shows what runs): start again from the file
    stop_app(configured.app)
    configured.app = create_app(load_settings(configured.path), start_background=False)
    configured.client = configured.app.test_client()
    shown = configured.client.get("/api/config", headers=BEARER)
    assert hook_key not in shown.text
    everything = shown.json
    everything["server"]["log_level"] = "warning"
    assert configured.post(json.dumps(everything)).json["changed"] == ["server.log_level"]
    assert configured.file()["hooks"]["on_complete"] == hooks        # kept, in full
    # a masked entry that stands for no configured one is refused, and nothing changes
    before = configured.path.read_bytes()
    forged = [{"type": "cross-seed", "url": "http://127.0.0.1:2469", "api_key": "***"}]
    answer = configured.post(json.dumps({"hooks.on_complete": forged}))
    assert answer.status_code == 400
    assert "hooks.on_complete" in answer.json["error"]
    assert configured.path.read_bytes() == before
