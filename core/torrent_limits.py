"""Caps on .torrent uploads, checked by one linear walk of the bencode before torf parses it."""

from __future__ import annotations

from core.errors import InvalidTorrentFile

# What no real torrent needs, yet generous for media. torf cannot be told any of these: its
# tracker and web-seed lists deduplicate in quadratic time, and it decodes recursively (a deep
# nesting is a RecursionError), so the walk below refuses first, building no objects.
MAX_DEPTH = 64            # a v1 torrent nests 5 deep (root, info, files, file, path)
MAX_TRACKERS = 1_000      # public tracker lists run to ~150; every tracker is shown and stored
MAX_WEB_SEEDS = 1_000     # url-list / httpseeds (BEP 19, BEP 17): a handful in practice
MAX_FILES = 10_000        # a complete-series or discography pack has a few thousand
MAX_ELEMENTS = 250_000    # every bencode value: a file takes 7 to ~20 (path depth, v2 trees)
MAX_NAME_BYTES = 1_024    # a name or path component: no file system keeps more than 255
#                           characters (NTFS: 255 UTF-16 units, up to 765 bytes of UTF-8)
MAX_PATH_BYTES = 4_096    # a file's path inside the torrent: Linux's PATH_MAX
MAX_INTEGER_DIGITS = 64   # torf reads any length; real values (sizes, dates) have < 20

# Where a value sits, as far as the caps care.
_OTHER, _ROOT, _INFO, _TRACKERS, _SEEDS, _FILES, _FILE, _NAME, _PATH = range(9)
_CHILD = {   # (parent's place, dict key) -> the value's place
    (_ROOT, b"info"): _INFO, (_ROOT, b"announce-list"): _TRACKERS,
    (_ROOT, b"url-list"): _SEEDS, (_ROOT, b"httpseeds"): _SEEDS,
    (_INFO, b"files"): _FILES, (_INFO, b"name"): _NAME, (_FILE, b"path"): _PATH,
}
_IN_LIST = {_TRACKERS: _TRACKERS, _SEEDS: _SEEDS, _FILES: _FILE}   # a list's items


class _Frame:
    """An open list or dict: its place, the key waiting for its value, a path's length."""

    __slots__ = ("is_dict", "key", "path_bytes", "place")

    def __init__(self, is_dict: bool, place: int) -> None:
        self.is_dict = is_dict
        self.place = place
        self.key: bytes | None = None
        self.path_bytes = -1      # '/'-joined length of a file's path so far


class _Refused(Exception):
    """Why the walk stopped."""


def check_torrent_limits(data: bytes, filename: str) -> None:
    """Refuse (InvalidTorrentFile, saying which cap) a .torrent over any cap above, in time
    linear in its size. Bencode this walk cannot follow is refused too; torf checks the rest."""
    try:
        _walk(data)
    except _Refused as exc:
        raise InvalidTorrentFile(filename, str(exc)) from None


def _walk(data: bytes) -> None:
    stack: list[_Frame] = []
    pos, end = 0, len(data)
    elements = trackers = seeds = files = 0
    while True:
        if pos >= end:
            raise _Refused("the bencode ends early")
        char = data[pos]
        parent = stack[-1] if stack else None
        if char == 0x65:                                    # 'e' closes the open container
            if parent is None or (parent.is_dict and parent.key is not None):
                raise _Refused("the bencode is malformed")
            stack.pop()
            pos += 1
            if not stack:
                return                                      # torf refuses trailing bytes
            stack[-1].key = None
            continue
        elements += 1
        if elements > MAX_ELEMENTS:
            raise _Refused(f"more than {MAX_ELEMENTS:,} bencode values (the cap)")
        if parent is not None and parent.is_dict and parent.key is None:
            start, pos = _string(data, pos)                 # a dictionary key
            parent.key = data[start:pos]
            continue
        if parent is None:
            place = _ROOT if char == 0x64 else _OTHER
        elif parent.is_dict:
            place = _CHILD.get((parent.place, parent.key or b""), _OTHER)
        else:
            place = _IN_LIST.get(parent.place, _OTHER)
        if place == _FILE:
            files += 1
            if files > MAX_FILES:
                raise _Refused(f"more than {MAX_FILES:,} files (the cap)")
        if char in (0x64, 0x6C):                            # 'd' or 'l' opens a container
            if len(stack) >= MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} deep (the cap)")
            stack.append(_Frame(char == 0x64, place))
            pos += 1
            continue
        if char == 0x69:                                    # 'i' an integer
            close = data.find(b"e", pos + 1, pos + 2 + MAX_INTEGER_DIGITS)
            if close < 0:
                raise _Refused("an integer is malformed or too long")
            pos = close + 1
        else:
            start, pos = _string(data, pos)
            _count_string(place, parent, pos - start)
            if place == _TRACKERS:
                trackers += 1
                if trackers > MAX_TRACKERS:
                    raise _Refused(f"more than {MAX_TRACKERS:,} trackers (the cap)")
            elif place == _SEEDS:
                seeds += 1
                if seeds > MAX_WEB_SEEDS:
                    raise _Refused(f"more than {MAX_WEB_SEEDS:,} web seeds (the cap)")
        if parent is None:
            return
        if parent.is_dict:
            parent.key = None


def _count_string(place: int, parent: _Frame | None, length: int) -> None:
    """The length caps of names and of a file's path components."""
    if place == _NAME and length > MAX_NAME_BYTES:
        raise _Refused(f"its name is longer than {MAX_NAME_BYTES:,} bytes (the cap)")
    if parent is not None and parent.place == _PATH and not parent.is_dict:
        if length > MAX_NAME_BYTES:
            raise _Refused(f"a file or folder name is longer than {MAX_NAME_BYTES:,} bytes "
                           "(the cap)")
        parent.path_bytes += length + 1
        if parent.path_bytes > MAX_PATH_BYTES:
            raise _Refused(f"a file's path is longer than {MAX_PATH_BYTES:,} bytes (the cap)")


def _string(data: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the byte string whose length prefix starts at `pos`."""
    colon = data.find(b":", pos, pos + 12)    # 11 digits: more than any 10 MiB upload holds
    digits = data[pos:colon]
    if colon < 0 or not digits.isdigit():
        raise _Refused("the bencode is malformed")
    start = colon + 1
    stop = start + int(digits)
    if stop > len(data):
        raise _Refused("a string runs past the end")
    return start, stop
