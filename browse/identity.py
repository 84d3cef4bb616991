"""Stable identity of a file of the tree: the strong ETag every surface sends for it."""

from __future__ import annotations

import hashlib

from core.models import TreeEntry, TreeFile


def file_etag(entry: TreeEntry, file: TreeFile) -> str:
    """Strong and stable: the torrent, the file and its size, never the expiring URL."""
    identity = f"{entry.provider}:{entry.hash}:{file.file_id}:{file.size}"
    return hashlib.sha1(identity.encode(), usedforsecurity=False).hexdigest()[:32]
