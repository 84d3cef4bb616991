"""Premiumize's dialect: the /api routes (transfers, cache check, direct download, cloud
folders and items, account) over the shared state, in Premiumize's envelope.

Premiumize answers most refusals with HTTP 200 and `{"status": "error", "message": ...}`;
clients tell them apart by the message, so the messages here are the ones clients match.
Credentials: `Authorization: Bearer <key>`, or the legacy `apikey` query or form parameter.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, Response, jsonify, request

from debrid.sandbox.catalogue import (
    CatalogueEntry,
    InvalidMagnetError,
    InvalidTorrentError,
    entry_for_magnet,
    entry_for_upload,
    normalize_infohash,
    parse_magnet,
    parse_torrent_file,
)
from debrid.sandbox.dialects import Dialect, DialectError, common
from debrid.sandbox.dialects import premiumize_view as view
from debrid.sandbox.dialects.common import Refusal, Why
from debrid.sandbox.records import TorrentRecord
from debrid.sandbox.runtime import current

blueprint = Blueprint("premiumize", __name__)
NOT_LOGGED_IN = "Not logged in."
FAIR_USE = "Fair use limit reached!"
SLOTS_FULL = "You already have a maximum of {limit} active downloads in progress!"
DUPLICATE = "You already added this job."
BAD_SOURCE = "Src not compatible."
NO_SOURCE = "no src found"
NOT_CACHED = "Content not in cache."
NOT_FOUND = "Item not found."
NO_TRANSFER = "Transfer not found."
INTERNAL = ("An error occured. Please try again and contact customer service if the "
            "problem persists.")
TOO_MANY = "Too many requests. Please slow down."
CUSTOMER_ID = 1000001
_MAX_LIST = 1 << 62


class PremiumizeError(DialectError):
    """A refusal in Premiumize's envelope (HTTP 200 unless `status` says otherwise)."""

    def __init__(self, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def response(self) -> Response:
        return error_response(self.message, self.status)


def error_response(message: str, status: int = 200) -> Response:
    response = jsonify({"status": "error", "message": message})
    response.status_code = status
    return response


def _success(**fields: Any) -> Response:
    return jsonify({"status": "success", **fields})


def _refused(refusal: Refusal) -> PremiumizeError:
    why = refusal.why
    if why is Why.SLOTS_FULL:
        return PremiumizeError(SLOTS_FULL.format(limit=current().options.max_active))
    if why in (Why.BAD_MAGNET, Why.BAD_TORRENT):
        return PremiumizeError(BAD_SOURCE)
    if why is Why.EXHAUSTED:
        return PremiumizeError(FAIR_USE)
    if why is Why.NOT_CACHED:
        return PremiumizeError(NOT_CACHED)
    return PremiumizeError(NOT_FOUND)


def token() -> str:
    """Bearer header first (what Premiumize recommends), then the legacy `apikey`."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return (request.args.get("apikey") or request.form.get("apikey") or "").strip()


def _param(name: str) -> str:
    return (request.values.get(name) or "").strip()


def _exhausted() -> bool:
    return token() in current().options.exhausted_tokens


# -- transfers --------------------------------------------------------------------------------

def _entry_for_source() -> tuple[str, CatalogueEntry, bytes | None]:
    """(hash, catalogue entry, upload bytes) of what transfer/create was given."""
    sandbox = current()
    state, dead_after = sandbox.state, sandbox.options.dead_after_seconds
    upload = request.files.get("file") or request.files.get("src")
    if upload is not None:
        data = upload.read()
        try:
            meta = parse_torrent_file(data)
        except InvalidTorrentError:
            raise PremiumizeError(BAD_SOURCE) from None
        return meta.hash, entry_for_upload(meta, state.catalogue_entry(meta.hash),
                                           dead_after), data
    src = _param("src")
    if not src:
        raise PremiumizeError(NO_SOURCE)
    try:
        magnet = parse_magnet(src)
    except InvalidMagnetError:
        raise PremiumizeError(BAD_SOURCE) from None   # http links to hosters: not served here
    return magnet.hash, entry_for_magnet(magnet, state.catalogue_entry(magnet.hash),
                                         dead_after), None


@blueprint.post("/transfer/create")
def create_transfer() -> Response:
    if _exhausted():
        raise PremiumizeError(FAIR_USE)
    info_hash, entry, data = _entry_for_source()
    if common.torrents_with_hash(info_hash):
        raise PremiumizeError(DUPLICATE)
    try:
        record = common.add_upload(data) if data is not None else \
            common.add_magnet(_param("src"))
    except Refusal as refusal:
        if refusal.why is not Why.INFRINGING:
            raise _refused(refusal) from None
        # Premiumize takes the job and shows it `banned`; it never downloads.
        state = current().state
        banned = state.torrent(state.add_torrent(entry, conversion_seconds=0.0))
        assert banned is not None
        record = banned
    return _success(id=record.id, name=record.filename, type="torrent")


def _listed(record: TorrentRecord) -> dict[str, Any]:
    rd_status = common.status(record)
    banned = rd_status in view.UNSELECTED and view.is_banned(record)
    if not banned and rd_status in ("waiting_files_selection", "downloaded"):
        record = common.torrent(record.id)    # selects everything / reads its files
    return view.transfer_json(record, banned)


@blueprint.route("/transfer/list", methods=["GET", "POST"])
def list_transfers() -> Response:
    _, page = current().state.list_torrents(0, _MAX_LIST)
    return _success(transfers=[_listed(record) for record in page])


@blueprint.post("/transfer/delete")
def delete_transfer() -> Response:
    transfer_id = _param("id")
    if not transfer_id or not common.delete(transfer_id):
        raise PremiumizeError(NO_TRANSFER)
    return _success()


@blueprint.post("/transfer/clearfinished")
def clear_finished() -> Response:
    _, page = current().state.list_torrents(0, _MAX_LIST)
    for record in page:
        if common.status(record) == "downloaded":
            common.delete(record.id)
    return _success()


# -- cache and instant downloads --------------------------------------------------------------

def _entry_for_item(item: str) -> CatalogueEntry | None:
    """What a cache/check item (a magnet or a bare info-hash) names; None: not a torrent."""
    sandbox = current()
    uri = item if item.lower().startswith("magnet:") else f"magnet:?xt=urn:btih:{item}"
    try:
        magnet = parse_magnet(uri)
        normalize_infohash(magnet.hash)
    except (InvalidMagnetError, ValueError):
        return None
    # A bare hash has no name and so no markers: like an unmarked magnet, it is cached
    # unless the catalogue says otherwise.
    return entry_for_magnet(magnet, sandbox.state.catalogue_entry(magnet.hash),
                            sandbox.options.dead_after_seconds)


@blueprint.route("/cache/check", methods=["GET", "POST"])
def cache_check() -> Response:
    items = request.values.getlist("items[]") or request.values.getlist("items")
    response, transcoded, filenames, sizes = [], [], [], []
    for item in items:
        entry = _entry_for_item(item.strip())
        cached = entry is not None and entry.cached and not entry.infringing
        response.append(cached)
        transcoded.append(False)
        filenames.append(entry.name if cached and entry else None)
        sizes.append(str(sum(f.bytes for f in entry.files)) if cached and entry else None)
    return _success(response=response, transcoded=transcoded, filename=filenames,
                    filesize=sizes)


@blueprint.post("/transfer/directdl")
def direct_download() -> Response:
    """Links to cached content at once, without creating a transfer."""
    if _exhausted():
        raise PremiumizeError(FAIR_USE)
    src = _param("src")
    if not src:
        raise PremiumizeError(NO_SOURCE)
    entry = _entry_for_item(src)
    if entry is None:
        raise PremiumizeError(BAD_SOURCE)
    try:
        minted = common.mint_detached(entry)
    except Refusal as refusal:
        raise _refused(refusal) from None
    single = len(entry.files) == 1 and "/" not in entry.files[0].path.strip("/")
    content = [{"path": f.path.strip("/") if single else f"{entry.name}/{f.path.strip('/')}",
                "size": f.bytes, "link": common.direct_url(download), "stream_link": None,
                "transcode_status": "not_applicable"} for f, download in minted]
    return _success(location=content[0]["link"], filename=entry.name,
                    filesize=sum(f.bytes for f in entry.files), content=content)


# -- the cloud: folders and items -------------------------------------------------------------

def _finished(torrent_id: str) -> TorrentRecord:
    record = current().state.torrent(torrent_id)
    if record is None or common.status(record) != "downloaded":
        raise PremiumizeError(NOT_FOUND)      # deleted, dead (purged), or not finished yet
    return common.torrent(torrent_id)


def _root_listing() -> Response:
    """The account's root folder: one folder or file per finished transfer."""
    content = []
    _, page = current().state.list_torrents(0, _MAX_LIST)
    for listed in page:
        if common.status(listed) != "downloaded":
            continue
        record = common.torrent(listed.id)
        single = view.single_file(record)
        if single is None:
            content.append({"id": view.folder_id(record.id), "name": record.filename,
                            "type": "folder",
                            "created_at": int(record.timeline.ended_at or 0)})
        else:
            item = view.item_json(record, common.file_links(record).get(single.id, ""))
            if item is not None:
                content.append(item)
    return _success(content=content, name="root", parent_id=None, folder_id=None)


@blueprint.route("/folder/list", methods=["GET", "POST"])
def folder_list() -> Response:
    wanted = _param("id")
    if not wanted:
        return _root_listing()
    parsed = view.parse_folder_id(wanted)
    if parsed is None:
        raise PremiumizeError(NOT_FOUND)
    torrent_id, subpath = parsed
    record = _finished(torrent_id)
    content = view.folder_content(record, subpath)
    if content is None:
        raise PremiumizeError(NOT_FOUND)
    return _success(content=content, name=view.folder_name(record, subpath),
                    parent_id=view.parent_of(record, subpath), folder_id=wanted)


@blueprint.route("/item/details", methods=["GET", "POST"])
def item_details() -> Response:
    link = current().state.link(_param("id")) if _param("id") else None
    if link is None:
        raise PremiumizeError(NOT_FOUND)
    item = view.item_json(_finished(link.torrent_id), link.id)
    if item is None:
        raise PremiumizeError(NOT_FOUND)
    return _success(**item)


# -- the account ------------------------------------------------------------------------------

@blueprint.route("/account/info", methods=["GET", "POST"])
def account_info() -> Response:
    state = current().state
    return _success(customer_id=CUSTOMER_ID, premium_until=int(state.premium_until),
                    limit_used=1.0 if _exhausted() else 0.0, space_used=0.0,
                    booster_points=0)


# -- the dialect ------------------------------------------------------------------------------

def _rate_limited() -> Response:
    """429 with Retry-After: the seconds until the per-token bucket holds a request again."""
    per_minute = max(1, current().options.rate_limit_per_minute)
    response = error_response(TOO_MANY, 429)
    response.headers["Retry-After"] = str(max(1, math.ceil(60 / per_minute)))
    return response


def _http_error(status: int) -> Response:
    if status >= 500:
        return error_response(INTERNAL, status)
    words = {404: "Not found.", 405: "Method not allowed.", 413: "File too big."}
    return error_response(words.get(status, "Bad request."), status)


DIALECT = Dialect(
    name="premiumize", label="Premiumize", blueprint=blueprint, prefix="/api",
    api_paths=("/api/",), base_path="/api", token=token,
    unauthorized=lambda: error_response(NOT_LOGGED_IN), rate_limited=_rate_limited,
    http_error=_http_error)
