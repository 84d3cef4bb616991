"""What repair's scanner reads of the disk (the mount, the placed symlinks, the Arrs'
folders) and of the CDN (a torrent's first byte), and when a torrent was last streamed."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import DebridgeError
from core.layout import target_of
from core.models import Torrent, TorrentFile, TreeEntry, TreeFile
from core.ports import FileReader
from core.priority import Priority

log = logging.getLogger(__name__)
TREE_TOP = "__all__"          # what the mount must show (the symlinks point under it)
MAX_WALKED = 200_000          # entries looked at under the Arrs' folders per scan
STREAM_NOTE_EVERY = 60.0      # a torrent's streamed-at is written at most this often


def symlink_target(path: str) -> str | None:
    """Where a symlink points (None: not a symlink, or unreadable)."""
    try:
        return os.readlink(path)
    except OSError:
        return None


class Disk:
    """core.ports.repair.DiskChecks over the local file system."""

    def __init__(self, mount_path: Path | None) -> None:
        self.mount_path = mount_path

    def mount_problem(self) -> str | None:
        if self.mount_path is None:
            return None
        top = self.mount_path / TREE_TOP
        try:
            with os.scandir(top) as entries:
                empty = next(entries, None) is None
        except OSError as exc:
            return (f"the mount {self.mount_path} cannot be read ({exc.strerror or exc}): is "
                    "rclone running? Repair acts on nothing until it is back")
        if empty:
            return (f"the mount {self.mount_path} shows an empty {TREE_TOP}: is rclone "
                    "running? Repair acts on nothing until it is back")
        return None

    def broken_placements(self, torrent: Torrent) -> dict[int, str]:
        broken: dict[int, str] = {}
        for f in torrent.files:
            if not (f.selected and f.done):
                continue
            link = target_of(torrent, f)
            # a link an Arr moved away is not broken; one that points at nothing is
            if link.is_symlink() and not link.exists():
                broken[f.index] = f"the symlink {link.name} points at a missing file"
        return broken

    def placement_targets(self, torrent: Torrent) -> list[str]:
        if self.mount_path is None:
            return []
        return [str(self.mount_path / TREE_TOP / torrent.folder / f.source_path)
                for f in torrent.files if f.selected]

    def broken_links_under(self, roots: Sequence[str]) -> list[tuple[str, str]]:
        if self.mount_path is None:
            return []
        mount = str(self.mount_path).rstrip("/") + "/"
        found: list[tuple[str, str]] = []
        walked = 0
        for root in roots:
            for folder, dirs, files in os.walk(root):
                walked += len(files) + len(dirs)
                if walked > MAX_WALKED:
                    log.info("repair: stopped walking the Arrs' folders after %d entries",
                             MAX_WALKED)
                    return found
                for name in files:
                    path = os.path.join(folder, name)
                    target = symlink_target(path)
                    if target is not None and target.startswith(mount) and \
                            not os.path.exists(path):
                        found.append((path, target))
        return found


class StreamProbe:
    """core.ports.repair.LinkProbe: resolves the file's link and reads its first byte (a
    `Range: bytes=0-0` at the CDN), at background priority."""

    def __init__(self, reader: Callable[[TreeEntry, TreeFile, Priority], FileReader]) -> None:
        self.reader = reader

    def problem(self, torrent: Torrent, file: TorrentFile) -> str | None:
        if not file.link:
            return "the file has no provider link"
        entry = TreeEntry(base=torrent.folder, hash=torrent.hash, provider=torrent.provider,
                          size=torrent.size, modified=float(torrent.completion_on),
                          torrent_id=torrent.id)
        reader = self.reader(entry, TreeFile(file.source_path, file.size, file.link,
                                             str(file.index)), Priority.BACKGROUND)
        try:
            reader.expect(1)
            if not reader.read(1) and file.size > 0:
                return "its link gave no byte"
        except DebridgeError as exc:
            return f"its link cannot be read ({exc})"
        finally:
            reader.close()
        return None


class StreamedMarker:
    """Notes in the store when a torrent is streamed, at most once a minute per torrent per
    process (every read of a WebDAV range opens a stream)."""

    def __init__(self, mark: Callable[[int, float], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.mark = mark
        self.clock = clock
        self._noted: dict[int, float] = {}
        self._lock = threading.Lock()

    def __call__(self, entry: TreeEntry) -> None:
        if not entry.torrent_id:
            return
        now = self.clock()
        with self._lock:
            if now - self._noted.get(entry.torrent_id, 0.0) < STREAM_NOTE_EVERY:
                return
            if len(self._noted) > 10_000:
                self._noted.clear()
            self._noted[entry.torrent_id] = now
        self.mark(entry.torrent_id, now)
