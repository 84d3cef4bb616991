"""Real-Debrid JSON shapes for torrents, unrestricted links and downloads."""

from __future__ import annotations

import mimetypes
import posixpath
from typing import Any
from urllib.parse import quote

from .records import DownloadRecord, TorrentRecord
from .status import js_date, seeders

HOST = "real-debrid.com"
SPLIT = 2000
CHUNKS = 32


def _mime_table() -> mimetypes.MimeTypes:
    # A private table rather than the global one, which reads the machine's /etc/mime.types
    # and would make answers differ between machines.
    table = mimetypes.MimeTypes()
    for mime, extension in (
        ("video/x-matroska", ".mkv"),
        ("video/mp2t", ".ts"),
        ("video/mp2t", ".m2ts"),
        ("video/x-m4v", ".m4v"),
        ("video/x-ms-wmv", ".wmv"),
        ("application/x-rar-compressed", ".rar"),
        ("text/plain", ".nfo"),
    ):
        table.add_type(mime, extension)
    return table


_MIME = _mime_table()


def mime_type(filename: str) -> str:
    return _MIME.guess_type(filename)[0] or "application/octet-stream"


def metadata_known(torrent: TorrentRecord, now: float) -> bool:
    """False while the magnet is converting or failed: Real-Debrid shows no files then."""
    timeline = torrent.timeline
    if timeline.selected_at is not None:
        return True
    return now >= timeline.conversion_end and not timeline.no_metadata


def torrent_json(torrent: TorrentRecord, now: float, origin: str, *, full: bool) -> dict[str, Any]:
    """`/torrents/info` when `full`, else a `/torrents` list item (no files, no original_*)."""
    timeline = torrent.timeline
    status = timeline.status(now)
    known = metadata_known(torrent, now)
    data: dict[str, Any] = {"id": torrent.id, "filename": torrent.filename}
    if full:
        data["original_filename"] = torrent.filename
    data["hash"] = torrent.hash
    data["bytes"] = torrent.bytes if known else 0
    if full:
        data["original_bytes"] = torrent.original_bytes if known else 0
    data.update(
        host=HOST,
        split=SPLIT,
        progress=timeline.progress(now),
        status=status,
        added=js_date(timeline.added),
    )
    if full:
        data["files"] = (
            [
                {"id": f.id, "path": f.path, "bytes": f.bytes, "selected": int(f.selected)}
                for f in torrent.files
            ]
            if known
            else []
        )
    finished = timeline.finished(now)
    data["links"] = [hoster_link(origin, link_id) for link_id in torrent.links] if finished else []
    if finished and timeline.ended_at is not None:
        data["ended"] = js_date(timeline.ended_at)
    if status == "downloading":
        data["speed"] = timeline.speed(torrent.bytes)
    if status in ("downloading", "magnet_conversion"):
        data["seeders"] = seeders(torrent.hash)
    return data


def hoster_link(origin: str, link_id: str) -> str:
    return f"{origin}/d/{link_id}"


def download_url(origin: str, record: DownloadRecord) -> str:
    return f"{origin}/cdn/{record.token}/{quote(record.filename)}"


def link_filename(torrent: TorrentRecord, file_ids: list[int]) -> str:
    """The name an unrestricted link carries: the file's basename, or `<name>.rar`."""
    if torrent.archive:
        return f"{torrent.filename}.rar"
    path = next(f.path for f in torrent.files if f.id == file_ids[0])
    return posixpath.basename(path)


def _link_fields(record: DownloadRecord, origin: str) -> dict[str, Any]:
    """The fields /unrestrict/link and /downloads share."""
    return {
        "id": record.id,
        "filename": record.filename,
        "mimeType": record.mime,
        "filesize": record.filesize,
        "link": hoster_link(origin, record.link_id),
        "host": HOST,
        "chunks": CHUNKS,
    }


def unrestrict_json(record: DownloadRecord, origin: str) -> dict[str, Any]:
    # Keys in the order Real-Debrid documents them.
    streamable = record.mime.startswith(("video/", "audio/"))
    return {**_link_fields(record, origin), "crc": 1,
            "download": download_url(origin, record), "streamable": int(streamable)}


def download_json(record: DownloadRecord, origin: str) -> dict[str, Any]:
    return {**_link_fields(record, origin), "download": download_url(origin, record),
            "generated": js_date(record.generated)}
