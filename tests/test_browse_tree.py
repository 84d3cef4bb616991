"""The browse tree over a real store: which torrents each group shows, under which names, and
that every listed name resolves back to what was listed (the WebDAV collections rely on it)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from browse.tree import ALL, BAD, Tree
from core.models import (
    FileNode,
    FolderNode,
    Group,
    NewTorrent,
    Torrent,
    TorrentFile,
    TorrentNode,
    TorrentState,
)
from core.naming import folder_candidates
from core.ports import RemoteFile, RemoteStatus, RemoteTorrent
from store.sqlite import SqliteStore, open_store

NOW = 1_700_000_000.0
PROVIDER = "rd"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = open_store(tmp_path)
    yield opened
    opened.close()


def _hash(seed: int) -> str:
    return f"{seed:040x}"


def add_client(store: SqliteStore, name: str, info_hash: str, *,
               state: TorrentState = TorrentState.COMPLETED, category: str = "",
               files: Sequence[tuple[str, int]] = (("movie.mkv", 100),),
               claim: bool = True) -> Torrent:
    """A client entry (as /api/v2 adds make them) with its folder claimed and links known."""
    new = NewTorrent(
        hash=info_hash, name=name, magnet=f"magnet:?xt=urn:btih:{info_hash}", torrent_file=None,
        trackers=(), total_size=sum(size for _, size in files), category=category, tags=(),
        save_path="/downloads", paused=False, ratio_limit=-2.0, seeding_time_limit=-2,
        provider=PROVIDER,
        files=tuple(TorrentFile(i, path, size, selected=True, provider_file_id=str(i + 1),
                                link=f"https://rd.test/d/{info_hash}/{i}")
                    for i, (path, size) in enumerate(files)))
    torrent = store.add_torrent(new, NOW)
    if claim:
        store.claim_folder(torrent.id, folder_candidates(name, info_hash))
    assert store.transition(torrent.id, [TorrentState.QUEUED], state, NOW,
                            completion_on=int(NOW) + 60)
    found = store.get_torrent(torrent.id)
    assert found is not None
    return found


def add_imported(store: SqliteStore, remote_id: str, name: str, info_hash: str, *,
                 status: RemoteStatus = RemoteStatus.READY,
                 files: Sequence[tuple[str, int]] | None = (("/movie.mkv", 100),)) -> None:
    """An account torrent the library sync found (files=None: its files are not fetched yet)."""
    remote = RemoteTorrent(id=remote_id, hash=info_hash, name=name, status=status,
                           raw_status=status.value, progress=1.0, size=100,
                           links=tuple(f"https://rd.test/d/{remote_id}/{i}"
                                       for i in range(len(files or ()))),
                           added=NOW, ended=NOW + 30)
    assert store.upsert_imported(PROVIDER, [remote], generation=1, now=NOW) == (1, 0)
    if files is not None:
        store.set_imported_files(PROVIDER, remote_id, [
            RemoteFile(id=str(i + 1), path=path, size=size, selected=True,
                       link=f"https://rd.test/d/{remote_id}/{i}")
            for i, (path, size) in enumerate(files)])


def names(tree: Tree, group: str) -> list[str]:
    found = tree.group(group)
    assert found is not None
    return [node.name for node in tree.torrents(found)]


def lookup(tree: Tree, group: str, name: str) -> TorrentNode | None:
    found = tree.group(group)
    assert found is not None
    return tree.torrent(found, name)


def walk(folder: FolderNode, prefix: str = "") -> Iterator[tuple[str, FileNode]]:
    for name, child in folder.children.items():
        assert name == child.name
        if isinstance(child, FolderNode):
            yield from walk(child, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", child


def file_paths(tree: Tree, group: str, torrent: str) -> dict[str, str]:
    """{path in the tree: provider link} of one torrent, as a listing shows it."""
    node = lookup(tree, group, torrent)
    assert node is not None
    return {path: f.file.link for path, f in walk(tree.folder(node))}


# -- groups -----------------------------------------------------------------------------------
def test_all_serves_finished_client_entries_and_ready_account_torrents(
        store: SqliteStore) -> None:
    add_client(store, "Completed.Movie.2020.mkv", _hash(1))
    add_client(store, "Placing Show S01", _hash(2), state=TorrentState.FINALIZING)
    add_client(store, "Still Downloading", _hash(3), state=TorrentState.DOWNLOADING)
    add_client(store, "Resolving", _hash(4), state=TorrentState.RESOLVING)
    add_client(store, "Broken", _hash(5), state=TorrentState.FAILED)
    add_client(store, "Going Away", _hash(6), state=TorrentState.DELETING)
    add_imported(store, "R1", "From The Website", _hash(7))
    add_imported(store, "R2", "Website Download In Progress", _hash(8),
                 status=RemoteStatus.DOWNLOADING)
    add_imported(store, "R3", "Files Not Fetched Yet", _hash(9), files=None)
    tree = Tree(store)

    # A single-file torrent's folder drops the video extension (its content folder).
    assert names(tree, ALL) == ["Completed.Movie.2020", "From The Website", "Placing Show S01"]
    for name in names(tree, ALL):
        node = lookup(tree, ALL, name)
        assert node is not None
        assert node.name == name
    for hidden in ("Still Downloading", "Resolving", "Broken", "Going Away",
                   "Website Download In Progress", "Files Not Fetched Yet"):
        assert lookup(tree, ALL, hidden) is None
        assert tree.resolve(f"{ALL}/{hidden}") is None
    assert file_paths(tree, ALL, "From The Website") == {"movie.mkv": "https://rd.test/d/R1/0"}


def test_failed_torrents_are_listed_in_bad_only(store: SqliteStore) -> None:
    add_client(store, "Refused Release", _hash(1), state=TorrentState.FAILED)
    # failed before its metadata came: no folder yet, named after the release
    add_client(store, "No: Metadata?", _hash(2), state=TorrentState.FAILED, claim=False)
    add_imported(store, "R1", "Dead At The Provider", _hash(3), status=RemoteStatus.FAILED)
    add_client(store, "Fine", _hash(4))
    tree = Tree(store)

    assert names(tree, BAD) == ["Dead At The Provider", "No_ Metadata_", "Refused Release"]
    assert names(tree, ALL) == ["Fine"]
    for name in names(tree, BAD):
        node = lookup(tree, BAD, name)
        assert node is not None
        assert node.name == name
    refused = lookup(tree, BAD, "Refused Release")
    assert refused is not None
    assert refused.entry.hash == _hash(1)


def test_a_folder_per_category_with_its_finished_torrents(store: SqliteStore) -> None:
    for category in ("tv-sonarr", "films", "anime/seasonal", "__all__", "empty"):
        assert store.create_category(category, "")
    add_client(store, "Show S01E01", _hash(1), category="tv-sonarr")
    add_client(store, "Show S01E02", _hash(2), category="tv-sonarr",
               state=TorrentState.DOWNLOADING)
    add_client(store, "Film", _hash(3), category="films", state=TorrentState.FINALIZING)
    add_client(store, "Season", _hash(4), category="anime/seasonal")
    add_imported(store, "R1", "Account Only", _hash(5))
    tree = Tree(store)

    groups = [g.name for g in tree.groups()]
    # '/' is no name character, and a category cannot hide the built-in groups
    assert groups == [ALL, BAD, "__all__ (2)", "anime_seasonal", "empty", "films", "tv-sonarr"]
    assert names(tree, "tv-sonarr") == ["Show S01E01"]
    assert names(tree, "films") == ["Film"]
    assert names(tree, "anime_seasonal") == ["Season"]
    assert names(tree, "empty") == []
    assert names(tree, "__all__ (2)") == []
    assert lookup(tree, "tv-sonarr", "Show S01E02") is None       # still downloading
    assert lookup(tree, "films", "Show S01E01") is None            # another category's
    assert lookup(tree, "films", "Account Only") is None           # imported: __all__ only
    assert tree.group("anime/seasonal") is None
    assert tree.group("no-such-category") is None
    node = tree.resolve("anime_seasonal/Season/movie.mkv")
    assert isinstance(node, FileNode)
    assert node.torrent.hash == _hash(4)


# -- torrent names ----------------------------------------------------------------------------
def test_an_imported_torrent_whose_folder_a_client_entry_holds_gets_its_hash(
        store: SqliteStore) -> None:
    mine_hash = "aa11aa11" + "0" * 32
    client = add_client(store, "Show S01", mine_hash, files=[("e01.mkv", 10)])
    add_imported(store, "R1", "Show S01", "bb22cc33" + "0" * 32, files=[("/e01.mkv", 11)])
    tree = Tree(store)

    assert names(tree, ALL) == ["Show S01", "Show S01 [bb22cc33]"]
    mine = lookup(tree, ALL, "Show S01")
    theirs = lookup(tree, ALL, "Show S01 [bb22cc33]")
    assert mine is not None
    assert mine.entry.torrent_id == client.id
    assert theirs is not None
    assert theirs.entry.remote_id == "R1"
    # the files under each name are that torrent's
    assert file_paths(tree, ALL, "Show S01") == {"e01.mkv": f"https://rd.test/d/{mine_hash}/0"}
    assert file_paths(tree, ALL, "Show S01 [bb22cc33]") == {"e01.mkv": "https://rd.test/d/R1/0"}
    assert lookup(tree, ALL, "Show S01 [aa11aa11]") is None       # no name of its own


def test_a_client_entry_keeps_its_folder_name_while_it_downloads(store: SqliteStore) -> None:
    """Symlinks will point at __all__/<folder>: an account torrent must not take that name
    while the client's entry is still on its way."""
    add_client(store, "Film", _hash(1), state=TorrentState.DOWNLOADING)
    add_imported(store, "R1", "Film", "dd44ee55" + "0" * 32)
    tree = Tree(store)

    assert names(tree, ALL) == ["Film [dd44ee55]"]
    assert lookup(tree, ALL, "Film") is None


def test_duplicate_account_torrents_get_distinct_names(store: SqliteStore) -> None:
    info_hash = "0123abcd" + "e" * 32
    for remote_id in ("R1", "R2", "R3", "R4"):
        add_imported(store, remote_id, "Same Release", info_hash,
                     files=[(f"/{remote_id}.mkv", 5)])
    tree = Tree(store)

    listed = names(tree, ALL)
    assert sorted(listed) == sorted(["Same Release", "Same Release [0123abcd]",
                                     f"Same Release [{info_hash}]", "Same Release [rd-R4]"])
    owners = {}
    for name in listed:
        node = lookup(tree, ALL, name)
        assert node is not None
        assert node.name == name
        owners[name] = node.entry.remote_id
        assert list(file_paths(tree, ALL, name)) == [f"{node.entry.remote_id}.mkv"]
    assert sorted(owners.values()) == ["R1", "R2", "R3", "R4"]
    assert owners["Same Release"] == "R1"           # the first one keeps the plain name


def test_a_hash_suffixed_name_never_takes_another_torrents_own_name(store: SqliteStore) -> None:
    """'Show [deadbeef]' is a folder of its own (a kept client entry's suffixed folder, say):
    the second 'Show', whose hash starts with deadbeef, must be named otherwise."""
    add_client(store, "Show [0badf00d]", "0badf00d" + "9" * 32)
    add_imported(store, "R0", "Show", "1" * 40)
    add_imported(store, "R1", "Show", "deadbeef" + "1" * 32)
    add_imported(store, "R2", "Show [deadbeef]", "2" * 40)
    add_imported(store, "R3", "Show", "0badf00d" + "3" * 32)
    tree = Tree(store)

    listed = names(tree, ALL)
    assert len(set(listed)) == len(listed) == 5
    owners = {}
    for name in listed:
        node = lookup(tree, ALL, name)
        assert node is not None
        assert node.name == name
        owners[node.entry.remote_id or node.entry.hash] = name
    assert owners == {"0badf00d" + "9" * 32: "Show [0badf00d]", "R0": "Show",
                      "R1": "Show [deadbeef" + "1" * 32 + "]", "R2": "Show [deadbeef]",
                      "R3": "Show [0badf00d" + "3" * 32 + "]"}


# -- files ------------------------------------------------------------------------------------
def test_file_names_that_clash_after_sanitising_get_a_number(store: SqliteStore) -> None:
    add_client(store, "Pack", _hash(1), files=[
        ("Pack/What?.mkv", 1), ("Pack/What*.mkv", 2), ("Pack/What_.mkv", 3),
        ("Pack/sub/a.mkv", 4), ("Pack\\sub\\a.mkv", 5), ("Pack/noext?", 6), ("Pack/noext_", 7)])
    tree = Tree(store)

    paths = file_paths(tree, ALL, "Pack")
    h = _hash(1)
    assert paths == {
        "Pack/What_.mkv": f"https://rd.test/d/{h}/0",
        "Pack/What_ (2).mkv": f"https://rd.test/d/{h}/1",
        "Pack/What_ (3).mkv": f"https://rd.test/d/{h}/2",
        "Pack/sub/a.mkv": f"https://rd.test/d/{h}/3",
        "Pack/sub/a (2).mkv": f"https://rd.test/d/{h}/4",
        "Pack/noext_": f"https://rd.test/d/{h}/5",
        "Pack/noext_ (2)": f"https://rd.test/d/{h}/6",
    }
    for path, link in paths.items():
        node = tree.resolve(f"{ALL}/Pack/{path}")
        assert isinstance(node, FileNode)
        assert node.file.link == link


def test_a_file_and_a_folder_of_the_same_name_both_stay_reachable(store: SqliteStore) -> None:
    add_imported(store, "R1", "Mixed", _hash(1), files=[("/x", 1), ("/x/inner.mkv", 2)])
    tree = Tree(store)

    assert file_paths(tree, ALL, "Mixed") == {"x": "https://rd.test/d/R1/0",
                                              "x (2)/inner.mkv": "https://rd.test/d/R1/1"}


def test_provider_paths_never_leave_the_torrent_folder(store: SqliteStore) -> None:
    add_imported(store, "R1", "Evil", _hash(1), files=[
        ("/../../etc/passwd", 1), ("/a/./b/../../c.mkv", 2), ("/..", 3), ("//abs//x.mkv", 4),
        ("/..\\..\\win.ini", 5), ("/.../....", 6), ("/nul\x00byte.mkv", 7)])
    tree = Tree(store)

    paths = file_paths(tree, ALL, "Evil")
    for path in paths:
        parts = path.split("/")
        assert all(p not in ("", ".", "..") and "\\" not in p and "\x00" not in p
                   for p in parts), path
    assert set(paths) == {"etc/passwd", "a/b/c.mkv", "abs/x.mkv", "win.ini", "_/_",
                          "nul_byte.mkv"}
    # nor does a path that climbs reach anything
    for path in (f"{ALL}/Evil/..", f"{ALL}/Evil/../Evil/win.ini", f"{ALL}/Evil/./win.ini",
                 f"{ALL}/Evil/win.ini\x00", "..", f"{ALL}/..", ""):
        assert tree.resolve(path) is None, path


def test_resolve_finds_every_level(store: SqliteStore) -> None:
    add_client(store, "Show S02", _hash(1), category="tv",
               files=[("Show S02/Season 2/e01.mkv", 10)])
    tree = Tree(store)

    assert tree.resolve("tv") == Group("tv", "tv")
    torrent = tree.resolve("tv/Show S02")
    assert isinstance(torrent, TorrentNode)
    assert torrent.entry.hash == _hash(1)
    folder = tree.resolve(f"{ALL}/Show S02/Show S02/Season 2")
    assert isinstance(folder, FolderNode)
    assert list(folder.children) == ["e01.mkv"]
    file = tree.resolve("/tv/Show S02/Show S02/Season 2/e01.mkv/")
    assert isinstance(file, FileNode)
    assert file.file.size == 10
    assert tree.resolve("tv/Show S02/Show S02/Season 2/e01.mkv/more") is None
    assert tree.resolve("tv/Show S02/Show S02/Season 3") is None


# -- names are unique and resolve: whatever the library holds ---------------------------------
# Few names and hashes, some hashes sharing their first 8 digits and some names ending in
# such a '[hash8]', so that folder names, '[hash8]' suffixes and sanitised forms collide.
_HASHES = ["deadbeef" + "0" * 32, "deadbeef" + "1" * 32, "0badf00d" + "2" * 32]
_NAMES = st.sampled_from(["Show", "Show", "Show [deadbeef]", "Show [0badf00d]", "Show?",
                          "Show_", "Show.mkv", "Über 漢字 #1 50% & co", "a/b", "..", "CON"])
_STATES = st.sampled_from([TorrentState.COMPLETED, TorrentState.FINALIZING,
                           TorrentState.DOWNLOADING, TorrentState.FAILED])
_PATHS = st.lists(st.sampled_from(["a.mkv", "a?.mkv", "a_.mkv", "d/a.mkv", "d", "../d/a.mkv",
                                   "D/A.MKV", "x/../y.mkv"]), min_size=1, max_size=4)
_CLIENTS = st.lists(st.tuples(_NAMES, _STATES, st.sampled_from(["", "tv"]), _PATHS),
                    max_size=5)
_IMPORTED = st.lists(st.tuples(_NAMES, st.sampled_from(_HASHES), st.booleans(), _PATHS),
                     max_size=8)


def _check_group(tree: Tree, group: Group) -> None:
    nodes = tree.torrents(group)
    listed = [n.name for n in nodes]
    assert len(listed) == len(set(listed)), listed
    for node in nodes:
        assert node.name
        assert "/" not in node.name
        found = tree.torrent(group, node.name)
        assert found == node, (node.name, found, node)
        files = list(walk(tree.folder(node)))
        assert len({path for path, _ in files}) == len(files)
        for path, file in files:
            resolved = tree.resolve(f"{group.name}/{node.name}/{path}")
            assert isinstance(resolved, FileNode)
            assert resolved.file == file.file


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(clients=_CLIENTS, imported=_IMPORTED)
def test_listed_names_are_unique_and_resolve_to_what_was_listed(
        clients: list[tuple[str, TorrentState, str, list[str]]],
        imported: list[tuple[str, str, bool, list[str]]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = open_store(Path(directory))
        try:
            for i, (name, state, category, paths) in enumerate(clients):
                add_client(store, name, f"c{i:039x}", state=state, category=category,
                           files=[(p, 1) for p in paths])
            for i, (name, info_hash, ready, paths) in enumerate(imported):
                add_imported(store, f"R{i}", name, info_hash,
                             status=RemoteStatus.READY if ready else RemoteStatus.FAILED,
                             files=[(p, 2) for p in paths])
            tree = Tree(store)
            groups = tree.groups()
            assert len({g.name for g in groups}) == len(groups)
            for group in groups:
                assert tree.group(group.name) == group
                _check_group(tree, group)
        finally:
            store.close()
