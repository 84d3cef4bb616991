"""Reaching an Arr: a client for a configured entry, and telling which Arr a URL is (a qBit
login that registers itself names only its URL and key)."""

from __future__ import annotations

import requests

from arr.client import ArrClient
from core.arrs import ArrDirectory, ArrSettings
from core.ports.arr import ArrError, ArrErrorKind, ArrKind, ArrStatus
from core.ports.repair import ArrRegistry
from core.settings import Settings

TIMEOUT = 10.0
ARR_NOTICES_META = "arr-notices"   # "1": the store queues Arr notices (store/migrations.py)
# Sonarr and Radarr answer under /api/v3, Lidarr under /api/v1; appName says which it is.
_PREFIXES = ("/api/v3", "/api/v1")
_BY_APP = {"sonarr": ArrKind.SONARR, "radarr": ArrKind.RADARR, "lidarr": ArrKind.LIDARR}


def connect(arr: ArrSettings) -> ArrClient:
    return ArrClient(arr.kind, arr.url, arr.api_key, timeout=TIMEOUT)


def detect(url: str, api_key: str, timeout: float = TIMEOUT) -> tuple[ArrKind, ArrStatus]:
    """Which Arr answers at `url` with this key, and its status; ArrError when none does
    (a wrong key: UNAUTHORIZED)."""
    base = url.rstrip("/")
    for prefix in _PREFIXES:
        try:
            answer = requests.get(f"{base}{prefix}/system/status", timeout=timeout,
                                  headers={"X-Api-Key": api_key}, allow_redirects=True)
        except requests.RequestException as exc:
            raise ArrError(ArrErrorKind.UNREACHABLE, f"no answer from {base} "
                           f"({type(exc).__name__})") from None
        if answer.status_code == 401:
            raise ArrError(ArrErrorKind.UNAUTHORIZED, f"{base} refused the API key", 401)
        if answer.status_code == 404:
            continue
        if answer.status_code != 200:
            raise ArrError(ArrErrorKind.SERVER if answer.status_code >= 500
                           else ArrErrorKind.REFUSED,
                           f"{base} answered {answer.status_code}", answer.status_code)
        try:
            body = answer.json()
            kind = _BY_APP[str(body["appName"]).lower()]
        except (ValueError, KeyError, TypeError):
            continue
        return kind, ArrClient(kind, base, api_key, timeout=timeout).status()
    raise ArrError(ArrErrorKind.BAD_ANSWER, f"{base} is not a Sonarr, Radarr or Lidarr")


def arr_directory(settings: Settings, registry: ArrRegistry) -> ArrDirectory:
    """The configured Arrs and those registered by login."""
    return ArrDirectory(settings.arrs, registry, connect, detect,
                        register_by_login=settings["qbit.register_arrs"])
