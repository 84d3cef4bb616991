"""app/*: versions, build info, preferences, default save path."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat.http import json_response, services, text
from qbit_compat.persona import PERSONAS, Persona
from qbit_compat.routing import endpoint
from qbit_compat.serialize import GLOBAL_MAX_RATIO, GLOBAL_MAX_SEEDING_TIME


def persona() -> Persona:
    return PERSONAS[services().settings["qbit.persona"]]


@cache
def _template() -> dict[str, Any]:
    """qBittorrent's full preferences object (recorded from a real server), as the base."""
    raw = resources.files("qbit_compat").joinpath("data/preferences.json").read_text("utf-8")
    return json.loads(raw)  # type: ignore[no-any-return]


def preferences() -> dict[str, Any]:
    """Preferences a debrid-backed client honestly has, over qBittorrent's defaults."""
    settings = services().settings
    library = services().library
    prefs = dict(_template())
    save_path = str(library.downloads_folder)
    prefs.update({
        "save_path": save_path,
        "temp_path": f"{save_path}/temp",
        "temp_path_enabled": False,
        "web_ui_address": settings["server.host"],
        "web_ui_port": settings["server.port"],
        "web_ui_username": settings["auth.username"],
        "web_ui_session_timeout": settings["auth.session_timeout_seconds"],
        "web_ui_max_auth_fail_count": settings["auth.max_failed_logins"],
        "web_ui_ban_duration": settings["auth.ban_seconds"],
        # Magnets resolve at the provider: Sonarr treats metaDL as queued only with DHT on,
        # and refuses tracker-less magnets when DHT is off.
        "dht": True,
        "queueing_enabled": False,
        "max_ratio_enabled": True,
        "max_ratio": GLOBAL_MAX_RATIO,
        "max_ratio_act": 0,
        "max_seeding_time_enabled": False,
        "max_seeding_time": GLOBAL_MAX_SEEDING_TIME,
    })
    return prefs


@endpoint("app/version")
def version(params: MultiDict[str, str]) -> Response:
    return text(persona().version)


@endpoint("app/webapiVersion")
def webapi_version(params: MultiDict[str, str]) -> Response:
    return text(persona().webapi)


@endpoint("app/buildInfo")
def build_info(params: MultiDict[str, str]) -> Response:
    return json_response(persona().build_info)


@endpoint("app/preferences")
def get_preferences(params: MultiDict[str, str]) -> Response:
    return json_response(preferences())


@endpoint("app/defaultSavePath")
def default_save_path(params: MultiDict[str, str]) -> Response:
    return text(str(services().library.downloads_folder))
