"""Dispatch /api/v2/<scope>/<action> the way qBittorrent's WebUI does (auth, methods, 404s)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_cookie

from core.auth import Surface
from core.errors import LoginBanned
from qbit_compat.http import (
    SECURITY_HEADERS,
    QbitError,
    error_response,
    form_or_query,
    services,
    text,
)
from qbit_compat.persona import PERSONAS
from qbit_compat.security import is_cross_site

Handler = Callable[[MultiDict[str, str]], Response]
SESSION_COOKIE = "SID"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]


@dataclass(frozen=True)
class Endpoint:
    """One `scope/action`: its handler receives the request's parameters."""

    name: str
    handler: Handler
    post_only: bool = False
    personas: tuple[str, ...] | None = None    # None: every persona
    form_bytes: int | None = None              # a larger multipart text part than Flask's


def endpoint_table(*tables: Iterable[Endpoint]) -> dict[str, Endpoint]:
    """The route modules' ENDPOINTS tables as one lookup; a name declared twice is a bug."""
    found: dict[str, Endpoint] = {}
    for table in tables:
        for entry in table:
            if entry.name in found:
                raise ValueError(f"endpoint {entry.name!r} is declared twice")
            found[entry.name] = entry
    return found


def session_id() -> str:
    """The SID from the Cookie header; tolerates a whole Set-Cookie line sent back."""
    header = request.headers.get("Cookie", "")
    return parse_cookie(header).get(SESSION_COOKIE, "") if header else ""


def _bearer_key() -> str | None:
    """The API key of an `Authorization: Bearer <key>` header, else None."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def has_session() -> bool:
    return services().authenticator.session_valid(session_id())


def make_blueprint(endpoints: Mapping[str, Endpoint]) -> Blueprint:
    """The /api/v2 blueprint answering `endpoints` (a new one per app)."""
    blueprint = Blueprint("qbit", __name__, url_prefix="/api/v2")

    @blueprint.after_request
    def _security_headers(response: Response) -> Response:
        persona = PERSONAS[services().settings["qbit.persona"]]
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", persona.csp)
        return response

    @blueprint.route("/", defaults={"name": ""}, methods=METHODS)
    @blueprint.route("/<path:name>", methods=METHODS)
    def dispatch(name: str) -> Response:
        return _dispatch(endpoints, name)

    return blueprint


def _dispatch(endpoints: Mapping[str, Endpoint], name: str) -> Response:
    method = request.method
    if method not in ("GET", "POST", "HEAD"):
        # qBittorrent 4.6+ answers other methods 501 and closes the connection.
        return Response(b"", status=501, headers={"Connection": "close"})
    if method == "POST" and request.content_length and \
            request.mimetype not in FORM_TYPES:
        return Response(b"", status=400)   # e.g. a JSON body (capture 84)
    settings = services().settings
    if not services().hosts.allows(request.headers.get("Host", "")):
        return text("Unauthorized", 401)
    bearer = _bearer_key()
    if bearer is not None:
        # Decypharr's documented form: the API key instead of a session. No cookie is
        # involved, so no cross-site check either (as qBittorrent 5.2's API keys).
        try:
            if not services().authenticator.token_valid(bearer, request.remote_addr or "",
                                                        Surface.QBIT):
                return text("Forbidden", 403)     # qBittorrent 5.2's answer to a wrong key
        except LoginBanned as exc:
            return error_response(exc)
    elif settings["qbit.csrf_protection"] and is_cross_site(request):
        return text("Unauthorized", 401)
    elif name != "auth/login" and not has_session():
        return text("Forbidden", 403)
    found = endpoints.get(name)
    persona = services().settings["qbit.persona"]
    if found is None or (found.personas is not None and persona not in found.personas):
        return text("Not Found", 404)
    if found.post_only and method != "POST":
        return text("Method Not Allowed", 405)
    if found.form_bytes:
        request.max_form_memory_size = found.form_bytes
    try:
        # HEAD is a GET without the body (qBittorrent 4.6+; Flask drops the body).
        return found.handler(form_or_query(method, request.form, request.args))
    except Exception as exc:  # every error is mapped to qBittorrent's answer (or re-raised)
        return error_response(exc)


def raise_if(condition: bool, status: int, body: str) -> None:
    if condition:
        raise QbitError(status, body)
