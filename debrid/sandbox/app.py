"""The sandbox Flask app: blueprints plus the gate (faults, rate limit, auth) and the log."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from . import admin, api, cdn
from .errors import ApiError, error_response
from .faults import fault_response
from .runtime import Sandbox, bearer_token, current

API_PREFIX = "/rest/1.0"
CDN_PREFIX = "/cdn/"
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
logger = logging.getLogger(__name__)

# HTTP errors raised by Flask itself, in Real-Debrid's envelope.
_HTTP_ERROR_CODES = {400: 2, 404: 3, 405: 4, 413: 26}


class UnsortedJSON(DefaultJSONProvider):
    sort_keys = False


def create_app(sandbox: Sandbox) -> Flask:
    """A Flask app serving `sandbox`: /rest/1.0, /cdn and /__admin."""
    app = Flask(__name__)
    app.extensions["sandbox"] = sandbox
    app.json = UnsortedJSON(app)  # keep Real-Debrid's field order
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.register_blueprint(api.blueprint, url_prefix=API_PREFIX)
    app.register_blueprint(cdn.blueprint)
    app.register_blueprint(admin.blueprint, url_prefix="/__admin")
    app.before_request(_gate)
    app.after_request(_log)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def _gate() -> Response | None:
    path = request.path
    api_call = _is_api(path)
    if not (api_call or path.startswith(CDN_PREFIX)):
        return None
    g.logged = True
    sandbox = current()
    rule = sandbox.faults.take(request.method, path)
    if rule is not None:
        if rule.kind == "cut":
            g.cut_after = rule.after_bytes  # the CDN route acts it out
        response = fault_response(rule)
        if response is not None:
            return response
    if not api_call:
        return None
    options = sandbox.options
    token = bearer_token()
    if not sandbox.limiter.allow(token, options.rate_limit_per_minute):
        raise ApiError(429, 34)
    if request.routing_exception is not None or request.endpoint in api.PUBLIC_ENDPOINTS:
        return None  # unknown routes answer 404/405 whoever asks; /time needs no token
    if not token or (options.tokens and token not in options.tokens):
        raise ApiError(401, 8)
    return None


def _log(response: Response) -> Response:
    if g.get("logged"):
        sandbox = current()
        # Real time, not the sandbox clock: the log is for checking a client's pacing.
        sandbox.requests.append(
            ts=time.time(),
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            status=response.status_code,
        )
    return response


def _api_error(exc: ApiError) -> Response:
    return exc.response()


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if request.path.startswith(CDN_PREFIX):
        return Response(f"{exc.name}\n", status=status, mimetype="text/plain")
    response = error_response(status, _HTTP_ERROR_CODES.get(status, -1))
    if status == 405:
        for name, value in exc.get_headers():
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def _internal_error(exc: Exception) -> Response:
    # Never a bare 500 page: clients get the envelope they parse, the log gets the traceback.
    logger.exception("sandbox request failed: %s %s", request.method, request.path)
    if request.path.startswith(CDN_PREFIX):
        return Response("Internal Server Error\n", status=500, mimetype="text/plain")
    return error_response(500, -1)
