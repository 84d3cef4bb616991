"""A repair cut off by SIGKILL is resumed at the next start, never applied by halves: the copy
the provider was adding when Debridge died is the one swapped in (not a second add)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import (
    PASSWORD,
    expected_bytes,
    free_port,
    magnet,
    random_hash,
    start_debridge,
    start_sandbox_process,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow
KEY = "api-" + "13579bdf" * 4
BEARER = {"Authorization": f"Bearer {KEY}"}


def _copies(admin: str, info_hash: str) -> list[dict[str, Any]]:
    return [t for t in requests.get(f"{admin}/torrents", timeout=5).json()
            if t["hash"].lower() == info_hash and not t["deleted"]]


def _adds(admin: str, since: int) -> int:
    log = requests.get(f"{admin}/requests", params={"since": since}, timeout=5).json()
    return sum(1 for r in log["requests"] if r["path"].endswith("/torrents/addMagnet"))


def test_sigkill_while_a_repair_adds_the_copy_then_restart_finishes_it_once(
        tmp_path: Path) -> None:
    sandbox_port, port = free_port(), free_port()
    sandbox = start_sandbox_process(sandbox_port, tmp_path / "sandbox.log", "--state",
                                    str(tmp_path / "sandbox.sqlite3"))
    admin = f"http://127.0.0.1:{sandbox_port}/__admin"
    config = write_config(tmp_path, port=port, providers=[{
        "name": "rd", "type": "realdebrid", "api_key": "sandbox-token",
        "base_url": f"http://127.0.0.1:{sandbox_port}/rest/1.0"}],
        auth={"api_key": KEY}, repair={"readd_wait_seconds": 10.0, "skip_streamed_minutes": 0},
        downloads={"folder": str(tmp_path / "downloads")})
    base = f"http://127.0.0.1:{port}"
    server = start_debridge(config, tmp_path / "debridge-1.log", port)
    try:
        info_hash = random_hash()
        added = requests.post(f"{base}/api/add", headers=BEARER, timeout=30, json={
            "url": magnet(info_hash, "Killed.Repair.S01E01.1080p", size=2_000_003),
            "category": "tv"})
        assert added.status_code == 200, added.text

        def view() -> dict[str, Any]:
            return dict(requests.get(f"{base}/api/torrents", params={"hash": info_hash},
                                     headers=BEARER, timeout=10).json()[0])
        wait_until(lambda: view()["state"] == "completed", timeout=30)
        (lost,) = _copies(admin, info_hash)
        requests.post(f"{admin}/torrents/{lost['id']}", json={"dead": True},
                      timeout=5).raise_for_status()
        # the re-add hangs at the provider for a while, then takes effect there anyway
        requests.post(f"{admin}/faults", json={"route": "/torrents/addMagnet$", "kind": "timeout",
                                               "delay": 4.0, "count": 1},
                      timeout=5).raise_for_status()
        job = requests.post(f"{base}/api/repair", headers=BEARER, timeout=10,
                            json={"mediaIds": [info_hash], "autoProcess": True}).json()

        def adding() -> bool:
            current = requests.get(f"{base}/api/repair/jobs/{job['id']}", headers=BEARER,
                                   timeout=10).json()
            items = current["broken_items"]
            return current["status"] == "processing" and bool(items) and \
                items[0]["step"] == "adding"
        wait_until(adding, timeout=30, interval=0.05, what="the repair to be adding")
        server.kill()                                    # SIGKILL, mid-add
        wait_until(lambda: len(_copies(admin, info_hash)) == 2, timeout=15,
                   what="the cut-off add to take effect at the provider")
        mark = requests.get(f"{admin}/requests", timeout=5).json()["next"]

        server = start_debridge(config, tmp_path / "debridge-2.log", port)

        def finished() -> dict[str, Any] | None:
            current = requests.get(f"{base}/api/repair/jobs/{job['id']}", headers=BEARER,
                                   timeout=10).json()
            return current if current["status"] == "completed" else None
        done = wait_until(finished, timeout=60, what="the resumed job to finish")
        (item,) = done["broken_items"]
        assert item["state"] == "done", item
        (copy,) = _copies(admin, info_hash)            # the lost copy deleted, one new copy
        assert copy["id"] != lost["id"]
        assert copy["status"] == "downloaded"
        assert _adds(admin, mark) == 0                 # resumed with that copy: no second add
        assert "was cut off" in server.log()
        detail = requests.get(f"{base}/t/{info_hash}", headers=BEARER, timeout=10).json()
        video = next(f for f in detail["files"] if f["selected"] and f["path"].endswith(".mkv"))
        folder = Path(view()["content_path"]).name
        answer = requests.get(f"{base}/webdav/__all__/{folder}/{video['path']}",
                              auth=("admin", PASSWORD), headers={"Range": "bytes=0-99"},
                              timeout=30)
        assert answer.status_code == 206
        assert answer.content == expected_bytes(info_hash, video["index"] + 1, 0, 100)
        assert view()["health"] == "healthy"
    finally:
        server.stop()
        sandbox.stop()
