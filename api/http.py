"""The /api blueprint: token authentication and JSON errors, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from core.auth import Surface
from core.errors import DebridgeError, LoginBanned, UpstreamFailed
from core.services import EXTENSION_KEY, Services

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api")


class NotFound(DebridgeError):
    """No such group, torrent or file in the tree."""


class BadRequest(DebridgeError):
    """A parameter is malformed."""


_STATUS = {NotFound: 404, BadRequest: 400, UpstreamFailed: 502, LoginBanned: 403}


def services() -> Services:
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


def error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": message, "code": status})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def _presented_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.headers.get("X-Api-Key", "")


@blueprint.before_request
def _authenticate() -> Response | None:
    svc = services()
    if not svc.hosts.allows(request.headers.get("Host", "")):
        return error("this host name is not one Debridge answers to (qbit.domain_list)", 400)
    authenticator = svc.authenticator
    ip = request.remote_addr or ""
    token = _presented_token()
    if token:
        if authenticator.token_valid(token, ip):
            return None
        return _unauthorized("invalid API key")
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        if authenticator.credentials_valid(basic.username or "", basic.password or "", ip,
                                           Surface.API):
            return None
        return _unauthorized("invalid user name, password or API key")
    return _unauthorized("an API key is required (Authorization: Bearer <key>, X-Api-Key, "
                         "or Basic with the login or the key)")


def _unauthorized(message: str) -> Response:
    return error(message, 401,
                 {"WWW-Authenticate": 'Bearer realm="Debridge", Basic realm="Debridge"'})


@blueprint.errorhandler(DebridgeError)
def _domain_error(exc: DebridgeError) -> Response:
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    if status >= 500:
        log.info("api %s %s: %s", request.method, request.path, exc)
    return error(str(exc), status)


def owns(path: str) -> bool:
    """Whether a path belongs to this surface (its errors are JSON, even those raised by
    routing before any of its views is chosen: 404, 405, 413)."""
    return (path == "/api" or path.startswith("/api/")) and not (
        path == "/api/v2" or path.startswith("/api/v2/"))


@blueprint.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    headers: dict[str, Any] = dict(exc.get_headers())
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    message = "no such endpoint" if status == 404 else exc.description or exc.name
    return error(message, status, headers)
