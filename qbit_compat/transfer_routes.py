"""transfer/*: totals, global speed limits (stored and echoed) and alternative-limits mode."""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat.app_routes import persona
from qbit_compat.http import bad_request, integer, json_response, required, services, text
from qbit_compat.routing import Endpoint


def _limits() -> dict[str, Any]:
    stored = services().library.preferences.stored()
    alternative = bool(stored.get("use_alt_speed_limits", False))
    return {
        "alternative": alternative,
        "dl": int(stored.get("alt_dl_limit" if alternative else "dl_limit", 0) or 0),
        "up": int(stored.get("alt_up_limit" if alternative else "up_limit", 0) or 0),
    }


def transfer_totals() -> dict[str, Any]:
    """transfer/info: what Debridge moves is the provider's and the local copy's bytes."""
    limits = _limits()
    fetched, speed = services().library.transfer_totals()
    return {
        "connection_status": "connected",
        "dht_nodes": 0,
        "dl_info_data": fetched,
        "dl_info_speed": speed,
        "dl_rate_limit": limits["dl"],
        "up_info_data": 0,
        "up_info_speed": 0,
        "up_rate_limit": limits["up"],
        **persona().transfer_extra,
    }


def _set(**values: Any) -> None:
    library = services().library
    library.preferences.update(values, known=values)


def info(params: MultiDict[str, str]) -> Response:
    return json_response(transfer_totals())


def speed_limits_mode(params: MultiDict[str, str]) -> Response:
    return text("1" if _limits()["alternative"] else "0")


def toggle_speed_limits_mode(params: MultiDict[str, str]) -> Response:
    _set(use_alt_speed_limits=not _limits()["alternative"])
    return text("")


def set_speed_limits_mode(params: MultiDict[str, str]) -> Response:
    try:
        mode = int(required(params, "mode").strip())
    except ValueError:
        raise bad_request("'mode': invalid argument") from None
    _set(use_alt_speed_limits=mode != 0)
    return text("")


def download_limit(params: MultiDict[str, str]) -> Response:
    return text(str(_limits()["dl"]))


def upload_limit(params: MultiDict[str, str]) -> Response:
    return text(str(_limits()["up"]))


def _set_limit(params: MultiDict[str, str], normal: str, alternative: str) -> Response:
    limit = max(0, integer(params, "limit", 0) if required(params, "limit") else 0)
    _set(**{alternative if _limits()["alternative"] else normal: limit})
    return text("")


def set_download_limit(params: MultiDict[str, str]) -> Response:
    return _set_limit(params, "dl_limit", "alt_dl_limit")


def set_upload_limit(params: MultiDict[str, str]) -> Response:
    return _set_limit(params, "up_limit", "alt_up_limit")


def ban_peers(params: MultiDict[str, str]) -> Response:
    """Adds the peers' addresses to the banned_IPs preference (newline-separated), as
    qBittorrent does. (Debridge itself never talks to peers.)"""
    library = services().library
    banned = [ip for ip in str(library.preferences.stored().get("banned_IPs", "")).split("\n")
              if ip]
    for peer in required(params, "peers").split("|"):
        host = peer.strip().rpartition(":")[0].strip("[]")
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            continue
        if address not in banned:
            banned.append(address)
    _set(banned_IPs="\n".join(banned))
    return text("")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("transfer/info", info),
    Endpoint("transfer/speedLimitsMode", speed_limits_mode),
    Endpoint("transfer/toggleSpeedLimitsMode", toggle_speed_limits_mode, post_only=True),
    Endpoint("transfer/setSpeedLimitsMode", set_speed_limits_mode, post_only=True),
    Endpoint("transfer/downloadLimit", download_limit),
    Endpoint("transfer/uploadLimit", upload_limit),
    Endpoint("transfer/setDownloadLimit", set_download_limit, post_only=True),
    Endpoint("transfer/setUploadLimit", set_upload_limit, post_only=True),
    Endpoint("transfer/banPeers", ban_peers, post_only=True),
)
