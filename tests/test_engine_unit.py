"""The engine's steps on the in-memory store (tests/memory_store.py), a fake provider and a
fake CDN, with a clock the test moves: every path a torrent takes, without a server."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core.errors import ProviderError
from core.finalize import Finalizer
from core.lifecycle import EngineConfig, Lifecycle
from core.links import LinkResolver
from core.models import FailureReason, NewTorrent, Torrent, TorrentState
from core.policy import Policies, ProviderPolicy
from core.ports import (
    Account,
    BudgetState,
    Capabilities,
    DirectLink,
    RemoteFile,
    RemoteStatus,
    RemoteTorrent,
)
from core.selection import SelectionRules
from core.slots import SlotGate
from core.sources import parse_magnet
from debrid.base import Blocked, NotCached, ServiceUnavailable
from tests.memory_store import MemoryStore

S = TorrentState
R = RemoteStatus
PROVIDER = "fake"
HASH = "ab" * 20


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def content(link: str, size: int) -> bytes:
    return bytes((i * 7 + len(link)) % 251 for i in range(size))


@dataclass
class Remote:
    torrent: RemoteTorrent
    cached: bool


class FakeProvider:
    """The DebridProvider port, in memory: a magnet's files come from `catalogue`; cached
    torrents are ready once selected, uncached ones download as the test says."""

    def __init__(self, clock: Clock, name: str = PROVIDER,
                 capabilities: Capabilities | None = None) -> None:
        self.name = name
        self.capabilities = capabilities or Capabilities()
        self.clock = clock
        self.catalogue: dict[str, list[tuple[str, int]]] = {}
        self.uncached: set[str] = set()
        self.remotes: dict[str, Remote] = {}
        self.calls: list[str] = []
        self.refuse_add: ProviderError | None = None
        self.failing_lists = 0            # list calls that fail (a 503) before one answers
        self.lose_add_answer = False      # the add takes effect, its answer never arrives
        self.ids = (f"R{n}" for n in itertools.count(1))
        self.issued = 0                   # direct links handed out (each a new URL)
        self.add_waits: list[float] = []  # what add_wait() answers next (then 0)

    def add_magnet(self, magnet: str, *, only_if_cached: bool = False) -> str:
        self.calls.append("add")
        if self.refuse_add is not None:
            raise self.refuse_add
        source = parse_magnet(magnet)
        if only_if_cached and source.hash in self.uncached:
            raise NotCached("not cached")
        selecting = self.capabilities.file_selection
        files = tuple(RemoteFile(str(i + 1), path, size, not selecting)
                      for i, (path, size) in enumerate(self.catalogue[source.hash]))
        remote_id = next(self.ids)
        status = (R.WAITING_SELECTION, "waiting_files_selection") if selecting else \
            (R.DOWNLOADING, "downloading")
        self.remotes[remote_id] = Remote(RemoteTorrent(
            remote_id, source.hash, source.name, status[0], status[1],
            0.0, sum(f.size for f in files), files=files, added=self.clock()),
            source.hash not in self.uncached)
        if not selecting and source.hash not in self.uncached:
            self.finish(remote_id)
        if self.lose_add_answer:
            raise ServiceUnavailable("timed out", ambiguous=True)
        return remote_id

    def add_torrent_file(self, data: bytes, *, only_if_cached: bool = False) -> str:
        raise NotImplementedError

    def add_wait(self) -> float:
        return self.add_waits.pop(0) if self.add_waits else 0.0

    def check_cached(self, hashes: Sequence[str]) -> dict[str, bool]:
        self.calls.append("check")
        return {h: h in self.catalogue and h not in self.uncached for h in hashes}

    def active_count(self) -> tuple[int, int]:
        raise ServiceUnavailable("not counted here")

    def select_files(self, torrent_id: str, file_ids: Sequence[str]) -> None:
        self.calls.append("select")
        remote = self.remotes[torrent_id]
        files = tuple(replace(f, selected=f.id in file_ids) for f in remote.torrent.files)
        remote.torrent = replace(remote.torrent, files=files, status=R.DOWNLOADING,
                                 raw_status="downloading")
        if remote.cached:
            self.finish(torrent_id)

    def finish(self, torrent_id: str) -> None:
        remote = self.remotes[torrent_id]
        files = tuple(replace(f, link=f"https://fake/d/{torrent_id}-{f.id}" if f.selected
                              else "") for f in remote.torrent.files)
        remote.torrent = replace(remote.torrent, files=files, status=R.READY,
                                 raw_status="downloaded", progress=1.0,
                                 links=tuple(f.link for f in files if f.link))

    def set_progress(self, torrent_id: str, progress: float) -> None:
        remote = self.remotes[torrent_id]
        remote.torrent = replace(remote.torrent, progress=progress, speed=1000)

    def get_torrent(self, torrent_id: str) -> RemoteTorrent:
        self.calls.append("info")
        if torrent_id not in self.remotes:
            raise ProviderError("unknown torrent")
        return self.remotes[torrent_id].torrent

    def list_torrents(self, *, active_only: bool = False,
                      page_size: int | None = None) -> Iterator[RemoteTorrent]:
        self.calls.append("list")
        if self.failing_lists:
            self.failing_lists -= 1
            raise ServiceUnavailable("HTTP 503 without the provider's error body")
        for remote in reversed(list(self.remotes.values())):
            if not active_only or remote.torrent.status is not R.READY:
                yield replace(remote.torrent, files=())

    def delete_torrent(self, torrent_id: str) -> None:
        self.calls.append("delete")
        self.remotes.pop(torrent_id, None)

    def resolve_link(self, link: str) -> DirectLink:
        self.calls.append("resolve")
        self.issued += 1
        remote_id, file_id = link.rsplit("/", 1)[1].split("-")
        size = next(f.size for f in self.remotes[remote_id].torrent.files if f.id == file_id)
        return DirectLink(f"https://cdn{self.issued}.fake/{link.rsplit('/', 1)[1]}",
                          f"{file_id}.mkv", size)

    def get_account(self) -> Account:
        return Account("tester", premium=True)

    def budgets(self) -> list[BudgetState]:
        return []


class FakeStream:
    def __init__(self, data: bytes, clock: Clock, seconds_per_chunk: float) -> None:
        self.data, self.clock, self.pace = data, clock, seconds_per_chunk

    def chunks(self, size: int) -> Iterator[bytes]:
        for start in range(0, len(self.data), 4096):
            self.clock.now += self.pace        # bytes take time to arrive
            yield self.data[start:start + 4096]

    def close(self) -> None:
        pass


class FakeCdn:
    """The ContentSource port: serves each link's bytes; hosts in `down` do not answer."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.down: Callable[[str], bool] = lambda url: False
        self.opened: list[str] = []
        self.pace = 0.0
        self.sizes: dict[str, int] = {}     # provider link -> file size

    def open(self, url: str, offset: int, end: int | None = None) -> FakeStream:
        self.opened.append(url)
        if self.down(url):
            raise ServiceUnavailable("cannot reach the CDN: ConnectionError")
        link = "https://fake/d/" + url.rsplit("/", 1)[1]
        return FakeStream(content(link, self.sizes[link])[offset:end], self.clock, self.pace)


class Rig:
    def __init__(self, tmp: Path, **config: float) -> None:
        self.tmp, self.clock = tmp, Clock()
        self.store = MemoryStore()
        self.provider = FakeProvider(self.clock)
        self.cdn = FakeCdn(self.clock)
        providers = {PROVIDER: self.provider}
        links = LinkResolver(self.store, providers, clock=self.clock)
        finalizer = Finalizer(self.store, links, self.cdn, "download", None, 1800.0,
                              clock=self.clock)
        self.config = EngineConfig(
            action="download", mount_path=None, poll_interval=5.0, max_parallel_transfers=1,
            symlink_timeout=1800.0, stalled_timeout=config.get("stalled_timeout", 0.0),
            copy_timeout=config.get("copy_timeout", 3600.0), submit_grace=5.0,
            selection=SelectionRules.defaults(),
            policies=Policies.build({PROVIDER: ProviderPolicy(
                download_uncached=True, keep_on_delete=bool(config.get("keep", 0)))}, (), ()))
        slots = SlotGate(self.store, providers, 0, lambda: None, clock=self.clock)
        self.lifecycle = Lifecycle(self.store, providers, finalizer, self.config, slots,
                                   clock=self.clock)

    def add(self, name: str, files: list[tuple[str, int]], info_hash: str = HASH) -> Torrent:
        self.provider.catalogue[info_hash] = files
        for i, (_, size) in enumerate(files):
            self.cdn.sizes[f"https://fake/d/R{len(self.provider.remotes) + 1}-{i + 1}"] = size
        return self.store.add_torrent(NewTorrent(
            hash=info_hash, name=name, magnet=f"magnet:?xt=urn:btih:{info_hash}&dn={name}",
            torrent_file=None, trackers=(), files=(), total_size=-1, category="",
            tags=(), save_path=str(self.tmp / "downloads"), paused=False, ratio_limit=-2,
            seeding_time_limit=-2, provider=PROVIDER), self.clock())

    def torrent(self, torrent_id: int) -> Torrent:
        found = self.store.get_torrent(torrent_id, with_files=True)
        assert found is not None
        return found

    def run(self, torrent_id: int, until: Callable[[Torrent], bool], steps: int = 200,
            between: Callable[[], None] = lambda: None) -> Torrent:
        """Advance the torrent step by step, the clock jumping to each next check."""
        for _ in range(steps):
            torrent = self.torrent(torrent_id)
            if until(torrent):
                return torrent
            self.clock.now = max(self.clock.now, torrent.next_check_at) + 0.01
            self.lifecycle.advance(torrent_id)
            between()
        raise AssertionError(f"not there after {steps} steps: {self.torrent(torrent_id)}")


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def _state(*states: TorrentState) -> Callable[[Torrent], bool]:
    return lambda t: t.state in states


FILES = [("Movie.2020/Movie.2020.mkv", 50_000), ("Movie.2020/Sample/sample.mkv", 1000),
         ("Movie.2020/Movie.2020.nfo", 100)]


def test_a_cached_release_goes_from_queued_to_its_bytes_on_disk(rig: Rig) -> None:
    added = rig.add("Movie.2020", FILES)
    done = rig.run(added.id, _state(S.COMPLETED, S.FAILED))
    assert done.state is S.COMPLETED, done.message
    assert done.progress == 1.0
    assert done.speed == 0
    chosen = [f for f in done.files if f.selected]
    assert [f.path for f in chosen] == ["Movie.2020/Movie.2020.mkv"]   # no sample, no .nfo
    on_disk = Path(done.save_path) / done.folder / chosen[0].path
    assert on_disk.read_bytes() == content(chosen[0].link, 50_000)
    assert rig.provider.calls.count("add") == 1
    assert rig.provider.calls.count("select") == 1
    assert rig.provider.calls.count("resolve") == 1


def test_a_refused_add_fails_with_the_reason_and_is_not_sent_again(rig: Rig) -> None:
    rig.provider.refuse_add = Blocked("the fake refused it: infringing file")
    added = rig.add("Refused.2020", FILES)
    failed = rig.run(added.id, _state(S.FAILED))
    assert failed.reason == FailureReason.INFRINGING.value
    assert "infringing" in failed.message
    assert rig.provider.calls.count("add") == 1


def test_an_add_whose_answer_was_lost_is_adopted_not_sent_again(rig: Rig) -> None:
    rig.provider.lose_add_answer = True
    added = rig.add("Lost.Answer.2020", FILES)
    resolving = rig.run(added.id, _state(S.RESOLVING, S.DOWNLOADING, S.FINALIZING))
    assert resolving.provider_torrent_id == "R1"
    assert rig.provider.calls.count("add") == 1          # adopted after listing, not re-sent
    assert "list" in rig.provider.calls
    rig.provider.lose_add_answer = False
    assert rig.run(added.id, _state(S.COMPLETED, S.FAILED)).state is S.COMPLETED
    assert list(rig.provider.remotes) == ["R1"]


def test_a_failing_reconciliation_looks_again_and_never_adds_twice(rig: Rig) -> None:
    # the add's answer is lost, and the listing that would find it fails twice: the add may
    # have taken effect, so it must not go back to the queue and be sent again
    rig.provider.lose_add_answer = True
    rig.provider.failing_lists = 2
    added = rig.add("Flaky.Listing.2020", FILES)
    rig.run(added.id, lambda t: rig.provider.calls.count("list") >= 3)
    rig.provider.lose_add_answer = False
    done = rig.run(added.id, _state(S.COMPLETED, S.FAILED))
    assert done.state is S.COMPLETED
    assert rig.provider.calls.count("add") == 1
    assert list(rig.provider.remotes) == ["R1"]


def test_a_link_whose_host_went_away_is_resolved_again(rig: Rig) -> None:
    rig.cdn.down = lambda url: url.startswith("https://cdn1.")     # the first link's host
    added = rig.add("Moved.Host.2020", FILES)
    done = rig.run(added.id, _state(S.COMPLETED, S.FAILED))
    assert done.state is S.COMPLETED, done.message
    assert rig.provider.calls.count("resolve") == 2
    assert [u.split("/")[2] for u in rig.cdn.opened] == ["cdn1.fake", "cdn2.fake"]


def test_a_cdn_that_never_answers_fails_the_copy_in_time_and_stops(tmp_path: Path) -> None:
    rig = Rig(tmp_path, copy_timeout=600.0)
    rig.cdn.down = lambda url: True
    added = rig.add("Unreachable.2020", FILES)
    began = None

    def watch() -> None:
        nonlocal began
        torrent = rig.torrent(added.id)
        if torrent.state is S.FINALIZING:
            began = began or rig.clock.now
            assert torrent.speed == 0

    failed = rig.run(added.id, _state(S.FAILED), between=watch)
    assert began is not None
    assert rig.clock.now - began <= 600.0 + 5          # the deadline holds, back-off or not
    assert failed.reason == FailureReason.LINKS.value
    assert "copy_timeout_minutes" in failed.message
    tries = len(rig.cdn.opened)
    assert tries < 60                                  # backs off, no tight loop
    rig.clock.now += 3600
    rig.lifecycle.advance(added.id)
    assert len(rig.cdn.opened) == tries                # a failed copy is left alone


def test_progress_never_says_more_than_is_on_disk(rig: Rig) -> None:
    rig.cdn.pace = 0.3                                  # a chunk of 4 KiB every 0.3 s
    added = rig.add("Progress.2020", [("Progress.2020/Progress.2020.mkv", 200_000)])
    written: list[tuple[float, int]] = []
    original = rig.store.update_torrent

    def spy(torrent_id: int, **fields: object) -> None:
        original(torrent_id, **fields)
        torrent = rig.torrent(torrent_id)
        if "progress" in fields and torrent.state is S.FINALIZING and torrent.folder:
            folder = Path(torrent.save_path) / torrent.folder
            on_disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            written.append((torrent.progress * torrent.size, on_disk))

    # type-ignore: a spy on one method of the fake, to look at the disk as progress is written
    rig.store.update_torrent = spy  # type: ignore[method-assign]
    done = rig.run(added.id, _state(S.COMPLETED, S.FAILED))
    assert done.state is S.COMPLETED
    moving = [w for w in written if w[0] > 0]
    assert len(moving) >= 5, written
    assert all(claimed <= on_disk for claimed, on_disk in written), written


def test_a_download_that_stops_moving_fails_as_stalled_and_frees_its_slot(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, stalled_timeout=3600.0)
    rig.provider.uncached.add(HASH)
    added = rig.add("Stuck.2020", FILES)
    downloading = rig.run(added.id, _state(S.DOWNLOADING))
    rig.provider.set_progress(downloading.provider_torrent_id, 0.4)
    moved = rig.run(added.id, lambda t: t.progress == 0.4)
    assert moved.state is S.DOWNLOADING
    failed = rig.run(added.id, _state(S.FAILED), steps=500)
    assert failed.reason == FailureReason.STALLED.value
    assert rig.provider.remotes == {}                   # removed at the provider: slot free


@pytest.mark.parametrize("keep", [False, True])
def test_deleting_with_files_removes_the_provider_copy_unless_kept(tmp_path: Path,
                                                                    keep: bool) -> None:
    rig = Rig(tmp_path, keep=float(keep))
    added = rig.add("Deleted.2020", FILES)
    done = rig.run(added.id, _state(S.COMPLETED))
    content_path = Path(done.save_path) / done.folder
    assert content_path.exists()
    rig.store.transition(added.id, [S.COMPLETED], S.DELETING, rig.clock(), delete_files=True,
                         delete_remote=True, next_check_at=0)
    rig.lifecycle.advance(added.id)
    assert rig.store.get_torrent(added.id) is None
    assert not content_path.exists()
    assert ("R1" in rig.provider.remotes) is keep
    assert rig.store.imported_uses(PROVIDER, "R1") is keep
