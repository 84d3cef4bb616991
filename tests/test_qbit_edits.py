"""Edits that change what is on disk (both actions): setLocation, renames, filePrio, recheck;
plus trackers, the queue with an active-download limit, and the display name."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.helpers import (
    PASSWORD,
    expected_bytes,
    expected_sha256,
    file_sha256,
    magnet,
    make_torrent,
    random_hash,
    wait_until,
)

API = "/api/v2"


class Client:
    def __init__(self, app: Flask, mount: Path | None) -> None:
        self.http: FlaskClient = app.test_client()
        self.mount = mount
        settings = app.extensions["debridge"].settings
        self.admin = f"http://127.0.0.1:{settings['sandbox.port']}/__admin"
        assert self.http.post(f"{API}/auth/login", data={"username": "admin",
                                                         "password": PASSWORD}).text == "Ok."

    def post(self, path: str, **data: Any) -> Any:
        return self.http.post(f"{API}/{path}", data=data)

    def info(self, info_hash: str) -> dict[str, Any]:
        return self.http.get(f"{API}/torrents/info?hashes={info_hash}").json[0]

    def files(self, info_hash: str) -> list[dict[str, Any]]:
        return self.http.get(f"{API}/torrents/files?hash={info_hash}").json

    def play_mount(self, info_hash: str) -> None:
        """Symlink action: show the provider's files where an rclone mount would."""
        if self.mount is None:
            return
        def at_provider() -> dict[str, Any] | None:
            for torrent in requests.get(f"{self.admin}/torrents", timeout=5).json():
                if torrent["hash"] == info_hash and not torrent["deleted"] and any(
                        f["selected"] for f in torrent["files"]):
                    return torrent
            return None

        remote = wait_until(at_provider, what="the provider's selection")
        folder = Path(self.info(info_hash)["content_path"]).name
        for f in remote["files"]:
            if f["selected"]:
                target = self.mount / "__all__" / folder / f["path"].lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(expected_bytes(info_hash, f["id"], 0, f["bytes"]))

    def completed(self, info_hash: str) -> dict[str, Any]:
        return wait_until(lambda: (t := self.info(info_hash))["state"] == "pausedUP" and t,
                          timeout=30, what="pausedUP")

    def add_pack(self, tmp: Path, name: str = "Edit.Show.S01") -> str:
        data, info_hash = make_torrent(tmp, name, {
            "Edit.Show.S01E01.mkv": 300_000, "Edit.Show.S01E02.mkv": 200_001,
            "Extras/Making.Of.mkv": 1000})
        assert self.http.post(f"{API}/torrents/add", data={
            "torrents": (io.BytesIO(data), "pack.torrent")}).text == "Ok."
        self.play_mount(info_hash)
        self.completed(info_hash)
        return info_hash

    def check_bytes(self, info_hash: str) -> None:
        torrent = self.info(info_hash)
        for f in self.files(info_hash):
            if f["priority"]:
                path = Path(torrent["save_path"]) / f["name"]
                if self.mount is not None:
                    assert path.is_symlink()
                assert file_sha256(path) == expected_sha256(info_hash, f["index"] + 1,
                                                            f["size"])


@pytest.fixture(params=["download", "symlink"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    mount = tmp_path / "mount" if request.param == "symlink" else None
    downloads: dict[str, Any] = {"action": request.param}
    if mount is not None:
        mount.mkdir()
        downloads["mount_path"] = str(mount)
    app = create_app(make_settings(tmp_path, downloads=downloads))
    try:
        yield Client(app, mount)
    finally:
        stop_app(app)


def _present(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def test_set_location_moves_the_files(client: Client, tmp_path: Path) -> None:
    info_hash = client.add_pack(tmp_path)
    before = Path(client.info(info_hash)["content_path"])
    target = tmp_path / "elsewhere" / "tv"
    assert client.post("torrents/setLocation", hashes=info_hash,
                       location=str(target)).status_code == 200
    torrent = client.info(info_hash)
    assert torrent["save_path"] == str(target)
    assert torrent["state"] == "pausedUP"               # the move finished before the answer
    after = Path(torrent["content_path"])
    assert after == target / before.name
    assert not before.exists()
    assert _present(after) == ["Edit.Show.S01E01.mkv", "Edit.Show.S01E02.mkv"]
    client.check_bytes(info_hash)
    empty = client.post("torrents/setLocation", hashes=info_hash, location="  ")
    assert (empty.status_code, empty.text) == (400, "Save path cannot be empty")


def _move(client: Client, verb: str, info_hash: str, target: str) -> Any:
    """setLocation (hashes, location) or 5.x's setSavePath (id, path)."""
    if verb == "setLocation":
        return client.http.post(f"{API}/torrents/setLocation",
                                data={"hashes": info_hash, "location": target})
    return client.http.post(f"{API}/torrents/setSavePath", data={"id": info_hash, "path": target})


def test_set_location_relative_is_under_the_downloads_folder_not_the_cwd(
        client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info_hash = client.add_pack(tmp_path)
    monkeypatch.chdir(tmp_path / "mount" if client.mount else tmp_path)
    for verb in ("setLocation", "setSavePath"):
        answer = _move(client, verb, info_hash, f"moved/{verb}")
        assert answer.status_code == 200, answer.text
        torrent = client.info(info_hash)
        assert torrent["save_path"] == str(tmp_path / "downloads" / "moved" / verb)
        assert torrent["state"] == "pausedUP"
        client.check_bytes(info_hash)
    assert not (tmp_path / "moved").exists()


def test_set_location_refuses_what_it_cannot_make_or_write(client: Client,
                                                          tmp_path: Path) -> None:
    info_hash = client.add_pack(tmp_path)
    before = client.info(info_hash)
    # /proc/1 exists and nobody, root included, may write there; a folder inside it cannot
    # be made. qBittorrent answers 403 and 409 for these, and moves nothing.
    for verb, target, answer in (
            ("setLocation", "/proc/1", (403, "Cannot write to directory")),
            ("setLocation", "/proc/1/tv", (409, "Cannot make save path")),
            ("setSavePath", "/proc/1", (403, "Cannot write to directory")),
            ("setSavePath", "/proc/1/tv", (409, "Cannot create target directory"))):
        response = _move(client, verb, info_hash, target)
        assert (response.status_code, response.text) == answer, (verb, target)
        assert client.info(info_hash) == before
    client.check_bytes(info_hash)


def test_a_move_that_keeps_failing_ends_in_error_not_moving(
        client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info_hash = client.add_pack(tmp_path)

    def broken_disk(source: object, target: object) -> None:
        raise OSError(5, "Input/output error", str(target))

    monkeypatch.setattr("core.layout.shutil.move", broken_disk)
    target = tmp_path / "other-disk"
    assert client.post("torrents/setLocation", hashes=info_hash,
                       location=str(target)).status_code == 200
    torrent = wait_until(lambda: (t := client.info(info_hash))["state"] != "moving" and t,
                         timeout=40, interval=0.2, what="the move to be given up")
    assert torrent["state"] == "error"
    comment = client.http.get(f"{API}/torrents/properties?hash={info_hash}").json["comment"]
    assert "Input/output error" in comment, comment
    assert "moving its files" in comment, comment


def test_rename_file_and_folders(client: Client, tmp_path: Path) -> None:
    info_hash = client.add_pack(tmp_path)
    root = Path(client.info(info_hash)["content_path"])
    folder = root.name
    ok = client.post("torrents/renameFile", hash=info_hash,
                     oldPath=f"{folder}/Edit.Show.S01E02.mkv",
                     newPath=f"{folder}/Season 1/Episode 2.mkv")
    assert ok.status_code == 200
    assert _present(root) == ["Edit.Show.S01E01.mkv", "Season 1/Episode 2.mkv"]
    names = sorted(f["name"] for f in client.files(info_hash) if f["priority"])
    assert names == [f"{folder}/Edit.Show.S01E01.mkv", f"{folder}/Season 1/Episode 2.mkv"]
    client.check_bytes(info_hash)
    for old, new, message in (
            (f"{folder}/missing.mkv", f"{folder}/x.mkv", f"No such file: '{folder}/missing.mkv'."),
            (f"{folder}/Edit.Show.S01E01.mkv", f"{folder}/Season 1/Episode 2.mkv",
             f"The file already exists: '{folder}/Season 1/Episode 2.mkv'."),
            (f"{folder}/Edit.Show.S01E01.mkv", "/etc/passwd",
             "Absolute path isn't allowed: '/etc/passwd'."),
            (f"{folder}/Edit.Show.S01E01.mkv", f"{folder}/../../escape.mkv",
             f"The new path is invalid: '{folder}/../../escape.mkv'.")):
        refused = client.post("torrents/renameFile", hash=info_hash, oldPath=old, newPath=new)
        assert (refused.status_code, refused.text) == (409, message)
    sub = client.post("torrents/renameFolder", hash=info_hash, oldPath=f"{folder}/Season 1",
                      newPath=f"{folder}/S01")
    assert sub.status_code == 200
    assert _present(root) == ["Edit.Show.S01E01.mkv", "S01/Episode 2.mkv"]
    whole = client.post("torrents/renameFolder", hash=info_hash, oldPath=folder,
                        newPath="Renamed Show")
    assert whole.status_code == 200
    torrent = client.info(info_hash)
    assert torrent["content_path"] == str(root.parent / "Renamed Show")
    assert not root.exists()
    assert _present(Path(torrent["content_path"])) == ["Edit.Show.S01E01.mkv",
                                                        "S01/Episode 2.mkv"]
    client.check_bytes(info_hash)
    # deleting with files removes what was moved, wherever it went
    client.post("torrents/delete", hashes=info_hash, deleteFiles="true")
    assert not Path(torrent["content_path"]).exists()


def test_file_priority_zero_drops_a_file(client: Client, tmp_path: Path) -> None:
    info_hash = client.add_pack(tmp_path)
    files = {f["name"].split("/", 1)[1]: f for f in client.files(info_hash)}
    second = files["Edit.Show.S01E02.mkv"]
    assert client.post("torrents/filePrio", hash=info_hash, id=str(second["index"]),
                       priority="0").status_code == 200
    root = Path(client.info(info_hash)["content_path"])
    assert _present(root) == ["Edit.Show.S01E01.mkv"]
    assert client.info(info_hash)["size"] == 300_000
    assert client.files(info_hash)[second["index"]]["priority"] == 0
    again = client.post("torrents/filePrio", hash=info_hash, id=str(second["index"]),
                        priority="1")
    assert again.status_code == 409                      # the provider's selection is fixed
    for data, status, text in (
            ({"id": "0", "priority": "x"}, 400, "Priority must be an integer"),
            ({"id": "0", "priority": "5"}, 400, "Priority is not valid"),
            ({"id": "a", "priority": "1"}, 400, "File IDs must be integers"),
            ({"id": "99", "priority": "1"}, 409, "File ID is not valid")):
        refused = client.post("torrents/filePrio", hash=info_hash, **data)
        assert (refused.status_code, refused.text) == (status, text)


def test_priorities_before_selection_decide_what_is_selected(client: Client,
                                                             tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Chosen.Pack", {
        "A.mkv": 10_000, "B.mkv": 20_000, "notes.txt": 100})
    assert client.http.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "c.torrent"), "paused": "true"}).text == "Ok."
    files = {f["name"].split("/", 1)[1]: f["index"] for f in client.files(info_hash)}
    client.post("torrents/filePrio", hash=info_hash, id=str(files["A.mkv"]), priority="0")
    client.post("torrents/filePrio", hash=info_hash, id=str(files["notes.txt"]), priority="7")
    client.post("torrents/resume", hashes=info_hash)
    client.play_mount(info_hash)
    torrent = client.completed(info_hash)
    assert _present(Path(torrent["content_path"])) == ["B.mkv", "notes.txt"]
    client.check_bytes(info_hash)


def test_recheck_places_missing_files_again(client: Client, tmp_path: Path) -> None:
    info_hash = client.add_pack(tmp_path)
    root = Path(client.info(info_hash)["content_path"])
    (root / "Edit.Show.S01E01.mkv").unlink()
    assert client.post("torrents/recheck", hashes=info_hash).status_code == 200
    client.completed(info_hash)
    assert _present(root) == ["Edit.Show.S01E01.mkv", "Edit.Show.S01E02.mkv"]
    client.check_bytes(info_hash)


def test_trackers_and_display_name(client: Client) -> None:
    info_hash = random_hash()
    client.post("torrents/add", urls=magnet(info_hash, "Tracker.Test"), paused="true")
    first = "http://127.0.0.1:1/announce"
    assert client.post("torrents/addTrackers", hash=info_hash,
                       urls="udp://t.example:80\nnot a url\nhttp://b.example/a").status_code \
        == 200
    urls = [t["url"] for t in client.http.get(f"{API}/torrents/trackers?hash={info_hash}").json]
    assert urls[3:] == [first, "udp://t.example:80", "http://b.example/a"]
    for data, status, text in (
            ({"origUrl": first, "newUrl": "nope"}, 400, "New tracker URL is invalid"),
            ({"origUrl": first, "newUrl": "http://b.example/a"}, 409,
             "New tracker URL already exists"),
            ({"origUrl": "http://x.example/", "newUrl": "http://y.example/"}, 409,
             "Tracker not found")):
        refused = client.post("torrents/editTracker", hash=info_hash, **data)
        assert (refused.status_code, refused.text) == (status, text)
    client.post("torrents/editTracker", hash=info_hash, origUrl=first,
                newUrl="http://c.example/")
    client.post("torrents/removeTrackers", hash=info_hash,
                urls="udp://t.example:80|http://unknown/")
    torrent = client.info(info_hash)
    assert torrent["trackers_count"] == 2
    assert "&tr=http%3a%2f%2fc.example%2f" in torrent["magnet_uri"]     # as qBittorrent writes
    assert "t.example" not in torrent["magnet_uri"]
    renamed = client.post("torrents/rename", hash=info_hash, name="New\nName")
    assert renamed.status_code == 200
    assert client.info(info_hash)["name"] == "New Name"
    empty = client.post("torrents/rename", hash="0" * 40, name="  ")
    assert (empty.status_code, empty.text) == (409, "Incorrect torrent name")


@pytest.mark.parametrize("client", ["download"], indirect=True)
def test_queue_with_an_active_download_limit(client: Client) -> None:
    requests.post(f"{client.admin}/config", json={"download_seconds": 1.5}, timeout=5)
    assert client.post("app/setPreferences", json=json.dumps(
        {"queueing_enabled": True, "max_active_downloads": 1})).status_code == 200
    hashes = [random_hash() for _ in range(3)]
    for i, info_hash in enumerate(hashes):
        client.post("torrents/add", urls=magnet(info_hash, f"Queue.{i} [uncached]", 1000))
    # the last one jumps the queue
    assert client.post("torrents/topPrio", hashes=hashes[2]).status_code == 200
    order: list[str] = []

    def record() -> bool:
        at_provider = [t for t in requests.get(f"{client.admin}/torrents", timeout=5).json()
                       if t["status"] in ("queued", "downloading")]
        assert len(at_provider) <= 1, at_provider
        for torrent in requests.get(f"{client.admin}/torrents", timeout=5).json():
            if torrent["hash"] not in order:
                order.append(torrent["hash"])
        states = [client.info(h)["state"] for h in hashes]
        return all(s == "pausedUP" for s in states)

    wait_until(record, timeout=60, interval=0.05, what="all completed one at a time")
    assert order[0] in (hashes[0], hashes[2])   # the first may have started before topPrio
    assert order.index(hashes[2]) < order.index(hashes[1])


@pytest.mark.parametrize("client", ["download"], indirect=True)
@pytest.mark.parametrize(("layout", "files", "content", "placed"), [
    ("Subfolder", {"Movie.2020.mkv": 50_000}, "Movie.2020", ["Movie.2020/Movie.2020.mkv"]),
    ("Original", {"Movie.2020.mkv": 50_000}, "Movie.2020.mkv", ["Movie.2020.mkv"]),
    ("Original", {"E01.mkv": 40_000, "E02.mkv": 40_001}, "Pack", ["Pack/E01.mkv",
                                                                  "Pack/E02.mkv"]),
    ("NoSubfolder", {"E01.mkv": 40_000, "E02.mkv": 40_001}, "", ["E01.mkv", "E02.mkv"]),
])
def test_content_layouts_on_disk(client: Client, tmp_path: Path, layout: str,
                                 files: dict[str, int], content: str,
                                 placed: list[str]) -> None:
    """qBittorrent's contentLayout decides the root folder; deleting never removes the
    save path itself."""
    single = len(files) == 1
    name = next(iter(files)) if single else "Pack"
    if single:
        data, info_hash = _single_file_torrent(tmp_path, name, files[name])
    else:
        data, info_hash = make_torrent(tmp_path, name, files)
    assert client.http.post(f"{API}/torrents/add", data={
        "torrents": (io.BytesIO(data), "layout.torrent"), "contentLayout": layout,
        "category": "films"}).text == "Ok."
    torrent = client.completed(info_hash)
    save = Path(torrent["save_path"])
    assert torrent["content_path"] == str(save / content if content else save)
    assert _present(save) == placed
    assert sorted(f["name"] for f in client.files(info_hash)) == placed
    client.check_bytes(info_hash)
    client.post("torrents/delete", hashes=info_hash, deleteFiles="true")
    assert _present(save) == []
    assert save.is_dir()


def _single_file_torrent(tmp: Path, name: str, size: int) -> tuple[bytes, str]:
    import torf
    path = tmp / f"single-{size}" / name
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x07" * size)
    torrent = torf.Torrent(path=path, trackers=["http://127.0.0.1:1/announce"])
    torrent.generate()
    buffer = io.BytesIO()
    torrent.write_stream(buffer)
    return buffer.getvalue(), str(torrent.infohash)


def test_add_options_are_kept(client: Client) -> None:
    info_hash = random_hash()
    assert client.post("torrents/add", urls=magnet(info_hash, "Options.Test"), paused="true",
                       upLimit="1024", dlLimit="2048", sequentialDownload="True",
                       firstLastPiecePrio="true", autoTMM="false",
                       rename="Shown Name").text == "Ok."
    torrent = client.info(info_hash)
    assert (torrent["up_limit"], torrent["dl_limit"]) == (1024, 2048)
    assert (torrent["seq_dl"], torrent["f_l_piece_prio"], torrent["auto_tmm"]) == \
        (True, True, False)
    assert torrent["name"] == "Shown Name"
    props = client.http.get(f"{API}/torrents/properties?hash={info_hash}").json
    assert (props["up_limit"], props["dl_limit"]) == (1024, 2048)
