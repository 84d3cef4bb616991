"""Record types of the sandbox state, the SQLite schema they live in, and row conversion."""

from __future__ import annotations

import json
import secrets
import sqlite3
import string
from dataclasses import dataclass, field

from .status import Timeline

_ID_ALPHABET = string.ascii_uppercase + string.digits
# Random bytes mapped onto the alphabet in one C call: bulk-creating 50,000 torrents mints
# 200,000 ids. 256 % 36 biases a few characters slightly, which no id consumer can notice.
_ID_TABLE = bytes(ord(_ID_ALPHABET[byte % len(_ID_ALPHABET)]) for byte in range(256))

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS catalogue (hash TEXT PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS torrents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    filename TEXT NOT NULL,
    cached INTEGER NOT NULL,
    archive INTEGER NOT NULL,
    no_metadata INTEGER NOT NULL,
    dead_after REAL,
    original_bytes INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    added REAL NOT NULL,
    conversion_end REAL NOT NULL,
    selected_at REAL,
    queue_end REAL,
    ended_at REAL,
    dead_at REAL,
    deleted_at REAL
);
CREATE INDEX IF NOT EXISTS torrents_active ON torrents (ended_at)
    WHERE deleted_at IS NULL AND selected_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS files (
    torrent_id TEXT NOT NULL,
    file_id INTEGER NOT NULL,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    selected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (torrent_id, file_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS links (
    id TEXT PRIMARY KEY,
    torrent_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    file_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS links_torrent ON links (torrent_id, position);
CREATE TABLE IF NOT EXISTS downloads (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL UNIQUE,
    link_id TEXT NOT NULL,
    torrent_id TEXT NOT NULL,
    hash TEXT NOT NULL,
    segments TEXT NOT NULL,
    filename TEXT NOT NULL,
    mime TEXT NOT NULL,
    filesize INTEGER NOT NULL,
    generated REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS downloads_link ON downloads (link_id, seq);
"""


def random_id(length: int = 13) -> str:
    """An id shaped like Real-Debrid's torrent and link ids: uppercase letters and digits."""
    return secrets.token_bytes(length).translate(_ID_TABLE).decode("ascii")


def random_ids(count: int, length: int = 13) -> list[str]:
    """`count` ids from one call to the random source, for bulk inserts."""
    pool = secrets.token_bytes(count * length).translate(_ID_TABLE).decode("ascii")
    return [pool[start : start + length] for start in range(0, count * length, length)]


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    bytes: int
    selected: bool


@dataclass(frozen=True)
class TorrentRecord:
    id: str
    hash: str
    filename: str
    cached: bool
    archive: bool
    original_bytes: int
    bytes: int  # the selected files' total once selected, the whole torrent before
    timeline: Timeline
    deleted: bool
    files: list[FileRecord] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    seq: int = 0  # insertion order: a numeric id for providers whose ids are integers


@dataclass(frozen=True)
class LinkRecord:
    id: str
    torrent_id: str
    file_ids: list[int]


@dataclass(frozen=True)
class DownloadRecord:
    id: str
    token: str
    link_id: str
    torrent_id: str
    hash: str
    segments: list[tuple[int, int]]  # [(file_id, size)]; several for an archive link
    filename: str
    mime: str
    filesize: int
    generated: float
    expires: float
    torrent_deleted: bool = False
    torrent_ended: float | None = None


def torrent_from_row(row: sqlite3.Row, files: list[FileRecord], links: list[str]) -> TorrentRecord:
    return TorrentRecord(
        id=row["id"],
        hash=row["hash"],
        filename=row["filename"],
        cached=bool(row["cached"]),
        archive=bool(row["archive"]),
        original_bytes=row["original_bytes"],
        bytes=row["bytes"],
        timeline=Timeline(
            added=row["added"],
            conversion_end=row["conversion_end"],
            no_metadata=bool(row["no_metadata"]),
            selected_at=row["selected_at"],
            queue_end=row["queue_end"],
            ended_at=row["ended_at"],
            dead_at=row["dead_at"],
        ),
        deleted=row["deleted_at"] is not None,
        files=files,
        links=links,
        seq=row["seq"],
    )


def download_from_row(row: sqlite3.Row) -> DownloadRecord:
    keys = row.keys()
    return DownloadRecord(
        id=row["id"],
        token=row["token"],
        link_id=row["link_id"],
        torrent_id=row["torrent_id"],
        hash=row["hash"],
        segments=[(file_id, size) for file_id, size in json.loads(row["segments"])],
        filename=row["filename"],
        mime=row["mime"],
        filesize=row["filesize"],
        generated=row["generated"],
        expires=row["expires"],
        torrent_deleted="torrent_deleted_at" in keys and row["torrent_deleted_at"] is not None,
        torrent_ended=row["torrent_ended"] if "torrent_ended" in keys else None,
    )
