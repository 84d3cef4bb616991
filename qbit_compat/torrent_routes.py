"""torrents/* reads: info, properties, files, categories."""

from __future__ import annotations

import time
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from qbit_compat import serialize
from qbit_compat.app_routes import persona
from qbit_compat.http import bad_request, integer, json_response, required, services
from qbit_compat.routing import endpoint

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
    "paused": lambda s: s in PAUSED,
    "resumed": lambda s: s not in PAUSED,
    "active": lambda s: s in ACTIVE,
    "inactive": lambda s: s not in ACTIVE,
    "stalled": lambda s: s in ("stalledUP", "stalledDL"),
    "stalled_uploading": lambda s: s == "stalledUP",
    "stalled_downloading": lambda s: s == "stalledDL",
    "checking": lambda s: s in ("checkingUP", "checkingDL", "checkingResumeData"),
    "moving": lambda s: s == "moving",
    "errored": lambda s: s in ("error", "missingFiles"),
}


def _sort_key(value: Any) -> tuple[int, Any]:
    # Mixed types never compare: numbers first, then text.
    return (0, value) if isinstance(value, int | float) else (1, str(value))


@endpoint("torrents/info")
def info(params: MultiDict[str, str]) -> Response:
    category = params.get("category")          # present but empty = uncategorised
    hashes_text = params.get("hashes")
    hashes = None
    if hashes_text is not None and hashes_text.strip().lower() != "all":
        hashes = [h.strip().lower() for h in hashes_text.split("|") if h.strip()]
    torrents = services().library.torrents(category=category, hashes=hashes)
    tag = params.get("tag")
    if tag is not None:
        torrents = [t for t in torrents if (tag in t.tags if tag else not t.tags)]
    now, who = int(time.time()), persona()
    entries = [serialize.info_entry(t, who, now) for t in torrents]
    wanted = FILTERS.get(params.get("filter", "all"))
    if wanted is not None:
        entries = [e for e in entries if wanted(e["state"])]
    sort = params.get("sort")
    if sort:
        entries.sort(key=lambda e: _sort_key(e.get(sort, "")),
                     reverse=params.get("reverse", "").lower() == "true")
    elif params.get("reverse", "").lower() == "true":
        entries.reverse()
    offset = integer(params, "offset", 0)
    limit = integer(params, "limit", 0)
    if offset < 0:
        offset = max(0, len(entries) + offset)
    entries = entries[offset:offset + limit] if limit > 0 else entries[offset:]
    return json_response(entries)


@endpoint("torrents/properties")
def properties(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"), with_files=False)
    return json_response(serialize.properties(torrent, int(time.time())))


@endpoint("torrents/files")
def files(params: MultiDict[str, str]) -> Response:
    torrent = services().library.torrent(required(params, "hash"))
    wanted = None
    if params.get("indexes"):
        try:
            wanted = {int(i) for i in params["indexes"].split("|") if i.strip()}
        except ValueError:
            raise bad_request() from None
    return json_response(serialize.files(torrent, wanted))


@endpoint("torrents/categories")
def categories(params: MultiDict[str, str]) -> Response:
    return json_response({c.name: {"name": c.name, "savePath": c.save_path}
                          for c in services().library.categories()})


@endpoint("torrents/tags")
def tags(params: MultiDict[str, str]) -> Response:
    return json_response(services().library.tags())
