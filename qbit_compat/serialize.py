"""Torrents as qBittorrent's JSON: torrents/info entries, properties and files (4.6 field sets)."""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

from core.models import Torrent, TorrentFile, TorrentState
from core.naming import folder_for
from qbit_compat.persona import Persona, qbit_state

UNKNOWN_ETA = 8640000
# A debrid torrent never needs to seed: the global goal is ratio 0 with the "pause" action,
# so a completed torrent is pausedUP with its goal reached and Sonarr may remove it.
GLOBAL_MAX_RATIO = 0.0
GLOBAL_MAX_SEEDING_TIME = -1


def _effective_ratio_limit(torrent: Torrent) -> float:
    return torrent.ratio_limit if torrent.ratio_limit >= 0 else GLOBAL_MAX_RATIO


def _effective_seeding_limit(torrent: Torrent) -> int:
    return (torrent.seeding_time_limit if torrent.seeding_time_limit >= 0
            else GLOBAL_MAX_SEEDING_TIME)


def _completed_bytes(torrent: Torrent) -> int:
    return int(torrent.size * torrent.progress) if torrent.size > 0 else 0


def _eta(torrent: Torrent) -> int:
    remaining = torrent.size - _completed_bytes(torrent)
    if torrent.state is TorrentState.COMPLETED or torrent.speed <= 0 or remaining <= 0:
        return UNKNOWN_ETA
    return min(UNKNOWN_ETA, math.ceil(remaining / torrent.speed))


def magnet_uri(torrent: Torrent) -> str:
    query = [("xt", f"urn:btih:{torrent.hash}"), ("dn", torrent.name)]
    query += [("tr", t) for t in torrent.trackers]
    return "magnet:?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe=":")


def seeding_seconds(torrent: Torrent, now: int) -> int:
    if torrent.state is TorrentState.COMPLETED and torrent.completion_on:
        return max(0, now - torrent.completion_on)
    return 0


def info_entry(torrent: Torrent, persona: Persona, now: int) -> dict[str, Any]:
    """One torrents/info object (qBittorrent 4.6: 51 keys)."""
    completed = torrent.state is TorrentState.COMPLETED
    done_bytes = _completed_bytes(torrent)
    active = torrent.state in (TorrentState.DOWNLOADING, TorrentState.FINALIZING)
    ratio_limit = _effective_ratio_limit(torrent)
    return {
        "added_on": torrent.added_on,
        "amount_left": max(0, torrent.size - done_bytes),
        "auto_tmm": False,
        "availability": -1.0 if completed or torrent.paused else float(torrent.progress),
        "category": torrent.category,
        "completed": done_bytes,
        "completion_on": torrent.completion_on if completed else 0,
        "content_path": torrent.content_path,
        "dl_limit": 0,
        "dlspeed": torrent.speed if active else 0,
        "download_path": "",
        "downloaded": done_bytes,
        "downloaded_session": done_bytes,
        "eta": _eta(torrent),
        "f_l_piece_prio": False,
        "force_start": False,
        "hash": torrent.hash,
        "inactive_seeding_time_limit": -2,
        "infohash_v1": torrent.hash,
        "infohash_v2": "",
        "last_activity": torrent.last_activity or torrent.added_on,
        "magnet_uri": torrent.magnet or magnet_uri(torrent),
        "max_inactive_seeding_time": -1,
        "max_ratio": ratio_limit,
        "max_seeding_time": _effective_seeding_limit(torrent),
        "name": torrent.name,
        "num_complete": torrent.seeders,
        "num_incomplete": 0,
        "num_leechs": 0,
        "num_seeds": torrent.seeders if active else 0,
        "priority": 0,
        "progress": float(torrent.progress),
        # Completed torrents have met their seeding goal (see GLOBAL_MAX_RATIO).
        "ratio": float(ratio_limit) if completed else 0.0,
        "ratio_limit": float(torrent.ratio_limit),
        "save_path": torrent.save_path,
        "seeding_time": seeding_seconds(torrent, now),
        "seeding_time_limit": torrent.seeding_time_limit,
        "seen_complete": torrent.completion_on if completed else 0,
        "seq_dl": False,
        "size": torrent.size,
        "state": qbit_state(torrent, persona),
        "super_seeding": False,
        "tags": ", ".join(torrent.tags),
        "time_active": max(0, now - torrent.added_on),
        "total_size": torrent.total_size,
        "tracker": "",
        "trackers_count": len(torrent.trackers),
        "up_limit": 0,
        "uploaded": 0,
        "uploaded_session": 0,
        "upspeed": 0,
    }


def piece_size_for(total_size: int) -> int:
    """A plausible piece size (the provider does not report one): at most ~2000 pieces."""
    size = 16 * 1024
    while size < 16 * 1024 * 1024 and total_size / size > 2000:
        size *= 2
    return size


def properties(torrent: Torrent, now: int) -> dict[str, Any]:
    """torrents/properties (qBittorrent 4.6: 39 keys). `comment` carries a failure reason."""
    has_meta = torrent.has_metadata
    piece_size = piece_size_for(torrent.total_size) if has_meta else -1
    pieces = max(1, math.ceil(torrent.total_size / piece_size)) if has_meta else -1
    completed = torrent.state is TorrentState.COMPLETED
    done_bytes = _completed_bytes(torrent)
    info_ratio = float(_effective_ratio_limit(torrent)) if completed else 0.0
    return {
        "addition_date": torrent.added_on,
        "comment": torrent.message if torrent.state is TorrentState.FAILED else "",
        "completion_date": torrent.completion_on if completed else -1,
        "created_by": "",
        "creation_date": -1,
        "dl_limit": -1,
        "dl_speed": torrent.speed,
        "dl_speed_avg": torrent.speed,
        "download_path": "",
        "eta": _eta(torrent),
        "hash": torrent.hash,
        "infohash_v1": torrent.hash,
        "infohash_v2": "",
        "is_private": False,
        "last_seen": torrent.completion_on if completed else -1,
        "name": torrent.name,
        "nb_connections": 0,
        "nb_connections_limit": 100,
        "peers": 0,
        "peers_total": 0,
        "piece_size": piece_size,
        "pieces_have": int(pieces * torrent.progress) if has_meta else 0,
        "pieces_num": pieces,
        "reannounce": 0,
        "save_path": torrent.save_path,
        "seeding_time": seeding_seconds(torrent, now),
        "seeds": torrent.seeders,
        "seeds_total": torrent.seeders,
        "share_ratio": info_ratio,
        "time_elapsed": max(0, now - torrent.added_on),
        "total_downloaded": done_bytes,
        "total_downloaded_session": done_bytes,
        "total_size": torrent.total_size,
        "total_uploaded": 0,
        "total_uploaded_session": 0,
        "total_wasted": 0,
        "up_limit": -1,
        "up_speed": 0,
        "up_speed_avg": 0,
    }


def files(torrent: Torrent, indexes: set[int] | None = None) -> list[dict[str, Any]]:
    """torrents/files: names relative to save_path (Debridge always has a torrent folder)."""
    folder = torrent.folder or folder_for(torrent.name)
    piece_size = piece_size_for(max(torrent.total_size, 0))
    out: list[dict[str, Any]] = []
    offset = 0
    for f in torrent.files:
        first = offset // piece_size
        last = max(first, (offset + f.size - 1) // piece_size) if f.size else first
        offset += f.size
        if indexes is not None and f.index not in indexes:
            continue
        entry: dict[str, Any] = {
            "availability": -1.0 if torrent.state is TorrentState.COMPLETED else 0.0,
            "index": f.index,
            "name": f"{folder}/{f.path}",
            "piece_range": [first, last],
            "priority": 1 if f.selected else 0,
            "progress": _file_progress(torrent, f),
            "size": f.size,
        }
        if f.index == 0:
            entry["is_seed"] = torrent.state is TorrentState.COMPLETED
        out.append(entry)
    return out


def _file_progress(torrent: Torrent, f: TorrentFile) -> float:
    if not f.selected:
        return 0.0
    if f.done or torrent.state is TorrentState.COMPLETED:
        return 1.0
    return float(torrent.progress)
