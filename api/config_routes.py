"""GET and POST /api/config (Decypharr's): every setting with secrets masked, and a partial
update validated by the schema, written to the config file and applied where it can be."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from api.http import blueprint, json_body, services

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


def _json_body() -> Any:
    return json_body(MAX_BODY, "a JSON object of settings, " + EXAMPLE)
