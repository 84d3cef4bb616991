"""TorBox's dialect (API v1 under /v1/api): torrents, cache check, download links, user."""

from __future__ import annotations

from flask import Blueprint, Response, request

from debrid.sandbox.catalogue import (
    CatalogueEntry,
    CatalogueFile,
    InvalidMagnetError,
    InvalidTorrentError,
    normalize_infohash,
    parse_magnet,
    parse_torrent_file,
)
from debrid.sandbox.dialects import Dialect, common
from debrid.sandbox.dialects.common import Refusal, Why
from debrid.sandbox.dialects.torbox_shapes import (
    AUTH_ID,
    LINK_LIFETIME_SECONDS,
    LIST_CACHE_SECONDS,
    TorBoxError,
    cached_json,
    create_limiter,
    envelope,
    general_headers,
    phase,
    rate_limited,
    torrent_json,
    user_json,
)
from debrid.sandbox.records import TorrentRecord
from debrid.sandbox.runtime import current

blueprint = Blueprint("torbox", __name__)
PAGE_LIMIT = 1000                 # mylist's default page
MAX_HASHES = 100                  # checkcached takes "around 100" hashes per call
OPERATIONS = {"delete": "Torrent deleted successfully.",
              "reannounce": "Torrent reannounced successfully.",
              "pause": "Torrent paused successfully.", "resume": "Torrent resumed successfully."}
REFUSALS: dict[Why, tuple[int, str, str]] = {
    Why.BAD_MAGNET: (400, "BOZO_TORRENT", "The magnet link is not valid."),
    Why.BAD_TORRENT: (400, "BOZO_TORRENT", ""),
    Why.INFRINGING: (400, "BOZO_TORRENT", "This torrent has been blocked (DMCA)."),
    Why.SLOTS_FULL: (400, "ACTIVE_LIMIT", ""),
    Why.NOT_FOUND: (404, "ITEM_NOT_FOUND", ""),
    Why.GONE: (404, "ITEM_NOT_FOUND", ""),
    Why.DEAD: (400, "LINK_OFFLINE", ""),
    Why.NOT_READY: (400, "DOWNLOAD_SERVER_ERROR", "The download is not ready yet."),
    Why.EXHAUSTED: (400, "MONTHLY_LIMIT", ""),
}
NOT_CACHED = "Torrent is not cached. It was not added (add_only_if_cached)."


def token() -> str:
    """The API key: `Authorization: Bearer`, except requestdl, which takes it as `token` in
    the query (links are opened by players that send no headers)."""
    if request.path.rstrip("/").endswith("/torrents/requestdl"):
        return request.args.get("token", "").strip()
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _unauthorized() -> Response:
    code = "BAD_TOKEN" if token() else "NO_AUTH"
    return TorBoxError(403, code).response()


_HTTP_ERRORS = {400: ("INVALID_OPTION", ""), 404: ("ENDPOINT_NOT_FOUND", ""),
                405: ("ENDPOINT_NOT_FOUND", "Method Not Allowed."), 413: ("TOO_MUCH_DATA", "")}


def _http_error(status: int) -> Response:
    code, detail = _HTTP_ERRORS.get(status, ("UNKNOWN_ERROR", ""))
    return TorBoxError(status, code, detail).response()


@blueprint.after_request
def _limit_headers(response: Response) -> Response:
    for name, value in general_headers(current(), token()).items():
        response.headers.setdefault(name, value)
    return response


def _truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def _int(raw: object, name: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise TorBoxError(400, "INVALID_OPTION", f"{name} must be an integer.") from None


def _refused(why: Why) -> TorBoxError:
    status, code, detail = REFUSALS[why]
    return TorBoxError(status, code, detail)


def _record(torbox_id: int) -> TorrentRecord:
    """The account's torrent with this TorBox id (ITEM_NOT_FOUND once deleted)."""
    torrent_id = current().state.torrent_id_for_seq(torbox_id)
    if torrent_id is None:
        raise _refused(Why.NOT_FOUND)
    try:
        return common.torrent(torrent_id)
    except Refusal as refusal:
        raise _refused(refusal.why) from None


# -- adding ------------------------------------------------------------------------------------

@blueprint.post("/torrents/createtorrent")
def create_torrent() -> Response:
    """A magnet (form `magnet`) or a .torrent (multipart `file`). Counted against the
    create limit first, as TorBox's limiter counts every call that reaches the route."""
    sandbox = current()
    options = sandbox.options
    headers: dict[str, str] = {}
    if options.create_limit > 0 and options.create_window_seconds > 0:
        headers = create_limiter(sandbox).take(token(), options.create_limit,
                                               options.create_window_seconds,
                                               sandbox.state.now())
    try:
        response = _create()
    except TorBoxError as refusal:
        refusal.headers.update(headers)
        raise
    response.headers.update(headers)
    return response


def _create() -> Response:
    magnet = request.form.get("magnet", "").strip()
    upload = request.files.get("file")
    if magnet and upload is not None:
        raise TorBoxError(400, "TOO_MANY_OPTIONS", "Send either a file or a magnet link.")
    if not magnet and upload is None:
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION",
                          "You must provide either a file or magnet link.")
    if request.form.get("seed", "1").strip() not in ("1", "2", "3"):
        raise TorBoxError(400, "INVALID_OPTION", "seed must be 1 (auto), 2 (yes) or 3 (no).")
    only_if_cached = _truthy(request.form.get("add_only_if_cached", ""))
    data = upload.read() if upload is not None else b""
    try:
        info_hash = parse_magnet(magnet).hash if magnet else parse_torrent_file(data).hash
    except (InvalidMagnetError, InvalidTorrentError):
        raise _refused(Why.BAD_MAGNET if magnet else Why.BAD_TORRENT) from None
    if current().state.torrent_id_with_hash(info_hash) is not None:
        raise TorBoxError(400, "DUPLICATE_ITEM")
    try:
        record = common.add_magnet(magnet, only_if_cached=only_if_cached) if magnet else \
            common.add_upload(data, only_if_cached=only_if_cached)
    except Refusal as refusal:
        if refusal.why is Why.NOT_CACHED:
            raise TorBoxError(400, None, NOT_CACHED) from None
        raise _refused(refusal.why) from None
    detail = "Found Cached Torrent. Using Cached Torrent." if record.cached else \
        "Successfully created torrent."
    return envelope({"torrent_id": record.seq, "name": record.filename, "hash": record.hash,
                     "auth_id": AUTH_ID}, detail)


# -- reading -----------------------------------------------------------------------------------

@blueprint.get("/torrents/mylist")
def my_list() -> Response:
    """One torrent (`id`: an object) or a page (a list), newest first. Answers come from a
    per-token cache up to 600 s old unless `bypass_cache=true`."""
    sandbox = current()
    raw_id = request.args.get("id", "").strip()
    if raw_id:
        key: tuple[object, ...] = ("id", _int(raw_id, "id"))
    else:
        offset = _int(request.args.get("offset") or 0, "offset")
        limit = _int(request.args.get("limit") or PAGE_LIMIT, "limit")
        if offset < 0 or limit < 1:
            raise TorBoxError(400, "INVALID_OPTION", "offset and limit must be positive.")
        key = ("list", offset, limit)
    cache: dict[tuple[object, ...], tuple[float, object]] = \
        sandbox.scratch.setdefault("torbox:mylist", {})
    now = sandbox.state.now()
    entry = (token(), *key)
    cached = cache.get(entry)
    if cached is not None and now - cached[0] < LIST_CACHE_SECONDS and \
            not _truthy(request.args.get("bypass_cache", "")):
        return envelope(cached[1], "Torrent list retrieved successfully.")
    if key[0] == "id":
        data: object = torrent_json(_record(int(str(key[1]))), now)
    else:
        _, page = common.torrents(int(str(key[1])), int(str(key[2])))
        data = [torrent_json(full, now) for full in _with_files(page)]
    cache[entry] = (now, data)
    return envelope(data, "Torrent list retrieved successfully.")


def _with_files(page: list[TorrentRecord]) -> list[TorrentRecord]:
    full = []
    for record in page:
        try:
            full.append(common.with_files(record))
        except Refusal:
            continue                    # deleted while the page was read
    return full


@blueprint.route("/torrents/checkcached", methods=["GET", "POST"])
def check_cached() -> Response:
    """Only the cached hashes: an object keyed by hash (`format=object`) or a list."""
    body = request.get_json(silent=True) if request.method == "POST" else None
    raw: list[str] = [part for value in request.args.getlist("hash") for part in value.split(",")]
    raw += [part for value in request.form.getlist("hash") for part in value.split(",")]
    listed = body.get("hashes", body.get("hash")) if isinstance(body, dict) else body
    if isinstance(listed, str):
        listed = listed.split(",")
    if isinstance(listed, list):
        raw += [str(item) for item in listed]
    hashes = list(dict.fromkeys(h.strip().lower() for h in raw if h.strip()))
    if not hashes:
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION", "hash is required.")
    if len(hashes) > MAX_HASHES:
        raise TorBoxError(400, "TOO_MANY_OPTIONS", f"Check at most {MAX_HASHES} hashes a call.")
    options = body if isinstance(body, dict) else {}
    form = str(request.args.get("format", options.get("format", "object")))
    if form not in ("object", "list"):
        raise TorBoxError(400, "INVALID_OPTION", "format must be object or list.")
    list_files = _truthy(request.args.get("list_files", options.get("list_files", "")))
    found = [cached_json(entry, list_files) for entry in map(_cached, hashes) if entry]
    data = {item["hash"]: item for item in found} if form == "object" else found
    return envelope(data, f"Found {len(found)} cached torrents.")


def _cached(info_hash: str) -> CatalogueEntry | None:
    """What TorBox's cache holds for a hash: the seeded catalogue, and whatever the account
    has finished downloading (TorBox caches it for everyone)."""
    try:
        info_hash = normalize_infohash(info_hash)
    except ValueError:
        return None
    state = current().state
    entry = state.catalogue_entry(info_hash)
    if entry is not None and common.is_cached(info_hash):
        return entry
    torrent_id = state.torrent_id_with_hash(info_hash)
    record = state.torrent(torrent_id) if torrent_id else None
    if record is None or not phase(record, state.now())[2]:
        return None
    return CatalogueEntry(record.hash, record.filename,
                          tuple(CatalogueFile(f.path, f.bytes) for f in record.files))


@blueprint.get("/user/me")
def me() -> Response:
    with_settings = _truthy(request.args.get("settings", ""))
    return envelope(user_json(current(), with_settings), "User data retrieved.")


# -- changing ----------------------------------------------------------------------------------

@blueprint.post("/torrents/controltorrent")
def control_torrent() -> Response:
    """JSON `{torrent_id, operation, all}`; operations are lowercase."""
    body = request.get_json(silent=True)
    fields = body if isinstance(body, dict) else request.form.to_dict()
    operation = str(fields.get("operation") or "")
    if not operation:
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION", "operation is required.")
    if operation not in OPERATIONS:
        raise TorBoxError(400, "INVALID_OPTION", "Invalid operation.")
    if _truthy(fields.get("all", False)):
        _, page = common.torrents(0, 1 << 30)
        targets = page
    elif fields.get("torrent_id") in (None, ""):
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION", "torrent_id is required.")
    else:
        targets = [_record(_int(fields["torrent_id"], "torrent_id"))]
    if operation == "delete":
        for record in targets:
            common.delete(record.id)
    return envelope(None, OPERATIONS[operation])


@blueprint.delete("/torrents/controltorrent/<torbox_id>")
def delete_torrent(torbox_id: str) -> Response:
    """The DELETE form some clients use (decypharr)."""
    common.delete(_record(_int(torbox_id, "torrent_id")).id)
    return envelope(None, OPERATIONS["delete"])


@blueprint.get("/torrents/requestdl")
def request_download() -> Response:
    """A direct link to one file, opening for an hour: the URL as `data`, or a 302 to it
    with `redirect=true`."""
    args = request.args
    if not args.get("torrent_id", "").strip():
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION", "torrent_id is required.")
    if _truthy(args.get("zip_link", "")):
        raise TorBoxError(400, "INVALID_OPTION", "The sandbox builds no zip links: ask for "
                                                 "one file_id.")
    if not args.get("file_id", "").strip():
        raise TorBoxError(400, "MISSING_REQUIRED_OPTION", "file_id or zip_link is required.")
    record = _record(_int(args["torrent_id"], "torrent_id"))
    file_id = _int(args["file_id"], "file_id") + 1
    _, finished, present, _ = phase(record, current().state.now())
    if common.status(record) == "dead":
        raise _refused(Why.DEAD)
    if not present:
        raise _refused(Why.NOT_READY)
    link_id = common.file_links(record).get(file_id)
    if link_id is None or not finished:
        raise _refused(Why.NOT_FOUND)
    try:
        download = common.mint(link_id, token(), lifetime=LINK_LIFETIME_SECONDS)
    except Refusal as refusal:
        raise _refused(refusal.why) from None
    url = common.direct_url(download)
    if _truthy(args.get("redirect", "")):
        return Response(status=302, headers={"Location": url})
    return envelope(url, "Download link generated.")


DIALECT = Dialect(
    name="torbox", label="TorBox", blueprint=blueprint, prefix="/v1/api",
    api_paths=("/v1/api/",), base_path="/v1/api", token=token, unauthorized=_unauthorized,
    rate_limited=rate_limited, http_error=_http_error)
