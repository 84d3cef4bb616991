"""AllDebrid's JSON shapes over the shared state: the envelope, error codes and messages,
statusCode from the timeline, magnet objects and the `{n, s, l}` / `{n, e}` file tree."""

from __future__ import annotations

import random
from typing import Any

from flask import Response, jsonify

from debrid.sandbox import render
from debrid.sandbox.dialects import DialectError
from debrid.sandbox.records import DownloadRecord, TorrentRecord
from debrid.sandbox.status import seeders

HOST, HOST_DOMAIN = "alldebrid", "alldebrid.com"
ACTIVE_LIMIT = 30            # what MAGNET_TOO_MANY_ACTIVE quotes (options.max_active enforces)
NO_PEER_SECONDS = 20 * 60    # a magnet whose metadata never comes: statusCode 7 after this
TOO_BIG_BYTES = 1 << 40      # a torrent over this fails with statusCode 8 (a sandbox choice)
# Where the download window ends each phase: 1 downloading, 2 compressing, 3 uploading.
DOWNLOAD_SHARE, COMPRESS_SHARE = 0.8, 0.9

# The documented messages where known; the rest say what happened plainly.
MESSAGES = {
    "GENERIC": "An error occurred",
    "404": "Endpoint doesn't exist",
    "DISCONTINUED": "This endpoint is discontinued, use the newer version",
    "MAINTENANCE": "AllDebrid is under maintenance, retry later",
    "NO_SERVER": "Servers are not authorized to use this feature. Go to "
                 "https://alldebrid.com/vpn if you are using a VPN.",
    "AUTH_MISSING_APIKEY": "The auth apikey was not sent",
    "AUTH_BAD_APIKEY": "The auth apikey is invalid",
    "AUTH_BLOCKED": "This apikey is geo-blocked or ip-blocked",
    "AUTH_USER_BANNED": "This account is banned",
    "MUST_BE_PREMIUM": "You must be premium to process this link",
    "MAGNET_INVALID_ID": "Magnet ID is invalid",
    "MAGNET_INVALID_URI": "Magnet is not valid",
    "MAGNET_INVALID_FILE": "File is not a valid torrent",
    "MAGNET_NO_URI": "No magnet sent",
    "MAGNET_TOO_MANY_ACTIVE": f"Already have maximum allowed active magnets ({ACTIVE_LIMIT})",
    "MAGNET_PROCESSING": "Magnet is processing or complete",
    # AllDebrid documents no refusal for infringing content; the sandbox answers this one.
    "MAGNET_PROCESSING_FAILED": "This magnet cannot be processed",
    "LINK_IS_MISSING": "No link was sent",
    "LINK_HOST_NOT_SUPPORTED": "This link is not supported",
    "LINK_DOWN": "This link is not available on the file hoster website",
    "LINK_TEMPORARY_UNAVAILABLE": "This link is temporarily unavailable, retry later",
    "LINK_HOST_LIMIT_REACHED": "You have reached the download limit for this host",
    "DELAYED_INVALID_ID": "This delayed link id is invalid",
    "TOO_MANY_REQUESTS": "Too many requests, slow down",
}
# HTTP status per code: AllDebrid answers most errors with 200, authentication with 401,
# going over the rate limit with 429 and unknown endpoints with 404.
HTTP_STATUS = {"AUTH_MISSING_APIKEY": 401, "AUTH_BAD_APIKEY": 401, "AUTH_BLOCKED": 401,
               "AUTH_USER_BANNED": 401, "TOO_MANY_REQUESTS": 429, "404": 404}
STATUS_TEXT = {
    0: "In Queue", 1: "Downloading", 2: "Compressing / Moving", 3: "Uploading", 4: "Ready",
    5: "Upload fail", 6: "Internal error on unpacking", 7: "Not downloaded in 20 min",
    8: "File too big", 9: "Internal error", 10: "Download took more than 72h",
    11: "Deleted on the hoster website", 12: "Processing failed", 13: "Processing failed",
    14: "Error while contacting tracker", 15: "File not available - no peer",
}


def error_body(code: str, message: str = "") -> dict[str, Any]:
    return {"code": code, "message": message or MESSAGES.get(code, code)}


def error_response(code: str, status: int | None = None) -> Response:
    response = jsonify({"status": "error", "error": error_body(code)})
    response.status_code = status or HTTP_STATUS.get(code, 200)
    return response


def success(data: dict[str, Any]) -> Response:
    return jsonify({"status": "success", "data": data})


class AdError(DialectError):
    """A route's refusal, answered in AllDebrid's envelope."""

    def __init__(self, code: str, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status

    def response(self) -> Response:
        return error_response(self.code, self.status)


# -- magnets ------------------------------------------------------------------------------------

def status_code(record: TorrentRecord, now: float) -> int:
    """AllDebrid's statusCode for the torrent now. No selection step: 0 until it downloads."""
    timeline = record.timeline
    word = timeline.status(now)
    if word == "dead":
        return 11
    if record.original_bytes > TOO_BIG_BYTES:
        return 8
    if word == "magnet_error":
        return 7 if now >= timeline.added + NO_PEER_SECONDS else 0
    if word == "downloading":
        share = _window_share(record, now)
        return 1 if share < DOWNLOAD_SHARE else 2 if share < COMPRESS_SHARE else 3
    return 4 if word == "downloaded" else 0


def _window_share(record: TorrentRecord, now: float) -> float:
    start, end = record.timeline.queue_end, record.timeline.ended_at
    if start is None or end is None or end <= start:
        return 1.0
    return min(1.0, max(0.0, (now - start) / (end - start)))


def magnet_json(record: TorrentRecord, number: int, now: float) -> dict[str, Any]:
    """A /v4.1/magnet/status object (v4.1 lists no links: /v4/magnet/files has them)."""
    code = status_code(record, now)
    known = render.metadata_known(record, now)
    size = record.bytes if known else 0
    downloading = code == 1
    share = _window_share(record, now) / DOWNLOAD_SHARE
    downloaded = size if code in (2, 3, 4) else int(size * min(1.0, share)) if downloading else 0
    speed = int(record.timeline.speed(record.bytes) / DOWNLOAD_SHARE) if downloading else 0
    ended = record.timeline.ended_at
    return {
        "id": number, "filename": record.filename, "size": size, "hash": record.hash,
        "status": STATUS_TEXT[code], "statusCode": code, "downloaded": downloaded,
        "uploaded": size if code == 4 else 0, "seeders": seeders(record.hash) if code < 2 else 0,
        "downloadSpeed": speed, "uploadSpeed": 0, "uploadDate": int(record.timeline.added),
        "completionDate": int(ended) if code == 4 and ended is not None else 0,
        "type": "m", "notified": False, "version": 2,
        "nbLinks": len(record.links) if code == 4 else 0,
    }


def file_links(record: TorrentRecord) -> dict[int, str]:
    """file id -> link id: AllDebrid gives every file its own link (no archives)."""
    selected = sorted(f.id for f in record.files if f.selected)
    return dict(zip(selected, record.links, strict=True)) \
        if len(selected) == len(record.links) else {}


def single_file(record: TorrentRecord) -> bool:
    """A torrent of one file at its root (no folder): its tree is that file alone."""
    return len(record.files) == 1 and record.files[0].path.strip("/") == record.filename


def file_tree(record: TorrentRecord, origin: str) -> list[dict[str, Any]]:
    """The `files` of /v4/magnet/files: files `{n, s, l}`, folders `{n, e}`, a multi-file
    torrent under its root folder. The order changes from call to call, as AllDebrid's does."""
    links = file_links(record)
    root: dict[str, Any] = {}
    for f in record.files:
        if f.id not in links:
            continue
        *folders, name = f.path.strip("/").split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = {"n": name, "s": f.bytes, "l": f"{origin}/f/{links[f.id]}"}
    tree = _entries(root)
    return tree if single_file(record) else [{"n": record.filename, "e": tree}]


def _entries(node: dict[str, Any]) -> list[dict[str, Any]]:
    entries = [{"n": key[:-1], "e": _entries(child)} if key.endswith("/") else child
               for key, child in node.items()]
    random.shuffle(entries)
    return entries


def unlock_json(download: DownloadRecord, url: str) -> dict[str, Any]:
    return {"link": url, "host": HOST, "hostDomain": HOST_DOMAIN, "filename": download.filename,
            "paws": False, "filesize": download.filesize, "streams": [], "id": download.id,
            "streaming": []}
