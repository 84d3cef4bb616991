"""Content formula and catalogue derivation, checked without a server."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from debrid.sandbox.catalogue import (
    InvalidMagnetError,
    InvalidTorrentError,
    derived_files,
    parse_magnet,
    parse_torrent_file,
)
from debrid.sandbox.content import read_range, read_segments

from .conftest import MIB, expected_content, infohash_of

HASH = infohash_of("content")
SIZE = 3 * MIB + 7


def test_whole_file_in_block_chunks() -> None:
    chunks = list(read_range(HASH, 4, SIZE, 0, SIZE - 1))
    assert [len(c) for c in chunks] == [MIB, MIB, MIB, 7]
    assert b"".join(chunks) == expected_content(HASH, 4, 0, SIZE - 1)
    assert chunks[2][:8] == (2).to_bytes(8, "big")


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, SIZE - 1), length=st.integers(1, 2 * MIB), chunk=st.integers(1, MIB))
def test_any_range_matches_the_formula(start: int, length: int, chunk: int) -> None:
    end = min(SIZE - 1, start + length - 1)
    data = b"".join(read_range(HASH, 4, SIZE, start, end, chunk_size=max(chunk, 4096)))
    assert data == expected_content(HASH, 4, start, end)


def test_out_of_range_reads_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        list(read_range(HASH, 1, 10, 5, 10))
    with pytest.raises(ValueError, match="outside"):
        list(read_range(HASH, 1, 10, 6, 5))


def test_segments_are_files_back_to_back() -> None:
    segments = [(1, 10), (2, 0), (3, 20)]
    whole = expected_content(HASH, 1, 0, 9) + expected_content(HASH, 3, 0, 19)
    assert b"".join(read_segments(HASH, segments, 0, 29)) == whole
    assert b"".join(read_segments(HASH, segments, 8, 12)) == whole[8:13]


def test_magnet_forms() -> None:
    infohash = infohash_of("forms")
    upper = parse_magnet(f"magnet:?xt=urn:btih:{infohash.upper()}&dn=A+Name&xl=42")
    assert (upper.hash, upper.name, upper.size) == (infohash, "A Name", 42)
    b32 = base64.b32encode(bytes.fromhex(infohash)).decode().lower()
    assert parse_magnet(f"magnet:?dn=x&xt=urn:btih:{b32}").hash == infohash
    assert parse_magnet(f"MAGNET:?xt=urn:btih:{infohash}").name == f"sandbox-{infohash[:12]}"


@pytest.mark.parametrize(
    "uri", ["", "http://x", "magnet:?xt=urn:sha1:abc", "magnet:?xt=urn:btih:", "magnet:?xl=1"]
)
def test_bad_magnets(uri: str) -> None:
    with pytest.raises(InvalidMagnetError):
        parse_magnet(uri)


def test_derived_sizes_stay_in_their_ranges() -> None:
    for n in range(50):
        infohash = infohash_of(str(n))
        main, sample, nfo = (f.bytes for f in derived_files(infohash, "Pack"))
        assert 100 * MIB <= main < 2000 * MIB
        assert 5 * MIB <= sample < 25 * MIB
        assert 1024 <= nfo < 5120


def test_slashes_in_a_name_do_not_make_folders() -> None:
    files = derived_files(HASH, "AC/DC Live")
    assert files[0].path == "/AC_DC Live.mkv"


@pytest.mark.parametrize("body", [b"", b"d8:announce3:urle", b"d4:infod4:name1:aee"])
def test_invalid_torrent_bodies(body: bytes) -> None:
    with pytest.raises(InvalidTorrentError):
        parse_torrent_file(body)
