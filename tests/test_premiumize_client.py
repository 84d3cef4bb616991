"""The Premiumize client against the standalone sandbox (`python -m debrid.sandbox --dialect
premiumize`) over HTTP: lifecycle, every status value and error message it maps, limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from core.ports import FailureCause, RemoteStatus
from debrid.base import (
    AuthError,
    Blocked,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotCached,
    NotFound,
    PremiumRequired,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
)
from debrid.cdn import HttpContentSource
from debrid.premiumize import Premiumize
from store.sqlite import open_store
from tests.helpers import (
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    standalone_sandbox,
    wait_until,
)

TOKEN = "pm-client-test-key"
LIST = "^/api/transfer/list$"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standalone_sandbox(
            tmp_path_factory.mktemp("pm-client"),
            "--dialect", "premiumize", "--token", TOKEN, "--download-seconds", "1") as origin:
        yield origin


@pytest.fixture
def admin(sandbox: str) -> Iterator[str]:
    url = f"{sandbox}/__admin"
    requests.post(f"{url}/reset", timeout=5).raise_for_status()
    requests.post(f"{url}/config", json={"max_active": 0, "exhausted_tokens": [],
                                         "conversion_seconds": 0, "download_seconds": 1,
                                         "rate_limit_per_minute": 0}, timeout=5)
    yield url
    requests.delete(f"{url}/faults", timeout=5)


@pytest.fixture
def pm(sandbox: str, admin: str) -> Premiumize:
    return Premiumize(name="pm", api_key=TOKEN, base_url=f"{sandbox}/api", timeout=5,
                      attempts=1)


def _fault(admin: str, **rule: object) -> None:
    requests.post(f"{admin}/faults", json=rule, timeout=5).raise_for_status()


def _advance(admin: str, seconds: float) -> None:
    requests.post(f"{admin}/clock", json={"advance": seconds}, timeout=5).raise_for_status()


def _calls(admin: str, path: str) -> list[dict[str, Any]]:
    entries = requests.get(f"{admin}/requests", timeout=5).json()["requests"]
    return [e for e in entries if e["path"] == path]


def _listing(*transfers: dict[str, Any]) -> dict[str, Any]:
    return {"status": "success", "transfers": list(transfers)}


def test_cached_magnet_lifecycle_links_and_bytes(pm: Premiumize, admin: str) -> None:
    info_hash = random_hash()
    transfer_id = pm.add_magnet(magnet(info_hash, "Client.Show.S01E01.1080p", 2_000_000))
    first = pm.get_torrent(transfer_id)
    # finished at once (cached), but its folder has no files yet: not READY
    assert (first.raw_status, first.status) == ("finished", RemoteStatus.PROCESSING)
    assert first.hash == info_hash
    _advance(admin, 2)
    ready = pm.get_torrent(transfer_id)
    assert ready.status is RemoteStatus.READY
    assert ready.progress == 1.0
    assert [(f.path, f.selected) for f in ready.files] == [
        ("Client.Show.S01E01.1080p.mkv", True),
        ("Sample/Client.Show.S01E01.1080p.sample.mkv", True),
        ("Client.Show.S01E01.1080p.nfo", True)]
    main = ready.files[0]
    assert main.size == 2_000_000
    assert main.link == main.id                  # the stable item id, not the CDN URL
    assert ready.size == sum(f.size for f in ready.files)
    direct = pm.resolve_link(main.link)
    assert (direct.filename, direct.size) == ("Client.Show.S01E01.1080p.mkv", 2_000_000)
    assert direct.expires_at is not None
    assert direct.expires_at > time.time()
    stream = HttpContentSource().open(direct.url, 1_000_000)
    data = b"".join(stream.chunks(1 << 16))
    stream.close()
    assert data == expected_bytes(info_hash, 1, 1_000_000, 1_000_000)
    listed = list(pm.list_torrents())
    assert [(t.id, t.status, t.files) for t in listed] == [(transfer_id, RemoteStatus.READY, ())]
    assert list(pm.list_torrents(active_only=True)) == []
    pm.delete_torrent(transfer_id)
    pm.delete_torrent(transfer_id)               # idempotent
    with pytest.raises(NotFound):
        pm.get_torrent(transfer_id)
    with pytest.raises(LinkUnavailable):         # the cloud file went with the transfer
        pm.resolve_link(main.link)


def test_single_file_transfer_reads_its_item(pm: Premiumize, admin: str) -> None:
    info_hash = random_hash()
    transfer_id = pm.add_magnet(magnet(info_hash, "Single.Movie.2020.mkv", 5000))
    _advance(admin, 2)
    torrent = pm.get_torrent(transfer_id)
    assert torrent.status is RemoteStatus.READY
    assert [(f.path, f.size) for f in torrent.files] == [("Single.Movie.2020.mkv", 5000)]
    assert len(_calls(admin, "/api/item/details")) == 1
    assert _calls(admin, "/api/folder/list") == []


def test_uncached_download_rises_through_queued_and_running(pm: Premiumize, admin: str) -> None:
    transfer_id = pm.add_magnet(magnet(random_hash(), "Slow.Movie.2020 [uncached]", 10**8))
    seen = []

    def finished() -> bool:
        torrent = pm.get_torrent(transfer_id)
        seen.append(torrent)
        return torrent.raw_status == "finished"

    wait_until(finished, timeout=10, interval=0.05)
    assert RemoteStatus.DOWNLOADING in {t.status for t in seen}
    assert RemoteStatus.QUEUED in {t.status for t in seen}
    running = [t for t in seen if t.raw_status == "running"]
    assert all(t.speed > 0 and t.seeders for t in running)      # read from its message
    progress = [t.progress for t in seen]
    assert progress == sorted(progress)
    assert pm.active_count() == (0, 25)
    _advance(admin, 2)
    assert pm.get_torrent(transfer_id).status is RemoteStatus.READY


def test_waiting_for_metadata_takes_a_slot(pm: Premiumize, admin: str) -> None:
    requests.post(f"{admin}/config", json={"conversion_seconds": 60}, timeout=5)
    transfer_id = pm.add_magnet(magnet(random_hash(), "Slow.Metadata.mkv"))
    torrent = pm.get_torrent(transfer_id)
    assert (torrent.raw_status, torrent.status) == ("waiting", RemoteStatus.METADATA)
    assert pm.active_count() == (1, 25)
    assert [t.id for t in pm.list_torrents(active_only=True)] == [transfer_id]


def test_torrent_file_upload(pm: Premiumize, admin: str, tmp_path: Path) -> None:
    data, _info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "E02.mkv": 2000})
    transfer_id = pm.add_torrent_file(data)
    _advance(admin, 2)
    torrent = pm.get_torrent(transfer_id)
    assert torrent.status is RemoteStatus.READY
    assert [(f.path, f.size) for f in torrent.files] == [("E01.mkv", 1000), ("E02.mkv", 2000)]
    assert pm.add_torrent_file(data) == transfer_id     # "You already added this job."
    with pytest.raises(InvalidTorrent) as caught:
        pm.add_torrent_file(b"not a torrent")
    assert (caught.value.native_code, caught.value.http_status) == ("bad_source", 200)


def test_adding_twice_answers_the_existing_transfer(pm: Premiumize) -> None:
    uri = magnet(random_hash(), "Twice.Added.mkv", 100)
    first = pm.add_magnet(uri)
    assert pm.add_magnet(uri) == first
    assert [t.id for t in pm.list_torrents()] == [first]


def test_only_if_cached_checks_the_cache_first(pm: Premiumize, admin: str,
                                               tmp_path: Path) -> None:
    uncached = random_hash()
    requests.post(f"{admin}/seed", json={"hash": uncached, "name": "Rare", "cached": False},
                  timeout=5).raise_for_status()
    with pytest.raises(NotCached):
        pm.add_magnet(magnet(uncached, "Rare"), only_if_cached=True)
    assert list(pm.list_torrents()) == []        # nothing was created
    assert pm.add_magnet(magnet(random_hash(), "Common.mkv"), only_if_cached=True)
    data, _ = make_torrent(tmp_path, "Cached.Pack", {"a.mkv": 10})
    assert pm.add_torrent_file(data, only_if_cached=True)
    with pytest.raises(InvalidTorrent):
        pm.add_magnet("magnet:?dn=no-hash", only_if_cached=True)


def test_check_cached_in_batches_of_100(pm: Premiumize, admin: str) -> None:
    hashes = [random_hash() for _ in range(150)]
    requests.post(f"{admin}/seed", json=[{"hash": h, "cached": False} for h in hashes[::50]],
                  timeout=5).raise_for_status()
    answer = pm.check_cached(hashes)
    assert answer == {h: i % 50 != 0 for i, h in enumerate(hashes)}
    assert len(_calls(admin, "/api/cache/check")) == 2
    _fault(admin, route="^/api/cache/check$", kind="status", status=200, count=1,
           body={"status": "success", "response": [True]})
    with pytest.raises(ProtocolError):           # the arrays must follow the items
        pm.check_cached(hashes[:2])


def test_banned_dead_and_failed_transfers(pm: Premiumize, admin: str) -> None:
    banned = pm.add_magnet(magnet(random_hash(), "Bad.Film [infringing]"))
    torrent = pm.get_torrent(banned)
    assert (torrent.status, torrent.raw_status, torrent.failure) == (
        RemoteStatus.FAILED, "banned", FailureCause.INFRINGING)
    assert torrent.message
    broken = pm.add_magnet(magnet(random_hash(), "Never.Resolves [magnet_error]"))
    failed = pm.get_torrent(broken)
    assert (failed.raw_status, failed.failure) == ("error", FailureCause.ERROR)
    gone = pm.add_magnet(magnet(random_hash(), "Gone.Soon.mkv", 100))
    _advance(admin, 2)
    link = pm.get_torrent(gone).files[0].link
    requests.post(f"{admin}/torrents/{gone}", json={"dead": True}, timeout=5)
    dead = pm.get_torrent(gone)
    assert (dead.status, dead.raw_status, dead.failure) == (
        RemoteStatus.FAILED, "deleted", FailureCause.DEAD)
    with pytest.raises(LinkUnavailable):
        pm.resolve_link(link)


@pytest.mark.parametrize(("status", "expected", "failure"), [
    ("waiting", RemoteStatus.METADATA, None),
    ("queued", RemoteStatus.QUEUED, None),
    ("running", RemoteStatus.DOWNLOADING, None),
    ("finished", RemoteStatus.PROCESSING, None),      # no folder yet: files not there
    ("seeding", RemoteStatus.PROCESSING, None),
    ("error", RemoteStatus.FAILED, FailureCause.ERROR),
    ("timeout", RemoteStatus.FAILED, FailureCause.TIMEOUT),
    ("deleted", RemoteStatus.FAILED, FailureCause.DEAD),
    ("banned", RemoteStatus.FAILED, FailureCause.INFRINGING),
    ("something_new", RemoteStatus.PROCESSING, None),
])
def test_each_status_value_over_http(pm: Premiumize, admin: str, status: str,
                                     expected: RemoteStatus,
                                     failure: FailureCause | None) -> None:
    info_hash = random_hash()
    _fault(admin, route=LIST, status=200, count=1, body=_listing(
        {"id": "T1", "name": "Injected", "status": status, "progress": None,
         "message": "Downloading at 2.5 MB/s from 7 peers." if status == "running" else None,
         "src": f"magnet:?xt=urn:btih:{info_hash.upper()}", "folder_id": None,
         "file_id": None, "created_at": 1_700_000_000}))
    torrent = pm.get_torrent("T1")
    assert (torrent.status, torrent.failure, torrent.raw_status) == (expected, failure, status)
    assert torrent.hash == info_hash
    assert torrent.added == 1_700_000_000
    assert torrent.progress == (1.0 if status in ("finished", "seeding") else 0.0)
    if status == "running":
        assert (torrent.speed, torrent.seeders) == (2_500_000, 7)


def test_seeding_with_linked_files_is_ready(pm: Premiumize, admin: str) -> None:
    _fault(admin, route=LIST, status=200, count=1, body=_listing(
        {"id": "T2", "name": "Seeded", "status": "seeding", "progress": 1,
         "src": "magnet:?xt=urn:btih:" + "ab" * 20, "folder_id": "F1", "file_id": None}))
    _fault(admin, route="^/api/folder/list$", status=200, count=1, body={
        "status": "success", "content": [
            {"id": "F2", "name": "Extras", "type": "folder"},
            {"id": "I1", "name": "Main.mkv", "type": "file", "size": 10, "link": "https://x/1"}]})
    _fault(admin, route="^/api/folder/list$", status=200, count=1, body={
        "status": "success", "content": [
            {"id": "I2", "name": "Bonus.mkv", "type": "file", "size": "5", "link": "https://x/2"}]})
    torrent = pm.get_torrent("T2")
    assert torrent.status is RemoteStatus.READY
    assert [(f.id, f.path, f.size, f.link) for f in torrent.files] == [
        ("I2", "Extras/Bonus.mkv", 5, "I2"), ("I1", "Main.mkv", 10, "I1")]


@pytest.mark.parametrize(("message", "expected", "code"), [
    ("Not logged in.", AuthError, "not_logged_in"),
    ("Not logged in. Please log in first.", AuthError, "not_logged_in"),
    ("Account not premium.", PremiumRequired, "not_premium"),
    ("Fair use limit reached!", QuotaExceeded, "fair_use"),
    ("You already have a maximum of 25 active downloads in progress!", SlotsFull,
     "active_limit"),
    ("Src not compatible.", InvalidTorrent, "bad_source"),
    ("You already added this job.", ProtocolError, "already_added"),
    ("Item not found.", NotFound, "not_found"),
    ("Content not in cache.", NotCached, "not_cached"),
    ("This content is banned.", Blocked, "banned"),
    ("An error occured. Please try again and contact customer service if the problem "
     "persists.", ServiceUnavailable, "try_again"),
    ("Too many requests.", RateLimited, "rate_limited"),
    ("Something Premiumize never said before", ProtocolError, "unknown"),
])
def test_each_error_message_over_http(pm: Premiumize, admin: str, message: str,
                                      expected: type[DebridError], code: str) -> None:
    _fault(admin, route="^/api/account/info$", status=200, count=1,
           body={"status": "error", "message": message})
    with pytest.raises(expected) as caught:
        pm.get_account()
    assert type(caught.value) is expected
    assert (caught.value.native_code, caught.value.http_status) == (code, 200)
    assert caught.value.provider == "pm"
    assert message.split(".")[0] in caught.value.message        # Premiumize's own words


@pytest.mark.parametrize(("rule", "expected"), [
    ({"status": 521, "html": True}, ServiceUnavailable),        # Cloudflare: the site is down
    ({"status": 502, "html": True}, ServiceUnavailable),
    ({"status": 500, "body": {"status": "error", "message": "Internal error"}},
     ServiceUnavailable),
    ({"status": 401}, AuthError),
    ({"status": 404, "body": {"status": "error", "message": "Not found."}}, NotFound),
    ({"status": 429, "headers": {"Retry-After": "7"}}, RateLimited),
    ({"status": 400, "body": {"status": "error", "message": "Bad request."}}, ProtocolError),
    ({"status": 200, "kind": "malformed"}, ProtocolError),
])
def test_http_statuses_and_bodies(pm: Premiumize, admin: str, rule: dict[str, Any],
                                  expected: type[DebridError]) -> None:
    _fault(admin, route="^/api/account/info$", count=1, **rule)
    with pytest.raises(expected) as caught:
        pm.get_account()
    assert type(caught.value) is expected
    if rule["status"] == 429:
        assert caught.value.retry_after == 7
    if rule["status"] == 521:
        assert "down" in caught.value.message


def test_rate_limits_block_the_budget(sandbox: str, admin: str, tmp_path: Path) -> None:
    store = open_store(tmp_path)
    client = Premiumize(name="pm", api_key=TOKEN, base_url=f"{sandbox}/api", timeout=5,
                        attempts=1, per_minute=600, store=store)
    _fault(admin, route="^/api/account/info$", status=200, count=1,
           body={"status": "error", "message": "Too many requests, slow down."})
    with pytest.raises(RateLimited):
        client.get_account()
    assert client.budgets()[0].blocked_for > 0          # a 200 answer blocks it too
    requests.post(f"{admin}/config", json={"rate_limit_per_minute": 2}, timeout=5)
    plain = Premiumize(name="pm", api_key=TOKEN, base_url=f"{sandbox}/api", attempts=1)
    plain.get_account()
    plain.get_account()
    with pytest.raises(RateLimited) as caught:          # the sandbox's own 429
        plain.get_account()
    assert caught.value.http_status == 429
    assert caught.value.retry_after == 30


def test_bad_key_slots_and_fair_use(pm: Premiumize, admin: str) -> None:
    wrong = Premiumize(name="pm", api_key="wrong", base_url=pm.http.base_url, attempts=1)
    with pytest.raises(AuthError) as auth:
        wrong.get_account()
    assert (auth.value.native_code, auth.value.http_status) == ("not_logged_in", 200)
    requests.post(f"{admin}/config", json={"max_active": 1, "download_seconds": 30},
                  timeout=5).raise_for_status()
    pm.add_magnet(magnet(random_hash(), "One [uncached]", 100))
    with pytest.raises(SlotsFull) as full:
        pm.add_magnet(magnet(random_hash(), "Two [uncached]", 100))
    assert full.value.retryable
    requests.post(f"{admin}/config", json={"exhausted_tokens": [TOKEN]}, timeout=5)
    with pytest.raises(QuotaExceeded):
        pm.add_magnet(magnet(random_hash(), "Three.mkv", 100))
    assert pm.get_account().fair_use == 1.0


def test_account(pm: Premiumize) -> None:
    account = pm.get_account()
    assert account.premium
    assert account.username == "1000001"
    assert account.expires_at.endswith("Z")
    assert account.fair_use == 0.0
    assert account.notes == ("cloud space used: 0.0 GB", "booster points: 0")


def test_an_expired_link_is_resolved_afresh(pm: Premiumize, admin: str) -> None:
    info_hash = random_hash()
    transfer_id = pm.add_magnet(magnet(info_hash, "Expiring.mkv", 4096))
    _advance(admin, 2)
    link = pm.get_torrent(transfer_id).files[0].link
    old = pm.resolve_link(link).url
    assert requests.get(old, timeout=5).status_code == 200
    _advance(admin, 86400 + 1)                          # the sandbox's link lifetime
    assert requests.get(old, timeout=5).status_code == 403
    fresh = pm.resolve_link(link).url
    assert fresh != old
    assert requests.get(fresh, timeout=5).content == expected_bytes(info_hash, 1, 0, 4096)


def test_an_add_is_not_resent_after_an_ambiguous_error(sandbox: str, admin: str) -> None:
    """'An error occured' on a create may still have created it: never blindly re-add."""
    client = Premiumize(name="pm", api_key=TOKEN, base_url=f"{sandbox}/api", timeout=5,
                        attempts=3)
    _fault(admin, route="^/api/transfer/create$", status=200, count=1, body={
        "status": "error", "message": "An error occured. Please try again and contact "
                                      "customer service if the problem persists."})
    with pytest.raises(ServiceUnavailable) as caught:
        client.add_magnet(magnet(random_hash(), "Ambiguous.mkv", 10))
    assert caught.value.ambiguous
    assert len(_calls(admin, "/api/transfer/create")) == 1
    _fault(admin, route="^/api/transfer/create$", status=500, count=1, body={
        "status": "error", "message": "An error occured. Please try again."})
    with pytest.raises(ServiceUnavailable) as as_500:
        client.add_magnet(magnet(random_hash(), "Ambiguous.Too.mkv", 10))
    assert as_500.value.ambiguous                       # a generic 5xx, not a coded refusal
    assert len(_calls(admin, "/api/transfer/create")) == 2
    _fault(admin, route="^/api/transfer/create$", status=503, count=1, body={
        "status": "error", "message": "Fair use limit reached!"})
    with pytest.raises(QuotaExceeded) as coded:
        client.add_magnet(magnet(random_hash(), "Refused.mkv", 10))
    assert not coded.value.ambiguous                    # refused: it did not take effect
    _fault(admin, route="^/api/transfer/create$", status=429, count=1)
    assert client.add_magnet(magnet(random_hash(), "Refused.Then.Ok.mkv", 10))  # retried


def test_unknown_transfer_is_not_found(pm: Premiumize) -> None:
    with pytest.raises(NotFound):
        pm.get_torrent("NOSUCHTRANSFER")


def test_finished_transfer_without_its_cloud_file_is_processing(pm: Premiumize,
                                                                admin: str) -> None:
    """Listed finished, but item/details does not find its file (yet): not READY, and not
    a missing transfer either."""
    _fault(admin, route=LIST, status=200, count=1, body=_listing(
        {"id": "T3", "name": "Lagging", "status": "finished", "progress": 1,
         "src": "magnet:?xt=urn:btih:" + "cd" * 20, "folder_id": None, "file_id": "NOSUCHITEM"}))
    torrent = pm.get_torrent("T3")
    assert (torrent.status, torrent.files) == (RemoteStatus.PROCESSING, ())
