"""Library use cases that edit torrents: names, places, files, trackers, flags, limits, queue."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from core.errors import (
    InvalidFileId,
    InvalidPath,
    InvalidPriority,
    InvalidSavePath,
    InvalidTorrentName,
    InvalidTrackerUrl,
    MetadataMissing,
    QueueingDisabled,
    SavePathUnusable,
    SelectionLocked,
    TrackerExists,
    TrackerNotFound,
)
from core.models import Torrent, TorrentState
from core.naming import clean_relpath, display_name, sanitize_component
from core.ports import LibraryStore
from core.preferences import Preferences

S = TorrentState
PRIORITIES = frozenset({0, 1, 6, 7})
LAYOUT_WAIT_SECONDS = 10.0
# Until the provider has fixed the selection, a client's priorities decide what is selected.
SELECTABLE_STATES = (S.QUEUED, S.SUBMITTING, S.RESOLVING)


class LibraryEdits:
    """Mixed into Library: needs its store, clock, wake and wait_for."""

    store: LibraryStore
    clock: Callable[[], float]
    wake: Callable[[], None]
    preferences: Preferences

    @property
    def downloads_folder(self) -> Path:
        raise NotImplementedError

    def wait_for(self, ids: Sequence[int], done: Callable[[Torrent | None], bool],
                 timeout: float) -> list[Torrent | None]:
        raise NotImplementedError

    def torrent(self, info_hash: str, *, with_files: bool = True) -> Torrent:
        raise NotImplementedError

    def _select(self, hashes: Iterable[str] | None) -> list[Torrent]:
        raise NotImplementedError

    def _relayout(self, torrents: Sequence[Torrent], **fields: Any) -> None:
        """Record a new layout and wait (bounded) until the engine moved the files."""
        for torrent in torrents:
            self.store.update_torrent(torrent.id, layout_dirty=True, next_check_at=0, **fields)
        if torrents:
            self.wake()
            self.wait_for([t.id for t in torrents], lambda t: t is None or not t.layout_dirty,
                          LAYOUT_WAIT_SECONDS)

    # -- names and places ---------------------------------------------------------------------
    def rename(self, info_hash: str, name: str) -> None:
        """The displayed name only (files stay, as in qBittorrent); checked before the hash."""
        name = display_name(name)
        if not name or len(name) > 1024:
            raise InvalidTorrentName(name)
        self.store.update_torrent(self.torrent(info_hash, with_files=False).id, name=name)

    def set_location(self, hashes: Iterable[str] | None, location: str) -> None:
        """Move torrents' files to another save path (relative: under the default save
        path, as qBittorrent resolves it; never the process's working directory)."""
        location = location.strip()
        if not location or "\x00" in location:
            raise InvalidSavePath(location)
        path = Path(os.path.normpath(Path(self.downloads_folder) / location))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            raise SavePathUnusable(location, creatable=False) from None
        if not os.access(path, os.W_OK | os.X_OK):
            raise SavePathUnusable(location, creatable=True)
        chosen = [t for t in self._select(hashes) if t.save_path != str(path)]
        self._relayout(chosen, save_path=str(path), auto_tmm=False)

    def rename_file(self, info_hash: str, old_path: str, new_path: str) -> None:
        torrent = self.torrent(info_hash)
        old, new = self._rename_paths(torrent, old_path, new_path)
        files = {f.path: f for f in torrent.files}
        if old not in files:
            raise InvalidPath(f"No such file: '{old_path}'.")
        if new in files or any(p.startswith(new + "/") for p in files):
            raise InvalidPath(f"The file already exists: '{new_path}'.")
        if old != new:
            self.store.update_file(torrent.id, files[old].index, path=new)
            if not torrent.has_root and torrent.content_folder == old:
                # the single file is the content: content_path follows it
                self._relayout([torrent], content_folder=new)
            else:
                self._relayout([torrent])

    def rename_folder(self, info_hash: str, old_path: str, new_path: str) -> None:
        torrent = self.torrent(info_hash)
        root = self._root(torrent)
        if root and clean_relpath(old_path) == root:
            # The torrent's own folder: its content folder changes (content_path follows).
            new_root = clean_relpath(new_path)
            if not new_root or "/" in new_root or new_path.startswith("/"):
                raise InvalidPath(f"The new path is invalid: '{new_path}'.")
            if new_root != root:
                self._relayout([torrent], content_folder=new_root)
            return
        old, new = self._rename_paths(torrent, old_path, new_path)
        moved = [f for f in torrent.files if f.path.startswith(old + "/")]
        if not moved:
            raise InvalidPath(f"No such folder: '{old_path}'.")
        if any(f.path == new or f.path.startswith(new + "/") for f in torrent.files):
            raise InvalidPath(f"The folder already exists: '{new_path}'.")
        for f in moved:
            self.store.update_file(torrent.id, f.index, path=new + f.path[len(old):])
        self._relayout([torrent])

    @staticmethod
    def _root(torrent: Torrent) -> str:
        """The root folder torrents/files names start with ("" when there is none)."""
        if not torrent.has_root:
            return ""
        return torrent.local_folder or sanitize_component(torrent.origin_name or torrent.name)

    def _rename_paths(self, torrent: Torrent, old_path: str,
                      new_path: str) -> tuple[str, str]:
        """torrents/files names ([root/]path) as paths inside the torrent's folder."""
        root = self._root(torrent)
        prefix = f"{root}/" if root else ""
        old = clean_relpath(old_path)
        if not old.startswith(prefix) or old != old_path.strip("/") or old == root:
            raise InvalidPath(f"The old path is invalid: '{old_path}'.")
        if new_path.startswith("/"):
            raise InvalidPath(f"Absolute path isn't allowed: '{new_path}'.")
        new = clean_relpath(new_path)
        if not new.startswith(prefix) or new != new_path.strip("/") or new == root:
            raise InvalidPath(f"The new path is invalid: '{new_path}'.")
        return old[len(prefix):], new[len(prefix):]

    # -- files ----------------------------------------------------------------------------------
    def file_priority(self, info_hash: str, ids: str, priority: int) -> None:
        """qBittorrent's filePrio: 0 drops a file (it leaves content_path); before the
        provider's selection any priority decides what gets selected."""
        if priority not in PRIORITIES:
            raise InvalidPriority(str(priority))
        torrent = self.torrent(info_hash)
        if not torrent.has_metadata or not torrent.files:
            raise MetadataMissing(info_hash)
        try:
            indexes = {int(part) for part in ids.split("|")}
        except ValueError:
            raise InvalidFileId(ids, numeric=False) from None
        by_index = {f.index: f for f in torrent.files}
        if not indexes <= set(by_index):
            raise InvalidFileId(ids, numeric=True)
        open_selection = torrent.state in SELECTABLE_STATES
        if priority > 0 and not open_selection and any(
                not by_index[i].selected for i in indexes):
            raise SelectionLocked(info_hash)
        for index in indexes:
            fields: dict[str, Any] = {"priority": priority}
            if open_selection:
                fields["selected"] = priority > 0
            elif priority == 0:
                fields["selected"] = False
            self.store.update_file(torrent.id, index, **fields)
        if priority == 0 and not open_selection:
            self.store.update_torrent(torrent.id, size=sum(
                f.size for f in torrent.files if f.selected and f.index not in indexes))
            self._relayout([torrent])

    # -- trackers -------------------------------------------------------------------------------
    @staticmethod
    def _tracker_url(url: str) -> str | None:
        url = url.strip()
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https", "udp", "wss", "ws") or not parsed.netloc \
                or len(url) > 2048 or any(c in url for c in "\x00\r\n\t "):
            return None
        return url

    def add_trackers(self, info_hash: str, urls: str) -> None:
        """Add tracker URLs (one per line); lines that are not URLs are skipped."""
        torrent = self.torrent(info_hash, with_files=False)
        trackers = list(torrent.trackers)
        for line in urls.splitlines():
            url = self._tracker_url(line)
            if url and url not in trackers:
                trackers.append(url)
        self.store.update_torrent(torrent.id, trackers="\n".join(trackers))

    def edit_tracker(self, info_hash: str, old_url: str, new_url: str) -> None:
        torrent = self.torrent(info_hash, with_files=False)
        new = self._tracker_url(new_url)
        if new is None:
            raise InvalidTrackerUrl(new_url)
        if old_url == new:
            return
        if new in torrent.trackers:
            raise TrackerExists(new)
        if old_url not in torrent.trackers:
            raise TrackerNotFound(old_url)
        trackers = [new if t == old_url else t for t in torrent.trackers]
        self.store.update_torrent(torrent.id, trackers="\n".join(trackers))

    def remove_trackers(self, info_hash: str, urls: str) -> None:
        """Remove tracker URLs (`|`-separated); unknown ones are ignored."""
        torrent = self.torrent(info_hash, with_files=False)
        remove = {urllib.parse.unquote(u) for u in urls.split("|")} | set(urls.split("|"))
        kept = [t for t in torrent.trackers if t not in remove]
        if kept != list(torrent.trackers):
            self.store.update_torrent(torrent.id, trackers="\n".join(kept))

    # -- flags and limits -----------------------------------------------------------------------
    def set_flag(self, hashes: Iterable[str] | None, flag: str, value: bool | None) -> None:
        """Set (value) or toggle (None) a per-torrent flag clients may keep."""
        for torrent in self._select(hashes):
            current = bool(getattr(torrent, flag))
            wanted = (not current) if value is None else value
            if wanted != current:
                self.store.update_torrent(torrent.id, **{flag: wanted})

    def set_limit(self, hashes: Iterable[str] | None, which: str, limit: int) -> None:
        for torrent in self._select(hashes):
            self.store.update_torrent(torrent.id, **{which: max(0, limit)})

    def recheck(self, hashes: Iterable[str] | None) -> None:
        """Check a finished torrent's files again: missing ones are placed again."""
        now = self.clock()
        for torrent in self._select(hashes):
            if torrent.state is S.COMPLETED:
                self.store.transition(torrent.id, [S.COMPLETED], S.FINALIZING, now,
                                      next_check_at=0, progress=0.0)
        self.wake()

    # -- queue ----------------------------------------------------------------------------------
    def move_in_queue(self, hashes: Iterable[str] | None, how: str) -> None:
        """topPrio / bottomPrio / increasePrio / decreasePrio (queueing must be enabled)."""
        if not self.preferences.honoured()["queueing_enabled"]:
            raise QueueingDisabled()
        queue = sorted((t for t in self.store.list_torrents()
                        if t.state in (S.QUEUED, S.SUBMITTING, S.RESOLVING, S.DOWNLOADING)),
                       key=lambda t: (t.queue_position, t.id))
        chosen = {t.id for t in self._select(hashes)}
        order = [t.id for t in queue]
        if how == "top":
            order = [i for i in order if i in chosen] + [i for i in order if i not in chosen]
        elif how == "bottom":
            order = [i for i in order if i not in chosen] + [i for i in order if i in chosen]
        else:
            step = -1 if how == "increase" else 1
            indexes = range(len(order)) if step < 0 else range(len(order) - 1, -1, -1)
            for i in indexes:
                j = i + step
                if order[i] in chosen and 0 <= j < len(order) and order[j] not in chosen:
                    order[i], order[j] = order[j], order[i]
        for position, torrent_id in enumerate(order, start=1):
            self.store.update_torrent(torrent_id, queue_position=position)
        self.wake()
