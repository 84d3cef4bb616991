"""TorBox's add limit, end to end: 200 adds at once against the TorBox fake, whose create
limit is scaled to 30 per rolling minute (the real one is 60 an hour) and general limit to
300 a minute. Debridge paces its creates from the declaration and the settings, so the fake
never has to answer 429, and the adds it has not sent yet wait queued, not failed."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from app import create_app, stop_app
from debrid.sandbox import SandboxOptions, SandboxServer
from tests.conftest import make_settings
from tests.helpers import magnet, random_hash

pytestmark = pytest.mark.slow
CREATES, WINDOW = 30, 60.0
KEY = "t" * 32
RUN_SECONDS = 66.0          # past one window: the second minute's creates are counted too


def test_a_burst_of_200_adds_never_exceeds_the_create_limit_and_sees_no_429(
        tmp_path: Path) -> None:
    options = SandboxOptions(create_limit=CREATES, create_window_seconds=WINDOW,
                             rate_limit_per_minute=300)
    with SandboxServer(options, dialect="torbox") as fake:
        settings = make_settings(
            tmp_path, auth={"api_key": KEY}, qbit={"add_wait_seconds": 0.0},
            providers=[{"name": "tb", "type": "torbox", "api_key": "tb-key",
                        "base_url": fake.api_url, "rate_limit_per_minute": 300,
                        "create_limit": CREATES, "create_window_seconds": WINDOW}])
        app = create_app(settings)
        try:
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {KEY}"
            urls = "\n".join(magnet(random_hash(), f"Burst.Show.S01E{i:03d}.1080p",
                                    size=1_000_000) for i in range(200))
            started = time.time()
            assert client.post("/api/v2/torrents/add", data={"urls": urls}).text == "Ok."
            time.sleep(max(0.0, RUN_SECONDS - (time.time() - started)))
            log = requests.get(f"{fake.url}/__admin/requests", timeout=5).json()["requests"]
            torrents = client.get("/api/torrents").json
        finally:
            stop_app(app)
    creates = sorted(r["ts"] for r in log if r["path"].endswith("/torrents/createtorrent"))
    assert [r for r in log if r["status"] == 429] == []
    busiest = max(sum(1 for t in creates if start <= t < start + WINDOW) for start in creates)
    assert busiest <= CREATES
    assert len(creates) > CREATES          # the second window's creates went too
    states = {t["state"] for t in torrents}
    assert "failed" not in states
    waiting = [t for t in torrents if t["state"] == "queued"]
    assert len(waiting) >= 200 - len(creates)
    # each says why: the create limit, or its place behind the ones ahead of it
    messages = {t["message"] for t in waiting}
    assert all(m.startswith("queued:") for m in messages), messages
    assert any("create limit" in m for m in messages), messages
