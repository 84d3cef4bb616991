"""Premiumize's JSON shapes over the shared state: transfers, the cloud folder tree, items.

A transfer's RD-style timeline reads as Premiumize's status words. Once finished, a transfer
is a cloud folder named after it (or, for a torrent of one top-level file, that file alone);
the folder stays empty for FOLDER_GAP_SECONDS after the transfer turns `finished`, as on
Premiumize. Item ids are the shared state's link ids; folder ids encode (torrent, path).
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from typing import Any
from urllib.parse import quote

from debrid.sandbox import render
from debrid.sandbox.dialects import common
from debrid.sandbox.records import FileRecord, TorrentRecord
from debrid.sandbox.runtime import current

FOLDER_GAP_SECONDS = 1.0   # finished, but its folder has no files yet (sandbox clock)
# RD timeline word -> Premiumize's; a torrent waiting for its selection waits for a slot.
STATUS_WORDS = {
    "magnet_conversion": "waiting", "waiting_files_selection": "queued", "queued": "queued",
    "downloading": "running", "downloaded": "finished", "magnet_error": "error",
    "dead": "deleted",
}
MESSAGES = {
    "error": "Could not fetch the torrent's metadata.",
    "deleted": "The content of this transfer was removed.",
    "banned": "This content is not allowed (copyright claim).",
}
UNSELECTED = frozenset({"magnet_conversion", "waiting_files_selection", "magnet_error"})


def is_banned(record: TorrentRecord) -> bool:
    """Infringing content: the transfer exists but is `banned` (it is never selected, so a
    selected torrent cannot be one)."""
    return record.timeline.selected_at is None and common.entry_of(record).infringing


def status_of(record: TorrentRecord, banned: bool) -> str:
    return "banned" if banned else STATUS_WORDS[common.status(record)]


def single_file(record: TorrentRecord) -> FileRecord | None:
    """The file a one-file torrent (no folder inside) becomes in the cloud, else None."""
    selected = [f for f in record.files if f.selected]
    if len(selected) == 1 and "/" not in selected[0].path.strip("/"):
        return selected[0]
    return None


def folder_id(torrent_id: str, subpath: str = "") -> str:
    raw = f"{torrent_id}:{subpath}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_folder_id(value: str) -> tuple[str, str] | None:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    torrent_id, sep, subpath = raw.partition(":")
    return (torrent_id, subpath) if sep and torrent_id else None


def source(record: TorrentRecord) -> str:
    """The transfer's `src`: its magnet (the sandbox keeps no original URI)."""
    return f"magnet:?xt=urn:btih:{record.hash}&dn={quote(record.filename)}"


def content_ready(record: TorrentRecord) -> bool:
    """Finished (and not dead) long enough for its cloud files to carry links."""
    ended = record.timeline.ended_at
    return common.status(record) == "downloaded" and ended is not None and \
        current().state.now() >= ended + FOLDER_GAP_SECONDS


def _running_message(record: TorrentRecord, percent: int) -> str:
    speed = record.timeline.speed(record.bytes) / 1e6
    end = record.timeline.ended_at or 0.0
    eta = max(0, int(end - current().state.now()))
    peers = 1 + int(record.hash[16:18], 16) % 40
    return (f"Downloading at {speed:.2f} MB/s from {peers} peers. {percent}% of "
            f"{record.bytes / 1e9:.2f} GB finished. ETA is {eta} seconds")


def transfer_json(record: TorrentRecord, banned: bool) -> dict[str, Any]:
    """A /transfer/list item; `record` must have its files when it is finished."""
    status = status_of(record, banned)
    percent = 0 if banned else common.progress(record)
    message = _running_message(record, percent) if status == "running" else \
        MESSAGES.get(status)
    folder, file_id = None, None
    if status == "finished":
        single = single_file(record)
        links = common.file_links(record)
        if single is not None:
            file_id = links.get(single.id)
        else:
            folder = folder_id(record.id)
    return {"id": record.id, "name": record.filename, "status": status,
            "progress": round(percent / 100, 4), "message": message, "src": source(record),
            "folder_id": folder, "file_id": file_id,
            "created_at": int(record.timeline.added)}


def _file_item(record: TorrentRecord, file: FileRecord, link_id: str,
               ready: bool) -> dict[str, Any]:
    name = posixpath.basename(file.path)
    url = common.direct_url(common.current_link(link_id)) if ready else None
    return {"id": link_id, "name": name, "type": "file", "size": file.bytes,
            "created_at": int(record.timeline.ended_at or record.timeline.added),
            "mime_type": render.mime_type(name), "link": url, "stream_link": None,
            "transcode_status": "not_applicable", "virus_scan": "ok"}


def item_json(record: TorrentRecord, link_id: str) -> dict[str, Any] | None:
    """/item/details of one cloud file (None if the link serves no single file)."""
    links = {link: file_id for file_id, link in common.file_links(record).items()}
    file = next((f for f in record.files if f.id == links.get(link_id)), None)
    if file is None:
        return None
    data = _file_item(record, file, link_id, content_ready(record))
    parent = posixpath.dirname(file.path.strip("/"))
    data["folder_id"] = None if single_file(record) is not None else folder_id(record.id, parent)
    return data


def folder_content(record: TorrentRecord, subpath: str) -> list[dict[str, Any]] | None:
    """The items directly in one folder of a finished transfer (None: no such folder)."""
    if single_file(record) is not None:
        return None
    if not content_ready(record):
        return [] if subpath == "" else None
    links = common.file_links(record)
    prefix = f"{subpath}/" if subpath else ""
    items: list[dict[str, Any]] = []
    folders: set[str] = set()
    for file in record.files:
        path = file.path.strip("/")
        if not file.selected or not path.startswith(prefix):
            continue
        rest = path[len(prefix):]
        if "/" in rest:
            name = rest.split("/", 1)[0]
            if name not in folders:
                folders.add(name)
                items.append({"id": folder_id(record.id, prefix + name), "name": name,
                              "type": "folder",
                              "created_at": int(record.timeline.ended_at or 0)})
        elif file.id in links:
            items.append(_file_item(record, file, links[file.id], True))
    return items if items or subpath == "" else None


def folder_name(record: TorrentRecord, subpath: str) -> str:
    return posixpath.basename(subpath) if subpath else record.filename


def parent_of(record: TorrentRecord, subpath: str) -> str | None:
    if not subpath:
        return None
    return folder_id(record.id, posixpath.dirname(subpath))
