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
from qbit_compat.routing import Endpoint, Handler


def rename(params: MultiDict[str, str]) -> Response:
    services().library.rename(required(params, "hash"), required(params, "name"))
    return text("")


def set_location(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    try:
        services().library.set_location(hashes, required(params, "location"))
    except SavePathUnusable as exc:
        if exc.creatable:
            raise QbitError(403, "Cannot write to directory") from None
        raise QbitError(409, "Cannot make save path") from None
    return text("")


def set_save_path(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params, "id")
    try:
        services().library.set_location(hashes, required(params, "path"))
    except SavePathUnusable as exc:
        if exc.creatable:
            raise QbitError(403, "Cannot write to directory") from None
        raise QbitError(409, "Cannot create target directory") from None
    return text("")


def set_download_path(params: MultiDict[str, str]) -> Response:
    """Debridge keeps partial files in the torrent's own folder: only "no download path"
    is possible."""
    hash_list(params, "id")
    if required(params, "path").strip():
        raise QbitError(409, "Debridge does not use a separate download path (partial files "
                             "stay in the torrent's folder)")
    return text("")


def rename_file(params: MultiDict[str, str]) -> Response:
    services().library.rename_file(required(params, "hash"), required(params, "oldPath"),
                                   required(params, "newPath"))
    return text("")


def rename_folder(params: MultiDict[str, str]) -> Response:
    services().library.rename_folder(required(params, "hash"), required(params, "oldPath"),
                                     required(params, "newPath"))
    return text("")


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


def add_trackers(params: MultiDict[str, str]) -> Response:
    services().library.add_trackers(required(params, "hash"), required(params, "urls"))
    return text("")


def edit_tracker(params: MultiDict[str, str]) -> Response:
    services().library.edit_tracker(required(params, "hash"), required(params, "origUrl"),
                                    required(params, "newUrl"))
    return text("")


def remove_trackers(params: MultiDict[str, str]) -> Response:
    services().library.remove_trackers(required(params, "hash"), required(params, "urls"))
    return text("")


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


def set_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    tags = tuple(t.strip() for t in required(params, "tags").split(",") if t.strip())
    services().library.set_tags(hashes, tags)
    return text("")


def _flag_setter(flag_name: str, parameter: str | None) -> Handler:
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


FLAGS = (("setAutoManagement", "auto_tmm", "enable"),
         ("toggleSequentialDownload", "seq_dl", None),
         ("toggleFirstLastPiecePrio", "first_last_piece_prio", None),
         ("setSuperSeeding", "super_seeding", "value"),
         ("setForceStart", "force_start", "value"))


def _limit_setter(field: str) -> Handler:
    def handler(params: MultiDict[str, str]) -> Response:
        hashes = hash_list(params)
        required(params, "limit")
        services().library.set_limit(hashes, field, integer(params, "limit", 0))
        return text("")
    return handler


def _queue_mover(how: str) -> Handler:
    def handler(params: MultiDict[str, str]) -> Response:
        services().library.move_in_queue(hash_list(params), how)
        return text("")
    return handler


QUEUE_MOVES = (("topPrio", "top"), ("bottomPrio", "bottom"), ("increasePrio", "increase"),
               ("decreasePrio", "decrease"))


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("torrents/rename", rename, post_only=True),
    Endpoint("torrents/setLocation", set_location, post_only=True),
    Endpoint("torrents/setSavePath", set_save_path, post_only=True),
    Endpoint("torrents/setDownloadPath", set_download_path, post_only=True),
    Endpoint("torrents/renameFile", rename_file, post_only=True),
    Endpoint("torrents/renameFolder", rename_folder, post_only=True),
    Endpoint("torrents/filePrio", file_priority, post_only=True),
    Endpoint("torrents/addTrackers", add_trackers, post_only=True),
    Endpoint("torrents/editTracker", edit_tracker, post_only=True),
    Endpoint("torrents/removeTrackers", remove_trackers, post_only=True),
    Endpoint("torrents/addPeers", add_peers, post_only=True),
    Endpoint("torrents/setTags", set_tags, post_only=True, personas=("5.1.4",)),
    *(Endpoint(f"torrents/{action}", _flag_setter(name, parameter), post_only=True)
      for action, name, parameter in FLAGS),
    Endpoint("torrents/setDownloadLimit", _limit_setter("dl_limit"), post_only=True),
    Endpoint("torrents/setUploadLimit", _limit_setter("up_limit"), post_only=True),
    *(Endpoint(f"torrents/{action}", _queue_mover(how), post_only=True)
      for action, how in QUEUE_MOVES),
)
