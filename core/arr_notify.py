"""Telling the Arrs, from the outbox: a failed download's grab marked failed, a completed one
picked up at once, a torrent repair could not save handed back for a new search."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from core.arrs import ArrDirectory, ArrSettings
from core.ports import HookCall, HookFailed, HookSkipped
from core.ports.arr import ArrApi, ArrError, HistoryRecord, MediaFile
from core.ports.hooks import ArrCall

log = logging.getLogger(__name__)


def _failed(arr: ArrSettings, exc: ArrError) -> HookFailed | None:
    """A retryable Arr error as the outbox's failure (it tries again later); None when
    trying again cannot help."""
    if exc.retryable:
        return HookFailed(f"{arr.name}: {exc.message}")
    log.info("%s: %s", arr.name, exc.message)
    return None


class ArrNotifier:
    """core.ports.HookSender for ArrCall. `link_target` reads where a symlink points (None:
    not a symlink), to know which of an Arr's files are this torrent's."""

    def __init__(self, directory: ArrDirectory,
                 link_target: Callable[[str], str | None]) -> None:
        self.directory = directory
        self.link_target = link_target

    def send(self, call: HookCall, timeout: float) -> None:
        if not isinstance(call, ArrCall):
            raise HookSkipped("not an Arr notice")
        context = call.context
        category = context.get("category", "")
        if call.event not in ("failed", "completed", "repair"):
            raise HookSkipped(f"unknown Arr notice {call.event!r}")
        owners = [a for a in self.directory.owners(category)
                  if (call.event != "failed" or a.mark_failed)
                  and (call.event != "completed" or a.refresh_on_complete)]
        if not owners:
            raise HookSkipped(f"no Arr takes this notice for category {category!r}")
        told: list[str] = []
        retry: HookFailed | None = None
        for arr in owners:
            client = self.directory.client(arr)
            try:
                if self._tell(call.event, arr, client, context):
                    told.append(arr.name)
            except ArrError as exc:
                retry = _failed(arr, exc) or retry
        if retry is not None:
            raise retry
        if not told:
            raise HookSkipped(f"no Arr of category {category!r} has a grab or file of it")

    def _tell(self, event: str, arr: ArrSettings, client: ArrApi,
              context: dict[str, str]) -> bool:
        info_hash = context.get("hash", "")
        if event == "completed":
            client.refresh_monitored_downloads()
            log.info("torrent %s: %s polls its download clients now", info_hash, arr.name)
            return True
        grabs = client.grabs(info_hash)
        if event == "failed":
            if not grabs:
                return False
            client.mark_failed(grabs[0].id)
            log.info("torrent %s: marked failed in %s (%s): it blocklists the release and "
                     "searches again", info_hash, arr.name, context.get("message", ""))
            return True
        return self._hand_back(arr, client, context, grabs)

    def _hand_back(self, arr: ArrSettings, client: ArrApi, context: dict[str, str],
                   grabs: Sequence[HistoryRecord]) -> bool:
        """Repair gave up on the torrent: mark its grab failed, delete the Arr's file records
        that are this torrent's (and only those), and search for them again."""
        info_hash = context.get("hash", "")
        paths = set(json.loads(context.get("paths", "[]")))
        targets = set(json.loads(context.get("targets", "[]")))
        items = {g.item_id for g in grabs}
        for path in paths:
            item = client.item_for_path(path)
            if item is not None:
                items.add(item.id)
        mine: list[MediaFile] = []
        for item_id in sorted(items):
            for media in client.files(item_id):
                if media.path in paths or self.link_target(media.path) in targets:
                    mine.append(media)
        if not grabs and not mine:
            return False
        if grabs:
            client.mark_failed(grabs[0].id)
        for media in mine:
            client.delete_file(media.id)
        if grabs:
            client.search(sorted({g.search_id for g in grabs}))
        elif mine:
            client.search_files(mine)
        log.info("torrent %s: handed back to %s (grab marked failed: %s; %d broken file "
                 "record(s) deleted; searching again)", info_hash, arr.name,
                 "yes" if grabs else "no grab found", len(mine))
        return True
