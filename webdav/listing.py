"""PROPFIND Depth 1 of a group folder, streamed member by member.

WsgiDAV builds a whole multistatus document in memory before sending it: for `__all__` with
50,000 torrents that is ~100 µs of CPU and ~3 KiB of memory per member (5-6 s, +160 MiB).
A group's members are all torrent folders with the same four properties, so this writes
the same answer directly, a few hundred members per chunk. Anything unusual (a `propname`
request, conditional headers, DAV properties it does not know) goes to WsgiDAV.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from wsgidav import util

from core.models import TorrentNode

# What a torrent folder has; other DAV: properties it lacks (WsgiDAV answers 404 for them).
_FOLDER_PROPS = ("{DAV:}resourcetype", "{DAV:}creationdate", "{DAV:}getlastmodified",
                 "{DAV:}displayname")
_ABSENT = frozenset({"{DAV:}getcontentlength", "{DAV:}getcontenttype", "{DAV:}getetag",
                     "{DAV:}getcontentlanguage"})
_HREF_SAFE = "/!*'(),$-_|."           # WsgiDAV's get_href quoting
_MAX_BODY = 64 * 1024
_PER_CHUNK = 500
_OK, _MISSING = "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found"


def requested_props(environ: dict[str, Any]) -> list[str] | None:
    """The property names a PROPFIND asks for ([] = allprop), or None when WsgiDAV must
    answer. The body is put back for WsgiDAV either way."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length < 0 or length > _MAX_BODY or environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    if any(environ.get(h) for h in ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                                    "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")):
        return None
    if not body.strip():
        return []
    try:
        root = util.parse_xml_body({"CONTENT_LENGTH": str(len(body)),
                                    "wsgi.input": io.BytesIO(body)})
    except Exception:   # malformed: WsgiDAV parses it again and answers 400
        return None
    finally:
        environ["wsgi.input"] = io.BytesIO(body)
    if root is None or root.tag != "{DAV:}propfind" or len(root) != 1:
        return None
    (mode,) = root
    if mode.tag == "{DAV:}allprop":
        return []
    if mode.tag != "{DAV:}prop" or len(mode) == 0:
        return None
    names = [str(el.tag) for el in mode]
    known = set(_FOLDER_PROPS) | _ABSENT
    if any(n.startswith("{DAV:}") and n not in known for n in names):
        return None
    return names


def _element(name: str, value: str | None, index: int) -> str:
    namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    if namespace == "DAV:":
        tag, declare = f"D:{local}", ""
    else:
        tag, declare = f"P{index}:{local}", f' xmlns:P{index}="{escape(namespace)}"'
    return f"<{tag}{declare}/>" if value is None else f"<{tag}{declare}>{value}</{tag}>"


def _response(href: str, values: dict[str, str], names: list[str]) -> str:
    found, missing = [], []
    for index, name in enumerate(names or values):
        if name in values:
            found.append(_element(name, values[name], index))
        else:
            missing.append(_element(name, None, index))
    out = [f"<D:response><D:href>{escape(href)}</D:href>"]
    for props, status in ((found, _OK), (missing, _MISSING)):
        if props:
            out.append(f"<D:propstat><D:prop>{''.join(props)}</D:prop>"
                       f"<D:status>{status}</D:status></D:propstat>")
    out.append("</D:response>")
    return "".join(out)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _dates(modified: float) -> tuple[str, str]:
    """(creationdate, getlastmodified) as WsgiDAV writes them, without the locale."""
    t = time.gmtime(modified)
    return (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:"
            f"{t.tm_sec:02d}Z",
            f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def _folder_values(name: str, dates: tuple[str, str] | None) -> dict[str, str]:
    values = {"{DAV:}resourcetype": "<D:collection/>"}
    if dates is not None:
        values["{DAV:}creationdate"], values["{DAV:}getlastmodified"] = dates
    values["{DAV:}displayname"] = name
    return values


# Stand-ins for a member's values in its rendered template (no XML text contains them).
_HREF, _NAME, _CREATED, _MODIFIED = "\x01", "\x02", "\x03", "\x04"


def _template(names: list[str]) -> list[str]:
    """A member's <response> cut at its four values: segments to join with them."""
    text = _response(_HREF, _folder_values(_NAME, (_CREATED, _MODIFIED)), names)
    segments, order = [], []
    for i, ch in enumerate(text):
        if ch in (_HREF, _NAME, _CREATED, _MODIFIED):
            order.append((i, ch))
    last = 0
    for i, _ in order:
        segments.append(text[last:i])
        last = i + 1
    segments.append(text[last:])
    return [*segments, "".join(ch for _, ch in order)]


def _render(href: str, group_name: str, members: Iterable[TorrentNode],
            names: list[str]) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="utf-8" ?>\n<D:multistatus xmlns:D="DAV:">'
    yield _response(href, _folder_values(escape(group_name), None), names)
    *segments, order = _template(names)
    for node in members:
        created, modified = _dates(node.entry.modified)
        values = {_HREF: escape(href + quote(node.name, safe=_HREF_SAFE) + "/"),
                  _NAME: escape(node.name), _CREATED: created, _MODIFIED: modified}
        parts = [segments[0]]
        for ch, segment in zip(order, segments[1:], strict=True):
            parts += (values[ch], segment)
        yield "".join(parts)
    yield "</D:multistatus>"


def stream_group(href: str, group_name: str, members: Iterable[TorrentNode],
                 names: list[str]) -> Iterator[bytes]:
    """The multistatus of a group (`href`, ending in '/') and its torrent folders."""
    batch: list[str] = []
    for piece in _render(href, group_name, members, names):
        batch.append(piece)
        if len(batch) >= _PER_CHUNK:
            yield "".join(batch).encode("utf-8")
            batch = []
    yield "".join(batch).encode("utf-8")


class RenderedListings:
    """The last few rendered group listings, reused while the tree hands out the same
    listing (it makes a new one when the store changes): media servers and rclone mounts
    list the same big folder again and again."""

    def __init__(self, keep: int = 4) -> None:
        self.keep = keep
        self._entries: OrderedDict[tuple[str, tuple[str, ...]],
                                   tuple[list[TorrentNode], list[bytes]]] = OrderedDict()
        self._lock = threading.Lock()

    def stream(self, href: str, group_name: str, members: list[TorrentNode],
               names: list[str]) -> Iterator[bytes]:
        key = (href, tuple(names))
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None and cached[0] is members:
                self._entries.move_to_end(key)
                return iter(cached[1])
        return self._render_and_keep(key, href, group_name, members, names)

    def _render_and_keep(self, key: tuple[str, tuple[str, ...]], href: str, group_name: str,
                         members: list[TorrentNode], names: list[str]) -> Iterator[bytes]:
        chunks = []
        for chunk in stream_group(href, group_name, members, names):
            chunks.append(chunk)
            yield chunk
        with self._lock:      # kept only once complete (a client may leave half-way)
            self._entries[key] = (members, chunks)
            self._entries.move_to_end(key)
            while len(self._entries) > self.keep:
                self._entries.popitem(last=False)
