"""GET and POST /api/config (Decypharr's): every setting with secrets masked, and a partial
update validated by the schema, written to the config file and applied where it can be."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, jsonify, request

from api.http import blueprint, services
from core.errors import InvalidInput

MAX_BODY = 64 * 1024      # the whole of config.json is a few KiB
EXAMPLE = 'e.g. {"log_level": "debug"}'


@blueprint.get("/config")
def get_config() -> Response:
    """Every setting, shaped like config.json; a secret shows as "********" when set and ""
    when empty."""
    return jsonify(services().config.view())


@blueprint.post("/config")
def post_config() -> Response:
    """A partial update: {"changed", "applied", "restart_required",
    "overridden_by_environment"}, each a list of keys. A bad value answers 400 naming the
    key, and nothing changes."""
    return jsonify(services().config.update(_json_body()).answer())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _json_body() -> Any:
    length = request.content_length
    if length is not None and length > MAX_BODY:
        raise InvalidInput(f"the body is larger than {MAX_BODY // 1024} KiB")
    raw = request.stream.read(MAX_BODY + 1)     # a body without a length is cut here too
    if len(raw) > MAX_BODY:
        raise InvalidInput(f"the body is larger than {MAX_BODY // 1024} KiB")
    if not raw.strip():
        raise InvalidInput(f"the body is empty: send a JSON object of settings, {EXAMPLE}")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON (line {exc.lineno}, column "
                           f"{exc.colno}: {exc.msg}); send an object of settings, "
                           f"{EXAMPLE}") from None
    except UnicodeDecodeError:
        raise InvalidInput("the body is not valid JSON (not UTF-8 text)") from None
    except (ValueError, RecursionError) as exc:   # NaN, nesting too deep, digits too many
        raise InvalidInput(f"the body is not valid JSON ({exc})") from None
