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
# What `\s` matches in a Python str pattern (str.isspace), spelt out: ECMA 262's `\s`, which
# JSON Schema's patterns use, leaves out \x1c-\x1f and \x85 and takes \ufeff.
PY_SPACE = ("\\t\\n\\u000b\\u000c\\r \\u001c-\\u001f\\u0085\\u00a0\\u1680\\u2000-\\u200a"
            "\\u2028\\u2029\\u202f\\u205f\\u3000")


@functools.cache
def _source() -> dict[str, Any]:
    """The document as written, with the settings' schemas (made once per process)."""
    with SOURCE.open(encoding="utf-8") as file:
        loaded: dict[str, Any] = yaml.safe_load(file)
    add_settings(loaded["components"]["schemas"])
    _python_patterns(loaded)
    return loaded


def python_pattern(pattern: str) -> str:
    """A pattern written as Python reads it (the server checks with Python's `re`), with its
    `\\s` and `\\S` spelt out so that JSON Schema's regexes mean the same."""
    out, index, in_class = [], 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            if escaped == "s":
                out.append(PY_SPACE if in_class else f"[{PY_SPACE}]")
            elif escaped == "S" and not in_class:
                out.append(f"[^{PY_SPACE}]")
            elif escaped == "S":
                raise ValueError(f"\\S inside a character class: {pattern!r}")
            else:
                out.append(char + escaped)
            index += 2
            continue
        in_class = (char == "[") if not in_class else char != "]"
        out.append(char)
        index += 1
    return "".join(out)


def _python_patterns(node: Any, parent: str = "") -> None:
    if isinstance(node, dict):
        if parent != "properties" and isinstance(node.get("pattern"), str):
            node["pattern"] = python_pattern(node["pattern"])
        for key, value in node.items():
            _python_patterns(value, key)
    elif isinstance(node, list):
        for value in node:
            _python_patterns(value, parent)


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
