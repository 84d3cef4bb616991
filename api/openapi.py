"""The OpenAPI 3.1 document of the REST surface (api/openapi.yaml), at GET /api/openapi.json."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson
import yaml
from flask import Response

from api.http import blueprint, services
from api.openapi_settings import add_settings
from core import __version__

SOURCE = Path(__file__).with_name("openapi.yaml")


@functools.cache
def _source() -> dict[str, Any]:
    """The document as written, with the settings' schemas (made once per process)."""
    with SOURCE.open(encoding="utf-8") as file:
        loaded: dict[str, Any] = yaml.safe_load(file)
    add_settings(loaded["components"]["schemas"])
    return loaded


def document(action: str) -> dict[str, Any]:
    """The document this server answers by: its version, and the one per-add `action` it
    takes (its downloads.action; blank is the same)."""
    found = copy.deepcopy(_source())
    found["info"]["version"] = __version__
    found["components"]["schemas"]["AddAction"]["enum"] = ["", action]
    return found


@functools.lru_cache(maxsize=4)
def _rendered(action: str) -> bytes:
    return orjson.dumps(document(action))


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """The document (public: it names no secret, and tools load it before they have a key)."""
    body = _rendered(services().settings["downloads.action"])
    return Response(body, mimetype="application/json")
