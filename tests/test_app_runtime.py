"""An app's runtime is its own: two apps in one process share no thread pool, sync snapshots
or endpoint table, stop_app ends them, and create_app sets no logger's level."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import create_app, stop_app
from core.services import EXTENSION_KEY
from qbit_compat.sync_routes import SNAPSHOTS_KEY
from server.logs import OPERATOR_LOGGERS
from tests.conftest import make_settings


@pytest.fixture
def quiet_loggers() -> Iterator[None]:
    """The operator loggers at warning, as if server.log_level's set-up had left them there."""
    before = {name: logging.getLogger(name).level for name in OPERATOR_LOGGERS}
    for name in OPERATOR_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    yield
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


def test_two_apps_share_no_runtime_state_and_stop_ends_it(tmp_path: Path,
                                                          quiet_loggers: None) -> None:
    names = ["", *OPERATOR_LOGGERS]
    levels = {name: logging.getLogger(name).level for name in names}
    first = create_app(make_settings(tmp_path / "first"), start_background=False)
    second = create_app(make_settings(tmp_path / "second"), start_background=False)
    try:
        assert {name: logging.getLogger(name).level for name in names} == levels
        streams = [app.extensions[EXTENSION_KEY].streams for app in (first, second)]
        assert streams[0].resolvers is not streams[1].resolvers
        assert first.extensions[SNAPSHOTS_KEY] is not second.extensions[SNAPSHOTS_KEY]
        assert first.blueprints["qbit"] is not second.blueprints["qbit"]
    finally:
        stop_app(first)
    with pytest.raises(RuntimeError):       # the first app's resolver pool is shut down
        streams[0].resolvers.submit(print)
    try:
        assert streams[1].resolvers.submit(int, "7").result(timeout=5) == 7
    finally:
        stop_app(second)


@pytest.mark.settings(qbit={"persona": "5.1.4"}, downloads={"max_active": 3})
def test_the_app_fixture_starts_the_app_of_the_settings_marker(app: Flask) -> None:
    settings = app.extensions[EXTENSION_KEY].settings
    assert (settings["qbit.persona"], settings["downloads.max_active"]) == ("5.1.4", 3)
    assert settings["downloads.poll_interval_seconds"] == 0.1      # the test defaults stay
