"""Parse what clients add: magnet links and .torrent files (with torf), into TorrentSource."""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

import torf

from core.errors import InvalidSource, InvalidTorrentFile
from core.models import TorrentFile
from core.naming import clean_relpath, display_name

MAX_TORRENT_FILE_BYTES = 10 * 1024 * 1024
MAX_MAGNET_LENGTH = 64 * 1024
HEX40 = re.compile(r"^[0-9a-fA-F]{40}$")
BASE32 = re.compile(r"^[A-Za-z2-7]{32}$")


@dataclass(frozen=True)
class TorrentSource:
    """One torrent a client asked for. `files` and `total_size` are known for .torrent files."""

    hash: str
    name: str
    magnet: str
    torrent_file: bytes | None
    trackers: tuple[str, ...]
    files: tuple[TorrentFile, ...] = ()
    total_size: int = -1
    piece_size: int = 0
    multi_file: bool = False     # the .torrent's files sit in a folder (info has "files")


def _hex_hash(value: str) -> str:
    if HEX40.match(value):
        return value.lower()
    if BASE32.match(value):
        return base64.b32decode(value.upper()).hex()
    raise InvalidSource("the btih info-hash must be 40 hex or 32 base32 characters")


def parse_magnet(uri: str) -> TorrentSource:
    """A magnet URI with a v1 (btih) info-hash; InvalidSource otherwise."""
    uri = uri.strip()
    if len(uri) > MAX_MAGNET_LENGTH:
        raise InvalidSource("magnet link too long")
    if not uri.lower().startswith("magnet:?"):
        raise InvalidSource("not a magnet link")
    try:
        magnet = torf.Magnet.from_string(uri)
    except (torf.TorfError, ValueError, TypeError) as exc:
        raise InvalidSource(f"invalid magnet link: {exc}") from None
    info_hash = _hex_hash(str(magnet.infohash))
    name = display_name(magnet.dn or "") or info_hash
    trackers = tuple(str(t) for t in (magnet.tr or ()))
    return TorrentSource(hash=info_hash, name=name, magnet=uri, torrent_file=None,
                         trackers=trackers)


def parse_torrent_file(data: bytes, filename: str) -> TorrentSource:
    """A .torrent upload; InvalidTorrentFile (qBittorrent answers 415) when unusable."""
    if not data or len(data) > MAX_TORRENT_FILE_BYTES:
        raise InvalidTorrentFile(filename, "empty or larger than 10 MiB")
    try:
        torrent = torf.Torrent.read_stream(io.BytesIO(data), validate=True)
        info = torrent.metainfo["info"]
        name = str(info["name"])
        info_hash = str(torrent.infohash).lower()
        piece_size = int(info["piece length"])
    except (torf.TorfError, KeyError, TypeError, ValueError, UnicodeError,
            binascii.Error) as exc:
        raise InvalidTorrentFile(filename, str(exc)) from None
    files: list[TorrentFile] = []
    if "files" in info:
        for index, entry in enumerate(info["files"]):
            path = clean_relpath("/".join(str(p) for p in entry["path"]))
            files.append(TorrentFile(index=index, path=path, size=int(entry["length"]),
                                     provider_file_id=str(index + 1)))
    else:
        files.append(TorrentFile(index=0, path=clean_relpath(name), size=int(info["length"]),
                                 provider_file_id="1"))
    if not files or any(not f.path for f in files):
        raise InvalidTorrentFile(filename, "a file has no usable name")
    trackers = tuple(url for tier in torrent.trackers for url in tier)
    magnet = str(torrent.magnet(size=False))
    return TorrentSource(hash=info_hash, name=display_name(name) or info_hash,
                         magnet=magnet, torrent_file=bytes(data), trackers=trackers,
                         files=tuple(files), total_size=sum(f.size for f in files),
                         piece_size=piece_size, multi_file="files" in info)
