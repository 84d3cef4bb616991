"""What the surfaces read files through: CDN links, file readers, and the tree's view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from core.models import FileNode, FolderNode, Group, TorrentNode, TreeEntry, TreeFile


class ContentStream(Protocol):
    """An open read of a direct link from some offset."""

    def chunks(self, size: int) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class FileReader(Protocol):
    """A file of the tree opened for reading: seekable, bytes from the provider's CDN."""

    file: TreeFile

    def seekable(self) -> bool: ...

    def seek(self, offset: int, whence: int = 0) -> int: ...

    def tell(self) -> int: ...

    def expect(self, stop: int) -> None:
        """The caller reads no further than `stop`: the CDN is asked for just that."""
        ...

    def open(self) -> None:
        """Open the CDN now (a failure raises UpstreamFailed before any byte is promised)."""
        ...

    def read(self, size: int = -1) -> bytes: ...

    def close(self) -> None: ...


class FileStreams(Protocol):
    """Opens readers of the tree's files."""

    def open(self, entry: TreeEntry, file: TreeFile) -> FileReader: ...


class TreeView(Protocol):
    """The library as folders, as the surfaces read it (browse.Tree)."""

    def groups(self) -> list[Group]: ...

    def group(self, name: str) -> Group | None: ...

    def torrents(self, group: Group) -> list[TorrentNode]: ...

    def torrent(self, group: Group, name: str) -> TorrentNode | None: ...

    def folder(self, node: TorrentNode) -> FolderNode: ...

    def resolve(self, path: str) -> Group | TorrentNode | FolderNode | FileNode | None: ...


class ContentSource(Protocol):
    """Opens direct links from `offset` (to `end`, exclusive, when given: a CDN may then
    keep the connection for the next request). Raises LinkExpired when the link must be
    resolved again."""

    def open(self, url: str, offset: int, end: int | None = None) -> ContentStream: ...
