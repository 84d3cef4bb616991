"""What files a torrent has: magnets and .torrent uploads turned into catalogue entries."""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs

import torf

MIB = 1 << 20
MAX_SECONDS = 100 * 365 * 86400  # bounds any duration so dates stay representable
MAX_FILE_BYTES = 1 << 50  # 1 PiB: far past any real torrent, well inside SQLite's 64-bit ints
VIDEO_EXTENSIONS = (
    ".mkv", ".mp4", ".avi", ".m4v", ".mov", ".wmv", ".ts", ".m2ts", ".webm", ".mpg", ".mpeg",
)  # fmt: skip
_HEX_HASH = re.compile(r"[0-9a-fA-F]{40}")
_BASE32_HASH = re.compile(r"[A-Za-z2-7]{32}")


class InvalidMagnetError(ValueError):
    """The magnet URI has no usable BitTorrent v1 infohash (Real-Debrid error 2)."""


class InvalidTorrentError(ValueError):
    """The uploaded body is not a readable .torrent file (Real-Debrid error 30)."""


@dataclass(frozen=True)
class CatalogueFile:
    path: str  # relative to the torrent root, without the root folder name, starting with "/"
    bytes: int


@dataclass(frozen=True)
class CatalogueEntry:
    """Everything the sandbox knows about an infohash: its name, files and behaviour flags."""

    hash: str
    name: str
    files: tuple[CatalogueFile, ...]
    cached: bool = True
    infringing: bool = False
    dead_after: float | None = None  # seconds after `ended` at which it turns dead; None = never
    no_metadata: bool = False  # the magnet never resolves (magnet_error)
    archive: bool = False  # Real-Debrid packs the selection into one RAR link

    def to_json(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "name": self.name,
            "files": [{"path": f.path, "bytes": f.bytes} for f in self.files],
            "cached": self.cached,
            "infringing": self.infringing,
            "dead_after": self.dead_after,
            "no_metadata": self.no_metadata,
            "archive": self.archive,
        }


@dataclass(frozen=True)
class Magnet:
    hash: str
    name: str
    size: int | None  # the `xl=` exact length, if given


@dataclass(frozen=True)
class TorrentMetainfo:
    hash: str
    name: str
    files: tuple[CatalogueFile, ...]


def normalize_infohash(value: str) -> str:
    """40 lowercase hex digits from a hex or base32 v1 infohash; ValueError otherwise."""
    if _HEX_HASH.fullmatch(value):
        return value.lower()
    if _BASE32_HASH.fullmatch(value):
        try:
            return base64.b32decode(value.upper()).hex()
        except binascii.Error as exc:
            raise ValueError(f"bad base32 infohash {value!r}") from exc
    raise ValueError(f"not an infohash: {value!r}")


def parse_magnet(uri: str) -> Magnet:
    """Read the infohash, `dn` and `xl` of a magnet URI; InvalidMagnetError if it has no v1 hash."""
    if not uri.lower().startswith("magnet:?"):
        raise InvalidMagnetError("not a magnet URI")
    params = parse_qs(uri[len("magnet:?") :])
    infohash = None
    for topic in params.get("xt", []):
        if topic.lower().startswith("urn:btih:"):
            try:
                infohash = normalize_infohash(topic[len("urn:btih:") :])
            except ValueError as exc:
                raise InvalidMagnetError(str(exc)) from exc
            break
    if infohash is None:
        raise InvalidMagnetError("magnet has no urn:btih exact topic")
    size = None
    if "xl" in params:
        try:
            size = int(params["xl"][0])
        except ValueError as exc:
            raise InvalidMagnetError("xl is not an integer") from exc
        if not 0 <= size <= MAX_FILE_BYTES:
            raise InvalidMagnetError("xl is out of range")
    name = params.get("dn", [""])[0].strip() or f"sandbox-{infohash[:12]}"
    return Magnet(hash=infohash, name=name, size=size)


def parse_torrent_file(data: bytes) -> TorrentMetainfo:
    """Read a .torrent body with torf; files keep the metainfo's order and declared sizes."""
    try:
        torrent = torf.Torrent.read_stream(io.BytesIO(data))
        info = torrent.metainfo["info"]
        name = str(info["name"])
        if "files" in info:
            files = tuple(
                CatalogueFile(
                    "/" + "/".join(str(part) for part in item["path"]), int(item["length"])
                )
                for item in info["files"]
                # BEP 47 padding files are alignment filler, not content a debrid lists.
                if "p" not in str(item.get("attr", ""))
            )
        else:
            files = (CatalogueFile("/" + name, int(info["length"])),)
        infohash = torrent.infohash
    except (torf.TorfError, KeyError, TypeError, ValueError) as exc:
        raise InvalidTorrentError(str(exc)) from exc
    if not files:
        raise InvalidTorrentError("torrent declares no files")
    return TorrentMetainfo(hash=infohash, name=name, files=files)


def derived_files(
    infohash: str, name: str, main_size: int | None = None
) -> tuple[CatalogueFile, ...]:
    """Files of a magnet nobody seeded: one video, or a folder with video, sample and .nfo."""
    # A "/" in a display name would invent folders; Real-Debrid flattens it the same way.
    safe = name.replace("/", "_").replace("\\", "_")
    main = main_size if main_size is not None else 100 * MIB + int(infohash[0:8], 16) % (1900 * MIB)
    if safe.lower().endswith(VIDEO_EXTENSIONS):
        return (CatalogueFile(f"/{safe}", main),)
    sample = 5 * MIB + int(infohash[8:12], 16) % (20 * MIB)
    nfo = 1024 + int(infohash[12:16], 16) % 4096
    return (
        CatalogueFile(f"/{safe}.mkv", main),
        CatalogueFile(f"/Sample/{safe}.sample.mkv", sample),
        CatalogueFile(f"/{safe}.nfo", nfo),
    )


def marker_entry(
    infohash: str, name: str, files: tuple[CatalogueFile, ...], dead_after_seconds: float
) -> CatalogueEntry:
    """An entry whose behaviour comes from markers in its name, as a magnet-only client sends."""
    lowered = name.lower()
    return CatalogueEntry(
        hash=infohash,
        name=name,
        files=files,
        cached="[uncached]" not in lowered,
        infringing="[infringing]" in lowered,
        dead_after=dead_after_seconds if "[dead]" in lowered else None,
        no_metadata="[magnet_error]" in lowered,
    )


def entry_for_magnet(
    magnet: Magnet, seeded: CatalogueEntry | None, dead_after_seconds: float
) -> CatalogueEntry:
    """The entry a magnet resolves to: the seeded one if any (its flags win), else derived."""
    if seeded is None:
        files = derived_files(magnet.hash, magnet.name, magnet.size)
        return marker_entry(magnet.hash, magnet.name, files, dead_after_seconds)
    name = seeded.name or magnet.name
    files = seeded.files or derived_files(magnet.hash, name, magnet.size)
    return replace(seeded, name=name, files=files)


def entry_for_upload(
    meta: TorrentMetainfo, seeded: CatalogueEntry | None, dead_after_seconds: float
) -> CatalogueEntry:
    """The entry of an uploaded .torrent: its own files and name, flags seeded or from markers.

    An upload carries its metadata, so it can never be a magnet_error.
    """
    if seeded is None:
        entry = marker_entry(meta.hash, meta.name, meta.files, dead_after_seconds)
    else:
        entry = replace(seeded, name=meta.name, files=meta.files)
    return replace(entry, no_metadata=False)


def entry_from_seed(payload: Mapping[str, Any]) -> CatalogueEntry:
    """Validate an admin seed body; ValueError names the bad field."""
    try:
        infohash = normalize_infohash(str(payload["hash"]))
    except KeyError as exc:
        raise ValueError("'hash' is required") from exc
    name = payload.get("name") or ""
    if not isinstance(name, str):
        raise ValueError("'name' must be a string")
    raw_files = payload.get("files") or []
    if not isinstance(raw_files, list):
        raise ValueError("'files' must be a list")
    files = []
    for item in raw_files:
        if not isinstance(item, Mapping):
            raise ValueError("each file must be an object with 'path' and 'bytes'")
        path, size = item.get("path"), item.get("bytes")
        if not isinstance(path, str) or not path.strip("/"):
            raise ValueError("file 'path' must be a non-empty string")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_FILE_BYTES:
            raise ValueError(f"file 'bytes' must be an integer from 0 to {MAX_FILE_BYTES}")
        files.append(CatalogueFile("/" + path.lstrip("/"), size))
    flags = {}
    defaults = {"cached": True, "infringing": False, "no_metadata": False, "archive": False}
    for flag, default in defaults.items():
        value = payload.get(flag, default)
        if not isinstance(value, bool):
            raise ValueError(f"{flag!r} must be a boolean")
        flags[flag] = value
    dead_after = payload.get("dead_after")
    if dead_after is not None and (
        isinstance(dead_after, bool)
        or not isinstance(dead_after, int | float)
        or not 0 <= dead_after <= MAX_SECONDS
    ):
        raise ValueError(f"'dead_after' must be a number of seconds up to {MAX_SECONDS} or null")
    return CatalogueEntry(
        hash=infohash,
        name=name,
        files=tuple(files),
        dead_after=None if dead_after is None else float(dead_after),
        **flags,
    )


def entry_from_json(data: Mapping[str, Any]) -> CatalogueEntry:
    """Rebuild an entry stored by `CatalogueEntry.to_json`."""
    return CatalogueEntry(
        hash=data["hash"],
        name=data["name"],
        files=tuple(CatalogueFile(f["path"], f["bytes"]) for f in data["files"]),
        cached=data["cached"],
        infringing=data["infringing"],
        dead_after=data["dead_after"],
        no_metadata=data["no_metadata"],
        archive=data["archive"],
    )
