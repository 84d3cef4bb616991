"""PUT /torrents/addTorrent: .torrent files built with torf keep their declared files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torf

from .conftest import RD, assert_error


def build_torrent(tmp_path: Path, name: str, files: dict[str, bytes]) -> torf.Torrent:
    """A real .torrent over files written under tmp_path; a single file when only one is given
    with no folder."""
    root = tmp_path / "content" / name
    if list(files) == [name]:
        root.parent.mkdir(parents=True, exist_ok=True)
        root.write_bytes(files[name])
    else:
        for relative, data in files.items():
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    torrent = torf.Torrent(path=root, trackers=["udp://tracker.example:1337/announce"])
    torrent.generate()
    return torrent


def upload(rd: RD, torrent: torf.Torrent) -> str:
    response = rd.put(
        "/torrents/addTorrent",
        data=torrent.dump(),
        headers={"Content-Type": "application/x-bittorrent"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["uri"].endswith(f"/torrents/info/{body['id']}")
    return body["id"]


def test_multi_file_torrent_keeps_its_files_in_metainfo_order(rd: RD, tmp_path: Path) -> None:
    torrent = build_torrent(
        tmp_path,
        "Season.Pack",
        {"E01.mkv": b"a" * 3000, "Subs/E01.en.srt": b"s" * 120, "E02.mkv": b"b" * 2500},
    )
    declared = ["/" + "/".join(f["path"]) for f in torrent.metainfo["info"]["files"]]
    torrent_id = upload(rd, torrent)
    info = rd.info(torrent_id)
    # Uploads carry metadata: no magnet_conversion, straight to selection.
    assert info["status"] == "waiting_files_selection"
    assert info["hash"] == torrent.infohash
    assert info["filename"] == "Season.Pack"
    assert [f["path"] for f in info["files"]] == declared
    sizes = {"/E01.mkv": 3000, "/Subs/E01.en.srt": 120, "/E02.mkv": 2500}
    assert {f["path"]: f["bytes"] for f in info["files"]} == sizes
    assert info["original_bytes"] == 5620
    rd.select(torrent_id, "1")
    assert rd.info(torrent_id)["status"] == "downloaded"


def test_single_file_torrent(rd: RD, tmp_path: Path) -> None:
    torrent = build_torrent(tmp_path, "Lone.Movie.mkv", {"Lone.Movie.mkv": b"m" * 4096})
    info = rd.info(upload(rd, torrent))
    assert info["files"] == [{"id": 1, "path": "/Lone.Movie.mkv", "bytes": 4096, "selected": 0}]


def test_markers_apply_to_the_metainfo_name(make_rd, tmp_path: Path) -> None:
    rd = make_rd(download_seconds=30)
    slow = build_torrent(tmp_path, "Slow.Pack [uncached]", {"a.mkv": b"x" * 100, "b.mkv": b"y"})
    torrent_id = upload(rd, slow)
    rd.select(torrent_id)
    assert rd.info(torrent_id)["status"] == "queued"
    bad = build_torrent(tmp_path, "Bad.Pack [infringing]", {"a.mkv": b"x", "b.mkv": b"y"})
    response = rd.put("/torrents/addTorrent", data=bad.dump())
    assert_error(response, 451, "infringing_file", 35)
    assert rd.get("/torrents").headers["X-Total-Count"] == "1"


@pytest.mark.parametrize("body", [b"", b"this is not bencode", b"d4:spam4:eggse", b"d4:infoi3ee"])
def test_invalid_torrent_file(rd: RD, body: bytes) -> None:
    assert_error(rd.put("/torrents/addTorrent", data=body), 400, "torrent_file_invalid", 30)
    assert rd.get("/torrents").status_code == 204


def test_upload_with_slots_full_is_509(make_rd, tmp_path: Path) -> None:
    rd = make_rd(max_active=1, download_seconds=60)
    busy = rd.add_magnet("magnet:?xt=urn:btih:" + "c" * 40 + "&dn=Busy%20%5Buncached%5D")
    rd.select(busy)
    torrent = build_torrent(tmp_path, "Blocked.mkv", {"Blocked.mkv": b"z" * 10})
    response = rd.put("/torrents/addTorrent", data=torrent.dump())
    assert_error(response, 509, "too_many_active_downloads", 21)
    assert rd.get("/torrents").headers["X-Total-Count"] == "1"
