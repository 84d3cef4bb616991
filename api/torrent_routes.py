"""Decypharr's torrent routes: list (GET /api/torrents), add (POST /api/add), delete."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, jsonify, request

from api.http import BadRequest, blueprint, services
from core.errors import DebridgeError, TooManySources, TorrentNotFound
from core.library import AddOptions, AddResult
from core.naming import category_is_valid
from core.sources import (
    MAX_SOURCES,
    MAX_TORRENT_FILE_BYTES,
    TorrentSource,
    parse_info_hash,
    parse_magnet,
    parse_torrent_file,
)
from core.view import torrent_view

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")
UPLOAD_FIELDS = ("file", "files")     # Decypharr's names for the .torrent uploads


def _hashes(values: list[str]) -> list[str]:
    """`hash` given once or repeated, each possibly a comma- or |-separated list (of at
    least one: a blank `hash` is a mistake, not a filter that matches nothing)."""
    found = [part.strip() for value in values for part in value.replace("|", ",").split(",")]
    if not any(found):
        raise BadRequest("hash names no info-hash (give 40 hex or 32 base32 characters)")
    return [parse_info_hash(h) for h in found if h]


def _flag(value: Any, name: str) -> bool | None:
    """A boolean from JSON (true/false) or a form/query field ("true", "1", ...)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE + FALSE:
        return value.strip().lower() in TRUE
    raise BadRequest(f"{name} must be true or false")


@blueprint.get("/torrents")
def list_torrents() -> Response:
    """Every torrent (or those of `category`, or those named by `hash`), neutral view."""
    category = request.args.get("category")
    wanted = _hashes(request.args.getlist("hash")) if "hash" in request.args else None
    views = services().library.views(category=category, hashes=wanted)
    if wanted is not None and not views:
        raise _not_found(wanted)
    return jsonify([view.as_json() for view in views])


def _not_found(names: list[str]) -> TorrentNotFound:
    return TorrentNotFound(f"no torrent {', '.join(names[:3])}")


@blueprint.delete("/torrents")
def delete_torrents() -> Response:
    """Delete the torrents named by `hash` and/or in `category`; `removeFromDebrid` also
    deletes the provider's copy, `deleteFiles` what was placed under the save path."""
    args = request.args
    hashes = _hashes(args.getlist("hash")) if "hash" in args else None
    category = args.get("category")
    if hashes is None and category is None:
        raise BadRequest("give hash (one or several) or category: nothing is deleted without")
    remove_remote = bool(_flag(args.get("removeFromDebrid"), "removeFromDebrid"))
    delete_files = bool(_flag(args.get("deleteFiles"), "deleteFiles"))
    library = services().library
    chosen = [v.hash for v in library.views(category=category, hashes=hashes)]
    if not chosen:
        raise _not_found(hashes or [f"in category {category!r}"])
    library.delete(chosen, delete_files=delete_files, delete_remote=remove_remote)
    return jsonify({"deleted": chosen})


# -- add --------------------------------------------------------------------------------------
def _request_fields() -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The add's fields and its .torrent uploads, from JSON (Decypharr's documented form,
    also when curl -d sends it as a form) or multipart/urlencoded fields."""
    if request.mimetype != "multipart/form-data":
        raw = request.get_data(cache=True)
        if raw.lstrip()[:1] in (b"{", b"["):
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise BadRequest("the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise BadRequest("the JSON body must be an object")
            return body, []
    for name in UPLOAD_FIELDS:
        if name in request.form:   # a text part, not a file: it would be silently dropped
            raise BadRequest(f"{name} must be a .torrent file upload (a part with a filename)")
    fields: dict[str, Any] = {key: request.form.getlist(key) for key in request.form}
    fields = {key: values[0] if len(values) == 1 and key != "urls" else values
              for key, values in fields.items()}
    uploads = [(storage.filename or name, storage.stream.read(MAX_TORRENT_FILE_BYTES + 1))
               for name, storage in request.files.items(multi=True)]
    return fields, uploads


def _urls(fields: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name in ("url", "urls"):
        value = fields.get(name)
        items = value if isinstance(value, list) else [value] if value is not None else []
        for item in items:
            if not isinstance(item, str):
                raise BadRequest(f"{name} must be a string or a list of strings")
            found += [line.strip() for line in item.splitlines() if line.strip()]
    return found


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value.strip()


def _options(fields: dict[str, Any]) -> AddOptions:
    category = _text(fields, "category")
    if category and not category_is_valid(category):
        raise BadRequest(f"{category!r} is not a valid category name")
    action = _text(fields, "action")
    configured = services().settings["downloads.action"]
    if action and action != configured:
        raise BadRequest(f"action {action!r}: every torrent uses downloads.action "
                         f"({configured!r}); a per-add action is not supported")
    return AddOptions(category=category, download_uncached=_flag(
        fields.get("downloadUncached"), "downloadUncached"))


def _item(source: str, result: AddResult) -> dict[str, Any]:
    item: dict[str, Any] = {"source": source, "hash": result.hash, "name": result.name,
                            "status": result.status.value}
    if result.torrent is not None:
        view = torrent_view(result.torrent, services().library.clock())
        item["state"] = view.state.value
        item["torrent"] = view.as_json()
    if result.message:
        item["error" if not result.kept else "message"] = result.message
    return item


@blueprint.post("/add")
def add() -> Response:
    """Add magnets and .torrent files; one answer per item, in order (a bad item never hides
    the good ones). 200 whenever the request itself was understood."""
    fields, uploads = _request_fields()
    urls = _urls(fields)
    options = _options(fields)
    if len(urls) + len(uploads) > MAX_SOURCES:
        raise TooManySources(len(urls) + len(uploads), MAX_SOURCES)
    if not urls and not uploads:
        raise BadRequest("nothing to add: give url, urls (one per line) or .torrent files")
    parsed: list[tuple[str, TorrentSource | DebridgeError]] = []
    for name, data in uploads:
        try:
            parsed.append((name, parse_torrent_file(data, name)))
        except DebridgeError as exc:
            parsed.append((name, exc))
    for url in urls:
        try:
            parsed.append((url, parse_magnet(url)))
        except DebridgeError as exc:
            parsed.append((url[:200], exc))
    sources = [s for _, s in parsed if isinstance(s, TorrentSource)]
    results = iter(services().library.add_each(sources, options) if sources else [])
    items = []
    for label, outcome in parsed:
        if isinstance(outcome, DebridgeError):
            items.append({"source": label, "status": "error", "error": str(outcome)})
        else:
            items.append(_item(label, next(results)))
    return jsonify(items)

