"""The WsgiDAV provider over browse.Tree: read-only collections and lazily streamed files."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from werkzeug.http import parse_range_header
from wsgidav import util
from wsgidav.dav_error import (
    HTTP_BAD_GATEWAY,
    HTTP_FORBIDDEN,
    DAVError,
    PRECONDITION_CODE_PropfindFiniteDepth,
)
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from browse.identity import content_type, file_etag
from browse.stream import RemoteReader
from browse.tree import Tree
from core.errors import UpstreamFailed
from core.models import FileNode, FolderNode, Group, TorrentNode, TreeEntry, TreeFile
from webdav.listing import RenderedListings, requested_props

log = logging.getLogger(__name__)
OpenReader = Callable[[TreeEntry, TreeFile], RemoteReader]


class _Reader:
    """The remote reader, its failures turned into 502s for WsgiDAV's error printer."""

    def __init__(self, reader: RemoteReader) -> None:
        self.reader = reader

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.reader.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        try:
            return self.reader.read(size)
        except UpstreamFailed as exc:
            log.info("stream of %s failed: %s", self.reader.file.path, exc)
            raise DAVError(HTTP_BAD_GATEWAY, str(exc)) from None

    def close(self) -> None:
        self.reader.close()


class _Collection(DAVCollection):
    def __init__(self, path: str, environ: dict[str, Any], provider: TreeProvider) -> None:
        super().__init__(path, environ)
        self.provider = provider    # WsgiDAV sets it too; set here for members built directly

    def _child(self, name: str) -> str:
        return f"{str(self.path).rstrip('/')}/{name}"

    def get_display_info(self) -> dict[str, str]:
        return {"type": "Directory"}


class RootCollection(_Collection):
    def get_member_names(self) -> list[str]:
        return [g.name for g in self.provider.tree.groups()]

    def get_member(self, name: str) -> GroupCollection | None:
        group = self.provider.tree.group(name)
        return None if group is None else GroupCollection(self._child(name), self.environ,
                                                          self.provider, group)


class GroupCollection(_Collection):
    def __init__(self, path: str, environ: dict[str, Any], provider: TreeProvider,
                 group: Group) -> None:
        super().__init__(path, environ, provider)
        self.group = group
        self._listed: dict[str, TorrentNode] | None = None

    def get_member_names(self) -> list[str]:
        # One listing serves a whole PROPFIND: get_member finds the members in it.
        self._listed = {n.name: n for n in self.provider.tree.torrents(self.group)}
        return list(self._listed)

    def get_member(self, name: str) -> FolderCollection | None:
        node = self._listed.get(name) if self._listed is not None \
            else self.provider.tree.torrent(self.group, name)
        if node is None:
            return None
        return FolderCollection(self._child(name), self.environ, self.provider, node)


class FolderCollection(_Collection):
    """A torrent's folder, or a folder inside it; the files are read once, when needed."""

    def __init__(self, path: str, environ: dict[str, Any], provider: TreeProvider,
                 node: TorrentNode | FolderNode) -> None:
        super().__init__(path, environ, provider)
        self.node = node

    @property
    def folder(self) -> FolderNode:
        if isinstance(self.node, TorrentNode):
            self.node = self.provider.tree.folder(self.node)
        return self.node

    def get_last_modified(self) -> float:
        entry = self.node.entry if isinstance(self.node, TorrentNode) else self.node.torrent
        return entry.modified

    def get_creation_date(self) -> float:
        return self.get_last_modified()

    def get_member_names(self) -> list[str]:
        return list(self.folder.children)

    def get_member(self, name: str) -> FolderCollection | RemoteFile | None:
        child = self.folder.children.get(name)
        if isinstance(child, FolderNode):
            return FolderCollection(self._child(name), self.environ, self.provider, child)
        if isinstance(child, FileNode):
            return RemoteFile(self._child(name), self.environ, self.provider, child)
        return None


class RemoteFile(DAVNonCollection):
    """A provider file: size, dates and ETag from the store; bytes from the CDN."""

    def __init__(self, path: str, environ: dict[str, Any], provider: TreeProvider,
                 node: FileNode) -> None:
        super().__init__(path, environ)
        self.provider = provider
        self.node = node

    def get_content_length(self) -> int:
        return self.node.file.size

    def get_content_type(self) -> str:
        return content_type(self.name)

    def get_etag(self) -> str:
        return file_etag(self.node.torrent, self.node.file)

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_last_modified(self) -> float:
        return self.node.torrent.modified

    def get_creation_date(self) -> float:
        return self.node.torrent.modified

    def get_display_info(self) -> dict[str, str]:
        return {"type": "File"}

    def get_content(self) -> _Reader:
        reader = self.provider.open_reader(self.node.torrent, self.node.file)
        # WsgiDAV serves a single Range (unless If-Range cancels it): ask the CDN for just that
        ranges = parse_range_header(self.environ.get("HTTP_RANGE"))
        bounds = ranges.range_for_length(self.node.file.size) if ranges is not None else None
        if bounds is not None and "HTTP_IF_RANGE" not in self.environ:
            reader.expect(bounds[1])
        return _Reader(reader)


class TreeProvider(DAVProvider):
    """Resolves WebDAV paths in the tree; read-only, so WsgiDAV refuses every write."""

    def __init__(self, tree: Tree, open_reader: OpenReader) -> None:
        super().__init__()
        self.tree = tree
        self.open_reader = open_reader
        self.listings = RenderedListings()

    def is_readonly(self) -> bool:
        return True

    def custom_request_handler(self, environ: dict[str, Any], start_response: Any,
                               default_handler: Any) -> Any:
        # A PROPFIND of depth infinity (the default without a Depth header) would list the
        # whole library with every file; RFC 4918 lets a server refuse it, and WsgiDAV has no
        # setting for that. On a file it is depth 0, so it is answered.
        if environ["REQUEST_METHOD"] != "PROPFIND":
            return default_handler(environ, start_response)
        depth = environ.get("HTTP_DEPTH", "infinity")
        resource = self.get_resource_inst(environ["PATH_INFO"], environ)
        if depth == "infinity" and resource is not None and resource.is_collection:
            raise DAVError(HTTP_FORBIDDEN, "PROPFIND with Depth: infinity is not served; "
                           "use Depth: 1", err_condition=PRECONDITION_CODE_PropfindFiniteDepth)
        if depth == "1" and isinstance(resource, GroupCollection):
            names = requested_props(environ)
            if names is not None:      # a group's listing is streamed, not built (listing.py)
                members = self.tree.torrents(resource.group)
                start_response("207 Multi-Status", [
                    ("Content-Type", "application/xml; charset=utf-8"),
                    ("Date", util.get_rfc1123_time())])
                return self.listings.stream(resource.get_href(), resource.group.name, members,
                                            names)
        return default_handler(environ, start_response)

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return RootCollection("/", environ, self)
        node = self.tree.resolve(path)          # the tree's resolver, as REST browse uses
        canonical = "/" + "/".join(parts)
        if isinstance(node, Group):
            return GroupCollection(canonical, environ, self, node)
        if isinstance(node, TorrentNode | FolderNode):
            return FolderCollection(canonical, environ, self, node)
        if isinstance(node, FileNode):
            return RemoteFile(canonical, environ, self, node)
        return None
