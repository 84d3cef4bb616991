"""Which files of a torrent to ask the provider for: the videos, without samples and extras."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.naming import VIDEO_EXTENSIONS

# Folders that hold bonus material, and file-name endings that mark a sample or trailer.
# Only the end of a name counts, so "Sample.Show.S01E01.mkv" is still an episode.
EXTRA_FOLDERS = frozenset({
    "sample", "samples", "extras", "extra", "featurettes", "featurette", "trailers", "trailer",
    "bonus", "behind the scenes", "deleted scenes", "interviews", "shorts", "proof",
})
EXTRA_STEM = re.compile(r"(^|[\s._\-(\[])(sample|trailer|featurette)[)\]]?$", re.IGNORECASE)


@dataclass(frozen=True)
class Candidate:
    """A file offered for selection: an id the provider understands, its path and size."""

    id: str
    path: str
    size: int


@dataclass(frozen=True)
class Selection:
    """The chosen file ids, or a reason why none could be chosen."""

    ids: tuple[str, ...]
    reason: str = ""


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_extra(path: str) -> bool:
    """A sample, trailer or bonus file (by its folder or the end of its name)."""
    *folders, name = path.split("/")
    if any(folder.strip().lower() in EXTRA_FOLDERS for folder in folders):
        return True
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return bool(EXTRA_STEM.search(stem))


def select_files(files: Sequence[Candidate],
                 extensions: frozenset[str] = VIDEO_EXTENSIONS) -> Selection:
    """Every video file that is not a sample/extra (season packs keep all episodes)."""
    chosen = [f.id for f in files if _extension(f.path) in extensions and not is_extra(f.path)]
    if chosen:
        return Selection(tuple(chosen))
    videos = [f for f in files if _extension(f.path) in extensions]
    if videos:
        reason = (f"nothing to select: the {len(videos)} video file(s) are samples or extras "
                  f"({', '.join(v.path for v in videos[:3])})")
    elif files:
        kinds = sorted({_extension(f.path) or "(no extension)" for f in files})
        reason = ("nothing to select: no video files in this torrent (found "
                  + ", ".join(kinds[:8]) + ")")
    else:
        reason = "nothing to select: the provider reported no files"
    return Selection((), reason)
