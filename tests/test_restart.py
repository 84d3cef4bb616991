"""A crash loses nothing: SIGKILL mid-download, restart, and every torrent completes once."""

from __future__ import annotations

from pathlib import Path

import pytest
import qbittorrentapi
import requests

from tests.helpers import (
    PASSWORD,
    expected_sha256,
    file_sha256,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    start_sandbox_process,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


def _client(port: int) -> qbittorrentapi.Client:
    client = qbittorrentapi.Client(host=f"http://127.0.0.1:{port}", username="admin",
                                   password=PASSWORD, REQUESTS_ARGS={"timeout": 30})
    client.auth_log_in()
    return client


def _provider_torrents(admin: str) -> list[dict[str, object]]:
    return [t for t in requests.get(f"{admin}/torrents", timeout=5).json() if not t["deleted"]]


@pytest.mark.parametrize("kill_while", ["provider_downloading", "local_transfer"])
def test_sigkill_while_downloading_then_restart_completes_everything_once(
        tmp_path: Path, kill_while: str) -> None:
    sandbox_port, port = free_port(), free_port()
    # The provider is a separate process, as Real-Debrid is: it outlives Debridge's crash.
    sandbox = start_sandbox_process(sandbox_port, tmp_path / "sandbox.log", "--state",
                                    str(tmp_path / "sandbox.sqlite3"),
                                    "--download-seconds", "4")
    admin = f"http://127.0.0.1:{sandbox_port}/__admin"
    if kill_while == "local_transfer":
        # Slow CDN: the kill lands in the middle of the byte copy (Range resume after restart).
        requests.post(f"{admin}/config", json={"cdn_bytes_per_second": 2_000_000,
                                                "download_seconds": 0.5}, timeout=5)
    config = write_config(tmp_path, port=port, providers=[{
        "name": "rd", "type": "realdebrid", "api_key": "sandbox-token",
        "base_url": f"http://127.0.0.1:{sandbox_port}/rest/1.0"}],
        downloads={"folder": str(tmp_path / "downloads")})
    server = start_debridge(config, tmp_path / "debridge-1.log", port)
    try:
        client = _client(port)
        client.torrents_create_category(name="tv-sonarr")
        sizes = {random_hash(): 6_000_000 + i for i in range(3)}
        for i, (info_hash, size) in enumerate(sizes.items()):
            name = f"Crash.Test.S01E0{i + 1} [uncached]"
            assert client.torrents_add(urls=magnet(info_hash, name, size=size),
                                       category="tv-sonarr") == "Ok."

        def mid_flight() -> bool:
            torrents = client.torrents_info(category="tv-sonarr")
            if kill_while == "provider_downloading":
                return all(t["state"] == "downloading" and 0 < t["progress"] < 0.9
                           for t in torrents) and len(torrents) == 3
            parts = list((tmp_path / "downloads").rglob("*.debridge-part"))
            return any(p.stat().st_size > 0 for p in parts)

        wait_until(mid_flight, timeout=30, interval=0.05, what=kill_while)
        server.kill()                                   # SIGKILL, whole process group
        before_restart = requests.get(f"{admin}/requests", timeout=5).json()["next"]
        server = start_debridge(config, tmp_path / "debridge-2.log", port)
        client = _client(port)

        def all_done() -> bool:
            torrents = client.torrents_info(category="tv-sonarr")
            assert all(t["state"] != "error" for t in torrents), torrents
            return len(torrents) == 3 and all(t["state"] == "pausedUP" for t in torrents)

        wait_until(all_done, timeout=90, interval=0.2, what="all three completed")
        torrents = client.torrents_info(category="tv-sonarr")
        assert sorted(t["hash"] for t in torrents) == sorted(sizes)
        for torrent in torrents:
            files = client.torrents_files(torrent_hash=torrent["hash"])
            chosen = [f for f in files if f["priority"] > 0]
            assert len(chosen) == 1
            path = Path(torrent["save_path"]) / chosen[0]["name"]
            assert file_sha256(path) == expected_sha256(torrent["hash"],
                                                        chosen[0]["index"] + 1,
                                                        sizes[torrent["hash"]])
            assert not list(Path(torrent["content_path"]).rglob("*.debridge-part"))
        if kill_while == "local_transfer":
            # the interrupted copy resumed where it stopped (a Range request, answered 206)
            after = requests.get(f"{admin}/requests", params={"since": before_restart},
                                 timeout=5).json()["requests"]
            assert any(r["path"].startswith("/cdn/") and r["status"] == 206 for r in after)
        # no duplicate at the provider: one provider torrent per hash
        at_provider = sorted(t["hash"] for t in _provider_torrents(admin))
        assert at_provider == sorted(sizes)
        # the provider token and the password never reach the logs
        for log in ("debridge-1.log", "debridge-2.log"):
            text = (tmp_path / log).read_text()
            assert "sandbox-token" not in text
            assert PASSWORD not in text
    finally:
        server.stop()
        sandbox.stop()
