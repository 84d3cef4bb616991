"""The completion hooks' outbox on a real SQLite store: queued with the completion, claimed,
delivered once, retried with back-off, given up, taken back from a killed process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.engine import LEASE_NAME
from core.finalize import Finalizer
from core.hooks import call_for, parse_hooks
from core.links import LinkResolver
from core.models import NewTorrent, Torrent, TorrentFile, TorrentState
from core.outbox import HookOutbox, HookPolicy
from core.ports import DeliveryState, HookCall, HookFailed
from debrid.cdn import HttpContentSource
from store.sqlite import SqliteStore, open_store
from tests.helpers import wait_until

HASH = "ab" * 20
OWNER = "this-host:1:aaaa"
CROSS_SEED = {"type": "cross-seed", "url": "http://127.0.0.1:2468", "api_key": "cs-key-123"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSender:
    """Records calls; fails while `failures` says so."""

    def __init__(self) -> None:
        self.calls: list[HookCall] = []
        self.failures = 0
        self.lock = threading.Lock()

    def send(self, call: HookCall, timeout: float) -> None:
        with self.lock:
            self.calls.append(call)
            if self.failures:
                self.failures -= 1
                raise HookFailed("HTTP 500")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = open_store(tmp_path)
    yield opened
    opened.close()


def _finalizing(store: SqliteStore, info_hash: str = HASH) -> Torrent:
    added = store.add_torrent(NewTorrent(
        hash=info_hash, name="Movie", magnet="", torrent_file=None, trackers=(),
        files=(TorrentFile(0, "m.mkv", 10, selected=True),), total_size=10, category="",
        tags=(), save_path="/d", paused=False, ratio_limit=-2, seeding_time_limit=-2,
        provider="p"), 1.0)
    assert store.transition(added.id, [TorrentState.QUEUED], TorrentState.FINALIZING, 2.0)
    found = store.get_torrent(added.id, with_files=True)
    assert found is not None
    return found


def _outbox(store: SqliteStore, sender: FakeSender, clock: Clock, entries: list[Any],
            owner: str = OWNER, **policy: Any) -> HookOutbox:
    # the lease moves to `owner` (as to a process that found its holder dead)
    store.acquire_lease(LEASE_NAME, owner, 1e9, clock(), steal_from_dead=True)
    return HookOutbox(store, sender, parse_hooks(entries),
                      HookPolicy(**{"timeout": 5.0, "max_attempts": 3, "retry_seconds": 10.0,
                                    **policy}),
                      owner=owner, owner_is_dead=lambda other: other.startswith("dead"),
                      clock=clock)


def _drain(outbox: HookOutbox) -> None:
    outbox.run_once()
    wait_until(outbox.idle, timeout=5, interval=0.01, what="deliveries to finish")


def _complete(outbox: HookOutbox, torrent: Torrent, now: float) -> bool:
    return outbox.complete(torrent, torrent.files, now, completion_on=int(now))


def test_completion_queues_one_delivery_per_hook_in_its_transaction(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED, {"type": "command", "command": "/x"}])
    torrent = _finalizing(store)
    assert _complete(outbox, torrent, clock())
    found = store.get_torrent(torrent.id)
    assert found is not None
    assert found.state is TorrentState.COMPLETED
    queued = store.hook_deliveries(HASH)
    assert [d.hook for d in queued] == [h.key for h in outbox.hooks]
    assert queued[0].context["N"] == "Movie"
    assert queued[0].state is DeliveryState.PENDING
    # not finalizing (any more): no completion, nothing queued
    assert not _complete(outbox, torrent, clock())
    assert len(store.hook_deliveries(HASH)) == 2
    # a recheck places the files again: its second completion fires nothing
    store.transition(torrent.id, [TorrentState.COMPLETED], TorrentState.FINALIZING, clock())
    again = store.get_torrent(torrent.id, with_files=True)
    assert again is not None
    assert _complete(outbox, again, clock())
    assert len(store.hook_deliveries(HASH)) == 2
    outbox.stop()


def test_a_symlinked_completion_queues_hooks_too(store: SqliteStore, tmp_path: Path) -> None:
    """Unlike rdt-client's (#1038), the hook follows the completion, not a local download."""
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    torrent = _finalizing(store)
    store.update_torrent(torrent.id, save_path=str(tmp_path / "tv"))
    store.claim_folder(torrent.id, ["Movie"])
    mount = tmp_path / "mount"
    (mount / "__all__" / "Movie").mkdir(parents=True)
    (mount / "__all__" / "Movie" / "m.mkv").write_bytes(b"x" * 10)
    finalizer = Finalizer(store, LinkResolver(store, {}), HttpContentSource(), "symlink",
                          mount, 60.0, clock=clock, completions=outbox)
    current = store.get_torrent(torrent.id, with_files=True)
    assert current is not None
    assert finalizer.run(current) is None
    assert [d.hook for d in store.hook_deliveries(HASH)] == [outbox.hooks[0].key]
    _drain(outbox)
    assert len(sender.calls) == 1
    outbox.stop()


def test_delivered_once_and_never_again(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    torrent = _finalizing(store)
    _complete(outbox, torrent, clock())
    store.delete_torrent_row(torrent.id)       # the Arr imported and removed it at once
    _drain(outbox)
    (delivery,) = store.hook_deliveries(HASH)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DONE, 1)
    assert sender.calls == [call_for(outbox.hooks[0], delivery.context)]
    clock.now += 3600
    _drain(outbox)
    restarted = _outbox(store, sender, clock, [CROSS_SEED], owner="this-host:2:bbbb")
    _drain(restarted)
    assert len(sender.calls) == 1
    outbox.stop()
    restarted.stop()


def test_failures_back_off_and_give_up_after_max_attempts(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    sender.failures = 99
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(outbox, _finalizing(store), clock())
    _drain(outbox)
    (delivery,) = store.hook_deliveries(HASH)
    assert (delivery.state, delivery.attempts, delivery.error) == \
        (DeliveryState.PENDING, 1, "HTTP 500")
    assert delivery.next_at == clock() + 10
    clock.now += 9
    _drain(outbox)
    assert len(sender.calls) == 1                  # not due yet
    clock.now += 1
    _drain(outbox)
    assert store.hook_deliveries(HASH)[0].next_at == clock() + 20     # doubled
    clock.now += 20
    _drain(outbox)
    (delivery,) = store.hook_deliveries(HASH)
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 3)
    clock.now += 10_000
    _drain(outbox)
    assert len(sender.calls) == 3
    outbox.stop()


def test_a_recovered_failure_is_delivered(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    sender.failures = 1
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(outbox, _finalizing(store), clock())
    _drain(outbox)
    clock.now += 10
    _drain(outbox)
    assert store.hook_deliveries(HASH)[0].state is DeliveryState.DONE
    assert len(sender.calls) == 2
    outbox.stop()


def test_only_the_lease_holder_delivers(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(outbox, _finalizing(store), clock())
    other = HookOutbox(store, sender, outbox.hooks, outbox.policy, owner="this-host:3:cccc",
                       clock=clock)
    _drain(other)
    assert sender.calls == []
    _drain(outbox)
    assert len(sender.calls) == 1
    outbox.stop()
    other.stop()


def test_a_claim_cut_off_by_a_kill_is_taken_back_at_once(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    dead = _outbox(store, sender, clock, [CROSS_SEED], owner="dead-host:4:dddd")
    _complete(dead, _finalizing(store), clock())
    assert store.claim_hook_deliveries("dead-host:4:dddd", clock(), clock() + 40, 5)
    alive = _outbox(store, sender, clock, [CROSS_SEED])    # takes the lease over
    _drain(alive)
    (delivery,) = store.hook_deliveries(HASH)
    assert (delivery.state, delivery.attempts) == (DeliveryState.DONE, 2)
    assert len(sender.calls) == 1
    alive.stop()


def test_a_live_processs_claim_is_waited_out(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(outbox, _finalizing(store), clock())
    store.claim_hook_deliveries("live-host:5:eeee", clock(), clock() + 40, 5)
    _drain(outbox)
    assert sender.calls == []
    clock.now += 40
    _drain(outbox)
    assert len(sender.calls) == 1
    # the slow process answering late cannot reopen it
    store.hook_retry(store.hook_deliveries(HASH)[0].id, "live-host:5:eeee", 0, "late")
    assert store.hook_deliveries(HASH)[0].state is DeliveryState.DONE
    outbox.stop()


def test_cut_off_too_often_gives_up(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED], max_attempts=2)
    _complete(outbox, _finalizing(store), clock())
    for _ in range(2):
        store.claim_hook_deliveries("dead-host:6:ffff", clock(), clock() + 40, 5)
        store.release_hook_claims("dead-host:6:ffff", clock())
    _drain(outbox)
    (delivery,) = store.hook_deliveries(HASH)
    assert (delivery.state, delivery.error) == (DeliveryState.FAILED, "cut off while sending")
    assert sender.calls == []
    outbox.stop()


def test_a_removed_hook_is_dropped_and_old_rows_pruned(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    first = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(first, _finalizing(store), clock())
    later = _outbox(store, sender, clock, [replace_url(CROSS_SEED)], owner="this-host:7:gggg")
    _drain(later)
    assert store.hook_deliveries(HASH)[0].state is DeliveryState.DROPPED
    assert sender.calls == []
    assert store.prune_hook_deliveries(clock() - 1) == 0
    assert store.prune_hook_deliveries(clock() + 1) == 1
    first.stop()
    later.stop()


def replace_url(entry: dict[str, str]) -> dict[str, str]:
    return {**entry, "url": "http://elsewhere:2468"}


def test_stop_hands_back_unstarted_claims(store: SqliteStore) -> None:
    clock, sender = Clock(), FakeSender()
    outbox = _outbox(store, sender, clock, [CROSS_SEED])
    _complete(outbox, _finalizing(store), clock())
    store.claim_hook_deliveries(OWNER, clock(), clock() + 40, 5)
    outbox.stop()
    assert store.hook_deliveries(HASH)[0].state is DeliveryState.PENDING
