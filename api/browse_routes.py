"""REST browse: the tree's groups, a group's torrents, a torrent's files, and downloads."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import parse_range_header
from werkzeug.wsgi import FileWrapper

from api.http import BadRequest, NotFound, blueprint, error, services
from browse.identity import content_type, file_etag
from browse.tree import ALL
from core.errors import UpstreamFailed
from core.models import FileNode, FolderNode, Group, TorrentNode

MAX_PAGE = 10_000
WHOLE = re.compile(r"\s*[+-]?[0-9]+\s*")
DOWNLOAD_BLOCK = 1 << 20


def _group_json(group: Group) -> dict[str, Any]:
    kind = "category" if group.category is not None else group.name.strip("_")
    return {"name": group.name, "kind": kind, "category": group.category}


def _torrent_json(node: TorrentNode) -> dict[str, Any]:
    entry = node.entry
    return {"name": node.name, "hash": entry.hash, "provider": entry.provider,
            "size": entry.size, "modified": int(entry.modified),
            "imported": not entry.torrent_id}


def _files(folder: FolderNode, prefix: str = "") -> list[tuple[str, FileNode]]:
    out: list[tuple[str, FileNode]] = []
    for name, child in folder.children.items():
        if isinstance(child, FolderNode):
            out += _files(child, f"{prefix}{name}/")
        else:
            out.append((prefix + name, child))
    return out


def _page() -> tuple[int, int]:
    given = request.args.get("offset", "0"), request.args.get("limit", str(MAX_PAGE))
    try:
        if not all(WHOLE.fullmatch(value) for value in given):   # int() takes "1_0", "٣"
            raise ValueError
        offset, limit = (int(value) for value in given)   # ValueError past 4300 digits
    except ValueError:
        raise BadRequest("offset and limit must be whole numbers") from None
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"offset must be >= 0 and limit from 1 to {MAX_PAGE}")
    return offset, limit


def _group(name: str) -> Group:
    group = services().tree.group(name)
    if group is None:
        raise NotFound(f"no group {name!r}")
    return group


@blueprint.get("/browse/")
@blueprint.get("/browse")
def browse_groups() -> Response:
    return jsonify({"groups": [_group_json(g) for g in services().tree.groups()]})


@blueprint.get("/browse/<group>")
@blueprint.get("/browse/<group>/")
def browse_group(group: str) -> Response:
    offset, limit = _page()
    nodes = services().tree.torrents(_group(group))
    return jsonify({"group": group, "total": len(nodes), "offset": offset,
                    "torrents": [_torrent_json(n) for n in nodes[offset:offset + limit]]})


@blueprint.get("/browse/<group>/<torrent>")
@blueprint.get("/browse/<group>/<torrent>/")
def browse_torrent(group: str, torrent: str) -> Response:
    tree = services().tree
    node = tree.torrent(_group(group), torrent)
    if node is None:
        raise NotFound(f"no torrent {torrent!r} in {group!r}")
    files = sorted(_files(tree.folder(node)), key=lambda pair: pair[0])
    body = _torrent_json(node)
    body["files"] = [{"path": path, "size": f.file.size,
                      "download": f"/api/browse/download/{quote(node.name)}/{quote(path)}"}
                     for path, f in files]
    return jsonify(body)


def _whole_suffix(environ: dict[str, Any], size: int) -> dict[str, Any]:
    """`Range: bytes=-N` with N past the file's size asks for all of it (RFC 9110 14.1.2);
    werkzeug answers that 416, so it gets the range of the whole file instead."""
    asked = parse_range_header(environ.get("HTTP_RANGE"))
    if asked is not None and len(asked.ranges) == 1 and asked.ranges[0][1] is None \
            and -asked.ranges[0][0] > size > 0:
        return {**environ, "HTTP_RANGE": "bytes=0-"}
    return environ


@blueprint.get("/browse/download/<torrent>/<path:file>")
def browse_download(torrent: str, file: str) -> Response:
    """The file's bytes from the provider, with Range and conditional requests (werkzeug's)."""
    svc = services()
    node = svc.tree.resolve(f"{ALL}/{torrent}/{file}")
    if not isinstance(node, FileNode):
        raise NotFound(f"no file {file!r} in {torrent!r}")
    reader = svc.streams.open(node.torrent, node.file)
    # werkzeug's wrapper, not the server's wsgi.file_wrapper: a range is served by seeking
    # the reader through it, and gunicorn's cannot seek (the range would be read from 0).
    # type-ignore: werkzeug's wrapper only reads, seeks, tells and closes the reader
    response = Response(FileWrapper(reader, DOWNLOAD_BLOCK),  # type: ignore[arg-type]
                        mimetype=content_type(node.name), direct_passthrough=True)
    response.content_length = node.file.size
    response.set_etag(file_etag(node.torrent, node.file))
    response.last_modified = datetime.fromtimestamp(int(node.torrent.modified), UTC)
    response.headers["Content-Disposition"] = \
        f"attachment; filename*=UTF-8''{quote(node.name)}"
    try:
        response.make_conditional(_whole_suffix(request.environ, node.file.size),
                                  accept_ranges=True, complete_length=node.file.size)
    except HTTPException:       # 416: answered in JSON by the blueprint's handler
        reader.close()
        raise
    if response.status_code == 412:     # werkzeug keeps the file's body and media type
        reader.close()
        return error("the file does not match If-Match or If-Unmodified-Since", 412)
    if response.status_code in (200, 206) and request.method == "GET" \
            and response.content_length:
        start = 0
        if response.status_code == 206 and response.content_range.stop is not None:
            start = response.content_range.start or 0
            reader.expect(response.content_range.stop)
        try:
            reader.seek(start)
            reader.open()       # fail now, while a clean 502 can still be sent
        except UpstreamFailed as exc:
            reader.close()
            return error(str(exc), 502)
    else:
        reader.close()
    return response
