"""Names on disk and in the tree: sanitised for every OS, never escaping their folder."""

from __future__ import annotations

import re

VIDEO_EXTENSIONS = frozenset({
    ".mkv", ".mp4", ".avi", ".m4v", ".mov", ".wmv", ".ts", ".m2ts", ".webm", ".mpg", ".mpeg",
    ".vob", ".iso", ".flv",
})
# Characters Windows, macOS or Linux refuse in a file name (and control characters).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
MAX_COMPONENT_BYTES = 240   # leaves room for ".debridge-part" under the usual 255


def sanitize_component(name: str) -> str:
    """One path component that every OS accepts; '' when nothing usable is left."""
    cleaned = _FORBIDDEN.sub("_", name).strip().rstrip(". ")
    if cleaned in ("", ".", ".."):
        return ""
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = "_" + cleaned
    while len(cleaned.encode("utf-8")) > MAX_COMPONENT_BYTES:
        stem, dot, ext = cleaned.rpartition(".")
        keep_extension = dot and 0 < len(ext) <= 8 and stem
        cleaned = stem[:-1] + "." + ext if keep_extension else cleaned[:-1]
    return cleaned


def clean_relpath(path: str) -> str:
    """A root-relative path with '/' separators: no '', '.', '..' or unsafe components."""
    parts = [sanitize_component(p) for p in re.split(r"[/\\]+", path)]
    return "/".join(p for p in parts if p)


def folder_for(name: str) -> str:
    """The content folder of a torrent: its name, without a media extension (single files)."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and f".{ext.lower()}" in VIDEO_EXTENSIONS:
        name = stem
    return sanitize_component(name) or "torrent"


def folder_candidates(name: str, info_hash: str) -> list[str]:
    """The folder, then unique fallbacks when another torrent already has that name."""
    base = folder_for(name)
    return [base, f"{base} [{info_hash[:8]}]", f"{base} [{info_hash}]"]


LAYOUTS = ("Original", "Subfolder", "NoSubfolder")


def has_root_folder(layout: str, multi_file: bool) -> bool:
    """qBittorrent's content layouts: Subfolder always has a root folder, NoSubfolder never,
    Original when the torrent itself has one (multi-file mode, even with one file)."""
    if layout == "NoSubfolder":
        return False
    if layout == "Original":
        return multi_file
    return True


def category_is_valid(name: str) -> bool:
    """qBittorrent's rule: '/'-separated parts, none empty, no leading/trailing '/'."""
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        return False
    if len(name) > 255 or any(ord(c) < 32 for c in name) or "\\" in name:
        return False
    # Stricter than qBittorrent on '.'/'..': a category is also a folder under downloads.
    return all(part not in (".", "..") for part in name.split("/"))
