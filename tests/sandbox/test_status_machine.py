"""The Real-Debrid status machine: cached, uncached, conversion, magnet_error, dead, archive."""

from __future__ import annotations

import time

import pytest

from .conftest import RD, assert_error, infohash_of, magnet


def test_cached_is_downloaded_right_after_selection(rd: RD) -> None:
    torrent_id = rd.add_magnet(magnet("Cached.Release"))
    rd.select(torrent_id)
    info = rd.info(torrent_id)
    assert (info["status"], info["progress"]) == ("downloaded", 100)
    assert len(info["links"]) == 3
    assert "ended" in info
    assert "speed" not in info
    assert "seeders" not in info


def test_uncached_goes_queued_downloading_downloaded(make_rd) -> None:
    rd = make_rd(queue_seconds=0.3, download_seconds=1.2)
    torrent_id = rd.add_magnet(magnet("Slow.Release [uncached]"))
    rd.select(torrent_id)
    seen: list[dict] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = rd.info(torrent_id)
        seen.append(info)
        if info["status"] == "downloaded":
            break
        time.sleep(0.05)
    statuses = [info["status"] for info in seen]
    order = ["queued", "downloading", "downloaded"]
    assert [status for status in order if status in statuses] == order
    assert statuses == sorted(statuses, key=order.index)  # never goes back
    progress = [info["progress"] for info in seen]
    assert progress == sorted(progress)
    assert progress[-1] == 100
    assert any(0 < p < 100 for p in progress)
    for info in seen:
        downloading = info["status"] == "downloading"
        assert ("speed" in info) == downloading
        assert ("seeders" in info) == downloading
        assert ("ended" in info) == (info["status"] == "downloaded")
        assert bool(info["links"]) == (info["status"] == "downloaded")
    downloading = next(info for info in seen if info["status"] == "downloading")
    # Times are stored as absolute floats, so the division is exact only to ~1e-7.
    assert downloading["speed"] == pytest.approx(downloading["bytes"] / 1.2, rel=1e-6)
    assert downloading["seeders"] == 1 + int(downloading["hash"][16:18], 16) % 40
    assert seen[0]["status"] == "queued"
    assert seen[0]["progress"] == 0


def test_conversion_then_waiting_files_selection(make_rd) -> None:
    rd = make_rd(conversion_seconds=20)
    infohash = infohash_of("Converting")
    torrent_id = rd.add_magnet(magnet("Converting", infohash))
    info = rd.info(torrent_id)
    assert info["status"] == "magnet_conversion"
    assert info["files"] == []  # metadata is not known yet
    assert info["seeders"] == 1 + int(infohash[16:18], 16) % 40
    rd.advance(21)
    info = rd.info(torrent_id)
    assert info["status"] == "waiting_files_selection"
    assert len(info["files"]) == 3
    assert "seeders" not in info


def test_magnet_error_never_resolves(make_rd) -> None:
    rd = make_rd(conversion_seconds=5)
    torrent_id = rd.add_magnet(magnet("Broken [magnet_error]"))
    assert rd.info(torrent_id)["status"] == "magnet_conversion"
    rd.advance(6)
    info = rd.info(torrent_id)
    assert (info["status"], info["files"], info["bytes"]) == ("magnet_error", [], 0)
    rd.advance(86400)
    assert rd.info(torrent_id)["status"] == "magnet_error"
    response = rd.post(f"/torrents/selectFiles/{torrent_id}", data={"files": "all"})
    assert_error(response, 400, "parameter_bad_value", 2)


def test_seeded_no_metadata_is_magnet_error(rd: RD) -> None:
    infohash = infohash_of("Seeded.No.Metadata")
    rd.seed(hash=infohash, name="Seeded.No.Metadata", no_metadata=True)
    torrent_id = rd.add_magnet(magnet("whatever", infohash))
    assert rd.info(torrent_id)["status"] == "magnet_error"


def test_dead_marker_dies_after_dead_after_seconds(make_rd) -> None:
    rd = make_rd(dead_after_seconds=100)
    info = rd.downloaded(magnet("Doomed [dead]"))
    rd.advance(99)
    assert rd.info(info["id"])["status"] == "downloaded"
    rd.advance(2)
    dead = rd.info(info["id"])
    assert (dead["status"], dead["progress"]) == ("dead", 100)
    assert dead["links"] == info["links"]  # clients still hold the links; they stop working
    assert_error(rd.post("/unrestrict/link", data={"link": info["links"][0]}),
                 503, "hoster_unavailable", 19)  # fmt: skip


def test_uncached_dead_counts_from_its_end(make_rd) -> None:
    rd = make_rd(dead_after_seconds=10, download_seconds=50, queue_seconds=0)
    torrent_id = rd.add_magnet(magnet("Slow.Doomed [uncached] [dead]"))
    rd.select(torrent_id)
    rd.advance(55)
    assert rd.info(torrent_id)["status"] == "downloaded"
    rd.advance(6)
    assert rd.info(torrent_id)["status"] == "dead"


def test_seeded_dead_after(rd: RD) -> None:
    infohash = infohash_of("Seeded.Dead")
    rd.seed(hash=infohash, name="Seeded.Dead", dead_after=30)
    info = rd.downloaded(magnet(None, infohash))
    assert info["filename"] == "Seeded.Dead"
    rd.advance(31)
    assert rd.info(info["id"])["status"] == "dead"


def test_admin_kills_a_torrent_now(rd: RD) -> None:
    info = rd.downloaded(magnet("Killed.By.Admin"))
    response = rd.admin("POST", f"/torrents/{info['id']}", json={"dead": True})
    assert response.status_code == 200
    assert response.json()["status"] == "dead"
    assert rd.info(info["id"])["status"] == "dead"
    rd.admin("POST", f"/torrents/{info['id']}", json={"dead": False})
    assert rd.info(info["id"])["status"] == "downloaded"


def test_seeded_uncached_entry_overrides_markers(make_rd) -> None:
    rd = make_rd(download_seconds=40, queue_seconds=0)
    infohash = infohash_of("Seeded.Uncached")
    rd.seed(
        hash=infohash,
        name="Seeded.Uncached",
        cached=False,
        files=[
            {"path": "Disc/Movie.mkv", "bytes": 1000},
            {"path": "/Disc/Extras.mkv", "bytes": 500},
        ],
    )
    torrent_id = rd.add_magnet(magnet("Other.Name", infohash))
    info = rd.info(torrent_id)
    assert info["filename"] == "Seeded.Uncached"
    assert [(f["path"], f["bytes"]) for f in info["files"]] == [
        ("/Disc/Movie.mkv", 1000),
        ("/Disc/Extras.mkv", 500),
    ]
    rd.select(torrent_id, "2")
    assert rd.info(torrent_id)["status"] == "downloading"
    rd.advance(20)
    assert rd.info(torrent_id)["progress"] == 50
    rd.advance(21)
    info = rd.info(torrent_id)
    assert (info["status"], info["bytes"], len(info["links"])) == ("downloaded", 500, 1)


def test_archive_has_one_link_for_the_selection(rd: RD) -> None:
    infohash = infohash_of("Archived")
    files = [
        {"path": "a.mkv", "bytes": 3000},
        {"path": "b.srt", "bytes": 200},
        {"path": "c.nfo", "bytes": 50},
    ]
    rd.seed(hash=infohash, name="Archived", archive=True, files=files)
    info = rd.downloaded(magnet("Archived", infohash), files="1,3")
    assert len(info["links"]) == 1
    link = rd.unrestrict(info["links"][0])
    assert (link["filename"], link["filesize"]) == ("Archived.rar", 3050)
