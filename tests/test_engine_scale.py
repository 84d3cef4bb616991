"""The engine with the embedded sandbox, in process: link resolution, download keys, reuse of
account torrents, keeping provider torrents, archives, list polling and library sync."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from app import create_app, stop_app
from core.library_sync import LibrarySync
from core.links import LinkResolver
from core.services import EXTENSION_KEY
from debrid.realdebrid import RealDebrid
from store.sqlite import SqliteStore
from tests.conftest import marked_settings
from tests.helpers import PASSWORD, expected_bytes, magnet, random_hash, wait_until

API = "/api/v2"


class Running:
    """An app, a logged-in qBittorrent client and the embedded sandbox's admin API."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        runtime = app.extensions["debridge.runtime"]
        self.store: SqliteStore = runtime.store
        self.lifecycle = runtime.engine.lifecycle
        self.provider: RealDebrid = self.lifecycle.providers["sandbox"]
        self.admin = f"{runtime.sandboxes[0].url}/__admin"
        self.qbit: FlaskClient = app.test_client()
        assert self.qbit.post(f"{API}/auth/login", data={
            "username": "admin", "password": PASSWORD}).text == "Ok."

    def calls(self, suffix: str) -> int:
        log = requests.get(f"{self.admin}/requests", timeout=10).json()["requests"]
        return sum(1 for r in log if r["path"].endswith(suffix))

    def log(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.admin}/requests", timeout=10).json()["requests"]

    def held(self) -> list[dict[str, Any]]:
        return [t for t in requests.get(f"{self.admin}/torrents", timeout=30).json()
                if not t["deleted"]]

    def add(self, info_hash: str, name: str, size: int = 1000, **form: str) -> str:
        return self.qbit.post(f"{API}/torrents/add", data={
            "urls": magnet(info_hash, name, size), "category": "tv", **form}).text

    def info(self, info_hash: str) -> dict[str, Any]:
        found = self.qbit.get(f"{API}/torrents/info?hashes={info_hash}").json
        return found[0] if found else {}

    def delete_with_files(self, info_hash: str) -> None:
        """What an Arr does after import."""
        assert self.qbit.post(f"{API}/torrents/delete", data={
            "hashes": info_hash, "deleteFiles": "true"}).status_code == 200

    def completed(self, info_hash: str) -> dict[str, Any]:
        return wait_until(lambda: (t := self.info(info_hash)).get("state") == "pausedUP" and t,
                          timeout=30, what=f"{info_hash} completed")


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    app = create_app(marked_settings(request, tmp_path, library={"sync_interval_seconds": 0}))
    try:
        yield Running(app)
    finally:
        stop_app(app)


def _ready_link(provider: RealDebrid, name: str = "Link.2024.mkv") -> str:
    torrent_id = provider.add_magnet(magnet(random_hash(), name, 5000))
    provider.select_files(torrent_id, ["1"])
    remote = provider.get_torrent(torrent_id)
    return remote.links[0]


def test_twenty_concurrent_resolutions_make_one_provider_call(running: Running) -> None:
    link = _ready_link(running.provider)
    resolver = LinkResolver(running.store, {"sandbox": running.provider})
    before = running.calls("/unrestrict/link")
    results: list[str] = []
    start = threading.Barrier(20)

    def resolve() -> None:
        start.wait()
        results.append(resolver.resolve("sandbox", link).url)

    threads = [threading.Thread(target=resolve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20
    assert len(set(results)) == 1
    assert running.calls("/unrestrict/link") - before == 1


@pytest.mark.settings(providers=[{"name": "sandbox", "type": "sandbox",
                                  "download_api_keys": ["dl-key-one", "dl-key-two"]}])
def test_download_keys_rotate_when_one_is_out_of_traffic(running: Running,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    link = _ready_link(running.provider)
    requests.post(f"{running.admin}/config", json={"exhausted_tokens": ["dl-key-one"]},
                  timeout=5)
    direct = running.provider.resolve_link(link)
    assert direct.url
    assert running.store.get_meta("link-account-rested:sandbox/links1") is not None
    assert running.store.get_meta("link-account-rested:sandbox/links2") is None
    # the rested account is skipped: one call, by the second key
    before = running.calls("/unrestrict/link")
    running.provider.resolve_link(link)
    assert running.calls("/unrestrict/link") - before == 1
    # with every download key out of traffic, the main key resolves links
    requests.post(f"{running.admin}/config", json={
        "exhausted_tokens": ["dl-key-one", "dl-key-two"]}, timeout=5)
    assert running.provider.resolve_link(link).url
    assert running.store.get_meta("link-account-rested:sandbox/links2") is not None
    assert "dl-key" not in caplog.text
    budgets = running.app.extensions[EXTENSION_KEY].budgets
    assert {s.account for s in budgets.states()} == {
        "sandbox", "sandbox/links1", "sandbox/links2"}


def test_the_budget_state_shows_limits_and_recent_rate_limits(running: Running) -> None:
    budgets = running.app.extensions[EXTENSION_KEY].budgets
    [fresh] = budgets.states()
    assert (fresh.account, fresh.per_minute, fresh.capacity) == ("sandbox", 6000, 600.0)
    assert fresh.recent_rate_limits == 0
    assert fresh.blocked_for == 0
    requests.post(f"{running.admin}/faults", json={
        "route": "^/rest/1.0/torrents/info/", "status": 429, "error_code": 34, "count": 1},
        timeout=5).raise_for_status()
    info_hash = random_hash()
    assert running.add(info_hash, "Budget.2024.mkv") == "Ok."
    running.completed(info_hash)                 # the 429 was retried, nothing failed
    [after] = budgets.states()
    assert after.recent_rate_limits == 1
    assert 0 <= after.tokens <= after.capacity
    assert (after.waiting_interactive, after.waiting_background) == (0, 0)


def test_an_account_torrent_is_reused_and_kept_when_the_client_deletes(
        running: Running) -> None:
    info_hash = random_hash()
    # added elsewhere (the provider's website), then seen by library sync
    remote_id = running.provider.add_magnet(magnet(info_hash, "Elsewhere.2023.mkv", 4000))
    running.provider.select_files(remote_id, ["1"])
    LibrarySync(running.store, {"sandbox": running.provider}, 10).run()
    assert running.store.imported_by_hash("sandbox", info_hash) is not None
    adds = running.calls("/addMagnet")
    assert running.add(info_hash, "Elsewhere.2023.mkv", 4000) == "Ok."
    torrent = running.completed(info_hash)
    assert running.calls("/addMagnet") == adds                  # no second provider add
    assert Path(torrent["content_path"], "Elsewhere.2023.mkv").stat().st_size == 4000
    running.delete_with_files(info_hash)
    wait_until(lambda: not running.info(info_hash), what="entry deleted")
    assert [t["id"] for t in running.held()] == [remote_id]      # the library still uses it
    assert not Path(torrent["content_path"]).exists()


@pytest.mark.settings(providers=[{"name": "sandbox", "type": "sandbox",
                                  "keep_on_delete": True}])
def test_keep_on_delete_keeps_the_provider_torrent_in_the_library(running: Running) -> None:
    info_hash = random_hash()
    assert running.add(info_hash, "Kept.S01E01.mkv") == "Ok."
    running.completed(info_hash)
    running.delete_with_files(info_hash)
    wait_until(lambda: not running.info(info_hash), what="entry deleted")
    assert [t["hash"] for t in running.held()] == [info_hash]
    kept = running.store.imported_by_hash("sandbox", info_hash)
    assert kept is not None
    assert kept.files_known
    # grabbed again (Decypharr #45): reused at once, no second copy at the provider
    assert running.add(info_hash, "Kept.S01E01.mkv") == "Ok."
    running.completed(info_hash)
    assert running.calls("/addMagnet") == 1


def test_default_delete_removes_the_provider_torrent(running: Running) -> None:
    info_hash = random_hash()
    assert running.add(info_hash, "Gone.S01E02.mkv") == "Ok."
    running.completed(info_hash)
    running.delete_with_files(info_hash)
    wait_until(lambda: not running.held(), what="provider torrent deleted")
    assert running.store.imported_by_hash("sandbox", info_hash) is None


def test_a_single_archive_link_completes_with_the_archive_and_says_so(running: Running) -> None:
    info_hash = random_hash()
    files = [{"path": "Pack.S01E01.mkv", "bytes": 3000}, {"path": "Pack.S01E02.mkv",
                                                          "bytes": 2000}]
    requests.post(f"{running.admin}/seed", json={"hash": info_hash, "name": "Pack.S01",
                                                 "files": files, "archive": True}, timeout=5)
    assert running.add(info_hash, "Pack.S01") == "Ok."
    torrent = running.completed(info_hash)
    archive = Path(torrent["content_path"]) / "Pack.S01.rar"
    assert archive.read_bytes() == expected_bytes(info_hash, 1, 0, 3000) + \
        expected_bytes(info_hash, 2, 0, 2000)
    properties = running.qbit.get(f"{API}/torrents/properties?hash={info_hash}").json
    assert "one archive, Pack.S01.rar" in properties["comment"]
    listed = running.qbit.get(f"{API}/torrents/files?hash={info_hash}").json
    assert [(f["name"], f["priority"] > 0) for f in listed] == [
        ("Pack.S01/Pack.S01E01.mkv", False), ("Pack.S01/Pack.S01E02.mkv", False),
        ("Pack.S01/Pack.S01.rar", True)]


PACKED_RELEASE = [{"path": "Packed.Movie.2020.rar", "bytes": 3000},
                  {"path": "Packed.Movie.2020.r00", "bytes": 2000},
                  {"path": "Packed.Movie.2020.nfo", "bytes": 100},
                  {"path": "Sample/packed.movie.2020.sample.rar", "bytes": 500}]


def test_a_release_packed_in_archives_is_downloaded_as_its_archives(running: Running) -> None:
    # what Unpackerr expects next to the Arr: every volume, in the torrent's folder
    info_hash = random_hash()
    requests.post(f"{running.admin}/seed", json={"hash": info_hash, "name": "Packed.Movie.2020",
                                                 "files": PACKED_RELEASE}, timeout=5)
    assert running.add(info_hash, "Packed.Movie.2020") == "Ok."
    torrent = running.completed(info_hash)
    root = Path(torrent["content_path"])
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == [
        "Packed.Movie.2020.r00", "Packed.Movie.2020.rar"]
    assert (root / "Packed.Movie.2020.rar").read_bytes() == expected_bytes(info_hash, 1, 0, 3000)
    assert (root / "Packed.Movie.2020.r00").read_bytes() == expected_bytes(info_hash, 2, 0, 2000)
    comment = running.qbit.get(f"{API}/torrents/properties?hash={info_hash}").json["comment"]
    assert "inside 2 archive file(s)" in comment
    assert "unpacker" in comment


@pytest.mark.settings(downloads={"action": "symlink", "mount_path": "/nonexistent-mount"})
def test_the_symlink_action_refuses_archives_with_the_reason(running: Running) -> None:
    packed, single = random_hash(), random_hash()
    requests.post(f"{running.admin}/seed", json={"hash": packed, "name": "Packed.Movie.2020",
                                                 "files": PACKED_RELEASE}, timeout=5)
    files = [{"path": "Pack.S01E01.mkv", "bytes": 3000}, {"path": "Pack.S01E02.mkv",
                                                          "bytes": 2000}]
    requests.post(f"{running.admin}/seed", json={"hash": single, "name": "Pack.S01",
                                                 "files": files, "archive": True}, timeout=5)
    # the release itself is archives: refused at the add, so the Arr tries another release
    assert running.add(packed, "Packed.Movie.2020") == "Fails."
    assert running.info(packed) == {}
    # the provider packs the selection into one archive later: the torrent fails, and says why
    assert running.add(single, "Pack.S01") == "Ok."
    failed = wait_until(lambda: (t := running.info(single)).get("state") == "error" and t,
                        timeout=30, what="the archive to be refused")
    comment = running.qbit.get(f"{API}/torrents/properties?hash={single}").json["comment"]
    assert "one archive" in comment
    assert "symlink action" in comment
    assert failed["progress"] < 1


@pytest.mark.settings(sandbox={"download_seconds": 6.0},
                      downloads={"poll_interval_seconds": 0.5})
def test_many_active_torrents_are_polled_with_the_list(running: Running) -> None:
    hashes = [random_hash() for _ in range(6)]
    for i, info_hash in enumerate(hashes):
        assert running.add(info_hash, f"Listed.S01E0{i} [uncached]", 2000 + i) == "Ok."
    for info_hash in hashes:
        running.completed(info_hash)
    log = running.log()
    listed = [r for r in log if r["path"].endswith("/torrents") and "filter=active" in r["query"]]
    info = Counter(r["path"] for r in log if "/torrents/info/" in r["path"])
    assert len(listed) >= 3
    # without the list, six torrents polled every 0.5 s for 6 s would be ~70 info calls
    assert sum(info.values()) <= 4 * len(hashes)


@pytest.mark.settings(downloads={"stalled_timeout_minutes": 0.05},      # 3 s
                      qbit={"add_wait_seconds": 0.5})
def test_torrents_stuck_at_the_provider_fail_as_stalled_and_free_their_slot(
        running: Running) -> None:
    requests.post(f"{running.admin}/config", json={"conversion_seconds": 3600,
                                                   "queue_seconds": 3600}, timeout=5)
    no_metadata, no_progress = random_hash(), random_hash()
    assert running.add(no_metadata, "Stuck.Magnet.S01E01") == "Ok."
    requests.post(f"{running.admin}/config", json={"conversion_seconds": 0}, timeout=5)
    assert running.add(no_progress, "Stuck.Queue.S01E02 [uncached]") == "Ok."
    for info_hash, what in ((no_metadata, "no metadata"), (no_progress, "no progress")):
        failed = wait_until(lambda h=info_hash: (t := running.info(h)).get("state") == "error"
                            and t, timeout=20, what=f"{info_hash} stalled")
        comment = running.qbit.get(f"{API}/torrents/properties?hash={info_hash}").json["comment"]
        assert what in comment
        assert "for 0.05 minutes" in comment
        assert failed["progress"] == 0
    assert running.held() == []                   # both removed from the provider


@pytest.mark.settings(downloads={"stalled_timeout_minutes": 0.05},      # 3 s
                      qbit={"add_wait_seconds": 0.5})
def test_the_metadata_wait_does_not_count_against_a_download(running: Running) -> None:
    requests.post(f"{running.admin}/config", json={"conversion_seconds": 2.0,
                                                   "queue_seconds": 3600}, timeout=5)
    info_hash = random_hash()
    started = time.monotonic()
    assert running.add(info_hash, "Late.Metadata.S01E04 [uncached]") == "Ok."
    wait_until(lambda: running.info(info_hash).get("state") == "downloading", timeout=10,
               what="metadata arrived")
    time.sleep(max(0.0, 4.0 - (time.monotonic() - started)))
    assert running.info(info_hash)["state"] == "downloading"   # 2 s still, not 4
    wait_until(lambda: running.info(info_hash).get("state") == "error", timeout=10,
               what="stalled 3 s after it started downloading")


@pytest.mark.settings(downloads={"stalled_timeout_minutes": 0.05},
                      sandbox={"download_seconds": 8.0})
def test_a_slow_download_that_keeps_moving_is_not_stalled(running: Running) -> None:
    info_hash = random_hash()
    assert running.add(info_hash, "Slow.But.Moving.S01E03 [uncached]") == "Ok."
    wait_until(lambda: running.info(info_hash).get("state") == "pausedUP", timeout=30,
               what="slow torrent completed")


@pytest.mark.settings(selection={"min_file_mb": 1.0})
def test_selection_settings_decide_what_is_asked_for(running: Running) -> None:
    small, mixed = random_hash(), random_hash()
    assert running.add(small, "Tiny.2024.mkv", 1000) == "Fails."      # nothing selectable
    requests.post(f"{running.admin}/seed", json={"hash": mixed, "name": "Mixed.2024", "files": [
        {"path": "Mixed.2024.mkv", "bytes": 3 << 20},
        {"path": "Sample/Mixed.sample.mkv", "bytes": 2 << 20},
        {"path": "Mixed.2024.small.mkv", "bytes": 1000}]}, timeout=5)
    assert running.add(mixed, "Mixed.2024") == "Ok."
    running.completed(mixed)
    listed = running.qbit.get(f"{API}/torrents/files?hash={mixed}").json
    assert [f["name"] for f in listed if f["priority"] > 0] == ["Mixed.2024/Mixed.2024.mkv"]


def test_library_sync_of_a_big_account(running: Running) -> None:
    created = requests.post(f"{running.admin}/torrents", json={"count": 50_000,
                                                               "name": "Account"}, timeout=120)
    assert created.status_code == 201
    mine = random_hash()
    assert running.add(mine, "Mine.2024.mkv") == "Ok."
    running.completed(mine)
    before = len(running.log())
    sync = LibrarySync(running.store, {"sandbox": running.provider}, 20)
    report = sync.run()[0]
    assert (report.listed, report.new, report.details) == (50_001, 50_000, 20)
    calls = Counter(r["path"] for r in running.log()[before:])
    assert calls["/rest/1.0/torrents"] == 11              # 5,000 a page
    assert sum(n for p, n in calls.items() if "/torrents/info/" in p) == 20
    assert running.store.count_imported("sandbox") == 50_000
    assert running.store.imported_by_hash("sandbox", mine) is None   # a client entry's
    # removed elsewhere: gone after two passes that miss it; a new one arrives at once
    victim = created.json()["ids"][0]
    requests.delete(f"{running.admin.replace('/__admin', '/rest/1.0')}/torrents/delete/"
                    f"{victim}", headers={"Authorization": "Bearer x"}, timeout=5)
    running.provider.add_magnet(magnet(random_hash(), "Fresh.2024.mkv", 100))
    first, second = sync.run()[0], sync.run()[0]
    assert (first.new, first.removed, second.removed) == (1, 0, 1)
    assert running.store.count_imported("sandbox") == 50_000
    assert not running.store.imported_uses("sandbox", victim)
