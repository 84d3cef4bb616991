"""Where a torrent's files live on disk, and moving them when a client renames or relocates.

Every placed file of a torrent is under one folder, the torrent's `placed_root`; a file's
`placed` is its path there (complete, or partial with PART_SUFFIX). The store describes
where files should be: save_path/<local folder>/<path>. After setLocation, renameFile,
renameFolder or a deselection the torrent is marked layout_dirty, and the engine (which owns
the torrent at that moment) calls sync_layout.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from core.models import Torrent, TorrentFile
from core.ports import Store

PART_SUFFIX = ".debridge-part"   # files keep this suffix until every byte is written


def content_dir(torrent: Torrent) -> Path:
    return Path(torrent.save_path) / torrent.local_folder


def inside(root: Path, relative: str) -> Path:
    """root/relative, refusing anything that would land outside root."""
    target = root / relative
    if not os.path.normpath(target).startswith(os.path.normpath(root) + os.sep):
        raise OSError(errno.EINVAL, "file path escapes the torrent folder", relative)
    return target


def target_of(torrent: Torrent, f: TorrentFile) -> Path:
    """Where the store says the file belongs."""
    return inside(content_dir(torrent), f.path)


def _exists(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _with_part(path: Path) -> tuple[Path, Path]:
    return path, path.with_name(path.name + PART_SUFFIX)


def prune_empty(start: Path, stop: Path) -> None:
    """Remove empty folders from `start` up to and including `stop` (never above it)."""
    if not start.is_relative_to(stop):
        return
    current = start
    while True:
        with contextlib.suppress(OSError):
            current.rmdir()
        if current == stop:
            return
        current = current.parent


def _remove(path: Path, root: Path) -> None:
    for candidate in _with_part(path):
        if _exists(candidate) and not candidate.is_dir():
            candidate.unlink()
    prune_empty(path.parent, root)


def sync_layout(store: Store, torrent: Torrent) -> None:
    """Make the disk match the store: move placed files to their targets, remove the ones a
    client deselected, then record the new root and clear layout_dirty."""
    old_root = Path(torrent.placed_root) if torrent.placed_root else None
    new_root = content_dir(torrent)
    if old_root is not None:
        for f in torrent.files:
            if not f.placed:
                continue
            old = inside(old_root, f.placed)
            if not f.selected:
                _remove(old, old_root)
                store.update_file(torrent.id, f.index, placed="", done=False)
                continue
            new = target_of(torrent, f)
            if old != new:
                for source, target in zip(_with_part(old), _with_part(new), strict=True):
                    if _exists(source):
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.move(source, target)    # a rename when it can; links as links
                store.update_file(torrent.id, f.index, placed=f.path)
                prune_empty(old.parent, old_root)
        if old_root != new_root:
            prune_empty(old_root, old_root)
    placed_any = any(f.placed and f.selected for f in torrent.files)
    store.update_torrent(torrent.id, layout_dirty=False,
                         placed_root=str(new_root) if placed_any else "")


def remove_placed_files(torrent: Torrent) -> None:
    """Remove the files Debridge put on disk (and partial copies), then the folders left
    empty. Anything else a user keeps there stays, as with qBittorrent."""
    roots = {Path(torrent.placed_root)} if torrent.placed_root else set()
    if torrent.local_folder:
        roots.add(content_dir(torrent))
    for root in roots:
        for f in torrent.files:
            for relative in {f.placed, f.path} - {""}:
                _remove(inside(root, relative), root)
        prune_empty(root, root)
