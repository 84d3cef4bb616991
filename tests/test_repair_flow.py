"""Repair and the Arrs end to end: one app with its embedded sandbox and fake Sonarr, Radarr and
Lidarr servers (tests/fake_arr.py, built from the Arrs' API reference). Each test uses its own
hashes and categories; repair runs are limited to them with mediaIds.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qbittorrentapi
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from app import create_app, stop_app
from tests.conftest import make_settings
from tests.fake_arr import FakeArr
from tests.helpers import PASSWORD, expected_bytes, free_port, magnet, random_hash, wait_until

KEY = "api-" + "0123456789abcdef" * 2
BEARER = {"Authorization": f"Bearer {KEY}"}
SIZE = 3_000_017          # the main file's bytes (magnet xl=): copies stay quick


@pytest.fixture(scope="module")
def arrs() -> Iterator[dict[str, FakeArr]]:
    fakes = {kind: FakeArr(kind, api_key=f"{kind}-key-{'7' * 20}").start()
             for kind in ("sonarr", "radarr", "lidarr")}
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, arrs: dict[str, FakeArr]) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("repair")
    settings = make_settings(
        tmp, server={"port": free_port()},
        auth={"api_key": KEY, "max_failed_logins": 1000},
        qbit={"add_wait_seconds": 0.0, "register_arrs": True},
        downloads={"stalled_timeout_minutes": 0.05},
        hooks={"retry_seconds": 0.2}, sandbox={"download_seconds": 60.0},
        # uncached downloads are off: a re-add that is not cached goes to the Arr
        providers=[{"name": "sandbox", "type": "sandbox", "download_uncached": False}],
        repair={"readd_wait_seconds": 2.0, "retry_minutes": 0.0, "max_attempts": 2,
                "skip_streamed_minutes": 0.0},
        arrs=[{"name": "sonarr", "type": "sonarr", "url": arrs["sonarr"].url,
               "api_key": arrs["sonarr"].api_key, "categories": ["tv-sonarr", "tv-gate"]},
              {"name": "radarr", "type": "radarr", "url": arrs["radarr"].url,
               "api_key": arrs["radarr"].api_key, "categories": ["radarr"]},
              {"name": "lidarr", "type": "lidarr", "url": arrs["lidarr"].url,
               "api_key": arrs["lidarr"].api_key, "categories": ["lidarr"]}])
    application = create_app(settings)
    yield application
    stop_app(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _admin(app: Flask) -> str:
    return f"http://127.0.0.1:{app.extensions['debridge'].settings['sandbox.port']}/__admin"


def _copies(app: Flask, info_hash: str) -> list[dict[str, Any]]:
    """The sandbox account's copies of a hash that are not deleted."""
    return [t for t in requests.get(f"{_admin(app)}/torrents", timeout=5).json()
            if t["hash"].lower() == info_hash and not t["deleted"]]


def _add(client: FlaskClient, info_hash: str, name: str, category: str) -> None:
    answer = client.post("/api/add", headers=BEARER, json={
        "url": magnet(info_hash, name, size=SIZE), "category": category})
    assert answer.status_code == 200, answer.get_data(as_text=True)


def _torrent(client: FlaskClient, info_hash: str) -> dict[str, Any]:
    answer = client.get(f"/api/torrents?hash={info_hash}", headers=BEARER)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return dict(answer.get_json()[0])


def _completed(client: FlaskClient, info_hash: str) -> dict[str, Any]:
    return wait_until(lambda: (t := _torrent(client, info_hash))["state"] == "completed" and t,
                      timeout=30)


def _repair(client: FlaskClient, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/repair", json=body, headers=BEARER)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    job_id = answer.get_json()["id"]

    def finished() -> dict[str, Any] | None:
        job = client.get(f"/api/repair/jobs/{job_id}", headers=BEARER).get_json()
        return job if job["status"] in ("completed", "pending", "failed", "stopped") else None
    return wait_until(finished, timeout=60)


def _webdav(client: FlaskClient, path: str, offset: int, length: int) -> bytes:
    auth = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    answer = client.get(f"/webdav/{path}", headers={
        "Authorization": f"Basic {auth}", "Range": f"bytes={offset}-{offset + length - 1}"})
    assert answer.status_code == 206, (answer.status_code, answer.get_data()[:200])
    return answer.get_data()


def _main_file(client: FlaskClient, info_hash: str) -> tuple[str, int, int]:
    """(tree path under __all__, sandbox file id, size) of the torrent's video."""
    detail = client.get(f"/t/{info_hash}", headers=BEARER).get_json()
    video = next(f for f in detail["files"] if f["selected"] and f["path"].endswith(".mkv"))
    folder = Path(_torrent(client, info_hash)["content_path"]).name
    return f"__all__/{folder}/{video['path']}", video["index"] + 1, video["size"]


def _uncached_from_now_on(app: Flask, info_hash: str, name: str) -> None:
    """The sandbox's catalogue: a new add of this release downloads (same name: same files)."""
    requests.post(f"{_admin(app)}/seed", json={"hash": info_hash, "name": name,
                                               "cached": False}, timeout=5).raise_for_status()


def _kill_at_provider(app: Flask, info_hash: str) -> str:
    (copy,) = _copies(app, info_hash)
    answer = requests.post(f"{_admin(app)}/torrents/{copy['id']}", json={"dead": True},
                           timeout=5)
    assert answer.status_code == 200, answer.text
    return str(copy["id"])


def test_a_dead_torrent_is_re_added_and_reads_again_at_the_same_path(
        app: Flask, client: FlaskClient) -> None:
    info_hash = random_hash()
    _add(client, info_hash, "Repair.Dead.S01E01.1080p", "tv-sonarr")
    _completed(client, info_hash)
    path, file_id, size = _main_file(client, info_hash)
    offset = max(0, size // 2 - 10)
    assert _webdav(client, path, offset, 64) == expected_bytes(info_hash, file_id, offset, 64)
    old_id = _kill_at_provider(app, info_hash)

    job = _repair(client, mediaIds=[info_hash], autoProcess=True)

    assert job["status"] == "completed", job
    (item,) = job["broken_items"]
    assert item["hash"] == info_hash, item
    assert "dead" in item["reason"], item
    assert item["state"] == "done", item
    (copy,) = _copies(app, info_hash)                 # the lost copy is gone, a new one serves
    assert str(copy["id"]) != old_id
    assert _webdav(client, path, offset, 64) == expected_bytes(info_hash, file_id, offset, 64)
    assert _main_file(client, info_hash)[0] == path
    assert _torrent(client, info_hash)["health"] == "healthy"


def test_an_uncached_re_add_hands_the_torrent_back_to_its_arr(
        app: Flask, client: FlaskClient, arrs: dict[str, FakeArr]) -> None:
    sonarr = arrs["sonarr"]
    info_hash = random_hash()
    series = sonarr.add_item("Uncached Show", "/tv/Uncached Show")
    other = sonarr.add_file(series, "/tv/Uncached Show/Season 1/healthy.mkv", season=1)
    grabs = sonarr.add_grab(info_hash, series, [501, 502])
    _add(client, info_hash, "Uncached.Show.S01.1080p", "tv-sonarr")
    _completed(client, info_hash)
    # the provider loses it, and a new add of the release is no longer cached
    _uncached_from_now_on(app, info_hash, "Uncached.Show.S01.1080p")
    _kill_at_provider(app, info_hash)
    sonarr.clear_calls()

    job = _repair(client, mediaIds=[info_hash], autoProcess=True)

    (item,) = job["broken_items"]
    assert item["state"] == "handed_back", item
    assert "not cached" in item["result"], item
    wait_until(lambda: any(name == "EpisodeSearch" for name, _ in sonarr.commands), timeout=20)
    # one of the pack's grab records (Sonarr fails them all together), once per download
    assert len(sonarr.failed_ids) == 1
    assert sonarr.failed_ids[0] in grabs
    assert ("EpisodeSearch", {"name": "EpisodeSearch", "episodeIds": [501, 502]}) in \
        sonarr.commands
    assert other not in sonarr.deleted_files
    assert not sonarr.deleted_files
    assert _torrent(client, info_hash)["health"] == "broken"
    bad = client.get("/api/browse/__bad__", headers=BEARER).get_json()
    assert "Uncached.Show.S01.1080p" in [t["name"] for t in bad["torrents"]]
    files = client.get(f"/t/{info_hash}", headers=BEARER).get_json()["files"]
    assert {f["health"] for f in files if f["selected"]} == {"broken"}
    # the uncached copy was deleted again; only the dead one is left
    assert [c["status"] for c in _copies(app, info_hash)] == ["dead"]


def test_failures_after_the_add_reach_the_arr_and_a_completion_refreshes_it_once(
        app: Flask, client: FlaskClient, arrs: dict[str, FakeArr]) -> None:
    sonarr, radarr = arrs["sonarr"], arrs["radarr"]
    infringing, unresolved, done = random_hash(), random_hash(), random_hash()
    series = sonarr.add_item("Failing Show", "/tv/Failing Show")
    grab_infringing = sonarr.add_grab(infringing, series, [601])[0]
    grab_unresolved = sonarr.add_grab(unresolved, series, [602])[0]
    radarr.clear_calls()
    _add(client, infringing, "Failing.Show.S01E01.[infringing]", "tv-sonarr")
    _add(client, unresolved, "Failing.Show.S01E02.[magnet_error]", "tv-sonarr")
    _add(client, done, "Finished.Movie.2024.1080p", "radarr")

    wait_until(lambda: {grab_infringing, grab_unresolved} <= set(sonarr.failed_ids), timeout=40)
    assert _torrent(client, infringing)["state"] == "failed"
    assert _torrent(client, unresolved)["failure_reason"] == "magnet_error"
    _completed(client, done)
    wait_until(lambda: radarr.calls_to("POST", "command"), timeout=20)
    time.sleep(1.0)                               # a second notice would come by now
    refreshes = [c for c in radarr.commands if c[0] == "RefreshMonitoredDownloads"]
    assert len(refreshes) == 1, radarr.commands


def test_an_arr_registers_itself_by_logging_in(app: Flask) -> None:
    with FakeArr("sonarr", api_key="another-sonarr-" + "9" * 20) as sonarr:
        _register(app, sonarr)


def _register(app: Flask, sonarr: FakeArr) -> None:
    server = make_server("127.0.0.1", app.extensions["debridge"].settings["server.port"], app,
                         threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        wrong = requests.post(f"{base}/api/v2/auth/login",
                              data={"username": sonarr.url, "password": "not-the-key"},
                              timeout=10)
        assert wrong.text == "Fails."
        sonarr.clear_calls()
        qbit = qbittorrentapi.Client(host=base, username=sonarr.url, password=sonarr.api_key,
                                     VERIFY_WEBUI_CERTIFICATE=False)
        qbit.auth_log_in()
        assert sonarr.calls_to("GET", "system/status")          # validated against the Arr
        cookie = requests.post(f"{base}/api/v2/auth/login", timeout=10, data={
            "username": sonarr.url, "password": sonarr.api_key}).headers["Set-Cookie"]
        assert sonarr.api_key not in cookie
        qbit.torrents_add(urls=magnet(random_hash(), "Registered.Show.S01E01"),
                          category="tv-registered")
        listed = requests.get(f"{base}/api/arrs", headers=BEARER, timeout=30).json()
        mine = [a for a in listed if a["registered"]]
        assert [a["categories"] for a in mine] == [["tv-registered"]], listed
        assert mine[0]["reachable"] is True
        assert mine[0]["type"] == "sonarr"
        assert sonarr.api_key not in str(listed)
        assert "api_key" not in mine[0]
    finally:
        server.shutdown()
        thread.join()


def test_a_run_where_most_items_look_broken_acts_on_nothing(
        app: Flask, client: FlaskClient) -> None:
    hashes = [random_hash() for _ in range(5)]
    answer = client.post("/api/add", headers=BEARER, json={
        "urls": [magnet(h, f"Gate.Show.S01E0{i}.1080p", size=SIZE) for i, h in enumerate(hashes)],
        "category": "tv-gate"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    for info_hash in hashes:
        _completed(client, info_hash)
    lost = {h: _kill_at_provider(app, h) for h in hashes[:3]}

    job = _repair(client, mediaIds=hashes, autoProcess=True)

    assert job["status"] == "completed", job
    assert job["broken_items"] == [], job
    assert "3 of 5" in job["summary"]["gate"], job["summary"]
    status = client.get("/api/repair/status", headers=BEARER).get_json()
    assert "repair.max_broken_fraction" in status["alert"]
    for info_hash, copy_id in lost.items():       # nothing was re-added or deleted
        assert [str(c["id"]) for c in _copies(app, info_hash)] == [copy_id]
        assert _torrent(client, info_hash)["health"] == "healthy"


def test_a_dry_run_lists_what_it_would_do_and_changes_nothing(
        app: Flask, client: FlaskClient) -> None:
    info_hash = random_hash()
    _add(client, info_hash, "Dry.Run.Movie.2020.1080p", "radarr")
    _completed(client, info_hash)
    copy_id = _kill_at_provider(app, info_hash)

    job = _repair(client, mediaIds=[info_hash], dryRun=True)

    assert job["status"] == "completed"
    assert job["summary"]["dry_run"] is True
    (item,) = job["broken_items"]
    assert item["state"] == "planned"
    assert item["actions"][0] == "re-add on sandbox"
    assert "Arr" in item["actions"][-1]
    assert [str(c["id"]) for c in _copies(app, info_hash)] == [copy_id]
    assert _torrent(client, info_hash)["health"] == "healthy"     # not even marked


def test_a_torrent_no_repair_saves_is_tried_at_most_max_attempts_times(
        app: Flask, client: FlaskClient) -> None:
    info_hash = random_hash()
    _add(client, info_hash, "Hopeless.Release.2019.1080p", "nobody-owns-this")
    _completed(client, info_hash)
    _uncached_from_now_on(app, info_hash, "Hopeless.Release.2019.1080p")
    _kill_at_provider(app, info_hash)
    requests.delete(f"{_admin(app)}/requests", timeout=5)

    results = [_repair(client, mediaIds=[info_hash], autoProcess=True)["broken_items"][0]
               for _ in range(3)]

    assert [r["state"] for r in results] == ["failed", "failed", "skipped"], results
    assert "gave up after 2 repair attempt(s)" in results[2]["result"]
    adds = [r for r in requests.get(f"{_admin(app)}/requests", timeout=5).json()["requests"]
            if r["path"].endswith("/torrents/addMagnet")]
    assert len(adds) == 2


def test_a_second_run_while_one_runs_is_refused(app: Flask, client: FlaskClient) -> None:
    rule = requests.post(f"{_admin(app)}/faults", json={
        "route": "/torrents$", "method": "GET", "kind": "timeout", "delay": 3.0, "count": 1},
        timeout=5).json()
    try:
        answers: list[int] = []

        def post() -> None:
            answers.append(client.post("/api/repair", json={"dryRun": True},
                                       headers=BEARER).status_code)
        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
            time.sleep(0.3)
        for thread in threads:
            thread.join()
        assert sorted(answers) == [202, 409], answers
        conflict = client.post("/api/repair", json={}, headers=BEARER)
        assert conflict.status_code == 409
        assert conflict.get_json()["code"] == 409
    finally:
        requests.delete(f"{_admin(app)}/faults/{rule['id']}", timeout=5)
        wait_until(lambda: client.get("/api/repair/status", headers=BEARER).get_json()[
            "running"] is None, timeout=30)


def test_a_notice_to_an_arr_that_is_down_is_delivered_once_it_is_back(
        app: Flask, client: FlaskClient, arrs: dict[str, FakeArr]) -> None:
    lidarr = arrs["lidarr"]
    info_hash = random_hash()
    artist = lidarr.add_item("Down Artist", "/music/Down Artist")
    grab = lidarr.add_grab(info_hash, artist, [901])[0]
    lidarr.set_down(True)
    try:
        _add(client, info_hash, "Down.Artist.Album.[infringing]", "lidarr")
        wait_until(lambda: _torrent(client, info_hash)["state"] == "failed", timeout=20)
        store = app.extensions["debridge.runtime"].store

        def tried() -> Any:
            notices = [d for d in store.hook_deliveries(info_hash) if d.hook == "arr:failed"]
            return notices and notices[0].attempts >= 1 and notices[0].error and notices[0]
        notice = wait_until(tried, timeout=20, what="a failed attempt")   # due 5 s after
        assert "503" in notice.error
        assert lidarr.api_key not in notice.error
        assert lidarr.failed_ids == []
    finally:
        lidarr.set_down(False)
    wait_until(lambda: lidarr.failed_ids == [grab], timeout=20, what="the retried notice")


def test_the_periodic_scan_is_a_job_of_its_own(app: Flask, client: FlaskClient) -> None:
    app.extensions["debridge"].repair.schedule()
    job = wait_until(lambda: (j := client.get("/api/repair/jobs", headers=BEARER).get_json()[0])[
        "status"] not in ("scanning", "processing") and j, timeout=60)
    assert job["trigger"] == "interval"
    assert job["auto_process"] is False            # repair.auto_repair is off
