"""log/main (Debridge's own operator messages, from the store) and log/peers (none)."""

from __future__ import annotations

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat.http import flag, integer, json_response, services
from qbit_compat.routing import Endpoint

TYPES = (("normal", 1), ("info", 2), ("warning", 4), ("critical", 8))


def main(params: MultiDict[str, str]) -> Response:
    wanted = [kind for name, kind in TYPES if flag(params, name, default=True)]
    entries = services().library.log_since(integer(params, "last_known_id", -1), wanted)
    return json_response([{"id": entry_id, "message": message, "timestamp": stamp,
                           "type": kind} for entry_id, stamp, kind, message in entries])


def peers(params: MultiDict[str, str]) -> Response:
    integer(params, "last_known_id", -1)
    return json_response([])


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("log/main", main),
    Endpoint("log/peers", peers),
)
