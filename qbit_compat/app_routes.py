"""app/*: versions, build info, preferences, default save path."""

from __future__ import annotations

import json
import logging
import threading
import time
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Response, current_app
from werkzeug.datastructures import MultiDict

from qbit_compat import interfaces, serialize
from qbit_compat.http import QbitError, bad_request, json_response, required, services, text
from qbit_compat.persona import PERSONAS, Persona
from qbit_compat.routing import Endpoint

log = logging.getLogger(__name__)
SHUTDOWN_KEY = "debridge.shutdown"   # app.py puts a stop function there when it may be used


def persona() -> Persona:
    return PERSONAS[services().settings["qbit.persona"]]


def view() -> serialize.View:
    """The persona, the time and the global limits torrents are serialised with."""
    library = services().library
    prefs = library.preferences
    queueing = bool(prefs.get("queueing_enabled"))
    return serialize.View(persona(), int(time.time()), prefs.share_limits(), queueing,
                          library.queue_ranks() if queueing else {})


@cache
def _template(name: str) -> dict[str, Any]:
    """The persona's full preferences object at qBittorrent's defaults, as the base."""
    raw = resources.files("qbit_compat").joinpath(
        PERSONAS[name].preferences_file).read_text("utf-8")
    template: dict[str, Any] = json.loads(raw)
    return template


# Preferences that config.json owns: a client cannot change them through the API.
CONFIG_OWNED = frozenset({"web_ui_port", "web_ui_address", "web_ui_username",
                          "web_ui_password", "web_ui_max_auth_fail_count",
                          "web_ui_ban_duration", "web_ui_session_timeout",
                          "web_ui_csrf_protection_enabled",
                          "web_ui_host_header_validation_enabled", "web_ui_domain_list"})


def preferences() -> dict[str, Any]:
    """qBittorrent's preferences: the recorded defaults, what clients stored, and the values
    Debridge really acts on."""
    settings = services().settings
    library = services().library
    prefs = dict(_template(settings["qbit.persona"]))
    stored = library.preferences.stored()
    prefs.update({k: v for k, v in stored.items() if k in prefs and k not in CONFIG_OWNED})
    honoured = library.preferences.honoured()
    save_path = str(library.downloads_folder)
    prefs.update(honoured)
    prefs.update({
        "save_path": save_path,
        "temp_path": f"{save_path}/temp",
        "web_ui_address": settings["server.host"],
        "web_ui_port": settings["server.port"],
        "web_ui_username": settings["auth.username"],
        "web_ui_session_timeout": settings["auth.session_timeout_seconds"],
        "web_ui_max_auth_fail_count": settings["auth.max_failed_logins"],
        "web_ui_ban_duration": settings["auth.ban_seconds"],
        "web_ui_csrf_protection_enabled": settings["qbit.csrf_protection"],
        "web_ui_host_header_validation_enabled": settings["qbit.host_header_validation"],
        "web_ui_domain_list": settings["qbit.domain_list"],
        # qBittorrent reports a disabled limit as -1.
        "max_ratio": serialize.qt(honoured["max_ratio"]) if honoured["max_ratio_enabled"]
        else -1,
        "max_seeding_time": (honoured["max_seeding_time"]
                             if honoured["max_seeding_time_enabled"] else -1),
        "max_inactive_seeding_time": (honoured["max_inactive_seeding_time"]
                                      if honoured["max_inactive_seeding_time_enabled"] else -1),
    })
    return prefs


def set_preferences(params: MultiDict[str, str]) -> Response:
    try:
        changes = json.loads(required(params, "json"))
    except ValueError:
        raise bad_request() from None
    if not isinstance(changes, dict):
        raise bad_request()
    allowed = {k: v for k, v in changes.items() if k not in CONFIG_OWNED}
    services().library.preferences.update(allowed, known=preferences())
    return text("")


def shutdown(params: MultiDict[str, str]) -> Response:
    stop = current_app.extensions.get(SHUTDOWN_KEY)
    if not services().settings["qbit.allow_shutdown"] or stop is None:
        raise QbitError(403, "Shutting down is disabled (setting qbit.allow_shutdown)")
    threading.Timer(0.5, stop).start()      # after this answer has gone out
    return text("")


def network_interfaces(params: MultiDict[str, str]) -> Response:
    return json_response(interfaces.interfaces())


def network_addresses(params: MultiDict[str, str]) -> Response:
    return json_response(interfaces.addresses(required(params, "iface").strip()))


# -- qBittorrent 5.x only -----------------------------------------------------------------------
def send_test_email(params: MultiDict[str, str]) -> Response:
    """qBittorrent answers 200 and reports mail problems in its log; so does Debridge."""
    log.info("app/sendTestEmail: Debridge sends no e-mail notifications")
    return text("")


def directory_content(params: MultiDict[str, str]) -> Response:
    """The folders (and files) of a server path, for choosing a save path."""
    path = required(params, "dirPath").strip()
    mode = params.get("mode", "all")
    if not path or path.startswith(":") or not path.startswith("/") or "\x00" in path:
        raise bad_request("Invalid directory path")
    if mode not in ("all", "dirs", "files"):
        raise bad_request("Invalid mode, allowed values: all, dirs, files")
    folder = Path(path)
    if not folder.is_dir():
        raise QbitError(404, "Directory does not exist")
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        raise QbitError(404, "Directory does not exist") from None
    keep = {"all": lambda p: True, "dirs": Path.is_dir, "files": Path.is_file}[mode]
    return json_response([str(p) for p in entries if keep(p)])


def cookies(params: MultiDict[str, str]) -> Response:
    return json_response(services().library.preferences.stored().get("cookies", []))


def set_cookies(params: MultiDict[str, str]) -> Response:
    """Stored and echoed (qBittorrent uses them to fetch URLs; Debridge fetches none)."""
    try:
        value = json.loads(required(params, "cookies"))
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if not isinstance(value, list):
        raise bad_request("cookies must be array")
    fields = {"name": str, "domain": str, "path": str, "value": str, "expirationDate": int}
    for item in value:
        if not isinstance(item, dict) or any(
                not isinstance(item.get(k), t) for k, t in fields.items()):
            raise bad_request()
    services().library.preferences.update({"cookies": value}, known={"cookies": []})
    return text("")


def version(params: MultiDict[str, str]) -> Response:
    return text(persona().version)


def webapi_version(params: MultiDict[str, str]) -> Response:
    return text(persona().webapi)


def build_info(params: MultiDict[str, str]) -> Response:
    return json_response(persona().build_info)


def get_preferences(params: MultiDict[str, str]) -> Response:
    return json_response(preferences())


def default_save_path(params: MultiDict[str, str]) -> Response:
    return text(str(services().library.downloads_folder))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("app/setPreferences", set_preferences, post_only=True),
    Endpoint("app/shutdown", shutdown, post_only=True),
    Endpoint("app/networkInterfaceList", network_interfaces),
    Endpoint("app/networkInterfaceAddressList", network_addresses),
    Endpoint("app/sendTestEmail", send_test_email, post_only=True, personas=("5.1.4",)),
    Endpoint("app/getDirectoryContent", directory_content, personas=("5.1.4",)),
    Endpoint("app/cookies", cookies, personas=("5.1.4",)),
    Endpoint("app/setCookies", set_cookies, post_only=True, personas=("5.1.4",)),
    Endpoint("app/version", version),
    Endpoint("app/webapiVersion", webapi_version),
    Endpoint("app/buildInfo", build_info),
    Endpoint("app/preferences", get_preferences),
    Endpoint("app/defaultSavePath", default_save_path),
)
