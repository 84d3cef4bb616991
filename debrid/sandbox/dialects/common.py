"""What every dialect does to the shared state, named by what happens: add, read, select
everything, mint a direct link, delete. Dialects only parse, refuse and envelope."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from debrid.sandbox import render
from debrid.sandbox.catalogue import (
    CatalogueEntry,
    CatalogueFile,
    InvalidMagnetError,
    InvalidTorrentError,
    entry_for_magnet,
    entry_for_upload,
    marker_entry,
    parse_magnet,
    parse_torrent_file,
)
from debrid.sandbox.records import (
    DownloadRecord,
    FileRecord,
    LinkRecord,
    TorrentRecord,
    random_id,
)
from debrid.sandbox.runtime import Sandbox, current, origin
from debrid.sandbox.status import Timeline


class Why(enum.StrEnum):
    BAD_MAGNET = "bad_magnet"
    BAD_TORRENT = "bad_torrent"
    INFRINGING = "infringing"
    SLOTS_FULL = "slots_full"
    NOT_CACHED = "not_cached"
    NOT_FOUND = "not_found"      # no such torrent or link
    NOT_READY = "not_ready"      # the torrent has not finished
    GONE = "gone"                # the torrent was deleted
    DEAD = "dead"                # the torrent died (content purged)
    EXHAUSTED = "exhausted"      # this account's traffic is used up


class Refusal(Exception):
    """Why the state refused; each dialect maps it to its own error code."""

    def __init__(self, why: Why) -> None:
        super().__init__(why.value)
        self.why = why


def slots_full(sandbox: Sandbox) -> bool:
    limit = sandbox.options.max_active
    return bool(limit) and sandbox.state.active_count() >= limit


def add_magnet(uri: str, *, only_if_cached: bool = False, select_all: bool = True) -> TorrentRecord:
    """Create a torrent from a magnet. `select_all`: the provider downloads every file (no
    selection step), so the torrent is selected as soon as its metadata is known."""
    try:
        magnet = parse_magnet(uri)
    except InvalidMagnetError:
        raise Refusal(Why.BAD_MAGNET) from None
    return _add(magnet.hash, lambda seeded, dead: entry_for_magnet(magnet, seeded, dead),
                only_if_cached=only_if_cached, select_all=select_all, converts=True)


def add_upload(data: bytes, *, only_if_cached: bool = False,
               select_all: bool = True) -> TorrentRecord:
    try:
        meta = parse_torrent_file(data)
    except InvalidTorrentError:
        raise Refusal(Why.BAD_TORRENT) from None
    return _add(meta.hash, lambda seeded, dead: entry_for_upload(meta, seeded, dead),
                only_if_cached=only_if_cached, select_all=select_all, converts=False)


def _add(info_hash: str, make_entry: Callable[[Any, float], CatalogueEntry], *,
         only_if_cached: bool, select_all: bool, converts: bool) -> TorrentRecord:
    sandbox = current()
    options, state = sandbox.options, sandbox.state
    with state.lock:
        entry = make_entry(state.catalogue_entry(info_hash), options.dead_after_seconds)
        if entry.infringing:
            raise Refusal(Why.INFRINGING)
        if only_if_cached and not entry.cached:
            raise Refusal(Why.NOT_CACHED)
        if slots_full(sandbox):
            raise Refusal(Why.SLOTS_FULL)
        torrent_id = state.add_torrent(
            entry, conversion_seconds=options.conversion_seconds if converts else 0.0)
    return torrent(torrent_id, select_all=select_all)


def is_cached(info_hash: str) -> bool:
    """Whether the catalogue holds this hash as cached (an unseeded hash is not known)."""
    entry = current().state.catalogue_entry(info_hash.lower())
    return entry is not None and entry.cached and not entry.infringing


def torrent(torrent_id: str, *, select_all: bool = True,
            include_deleted: bool = False) -> TorrentRecord:
    """The torrent now (NOT_FOUND if unknown or deleted); a provider without a selection
    step has selected everything once the metadata is there."""
    state = current().state
    record = state.torrent(torrent_id, include_deleted=include_deleted)
    if record is None:
        raise Refusal(Why.NOT_FOUND)
    if select_all:
        record = _select_all(record)
    return record


def torrents(offset: int = 0, limit: int = 5000, *, unfinished_only: bool = False,
             select_all: bool = True) -> tuple[int, list[TorrentRecord]]:
    """A page, newest first, without files (listings of a selecting provider stay cheap)."""
    total, page = current().state.list_torrents(offset, limit, unfinished_only=unfinished_only)
    if select_all:
        page = [_select_all(t) if _needs_selection(t) else t for t in page]
    return total, page


def with_files(record: TorrentRecord) -> TorrentRecord:
    """A listed torrent with its files and links."""
    return torrent(record.id)


def _needs_selection(record: TorrentRecord) -> bool:
    return record.timeline.selected_at is None and \
        record.timeline.status(current().state.now()) == "waiting_files_selection"


def _select_all(record: TorrentRecord) -> TorrentRecord:
    sandbox = current()
    state, options = sandbox.state, sandbox.options
    if not _needs_selection(record):
        return record
    with state.lock:
        fresh = state.torrent(record.id)
        if fresh is None or not _needs_selection(fresh):
            return fresh or record
        if not fresh.files or (not fresh.cached and slots_full(sandbox)):
            return fresh           # waits for a slot, as the provider's queue does
        full = state.torrent(record.id)
        assert full is not None
        state.select_files(record.id, [f.id for f in full.files], archive=False,
                           cached=full.cached, queue_seconds=options.queue_seconds,
                           download_seconds=options.download_seconds)
        selected = state.torrent(record.id)
    assert selected is not None
    return selected


def status(record: TorrentRecord) -> str:
    """Real-Debrid's status word for the torrent now (each dialect translates it)."""
    return record.timeline.status(current().state.now())


def progress(record: TorrentRecord) -> int:
    """Percent, 0..100."""
    return record.timeline.progress(current().state.now())


def file_links(record: TorrentRecord) -> dict[int, str]:
    """file id -> the link id that serves it (one link per selected file; no archives)."""
    selected = sorted(f.id for f in record.files if f.selected)
    if record.archive or len(record.links) != len(selected):
        return {}
    return dict(zip(selected, record.links, strict=True))


def mint(link_id: str, token: str = "", lifetime: float | None = None) -> DownloadRecord:
    """A fresh direct link for one hoster link, as Real-Debrid's unrestrict makes it;
    `lifetime` caps options.link_lifetime_seconds (a provider whose links live an hour)."""
    sandbox = current()
    state, options = sandbox.state, sandbox.options
    if token and token in options.exhausted_tokens:
        raise Refusal(Why.EXHAUSTED)
    with state.lock:
        link = state.link(link_id)
        if link is None:
            raise Refusal(Why.NOT_FOUND)
        record = state.torrent(link.torrent_id, include_deleted=True)
        if record is None or record.deleted:
            raise Refusal(Why.GONE)
        now = state.now()
        if record.timeline.status(now) == "dead":
            raise Refusal(Why.DEAD)
        if not record.timeline.finished(now):
            raise Refusal(Why.NOT_READY)
        filename = render.link_filename(record, link.file_ids)
        return state.add_download(link=link, torrent=record, filename=filename,
                                  mime=render.mime_type(filename),
                                  lifetime=min(options.link_lifetime_seconds,
                                               lifetime or options.link_lifetime_seconds))


def current_link(link_id: str) -> DownloadRecord:
    """The live direct link of a hoster link, minted once and reused until it expires (what
    a file list that carries direct URLs shows)."""
    existing = current().state.download_for_link(link_id)
    return existing if existing is not None else mint(link_id)


def direct_url(download: DownloadRecord) -> str:
    return render.download_url(origin(), download)


def delete(torrent_id: str) -> bool:
    return current().state.delete_torrent(torrent_id)


def name_of(record: TorrentRecord, path: str) -> str:
    """A file's path as providers that list the root folder give it: `<name>/<path>`."""
    return f"{record.filename}/{path.lstrip('/')}"


# -- integer torrent ids (AllDebrid, TorBox): the state's sequence number stands for the id --


def number_of(record: TorrentRecord) -> int:
    return record.seq


def numbers_of(records: list[TorrentRecord]) -> dict[str, int]:
    return {r.id: r.seq for r in records}


def torrent_by_number(raw: object, *, select_all: bool = True) -> TorrentRecord:
    """The torrent whose integer id is `raw` (a form value); NOT_FOUND if none or deleted."""
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise Refusal(Why.NOT_FOUND) from None
    torrent_id = current().state.torrent_id_for_seq(number) if 0 < number < 2**62 else None
    if torrent_id is None:
        raise Refusal(Why.NOT_FOUND)
    return torrent(torrent_id, select_all=select_all)
# -- added for the Premiumize dialect: instant links without a torrent, lookups by hash -----

def entry_of(record: TorrentRecord) -> CatalogueEntry:
    """The catalogue entry behind a torrent: the seeded one, else what its name's markers
    say (as at the add)."""
    sandbox = current()
    seeded = sandbox.state.catalogue_entry(record.hash)
    if seeded is not None:
        return seeded
    return marker_entry(record.hash, record.filename, (), sandbox.options.dead_after_seconds)


def torrents_with_hash(info_hash: str) -> list[TorrentRecord]:
    """The account's (undeleted) torrents with this info-hash, newest first, without files."""
    state = current().state
    found: list[TorrentRecord] = []
    offset = 0
    while True:
        total, page = state.list_torrents(offset, 5000)
        found.extend(t for t in page if t.hash == info_hash)
        offset += len(page)
        if not page or offset >= total:
            return found


def mint_detached(entry: CatalogueEntry) -> list[tuple[CatalogueFile, DownloadRecord]]:
    """Direct links to every file of a cached entry, with no torrent in the account: what
    an instant download of cached content (Premiumize's transfer/directdl) hands out. The
    bytes are the ones a torrent of this entry would serve (same hash, same file ids)."""
    sandbox = current()
    state, options = sandbox.state, sandbox.options
    if not entry.cached or entry.infringing:
        raise Refusal(Why.NOT_CACHED)
    now = state.now()
    files = [FileRecord(i, f.path, f.bytes, True) for i, f in enumerate(entry.files, start=1)]
    record = TorrentRecord(
        id=random_id(), hash=entry.hash, filename=entry.name, cached=True, archive=False,
        original_bytes=sum(f.bytes for f in files), bytes=sum(f.bytes for f in files),
        timeline=Timeline(added=now, conversion_end=now, no_metadata=False, selected_at=now,
                          queue_end=now, ended_at=now),
        deleted=False, files=files)
    minted = []
    for file, catalogue_file in zip(files, entry.files, strict=True):
        link = LinkRecord(random_id(), record.id, [file.id])
        filename = render.link_filename(record, link.file_ids)
        minted.append((catalogue_file, state.add_download(
            link=link, torrent=record, filename=filename, mime=render.mime_type(filename),
            lifetime=options.link_lifetime_seconds)))
    return minted
