"""The sandbox Flask app: a dialect's blueprint, the CDN and the admin API, plus the gate
(faults, rate limit, auth) and the log."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from . import admin, cdn
from .dialects import DialectError
from .faults import fault_response
from .runtime import Sandbox, current

CDN_PREFIX = "/cdn/"
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
logger = logging.getLogger(__name__)


class UnsortedJSON(DefaultJSONProvider):
    sort_keys = False


def create_app(sandbox: Sandbox) -> Flask:
    """A Flask app serving `sandbox`: its dialect's API, /cdn and /__admin."""
    app = Flask(__name__)
    app.extensions["sandbox"] = sandbox
    app.json = UnsortedJSON(app)  # keep the provider's field order
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    dialect = sandbox.dialect
    app.register_blueprint(dialect.blueprint, url_prefix=dialect.prefix or None)
    app.register_blueprint(cdn.blueprint)
    app.register_blueprint(admin.blueprint, url_prefix="/__admin")
    app.before_request(_gate)
    app.after_request(_log)
    app.register_error_handler(DialectError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


def _is_api(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p)
               for p in current().dialect.api_paths)


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
    options, dialect = sandbox.options, sandbox.dialect
    token = dialect.token()
    if not sandbox.limiter.allow(token, options.rate_limit_per_minute):
        return dialect.rate_limited()
    if request.routing_exception is not None or request.endpoint in dialect.public_endpoints:
        return None  # unknown routes answer 404/405 whoever asks; /time needs no token
    if not token or (options.tokens and token not in options.tokens):
        return dialect.unauthorized()
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


def _api_error(exc: DialectError) -> Response:
    return exc.response()


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if request.path.startswith(CDN_PREFIX):
        return Response(f"{exc.name}\n", status=status, mimetype="text/plain")
    response = current().dialect.http_error(status)
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
    return current().dialect.http_error(500)
