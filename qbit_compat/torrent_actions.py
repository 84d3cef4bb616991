"""torrents/* changes: add, delete, pause/resume, categories, tags, limits, priorities."""

from __future__ import annotations

from flask import Response, request
from werkzeug.datastructures import MultiDict

from core.errors import CategoryNotFound, InvalidCategoryName, InvalidSource, TooManySources
from core.library import AddOptions
from core.naming import LAYOUTS, category_is_valid, has_invisible
from core.sources import (
    MAX_SOURCES,
    MAX_TORRENT_FILE_BYTES,
    TorrentSource,
    parse_magnet,
    parse_torrent_file,
)
from qbit_compat.app_routes import persona
from qbit_compat.http import (
    QbitError,
    flag,
    hash_list,
    number,
    required,
    services,
    text,
)
from qbit_compat.routing import Endpoint, session_id

# The urls field may come as a multipart part: room for MAX_SOURCES magnets with trackers.
MAX_URLS_BYTES = 16 * 1024 * 1024


def _tag_list(value: str) -> tuple[str, ...]:
    """Tags as qBittorrent takes them: trimmed, deduplicated; unusable ones skipped."""
    tags = []
    for tag in value.split(","):
        tag = tag.strip()
        if tag and tag not in tags and not has_invisible(tag) and len(tag) <= 255:
            tags.append(tag)
    return tuple(tags)


def _sources(params: MultiDict[str, str]) -> list[TorrentSource]:
    """Parse every upload first: one bad .torrent rejects the request (415), adding nothing."""
    uploads = [storage for _, storage in request.files.items(multi=True)]
    lines = [line for line in params.get("urls", "").splitlines() if line.strip()]
    if len(uploads) + len(lines) > MAX_SOURCES:
        raise TooManySources(len(uploads) + len(lines), MAX_SOURCES)
    sources: list[TorrentSource] = []
    for storage in uploads:   # any part with a filename is a torrent file
        data = storage.stream.read(MAX_TORRENT_FILE_BYTES + 1)
        sources.append(parse_torrent_file(data, storage.filename or "torrent"))
    for line in lines:
        try:
            sources.append(parse_magnet(line))
        except InvalidSource:
            # qBittorrent would fetch http(s) URLs; Debridge takes magnets and .torrent files.
            continue
    return sources


def _layout(params: MultiDict[str, str]) -> str:
    """contentLayout, else the legacy root_folder (true: a root folder, false: none), else
    the preference ("")."""
    layout = params.get("contentLayout", "")
    if layout in LAYOUTS:
        return layout
    if "root_folder" in params:
        return "Subfolder" if flag(params, "root_folder") else "NoSubfolder"
    return ""


def add(params: MultiDict[str, str]) -> Response:
    sources = _sources(params)
    category = params.get("category", "").strip()
    if not sources or (category and not category_is_valid(category)):
        return text("Fails.")
    stopped = flag(params, "stopped" if persona().stop_start else "paused")
    options = AddOptions(
        category=category, tags=_tag_list(params.get("tags", "")),
        save_path=params.get("savepath", "").strip(), paused=stopped,
        ratio_limit=number(params, "ratioLimit", -2.0),
        seeding_time_limit=int(number(params, "seedingTimeLimit", -2)),
        inactive_seeding_time_limit=int(number(params, "inactiveSeedingTimeLimit", -2)),
        rename=params.get("rename", ""), content_layout=_layout(params),
        dl_limit=int(number(params, "dlLimit", 0)), up_limit=int(number(params, "upLimit", 0)),
        seq_dl=flag(params, "sequentialDownload"),
        first_last_piece_prio=flag(params, "firstLastPiecePrio"),
        auto_tmm=flag(params, "autoTMM"), add_to_top=flag(params, "addToTopOfQueue"),
        force_start=flag(params, "forced") and persona().stop_start)
    # an Arr that registered itself by logging in owns the categories it adds into
    services().arrs.note_category(services().authenticator.session_user(session_id()),
                                  category)
    return text("Ok." if services().library.add(sources, options) else "Fails.")


def delete(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    required(params, "deleteFiles")
    services().library.delete(hashes, delete_files=flag(params, "deleteFiles"))
    return text("")


def pause(params: MultiDict[str, str]) -> Response:
    services().library.set_paused(hash_list(params), True)
    return text("")


def resume(params: MultiDict[str, str]) -> Response:
    services().library.set_paused(hash_list(params), False)
    return text("")


def recheck(params: MultiDict[str, str]) -> Response:
    services().library.recheck(hash_list(params))
    return text("")


def reannounce(params: MultiDict[str, str]) -> Response:
    """The provider talks to the trackers; there is nothing to announce from here."""
    hash_list(params)
    return text("")


def _download_path(params: MultiDict[str, str]) -> str | bool | None:
    """A category's download path option: set only when downloadPathEnabled is given."""
    if "downloadPathEnabled" not in params:
        return None
    return params.get("downloadPath", "") if flag(params, "downloadPathEnabled") else False


def create_category(params: MultiDict[str, str]) -> Response:
    services().library.create_category(required(params, "category"),
                                       params.get("savePath", ""), _download_path(params))
    return text("")


def edit_category(params: MultiDict[str, str]) -> Response:
    try:
        services().library.edit_category(required(params, "category"),
                                         required(params, "savePath"), _download_path(params))
    except CategoryNotFound:
        raise QbitError(409, "Unable to edit category") from None
    return text("")


def remove_categories(params: MultiDict[str, str]) -> Response:
    services().library.remove_categories(required(params, "categories").splitlines())
    return text("")


def set_category(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    category = required(params, "category")
    if category and not category_is_valid(category):
        raise InvalidCategoryName(category)
    services().library.set_category(hashes, category)
    return text("")


def add_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    services().library.add_tags(hashes, _tag_list(required(params, "tags")))
    return text("")


def remove_tags(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    services().library.remove_tags(hashes, _tag_list(params.get("tags", "")))
    return text("")


def create_tags(params: MultiDict[str, str]) -> Response:
    services().library.create_tags(_tag_list(required(params, "tags")))
    return text("")


def delete_tags(params: MultiDict[str, str]) -> Response:
    services().library.delete_tags(_tag_list(required(params, "tags")))
    return text("")


def set_share_limits(params: MultiDict[str, str]) -> Response:
    hashes = hash_list(params)
    for name in ("ratioLimit", "seedingTimeLimit", "inactiveSeedingTimeLimit"):
        required(params, name)
    services().library.set_share_limits(
        hashes, number(params, "ratioLimit", -2.0), int(number(params, "seedingTimeLimit", -2)),
        int(number(params, "inactiveSeedingTimeLimit", -2)))
    return text("")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("torrents/add", add, post_only=True, form_bytes=MAX_URLS_BYTES),
    Endpoint("torrents/delete", delete, post_only=True),
    # 4.x: pause/resume; 5.x renamed them stop/start (the old names answer 404 there).
    Endpoint("torrents/pause", pause, post_only=True, personas=("4.6.7",)),
    Endpoint("torrents/resume", resume, post_only=True, personas=("4.6.7",)),
    Endpoint("torrents/stop", pause, post_only=True, personas=("5.1.4",)),
    Endpoint("torrents/start", resume, post_only=True, personas=("5.1.4",)),
    Endpoint("torrents/recheck", recheck, post_only=True),
    Endpoint("torrents/reannounce", reannounce, post_only=True),
    Endpoint("torrents/createCategory", create_category, post_only=True),
    Endpoint("torrents/editCategory", edit_category, post_only=True),
    Endpoint("torrents/removeCategories", remove_categories, post_only=True),
    Endpoint("torrents/setCategory", set_category, post_only=True),
    Endpoint("torrents/addTags", add_tags, post_only=True),
    Endpoint("torrents/removeTags", remove_tags, post_only=True),
    Endpoint("torrents/createTags", create_tags, post_only=True),
    Endpoint("torrents/deleteTags", delete_tags, post_only=True),
    Endpoint("torrents/setShareLimits", set_share_limits, post_only=True),
)
