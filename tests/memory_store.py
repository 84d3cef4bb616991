"""A test-only, in-memory store implementing core's EngineStore port: the engine's unit tests
run on it, so the Protocols in core/ports.py are the whole contract the engine relies on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from core.errors import DuplicateTorrent
from core.models import (
    ACTIVE_STATES,
    ImportedTorrent,
    NewTorrent,
    Torrent,
    TorrentFile,
    TorrentState,
)
from core.ports import DirectLink, EngineStore, RemoteFile, RemoteStatus, RemoteTorrent

S = TorrentState
# What a caller may change, as the SQLite store allows (every other field is the store's).
FIXED = frozenset({"id", "hash", "state", "magnet", "has_torrent_file",
                   "added_on", "state_since", "rev", "tags", "files", "content_layout",
                   "piece_size"})
UPDATABLE = frozenset(f.name for f in fields(Torrent)) - FIXED
QUIET = frozenset({"next_check_at", "attempts"})
DOWNLOAD_QUEUE = (S.QUEUED, S.SUBMITTING, S.RESOLVING, S.DOWNLOADING, S.FINALIZING)
MISSING_PASSES = 2


@dataclass
class _Imported:
    torrent: ImportedTorrent
    seen: int
    missing: int = 0
    files: list[RemoteFile] = field(default_factory=list)


class MemoryStore:
    """Dictionaries behind the EngineStore Protocols, with the SQLite store's semantics
    where the engine depends on them (live hashes and folders unique, compare-and-set
    transitions, revisions, queue positions)."""

    def __init__(self) -> None:
        self.torrents: dict[int, Torrent] = {}
        self.files: dict[int, dict[int, TorrentFile]] = {}
        self.blobs: dict[int, bytes] = {}
        self.meta: dict[str, str] = {}
        self.links: dict[tuple[str, str], DirectLink] = {}
        self.leases: dict[str, tuple[str, float]] = {}
        self.imported: dict[tuple[str, str], _Imported] = {}
        self.rev = 1
        self.next_id = 1

    # -- helpers ------------------------------------------------------------------------------
    def _bump(self) -> int:
        self.rev += 1
        return self.rev

    def _live(self) -> list[Torrent]:
        return [t for t in self.torrents.values() if t.state is not S.DELETING]

    def _with_files(self, torrent: Torrent, with_files: bool) -> Torrent:
        return replace(torrent, files=tuple(self.files_of(torrent.id))) if with_files \
            else torrent

    # -- TorrentStore -------------------------------------------------------------------------
    def add_torrent(self, new: NewTorrent, now: float) -> Torrent:
        added = self.add_torrents([new], now)
        if not added:
            raise DuplicateTorrent(new.hash)
        return self._with_files(added[0], True)

    def add_torrents(self, news: Sequence[NewTorrent], now: float) -> list[Torrent]:
        rev = self._bump()
        positions = [t.queue_position for t in self.torrents.values()] or [0]
        top, bottom = min(positions), max(positions)
        added = []
        for new in news:
            if any(t.hash == new.hash for t in self._live()):
                continue
            position = top - 1 if new.add_to_top else bottom + 1
            top, bottom = min(top, position), max(bottom, position)
            torrent = Torrent(
                id=self.next_id, hash=new.hash, name=new.name, state=S.QUEUED,
                category=new.category, save_path=new.save_path, magnet=new.magnet,
                has_torrent_file=new.torrent_file is not None, trackers=new.trackers,
                provider=new.provider, paused=new.paused, total_size=new.total_size,
                ratio_limit=new.ratio_limit, seeding_time_limit=new.seeding_time_limit,
                added_on=int(now), last_activity=int(now), state_since=now,
                queue_position=position, force_start=new.force_start,
                inactive_seeding_time_limit=new.inactive_seeding_time_limit,
                piece_size=new.piece_size, origin_name=new.origin_name or new.name,
                content_layout=new.content_layout, dl_limit=new.dl_limit,
                up_limit=new.up_limit, seq_dl=new.seq_dl,
                first_last_piece_prio=new.first_last_piece_prio, auto_tmm=new.auto_tmm,
                rev=rev, tags=tuple(sorted(new.tags)))
            self.next_id += 1
            self.torrents[torrent.id] = torrent
            self.files[torrent.id] = {f.index: replace(f, remote_path=f.remote_path or f.path)
                                      for f in new.files}
            if new.torrent_file is not None:
                self.blobs[torrent.id] = new.torrent_file
            added.append(torrent)
        return added

    def get_torrent(self, torrent_id: int, *, with_files: bool = False) -> Torrent | None:
        found = self.torrents.get(torrent_id)
        return None if found is None else self._with_files(found, with_files)

    def get_torrents(self, ids: Iterable[int]) -> dict[int, Torrent]:
        return {i: self.torrents[i] for i in ids if i in self.torrents}

    def get_by_hash(self, info_hash: str, *, with_files: bool = False) -> Torrent | None:
        found = next((t for t in self._live() if t.hash == info_hash.lower()), None)
        return None if found is None else self._with_files(found, with_files)

    def list_torrents(self, *, category: str | None = None,
                      hashes: Iterable[str] | None = None) -> list[Torrent]:
        wanted = None if hashes is None else {h.lower() for h in hashes}
        return sorted((t for t in self._live()
                       if (category is None or t.category == category)
                       and (wanted is None or t.hash in wanted)), key=lambda t: t.id)

    def files_of(self, torrent_id: int) -> list[TorrentFile]:
        return [self.files[torrent_id][i] for i in sorted(self.files.get(torrent_id, {}))]

    def _change(self, torrent_id: int, fields_: dict[str, Any]) -> None:
        unknown = set(fields_) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        torrent = self.torrents.get(torrent_id)
        if torrent is None:
            return
        if "trackers" in fields_ and isinstance(fields_["trackers"], str):
            text = fields_["trackers"]
            fields_ = {**fields_, "trackers": tuple(text.split("\n")) if text else ()}
        if "folder" in fields_ and fields_["folder"] and any(
                t.folder == fields_["folder"] and t.id != torrent_id for t in self._live()):
            raise DuplicateTorrent(f"folder {fields_['folder']!r} is taken")
        changes: dict[str, Any] = dict(fields_)
        if not set(fields_) <= QUIET:
            changes["rev"] = self._bump()
        self.torrents[torrent_id] = replace(torrent, **changes)

    def update_torrent(self, torrent_id: int, **fields_: Any) -> None:
        if fields_:
            self._change(torrent_id, fields_)

    def transition(self, torrent_id: int, from_states: Iterable[TorrentState],
                   to_state: TorrentState, now: float, **fields_: Any) -> bool:
        torrent = self.torrents.get(torrent_id)
        if torrent is None or torrent.state not in set(from_states):
            return False
        self._change(torrent_id, fields_)
        self.torrents[torrent_id] = replace(self.torrents[torrent_id], state=to_state,
                                            state_since=now, rev=self._bump())
        return True

    def set_files(self, torrent_id: int, files: Iterable[TorrentFile]) -> None:
        self.files[torrent_id] = {f.index: replace(f, remote_path=f.remote_path or f.path)
                                  for f in files}
        self._change(torrent_id, {})

    def update_file(self, torrent_id: int, index: int, **fields_: Any) -> None:
        current = self.files.get(torrent_id, {}).get(index)
        if current is not None:
            self.files[torrent_id][index] = replace(current, **fields_)
            self._change(torrent_id, {})

    def claim_folder(self, torrent_id: int, candidates: Sequence[str]) -> str:
        for name in candidates:
            try:
                self._change(torrent_id, {"folder": name})
            except DuplicateTorrent:
                continue
            return name
        raise DuplicateTorrent(f"no free folder name among {list(candidates)}")

    def delete_torrent_row(self, torrent_id: int) -> None:
        self.torrents.pop(torrent_id, None)
        self.files.pop(torrent_id, None)
        self.blobs.pop(torrent_id, None)
        self._bump()

    def provider_id_users(self, provider: str, provider_torrent_id: str) -> int:
        return sum(1 for t in self.torrents.values()
                   if t.provider == provider and t.provider_torrent_id == provider_torrent_id)

    def set_tags(self, torrent_id: int, tags: Iterable[str]) -> None:
        torrent = self.torrents[torrent_id]
        self.torrents[torrent_id] = replace(torrent, tags=tuple(sorted(set(tags))),
                                            rev=self._bump())

    def torrent_file_of(self, torrent_id: int) -> bytes | None:
        return self.blobs.get(torrent_id)

    def count_torrents(self) -> int:
        return len(self._live())

    def live_hashes(self) -> set[str]:
        return {t.hash for t in self._live()}

    def download_queue(self) -> list[int]:
        return [t.id for t in sorted((t for t in self.torrents.values()
                                      if t.state in DOWNLOAD_QUEUE),
                                     key=lambda t: (t.queue_position, t.id))]

    def revision(self) -> int:
        return self.rev

    def torrents_changed_since(self, rev: int, *, or_active: bool = False) -> list[Torrent]:
        return [t for t in self.list_torrents()
                if t.rev > rev or (or_active and t.state in DOWNLOAD_QUEUE)]

    def transfer_sums(self) -> tuple[int, int]:
        live = self._live()
        return (sum(int(t.size * t.progress) for t in live),
                sum(t.speed for t in live if t.state in (S.DOWNLOADING, S.FINALIZING)))

    # -- ScheduleStore ------------------------------------------------------------------------
    def _due(self, torrent: Torrent) -> bool:
        active = torrent.state in ACTIVE_STATES and (not torrent.paused
                                                     or torrent.state is S.DELETING)
        return active or (torrent.layout_dirty and torrent.state is not S.DELETING)

    def due_torrents(self, now: float, limit: int) -> list[Torrent]:
        due = [t for t in self.torrents.values() if self._due(t) and t.next_check_at <= now]
        return sorted(due, key=lambda t: t.next_check_at)[:limit]

    def next_due_at(self, exclude: Iterable[int] = ()) -> float | None:
        skip = set(exclude)
        times = [t.next_check_at for t in self.torrents.values()
                 if self._due(t) and t.id not in skip]
        return min(times) if times else None

    def torrents_waiting_on(self, provider: str) -> list[Torrent]:
        return [t for t in self.list_torrents() if t.provider == provider and t.state in (
            S.RESOLVING, S.DOWNLOADING) and t.provider_torrent_id and not t.paused]

    def active_at_provider(self, provider: str | None = None) -> int:
        return sum(1 for t in self.torrents.values()
                   if t.state in (S.SUBMITTING, S.RESOLVING, S.DOWNLOADING) and not t.paused
                   and (provider is None or t.provider == provider))

    @staticmethod
    def _ahead(other: Torrent, torrent: Torrent) -> bool:
        return (other.queue_position, other.id) < (torrent.queue_position, torrent.id)

    def starting_ahead(self, torrent: Torrent, since: float) -> int:
        return sum(1 for t in self.torrents.values()
                   if t.provider == torrent.provider and t.state in (S.SUBMITTING, S.RESOLVING)
                   and t.state_since > since and self._ahead(t, torrent))

    def queue_ahead(self, torrent: Torrent) -> int:
        return sum(1 for t in self.torrents.values()
                   if t.state is S.QUEUED and not t.paused and not t.force_start
                   and self._ahead(t, torrent))

    def acquire_lease(self, name: str, owner: str, ttl: float, now: float,
                      steal_from_dead: bool = False) -> bool:
        held = self.leases.get(name)
        if held and held[0] != owner and held[1] > now and not steal_from_dead:
            return False
        self.leases[name] = (owner, now + ttl)
        return True

    def release_lease(self, name: str, owner: str) -> None:
        if self.leases.get(name, ("", 0.0))[0] == owner:
            del self.leases[name]

    def lease_holder(self, name: str, now: float) -> str | None:
        held = self.leases.get(name)
        return held[0] if held and held[1] > now else None

    # -- ImportedStore ------------------------------------------------------------------------
    def upsert_imported(self, provider: str, remotes: Sequence[RemoteTorrent],
                        generation: int, now: float) -> tuple[int, int]:
        new = known = 0
        for r in remotes:
            key = (provider, r.id)
            entry = ImportedTorrent(provider, r.id, r.hash, r.name, r.size, r.status.value,
                                    r.progress, r.added or now, r.ended, len(r.links), False)
            if key in self.imported:
                old = self.imported[key]
                keep = old.torrent.status == entry.status and old.torrent.links == entry.links
                self.imported[key] = replace(old, seen=generation, missing=0, torrent=replace(
                    entry, added=old.torrent.added,
                    files_known=old.torrent.files_known and keep))
                known += 1
            elif not self.provider_id_users(provider, r.id) and not any(
                    t.hash == r.hash and t.provider == provider for t in self._live()):
                self.imported[key] = _Imported(entry, generation)
                new += 1
        return new, known

    def finish_import_pass(self, provider: str, generation: int) -> int:
        gone = []
        for key, entry in self.imported.items():
            if key[0] == provider and entry.seen < generation:
                entry.missing += 1
                if entry.missing >= MISSING_PASSES:
                    gone.append(key)
        for key in gone:
            del self.imported[key]
        return len(gone)

    def imported_needing_details(self, provider: str, limit: int) -> list[ImportedTorrent]:
        waiting = [e.torrent for (p, _), e in self.imported.items() if p == provider
                   and not e.torrent.files_known
                   and e.torrent.status == RemoteStatus.READY.value]
        return sorted(waiting, key=lambda t: -t.added)[:limit]

    def set_imported_files(self, provider: str, remote_id: str,
                           files: Sequence[RemoteFile]) -> None:
        entry = self.imported[(provider, remote_id)]
        entry.files = list(files)
        entry.torrent = replace(entry.torrent, files_known=True)

    def delete_imported(self, provider: str, remote_id: str) -> None:
        self.imported.pop((provider, remote_id), None)

    def imported_by_hash(self, provider: str, info_hash: str) -> ImportedTorrent | None:
        found = [e.torrent for (p, _), e in self.imported.items()
                 if p == provider and e.torrent.hash == info_hash.lower()]
        found.sort(key=lambda t: (t.status != RemoteStatus.READY.value, t.added))
        return found[0] if found else None

    def imported_uses(self, provider: str, remote_id: str) -> bool:
        return (provider, remote_id) in self.imported

    def import_from_entry(self, torrent: Torrent, now: float) -> None:
        selected = [f for f in torrent.files if f.selected]
        ready = bool(selected) and all(f.link for f in selected)
        key = (torrent.provider, torrent.provider_torrent_id)
        if key in self.imported:
            return
        status = RemoteStatus.READY if ready else RemoteStatus.DOWNLOADING
        self.imported[key] = _Imported(ImportedTorrent(
            torrent.provider, torrent.provider_torrent_id, torrent.hash,
            torrent.origin_name or torrent.name, torrent.size, status.value,
            1.0 if ready else torrent.progress, float(torrent.added_on),
            float(torrent.completion_on) if ready and torrent.completion_on else None,
            sum(1 for f in selected if f.link), True), 0,
            files=[RemoteFile(f.provider_file_id, f.source_path, f.size, f.selected, f.link)
                   for f in torrent.files if f.provider_file_id])

    # -- LinkStore ----------------------------------------------------------------------------
    def get_link(self, provider: str, source: str, now: float) -> DirectLink | None:
        link = self.links.get((provider, source))
        if link is None or (link.expires_at is not None and link.expires_at <= now):
            return None
        return link

    def put_link(self, provider: str, source: str, link: DirectLink) -> None:
        self.links[(provider, source)] = link

    def drop_link(self, provider: str, source: str) -> None:
        self.links.pop((provider, source), None)

    # -- MetaStore ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        return self.meta.get(key)

    def set_meta(self, key: str, value: str) -> None:
        self.meta[key] = value

    def set_meta_if_absent(self, key: str, value: str) -> bool:
        if key in self.meta:
            return False
        self.meta[key] = value
        return True


if TYPE_CHECKING:
    # mypy checks the fake against the port it stands in for
    _PORT: EngineStore = MemoryStore()
