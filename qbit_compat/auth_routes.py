"""auth/login and auth/logout."""

from __future__ import annotations

from flask import Response, request
from werkzeug.datastructures import MultiDict

from qbit_compat.http import services, text
from qbit_compat.persona import PERSONAS
from qbit_compat.routing import SESSION_COOKIE, Endpoint, has_session, session_id


def login(params: MultiDict[str, str]) -> Response:
    """`Ok.` + SID cookie, or `Fails.`; an existing session is always `Ok.` (capture 22)."""
    if has_session():
        return text("Ok.")
    sid = services().authenticator.login(params.get("username", ""),
                                         params.get("password", ""),
                                         request.remote_addr or "")
    if sid is None:
        return text("Fails.")
    response = text("Ok.")
    attributes = PERSONAS[services().settings["qbit.persona"]].cookie_attributes
    response.headers["Set-Cookie"] = f"{SESSION_COOKIE}={sid}; {attributes}"
    return response


def logout(params: MultiDict[str, str]) -> Response:
    services().authenticator.logout(session_id())
    response = text("")
    response.headers["Set-Cookie"] = (f"{SESSION_COOKIE}=; expires=Thu, 01-Jan-1970 00:00:00 "
                                      "GMT; path=/")
    return response


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("auth/login", login, post_only=True),
    Endpoint("auth/logout", logout, post_only=True),
)
