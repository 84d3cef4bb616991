"""What Sonarr, cross-seed and autobrr send (qbit-contract.md §1.1, §1.3, §1.4), replayed over
HTTP against `python app.py serve`; at each step we assert what that client concludes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import (
    PASSWORD,
    free_port,
    magnet,
    make_torrent,
    random_hash,
    start_debridge,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("clients")
    port = free_port()
    config = write_config(tmp, port=port, sandbox_port=free_port(),
                          downloads={"folder": str(tmp / "downloads")})
    process = start_debridge(config, tmp / "debridge.log", port)
    try:
        yield f"http://127.0.0.1:{port}/api/v2"
    finally:
        process.stop()


# -- Sonarr / Radarr / Lidarr -------------------------------------------------------------------
# Sonarr's QBittorrentProxyV2 state mapping (identical in Radarr and Lidarr).
SONARR_STATUS = {
    "error": "Warning", "stalledDL": "Warning", "missingFiles": "Warning",
    "pausedDL": "Paused", "stoppedDL": "Paused", "queuedDL": "Queued", "checkingDL": "Queued",
    "checkingUP": "Queued", "checkingResumeData": "Queued", "pausedUP": "Completed",
    "stoppedUP": "Completed", "uploading": "Completed", "stalledUP": "Completed",
    "queuedUP": "Completed", "forcedUP": "Completed",
}


def sonarr_status(state: str, dht: bool) -> str:
    if state in ("metaDL", "forcedMetaDL"):
        return "Queued" if dht else "Warning"
    return SONARR_STATUS.get(state, "Downloading")


def sonarr_may_remove(torrent: dict[str, Any], prefs: dict[str, Any]) -> bool:
    """Sonarr's "Remove Completed": a paused-complete torrent whose seed goal is reached."""
    if torrent["state"] not in ("pausedUP", "stoppedUP"):
        return False
    if torrent["ratio_limit"] >= 0 and torrent["ratio"] >= torrent["ratio_limit"]:
        return True
    return bool(torrent["ratio_limit"] == -2 and prefs["max_ratio_enabled"]
                and round(torrent["ratio"], 2) >= prefs["max_ratio"])


def test_sonarr(server: str) -> None:
    auth = {"Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()}
    # 1. the unauthenticated probe: 403 or 200 means "this is API v2" (404 would not)
    assert requests.get(f"{server}/app/webapiVersion", timeout=10).status_code == 403
    sonarr = requests.Session()
    sonarr.headers.update(auth)            # Sonarr 2026 sends Basic on every call
    login = sonarr.post(f"{server}/auth/login", data={"username": "admin",
                                                       "password": PASSWORD}, timeout=10)
    assert login.text == "Ok."             # Lidarr needs exactly this
    assert login.cookies.get("SID")
    # 2. the Test button
    version = tuple(int(p) for p in sonarr.get(f"{server}/app/webapiVersion",
                                               timeout=10).text.split("."))
    assert version >= (2, 6, 1)            # content_path is used from 2.6.1
    prefs = sonarr.get(f"{server}/app/preferences", timeout=10).json()
    removes = prefs["max_ratio_act"] in (1, 3)
    assert not ((prefs["max_ratio_enabled"] or (prefs["max_seeding_time_enabled"]
                 and prefs["max_seeding_time"] < 20160)) and removes)
    assert prefs["queueing_enabled"]       # Priority "First" works
    categories = sonarr.get(f"{server}/torrents/categories", timeout=10).json()
    if "tv-sonarr" not in categories:
        assert sonarr.post(f"{server}/torrents/createCategory",
                           data={"category": "tv-sonarr", "savePath": ""},
                           timeout=10).status_code == 200
    assert "tv-sonarr" in sonarr.get(f"{server}/torrents/categories", timeout=10).json()
    assert isinstance(sonarr.get(f"{server}/torrents/info", params={"category": "tv-sonarr"},
                                 timeout=10).json(), list)
    # 3. a grab: Sonarr reads dht first (off would refuse tracker-less magnets), then adds
    assert prefs["dht"] is True
    info_hash = random_hash()
    added = sonarr.post(f"{server}/torrents/add", timeout=30, data={
        "urls": magnet(info_hash, "Sonarr.Show.S02E03.1080p", 2_000_000, trackers=False),
        "category": "tv-sonarr", "paused": "False", "sequentialDownload": "False",
        "firstLastPiecePrio": "False"})
    assert added.text != "Fails."          # only Fails. is a failure
    # the "loaded yet?" probe: any 2xx within 10 x 100 ms
    assert any(sonarr.get(f"{server}/torrents/properties", params={"hash": info_hash},
                          timeout=10).ok or time.sleep(0.1) for _ in range(10))
    # 4. queue polls until Completed
    seen = []

    def poll() -> dict[str, Any] | None:
        sonarr.get(f"{server}/app/webapiVersion", timeout=10)
        sonarr.get(f"{server}/app/preferences", timeout=10)
        queue = sonarr.get(f"{server}/torrents/info", params={"category": "tv-sonarr"},
                           timeout=10).json()
        item = next(t for t in queue if t["hash"].upper() == info_hash.upper())
        status = sonarr_status(item["state"], prefs["dht"])
        assert status != "Warning", item
        remaining = item["size"] * (1 - item["progress"])
        assert remaining >= 0
        seen.append(status)
        return item if status == "Completed" else None

    item = wait_until(poll, timeout=60, interval=0.3, what="Completed in Sonarr")
    assert item["content_path"] != item["save_path"]       # output path = content_path
    assert Path(item["content_path"]).is_dir()
    assert item["eta"] == 8640000                          # nothing left
    # 5. removal after import
    assert sonarr_may_remove(item, prefs)
    assert sonarr.post(f"{server}/torrents/delete", data={
        "hashes": info_hash.lower(), "deleteFiles": "true"}, timeout=30).ok
    assert not Path(item["content_path"]).exists()


# -- cross-seed ---------------------------------------------------------------------------------
def test_cross_seed(server: str, tmp_path: Path) -> None:
    agent = {"User-Agent": "CrossSeed/6.13.7"}
    login = requests.post(f"{server}/auth/login", headers=agent, timeout=10,
                          data={"username": "admin", "password": PASSWORD})
    assert login.status_code == 200
    raw_cookie = login.headers["Set-Cookie"]     # mandatory; echoed back whole as Cookie
    headers = {**agent, "Cookie": raw_cookie}

    def post(path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("headers", headers)
        return requests.post(f"{server}/{path}", timeout=30, **kwargs)

    version = post("app/version").text
    major, minor, patch = (int(p) for p in version.lstrip("v").split("."))
    assert (major, minor, patch) >= (4, 3, 1)
    pause, resume = ("stop", "start") if major >= 5 else ("pause", "resume")
    assert post("app/preferences").json()["resume_data_storage_type"] != "SQLite"
    assert post("torrents/createTags", data={"tags": "cross-seed"}).ok
    categories = post("torrents/categories").json()
    link_dir = tmp_path / "links"
    if "cross-seed-link" not in categories:
        # sent without URL-encoding the values, as cross-seed does
        body = f"category=cross-seed-link&savePath={link_dir}"
        assert post("torrents/createCategory", data=body, headers={
            **headers, "Content-Type": "application/x-www-form-urlencoded"}).ok
    category = post("torrents/categories").json()["cross-seed-link"]
    assert (category["name"], category["savePath"]) == ("cross-seed-link", str(link_dir))
    data, info_hash = make_torrent(tmp_path, "Cross.Seed.Movie.2020.1080p",
                                   {"Cross.Seed.Movie.2020.1080p.mkv": 3_000_000})
    assert post("torrents/info", data={"hashes": info_hash}).json() == []
    files: list[tuple[str, Any]] = [
        ("torrents", ("Cross.Seed.Movie.2020.1080p.cross-seed.torrent", data,
                      "application/x-bittorrent"))]
    fields = [("savepath", str(link_dir)), ("downloadPath", ""), ("autoTMM", "false"),
              ("category", "cross-seed-link"), ("tags", "cross-seed"),
              ("contentLayout", "Original"), ("skip_checking", "true"),
              ("stopped" if major >= 5 else "paused", "true"), ("foo", "bar")]
    post("torrents/add", files=files + [(k, (None, v)) for k, v in fields])  # answer ignored
    found: list[dict[str, Any]] = []
    for _ in range(6):                           # cross-seed polls info up to 6 times
        found = post("torrents/info", data={"hashes": info_hash}).json()
        if found:
            break
        time.sleep(0.5)
    assert found, "the added torrent must appear in info by hash"
    torrent = found[0]
    for key in ("hash", "infohash_v1", "infohash_v2", "name", "save_path", "content_path",
                "category", "tags", "state", "amount_left", "auto_tmm", "total_size",
                "tracker"):
        assert key in torrent
    assert [t.strip() for t in torrent["tags"].split(",")] == ["cross-seed"]
    assert torrent["save_path"] == str(link_dir)
    assert post("torrents/files", data={"hash": info_hash}).json()[0]["size"] == 3_000_000
    trackers = post("torrents/trackers", data={"hash": info_hash}).json()
    assert trackers[-1]["url"] == "http://127.0.0.1:1/announce"
    assert post(f"torrents/{pause}", data={"hashes": info_hash}).ok
    assert post("torrents/recheck", data={"hashes": info_hash}).ok
    state = post("torrents/info", data={"hashes": info_hash}).json()[0]["state"]
    assert state in ("pausedDL", "stoppedDL", "pausedUP", "stoppedUP")   # so it resumes
    assert post(f"torrents/{resume}", data={"hashes": info_hash}).ok
    complete = ("uploading", "pausedUP", "stoppedUP", "queuedUP", "stalledUP", "checkingUP",
                "forcedUP")
    wait_until(lambda: post("torrents/info", data={"hashes": info_hash}).json()[0]["state"]
               in complete, timeout=60, what="complete for cross-seed")


# -- autobrr (go-qbittorrent) -------------------------------------------------------------------
class Float(float):
    """A JSON number written with a fraction or exponent (Go cannot decode it into int64)."""


def typed(text: str) -> Any:
    return json.loads(text, parse_float=Float)


# go-qbittorrent v1.16.0's Torrent struct: the Go type of every field it decodes.
GO_TORRENT = {
    "added_on": int, "amount_left": int, "auto_tmm": bool, "availability": float,
    "category": str, "completed": int, "completion_on": int, "content_path": str,
    "dl_limit": int, "dlspeed": int, "download_path": str, "downloaded": int,
    "downloaded_session": int, "eta": int, "f_l_piece_prio": bool, "force_start": bool,
    "hash": str, "infohash_v1": str, "infohash_v2": str, "last_activity": int,
    "magnet_uri": str, "max_ratio": float, "max_seeding_time": int, "name": str,
    "num_complete": int, "num_incomplete": int, "num_leechs": int, "num_seeds": int,
    "priority": int, "progress": float, "ratio": float, "ratio_limit": float,
    "save_path": str, "seeding_time": int, "seeding_time_limit": int, "seen_complete": int,
    "seq_dl": bool, "size": int, "state": str, "super_seeding": bool, "tags": str,
    "time_active": int, "total_size": int, "tracker": str, "trackers_count": int,
    "up_limit": int, "uploaded": int, "uploaded_session": int, "upspeed": int,
}


def decodes_like_go(value: Any, go_type: type) -> bool:
    if go_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, go_type)


def test_autobrr(server: str) -> None:
    jar = requests.Session()
    login = jar.post(f"{server}/auth/login", data={"username": "admin", "password": PASSWORD},
                     timeout=10)
    assert login.status_code in (200, 204)
    assert login.text == "Ok."                # with no cookie at all, the body must be Ok.
    version = jar.get(f"{server}/app/webapiVersion", timeout=10).text
    assert [p.isdigit() for p in version.split(".")] == [True, True, True]    # semver
    info_hash = random_hash()
    added = jar.post(f"{server}/torrents/add", timeout=30, data={
        "urls": magnet(info_hash, "Autobrr.Race.S01E01.1080p [uncached]", 3_000_000),
        "paused": "false", "stopped": "false", "skip_checking": "false",
        "contentLayout": "Original", "root_folder": "true", "savepath": "", "autoTMM": "false",
        "category": "", "tags": "autobrr", "upLimit": "0", "dlLimit": "0",
        "ratioLimit": f"{1.0:.2f}", "seedingTimeLimit": "-1", "firstLastPiecePrio": "false",
        "rename": "", "sequentialDownload": "false"})
    assert added.status_code in (200, 202, 204)
    assert added.headers["Content-Type"].startswith("text/plain")    # else: "add failed"
    for filter_name in ("all", "downloading"):
        torrents = typed(jar.get(f"{server}/torrents/info", params={"filter": filter_name},
                                 timeout=10).text)
        for torrent in torrents:
            for key, go_type in GO_TORRENT.items():
                assert decodes_like_go(torrent[key], go_type), (key, torrent[key])
    active = [t for t in typed(jar.get(f"{server}/torrents/info",
                                       params={"filter": "downloading"}, timeout=10).text)
              if t["state"] in ("downloading", "stalledDL")]
    assert [t["hash"] for t in active] == [info_hash]
    transfer = typed(jar.get(f"{server}/transfer/info", timeout=10).text)
    assert decodes_like_go(transfer["dl_info_speed"], int)
    assert decodes_like_go(transfer["up_info_speed"], int)
    trackers = jar.get(f"{server}/torrents/trackers", params={"hash": info_hash}, timeout=10)
    ok = [t for t in trackers.json() if t["status"] == 2 and t["tier"] >= 0
          and "unregistered" not in t["msg"].lower()]
    assert ok                                 # the re-announce loop is satisfied
    assert jar.post(f"{server}/torrents/reannounce", data={"hashes": info_hash},
                    timeout=10).ok
    # priority layouts: 409 means "queueing not enabled"
    assert jar.post(f"{server}/app/setPreferences", data={
        "json": json.dumps({"queueing_enabled": False})}, timeout=10).ok
    top = jar.post(f"{server}/torrents/topPrio", data={"hashes": info_hash}, timeout=10)
    assert (top.status_code, top.text) == (409, "Torrent queueing must be enabled")
    assert jar.post(f"{server}/app/setPreferences", data={
        "json": json.dumps({"queueing_enabled": True})}, timeout=10).ok
    assert jar.post(f"{server}/torrents/topPrio", data={"hashes": info_hash},
                    timeout=10).status_code == 200
    free = typed(jar.get(f"{server}/sync/maindata", params={"rid": 0}, timeout=10).text)
    assert decodes_like_go(free["server_state"]["free_space_on_disk"], int)
    assert free["server_state"]["free_space_on_disk"] > 0
