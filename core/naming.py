"""Names on disk and in the tree: sanitised for every OS, never escaping their folder."""

from __future__ import annotations

import re
import unicodedata

VIDEO_EXTENSIONS = frozenset({
    ".mkv", ".mp4", ".avi", ".m4v", ".mov", ".wmv", ".ts", ".m2ts", ".webm", ".mpg", ".mpeg",
    ".vob", ".iso", ".flv",
})
# Characters Windows, macOS or Linux refuse in a file name (and control characters).
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
MAX_COMPONENT_BYTES = 240   # leaves room for ".debridge-part" under the usual 255
# Characters that change how a name looks without being seen: controls (Cc: \r, \n, \t),
# format characters (Cf: U+202E RIGHT-TO-LEFT OVERRIDE, U+200E, U+2066, U+200B) and the line
# and paragraph separators (Zl, Zp). A name with them can pass for another, or break a log
# line or a client's table.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_REPLACED = "\x00"
_REPLACED_RUN = re.compile(r" *\x00[\x00 ]*")


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) in _INVISIBLE_CATEGORIES


def has_invisible(text: str) -> bool:
    """Whether `text` has a control, format or line/paragraph separator character."""
    # isprintable() is False for all of them (and for a few harmless ones): the fast path.
    return not text.isprintable() and any(_is_invisible(c) for c in text)


def _replace_invisible(text: str, by: str) -> str:
    if text.isprintable():
        return text
    return "".join(by if _is_invisible(c) else c for c in text)


def display_name(name: str) -> str:
    """A torrent name as clients are shown it: each run of invisible characters (and the
    spaces around it) becomes one space, and the ends are stripped. Every name a client or a
    .torrent gives passes here."""
    marked = _replace_invisible(name, _REPLACED)
    return _REPLACED_RUN.sub(" ", marked).strip()


def sanitize_component(name: str) -> str:
    """One path component that every OS accepts; '' when nothing usable is left."""
    cleaned = _replace_invisible(_FORBIDDEN.sub("_", name), "_").strip().rstrip(". ")
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
    """qBittorrent's rule: '/'-separated parts, none empty, no leading/trailing '/' (and, as
    for tags, no invisible characters: a category is also a folder and a label in lists)."""
    if not name or name.startswith("/") or name.endswith("/") or "//" in name:
        return False
    if len(name) > 255 or has_invisible(name) or "\\" in name:
        return False
    # Stricter than qBittorrent on '.'/'..': a category is also a folder under downloads.
    return all(part not in (".", "..") for part in name.split("/"))
