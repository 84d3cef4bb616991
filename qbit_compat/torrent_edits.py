"""torrents/* edits: names and places, files, trackers, peers, flags, limits, queue order."""

from __future__ import annotations

import ipaddress

from flask import Response
from werkzeug.datastructures import MultiDict

from core.errors import SavePathUnusable
from qbit_compat.http import (
    QbitError,
    bad_request,
    flag,
    hash_list,
    integer,
    json_response,
    required,
    services,
    text,
)
from qbit_compat.routing import endpoint


@endpoint("torrents/rename", post_only=True)
def rename(params: MultiDict[str, str]) -> Response:
    services().library.rename(required(params, "hash"), required(params, "name"))
    return text("")


@endpoint("torrents/setLocation", post_only=True)
def set_location(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    try:
        services().library.set_location(hashes, required(params, "location"))
    except SavePathUnusable as exc:
        if exc.creatable:
            raise QbitError(403, "Cannot write to directory") from None
        raise QbitError(409, "Cannot make save path") from None
    return text("")


@endpoint("torrents/setSavePath", post_only=True)
def set_save_path(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params, "id")
    try:
        services().library.set_location(hashes, required(params, "path"))
    except SavePathUnusable as exc:
        if exc.creatable:
            raise QbitError(403, "Cannot write to directory") from None
        raise QbitError(409, "Cannot create target directory") from None
    return text("")


@endpoint("torrents/setDownloadPath", post_only=True)
def set_download_path(params: MultiDict[str, str]) -> Response:
    """Debridge keeps partial files in the torrent's own folder: only "no download path"
    is possible."""
    hash_list(params, "id")
    if required(params, "path").strip():
        raise QbitError(409, "Debridge does not use a separate download path (partial files "
                             "stay in the torrent's folder)")
    return text("")


@endpoint("torrents/renameFile", post_only=True)
def rename_file(params: MultiDict[str, str]) -> Response:
    services().library.rename_file(required(params, "hash"), required(params, "oldPath"),
                                   required(params, "newPath"))
    return text("")


@endpoint("torrents/renameFolder", post_only=True)
def rename_folder(params: MultiDict[str, str]) -> Response:
    services().library.rename_folder(required(params, "hash"), required(params, "oldPath"),
                                     required(params, "newPath"))
    return text("")


@endpoint("torrents/filePrio", post_only=True)
def file_priority(params: MultiDict[str, str]) -> Response:
    info_hash, ids = required(params, "hash"), required(params, "id")
    try:
        priority = int(required(params, "priority"))
    except ValueError:
        raise bad_request("Priority must be an integer") from None
    if priority not in (0, 1, 6, 7):
        raise bad_request("Priority is not valid")
    services().library.file_priority(info_hash, ids, priority)
    return text("")


@endpoint("torrents/addTrackers", post_only=True)
def add_trackers(params: MultiDict[str, str]) -> Response:
    services().library.add_trackers(required(params, "hash"), required(params, "urls"))
    return text("")


@endpoint("torrents/editTracker", post_only=True)
def edit_tracker(params: MultiDict[str, str]) -> Response:
    services().library.edit_tracker(required(params, "hash"), required(params, "origUrl"),
                                    required(params, "newUrl"))
    return text("")


@endpoint("torrents/removeTrackers", post_only=True)
def remove_trackers(params: MultiDict[str, str]) -> Response:
    services().library.remove_trackers(required(params, "hash"), required(params, "urls"))
    return text("")


@endpoint("torrents/addPeers", post_only=True)
def add_peers(params: MultiDict[str, str]) -> Response:
    """The provider finds the peers; a debrid torrent takes none from a client. Valid peers
    are counted as failed, per torrent, as qBittorrent reports them."""
    hashes = hash_list(params)
    valid = [p for p in required(params, "peers").split("|") if _is_peer(p.strip())]
    if not valid:
        raise bad_request("No valid peers were specified")
    return json_response({t.hash: {"added": 0, "failed": len(valid)}
                          for t in services().library.torrents(hashes=hashes)})


def _is_peer(peer: str) -> bool:
    host, _, port = peer.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@endpoint("torrents/setTags", post_only=True, personas=("5.1.4",))
def set_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    tags = tuple(t.strip() for t in required(params, "tags").split(",") if t.strip())
    services().library.set_tags(hashes, tags)
    return text("")


def _flag_setter(flag_name: str, parameter: str | None) -> object:
    """Set a flag from `parameter` (true/false), or toggle it when there is none."""
    def handler(params: MultiDict[str, str]) -> Response:
        hashes = hash_list(params)
        value = None
        if parameter is not None:
            required(params, parameter)
            value = flag(params, parameter)
        if flag_name == "force_start" and value:
            services().library.set_paused(hashes, False)     # force start also starts it
        services().library.set_flag(hashes, flag_name, value)
        return text("")
    return handler


for _action, _flag, _parameter in (
        ("setAutoManagement", "auto_tmm", "enable"),
        ("toggleSequentialDownload", "seq_dl", None),
        ("toggleFirstLastPiecePrio", "first_last_piece_prio", None),
        ("setSuperSeeding", "super_seeding", "value"),
        ("setForceStart", "force_start", "value")):
    endpoint(f"torrents/{_action}", post_only=True)(  # type: ignore[arg-type]
        _flag_setter(_flag, _parameter))


def _limit_setter(field: str) -> object:
    def handler(params: MultiDict[str, str]) -> Response:
        hashes = hash_list(params)
        required(params, "limit")
        services().library.set_limit(hashes, field, integer(params, "limit", 0))
        return text("")
    return handler


endpoint("torrents/setDownloadLimit", post_only=True)(_limit_setter("dl_limit"))  # type: ignore[arg-type]
endpoint("torrents/setUploadLimit", post_only=True)(_limit_setter("up_limit"))  # type: ignore[arg-type]


def _queue_mover(how: str) -> object:
    def handler(params: MultiDict[str, str]) -> Response:
        services().library.move_in_queue(hash_list(params), how)
        return text("")
    return handler


for _action, _how in (("topPrio", "top"), ("bottomPrio", "bottom"),
                      ("increasePrio", "increase"), ("decreasePrio", "decrease")):
    endpoint(f"torrents/{_action}", post_only=True)(_queue_mover(_how))  # type: ignore[arg-type]
