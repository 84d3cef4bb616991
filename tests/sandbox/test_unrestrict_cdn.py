"""POST /unrestrict/link, GET /downloads, and the CDN's bytes, ranges and expiry."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

from .conftest import MIB, RD, assert_error, expected_content, infohash_of, magnet

SIZE = 2 * MIB + 12_345  # three blocks, the last one partial
HASH = infohash_of("CDN.Fixture")


@pytest.fixture
def cdn(rd: RD) -> tuple[RD, dict, dict]:
    """A downloaded two-file torrent and the unrestricted link of its first file."""
    rd.seed(
        hash=HASH,
        name="CDN.Fixture",
        files=[
            {"path": "CDN Fixture.mkv", "bytes": SIZE},
            {"path": "Info/notes.nfo", "bytes": 777},
        ],
    )
    info = rd.downloaded(magnet(None, HASH))
    return rd, info, rd.unrestrict(info["links"][0])


def test_unrestrict_fields(cdn) -> None:
    rd, info, link = cdn
    assert list(link) == [
        "id", "filename", "mimeType", "filesize", "link", "host", "chunks", "crc", "download",
        "streamable",
    ]  # fmt: skip
    assert re.fullmatch(r"[A-Z0-9]{13}", link["id"])
    assert link["filename"] == "CDN Fixture.mkv"
    assert link["mimeType"] == "video/x-matroska"
    assert link["filesize"] == SIZE
    assert link["link"] == info["links"][0]
    assert (link["host"], link["chunks"], link["crc"], link["streamable"]) == (
        "real-debrid.com", 32, 1, 1,
    )  # fmt: skip
    assert link["download"].startswith(rd.server.url + "/cdn/")
    assert link["download"].endswith("/CDN%20Fixture.mkv")
    nfo = rd.unrestrict(info["links"][1])
    assert (nfo["filename"], nfo["filesize"], nfo["streamable"]) == ("notes.nfo", 777, 0)
    assert rd.unrestrict(info["links"][0])["download"] != link["download"]  # a new URL each time


def test_unrestrict_errors(cdn) -> None:
    rd, info, _ = cdn
    assert_error(rd.post("/unrestrict/link"), 400, "parameter_missing", 1)
    for foreign in ("https://example.com/file.mkv", f"{rd.server.url}/d/AAAAAAAAAAAAA", "junk"):
        response = rd.post("/unrestrict/link", data={"link": foreign})
        assert_error(response, 400, "hoster_unsupported", 16)
    rd.delete(f"/torrents/delete/{info['id']}")
    response = rd.post("/unrestrict/link", data={"link": info["links"][0], "remote": "1"})
    assert_error(response, 503, "unavailable_file", 24)


def test_downloads_history(cdn) -> None:
    rd, info, first = cdn
    second = rd.unrestrict(info["links"][1])
    response = rd.get("/downloads")
    assert response.headers["X-Total-Count"] == "2"
    items = response.json()
    assert [item["id"] for item in items] == [second["id"], first["id"]]
    assert list(items[1]) == [
        "id", "filename", "mimeType", "filesize", "link", "host", "chunks", "download", "generated",
    ]  # fmt: skip
    assert items[1]["download"] == first["download"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", items[1]["generated"])
    page = rd.get("/downloads", params={"page": 2, "limit": 1})
    assert [item["id"] for item in page.json()] == [first["id"]]
    assert rd.get("/downloads", params={"offset": 2}).status_code == 204
    assert_error(rd.get("/downloads", params={"limit": 6000}), 400, "parameter_bad_value", 2)
    assert rd.delete(f"/downloads/delete/{first['id']}").status_code == 204
    assert rd.get("/downloads").headers["X-Total-Count"] == "1"
    assert_error(rd.delete(f"/downloads/delete/{first['id']}"), 404, "unknown_ressource", 7)


def test_head(cdn) -> None:
    _, _, link = cdn
    response = requests.head(link["download"], timeout=5)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "video/x-matroska"
    assert response.headers["Content-Disposition"] == 'attachment; filename="CDN Fixture.mkv"'
    assert "Last-Modified" in response.headers
    assert re.fullmatch(r'"[^"]+"', response.headers["ETag"])  # strong: no W/


def test_full_get(cdn) -> None:
    _, _, link = cdn
    response = requests.get(link["download"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(SIZE)
    assert response.content == expected_content(HASH, 1, 0, SIZE - 1)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-0", 0, 0),
        (f"bytes={MIB - 4}-{MIB + 11}", MIB - 4, MIB + 11),  # across a block's counter
        (f"bytes={SIZE // 2}-{SIZE // 2 + 65_535}", SIZE // 2, SIZE // 2 + 65_535),
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE - 1),
        (f"bytes={SIZE - 10}-", SIZE - 10, SIZE - 1),
        ("bytes=-16", SIZE - 16, SIZE - 1),
        (f"bytes={SIZE - 5}-{SIZE + 500}", SIZE - 5, SIZE - 1),  # clipped to the end
    ],
)
def test_single_range(cdn, header: str, start: int, end: int) -> None:
    _, _, link = cdn
    response = requests.get(link["download"], headers={"Range": header}, timeout=5)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["Content-Length"] == str(end - start + 1)
    assert response.content == expected_content(HASH, 1, start, end)


def test_multi_range_serves_the_first(cdn) -> None:
    _, _, link = cdn
    response = requests.get(link["download"], headers={"Range": "bytes=10-19,100-199"}, timeout=5)
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes 10-19/{SIZE}"
    assert response.content == expected_content(HASH, 1, 10, 19)


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}"])
def test_unsatisfiable_range_is_416(cdn, header: str) -> None:
    _, _, link = cdn
    response = requests.get(link["download"], headers={"Range": header}, timeout=5)
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{SIZE}"


def test_if_range_with_a_stale_etag_gets_the_whole_file(cdn) -> None:
    _, _, link = cdn
    etag = requests.head(link["download"], timeout=5).headers["ETag"]
    fresh = requests.get(
        link["download"], headers={"Range": "bytes=0-9", "If-Range": etag}, timeout=5
    )
    assert fresh.status_code == 206
    stale = requests.head(
        link["download"], headers={"Range": "bytes=0-9", "If-Range": '"other"'}, timeout=5
    )
    assert stale.status_code == 200


def test_second_file_and_small_file_bytes(cdn) -> None:
    rd, info, _ = cdn
    nfo = rd.unrestrict(info["links"][1])
    response = requests.get(nfo["download"], timeout=5)
    assert response.content == expected_content(HASH, 2, 0, 776)
    assert response.headers["Content-Type"].startswith("text/plain")


def test_archive_serves_the_selected_files_back_to_back(rd: RD) -> None:
    infohash = infohash_of("Archive.Bytes")
    sizes = [1000, 50, 2000]
    rd.seed(
        hash=infohash,
        name="Archive.Bytes",
        archive=True,
        files=[{"path": f"part{i}.bin", "bytes": size} for i, size in enumerate(sizes, 1)],
    )
    info = rd.downloaded(magnet(None, infohash), files="1,3")
    link = rd.unrestrict(info["links"][0])
    body = requests.get(link["download"], timeout=5).content
    assert body == expected_content(infohash, 1, 0, 999) + expected_content(infohash, 3, 0, 1999)


def test_expiry_follows_the_clock(make_rd) -> None:
    rd = make_rd(link_lifetime_seconds=600)
    info = rd.downloaded(magnet("Expiring.mkv", xl=1000))
    link = rd.unrestrict(info["links"][0])
    assert requests.head(link["download"], timeout=5).status_code == 200
    rd.advance(601)
    assert requests.get(link["download"], timeout=5).status_code == 403
    rd.configure(expired_link_status=410)
    assert requests.get(link["download"], timeout=5).status_code == 410
    fresh = rd.unrestrict(info["links"][0])  # unrestricting again yields a working URL
    assert requests.head(fresh["download"], timeout=5).status_code == 200


def test_unknown_token_and_deleted_torrent_are_404(cdn) -> None:
    rd, info, link = cdn
    unknown = link["download"].replace("/cdn/", "/cdn/0")
    assert requests.get(unknown, timeout=5).status_code == 404
    rd.delete(f"/torrents/delete/{info['id']}")
    assert requests.get(link["download"], timeout=5).status_code == 404


def test_throttle(make_rd) -> None:
    rd = make_rd(cdn_bytes_per_second=200_000)
    info = rd.downloaded(magnet("Throttled.mkv", xl=100_000))
    link = rd.unrestrict(info["links"][0])
    started = time.monotonic()
    body = requests.get(link["download"], timeout=10).content
    elapsed = time.monotonic() - started
    assert len(body) == 100_000
    assert elapsed >= 0.4  # the throttle holds the read back (no upper bound: CI speed varies)


def test_client_disconnect_stops_the_stream(make_rd) -> None:
    rd = make_rd()
    info = rd.downloaded(magnet("Abandoned.mkv", xl=64 * 1024 * MIB))
    link = rd.unrestrict(info["links"][0])
    before = set(threading.enumerate())
    with requests.get(link["download"], stream=True, timeout=10) as response:
        first = next(response.iter_content(64 * 1024))
        streaming = set(threading.enumerate()) - before  # the server thread serving us
    assert streaming
    assert first == expected_content(info["hash"], 1, 0, len(first) - 1)
    # Serving 64 GiB would take a minute; the thread ends as soon as the client is gone.
    for thread in streaming:
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert requests.head(link["download"], timeout=5).status_code == 200
