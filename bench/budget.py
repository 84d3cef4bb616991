"""Benchmark: how long an interactive call waits for the request budget while background work
saturates it.

Background load: 3 worker processes x 4 threads take tokens at background priority as fast as
the budget allows (as polling, repair and library sync would on a busy install), all from one
bucket in one SQLite store. Interactive load: a thread in this process takes a token every
0.1-0.5 s at interactive priority (an add, a stream link). Reference, in this script: the same
load where the interactive calls go in at background priority (a budget without priorities).
Prints p50/p99/max waits of both kinds in both runs, the token interval, the ratio of the
interactive p99 to the token interval and to the reference, and the rate tokens were granted
at against the bucket's refill rate (the bucket started empty, so that is the ceiling).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.priority import Priority
from debrid.budget import RequestBudget
from store.sqlite import open_store

PER_MINUTE = int(os.environ.get("BENCH_PER_MINUTE", "1200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
PROCESSES, THREADS = 3, 4
ACCOUNT = "bench"


def _background_worker(data_dir: str, until: float, results: multiprocessing.Queue) -> None:
    budget = RequestBudget(open_store(Path(data_dir)), ACCOUNT, PER_MINUTE)
    waits: list[tuple[float, float]] = []
    lock = threading.Lock()

    def loop() -> None:
        while time.time() < until:
            waited = budget.acquire(Priority.BACKGROUND)
            with lock:
                waits.append((time.time(), waited))

    threads = [threading.Thread(target=loop) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(waits)


def run(data_dir: Path, interactive: Priority) -> dict[str, object]:
    budget = RequestBudget(open_store(data_dir), ACCOUNT, PER_MINUTE)
    # start from an empty bucket, as after a while of saturation
    while budget.state().tokens >= 1:
        budget.acquire(Priority.INTERACTIVE)
    started = time.time()
    until = started + SECONDS
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_background_worker,
                                       args=(str(data_dir), until, results))
               for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)                      # let the background load fill the queue first
    interactive_waits: list[float] = []
    while time.time() < until - 1.0:
        interactive_waits.append(budget.acquire(interactive))
        time.sleep(random.uniform(0.1, 0.5))
    background = [wait for _ in workers for wait in results.get(timeout=120)]
    for worker in workers:
        worker.join()
    elapsed = max(moment for moment, _ in background) - started
    granted = len(background) + len(interactive_waits)
    return {
        "interactive": _summary(interactive_waits),
        "background": _summary([wait for _, wait in background]),
        "granted_per_minute": round(granted / elapsed * 60, 1),
        "refill_per_minute": round(budget.rate * 60, 1),   # the sustained ceiling
        "token_interval_ms": round(budget.interval * 1000, 1),
    }


def _summary(waits: list[float]) -> dict[str, float]:
    ordered = sorted(waits)
    return {"calls": len(ordered),
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    with tempfile.TemporaryDirectory() as with_priority, \
            tempfile.TemporaryDirectory() as without_priority:
        ours = run(Path(with_priority), Priority.INTERACTIVE)
        reference = run(Path(without_priority), Priority.BACKGROUND)
    interval_ms = float(ours["token_interval_ms"])  # type: ignore[arg-type]
    interactive_p99 = ours["interactive"]["p99_ms"]  # type: ignore[index]
    print(json.dumps({
        "per_minute": PER_MINUTE, "seconds": SECONDS,
        "background_callers": PROCESSES * THREADS,
        "token_interval_ms": round(interval_ms, 1),
        "with_priorities": ours,
        "reference_without_priorities": reference,
        "ratio_interactive_p99_over_token_interval": round(interactive_p99 / interval_ms, 2),
        "ratio_interactive_p99_over_reference": round(
            interactive_p99 / reference["interactive"]["p99_ms"], 3),  # type: ignore[index]
    }, indent=2))


if __name__ == "__main__":
    main()
