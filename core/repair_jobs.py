"""Repair jobs: what the routes and the UI ask (create, process, stop, delete, status) and the
loop that runs them in the process holding the background lease."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from core.arrs import ArrDirectory, ArrSettings
from core.engine import LEASE_NAME, holder_is_dead
from core.errors import DebridgeError, InvalidInput, NotFound
from core.models import Torrent
from core.ports.arr import ArrError
from core.ports.repair import RUNNING, JobConflict, JobState, RepairJob
from core.priority import Priority, work_priority
from core.repair_fix import FixStore, Item, Repairer, arr_context
from core.repair_scan import RepairConfig, Scanner

log = logging.getLogger(__name__)
_HASH = re.compile(r"([0-9a-fA-F]{40}|[A-Za-z2-7]{32})\Z")
_ARR_ID = re.compile(r"[0-9]{1,18}\Z")      # an Arr's media id (ASCII digits only)
MAX_IDS = 1000
TICK_SECONDS = 1.0       # how soon a created job starts (a cheap look at the jobs table)
J = JobState


class RunConflict(DebridgeError):
    """Another repair job is scanning or processing, or the job is not in a state for it."""

    status = 409


def job_view(job: RepairJob) -> dict[str, Any]:
    """A job as the API shows it."""
    return {"id": job.id, "status": job.state.value, "trigger": job.trigger,
            "dry_run": job.dry_run, "auto_process": job.auto_process, "arrs": list(job.arrs),
            "media_ids": list(job.media_ids), "created_at": job.created,
            "started_at": job.started or None, "finished_at": job.finished or None,
            "error": job.error, "summary": dict(job.summary),
            "broken_items": [dict(item) for item in job.plan]}


class RepairJobs:
    def __init__(self, store: FixStore, scanner: Scanner, repairer: Repairer,
                 directory: ArrDirectory, config: RepairConfig, *, owner: str,
                 targets: Callable[[Torrent], list[str]], auto_repair: bool = False,
                 owner_is_dead: Callable[[str], bool] = holder_is_dead,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.scanner = scanner
        self.repairer = repairer
        self.directory = directory
        self.config = config
        self.owner = owner
        self.targets = targets            # where a torrent's symlinks point (repair.checks)
        self.auto_repair = auto_repair
        self.owner_is_dead = owner_is_dead
        self.clock = clock
        repairer.hand_back = self._hand_back
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- use cases ------------------------------------------------------------------------
    def create(self, *, arrs: Sequence[str] = (), media_ids: Sequence[str] = (),
               auto_process: bool = False, dry_run: bool = False,
               trigger: str = "api") -> RepairJob:
        try:
            self.directory.named(arrs)
        except KeyError as exc:
            raise InvalidInput(f"no Arr named {exc.args[0]!r} (GET /api/arrs lists them)") \
                from None
        if len(media_ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} mediaIds")
        for media_id in media_ids:
            if not (_HASH.match(media_id) or _ARR_ID.match(media_id)):
                raise InvalidInput(f"mediaIds: {media_id[:60]!r} is neither an info-hash nor "
                                   "an Arr's media id")
        media_ids = list(dict.fromkeys(media_ids))
        if any(_ARR_ID.match(m) for m in media_ids) and not arrs:
            raise InvalidInput("mediaIds that are an Arr's ids need `arrs` (whose ids they are)")
        job = RepairJob(0, self.clock(), J.SCANNING, trigger=trigger, dry_run=dry_run,
                        auto_process=auto_process, arrs=tuple(dict.fromkeys(arrs)),
                        media_ids=tuple(m.lower() if _HASH.match(m) else m for m in media_ids))
        try:
            created = self.store.create_repair_job(job)
        except JobConflict:
            raise RunConflict("a repair job is already scanning or processing; wait for it, "
                              "or stop it (POST /api/repair/jobs/{id}/stop)") from None
        log.info("repair job %d created (%s%s)", created.id, trigger,
                 ", dry run" if dry_run else "")
        return created

    def jobs(self, limit: int = 50) -> list[RepairJob]:
        return self.store.list_repair_jobs(limit)

    def job(self, job_id: int) -> RepairJob:
        job = self.store.get_repair_job(job_id)
        if job is None:
            raise NotFound(f"no repair job {job_id}")
        return job

    def process(self, job_id: int) -> RepairJob:
        job = self.job(job_id)
        if job.state is not J.PENDING:
            raise RunConflict(f"job {job_id} is {job.state.value}: only a pending job is "
                              "processed")
        try:
            if not self.store.update_repair_job(job_id, from_states=[J.PENDING],
                                                state=J.PROCESSING, owner=""):
                raise RunConflict(f"job {job_id} changed meanwhile")
        except JobConflict:
            raise RunConflict("another repair job is scanning or processing") from None
        return self.job(job_id)

    def stop_job(self, job_id: int) -> RepairJob:
        job = self.job(job_id)
        if job.state is J.PENDING:
            self.store.update_repair_job(job_id, from_states=[J.PENDING], state=J.STOPPED,
                                         finished=self.clock())
        elif job.state in RUNNING:
            self.store.update_repair_job(job_id, stop_requested=True)
        else:
            raise RunConflict(f"job {job_id} is {job.state.value}: nothing to stop")
        return self.job(job_id)

    def delete(self, job_id: int) -> None:
        job = self.job(job_id)
        if job.state in RUNNING:
            raise RunConflict(f"job {job_id} is {job.state.value}: stop it first")
        self.store.delete_repair_job(job_id)

    def status(self) -> dict[str, Any]:
        jobs = self.store.list_repair_jobs(20)
        running = next((j for j in jobs if j.state in RUNNING), None)
        last = next((j for j in jobs if j.state not in RUNNING and j.state is not J.PENDING),
                    None)
        alert = str(last.summary.get("gate", "")) if last is not None else ""
        return {"health": self.store.health_counts(),
                "running": job_view(running) if running else None,
                "last_run": job_view(last) if last else None,
                "alert": alert or None}

    # -- the loop (lease holder) ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="repair", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop between two steps (a job in progress resumes at the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.store.lease_holder(LEASE_NAME, self.clock()) == self.owner:
                    self.tick()
            except Exception:
                log.exception("repair: loop error")
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()

    def schedule(self) -> None:
        """The periodic scan (repair.interval_minutes)."""
        try:
            self.create(trigger="interval", auto_process=self.auto_repair)
        except RunConflict:
            log.info("repair: the periodic scan waits: a job is running")

    def tick(self) -> None:
        """Run what is due: a job scanning or processing that no live process runs."""
        for job in self.store.list_repair_jobs(20):
            if job.state not in RUNNING:
                continue
            if self._stop.is_set():
                return
            if job.owner and job.owner != self.owner and not self.owner_is_dead(job.owner):
                continue
            if job.owner and job.owner != self.owner:
                log.warning("repair job %d was cut off (%s was stopped): it resumes", job.id,
                            job.owner)
            self.store.update_repair_job(job.id, owner=self.owner,
                                         started=job.started or self.clock())
            with work_priority(Priority.BACKGROUND):
                try:
                    self._run(self.job(job.id))
                except Exception as exc:
                    log.exception("repair job %d failed", job.id)
                    self.store.update_repair_job(job.id, state=J.FAILED, finished=self.clock(),
                                                 error=f"{type(exc).__name__}: {exc}")
            self.store.prune_repair_jobs(self.config.keep_jobs)

    def _run(self, job: RepairJob) -> None:
        if job.state is J.SCANNING:
            job = self._scan(job)
        if job.state is J.PROCESSING:
            self._process(job)

    def _stopping(self, job_id: int) -> bool:
        job = self.store.get_repair_job(job_id)
        return job is None or job.stop_requested

    def _scan(self, job: RepairJob) -> RepairJob:
        arrs = self.directory.named(job.arrs)
        torrents = self._candidates(job, arrs)
        result = self.scanner.scan(torrents, arrs, lambda: self._stopping(job.id))
        summary: dict[str, Any] = {**result.summary(), "dry_run": job.dry_run}
        if result.gate:
            log.warning("repair job %d acts on nothing: %s", job.id, result.gate)
            self._finish(job, J.COMPLETED, summary=summary)
            return self.job(job.id)
        if not job.dry_run:
            self.scanner.record_health(torrents, result)
        plan = [self.repairer.plan(f, bool(self.directory.owners(f.torrent.category)))
                for f in result.broken]
        log.info("repair job %d: %d checked, %d broken%s", job.id, result.checked,
                 len(result.broken), " (dry run: nothing is changed)" if job.dry_run else "")
        if self._stopping(job.id):
            self._finish(job, J.STOPPED, plan=plan, summary=summary)
            return self.job(job.id)
        if job.dry_run or not any(item["state"] == "planned" for item in plan):
            self._finish(job, J.COMPLETED, plan=plan, summary=summary)
        else:
            self.store.update_repair_job(job.id, plan=plan, summary=summary,
                                         state=J.PROCESSING if job.auto_process else J.PENDING)
        return self.job(job.id)

    def _candidates(self, job: RepairJob, arrs: Sequence[ArrSettings]) -> list[Torrent]:
        categories = sorted({c for a in arrs for c in a.categories}) if job.arrs else None
        hashes = [m for m in job.media_ids if not _ARR_ID.match(m)]
        torrents = self.store.completed_torrents(categories=categories)
        if not job.media_ids:
            return torrents
        wanted = {int(m) for m in job.media_ids if _ARR_ID.match(m)}
        chosen = [t for t in torrents if t.hash in hashes]
        for torrent in torrents:
            if not wanted or torrent in chosen:
                continue
            for arr in arrs:
                if torrent.category not in arr.categories:
                    continue
                try:
                    grabs = self.directory.client(arr).grabs(torrent.hash)
                except ArrError as exc:
                    raise InvalidInput(f"{arr.name}: {exc.message}") from None
                if any(wanted & {g.item_id, g.search_id} for g in grabs):
                    chosen.append(torrent)
                    break
        return chosen

    def _process(self, job: RepairJob) -> None:
        plan: list[Item] = [dict(item) for item in job.plan]

        def save(index: int, item: Item) -> None:
            plan[index] = item
            self.store.update_repair_job(job.id, plan=plan)

        for index, item in enumerate(plan):
            if item.get("state") not in ("planned", "running"):
                continue
            if self._stop.is_set():
                return                  # this process stops: the job resumes at the next start
            if self._stopping(job.id):
                self._finish(job, J.STOPPED, plan=plan)
                return
            item["state"] = "running"
            save(index, item)
            done = self.repairer.execute(item, functools.partial(save, index))
            save(index, done)
        counts: dict[str, int] = {}
        for item in plan:
            counts[item["state"]] = counts.get(item["state"], 0) + 1
        self._finish(job, J.COMPLETED, plan=plan,
                     summary={**job.summary, "results": counts})

    def _finish(self, job: RepairJob, state: JobState, **fields: Any) -> None:
        self.store.update_repair_job(job.id, state=state, finished=self.clock(), **fields)
        log.info("repair job %d %s", job.id, state.value)

    def _hand_back(self, torrent: Torrent, item: Item) -> bool:
        if not self.directory.owners(torrent.category):
            return False
        self.store.queue_arr_notice(torrent.id, torrent.hash, "repair",
                                    arr_context(torrent, item, self.targets(torrent)),
                                    self.clock())
        return True
