"""torrents/* reads: info, properties, files, categories."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat import serialize
from qbit_compat.app_routes import persona, view
from qbit_compat.http import (
    QbitError,
    bad_request,
    flag,
    hash_list,
    integer,
    json_array,
    json_bytes_response,
    json_response,
    required,
    services,
    split_hashes,
    text,
)
from qbit_compat.routing import Endpoint

DOWNLOADING = {"downloading", "metaDL", "forcedMetaDL", "stalledDL", "checkingDL", "pausedDL",
               "queuedDL", "forcedDL", "stoppedDL"}
UPLOADING = {"uploading", "forcedUP", "stalledUP", "queuedUP", "checkingUP"}
COMPLETED = UPLOADING | {"pausedUP", "stoppedUP"}
PAUSED = {"pausedDL", "pausedUP", "stoppedDL", "stoppedUP"}
ACTIVE = {"metaDL", "forcedMetaDL", "downloading", "forcedDL", "uploading", "forcedUP", "moving"}
FILTERS = {
    "downloading": lambda s: s in DOWNLOADING,
    "seeding": lambda s: s in UPLOADING,
    "completed": lambda s: s in COMPLETED,
    "active": lambda s: s in ACTIVE,
    "inactive": lambda s: s not in ACTIVE,
    "stalled": lambda s: s in ("stalledUP", "stalledDL"),
    "stalled_uploading": lambda s: s == "stalledUP",
    "stalled_downloading": lambda s: s == "stalledDL",
    "checking": lambda s: s in ("checkingUP", "checkingDL", "checkingResumeData"),
    "moving": lambda s: s == "moving",
    "errored": lambda s: s in ("error", "missingFiles"),
}


def _state_filter(name: str) -> Callable[[str], bool] | None:
    """The filter by name; an unknown name means all, as in qBittorrent (so a 5.x persona
    given `paused` lists everything)."""
    paused, running = persona().paused_filter
    if name == paused:
        return lambda s: s in PAUSED
    if name == running:
        return lambda s: s not in PAUSED
    return FILTERS.get(name)


def _sort_key(value: Any) -> tuple[int, Any]:
    # Mixed types never compare: numbers first, then text.
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def info(params: MultiDict[str, str]) -> Response:
    category = params.get("category")          # present but empty = uncategorised
    hashes = hash_list(params) if "hashes" in params else None   # optional here
    torrents = services().library.torrents(category=category, hashes=hashes)
    tag = params.get("tag")
    if tag is not None:
        tag = tag.strip()
        torrents = [t for t in torrents if (tag in t.tags if tag else not t.tags)]
    current = view()
    with_trackers = persona().stop_start and flag(params, "includeTrackers")
    wanted = _state_filter(params.get("filter", "all"))
    sort = params.get("sort")
    reverse = params.get("reverse", "").lower() == "true"
    offset, limit = integer(params, "offset", 0), integer(params, "limit", 0)

    def entries() -> Iterator[dict[str, Any]]:
        for torrent in reversed(torrents) if reverse and not sort else torrents:
            entry = serialize.info_entry(torrent, current)
            if wanted is None or wanted(entry["state"]):
                if with_trackers:
                    entry["trackers"] = serialize.tracker_rows(torrent)
                yield entry

    if sort:
        chosen = list(entries())
        if chosen and sort not in chosen[0]:
            raise bad_request("'sort' parameter is invalid")
        chosen.sort(key=lambda e: _sort_key(e.get(sort, "")), reverse=reverse)
        selected: Iterable[dict[str, Any]] = chosen
    else:
        selected = entries()      # one entry at a time: long listings stay small in memory
    if offset < 0:
        selected = list(selected)
        offset = max(0, len(selected) + offset)
    window = itertools.islice(selected, offset, offset + limit if limit > 0 else None)
    return json_bytes_response(json_array(window))


def properties(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"), with_files=False)
    return json_response(serialize.properties(torrent, view()))


def files(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"))
    wanted = None
    if params.get("indexes"):
        wanted = set()
        for part in params["indexes"].split("|"):
            try:
                index = int(part)
            except ValueError:
                raise QbitError(409, f'"{part}" is not a valid file index.') from None
            if not 0 <= index < len(torrent.files):
                raise QbitError(409, f"Index {index} is out of bounds.")
            wanted.add(index)
    return json_response(serialize.files(torrent, wanted))


def categories(params: MultiDict[str, str]) -> Response:
    return json_response({c.name: serialize.category(c)
                          for c in services().library.categories()})


def tags(params: MultiDict[str, str]) -> Response:
    return json_response(services().library.tags())


def trackers(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"), with_files=False)
    return json_response(serialize.trackers(torrent, dht=bool(
        services().library.preferences.get("dht"))))


def webseeds(params: MultiDict[str, str]) -> Response:
    services().library.torrent(required(params, "hash"), with_files=False)
    return json_response([])


def piece_states(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"), with_files=False)
    return json_response(serialize.piece_states(torrent))


def piece_hashes(params: MultiDict[str, str]) -> Response:
    return json_response(serialize.piece_hashes(
        services().library.torrent_file(required(params, "hash"))))


def _limits(params: MultiDict[str, str], field: str) -> Response:
    """{hash as sent: limit}; 0 is unlimited, -1 an unknown hash (as qBittorrent answers)."""
    names = split_hashes(required(params, "hashes"))
    known = {t.hash: getattr(t, field) for t in
             services().library.torrents(hashes=None if names is None else names)}
    if names is None:
        return json_response(known)
    return json_response({name: known.get(name.lower(), -1) for name in names})


def download_limit(params: MultiDict[str, str]) -> Response:
    return _limits(params, "dl_limit")


def upload_limit(params: MultiDict[str, str]) -> Response:
    return _limits(params, "up_limit")


def count(params: MultiDict[str, str]) -> Response:
    """A plain-text number (qBittorrent 4.6.1+)."""
    return text(str(services().library.count()))


def export(params: MultiDict[str, str]) -> Response:
    """The .torrent a torrent was added from; magnets carry no metainfo to export."""
    info_hash = required(params, "hash")
    data = services().library.torrent_file(info_hash)
    if data is None:
        raise QbitError(409, "Unable to export torrent file. Error: it was added as a magnet "
                             "link and Debridge keeps no metainfo for it")
    if persona().stop_start:
        return Response(data, content_type="application/x-bittorrent", headers={
            "Content-Disposition": f'attachment; filename="{info_hash.lower()}.torrent"'})
    return Response(data, content_type="text/plain; charset=UTF-8")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("torrents/info", info),
    Endpoint("torrents/properties", properties),
    Endpoint("torrents/files", files),
    Endpoint("torrents/categories", categories),
    Endpoint("torrents/tags", tags),
    Endpoint("torrents/trackers", trackers),
    Endpoint("torrents/webseeds", webseeds),
    Endpoint("torrents/pieceStates", piece_states),
    Endpoint("torrents/pieceHashes", piece_hashes),
    Endpoint("torrents/downloadLimit", download_limit),
    Endpoint("torrents/uploadLimit", upload_limit),
    Endpoint("torrents/count", count),
    Endpoint("torrents/export", export),
)
