"""The engine loop: one process at a time (a lease in the store) advances every due torrent,
polls many active torrents with one list call, and runs the periodic jobs (library sync)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from core.lifecycle import Lifecycle, backoff
from core.models import Torrent, TorrentState
from core.polling import LIST_POLL_MIN
from core.ports import EngineStore

log = logging.getLogger(__name__)

LEASE_NAME = "engine"
LEASE_TTL = 15.0
LEASE_RENEW = 4.0
IDLE_TICK = 0.5        # another process may have queued work: look this often when idle
CONTROL_THREADS = 8


@dataclass(frozen=True)
class PeriodicJob:
    """Background work run every `interval` seconds (0: never) by the lease holder; when it
    last ran is kept in the store, so a restart does not run it again at once."""

    name: str
    interval: float
    run: Callable[[], object]


def make_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str) -> bool:
    """True when the lease holder was a process on this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent died too may linger unreaped: it holds nothing."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rpartition(")")[2].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


class Engine:
    """Runs Lifecycle steps for due torrents on thread pools, in the lease-holding process."""

    def __init__(self, store: EngineStore, lifecycle: Lifecycle, *, transfer_threads: int,
                 download_action: bool, clock: Callable[[], float] = time.time,
                 owner: str | None = None, jobs: Sequence[PeriodicJob] = ()) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock
        self.owner = owner or make_owner_id()
        self.download_action = download_action
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._inflight: set[int] = set()
        self._guard = threading.Lock()
        self._control = ThreadPoolExecutor(CONTROL_THREADS, thread_name_prefix="engine")
        self._transfers = ThreadPoolExecutor(transfer_threads, thread_name_prefix="transfer")
        self._thread: threading.Thread | None = None
        self._jobs = [job for job in jobs if job.interval > 0]
        self._running_jobs: set[str] = set()
        self._leased_until = 0.0
        self.holds_lease = False

    # -- lifecycle of the loop ----------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching, interrupt transfers (they resume later) and release the lease."""
        self._stop.set()
        self.lifecycle.stop_transfers()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._control.shutdown(wait=True, cancel_futures=True)
        self._transfers.shutdown(wait=True, cancel_futures=True)
        if self.holds_lease:
            self.store.release_lease(LEASE_NAME, self.owner)
            self.holds_lease = False

    def wake(self) -> None:
        """Look for due work now (called after an add or a delete in this process)."""
        self._wake.set()

    def _run(self) -> None:
        log.debug("engine loop started as %s", self.owner)
        while not self._stop.is_set():
            try:
                delay = self.run_once()
            except Exception:
                log.exception("engine loop error")
                delay = 1.0
            self._wake.wait(delay)
            self._wake.clear()
        log.debug("engine loop stopped")

    def _lease(self) -> bool:
        now = self.clock()
        if self.holds_lease and now < self._leased_until - (LEASE_TTL - LEASE_RENEW):
            return True
        holder = self.store.lease_holder(LEASE_NAME, now)
        steal = holder is not None and holder != self.owner and holder_is_dead(holder)
        held = self.store.acquire_lease(LEASE_NAME, self.owner, LEASE_TTL, now,
                                        steal_from_dead=steal)
        if held and not self.holds_lease:
            log.info("this process now runs the background work (%s)", self.owner)
        if not held and self.holds_lease:
            log.warning("lost the background-work lease to %s", holder)
        self.holds_lease = held
        self._leased_until = now + LEASE_TTL if held else 0.0
        return held

    # -- dispatch -----------------------------------------------------------------------------
    def run_once(self) -> float:
        """Dispatch due torrents; returns how long the loop may sleep."""
        if not self._lease():
            return LEASE_RENEW
        now = self.clock()
        self._start_due_jobs(now)
        with self._guard:
            busy = set(self._inflight)
        due = self.store.due_torrents(now, limit=len(busy) + 200)
        busy |= self._poll_by_list(due, busy)
        for torrent in due:
            if torrent.id in busy or self._stop.is_set():
                continue
            transfer = self.download_action and torrent.state is TorrentState.FINALIZING
            with self._guard:
                self._inflight.add(torrent.id)
                busy.add(torrent.id)
            pool = self._transfers if transfer else self._control
            try:
                pool.submit(self._work, torrent.id)
            except RuntimeError:       # shutting down
                with self._guard:
                    self._inflight.discard(torrent.id)
                return IDLE_TICK
        next_due = self.store.next_due_at(exclude=busy)
        if next_due is None:
            return IDLE_TICK
        return max(0.02, min(IDLE_TICK, next_due - self.clock()))

    def _poll_by_list(self, due: list[Torrent], busy: set[int]) -> set[int]:
        """When several torrents of a provider wait on it, one list call refreshes them all
        (those not due yet too). Returns the ids taken over by such a call."""
        providers = {t.provider for t in due if t.id not in busy
                     and self.lifecycle.list_pollable(t)}
        taken: set[int] = set()
        for provider in providers:
            group = [t for t in self.store.torrents_waiting_on(provider)
                     if t.id not in busy and self.lifecycle.list_pollable(t)]
            if len(group) < LIST_POLL_MIN:
                continue
            ids = {t.id for t in group}
            with self._guard:
                self._inflight |= ids
            try:
                self._control.submit(self._refresh, provider, group)
            except RuntimeError:       # shutting down
                with self._guard:
                    self._inflight -= ids
                continue
            taken |= ids
        return taken

    def _refresh(self, provider: str, group: list[Torrent]) -> None:
        try:
            self.lifecycle.refresh(provider, group)
        except Exception:
            log.exception("refreshing %d torrents of %s failed; will retry", len(group),
                          provider)
        finally:
            with self._guard:
                self._inflight -= {t.id for t in group}
            self._wake.set()

    def _start_due_jobs(self, now: float) -> None:
        for job in self._jobs:
            if job.name in self._running_jobs or self._stop.is_set():
                continue
            last = float(self.store.get_meta(f"job-last-run:{job.name}") or 0)
            if now - last < job.interval:
                continue
            self.store.set_meta(f"job-last-run:{job.name}", str(now))
            self._running_jobs.add(job.name)
            try:
                self._control.submit(self._run_job, job)
            except RuntimeError:
                self._running_jobs.discard(job.name)

    def _run_job(self, job: PeriodicJob) -> None:
        try:
            job.run()
        except Exception:
            log.exception("background job %s failed; it runs again at its next time", job.name)
        finally:
            self._running_jobs.discard(job.name)

    def _work(self, torrent_id: int) -> None:
        try:
            self.lifecycle.advance(torrent_id)
        except Exception:
            log.exception("torrent %s: unexpected error; will retry", torrent_id)
            current = self.store.get_torrent(torrent_id)
            if current is not None:
                self.store.update_torrent(torrent_id, attempts=current.attempts + 1,
                                          next_check_at=self.clock() + backoff(
                                              current.attempts, 2.0))
        finally:
            with self._guard:
                self._inflight.discard(torrent_id)
            self._wake.set()

    def idle(self) -> bool:
        with self._guard:
            return not self._inflight
