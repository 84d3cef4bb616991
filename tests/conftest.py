"""Shared fixtures: an in-process app (Flask test client) backed by the embedded sandbox."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from core.schema import default_config
from core.settings import settings_from_mapping
from server.logs import operator_levels
from tests.helpers import PASSWORD, free_port


def make_settings(tmp_path: Path, **sections: dict[str, Any]) -> Any:
    config = default_config()
    config["server"]["data_dir"] = str(tmp_path / "data")
    config["auth"]["password"] = PASSWORD
    config["downloads"].update(poll_interval_seconds=0.1, folder=str(tmp_path / "downloads"))
    config["sandbox"].update(port=free_port(), download_seconds=1.0)
    config["repair"]["interval_minutes"] = 0     # a test starts the scans it wants
    for section, values in sections.items():
        if section in ("providers", "categories", "arrs"):
            config[section] = values
        else:
            config[section].update(values)
    return settings_from_mapping(config, base_dir=tmp_path)


def marked_settings(request: pytest.FixtureRequest, tmp_path: Path,
                    **defaults: dict[str, Any]) -> Any:
    """make_settings with the test's `settings` marker: its sections over `defaults` (key by
    key; `providers` replaced)."""
    marker = request.node.get_closest_marker("settings")
    sections: dict[str, Any] = dict(defaults)
    for section, values in (marker.kwargs if marker else {}).items():
        sections[section] = {**sections.get(section, {}), **values} \
            if isinstance(values, dict) else values
    return make_settings(tmp_path, **sections)


@pytest.fixture(scope="session", autouse=True)
def _operator_log_levels() -> None:
    """What configure_logging does in a served process (the tests' apps are made without
    it): the operator loggers pass info messages, for log/main."""
    for name, level in operator_levels("info").items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An app at the test settings (and the test's `settings` marker)."""
    application = create_app(marked_settings(request, tmp_path))
    try:
        yield application
    finally:
        stop_app(application)


@pytest.fixture
def anonymous(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def qbit(app: Flask) -> FlaskClient:
    """A test client that has logged in to /api/v2."""
    client = app.test_client()
    response = client.post("/api/v2/auth/login",
                           data={"username": "admin", "password": PASSWORD})
    assert response.text == "Ok."
    return client
