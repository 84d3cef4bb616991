"""The request budget: a shared token bucket with priorities and 429 blocks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.ports import Waiter
from core.priority import Priority, work_priority
from debrid.budget import RequestBudget
from store.sqlite import SqliteStore, open_store


class FakeTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return open_store(tmp_path)


def _budget(store: SqliteStore, time: FakeTime, per_minute: int = 600) -> RequestBudget:
    return RequestBudget(store, "rd", per_minute, clock=time.clock, sleep=time.sleep)


def test_burst_then_paced_never_over_the_limit_in_any_minute(store: SqliteStore) -> None:
    time = FakeTime()
    budget = _budget(store, time, per_minute=600)
    assert (budget.capacity, budget.rate) == (60.0, 9.0)
    taken = []
    for _ in range(2000):
        budget.acquire(Priority.INTERACTIVE)
        taken.append(time.now)
    assert taken[:60] == [taken[0]] * 60          # the burst goes at once
    assert taken[60] > taken[0]
    start = 0
    for end, moment in enumerate(taken):          # any sixty seconds hold at most 600
        while taken[start] <= moment - 60:
            start += 1
        assert end - start + 1 <= 600
    assert taken[-1] - taken[0] == pytest.approx((2000 - 60) / 9, rel=0.01)


def test_background_keeps_a_token_for_interactive_callers(store: SqliteStore) -> None:
    time = FakeTime()
    budget = _budget(store, time)
    for _ in range(59):                           # background drains all but the reserve
        assert budget.acquire(Priority.BACKGROUND) == 0
    assert budget.acquire(Priority.BACKGROUND) > 0   # the 60th would take the last token
    waited = budget.acquire(Priority.INTERACTIVE)
    assert waited <= budget.interval
    with work_priority(Priority.INTERACTIVE):     # the context sets the priority too
        assert budget.acquire() <= budget.interval + 1e-9


def test_background_waits_while_an_interactive_caller_waits(store: SqliteStore) -> None:
    time = FakeTime()
    budget = _budget(store, time)
    # an interactive caller elsewhere (another thread or process) is waiting for a token
    store.update_bucket("rd", lambda bucket, waiting: (budget._refill(bucket, time.now), 0.3),
                        now=time.now, waiter=Waiter("other", int(Priority.INTERACTIVE),
                                                    time.now))
    assert budget.state().waiting_interactive == 1
    time.slept.clear()
    budget.acquire(Priority.BACKGROUND)            # tokens are there, but it steps aside
    assert time.slept
    assert time.now > 1_000_000.0 + 2
    assert budget.state().waiting_interactive == 0


def test_a_429_blocks_everyone_and_doubles_until_a_success(store: SqliteStore) -> None:
    time = FakeTime()
    budget = _budget(store, time)
    other_process = _budget(store, time)
    assert budget.rate_limited() == 1.0
    start = time.now
    other_process.acquire(Priority.INTERACTIVE)
    assert time.now - start == pytest.approx(1.0 + budget.interval, abs=0.01)
    assert budget.rate_limited() == 2.0           # a second 429 in a row
    assert budget.rate_limited(retry_after=7) == 7.0
    state = budget.state()
    assert (state.recent_rate_limits, state.blocked_for) == (3, pytest.approx(7.0))
    budget.acquire()
    budget.succeeded()
    assert budget.rate_limited() == 1.0           # the run of 429s was over


def test_waiting_callers_are_served_first_come_first_served(store: SqliteStore) -> None:
    budget = RequestBudget(store, "rd", 60)        # a token a second once the burst is gone
    for _ in range(6):
        budget.acquire(Priority.INTERACTIVE)
    order: list[int] = []

    def caller(number: int) -> None:
        budget.acquire(Priority.INTERACTIVE)
        order.append(number)

    threads = []
    for number in range(3):
        threads.append(threading.Thread(target=caller, args=(number,)))
        threads[-1].start()
        threading.Event().wait(0.05)                # they arrive in this order
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2]


def test_processes_share_one_bucket(tmp_path: Path) -> None:
    time = FakeTime()
    first, second = open_store(tmp_path), open_store(tmp_path)    # two connections' worth
    a, b = _budget(first, time), _budget(second, time)
    for _ in range(30):
        a.acquire(Priority.INTERACTIVE)
        b.acquire(Priority.INTERACTIVE)
    assert time.slept == []
    b.acquire(Priority.INTERACTIVE)
    assert time.slept                              # 61st token: both drew on the same 60
    assert a.state().tokens == b.state().tokens


def test_threads_never_overdraw(store: SqliteStore) -> None:
    budget = RequestBudget(store, "rd", 6000)      # 600 at once, then 90 per second
    taken: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            budget.acquire(Priority.BACKGROUND)
            with lock:
                taken.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 800
    # 800 tokens from a 600 bucket: at least (800 - 599) / 90 seconds passed, so the bucket
    # cannot hold more than what refilled since
    assert budget.state().tokens <= budget.capacity


def test_a_budget_needs_a_positive_limit(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestBudget(store, "rd", 0)
