"""Real-Debrid's dialect: the routes of debrid.sandbox.api under /rest/1.0."""

from __future__ import annotations

from flask import Response

from debrid.sandbox import api
from debrid.sandbox.dialects import Dialect
from debrid.sandbox.errors import error_response
from debrid.sandbox.runtime import bearer_token

# HTTP errors raised by Flask itself, in Real-Debrid's envelope.
_HTTP_ERROR_CODES = {400: 2, 404: 3, 405: 4, 413: 26}


def _http_error(status: int) -> Response:
    return error_response(status, _HTTP_ERROR_CODES.get(status, -1))


DIALECT = Dialect(
    name="realdebrid", label="Real-Debrid", blueprint=api.blueprint, prefix="/rest/1.0",
    api_paths=("/rest/1.0/",), base_path="/rest/1.0", token=bearer_token,
    unauthorized=lambda: error_response(401, 8), rate_limited=lambda: error_response(429, 34),
    http_error=_http_error, public_endpoints=api.PUBLIC_ENDPOINTS)
