"""torrents/* changes: add, delete, pause/resume, categories, tags, limits, priorities."""

from __future__ import annotations

from flask import Response, request
from werkzeug.datastructures import MultiDict

from core.errors import InvalidCategoryName, InvalidSource
from core.library import AddOptions
from core.naming import category_is_valid
from core.sources import MAX_TORRENT_FILE_BYTES, TorrentSource, parse_magnet, parse_torrent_file
from qbit_compat.http import (
    QbitError,
    flag,
    hash_list,
    number,
    required,
    services,
    text,
)
from qbit_compat.routing import endpoint

MAX_URLS = 1000


def _tag_list(value: str) -> tuple[str, ...]:
    tags = []
    for tag in value.split(","):
        tag = tag.strip()
        if tag and tag not in tags and "\x00" not in tag and len(tag) <= 255:
            tags.append(tag)
    return tuple(tags)


def _sources(params: MultiDict[str, str]) -> list[TorrentSource]:
    """Parse every upload first: one bad .torrent rejects the request (415), adding nothing."""
    sources: list[TorrentSource] = []
    for storage in request.files.values():   # any part with a filename is a torrent file
        data = storage.stream.read(MAX_TORRENT_FILE_BYTES + 1)
        sources.append(parse_torrent_file(data, storage.filename or "torrent"))
    for line in params.get("urls", "").splitlines()[:MAX_URLS]:
        if not line.strip():
            continue
        try:
            sources.append(parse_magnet(line))
        except InvalidSource:
            # qBittorrent would fetch http(s) URLs; Debridge takes magnets and .torrent files.
            continue
    return sources


@endpoint("torrents/add", post_only=True)
def add(params: MultiDict[str, str]) -> Response:
    sources = _sources(params)
    category = params.get("category", "").strip()
    if not sources or (category and not category_is_valid(category)):
        return text("Fails.")
    options = AddOptions(
        category=category, tags=_tag_list(params.get("tags", "")),
        save_path=params.get("savepath", "").strip(), paused=flag(params, "paused"),
        ratio_limit=number(params, "ratioLimit", -2.0),
        seeding_time_limit=int(number(params, "seedingTimeLimit", -2)),
        rename=params.get("rename", ""))
    return text("Ok." if services().library.add(sources, options) else "Fails.")


@endpoint("torrents/delete", post_only=True)
def delete(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    required(params, "deleteFiles")
    services().library.delete(hashes, delete_files=flag(params, "deleteFiles"))
    return text("")


@endpoint("torrents/pause", post_only=True)
def pause(params: MultiDict[str, str]) -> Response:
    services().library.set_paused(hash_list(params), True)
    return text("")


@endpoint("torrents/resume", post_only=True)
def resume(params: MultiDict[str, str]) -> Response:
    services().library.set_paused(hash_list(params), False)
    return text("")


@endpoint("torrents/setForceStart", post_only=True)
def set_force_start(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    if flag(params, "value"):
        services().library.set_paused(hashes, False)
    return text("")


@endpoint("torrents/createCategory", post_only=True)
def create_category(params: MultiDict[str, str]) -> Response:
    services().library.create_category(required(params, "category"),
                                       params.get("savePath", ""))
    return text("")


@endpoint("torrents/setCategory", post_only=True)
def set_category(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    category = required(params, "category")
    if category and not category_is_valid(category):
        raise InvalidCategoryName(category)
    services().library.set_category(hashes, category)
    return text("")


@endpoint("torrents/addTags", post_only=True)
def add_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    services().library.add_tags(hashes, _tag_list(required(params, "tags")))
    return text("")


@endpoint("torrents/removeTags", post_only=True)
def remove_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    services().library.remove_tags(hashes, _tag_list(params.get("tags", "")))
    return text("")


@endpoint("torrents/createTags", post_only=True)
def create_tags(params: MultiDict[str, str]) -> Response:
    services().library.create_tags(_tag_list(required(params, "tags")))
    return text("")


@endpoint("torrents/setShareLimits", post_only=True)
def set_share_limits(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    for name in ("ratioLimit", "seedingTimeLimit", "inactiveSeedingTimeLimit"):
        required(params, name)
    services().library.set_share_limits(hashes, number(params, "ratioLimit", -2.0),
                                        int(number(params, "seedingTimeLimit", -2)))
    return text("")


def _queueing_off(params: MultiDict[str, str]) -> Response:
    hash_list(params)
    raise QbitError(409, "Torrent queueing must be enabled")


for _name in ("topPrio", "bottomPrio", "increasePrio", "decreasePrio"):
    endpoint(f"torrents/{_name}", post_only=True)(_queueing_off)
