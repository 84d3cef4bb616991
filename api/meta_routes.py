"""Debridge's own version (public) and API-key rotation."""

from __future__ import annotations

from flask import Response, jsonify

from api.http import blueprint, root, services
from core import __version__
from core.errors import DebridgeError


class KeyInConfig(DebridgeError):
    """auth.api_key is set in the config file: it is changed there, not by the API."""

    status = 409


@root.get("/version")
def version() -> Response:
    """Debridge's version (not the qBittorrent persona's); needs no key and tells nothing
    else."""
    return jsonify({"version": __version__})


@blueprint.post("/refresh-token")
def refresh_token() -> Response:
    """A new API key; the old one is refused from now on, in every worker process (the key's
    digest lives in the store, and nothing caches a verified key)."""
    svc = services()
    if svc.settings["auth.api_key"]:
        raise KeyInConfig("auth.api_key is set in the config file: change it there (or empty "
                          "it to let Debridge keep a key it can rotate)")
    return jsonify({"api_token": svc.authenticator.rotate_api_key()})
