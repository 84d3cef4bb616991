"""Which files of a torrent to ask the provider for: by extension, without extras, by size."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.schema import BY_KEY

MIB = 1 << 20
# A release whose video is packed: RAR volumes (.rar, .r00, .part01.rar), split 7z/zip parts.
ARCHIVE = re.compile(r"\.(rar|zip|7z|r\d{2}|\d{3})$", re.IGNORECASE)


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


@dataclass(frozen=True)
class SelectionRules:
    """The selection.* settings. Sizes are bytes; 0 means no bound."""

    extensions: frozenset[str]
    exclude_extras: bool
    extra_patterns: tuple[re.Pattern[str], ...]
    min_size: int
    max_size: int

    @classmethod
    def from_settings(cls, extensions: Iterable[str], exclude_extras: bool,
                      extra_patterns: Iterable[str], min_mb: float,
                      max_mb: float) -> SelectionRules:
        return cls(frozenset(e.lower() for e in extensions), exclude_extras,
                   compile_patterns(extra_patterns), int(min_mb * MIB), int(max_mb * MIB))

    @classmethod
    def defaults(cls) -> SelectionRules:
        """The rules of the schema's defaults."""
        return _default_rules()

    def is_extra(self, path: str) -> bool:
        return any(p.search(path) for p in self.extra_patterns)

    def size_fits(self, size: int) -> bool:
        return size >= self.min_size and (not self.max_size or size <= self.max_size)


@functools.cache
def _default_rules() -> SelectionRules:
    return SelectionRules.from_settings(*(BY_KEY[f"selection.{name}"].default for name in (
        "extensions", "exclude_extras", "extra_patterns", "min_file_mb", "max_file_mb")))


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_extra(path: str) -> bool:
    """A sample, trailer or bonus file by the default patterns."""
    return SelectionRules.defaults().is_extra(path)


def select_files(files: Sequence[Candidate], rules: SelectionRules | None = None) -> Selection:
    """Every wanted file (season packs keep all episodes), or why there is none."""
    rules = rules or SelectionRules.defaults()
    typed = [f for f in files if _extension(f.path) in rules.extensions]
    kept = [f for f in typed if not (rules.exclude_extras and rules.is_extra(f.path))]
    chosen = [f for f in kept if rules.size_fits(f.size)]
    if chosen:
        return Selection(tuple(f.id for f in chosen))
    if kept:
        bounds = []
        if rules.min_size:
            bounds.append(f"at least {rules.min_size / MIB:g} MiB")
        if rules.max_size:
            bounds.append(f"at most {rules.max_size / MIB:g} MiB")
        reason = (f"nothing to select: none of the {len(kept)} wanted file(s) is "
                  f"{' and '.join(bounds)} (selection.min_file_mb / max_file_mb)")
    elif typed:
        reason = (f"nothing to select: the {len(typed)} file(s) of a wanted type are samples "
                  f"or extras ({', '.join(v.path for v in typed[:3])})")
    elif files:
        kinds = sorted({_extension(f.path) or "(no extension)" for f in files})
        reason = ("nothing to select: no file of a wanted type in this torrent (found "
                  + ", ".join(kinds[:8]) + "; see selection.extensions)")
    else:
        reason = "nothing to select: the provider reported no files"
    return Selection((), reason)


def select_archives(files: Sequence[Candidate], rules: SelectionRules | None = None) -> Selection:
    """The archives of a release that packs its video (without samples and extras): what an
    unpacker such as Unpackerr needs, all of them, since the volumes only open together."""
    rules = rules or SelectionRules.defaults()
    packed = [f for f in files if ARCHIVE.search(f.path)
              and not (rules.exclude_extras and rules.is_extra(f.path))]
    return Selection(tuple(f.id for f in packed),
                     "" if packed else "nothing to select: no archive in this torrent")
