"""The virtual tree: groups (`__all__`, `__bad__`, one per category) -> torrents -> files.

Every name is safe on every OS and unique in its folder. A torrent's folder is its content
folder (the name symlinks point into); an imported torrent whose folder name is taken gets
its info-hash appended. Lookups go straight to the store by name, so resolving one path
never lists a group.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from core.models import FileNode, FolderNode, Group, TorrentNode, TreeEntry
from core.naming import sanitize_component
from core.ports import TreeStore

ALL, BAD = "__all__", "__bad__"
BAD_LIMIT = 10_000            # failed torrents listed in __bad__ (newest first)
_SUFFIXED = re.compile(r"^(.*) \[[^\[\]]+\]$")


def _candidates(entry: TreeEntry) -> Iterable[str]:
    base = entry.base
    yield base
    yield f"{base} [{entry.hash[:8]}]"
    yield f"{base} [{entry.hash}]"
    yield f"{base} [{sanitize_component(entry.provider + '-' + entry.remote_id)}]"


def _name_imported(imported: list[TreeEntry], taken: set[str],
                   bases: set[str]) -> list[TorrentNode]:
    """Names for imported torrents, each base-name group on its own, in store order: the
    first keeps its folder name unless a client entry holds it; the others get their hash.
    No name is one of `taken` (the client entries' names), and a hash-suffixed name is never
    one of `bases` (another imported torrent's own folder name)."""
    nodes: list[TorrentNode] = []
    used_by_base: dict[str, set[str]] = {}
    for entry in imported:
        used = used_by_base.setdefault(entry.base, {entry.base} if entry.reserved else set())
        name = next((c for c in _candidates(entry) if c not in used and c not in taken
                     and (c == entry.base or c not in bases)), "")
        if name:
            used.add(name)
            nodes.append(TorrentNode(name, entry))
    return nodes


def _unique(names: Iterable[str], reserved: set[str]) -> list[tuple[str, str]]:
    """(original, unique safe name) pairs; clashes get ' (2)', ' (3)'... before the
    extension."""
    taken, out = set(reserved), []
    for original in names:
        safe = sanitize_component(original) or "_"
        stem, dot, ext = safe.rpartition(".")
        if not (dot and stem):
            stem, dot, ext = safe, "", ""
        candidate, n = safe, 1
        while candidate in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        taken.add(candidate)
        out.append((original, candidate))
    return out


class Tree:
    """Read-only view of the library as folders, built from the store. A group's listing is
    kept until the store says something changed (the stamp), so a media server that lists
    a big folder again and again costs one cheap query each time."""

    def __init__(self, store: TreeStore) -> None:
        self.store = store
        self._listings: dict[str, tuple[tuple[int, int], list[TorrentNode]]] = {}
        self._lock = threading.Lock()

    # -- groups -------------------------------------------------------------------------------
    def groups(self) -> list[Group]:
        pairs = _unique(self.store.tree_categories(), {ALL, BAD})
        return [Group(ALL), Group(BAD), *(Group(name, category) for category, name in pairs)]

    def group(self, name: str) -> Group | None:
        if name in (ALL, BAD):
            return Group(name)
        return next((g for g in self.groups() if g.name == name), None)

    # -- torrents -----------------------------------------------------------------------------
    def torrents(self, group: Group) -> list[TorrentNode]:
        """The torrents of a group, sorted by name (a shared list: do not change it)."""
        stamp = self.store.tree_stamp()
        cached = self._listings.get(group.name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        nodes = self._list(group)
        with self._lock:
            self._listings[group.name] = (stamp, nodes)
        return nodes

    def _list(self, group: Group) -> list[TorrentNode]:
        if group.category is not None:
            nodes = [TorrentNode(e.base, e) for e in self.store.tree_category(group.category)]
        elif group.name == ALL:
            managed, imported = self.store.tree_all()
            nodes = [TorrentNode(e.base, e) for e in managed]
            nodes += _name_imported(imported, {e.base for e in managed},
                                    {e.base for e in imported})
        else:
            nodes = self._bad()
        nodes.sort(key=lambda n: n.name)
        return nodes

    def torrent(self, group: Group, name: str) -> TorrentNode | None:
        if not name or "/" in name or "\x00" in name:
            return None
        if group.category is not None:
            found = self.store.tree_category(group.category, name)
            return TorrentNode(name, found[0]) if found else None
        if group.name == BAD:
            return next((n for n in self._bad() if n.name == name), None)
        bases = [name]
        suffixed = _SUFFIXED.match(name)
        if suffixed:
            bases.append(suffixed.group(1))
        for base in bases:
            managed, imported = self.store.tree_all_named(base)
            if managed is not None and base == name:
                return TorrentNode(name, managed)
            # the names this group could take that others hold, as the listing sees them
            taken, own = self.store.tree_all_folders(
                sorted({c for e in imported for c in _candidates(e)}))
            for node in _name_imported(imported, taken, own):
                if node.name == name:
                    return node
        return None

    def _bad(self) -> list[TorrentNode]:
        managed, imported = self.store.tree_bad(BAD_LIMIT)
        nodes, taken = [], set()
        for entry in managed:
            name = next(c for c in _candidates(entry) if c not in taken)
            taken.add(name)
            nodes.append(TorrentNode(name, entry))
        return nodes + _name_imported(imported, taken, {e.base for e in imported})

    # -- files --------------------------------------------------------------------------------
    def folder(self, node: TorrentNode) -> FolderNode:
        """The torrent's folder with its files at their (safe, unique) relative paths."""
        root = FolderNode(node.name, node.entry)
        for f in self.store.tree_files(node.entry):
            parts = [p for p in re.split(r"[/\\]+", f.path) if p not in ("", ".", "..")]
            if not parts:
                continue
            folder = root
            for part in parts[:-1]:
                folder = _subfolder(folder, part)
            ((_, name),) = _unique([parts[-1]], set(folder.children))
            folder.children[name] = FileNode(name, f, node.entry)
        return root

    def resolve(self, path: str) -> Group | TorrentNode | FolderNode | FileNode | None:
        """The node at a '/'-separated path below the tree's root ('' is the root: None).
        Every surface resolves paths here: a '.', '..', NUL or backslash in a part is never
        a name of the tree (names are made safe), so such a path is nothing."""
        parts = [p for p in path.split("/") if p]
        if not parts or any(p in (".", "..") or "\x00" in p or "\\" in p for p in parts):
            return None
        group = self.group(parts[0])
        if group is None or len(parts) == 1:
            return group
        node = self.torrent(group, parts[1])
        if node is None or len(parts) == 2:
            return node
        current: FolderNode | FileNode = self.folder(node)
        for part in parts[2:]:
            if not isinstance(current, FolderNode) or part not in current.children:
                return None
            current = current.children[part]
        return current


def _subfolder(folder: FolderNode, part: str) -> FolderNode:
    safe = sanitize_component(part) or "_"
    existing = folder.children.get(safe)
    if isinstance(existing, FolderNode):
        return existing
    if existing is not None:               # a file already has that name
        ((_, safe),) = _unique([safe], set(folder.children))
    child = FolderNode(safe, folder.torrent)
    folder.children[safe] = child
    return child
