"""Restarts keep the library readable: links saved before a restart (or pointing at an address
that is gone) are resolved again, an interrupted copy completes with the right bytes, its
progress never runs ahead of the disk, and a CDN that never answers fails the copy in time."""

from __future__ import annotations

import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    random_hash,
    squatter,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
API_KEY = "restart-links-api-key-0c41d2"
CATEGORY = "radarr"
COPY_TIMEOUT_MINUTES = 0.15          # 9 s: a copy the CDN never serves fails after this


@dataclass
class Debridge:
    tmp: Path
    config: Path
    port: int
    starts: int = 0
    server: ServerProcess | None = None
    client: qbittorrentapi.Client | None = None

    def start(self) -> None:
        self.starts += 1
        self.server = start_debridge(self.config, self.tmp / f"debridge-{self.starts}.log",
                                     self.port)
        self.client = qbittorrentapi.Client(host=f"http://127.0.0.1:{self.port}",
                                            username="admin", password=PASSWORD,
                                            REQUESTS_ARGS={"timeout": 30})
        self.client.auth_log_in()

    @property
    def qbit(self) -> qbittorrentapi.Client:
        assert self.client is not None
        return self.client

    @property
    def sandbox_port(self) -> int:
        """The embedded sandbox's port, as it recorded it in the data dir."""
        return int((self.tmp / "data" / "sandbox.port").read_text())

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}/__admin"

    def torrent(self, info_hash: str) -> dict[str, Any]:
        found = self.qbit.torrents_info(torrent_hashes=info_hash)
        assert found, f"{info_hash} is not in torrents/info"
        return dict(found[0])

    def completed(self, info_hash: str, timeout: float = 60) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            torrent = self.torrent(info_hash)
            assert torrent["state"] != "error", torrent
            return torrent if torrent["state"] == "pausedUP" else None
        return wait_until(done, timeout=timeout, interval=0.2, what=f"{info_hash} completed")

    def main_file(self, info_hash: str) -> dict[str, Any]:
        chosen = [f for f in self.qbit.torrents_files(torrent_hash=info_hash)
                  if f["priority"] > 0]
        assert len(chosen) == 1
        return dict(chosen[0])


@pytest.fixture
def debridge(tmp_path: Path) -> Any:
    port = free_port()
    config = write_config(tmp_path, port=port,      # sandbox.port 0: chosen, then remembered
                          downloads={"folder": str(tmp_path / "downloads"),
                                     "copy_timeout_minutes": COPY_TIMEOUT_MINUTES},
                          auth={"api_key": API_KEY})
    env = Debridge(tmp_path, config, port)
    env.start()
    try:
        yield env
    finally:
        if env.server is not None:
            env.server.stop()


def _on_disk(content_path: Path) -> int:
    return sum(p.stat().st_size for p in content_path.rglob("*") if p.is_file())


def _add(env: Debridge, name: str, size: int) -> str:
    info_hash = random_hash()
    assert env.qbit.torrents_add(urls=magnet(info_hash, name, size=size),
                                 category=CATEGORY) == "Ok."
    return info_hash


def _slow_cdn(env: Debridge, bytes_per_second: int) -> None:
    requests.post(f"{env.admin}/config", json={"cdn_bytes_per_second": bytes_per_second},
                  timeout=5).raise_for_status()


def _copy_in_flight(env: Debridge, info_hash: str) -> None:
    """Wait until the copy has bytes on disk, checking all along that the progress it
    reports never says more than what is on disk (and speed and ETA agree with it)."""
    seen = 0

    def started() -> bool:
        nonlocal seen
        torrent = env.torrent(info_hash)
        if not torrent["content_path"]:
            return False
        on_disk = _on_disk(Path(torrent["content_path"]))     # read after the answer
        if torrent["state"] == "downloading" and torrent["size"] > 0:
            assert torrent["progress"] * torrent["size"] <= on_disk + 1, (torrent, on_disk)
            assert torrent["completed"] <= on_disk
            assert torrent["downloaded"] <= on_disk
            assert torrent["amount_left"] == torrent["size"] - torrent["completed"]
            if torrent["progress"] > 0:
                seen += 1
        return seen >= 3 and on_disk > 0

    wait_until(started, timeout=40, interval=0.1, what=f"{info_hash}'s copy to be under way")


def _check_completed(env: Debridge, info_hash: str, size: int) -> None:
    """The local copy, the WebDAV file and the REST download all hold the formula bytes."""
    torrent = env.completed(info_hash)
    assert torrent["progress"] == 1
    assert torrent["amount_left"] == 0
    chosen = env.main_file(info_hash)
    file_id = int(chosen["index"]) + 1
    local = Path(torrent["save_path"]) / chosen["name"]
    assert file_sha256(local) == expected_sha256(info_hash, file_id, size)
    assert not list(Path(torrent["content_path"]).rglob("*.debridge-part"))
    folder, _, inner = str(chosen["name"]).partition("/")
    path = f"{urllib.parse.quote(folder)}/{urllib.parse.quote(inner)}"
    start, count = size // 3, 100_000
    base = f"http://127.0.0.1:{env.port}"
    dav = requests.get(f"{base}/webdav/__all__/{path}", auth=("admin", PASSWORD),
                       headers={"Range": f"bytes={start}-{start + count - 1}"}, timeout=30)
    assert dav.status_code == 206, dav.text[:300]
    assert dav.content == expected_bytes(info_hash, file_id, start, count)
    rest = requests.get(f"{base}/api/browse/download/{path}",
                        headers={"Authorization": f"Bearer {API_KEY}",
                                 "Range": f"bytes=-{count}"}, timeout=30)
    assert rest.status_code == 206, rest.text[:300]
    assert rest.content == expected_bytes(info_hash, file_id, size - count, count)


def test_restarts_keep_links_working_and_copies_complete(debridge: Debridge) -> None:
    env = debridge
    env.qbit.torrents_create_category(name=CATEGORY)
    done = {_add(env, f"Finished.Movie.{i}.2021.1080p", 3_000_000 + i): 3_000_000 + i
            for i in range(2)}
    for info_hash, size in done.items():
        _check_completed(env, info_hash, size)
    first_port = env.sandbox_port

    # 1. a clean restart in the middle of a copy: the sandbox keeps its port (links stay)
    _slow_cdn(env, 1_500_000)
    moving, moving_size = _add(env, "Copying.Movie.2022.1080p", 12_000_000), 12_000_000
    _copy_in_flight(env, moving)
    assert env.server is not None
    assert env.server.stop() == 0
    env.start()
    assert env.sandbox_port == first_port
    _check_completed(env, moving, moving_size)
    done[moving] = moving_size
    for info_hash, size in done.items():
        _check_completed(env, info_hash, size)

    # 2. SIGKILL in the middle of a copy, and the sandbox's old port is taken meanwhile:
    #    every saved link points at an address that refuses connections now
    _slow_cdn(env, 1_500_000)
    moving, moving_size = _add(env, "Killed.Copy.Movie.2023.1080p", 12_000_000), 12_000_000
    _copy_in_flight(env, moving)
    env.server.kill()
    with squatter(first_port):
        env.start()
        assert env.sandbox_port != first_port
        _check_completed(env, moving, moving_size)
        done[moving] = moving_size
        for info_hash, size in done.items():
            _check_completed(env, info_hash, size)

        # 3. a CDN that never answers again: the copy fails with its reason, in time, once
        requests.post(f"{env.admin}/faults", json={"route": "^/cdn/", "kind": "status",
                                                   "status": 502}, timeout=5)
        began = time.monotonic()
        doomed = _add(env, "Unreachable.Movie.2024.1080p", 4_000_000)

        def failed() -> dict[str, Any] | None:
            torrent = env.torrent(doomed)
            if torrent["state"] == "downloading":
                assert torrent["dlspeed"] == 0, torrent
                assert torrent["eta"] == 8640000, torrent
            return torrent if torrent["state"] == "error" else None

        torrent = wait_until(failed, timeout=COPY_TIMEOUT_MINUTES * 60 + 20, interval=0.2,
                             what="the copy to fail")
        assert time.monotonic() - began < COPY_TIMEOUT_MINUTES * 60 + 15
        comment = env.qbit.torrents_properties(torrent_hash=doomed)["comment"]
        assert "copy_timeout_minutes" in comment, comment
        assert "502" in comment, comment
        log = requests.get(f"{env.admin}/requests", timeout=5).json()
        mark = log["next"]
        time.sleep(4)
        later = requests.get(f"{env.admin}/requests", params={"since": mark},
                             timeout=5).json()["requests"]
        assert [r for r in later if r["path"].startswith(("/cdn/", "/rest/1.0/unrestrict"))] \
            == [], "the failed copy is still being retried"
        assert torrent["dlspeed"] == 0
