"""The caps on .torrent uploads: a torrent just within each is parsed, one just over is refused
(InvalidTorrentFile, saying which cap), and any hostile bencode is refused without a crash."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.errors import InvalidTorrentFile
from core.sources import parse_torrent_file
from core.torrent_limits import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_FILES,
    MAX_NAME_BYTES,
    MAX_PATH_BYTES,
    MAX_TRACKERS,
    MAX_WEB_SEEDS,
)

PIECE = 1 << 18


def bencode(value: Any) -> bytes:
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(value.items())) + b"e"


def values_in(value: Any) -> int:
    """How many bencode values `value` is (keys count as values)."""
    if isinstance(value, list):
        return 1 + sum(values_in(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(1 + values_in(v) for v in value.values())
    return 1


def single(name: str = "Movie.mkv", **top: Any) -> dict[str, Any]:
    return {"announce": "http://t.example/announce", **top, "info": {
        "name": name, "length": PIECE, "piece length": PIECE, "pieces": b"\0" * 20}}


def multi(paths: list[list[str]], name: str = "Pack") -> dict[str, Any]:
    files = [{"length": 1024, "path": path} for path in paths]
    pieces = -(-1024 * len(paths) // PIECE)
    return {"info": {"name": name, "files": files, "piece length": PIECE,
                     "pieces": b"\0" * 20 * pieces}}


def nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


def refused(metainfo: dict[str, Any] | bytes, cap: str) -> None:
    data = metainfo if isinstance(metainfo, bytes) else bencode(metainfo)
    with pytest.raises(InvalidTorrentFile, match=cap) as caught:
        parse_torrent_file(data, "x.torrent")
    assert caught.value.filename == "x.torrent"


def test_trackers_cap() -> None:
    tiers = [[f"http://t{i}.example/announce"] for i in range(MAX_TRACKERS)]
    source = parse_torrent_file(bencode(single(**{"announce-list": tiers})), "x.torrent")
    assert len(source.trackers) == MAX_TRACKERS + 1            # with `announce`, first
    assert source.trackers[:2] == ("http://t.example/announce", "http://t0.example/announce")
    refused(single(**{"announce-list": [*tiers, ["http://one.more/announce"]]}),
            f"more than {MAX_TRACKERS:,} trackers")


def test_duplicate_trackers_are_kept_once_in_tier_order() -> None:
    tiers = [["http://b/x", "http://a/x"], ["http://c/x", "http://b/x"]]
    source = parse_torrent_file(bencode(single(**{"announce-list": tiers})), "x.torrent")
    assert source.trackers == ("http://t.example/announce", "http://b/x", "http://a/x",
                               "http://c/x")
    assert source.magnet.count("&tr=") == 4


def test_web_seeds_cap() -> None:
    seeds = [f"http://w{i}.example/" for i in range(MAX_WEB_SEEDS)]
    assert "ws=" in parse_torrent_file(bencode(single(**{"url-list": seeds})), "x").magnet
    refused(single(**{"url-list": [*seeds, "http://one.more/"]}),
            f"more than {MAX_WEB_SEEDS:,} web seeds")


def test_files_cap() -> None:
    paths = [[f"Season {i // 1000}", f"E{i}.mkv"] for i in range(MAX_FILES)]
    started = time.monotonic()
    source = parse_torrent_file(bencode(multi(paths)), "x.torrent")
    assert len(source.files) == MAX_FILES
    assert source.files[-1].path == f"Season 9/E{MAX_FILES - 1}.mkv"
    assert time.monotonic() - started < 10           # about half a second; linear, not 4x/2x
    refused(multi([*paths, ["one.more.mkv"]]), f"more than {MAX_FILES:,} files")


def test_depth_cap() -> None:
    # the root dictionary is one level: MAX_DEPTH - 1 more below it
    assert parse_torrent_file(bencode(single(x=nested(MAX_DEPTH - 1))), "x").name == "Movie.mkv"
    refused(single(x=nested(MAX_DEPTH)), f"nested more than {MAX_DEPTH} deep")
    # far deeper than Python's recursion limit (torf decodes recursively): refused at once
    started = time.monotonic()
    refused(b"d8:announce" + b"l" * 200_000 + b"e" * 200_000 + b"e", "deep")
    refused(b"l" * 200_000, "deep")
    assert time.monotonic() - started < 2


def test_values_cap() -> None:
    base = values_in(single(x=[]))
    assert parse_torrent_file(bencode(single(x=[0] * (MAX_ELEMENTS - base))), "x")
    refused(single(x=[0] * (MAX_ELEMENTS - base + 1)), f"more than {MAX_ELEMENTS:,} bencode")


def test_name_cap() -> None:
    name = "é" * ((MAX_NAME_BYTES - 4) // 2) + ".mkv"           # counted in UTF-8 bytes
    assert len(name.encode()) == MAX_NAME_BYTES
    assert parse_torrent_file(bencode(single(name)), "x").name == name
    refused(single("x" + name), f"its name is longer than {MAX_NAME_BYTES:,} bytes")


def test_path_component_and_path_caps() -> None:
    long = "a" * (MAX_NAME_BYTES - 4) + ".mkv"
    assert parse_torrent_file(bencode(multi([["Extras", long]])), "x").files
    refused(multi([["Extras", "b" + long]]), f"longer than {MAX_NAME_BYTES:,} bytes")
    parts = ["d" * 1000] * 4                                    # 4,003 bytes with the '/'
    last = MAX_PATH_BYTES - 4004
    assert parse_torrent_file(bencode(multi([[*parts, "f" * last]])), "x").files
    refused(multi([[*parts, "f" * (last + 1)]]), f"path is longer than {MAX_PATH_BYTES:,}")


@pytest.mark.parametrize("data", [
    b"d4:info", b"d4:infoi1", b"d4:infoi" + b"1" * 100 + b"e" + b"e", b"d4:info99999:x",
    b"di1ei2ee", b"d4:info:e", b"d-1:xe", b"e", b"d4:infod4:name3:abce",
    bencode(single()) + b"junk", bencode(single())[:-1],
])
def test_malformed_bencode_is_refused_not_a_crash(data: bytes) -> None:
    with pytest.raises(InvalidTorrentFile):
        parse_torrent_file(data, "x.torrent")
