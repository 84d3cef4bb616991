"""Parse what clients add: magnet links and .torrent files (with torf), into TorrentSource."""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torf

from core.errors import InvalidSource, InvalidTorrentFile
from core.models import TorrentFile
from core.naming import clean_relpath, display_name
from core.torrent_limits import check_torrent_limits

log = logging.getLogger(__name__)

MAX_TORRENT_FILE_BYTES = 10 * 1024 * 1024
MAX_MAGNET_LENGTH = 64 * 1024
# Torrents one add may ask for (magnet lines and .torrent uploads together): far more than
# any client sends at once (Sonarr and Radarr send one), few enough to be parsed, stored
# and answered within a client's usual timeout. A bigger request is refused whole.
MAX_SOURCES = 10_000
HEX40 = re.compile(r"[0-9a-fA-F]{40}")
BASE32 = re.compile(r"[A-Za-z2-7]{32}")


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


def parse_info_hash(value: str) -> str:
    """A v1 info-hash given as 40 hex (any case) or 32 base32 characters, as lowercase hex;
    InvalidSource (400) otherwise."""
    # fullmatch: `$` would let a trailing newline through (a hash from a URL path may carry one)
    if HEX40.fullmatch(value):
        return value.lower()
    if BASE32.fullmatch(value):
        return base64.b32decode(value.upper()).hex()
    raise InvalidSource("an info-hash is 40 hex or 32 base32 characters")


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
    info_hash = parse_info_hash(str(magnet.infohash))
    name = display_name(magnet.dn or "") or info_hash
    trackers = tuple(str(t) for t in (magnet.tr or ()))
    return TorrentSource(hash=info_hash, name=name, magnet=uri, torrent_file=None,
                         trackers=trackers)


def parse_torrent_file(data: bytes, filename: str) -> TorrentSource:
    """A .torrent upload; InvalidTorrentFile (qBittorrent answers 415) when unusable, logged
    with the reason (which cap, or what torf found wrong).

    Linear in the upload: the caps are checked before torf decodes it, torf validates it
    once (through infohash), and torf's quadratic Trackers list is never built."""
    try:
        return _read_torrent(data, filename)
    except InvalidTorrentFile as exc:
        log.info("%s", exc)
        raise


def _read_torrent(data: bytes, filename: str) -> TorrentSource:
    if not data or len(data) > MAX_TORRENT_FILE_BYTES:
        raise InvalidTorrentFile(filename, "empty or larger than 10 MiB")
    check_torrent_limits(data, filename)
    try:
        torrent = torf.Torrent.read_stream(io.BytesIO(data), validate=False)
        info_hash = str(torrent.infohash).lower()      # validates the metainfo
        metainfo = torrent.metainfo
        info = metainfo["info"]
        raw_name = str(info["name"])
        piece_size = int(info["piece length"])
        files = _files(info, raw_name)
        name = display_name(raw_name) or info_hash
        magnet = torf.Magnet(xt=f"urn:btih:{info_hash}", dn=name,
                             tr=_announce_urls(metainfo), ws=_web_seeds(metainfo))
    except (torf.TorfError, KeyError, TypeError, ValueError, UnicodeError,
            binascii.Error) as exc:
        raise InvalidTorrentFile(filename, str(exc)) from None
    return TorrentSource(hash=info_hash, name=name, magnet=str(magnet),
                         torrent_file=bytes(data), trackers=tuple(str(u) for u in magnet.tr),
                         files=files, total_size=sum(f.size for f in files),
                         piece_size=piece_size, multi_file="files" in info)


def _files(info: Mapping[str, Any], name: str) -> tuple[TorrentFile, ...]:
    if "files" in info:
        files = tuple(TorrentFile(index=index, size=int(entry["length"]),
                                  path=clean_relpath("/".join(str(p) for p in entry["path"])),
                                  provider_file_id=str(index + 1))
                      for index, entry in enumerate(info["files"]))
    else:
        files = (TorrentFile(index=0, path=clean_relpath(name), size=int(info["length"]),
                             provider_file_id="1"),)
    if not files or any(not f.path for f in files):
        raise ValueError("a file has no usable name")
    return files


def _announce_urls(metainfo: Mapping[str, Any]) -> list[str]:
    """Every tier's URLs in order, `announce` first unless a tier has it (as torf's trackers
    property orders them; torf.Magnet drops the duplicates)."""
    urls = [str(url) for tier in metainfo.get("announce-list", ()) for url in tier]
    announce = metainfo.get("announce")
    if announce and announce not in urls:
        urls.insert(0, str(announce))
    return urls


def _web_seeds(metainfo: Mapping[str, Any]) -> list[str]:
    seeds = metainfo.get("url-list", ())
    return [seeds] if isinstance(seeds, str) else [str(s) for s in seeds]
