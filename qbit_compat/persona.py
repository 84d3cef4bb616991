"""The qBittorrent version Debridge presents, and how its states map to qBittorrent's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.models import Torrent, TorrentState


@dataclass(frozen=True)
class Persona:
    version: str               # app/version
    webapi: str                # app/webapiVersion
    build_info: dict[str, Any]
    paused_up: str
    paused_dl: str


PERSONAS = {
    "4.6.7": Persona(
        version="v4.6.7", webapi="2.9.3",
        build_info={"bitness": 64, "boost": "1.83.0", "libtorrent": "2.0.10.0",
                    "openssl": "3.0.15", "qt": "6.4.2", "zlib": "1.3"},
        paused_up="pausedUP", paused_dl="pausedDL"),
}


def qbit_state(torrent: Torrent, persona: Persona) -> str:
    """The qBittorrent state a client sees (design.md's lifecycle table)."""
    state = torrent.state
    if state is TorrentState.FAILED:
        return "error"
    if state is TorrentState.COMPLETED:
        # Complete and "paused at the seeding goal": what Sonarr may remove.
        return persona.paused_up
    if torrent.paused:
        return persona.paused_dl
    if state in (TorrentState.QUEUED, TorrentState.SUBMITTING):
        return "queuedDL"
    if state is TorrentState.RESOLVING and not torrent.has_metadata:
        return "metaDL"
    return "downloading"
