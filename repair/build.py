"""Repair wired from the settings: the scanner, the repairer and the jobs (called by app.py)."""

from __future__ import annotations

from collections.abc import Mapping

from browse.stream import Streams
from core.arrs import ArrDirectory
from core.engine import PeriodicJob
from core.ports import DebridProvider
from core.repair_fix import FixStore, Repairer
from core.repair_jobs import RepairJobs
from core.repair_scan import RepairConfig, Scanner
from core.routing import Routing
from core.settings import Settings
from repair.checks import Disk, StreamProbe


def repair_config(settings: Settings) -> RepairConfig:
    return RepairConfig(
        max_broken_fraction=settings["repair.max_broken_fraction"],
        max_attempts=settings["repair.max_attempts"],
        retry_seconds=settings["repair.retry_minutes"] * 60,
        skip_streamed_seconds=settings["repair.skip_streamed_minutes"] * 60,
        link_checks=settings["repair.link_checks_per_run"],
        readd_wait=settings["repair.readd_wait_seconds"],
        symlinks=settings["downloads.action"] == "symlink")


def build_repair(settings: Settings, store: FixStore, providers: Mapping[str, DebridProvider],
                 streams: Streams, directory: ArrDirectory, routing: Routing,
                 owner: str) -> tuple[RepairJobs, list[PeriodicJob]]:
    """The repair jobs (start() runs them, in the lease holder) and the periodic scan."""
    config = repair_config(settings)
    disk = Disk(settings.mount_path if config.symlinks else None)
    scanner = Scanner(store, providers, disk, StreamProbe(streams.reader), config,
                      arr_roots=lambda arr: directory.client(arr).root_folders())
    repairer = Repairer(store, providers, routing.accounts,
                        {p.name: p.allow_renew for p in settings.providers}, config)
    jobs = RepairJobs(store, scanner, repairer, directory, config, owner=owner,
                      targets=disk.placement_targets,
                      auto_repair=settings["repair.auto_repair"])
    return jobs, [PeriodicJob("repair-scan", settings["repair.interval_minutes"] * 60,
                              jobs.schedule)]
