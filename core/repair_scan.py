"""Repair's scanner: which completed torrents the provider lost, whose links or symlinks are
broken, and whether the run can be trusted at all (the health gate)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from core.arrs import ArrSettings
from core.errors import ProviderError
from core.models import Health, Torrent
from core.ports import DebridProvider, RemoteStatus, RemoteTorrent
from core.ports.arr import ArrError
from core.ports.repair import DiskChecks, LinkProbe, RepairStore

log = logging.getLogger(__name__)
LIST_PAGE = 1000


@dataclass(frozen=True)
class RepairConfig:
    """The repair.* settings, in seconds."""

    max_broken_fraction: float = 0.5
    max_attempts: int = 3
    retry_seconds: float = 3600.0
    skip_streamed_seconds: float = 600.0
    link_checks: int = 100           # files read through their link per run
    readd_wait: float = 15.0         # how long a re-add may take to be ready (cached)
    keep_jobs: int = 50
    symlinks: bool = False           # downloads.action is symlink: check them and the mount


@dataclass
class Finding:
    """A broken torrent: why, which files, and the Arrs' paths that point at it."""

    torrent: Torrent
    reasons: list[str] = field(default_factory=list)
    files: dict[int, str] = field(default_factory=dict)
    arr_paths: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        return "; ".join(dict.fromkeys(self.reasons))


@dataclass
class ScanResult:
    checked: int = 0
    broken: list[Finding] = field(default_factory=list)
    unknown: int = 0                  # torrents whose account could not be listed
    gate: str = ""                    # why nothing may be acted on ("" = the run is sound)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {"checked": self.checked, "broken": len(self.broken), "unknown": self.unknown,
                "gate": self.gate, "notes": self.notes}


def _remote_problem(remote: RemoteTorrent | None, selected: int) -> str | None:
    if remote is None:
        return "the provider no longer has it"
    if remote.status is RemoteStatus.FAILED:
        cause = remote.failure.value if remote.failure else "failed"
        return f"{cause} at the provider" + (f" ({remote.message})" if remote.message else "")
    if remote.status is RemoteStatus.READY and remote.links and not remote.is_archive \
            and len(remote.links) < selected:
        return f"the provider has {len(remote.links)} link(s) for {selected} file(s)"
    return None


class Scanner:
    """Looks at completed torrents, within the background share of each account's budget
    (the caller runs it at background priority)."""

    def __init__(self, store: RepairStore, providers: Mapping[str, DebridProvider],
                 disk: DiskChecks, probe: LinkProbe, config: RepairConfig,
                 arr_roots: Callable[[ArrSettings], list[str]],
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.providers = providers
        self.disk = disk
        self.probe = probe
        self.config = config
        self.arr_roots = arr_roots       # an Arr's root folders (raises ArrError)
        self.clock = clock
        self._listed: set[str] = set()   # the accounts the last scan could list

    def scan(self, torrents: Sequence[Torrent], arrs: Sequence[ArrSettings],
             stopped: Callable[[], bool] = lambda: False) -> ScanResult:
        result = ScanResult()
        if self.config.symlinks:
            problem = self.disk.mount_problem()
            if problem:
                result.gate = problem
                return result
        listed = self._listings({t.provider for t in torrents}, result)
        findings: dict[int, Finding] = {}
        probes = 0
        for torrent in sorted(torrents, key=lambda t: t.health_checked):
            if stopped():
                result.notes.append("stopped before every torrent was checked")
                break
            remotes = listed.get(torrent.provider)
            if remotes is None:
                result.unknown += 1
                continue
            result.checked += 1
            finding = Finding(torrent)
            selected = [f for f in torrent.files if f.selected]
            problem = _remote_problem(remotes.get(torrent.provider_torrent_id), len(selected))
            if problem:
                finding.reasons.append(problem)
            if self.config.symlinks:
                for index, why in self.disk.broken_placements(torrent).items():
                    finding.files[index] = why
                    finding.reasons.append(why)
            if not finding.reasons and selected and probes < self.config.link_checks:
                probes += 1
                unreadable = self.probe.problem(torrent, selected[0])
                if unreadable:
                    finding.files[selected[0].index] = unreadable
                    finding.reasons.append(unreadable)
            if finding.reasons:
                findings[torrent.id] = finding
        if self.config.symlinks and arrs:
            self._arr_folders(torrents, arrs, findings, result)
        result.broken = list(findings.values())
        limit = max(1.0, self.config.max_broken_fraction * result.checked)
        if len(result.broken) > limit:
            result.gate = (f"{len(result.broken)} of {result.checked} torrents checked look "
                           f"broken, more than repair.max_broken_fraction "
                           f"({self.config.max_broken_fraction:g}): that is more likely the "
                           "mount, the network or the provider than the library")
        return result

    def record_health(self, torrents: Sequence[Torrent], result: ScanResult) -> None:
        """Write what a sound run found (a gated run writes nothing: it may be wrong)."""
        if result.gate:
            return
        now = self.clock()
        broken = {f.torrent.id: f for f in result.broken}
        for torrent in torrents:
            if torrent.provider not in self._listed:
                continue
            finding = broken.get(torrent.id)
            if finding is None:      # (no repair runs beside a scan: none is "repairing")
                self.store.set_health(torrent.id, Health.HEALTHY, "", now,
                                      {f.index: (Health.HEALTHY, "") for f in torrent.files
                                       if f.selected})
                continue
            files = {f.index: (Health.HEALTHY, "") for f in torrent.files if f.selected}
            files.update({i: (Health.BROKEN, why) for i, why in finding.files.items()})
            self.store.set_health(torrent.id, Health.BROKEN, finding.reason, now, files)

    def _listings(self, accounts: set[str],
                  result: ScanResult) -> dict[str, dict[str, RemoteTorrent]]:
        """Each account's torrents by id, in big pages; an account that cannot be listed
        now is left out (its torrents stay as they were)."""
        listed: dict[str, dict[str, RemoteTorrent]] = {}
        for name in sorted(accounts):
            provider = self.providers.get(name)
            if provider is None:
                result.notes.append(f"account {name!r} is no longer configured")
                continue
            try:
                listed[name] = {r.id: r for r in provider.list_torrents(page_size=LIST_PAGE)}
            except ProviderError as exc:
                result.notes.append(f"account {name!r} could not be listed: {exc.message}")
                log.info("repair: account %s could not be listed: %s", name, exc.message)
        self._listed = set(listed)
        return listed

    def _arr_folders(self, torrents: Sequence[Torrent], arrs: Sequence[ArrSettings],
                     findings: dict[int, Finding], result: ScanResult) -> None:
        """Broken symlinks in the Arrs' root folders: those that point at a torrent's
        files make it broken; others point at nothing Debridge has, and are left alone."""
        by_target: dict[str, Torrent] = {}
        for torrent in torrents:
            for target in self.disk.placement_targets(torrent):
                by_target[target] = torrent
        roots: list[str] = []
        for arr in arrs:
            try:
                roots.extend(self.arr_roots(arr))
            except ArrError as exc:
                result.notes.append(f"{arr.name}: root folders not read ({exc.message})")
        strangers = 0
        for path, target in self.disk.broken_links_under(sorted(set(roots))):
            owner = by_target.get(target)
            if owner is None:
                strangers += 1
                continue
            finding = findings.setdefault(owner.id, Finding(owner))
            finding.reasons.append("an Arr's file points at a missing file")
            finding.arr_paths.append(path)
        if strangers:
            result.notes.append(f"{strangers} broken symlink(s) in the Arrs' folders point at "
                                "nothing Debridge has: left alone")
