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
from core.naming import has_root_folder
from core.ports import TorrentStore

PART_SUFFIX = ".debridge-part"   # files keep this suffix until every byte is written


def layout_fields(layout: str, paths: list[str], multi_file: bool) -> dict[str, object]:
    """The torrent fields a content layout gives, once the file paths are known. Without a
    root folder, a single file's path is the content name (content_path = save_path/file)."""
    root = has_root_folder(layout, multi_file)
    return {"has_root": root, "content_folder": "" if root or len(paths) != 1 else paths[0]}


def content_dir(torrent: Torrent) -> Path:
    """The folder the files sit in (save_path itself when there is no root folder)."""
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


def prune_empty(start: Path, stop: Path, *, including_stop: bool = True) -> None:
    """Remove empty folders from `start` up to `stop` (never above it)."""
    if not start.is_relative_to(stop):
        return
    current = start
    while current != stop or including_stop:
        with contextlib.suppress(OSError):
            current.rmdir()
        if current == stop:
            return
        current = current.parent


def _remove(path: Path, root: Path, keep_root: bool) -> None:
    for candidate in _with_part(path):
        if _exists(candidate) and not candidate.is_dir():
            candidate.unlink()
    prune_empty(path.parent, root, including_stop=not keep_root)


def sync_layout(store: TorrentStore, torrent: Torrent) -> None:
    """Make the disk match the store: move placed files to their targets, remove the ones a
    client deselected, then record the new root and clear layout_dirty."""
    old_root = Path(torrent.placed_root) if torrent.placed_root else None
    new_root = content_dir(torrent)
    keep = not torrent.has_root          # without a root folder, the root is save_path
    if old_root is not None:
        for f in torrent.files:
            if not f.placed:
                continue
            old = inside(old_root, f.placed)
            if not f.selected:
                _remove(old, old_root, keep)
                store.update_file(torrent.id, f.index, placed="", done=False)
                continue
            new = target_of(torrent, f)
            if old != new:
                for source, target in zip(_with_part(old), _with_part(new), strict=True):
                    if _exists(source):
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.move(source, target)    # a rename when it can; links as links
                store.update_file(torrent.id, f.index, placed=f.path)
                prune_empty(old.parent, old_root, including_stop=not keep)
        if old_root != new_root and not keep:
            prune_empty(old_root, old_root)
    placed_any = any(f.placed and f.selected for f in torrent.files)
    store.update_torrent(torrent.id, layout_dirty=False,
                         placed_root=str(new_root) if placed_any else "")


def remove_placed_files(torrent: Torrent) -> None:
    """Remove the files Debridge put on disk (and partial copies), then the folders left
    empty. Anything else a user keeps there stays, as with qBittorrent."""
    roots = {Path(torrent.placed_root)} if torrent.placed_root else set()
    if torrent.has_metadata:
        roots.add(content_dir(torrent))
    keep = not torrent.has_root          # never remove save_path itself
    for root in roots:
        for f in torrent.files:
            for relative in {f.placed, f.path} - {""}:
                _remove(inside(root, relative), root, keep)
        if not keep:
            prune_empty(root, root)
