"""Repairing one broken torrent: re-add it on its account, then the others in order (a cached
copy's links swapped in, the old copy deleted), then hand it back to its Arr."""

from __future__ import annotations

import json
import logging
import posixpath
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from core.errors import ProviderError, ProviderErrorKind
from core.models import Health, Torrent, TorrentFile
from core.ports import CacheCheck, DebridProvider, LinkStore, RemoteStatus, RemoteTorrent
from core.ports.repair import RepairStore
from core.ports.store import ImportedStore, ScheduleStore, TorrentStore
from core.repair_scan import Finding, RepairConfig

log = logging.getLogger(__name__)
Item = dict[str, Any]
RECONCILE_PAGE = 200       # newest torrents looked through for an add a kill cut off


class FixStore(RepairStore, TorrentStore, LinkStore, ImportedStore, ScheduleStore, Protocol):
    """What a repair reads and writes."""


class Repairer:
    """Plans and carries out the repair of one torrent. Each step is saved (`save`) before
    the next: a job cut off by a kill resumes from the copy it had added, and a swap is one
    transaction, so nothing is half applied."""

    def __init__(self, store: FixStore, providers: Mapping[str, DebridProvider],
                 accounts_for: Callable[[str], Sequence[str]],
                 allow_renew: Mapping[str, bool], config: RepairConfig,
                 hand_back: Callable[[Torrent, Item], bool] | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store = store
        self.providers = providers
        self.accounts_for = accounts_for      # a category's accounts, in order (Routing)
        self.allow_renew = allow_renew
        self.config = config
        # queue the Arr's part (False: no Arr owns it); RepairJobs sets it, through the outbox
        self.hand_back = hand_back
        self.clock = clock
        self.sleep = sleep

    # -- the plan ---------------------------------------------------------------------------
    def plan(self, finding: Finding, has_arr: bool) -> Item:
        torrent = finding.torrent
        item: Item = {"hash": torrent.hash, "torrent_id": torrent.id, "name": torrent.name,
                      "category": torrent.category, "provider": torrent.provider,
                      "reason": finding.reason,
                      "files": {str(i): why for i, why in finding.files.items()},
                      "arr_paths": finding.arr_paths, "actions": [], "state": "planned",
                      "step": "", "result": "", "tried": []}
        skip = self._skip(torrent)
        if skip:
            item.update(state="skipped", result=skip)
            return item
        accounts = self._accounts(torrent)
        item["actions"] = [f"re-add on {name}" for name in accounts]
        if has_arr:
            item["actions"].append("hand back to the Arr (mark the grab failed, delete the "
                                   "broken file records, search again)")
        if not item["actions"]:
            item.update(state="skipped", result="nothing may repair it: renewing is off "
                        "(providers[].allow_renew) and no Arr owns its category")
        return item

    def _skip(self, torrent: Torrent) -> str:
        now = self.clock()
        if now - torrent.streamed_at < self.config.skip_streamed_seconds:
            return f"streamed {now - torrent.streamed_at:.0f} s ago: left alone while watched"
        attempts = self.store.get_attempts(torrent.hash)
        if attempts is not None:
            if attempts.attempts >= self.config.max_attempts:
                return (f"gave up after {attempts.attempts} repair attempt(s) "
                        f"(repair.max_attempts): {attempts.last_error}")
            if attempts.next_at > now:
                return f"tried {attempts.attempts} time(s); next attempt in " \
                       f"{attempts.next_at - now:.0f} s"
        return ""

    def _accounts(self, torrent: Torrent) -> list[str]:
        ordered = [torrent.provider] + [a for a in self.accounts_for(torrent.category)
                                        if a != torrent.provider]
        return [a for a in ordered if a in self.providers and self.allow_renew.get(a, True)]

    # -- carrying it out --------------------------------------------------------------------
    def execute(self, item: Item, save: Callable[[Item], None]) -> Item:
        torrent = self.store.get_torrent(int(item["torrent_id"]), with_files=True)
        if torrent is None or torrent.hash != item["hash"]:
            item.update(state="skipped", result="the torrent was deleted meanwhile")
            return item
        self.store.set_health(torrent.id, Health.REPAIRING, item["reason"], self.clock())
        errors: list[str] = []
        for account in self._accounts(torrent):
            if item["step"] == "swapped" or account in item["tried"]:
                continue
            why = self._readd(torrent, account, item, save)
            if why is None:
                self.store.clear_attempts(torrent.hash)
                item.update(state="done", result=f"re-added on {account}; its files are "
                            "read through the same paths")
                return item
            errors.append(f"{account}: {why}")
            item["tried"].append(account)
            item.update(step="", new_account="", new_id="")
            save(item)
        if item["step"] == "swapped":      # resumed after the swap: only the clean-up was left
            self._delete_old(item)
            item.update(state="done", result=f"re-added on {item['new_account']}")
            return item
        why = "; ".join(errors) or "renewing is off for its accounts"
        previous = self.store.get_attempts(torrent.hash)
        retry = self.config.retry_seconds * 2 ** (previous.attempts if previous else 0)
        self.store.record_attempt(torrent.hash, self.clock(), self.clock() + retry, why)
        self.store.set_health(torrent.id, Health.BROKEN, item["reason"], self.clock())
        if self.hand_back is not None and self.hand_back(torrent, item):
            item.update(state="handed_back", result=f"no account had a cached copy ({why}); "
                        "handed to its Arr")
        else:
            item.update(state="failed", result=f"no account had a cached copy ({why}), and "
                        "no Arr owns its category")
        return item

    def _readd(self, torrent: Torrent, account: str, item: Item,
               save: Callable[[Item], None]) -> str | None:
        """Add the torrent on `account` and swap its links in; None when it worked, else
        why not (the new copy, if any, deleted again)."""
        provider = self.providers[account]
        caps = provider.capabilities
        try:
            if caps.cache_check is CacheCheck.NATIVE and not caps.add_only_if_cached and \
                    not provider.check_cached([torrent.hash]).get(torrent.hash, False):
                return "not cached there"
            new_id = str(item.get("new_id") or "") if item.get("new_account") == account \
                else ""
            if not new_id and item.get("step") == "adding" and \
                    item.get("new_account") == account:
                # cut off while adding: the add may have taken effect; never add twice
                new_id = self._added_before(torrent, provider)
            if not new_id:
                item.update(new_account=account, new_id="", step="adding")
                save(item)
                data = self.store.torrent_file_of(torrent.id) if torrent.has_torrent_file \
                    else None
                only = caps.add_only_if_cached
                new_id = provider.add_torrent_file(data, only_if_cached=only) if data \
                    else provider.add_magnet(torrent.magnet, only_if_cached=only)
            item.update(new_account=account, new_id=new_id, step="added")
            save(item)
            remote = self._wait_ready(torrent, provider, new_id)
            if isinstance(remote, str):
                self._drop(provider, new_id)
                return remote
            links = _links(torrent, remote)
            if links is None:
                self._drop(provider, new_id)
                return "its new copy lacks some of the files"
        except ProviderError as exc:
            if item.get("new_id") and exc.kind is not ProviderErrorKind.NOT_FOUND:
                self._drop(provider, str(item["new_id"]))
            return exc.message
        old_provider, old_id = torrent.provider, torrent.provider_torrent_id
        if not self.store.swap_provider_copy(torrent.id, old_id, account, new_id, links,
                                             self.clock()):
            self._drop(provider, new_id)
            return "its copy changed meanwhile"
        for f in torrent.files:
            if f.link:
                self.store.drop_link(old_provider, f.link)
        item.update(step="swapped", old_provider=old_provider, old_id=old_id)
        save(item)
        log.info("torrent %s: repaired: re-added on %s (copy %s), links swapped in", torrent.hash,
                 account, new_id)
        self._delete_old(item)
        return None

    def _added_before(self, torrent: Torrent, provider: DebridProvider) -> str:
        """A copy of the torrent on the account other than the lost one (an add whose answer
        a kill cut off), among its newest torrents; "" if there is none."""
        for count, remote in enumerate(provider.list_torrents(page_size=RECONCILE_PAGE)):
            if count >= RECONCILE_PAGE:
                break
            if remote.hash.lower() == torrent.hash and remote.id != torrent.provider_torrent_id:
                log.info("torrent %s: repair resumes with the copy %s added before the cut",
                         torrent.hash, remote.id)
                return remote.id
        return ""

    def _wait_ready(self, torrent: Torrent, provider: DebridProvider,
                    new_id: str) -> RemoteTorrent | str:
        """The new copy once ready, or why it is no use: only a cached copy repairs (a
        download would leave the library broken for hours)."""
        deadline = self.clock() + self.config.readd_wait
        selected = False
        while True:
            remote = provider.get_torrent(new_id)
            if remote.status is RemoteStatus.READY:
                return remote
            if remote.status is RemoteStatus.FAILED:
                return f"it failed there ({remote.failure.value if remote.failure else ''} " \
                       f"{remote.message})".strip()
            if remote.status is RemoteStatus.WAITING_SELECTION and not selected and \
                    provider.capabilities.file_selection:
                ids = [rf.id for rf in remote.files if _ours(torrent, rf.path)]
                if not ids:
                    return "its new copy lacks the files"
                provider.select_files(new_id, ids)
                selected = True
            if self.clock() >= deadline:
                return "not cached there (it would have to download)"
            self.sleep(1.0)

    def _drop(self, provider: DebridProvider, remote_id: str) -> None:
        try:
            provider.delete_torrent(remote_id)
        except ProviderError as exc:
            log.info("repair: could not delete %s's copy %s: %s", provider.name, remote_id,
                     exc.message)

    def _delete_old(self, item: Item) -> None:
        """Delete the lost copy, unless another entry (or the imported library) uses it."""
        provider = self.providers.get(str(item.get("old_provider", "")))
        old_id = str(item.get("old_id", ""))
        if provider is None or not old_id or \
                self.store.provider_id_users(provider.name, old_id) > 0 or \
                self.store.imported_uses(provider.name, old_id):
            return
        self._drop(provider, old_id)


def _ours(torrent: Torrent, path: str) -> bool:
    return any(f.selected and _same_file(f, path) for f in torrent.files)


def _same_file(file: TorrentFile, path: str) -> bool:
    return path in (file.remote_path, file.path) or \
        posixpath.basename(path) == posixpath.basename(file.source_path)


def _links(torrent: Torrent, remote: RemoteTorrent) -> dict[int, tuple[str, str]] | None:
    """Each selected file's (provider file id, link) in the new copy; None when one has no
    link there."""
    links: dict[int, tuple[str, str]] = {}
    for f in torrent.files:
        if not f.selected:
            continue
        match = next((rf for rf in remote.files if rf.path in (f.remote_path, f.path)), None) \
            or next((rf for rf in remote.files if _same_file(f, rf.path) and
                     rf.size == f.size), None)
        if match is None or not match.link:
            return None
        links[f.index] = (match.id, match.link)
    return links


def arr_context(torrent: Torrent, item: Item, targets: Sequence[str]) -> dict[str, str]:
    """What the Arr's part of a repair needs, as the outbox keeps it."""
    return {"hash": torrent.hash, "category": torrent.category, "name": torrent.name,
            "reason": item.get("reason", ""), "paths": json.dumps(item.get("arr_paths", [])),
            "targets": json.dumps(list(targets))}
