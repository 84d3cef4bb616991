"""Several provider accounts, in memory: where an add goes (cached first, then in order),
when a refusal falls through to the next account and when it is final, categories pinned
to accounts, create limits, and providers without a file-selection step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from core.finalize import Finalizer
from core.lifecycle import EngineConfig, Lifecycle
from core.links import LinkResolver
from core.models import FailureReason, NewTorrent, Torrent, TorrentState
from core.policy import Policies, ProviderPolicy
from core.ports import CacheCheck, Capabilities
from core.routing import Routing
from core.selection import SelectionRules
from core.slots import SlotGate
from debrid.base import Blocked, NotCached, RateLimited, ServiceUnavailable, SlotsFull
from tests.memory_store import MemoryStore
from tests.test_engine_unit import FILES, HASH, Clock, FakeCdn, FakeProvider, content

S = TorrentState
NATIVE = Capabilities(cache_check=CacheCheck.NATIVE)
NO_SELECTION = Capabilities(file_selection=False, link_step=False)


class Accounts:
    """Lifecycle over several fake accounts; each account's CDN links are its own."""

    def __init__(self, tmp: Path, accounts: Sequence[tuple[str, Capabilities]],
                 pinned: Mapping[str, Sequence[str]] | None = None,
                 uncached_ok: bool = True) -> None:
        self.tmp, self.clock = tmp, Clock()
        self.store = MemoryStore()
        self.providers = {name: FakeProvider(self.clock, name, caps) for name, caps in accounts}
        self.cdn = FakeCdn(self.clock)
        links = LinkResolver(self.store, self.providers, clock=self.clock)
        finalizer = Finalizer(self.store, links, self.cdn, "download", None, 1800.0,
                              clock=self.clock)
        config = EngineConfig(
            action="download", mount_path=None, poll_interval=5.0, max_parallel_transfers=1,
            symlink_timeout=1800.0, stalled_timeout=0.0, copy_timeout=3600.0,
            submit_grace=5.0, selection=SelectionRules.defaults(),
            policies=Policies.build({n: ProviderPolicy(download_uncached=uncached_ok,
                                                       keep_on_delete=False)
                                     for n in self.providers}, (), ()),
            routing=Routing(list(self.providers), pinned))
        slots = SlotGate(self.store, self.providers, 0, lambda: None, clock=self.clock)
        self.lifecycle = Lifecycle(self.store, self.providers, finalizer, config, slots,
                                   clock=self.clock)
        self.routing = config.routing

    def add(self, files: list[tuple[str, int]], category: str = "",
            info_hash: str = HASH) -> Torrent:
        for provider in self.providers.values():
            provider.catalogue[info_hash] = files
        for i, (_, size) in enumerate(files):
            self.cdn.sizes[f"https://fake/d/R1-{i + 1}"] = size
        assert self.routing is not None
        return self.store.add_torrent(NewTorrent(
            hash=info_hash, name="Movie.2020", magnet=f"magnet:?xt=urn:btih:{info_hash}",
            torrent_file=None, trackers=(), files=(), total_size=-1, category=category,
            tags=(), save_path=str(self.tmp / "downloads"), paused=False, ratio_limit=-2,
            seeding_time_limit=-2, provider=self.routing.first(category)), self.clock())

    def run(self, torrent_id: int, until: Callable[[Torrent], bool],
            steps: int = 200) -> Torrent:
        for _ in range(steps):
            torrent = self.store.get_torrent(torrent_id, with_files=True)
            assert torrent is not None
            if until(torrent):
                return torrent
            self.clock.now = max(self.clock.now, torrent.next_check_at) + 0.01
            self.lifecycle.advance(torrent_id)
        raise AssertionError(f"not there after {steps} steps")


def _done(t: Torrent) -> bool:
    return t.state in (S.COMPLETED, S.FAILED)


def _calls(rig: Accounts, name: str, call: str) -> int:
    return rig.providers[name].calls.count(call)


@pytest.mark.parametrize("refusal", [SlotsFull("slots full"), ServiceUnavailable("HTTP 503"),
                                     RateLimited("429")], ids=["slots", "503", "429"])
def test_a_passing_refusal_sends_the_add_to_the_next_account(
        tmp_path: Path, refusal: Exception) -> None:
    rig = Accounts(tmp_path, [("first", Capabilities()), ("second", Capabilities())])
    rig.providers["first"].refuse_add = refusal        # type: ignore[assignment]
    added = rig.add(FILES)
    done = rig.run(added.id, _done)
    assert done.state is S.COMPLETED, done.message
    assert done.provider == "second"
    assert _calls(rig, "first", "add") == 1
    assert _calls(rig, "second", "add") == 1
    assert rig.providers["first"].remotes == {}


def test_an_infringing_refusal_is_final_and_the_next_account_is_never_asked(
        tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("first", Capabilities()), ("second", Capabilities())])
    rig.providers["first"].refuse_add = Blocked("infringing file")
    done = rig.run(rig.add(FILES).id, _done)
    assert done.state is S.FAILED
    assert done.reason == FailureReason.INFRINGING.value
    assert _calls(rig, "second", "add") == 0


def test_every_account_refusing_for_now_keeps_it_queued_in_order(tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("first", Capabilities()), ("second", Capabilities())])
    for provider in rig.providers.values():
        provider.refuse_add = SlotsFull("slots full")
    added = rig.add(FILES)
    rig.lifecycle.advance(added.id)
    queued = rig.store.get_torrent(added.id)
    assert queued is not None
    assert queued.state is S.QUEUED
    assert queued.next_check_at > rig.clock.now
    rig.providers["second"].refuse_add = None
    done = rig.run(added.id, _done)
    assert done.state is S.COMPLETED
    assert done.provider == "second"


def test_a_category_pinned_to_the_second_account_never_touches_the_first(
        tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("first", NATIVE), ("second", Capabilities())],
                   pinned={"tv-sonarr": ["second"]})
    added = rig.add(FILES, category="tv-sonarr")
    assert added.provider == "second"
    done = rig.run(added.id, _done)
    assert done.state is S.COMPLETED
    assert done.provider == "second"
    assert rig.providers["first"].calls == []


def test_the_account_that_has_it_cached_gets_the_add(tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("first", NATIVE), ("second", NATIVE)])
    rig.providers["first"].uncached.add(HASH)
    done = rig.run(rig.add(FILES).id, _done)
    assert done.state is S.COMPLETED
    assert done.provider == "second"
    assert _calls(rig, "first", "check") == 1
    assert _calls(rig, "first", "add") == 0


def test_only_if_cached_adds_fall_through_and_fail_as_not_cached_at_the_end(
        tmp_path: Path) -> None:
    caps = Capabilities(cache_check=CacheCheck.NATIVE, add_only_if_cached=True)
    rig = Accounts(tmp_path, [("first", caps), ("second", caps)], uncached_ok=False)
    for provider in rig.providers.values():
        provider.uncached.add(HASH)
        provider.refuse_add = None
    done = rig.run(rig.add(FILES).id, _done)
    assert done.state is S.FAILED
    assert done.reason == FailureReason.NOT_CACHED.value
    assert "first" in done.message
    assert "second" in done.message
    assert all(p.remotes == {} for p in rig.providers.values())


def test_a_create_limit_keeps_the_add_queued_until_the_provider_takes_adds(
        tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("only", Capabilities())])
    rig.providers["only"].add_waits = [30.0]
    added = rig.add(FILES)
    rig.lifecycle.advance(added.id)
    waiting = rig.store.get_torrent(added.id)
    assert waiting is not None
    assert waiting.state is S.QUEUED
    assert "create limit" in waiting.message
    assert waiting.next_check_at >= rig.clock.now + 29
    assert _calls(rig, "only", "add") == 0
    assert rig.run(added.id, _done).state is S.COMPLETED


def test_a_provider_without_file_selection_gets_no_select_and_places_only_the_video(
        tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("direct", NO_SELECTION)])
    done = rig.run(rig.add(FILES).id, _done)
    assert done.state is S.COMPLETED, done.message
    assert _calls(rig, "direct", "select") == 0
    chosen = [f for f in done.files if f.selected]
    assert [f.path for f in chosen] == ["Movie.2020/Movie.2020.mkv"]
    assert done.size == 50_000
    placed = Path(done.save_path) / done.folder / chosen[0].path
    assert placed.read_bytes() == content(chosen[0].link, 50_000)
    assert not (Path(done.save_path) / done.folder / "Movie.2020/Movie.2020.nfo").exists()


def test_an_uncached_release_at_a_provider_without_selection_downloads_then_completes(
        tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("direct", NO_SELECTION)])
    rig.providers["direct"].uncached.add(HASH)
    added = rig.add(FILES)
    downloading = rig.run(added.id, lambda t: t.state is S.DOWNLOADING)
    assert [f.path for f in downloading.files if f.selected] == ["Movie.2020/Movie.2020.mkv"]
    rig.providers["direct"].finish("R1")
    assert rig.run(added.id, _done).state is S.COMPLETED


def test_not_cached_is_a_refusal_kind_that_falls_through(tmp_path: Path) -> None:
    rig = Accounts(tmp_path, [("first", Capabilities()), ("second", Capabilities())])
    rig.providers["first"].refuse_add = NotCached("not cached")
    done = rig.run(rig.add(FILES).id, _done)
    assert done.state is S.COMPLETED
    assert done.provider == "second"
