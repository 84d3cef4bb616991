"""Sonarr's whole path with the real qbittorrent-api client against `python app.py serve`.

Login, create the category, add (magnet / multipart .torrent / [uncached] magnet), poll
info until a state Sonarr counts as completed, check content_path and every byte, delete
with files, and check that Debridge's files and the provider's torrent are gone.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import qbittorrentapi
import requests

from tests.helpers import (
    PASSWORD,
    ServerProcess,
    expected_bytes,
    expected_sha256,
    file_sha256,
    free_port,
    magnet,
    make_torrent,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
CATEGORY = "tv-sonarr"


@dataclass
class Env:
    client: qbittorrentapi.Client
    server: ServerProcess
    admin: str               # the sandbox's admin API
    mount: Path | None       # stand-in for the rclone mount (symlink action)
    tmp: Path

    def provider_hashes(self) -> list[str]:
        torrents = requests.get(f"{self.admin}/torrents", timeout=5).json()
        return [t["hash"] for t in torrents if not t["deleted"]]


@pytest.fixture(params=["download", "symlink"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    port, sandbox_port = free_port(), free_port()
    mount = tmp_path / "mount" if request.param == "symlink" else None
    downloads = {"action": request.param, "folder": str(tmp_path / "downloads")}
    if mount is not None:
        mount.mkdir()
        downloads["mount_path"] = str(mount)
    config = write_config(tmp_path, port=port, sandbox_port=sandbox_port, downloads=downloads)
    server = start_debridge(config, tmp_path / "debridge.log", port)
    client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                   password=PASSWORD, REQUESTS_ARGS={"timeout": 30},
                                   VERIFY_WEBUI_CERTIFICATE=False)
    client.auth_log_in()
    try:
        yield Env(client, server, f"http://127.0.0.1:{sandbox_port}/__admin", mount, tmp_path)
    finally:
        client.auth_log_out()
        server.stop()
    assert PASSWORD not in server.log()          # secrets never reach the log


def _play_the_mount(env: Env, info_hash: str) -> None:
    """Symlink mode: write the files where an rclone mount of /webdav/ would show them."""
    assert env.mount is not None

    def files_known() -> list[dict[str, object]]:
        files = env.client.torrents_files(torrent_hash=info_hash)
        return [f for f in files if f["priority"] > 0]

    for f in wait_until(files_known, timeout=30, what="the selected files"):
        target = env.mount / "__all__" / str(f["name"])
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            size = int(f["size"])
            target.write_bytes(expected_bytes(info_hash, int(f["index"]) + 1, 0, size))


def _wait_completed(env: Env, info_hash: str) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        found = env.client.torrents_info(category=CATEGORY, torrent_hashes=info_hash)
        assert found, "the torrent vanished from torrents/info"
        assert found[0]["state"] != "error", found[0]
        return found[0] if found[0]["state"] == "pausedUP" else None

    return wait_until(done, timeout=60, interval=0.2, what="pausedUP")


def _check_content(env: Env, torrent: dict[str, object]) -> list[Path]:
    """content_path differs from save_path and holds exactly the selected files' bytes."""
    info_hash = str(torrent["hash"])
    save_path, content_path = Path(str(torrent["save_path"])), Path(str(torrent["content_path"]))
    assert content_path != save_path
    assert content_path.parent == save_path
    assert save_path == env.tmp / "downloads" / CATEGORY
    files = env.client.torrents_files(torrent_hash=info_hash)
    selected = [f for f in files if f["priority"] > 0]
    assert selected
    present = sorted(p for p in content_path.rglob("*") if not p.is_dir())
    assert present == sorted(save_path / str(f["name"]) for f in selected)
    for f in selected:
        path = save_path / str(f["name"])
        if env.mount is not None:
            assert path.is_symlink()
            assert Path(os.readlink(path)).is_relative_to(env.mount / "__all__")
        assert path.stat().st_size == f["size"]
        assert file_sha256(path) == expected_sha256(info_hash, int(f["index"]) + 1,
                                                    int(f["size"]))
    return present


def _delete_and_check_gone(env: Env, info_hash: str, content: Path) -> None:
    env.client.torrents_delete(delete_files=True, torrent_hashes=info_hash)
    assert env.client.torrents_info(torrent_hashes=info_hash) == []
    wait_until(lambda: not content.exists(), timeout=15, what="content_path removed")
    wait_until(lambda: info_hash not in env.provider_hashes(), timeout=15,
               what="the provider's torrent removed")


def test_magnet_into_category_completes_with_correct_bytes_and_deletes(env: Env) -> None:
    assert env.client.app.web_api_version == "2.9.3"
    env.client.torrents_create_category(name=CATEGORY)
    assert CATEGORY in env.client.torrents_categories()
    info_hash = random_hash()
    name = "Some.Show.S01E01.1080p.WEB"
    assert env.client.torrents_add(urls=magnet(info_hash, name, size=3_000_123),
                                   category=CATEGORY) == "Ok."
    # visible at once, in info and properties
    assert env.client.torrents_info(torrent_hashes=info_hash)
    assert env.client.torrents_properties(torrent_hash=info_hash)["name"] == name
    if env.mount is not None:
        _play_the_mount(env, info_hash)
    torrent = _wait_completed(env, info_hash)
    assert torrent["progress"] == 1
    assert torrent["amount_left"] == 0
    assert torrent["content_path"].endswith("/" + name)
    files = _check_content(env, torrent)
    assert [f.name for f in files] == [f"{name}.mkv"]   # sample and .nfo not selected
    assert files[0].stat().st_size == 3_000_123
    _delete_and_check_gone(env, info_hash, Path(str(torrent["content_path"])))


def test_torrent_file_upload_with_two_files(env: Env) -> None:
    env.client.torrents_create_category(name=CATEGORY)
    data, info_hash = make_torrent(env.tmp, "Show.S02.1080p", {
        "Show.S02E01.1080p.mkv": 2_500_000, "Show.S02E02.1080p.mkv": 1_700_001})
    result = env.client.torrents_add(torrent_files={"Show.S02.1080p.torrent": data},
                                     category=CATEGORY)
    assert result == "Ok."
    files = env.client.torrents_files(torrent_hash=info_hash)
    assert [f["name"] for f in files] == ["Show.S02.1080p/Show.S02E01.1080p.mkv",
                                          "Show.S02.1080p/Show.S02E02.1080p.mkv"]
    if env.mount is not None:
        _play_the_mount(env, info_hash)
    torrent = _wait_completed(env, info_hash)
    assert torrent["size"] == 4_200_001
    present = _check_content(env, torrent)
    assert len(present) == 2
    _delete_and_check_gone(env, info_hash, Path(str(torrent["content_path"])))


def test_uncached_magnet_progress_follows_the_provider_then_the_placed_bytes(
        env: Env) -> None:
    env.client.torrents_create_category(name=CATEGORY)
    info_hash = random_hash()
    name = "Uncached.Movie.2024.1080p [uncached]"
    assert env.client.torrents_add(urls=magnet(info_hash, name, size=2_000_000),
                                   category=CATEGORY) == "Ok."
    if env.mount is not None:
        _play_the_mount(env, info_hash)
    seen: list[tuple[str, float]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        torrent = env.client.torrents_info(torrent_hashes=info_hash)[0]
        seen.append((torrent["state"], torrent["progress"]))
        if torrent["state"] == "pausedUP":
            break
        time.sleep(0.1)
    states = [s for s, _ in seen]
    progress = [p for _, p in seen]
    assert states[-1] == "pausedUP"
    assert "downloading" in states
    assert states.index("downloading") < states.index("pausedUP")
    # the provider's download rises, then placing the files starts again from what is
    # placed (nothing), and rises: one step back at most, never more
    drops = [i for i in range(1, len(progress)) if progress[i] < progress[i - 1]]
    assert len(drops) <= 1, f"progress went backwards more than once: {seen}"
    assert not drops or progress[drops[0]] < 0.5, seen
    assert any(0 < p < 1 for p in progress), "no intermediate progress was reported"
    torrent = env.client.torrents_info(torrent_hashes=info_hash)[0]
    _check_content(env, torrent)


def test_infringing_magnet_fails_and_leaves_nothing(env: Env) -> None:
    info_hash = random_hash()
    result = env.client.torrents_add(urls=magnet(info_hash, "Blocked.Film [infringing]"),
                                     category=CATEGORY)
    assert result == "Fails."
    assert env.client.torrents_info() == []
    assert info_hash not in env.provider_hashes()


def test_invalid_torrent_upload_is_415(env: Env) -> None:
    with pytest.raises(qbittorrentapi.UnsupportedMediaType415Error):
        env.client.torrents_add(torrent_files={"junk.torrent": b"this is not bencode"})
    assert env.client.torrents_info() == []
