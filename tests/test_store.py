"""The SQLite store: WAL, versioned migrations, constraints, leases, sessions and auth."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from core.auth import Authenticator, AuthPolicy, hash_password, resolve_password_hash
from core.errors import DuplicateTorrent, LoginBanned
from core.models import NewTorrent, TorrentFile, TorrentState
from core.ports import Bucket, Waiter
from store import states
from store.migrations import ACTIVE, MIGRATIONS, SCHEMA_VERSION
from store.sqlite import SqliteStore, open_store


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    opened = open_store(tmp_path)
    yield opened
    opened.close()


def _new(info_hash: str = "a" * 40, **changes: object) -> NewTorrent:
    values: dict[str, object] = dict(
        hash=info_hash, name="Name", magnet=f"magnet:?xt=urn:btih:{info_hash}",
        torrent_file=None, trackers=("http://t/a",), files=(TorrentFile(0, "a.mkv", 10),),
        total_size=10, category="", tags=("x",), save_path="/d", paused=False,
        ratio_limit=-2.0, seeding_time_limit=-2, provider="p")
    values.update(changes)
    return NewTorrent(**values)  # type: ignore[arg-type]


def test_wal_and_schema_version(store: SqliteStore, tmp_path: Path) -> None:
    assert store.journal_mode() == "wal"
    assert store.schema_version() == SCHEMA_VERSION
    again = open_store(tmp_path)                    # reopening migrates nothing twice
    assert again.schema_version() == SCHEMA_VERSION
    again.close()


def test_a_store_of_an_older_version_is_upgraded_in_place(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "debridge.sqlite3")
    for migration in MIGRATIONS[:3]:            # as the release with schema 3 left it
        for statement in migration:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO budget_waiters (account, waiter, priority, until) "
                 "VALUES ('rd', 'w', 1, 0)")
    conn.commit()
    conn.close()
    store = open_store(tmp_path)
    assert store.schema_version() == SCHEMA_VERSION
    wait = store.update_bucket("rd", lambda bucket, ahead: (Bucket(0.0, 1.0), 0.5), now=1.0,
                               waiter=Waiter("new", 1, 1.0))
    assert wait == 0.5
    assert store.read_bucket("rd", 1.0)[1] == {1: 1}   # the new waiter, with its arrival
    store.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "debridge.sqlite3")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this Debridge"):
        open_store(tmp_path)


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_store(tmp_path).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_one_live_torrent_per_hash(store: SqliteStore) -> None:
    first = store.add_torrent(_new(), 1.0)
    with pytest.raises(DuplicateTorrent):
        store.add_torrent(_new(), 2.0)
    # once it is being deleted, the hash may be added again
    assert store.transition(first.id, [TorrentState.QUEUED], TorrentState.DELETING, 3.0)
    second = store.add_torrent(_new(), 4.0)
    assert second.id != first.id
    assert store.get_by_hash("A" * 40).id == second.id


def test_a_batch_is_added_at_once_skipping_live_and_repeated_hashes(
        store: SqliteStore) -> None:
    live = store.add_torrent(_new("a" * 40), 1.0)
    rev = store.revision()
    batch = [_new("b" * 40), _new("a" * 40), _new("c" * 40, tags=("y", "z")), _new("b" * 40),
             _new("d" * 40, add_to_top=True)]
    added = store.add_torrents(batch, 2.0)
    assert [t.hash for t in added] == ["b" * 40, "c" * 40, "d" * 40]
    assert store.revision() == rev + 1                          # one change for the batch
    assert [t.queue_position for t in added] == [live.queue_position + 1,
                                                 live.queue_position + 2,
                                                 live.queue_position - 1]
    assert added[1].tags == ("y", "z")
    assert [f.path for f in store.files_of(added[0].id)] == ["a.mkv"]
    assert len(store.list_torrents()) == 4
    assert store.add_torrents([_new("a" * 40)], 3.0) == []      # nothing new: nothing added
    found = store.get_torrents([added[2].id, live.id, 999_999])
    assert {i: t.hash for i, t in found.items()} == {added[2].id: "d" * 40, live.id: "a" * 40}
    assert store.get_torrents([]) == {}


def test_progress_is_what_was_written_and_transitions_are_compare_and_set(
        store: SqliteStore) -> None:
    torrent = store.add_torrent(_new(), 1.0)
    store.update_torrent(torrent.id, progress=0.5)
    store.update_torrent(torrent.id, progress=0.2)      # a copy restarting from its disk bytes
    assert store.get_torrent(torrent.id).progress == 0.2
    assert not store.transition(torrent.id, [TorrentState.DOWNLOADING],
                                TorrentState.COMPLETED, 2.0)
    assert store.transition(torrent.id, [TorrentState.QUEUED], TorrentState.SUBMITTING, 2.0)
    assert store.get_torrent(torrent.id).state is TorrentState.SUBMITTING
    with pytest.raises(ValueError, match="not updatable"):
        store.update_torrent(torrent.id, hash="b" * 40)


def test_folder_names_are_unique_among_live_torrents(store: SqliteStore) -> None:
    a = store.add_torrent(_new("a" * 40), 1.0)
    b = store.add_torrent(_new("b" * 40), 1.0)
    assert store.claim_folder(a.id, ["Same", "Same [aaaa]"]) == "Same"
    assert store.claim_folder(b.id, ["Same", "Same [bbbb]"]) == "Same [bbbb]"


def test_due_torrents_skip_paused_but_not_deletions(store: SqliteStore) -> None:
    running = store.add_torrent(_new("a" * 40), 1.0)
    paused = store.add_torrent(_new("b" * 40, paused=True), 1.0)
    assert [t.id for t in store.due_torrents(10.0, 10)] == [running.id]
    store.transition(paused.id, [TorrentState.QUEUED], TorrentState.DELETING, 2.0)
    assert {t.id for t in store.due_torrents(10.0, 10)} == {running.id, paused.id}
    assert store.next_due_at(exclude=[running.id, paused.id]) is None


def test_leases(store: SqliteStore) -> None:
    assert store.acquire_lease("engine", "one", 10, now=0)
    assert not store.acquire_lease("engine", "two", 10, now=5)
    assert store.acquire_lease("engine", "two", 10, now=5, steal_from_dead=True)
    assert store.lease_holder("engine", now=6) == "two"
    assert store.acquire_lease("engine", "one", 10, now=16)        # expired: taken over
    store.release_lease("engine", "one")
    assert store.lease_holder("engine", now=17) is None


def test_generated_password_is_stored_only_as_a_hash(store: SqliteStore) -> None:
    policy_hash, generated = resolve_password_hash(store, "")
    assert policy_hash == ""
    assert generated
    assert resolve_password_hash(store, "") == ("", None)       # printed only the first time
    raw = Path(store.path).read_bytes() + Path(f"{store.path}-wal").read_bytes()
    assert generated.encode() not in raw
    auth = Authenticator(store, AuthPolicy("admin", "", 60, 5, 60))
    assert auth.login("admin", generated, "1.2.3.4")
    assert auth.login("admin", "wrong", "1.2.3.4") is None


def test_sessions_expire_and_bans_lift(store: SqliteStore) -> None:
    now = [1000.0]
    auth = Authenticator(store, AuthPolicy("admin", hash_password("pw"), session_timeout=60,
                                           max_failed_logins=2, ban_seconds=30),
                         clock=lambda: now[0])
    sid = auth.login("admin", "pw", "ip")
    assert sid
    assert auth.session_valid(sid)
    now[0] += 59
    assert auth.session_valid(sid)                    # use keeps it alive
    now[0] += 59
    assert auth.session_valid(sid)
    now[0] += 61
    assert not auth.session_valid(sid)
    assert not auth.session_valid("")
    assert auth.login("admin", "x", "ip") is None
    assert auth.login("admin", "x", "ip") is None     # second failure: banned
    with pytest.raises(LoginBanned):
        auth.login("admin", "pw", "ip")
    assert auth.login("admin", "pw", "other-ip")      # per address
    now[0] += 31
    assert auth.login("admin", "pw", "ip")


def test_live_queries_state_the_partial_indexes_conditions(store: SqliteStore) -> None:
    """The live SQL takes state names from the model; the migrations keep their own frozen
    literals. Both must agree, or SQLite stops using the partial indexes."""
    assert states.ENGINE_WORK == ACTIVE
    assert states.states([TorrentState.DELETING, TorrentState.QUEUED]) == \
        "('queued','deleting')"                        # the model's order, whatever is given
    conn = store._read()
    for where, index in ((f"hash = 'x' AND {states.LIVE}", "torrents_hash"),
                         (f"folder = 'x' AND folder != '' AND {states.LIVE}", "torrents_folder"),
                         (f"state IN {states.ENGINE_WORK} AND next_check_at <= 1",
                          "torrents_due")):
        # INDEXED BY fails ("no query solution") unless the condition implies the index's
        conn.execute(f"SELECT id FROM torrents INDEXED BY {index} WHERE {where}")  # noqa: S608
    with pytest.raises(sqlite3.OperationalError, match="no query solution"):
        conn.execute("SELECT id FROM torrents INDEXED BY torrents_due WHERE "
                     "state IN ('queued') AND next_check_at <= 1")
