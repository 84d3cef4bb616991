"""The qBittorrent version Debridge presents, and everything a client sees that depends on it.

Facts per version come from qBittorrent's source (4.5.2 and 5.1.0 release tarballs, 4.6.x
from the closest stored versions); see tests/test_qbit_personas.py for what is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.models import Torrent, TorrentState

CSP_4 = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
         "script-src 'self' 'unsafe-inline'; object-src 'none'; form-action 'self'; "
         "frame-ancestors 'self';")
CSP_5 = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
         "script-src 'self' 'unsafe-inline'; object-src 'none'; form-action 'self'; "
         "frame-src 'self' blob:; frame-ancestors 'self';")


@dataclass(frozen=True)
class Persona:
    name: str                    # the qbit.persona setting
    version: str                 # app/version
    webapi: str                  # app/webapiVersion
    build_info: dict[str, Any]
    stop_start: bool             # 5.x: stop/start, stopped* states and filters, `stopped`
    never: int                   # a time that never happened: 0 on 4.x, -1 on 5.x
    cookie_attributes: str
    csp: str
    # keys 5.1 adds to transfer/info and server_state
    transfer_extra: dict[str, Any] = field(default_factory=dict)

    @property
    def paused_up(self) -> str:
        return "stoppedUP" if self.stop_start else "pausedUP"

    @property
    def paused_dl(self) -> str:
        return "stoppedDL" if self.stop_start else "pausedDL"

    @property
    def paused_filter(self) -> tuple[str, str]:
        """The torrents/info filter names for paused and running torrents."""
        return ("stopped", "running") if self.stop_start else ("paused", "resumed")

    @property
    def preferences_file(self) -> str:
        return f"data/preferences-{self.name}.json"


PERSONAS = {
    "4.6.7": Persona(
        name="4.6.7", version="v4.6.7", webapi="2.9.3", stop_start=False, never=0,
        build_info={"bitness": 64, "boost": "1.83.0", "libtorrent": "2.0.10.0",
                    "openssl": "3.0.15", "qt": "6.4.2", "zlib": "1.3"},
        cookie_attributes="HttpOnly; path=/; SameSite=Strict", csp=CSP_4),
    "5.1.4": Persona(
        name="5.1.4", version="v5.1.4", webapi="2.11.4", stop_start=True, never=-1,
        build_info={"bitness": 64, "boost": "1.86.0", "libtorrent": "2.0.11.0",
                    "openssl": "3.4.1", "platform": "linux", "qt": "6.8.2", "zlib": "1.3.1"},
        cookie_attributes="HttpOnly; SameSite=Strict; path=/", csp=CSP_5,
        transfer_extra={"last_external_address_v4": "", "last_external_address_v6": ""}),
}


def qbit_state(torrent: Torrent, persona: Persona) -> str:
    """The qBittorrent state a client sees (design.md's lifecycle table)."""
    state = torrent.state
    if state is TorrentState.FAILED:
        return "error"
    if torrent.layout_dirty and state is TorrentState.COMPLETED:
        return "moving"
    if state is TorrentState.COMPLETED:
        # Complete and "paused at the seeding goal": what Sonarr may remove.
        return persona.paused_up
    if torrent.paused:
        return persona.paused_dl
    if state in (TorrentState.QUEUED, TorrentState.SUBMITTING):
        return "queuedDL"
    if state is TorrentState.RESOLVING and not torrent.has_metadata:
        return "forcedMetaDL" if torrent.force_start else "metaDL"
    return "forcedDL" if torrent.force_start else "downloading"
