"""Torrents as qBittorrent's JSON: torrents/info entries, properties and files (4.6 field sets)."""

from __future__ import annotations

import io
import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torf

from core.models import Category, FailureReason, Torrent, TorrentFile, TorrentState
from core.naming import folder_for
from core.preferences import ShareLimits
from core.view import RUNNING, TRANSFERRING, TorrentView, torrent_view
from qbit_compat.persona import Persona, qbit_state

UNKNOWN_ETA = 8640000


@dataclass(frozen=True)
class View:
    """What serialising needs besides the torrent: the persona, the time, global limits."""

    persona: Persona
    now: int
    limits: ShareLimits
    queueing: bool
    queue: Mapping[int, int] = field(default_factory=dict)   # torrent id -> queue rank


def _effective_ratio_limit(torrent: Torrent, view: View) -> float:
    return torrent.ratio_limit if torrent.ratio_limit >= 0 else view.limits.ratio


def _effective_seeding_limit(torrent: Torrent, view: View) -> int:
    return (torrent.seeding_time_limit if torrent.seeding_time_limit >= 0
            else view.limits.seeding_minutes)


def _effective_inactive_limit(torrent: Torrent, view: View) -> int:
    return (torrent.inactive_seeding_time_limit if torrent.inactive_seeding_time_limit >= 0
            else view.limits.inactive_minutes)


def _reported_ratio(torrent: Torrent, view: View) -> float:
    """A debrid torrent never seeds: once complete it has met its goal (if it has one), so it
    is paused at the goal and Sonarr may remove it."""
    if torrent.state is not TorrentState.COMPLETED:
        return 0.0
    return max(0.0, float(_effective_ratio_limit(torrent, view)))


def _eta(neutral: TorrentView) -> int:
    return UNKNOWN_ETA if neutral.eta is None else min(UNKNOWN_ETA, neutral.eta)


def qt(value: float) -> float:
    """A double as Qt writes it: whole values without a fraction (1.0 -> 1), never NaN."""
    if value != value or value in (float("inf"), float("-inf")):
        return -1
    return int(value) if value.is_integer() else value


@lru_cache(maxsize=65536)
def _encode(value: str) -> str:
    """Percent-encoding as qBittorrent writes it in magnet links: lowercase hex digits."""
    return _HEX.sub(lambda m: m.group().lower(), urllib.parse.quote(value, safe=""))


_HEX = re.compile(r"%[0-9A-F]{2}")


def magnet_uri(torrent: Torrent) -> str:
    """The torrent's magnet link with its current name and trackers."""
    return _magnet(torrent.hash, torrent.name, torrent.trackers)


@lru_cache(maxsize=65536)
def _magnet(info_hash: str, name: str, trackers: tuple[str, ...]) -> str:
    parts = [f"xt=urn:btih:{info_hash}", f"dn={_encode(name)}"]
    parts += [f"tr={_encode(url)}" for url in trackers]
    return "magnet:?" + "&".join(parts)


def active_seconds(torrent: Torrent, now: int) -> int:
    """Time spent running: it stops counting when the torrent completes (paused at its goal),
    is paused, waits in the queue or fails, as qBittorrent's does for paused torrents."""
    if torrent.state is TorrentState.COMPLETED and torrent.completion_on:
        end = torrent.completion_on
    elif torrent.state in RUNNING and not torrent.paused:
        end = now
    else:
        end = torrent.last_activity or torrent.added_on
    return max(0, end - torrent.added_on)



def info_entry(torrent: Torrent, view: View) -> dict[str, Any]:
    """One torrents/info object (qBittorrent 4.6: 51 keys; 5.1 adds six)."""
    now = view.now
    neutral = torrent_view(torrent, now)
    completed = torrent.state is TorrentState.COMPLETED
    done_bytes = neutral.placed_bytes
    active = torrent.state in TRANSFERRING
    entry: dict[str, Any] = {
        "added_on": torrent.added_on,
        "amount_left": max(0, torrent.size - done_bytes),
        "auto_tmm": torrent.auto_tmm,
        "availability": -1 if completed or torrent.paused else qt(torrent.progress),
        "category": torrent.category,
        "completed": done_bytes,
        "completion_on": torrent.completion_on if completed else view.persona.never,
        "content_path": torrent.content_path,
        "dl_limit": torrent.dl_limit,
        "dlspeed": neutral.speed,
        "download_path": "",
        "downloaded": done_bytes,
        "downloaded_session": done_bytes,
        "eta": _eta(neutral),
        "f_l_piece_prio": torrent.first_last_piece_prio,
        "force_start": torrent.force_start,
        "hash": torrent.hash,
        "inactive_seeding_time_limit": torrent.inactive_seeding_time_limit,
        "infohash_v1": torrent.hash,
        "infohash_v2": "",
        "last_activity": torrent.last_activity or torrent.added_on,
        "magnet_uri": magnet_uri(torrent),
        "max_inactive_seeding_time": _effective_inactive_limit(torrent, view),
        "max_ratio": qt(_effective_ratio_limit(torrent, view)),
        "max_seeding_time": _effective_seeding_limit(torrent, view),
        "name": torrent.name,
        "num_complete": torrent.seeders,
        "num_incomplete": 0,
        "num_leechs": 0,
        "num_seeds": torrent.seeders if active else 0,
        "priority": _queue_priority(torrent, view),
        "progress": qt(neutral.progress),
        "ratio": qt(_reported_ratio(torrent, view)),
        "ratio_limit": qt(torrent.ratio_limit),
        "save_path": torrent.save_path,
        "seeding_time": 0,          # never seeds: paused the moment it completes
        "seeding_time_limit": torrent.seeding_time_limit,
        "seen_complete": torrent.completion_on if completed else view.persona.never,
        "seq_dl": torrent.seq_dl,
        "size": torrent.size,
        "state": qbit_state(torrent, view.persona),
        "super_seeding": torrent.super_seeding,
        "tags": ", ".join(torrent.tags),
        "time_active": active_seconds(torrent, now),
        "total_size": torrent.total_size,
        # the provider fetches the torrent through its trackers: the first one "works"
        "tracker": torrent.trackers[0] if torrent.trackers and active else "",
        "trackers_count": len(torrent.trackers),
        "up_limit": torrent.up_limit,
        "uploaded": 0,
        "uploaded_session": 0,
        "upspeed": 0,
    }
    if view.persona.stop_start:      # qBittorrent 5.x fields
        entry.update({
            "comment": _comment(torrent), "has_metadata": torrent.has_metadata,
            "popularity": 0, "private": False if torrent.has_metadata else None,
            "reannounce": 0, "root_path": torrent.content_path})
    return entry


def _comment(torrent: Torrent) -> str:
    """Where qBittorrent shows a torrent's comment, a failed torrent shows why it failed (and
    a torrent whose content is the provider's archive says so)."""
    if torrent.state is TorrentState.FAILED or torrent.reason == FailureReason.ARCHIVE.value:
        return torrent.message
    return ""


def _queue_priority(torrent: Torrent, view: View) -> int:
    """qBittorrent's queue position: 1 for the first incomplete torrent, then 2, 3...; 0
    for a complete one, or when queueing is off."""
    return view.queue.get(torrent.id, 0) if view.queueing else 0


def pieces_of(torrent: Torrent) -> tuple[int, int]:
    """(piece size, piece count): the .torrent's own, else plausible (no metadata: -1, -1)."""
    if not torrent.has_metadata:
        return -1, -1
    size = torrent.piece_size or piece_size_for(torrent.total_size)
    return size, max(1, math.ceil(torrent.total_size / size))


def piece_size_for(total_size: int) -> int:
    """A plausible piece size (the provider does not report one): at most ~2000 pieces."""
    size = 16 * 1024
    while size < 16 * 1024 * 1024 and total_size / size > 2000:
        size *= 2
    return size


def properties(torrent: Torrent, view: View) -> dict[str, Any]:
    """torrents/properties (qBittorrent 4.6: 39 keys; 5.1 adds four). `comment` carries a
    failure reason."""
    now = view.now
    has_meta = torrent.has_metadata
    piece_size, pieces = pieces_of(torrent)
    completed = torrent.state is TorrentState.COMPLETED
    neutral = torrent_view(torrent, now)
    done_bytes = neutral.placed_bytes
    props = {
        "addition_date": torrent.added_on,
        "comment": _comment(torrent),
        "completion_date": torrent.completion_on if completed else -1,
        "created_by": "",
        "creation_date": -1,
        "dl_limit": torrent.dl_limit or -1,
        "dl_speed": neutral.speed,
        "dl_speed_avg": neutral.speed,
        "download_path": "",
        "eta": _eta(neutral),
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
        "seeding_time": 0,
        "seeds": torrent.seeders,
        "seeds_total": torrent.seeders,
        "share_ratio": qt(_reported_ratio(torrent, view)),
        "time_elapsed": active_seconds(torrent, now),
        "total_downloaded": done_bytes,
        "total_downloaded_session": done_bytes,
        "total_size": torrent.total_size,
        "total_uploaded": 0,
        "total_uploaded_session": 0,
        "total_wasted": 0,
        "up_limit": torrent.up_limit or -1,
        "up_speed": 0,
        "up_speed_avg": 0,
    }
    if view.persona.stop_start:      # qBittorrent 5.x fields
        props.update({"has_metadata": has_meta, "popularity": 0,
                      "private": False if has_meta else None,
                      "progress": qt(torrent.progress)})
    return props


def files(torrent: Torrent, indexes: set[int] | None = None) -> list[dict[str, Any]]:
    """torrents/files: names relative to save_path (with the root folder, if there is one)."""
    folder = (torrent.local_folder or folder_for(torrent.origin_name or torrent.name)
              if torrent.has_root else "")
    piece_size = pieces_of(torrent)[0] if torrent.has_metadata else piece_size_for(0)
    out: list[dict[str, Any]] = []
    offset = 0
    for f in torrent.files:
        first = offset // piece_size
        last = max(first, (offset + f.size - 1) // piece_size) if f.size else first
        offset += f.size
        if indexes is not None and f.index not in indexes:
            continue
        entry: dict[str, Any] = {
            "availability": -1 if torrent.state is TorrentState.COMPLETED else 0,
            "index": f.index,
            "name": f"{folder}/{f.path}" if folder else f.path,
            "piece_range": [first, last],
            # qBittorrent keeps 1, 6 and 7 as set; Debridge's own choice reads as normal
            "priority": (f.priority if f.priority > 0 else 1) if f.selected else 0,
            "progress": _file_progress(torrent, f),
            "size": f.size,
        }
        if f.index == 0:
            entry["is_seed"] = torrent.state is TorrentState.COMPLETED
        out.append(entry)
    return out


def _file_progress(torrent: Torrent, f: TorrentFile) -> float:
    if not f.selected:
        return 0
    if f.done or torrent.state is TorrentState.COMPLETED:
        return 1
    return qt(torrent.progress)


def tracker_rows(torrent: Torrent) -> list[dict[str, Any]]:
    """The torrent's own trackers. The provider fetches the torrent through them, so they
    are reported working, with the provider's seeders."""
    return [{"msg": "", "num_downloaded": -1, "num_leeches": 0, "num_peers": torrent.seeders,
             "num_seeds": torrent.seeders, "status": 2, "tier": tier, "url": url}
            for tier, url in enumerate(torrent.trackers)]


def trackers(torrent: Torrent, *, dht: bool) -> list[dict[str, Any]]:
    """torrents/trackers: the DHT/PeX/LSD rows, then the torrent's trackers."""
    rows: list[dict[str, Any]] = [
        {"msg": "", "num_downloaded": 0, "num_leeches": 0, "num_peers": 0, "num_seeds": 0,
         "status": 2 if (name == "** [DHT] **" and dht) else 0, "tier": -1, "url": name}
        for name in ("** [DHT] **", "** [PeX] **", "** [LSD] **")]
    return rows + tracker_rows(torrent)


def piece_states(torrent: Torrent) -> list[int]:
    """0 missing, 1 downloading, 2 have: pieces fill in the order of the progress."""
    if not torrent.has_metadata:
        return []
    pieces = pieces_of(torrent)[1]
    have = pieces if torrent.state is TorrentState.COMPLETED else int(pieces * torrent.progress)
    downloading = 1 if have < pieces and torrent.speed > 0 else 0
    return [2] * have + [1] * downloading + [0] * (pieces - have - downloading)


def piece_hashes(torrent_file: bytes | None) -> list[str]:
    """The SHA-1 piece hashes of an uploaded .torrent (magnets carry none)."""
    if not torrent_file:
        return []
    try:
        metainfo = torf.Torrent.read_stream(io.BytesIO(torrent_file), validate=False)
        return [piece.hex() for piece in metainfo.hashes]
    except (torf.TorfError, ValueError, TypeError):
        return []


def category(item: Category) -> dict[str, Any]:
    """{name, savePath}, plus download_path (a path, or false) only when it was set."""
    entry: dict[str, Any] = {"name": item.name, "savePath": item.save_path}
    if item.download_path is not None:
        entry["download_path"] = item.download_path
    return entry
