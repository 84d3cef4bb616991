"""Repair's safety rules one by one: the health gate's threshold, the skips (watched, attempt
cap, renewing off), and handing a torrent back to its Arr touching only that torrent's files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arr.connect import connect
from core.arr_notify import ArrNotifier
from core.arrs import ArrDirectory, ArrSettings
from core.errors import ProviderError
from core.models import Torrent, TorrentFile, TorrentState
from core.ports import Capabilities, HookFailed, HookSkipped, RemoteStatus, RemoteTorrent
from core.ports.hooks import ArrCall
from core.repair_fix import Repairer
from core.repair_scan import Finding, RepairConfig, Scanner
from repair.checks import Disk, symlink_target
from store.sqlite import open_store
from tests.fake_arr import FakeArr
from tests.helpers import random_hash

NOW = 1_800_000_000.0


class Account:
    """A provider account that only lists (what the scanner asks of it)."""

    name = "acct"
    capabilities = Capabilities()

    def __init__(self, remotes: list[RemoteTorrent]) -> None:
        self.remotes = remotes

    def list_torrents(self, **_: Any) -> Iterator[RemoteTorrent]:
        return iter(self.remotes)


class NoDisk:
    def mount_problem(self) -> str | None:
        return None

    def broken_placements(self, torrent: Torrent) -> dict[int, str]:
        return {}

    def placement_targets(self, torrent: Torrent) -> list[str]:
        return []

    def broken_links_under(self, roots: Any) -> list[tuple[str, str]]:
        return []


class Probe:
    def problem(self, torrent: Torrent, file: TorrentFile) -> str | None:
        return None


def _torrent(index: int, **fields: Any) -> Torrent:
    return Torrent(id=index + 1, hash=random_hash(), name=f"T{index}",
                   state=TorrentState.COMPLETED, provider="acct",
                   provider_torrent_id=f"R{index}", category="tv",
                   files=(TorrentFile(0, "a.mkv", 10, selected=True, link="l"),), **fields)


def _remote(torrent: Torrent, dead: bool) -> RemoteTorrent:
    return RemoteTorrent(torrent.provider_torrent_id, torrent.hash, torrent.name,
                         RemoteStatus.FAILED if dead else RemoteStatus.READY,
                         "dead" if dead else "downloaded", 1.0, 10, links=("l",))


@pytest.mark.parametrize(("checked", "dead", "gated"), [
    (1, 1, False),      # one broken torrent is repaired, whatever the share
    (2, 2, True), (5, 3, True), (5, 2, False), (10, 5, False), (10, 6, True),
])
def test_the_health_gate_trips_above_the_broken_fraction(checked: int, dead: int,
                                                         gated: bool) -> None:
    torrents = [_torrent(i) for i in range(checked)]
    account = Account([_remote(t, i < dead) for i, t in enumerate(torrents)])
    scanner = Scanner(None, {"acct": account}, NoDisk(), Probe(),  # type: ignore[arg-type]
                      RepairConfig(max_broken_fraction=0.5), arr_roots=lambda arr: [])
    result = scanner.scan(torrents, [])
    assert result.checked == checked
    assert len(result.broken) == dead
    assert bool(result.gate) is gated, result.gate


def test_an_account_that_cannot_be_listed_leaves_its_torrents_unknown() -> None:
    class Down(Account):
        def list_torrents(self, **_: Any) -> Iterator[RemoteTorrent]:
            raise ProviderError("503 from the API")

    scanner = Scanner(None, {"acct": Down([])}, NoDisk(), Probe(),  # type: ignore[arg-type]
                      RepairConfig(), arr_roots=lambda arr: [])
    result = scanner.scan([_torrent(0), _torrent(1)], [])
    assert (result.checked, result.unknown, result.broken) == (0, 2, [])
    assert "could not be listed" in result.notes[0]


@pytest.fixture
def repairer(tmp_path: Path) -> Iterator[Repairer]:
    store = open_store(tmp_path)
    yield Repairer(store, {"acct": Account([]), "other": Account([])},  # type: ignore[dict-item]
                   lambda category: ["acct", "other"], {"acct": True, "other": False},
                   RepairConfig(max_attempts=2, skip_streamed_seconds=600), clock=lambda: NOW)
    store.close()


def test_a_torrent_watched_a_moment_ago_is_left_alone(repairer: Repairer) -> None:
    item = repairer.plan(Finding(_torrent(0, streamed_at=NOW - 120), ["dead"]), has_arr=True)
    assert item["state"] == "skipped"
    assert "streamed 120 s ago" in item["result"]
    watched_long_ago = repairer.plan(Finding(_torrent(1, streamed_at=NOW - 601), ["dead"]),
                                     has_arr=True)
    assert watched_long_ago["state"] == "planned"


def test_attempts_are_capped_and_accounts_without_renewal_are_not_used(
        repairer: Repairer) -> None:
    torrent = _torrent(0)
    planned = repairer.plan(Finding(torrent, ["dead"]), has_arr=False)
    assert planned["actions"] == ["re-add on acct"]          # `other` may not renew
    repairer.allow_renew = {"acct": True, "other": True}
    both = repairer.plan(Finding(torrent, ["dead"]), has_arr=True)
    assert both["actions"][:2] == ["re-add on acct", "re-add on other"]   # its own first
    repairer.allow_renew = {"acct": True, "other": False}
    for _ in range(2):
        repairer.store.record_attempt(torrent.hash, NOW - 10, NOW - 5, "not cached")
    capped = repairer.plan(Finding(torrent, ["dead"]), has_arr=True)
    assert capped["state"] == "skipped"
    assert "gave up after 2 repair attempt(s)" in capped["result"]


def test_without_renewal_or_an_arr_nothing_is_planned(repairer: Repairer) -> None:
    repairer.allow_renew = {"acct": False, "other": False}
    item = repairer.plan(Finding(_torrent(0), ["dead"]), has_arr=False)
    assert item["state"] == "skipped"
    assert "allow_renew" in item["result"]


class Registry:
    def registrations(self) -> list[Any]:
        return []


@pytest.fixture
def sonarr() -> Iterator[FakeArr]:
    with FakeArr("sonarr", api_key="rules-key-" + "3" * 20) as fake:
        yield fake


def _notifier(fake: FakeArr) -> ArrNotifier:
    arr = ArrSettings("sonarr", "sonarr", fake.url, fake.api_key, ("tv",))
    return ArrNotifier(ArrDirectory([arr], Registry(), connect,  # type: ignore[arg-type]
                                    detect=lambda url, key: (_ for _ in ()).throw(
                                        AssertionError("no detection here"))),
                       symlink_target)


def test_handing_back_deletes_only_the_torrents_own_files(sonarr: FakeArr,
                                                          tmp_path: Path) -> None:
    info_hash = random_hash()
    target = str(tmp_path / "mount/__all__/Show.S01/Show.S01E01.mkv")   # the mount is gone
    series = sonarr.add_item("Show", str(tmp_path / "tv/Show"))
    (tmp_path / "tv/Show/Season 1").mkdir(parents=True)
    mine = tmp_path / "tv/Show/Season 1/Show - S01E01.mkv"
    os.symlink(target, mine)
    theirs = tmp_path / "tv/Show/Season 1/Show - S01E02.mkv"
    os.symlink(str(tmp_path / "mount/__all__/Other/Other.mkv"), theirs)
    real = tmp_path / "tv/Show/Season 1/Show - S01E03.mkv"
    real.write_bytes(b"a real file")
    ids = [sonarr.add_file(series, str(p), season=1) for p in (mine, theirs, real)]
    grab = sonarr.add_grab(info_hash, series, [11])[0]

    _notifier(sonarr).send(ArrCall("repair", {
        "hash": info_hash, "category": "tv", "paths": "[]",
        "targets": json.dumps([target])}), 10.0)

    assert sonarr.deleted_files == [ids[0]]
    assert sonarr.failed_ids == [grab]
    assert ("EpisodeSearch", {"name": "EpisodeSearch", "episodeIds": [11]}) in sonarr.commands


def test_without_a_grab_the_broken_file_is_found_by_its_path(sonarr: FakeArr,
                                                             tmp_path: Path) -> None:
    series = sonarr.add_item("Old Show", str(tmp_path / "tv/Old Show"))
    path = str(tmp_path / "tv/Old Show/Season 2/Old Show - S02E01.mkv")
    file_id = sonarr.add_file(series, path, season=2)
    _notifier(sonarr).send(ArrCall("repair", {
        "hash": random_hash(), "category": "tv", "paths": json.dumps([path]),
        "targets": "[]"}), 10.0)
    assert sonarr.deleted_files == [file_id]
    assert sonarr.failed_ids == []
    assert ("SeasonSearch", {"name": "SeasonSearch", "seriesId": series, "seasonNumber": 2}) \
        in sonarr.commands


def test_an_arr_down_is_retried_and_one_without_the_grab_is_dropped(sonarr: FakeArr) -> None:
    notifier = _notifier(sonarr)
    call = ArrCall("failed", {"hash": random_hash(), "category": "tv", "message": "dead"})
    sonarr.set_down(True)
    with pytest.raises(HookFailed, match="503"):
        notifier.send(call, 10.0)
    sonarr.set_down(False)
    with pytest.raises(HookSkipped, match="no Arr of category 'tv' has a grab"):
        notifier.send(call, 10.0)
    with pytest.raises(HookSkipped, match="no Arr takes this notice"):
        notifier.send(ArrCall("failed", {"hash": random_hash(), "category": "movies"}), 10.0)


def test_the_disk_checks_find_what_points_at_nothing(tmp_path: Path) -> None:
    mount = tmp_path / "mount"
    disk = Disk(mount)
    assert "cannot be read" in (disk.mount_problem() or "")
    (mount / "__all__").mkdir(parents=True)
    assert "empty" in (disk.mount_problem() or "")
    (mount / "__all__" / "Show").mkdir()
    assert disk.mount_problem() is None
    torrent = Torrent(id=1, hash=random_hash(), name="Show", state=TorrentState.COMPLETED,
                      save_path=str(tmp_path / "dl"), folder="Show", files=(
                          TorrentFile(0, "a.mkv", 5, selected=True, done=True),
                          TorrentFile(1, "b.mkv", 5, selected=True, done=True),
                          TorrentFile(2, "c.mkv", 5, selected=True, done=True)))
    (tmp_path / "dl" / "Show").mkdir(parents=True)
    (mount / "__all__" / "Show" / "a.mkv").write_bytes(b"12345")
    os.symlink(mount / "__all__" / "Show" / "a.mkv", tmp_path / "dl" / "Show" / "a.mkv")
    os.symlink(mount / "__all__" / "Show" / "b.mkv", tmp_path / "dl" / "Show" / "b.mkv")
    # c.mkv was moved away by an Arr: not broken
    assert list(disk.broken_placements(torrent)) == [1]
    assert disk.placement_targets(torrent)[1] == str(mount / "__all__" / "Show" / "b.mkv")
    library = tmp_path / "tv" / "Show"
    library.mkdir(parents=True)
    os.symlink(mount / "__all__" / "Show" / "b.mkv", library / "broken.mkv")
    os.symlink(mount / "__all__" / "Show" / "a.mkv", library / "fine.mkv")
    os.symlink(tmp_path / "elsewhere.mkv", library / "not-ours.mkv")
    assert disk.broken_links_under([str(tmp_path / "tv")]) == [
        (str(library / "broken.mkv"), str(mount / "__all__" / "Show" / "b.mkv"))]
