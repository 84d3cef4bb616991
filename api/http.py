"""The /api blueprint: token authentication and JSON errors, mapped in one place."""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from core.auth import Surface
from core.errors import DebridgeError, InvalidInput, LoginBanned, NotFound
from core.services import EXTENSION_KEY, Services

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api")
# /version and the registry at /t: the same surface outside /api (Decypharr's and UDPT's paths)
root = Blueprint("api_root", __name__)
PUBLIC_ENDPOINTS = frozenset({"api.openapi", "api_root.version"})


BadRequest = InvalidInput
__all__ = ["BadRequest", "NotFound", "blueprint", "error", "json_body", "root", "services"]


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def registry_path(path: str) -> bool:
    """The UDPT-style registry (/t, /api/t): its errors add UDPT's status/reason keys."""
    return path in ("/t", "/api/t") or path.startswith(("/t/", "/api/t/"))


def error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """The one error body of this surface: `{"error", "code"}` (Decypharr's), plus UDPT's
    `{"status": "err", "reason"}` under the registry."""
    body: dict[str, Any] = {"error": message, "code": status}
    if registry_path(request.path):
        body = {"status": "err", "reason": message, **body}
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _credential() -> tuple[str, str] | None:
    """(form, value) of the first credential the request presents: the Authorization header,
    else X-Api-Key, else ?apikey= / ?token= (when api.query_tokens is on)."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        return scheme.lower(), value.strip()
    if "X-Api-Key" in request.headers:
        return "key", request.headers["X-Api-Key"].strip()
    if services().settings["api.query_tokens"]:
        for name in ("apikey", "token"):
            if name in request.args:
                return "key", request.args[name]
    return None


def _host_refused() -> Response | None:
    if services().hosts.allows(request.headers.get("Host", "")):
        return None
    return error("this host name is not one Debridge answers to (qbit.domain_list)", 400)


def authenticate() -> Response | None:
    """None when the request may go on, else the answer: the first credential present
    decides, and a wrong one is refused (no other is tried)."""
    svc = services()
    refused = _host_refused()
    if refused is not None:
        return refused
    authenticator = svc.authenticator
    ip = request.remote_addr or ""
    found = _credential()
    if found is None:
        return _unauthorized("an API key is required (Authorization: Bearer <key> or Token "
                             "<key>, X-Api-Key, ?apikey=, ?token=, or Basic with the login "
                             "or the key)")
    form, value = found
    if form in ("bearer", "token", "key"):
        if authenticator.token_valid(value, ip):
            return None
        return _unauthorized("invalid API key")
    basic = request.authorization
    if form == "basic" and basic is not None and basic.type == "basic":
        if authenticator.credentials_valid(basic.username or "", basic.password or "", ip,
                                           Surface.API):
            return None
        return _unauthorized("invalid user name, password or API key")
    return _unauthorized("unsupported Authorization scheme: send the API key as Bearer or "
                         "Token, or use Basic")


@blueprint.before_request
@root.before_request
def _authenticate() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return _host_refused()
    return authenticate()


@blueprint.after_request
@root.after_request
def _bodiless_options(response: Response) -> Response:
    """Flask's automatic OPTIONS answer is an empty text/html 200: a 204 (no body, no media
    type) keeps every body of this surface JSON."""
    if request.method == "OPTIONS" and response.status_code == 200 \
            and not response.is_streamed and not response.get_data():
        response.status_code = 204
        for name in ("Content-Type", "Content-Length"):
            response.headers.pop(name, None)
    return response


def _unauthorized(message: str) -> Response:
    return error(message, 401,
                 {"WWW-Authenticate": 'Bearer realm="Debridge", Basic realm="Debridge"'})


@blueprint.errorhandler(DebridgeError)
@root.errorhandler(DebridgeError)
def _domain_error(exc: DebridgeError) -> Response:
    status = exc.status
    if status >= 500:
        log.info("api %s %s: %s", request.method, request.path, exc)
    headers = {}
    if isinstance(exc, LoginBanned):
        headers["Retry-After"] = str(max(1, math.ceil(exc.until - time.time())))
    return error(str(exc), status, headers)


def owns(path: str) -> bool:
    """Whether a path belongs to this surface (its errors are JSON, even those raised by
    routing before any of its views is chosen: 404, 405, 413)."""
    if path == "/version" or registry_path(path):
        return True
    return (path == "/api" or path.startswith("/api/")) and not (
        path == "/api/v2" or path.startswith("/api/v2/"))


@blueprint.errorhandler(HTTPException)
@root.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers: dict[str, Any] = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    message = "no such endpoint" if status == 404 else exc.description or exc.name
    return error(message, status, headers)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def json_body(max_bytes: int, wanted: str, *, empty: Any = None) -> Any:
    """The request's JSON body, at most `max_bytes`; InvalidInput says what is wrong and what
    to send (`wanted`). An empty body is `empty` when given, else an error."""
    length = request.content_length
    if length is not None and length > max_bytes:
        raise InvalidInput(f"the body is larger than {max_bytes // 1024} KiB")
    raw = request.stream.read(max_bytes + 1)     # a body without a length is cut here too
    if len(raw) > max_bytes:
        raise InvalidInput(f"the body is larger than {max_bytes // 1024} KiB")
    if not raw.strip():
        if empty is not None:
            return empty
        raise InvalidInput(f"the body is empty: send {wanted}")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON (line {exc.lineno}, column "
                           f"{exc.colno}: {exc.msg}); send {wanted}") from None
    except UnicodeDecodeError:
        raise InvalidInput("the body is not valid JSON (not UTF-8 text)") from None
    except (ValueError, RecursionError) as exc:   # NaN, nesting too deep, digits too many
        raise InvalidInput(f"the body is not valid JSON ({exc})") from None
