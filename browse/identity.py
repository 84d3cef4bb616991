"""Stable identity of a file of the tree: the strong ETag and the media type every surface
sends for it."""

from __future__ import annotations

import hashlib
import mimetypes

from core.models import TreeEntry, TreeFile


def file_etag(entry: TreeEntry, file: TreeFile) -> str:
    """Strong and stable: the torrent, the file and its size, never the expiring URL."""
    identity = f"{entry.provider}:{entry.hash}:{file.file_id}:{file.size}"
    return hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:32]


# Release formats a system's mime.types may not list (a slim container has none at all).
MEDIA_TYPES = {
    ".mkv": "video/x-matroska", ".mka": "audio/x-matroska", ".mk3d": "video/x-matroska",
    ".mp4": "video/mp4", ".m4v": "video/x-m4v", ".webm": "video/webm", ".avi": "video/x-msvideo",
    ".mov": "video/quicktime", ".wmv": "video/x-ms-wmv", ".flv": "video/x-flv",
    ".ts": "video/mp2t", ".m2ts": "video/mp2t", ".mpg": "video/mpeg", ".mpeg": "video/mpeg",
    ".vob": "video/mpeg", ".iso": "application/x-iso9660-image", ".srt": "application/x-subrip",
    ".flac": "audio/flac", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".nfo": "text/plain",
}


def content_type(name: str) -> str:
    """The media type of a file by its name (WebDAV and REST downloads send the same)."""
    extension = name[name.rfind("."):].lower() if "." in name else ""
    return MEDIA_TYPES.get(extension) or mimetypes.guess_type(name)[0] or \
        "application/octet-stream"
