"""The use cases behind cross-seed's endpoints, on a real store without an engine:
Library.check_now and torrent_at_path (the webhook), the Announcer (the announce) with a
fake fetcher, and the announce memory's retention."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.announce import (
    MEMORY_SECONDS,
    PURGE_EVERY_SECONDS,
    AnnounceConfig,
    Announcement,
    Announcer,
    Verdict,
)
from core.errors import FetchFailed, InvalidInput, InvalidSource, TorrentNotFound
from core.library import Library
from core.models import NewTorrent, Torrent, TorrentFile, TorrentState
from core.ports import FetchedTorrent
from core.routing import Routing
from store.sqlite import SqliteStore, open_store
from tests.helpers import make_torrent

S = TorrentState


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = open_store(tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture
def wakes() -> list[int]:
    return []


@pytest.fixture
def library(store: SqliteStore, tmp_path: Path, wakes: list[int]) -> Library:
    return Library(store, downloads_folder=tmp_path / "dl", routing=Routing(["p"]),
                   add_wait_seconds=0, wake=lambda: wakes.append(1))


def _torrent(store: SqliteStore, info_hash: str, *, save_path: str = "/d", folder: str = "",
             files: tuple[str, ...] = ("a.mkv",), has_root: bool = True,
             state: TorrentState = S.QUEUED, **fields: Any) -> Torrent:
    new = NewTorrent(hash=info_hash, name=folder or info_hash, magnet="", torrent_file=None,
                     trackers=(), files=tuple(TorrentFile(i, p, 10) for i, p in
                                              enumerate(files)),
                     total_size=10 * len(files), category="", tags=(), save_path=save_path,
                     paused=False, ratio_limit=-2.0, seeding_time_limit=-2, provider="p")
    torrent = store.add_torrent(new, 1.0)
    if folder:
        store.claim_folder(torrent.id, [folder])
    content_folder = files[0] if not has_root and len(files) == 1 else ""
    store.update_torrent(torrent.id, has_root=has_root, content_folder=content_folder,
                         next_check_at=5e9, **fields)
    if state is not S.QUEUED:
        store.transition(torrent.id, [S.QUEUED], state, 2.0)
    found = store.get_torrent(torrent.id, with_files=True)
    assert found is not None
    return found


# -- check_now ---------------------------------------------------------------------------------
@pytest.mark.parametrize("state", [S.QUEUED, S.RESOLVING, S.DOWNLOADING, S.FINALIZING])
def test_a_torrent_in_progress_is_due_at_once(store: SqliteStore, library: Library,
                                              wakes: list[int], state: TorrentState) -> None:
    torrent = _torrent(store, "1" * 40, state=state)
    assert library.check_now(torrent)
    after = store.get_torrent(torrent.id)
    assert after is not None
    assert after.next_check_at == 0
    assert after.state is state
    assert wakes == [1]


def test_a_completed_torrent_goes_back_to_placing_its_files(store: SqliteStore,
                                                            library: Library,
                                                            wakes: list[int]) -> None:
    torrent = _torrent(store, "2" * 40, state=S.FINALIZING)
    store.transition(torrent.id, [S.FINALIZING], S.COMPLETED, 3.0, progress=1.0,
                     completion_on=3)
    completed = store.get_torrent(torrent.id)
    assert completed is not None
    assert library.check_now(completed)
    after = store.get_torrent(torrent.id)
    assert after is not None
    assert after.state is S.FINALIZING
    assert after.next_check_at == 0
    assert after.completion_on == 3
    assert after.progress == 1.0
    assert wakes == [1]


@pytest.mark.parametrize(("state", "paused"), [(S.FAILED, False), (S.SUBMITTING, False),
                                               (S.DOWNLOADING, True), (S.COMPLETED, True)])
def test_failed_paused_and_submitting_torrents_are_left_alone(
        store: SqliteStore, library: Library, wakes: list[int], state: TorrentState,
        paused: bool) -> None:
    torrent = _torrent(store, "3" * 40, state=state, paused=paused)
    assert not library.check_now(torrent)
    after = store.get_torrent(torrent.id)
    assert after is not None
    assert after.state is state
    assert after.next_check_at == 5e9
    assert wakes == []


# -- torrent_at_path ---------------------------------------------------------------------------
def test_paths_at_and_under_a_torrents_folder_find_it(store: SqliteStore,
                                                      library: Library) -> None:
    show = _torrent(store, "4" * 40, save_path="/dl/tv", folder="Show.S01",
                    files=("e01.mkv", "Season/e02.mkv"))
    for path in ("/dl/tv/Show.S01", "/dl/tv/Show.S01/", "/dl/tv/Show.S01/Season/e02.mkv",
                 "//dl/tv/./Show.S01/Season", "/dl/tv/Show.S01/Season/../e01.mkv"):
        assert library.torrent_at_path(path).id == show.id, path
    for path in ("/dl/tv", "/dl/tv/Show.S01x", "/dl/tv/Show.S0", "/elsewhere/Show.S01"):
        with pytest.raises(TorrentNotFound):
            library.torrent_at_path(path)


def test_a_single_file_without_a_folder_is_found_by_its_file(store: SqliteStore,
                                                             library: Library) -> None:
    movie = _torrent(store, "5" * 40, save_path="/dl/films", folder="Movie",
                     files=("Movie.mkv",), has_root=False)
    assert movie.content_path == "/dl/films/Movie.mkv"
    assert library.torrent_at_path("/dl/films/Movie.mkv").id == movie.id
    with pytest.raises(TorrentNotFound):
        library.torrent_at_path("/dl/films/Other.mkv")


def test_files_laid_out_without_a_subfolder_find_only_their_torrent(store: SqliteStore,
                                                                    library: Library) -> None:
    """Two torrents with no root folder share /dl/flat: each file names its own torrent."""
    one = _torrent(store, "6" * 40, save_path="/dl/flat", folder="One",
                   files=("a.mkv", "extras/b.mkv"), has_root=False)
    two = _torrent(store, "7" * 40, save_path="/dl/flat", folder="Two",
                   files=("c.mkv", "d.mkv"), has_root=False)
    assert library.torrent_at_path("/dl/flat/extras/b.mkv").id == one.id
    assert library.torrent_at_path("/dl/flat/extras").id == one.id
    assert library.torrent_at_path("/dl/flat/d.mkv").id == two.id
    with pytest.raises(TorrentNotFound):
        library.torrent_at_path("/dl/flat/e.mkv")


def test_the_most_specific_torrent_wins(store: SqliteStore, library: Library) -> None:
    outer = _torrent(store, "8" * 40, save_path="/dl", folder="Pack")
    inner = _torrent(store, "9" * 40, save_path="/dl/Pack", folder="Inner")
    assert library.torrent_at_path("/dl/Pack/Inner/a.mkv").id == inner.id
    assert library.torrent_at_path("/dl/Pack/a.mkv").id == outer.id


@pytest.mark.parametrize("path", ["", "relative/dir", "  ", "/a\x00b", "/" + "x" * 5000])
def test_paths_that_are_not_absolute_are_refused(library: Library, path: str) -> None:
    with pytest.raises(InvalidInput):
        library.torrent_at_path(path)


# -- the Announcer -------------------------------------------------------------------------------
class FakeFetcher:
    def __init__(self) -> None:
        self.answers: dict[str, FetchedTorrent | Exception] = {}
        self.asked: list[tuple[str, str]] = []

    def fetch(self, url: str, *, cookie: str = "") -> FetchedTorrent:
        self.asked.append((url, cookie))
        answer = self.answers.get(url, FetchFailed("nothing there"))
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def fetcher() -> FakeFetcher:
    return FakeFetcher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def announcer(library: Library, store: SqliteStore, fetcher: FakeFetcher,
              clock: Clock) -> Announcer:
    return Announcer(library, store, fetcher, lambda: AnnounceConfig("cs", 0), clock=clock)


def _announce(**fields: Any) -> Announcement:
    values: dict[str, Any] = {"name": "Rel", "guid": "g1", "link": "https://t.test/dl?id=1",
                              "tracker": "T"}
    values.update(fields)
    return Announcement(**values)


def test_the_link_is_fetched_once_per_guid_with_its_cookie(announcer: Announcer,
                                                           fetcher: FakeFetcher,
                                                           store: SqliteStore,
                                                           tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Rel", {"Rel.mkv": 1 << 16})
    fetcher.answers["https://t.test/dl?id=1"] = FetchedTorrent(data=data)
    first = announcer.announce(_announce(cookie="uid=1"))
    assert first.verdict is Verdict.DOWNLOADING
    assert first.hash == info_hash
    assert fetcher.asked == [("https://t.test/dl?id=1", "uid=1")]
    again = announcer.announce(_announce(cookie="uid=1"))
    assert again.verdict is Verdict.DOWNLOADING
    assert len(fetcher.asked) == 1
    added = store.get_by_hash(info_hash)
    assert added is not None
    assert added.category == "cs"
    assert added.has_torrent_file


def test_an_unresolvable_link_remembers_nothing(announcer: Announcer, fetcher: FakeFetcher,
                                                store: SqliteStore) -> None:
    fetcher.answers["https://t.test/dl?id=1"] = FetchedTorrent(data=b"<html>")
    assert announcer.announce(_announce()).verdict is Verdict.UNUSABLE
    assert store.announced_hash("g1") is None
    assert store.count_torrents() == 0


def test_a_refusal_is_remembered_for_the_hash(announcer: Announcer, store: SqliteStore,
                                              fetcher: FakeFetcher, clock: Clock) -> None:
    info_hash = "ab" * 20
    store.set_announce_outcome(info_hash, "refused", "not cached", clock.now)
    answer = announcer.announce(_announce(info_hash=info_hash))
    assert answer.verdict is Verdict.UNUSABLE
    assert answer.message == "not cached"
    assert fetcher.asked == []
    assert store.count_torrents() == 0


@pytest.mark.parametrize("fields", [
    {"link": "ftp://t.test/x"}, {"link": "magnet:?xt=urn:btih:" + "a" * 40}, {"name": ""},
    {"guid": "x" * 20000}, {"size": -5}, {"cookie": "a\nb"}, {"tracker": "t\x00"},
])
def test_bad_announcements_raise_before_anything_happens(announcer: Announcer,
                                                         fetcher: FakeFetcher,
                                                         store: SqliteStore,
                                                         fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        announcer.announce(_announce(**fields))
    assert fetcher.asked == []
    assert store.announced_hash("g1") is None


@pytest.mark.parametrize("fields", [{"info_hash": "nothex"}, {"magnet": "magnet:?xt=bad"}])
def test_bad_hashes_and_magnets_are_refused(announcer: Announcer,
                                            fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidSource):
        announcer.announce(_announce(**fields))


def test_the_memory_is_forgotten_after_its_time(announcer: Announcer, store: SqliteStore,
                                                clock: Clock) -> None:
    info_hash = "cd" * 20
    store.remember_announce("old-guid", info_hash, clock.now)
    store.set_announce_outcome(info_hash, "refused", "no", clock.now)
    clock.now += MEMORY_SECONDS + PURGE_EVERY_SECONDS + 1
    announcer.announce(_announce(info_hash="ef" * 20))     # purges on its way
    assert store.announced_hash("old-guid") is None
    assert store.announce_outcome(info_hash) is None
    assert store.announced_hash("g1") == "ef" * 20


def test_the_category_is_read_per_announce(library: Library, store: SqliteStore,
                                           fetcher: FakeFetcher, clock: Clock) -> None:
    """api.announce_category is live: /api/config may change it between two announces."""
    config = [AnnounceConfig("first", 0)]
    live = Announcer(library, store, fetcher, lambda: config[0], clock=clock)
    live.announce(_announce(info_hash="12" * 20))
    config[0] = AnnounceConfig("second", 0)
    live.announce(_announce(guid="g2", info_hash="34" * 20))
    first, second = store.get_by_hash("12" * 20), store.get_by_hash("34" * 20)
    assert first is not None
    assert second is not None
    assert (first.category, second.category) == ("first", "second")
