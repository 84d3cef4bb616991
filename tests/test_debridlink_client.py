"""The Debrid-Link client against the standalone sandbox (`--dialect debridlink`) over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from core.ports import CacheCheck, FailureCause, RemoteStatus
from debrid.base import (
    AuthError,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotFound,
    ProtocolError,
    ProviderTimeout,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
)
from debrid.cdn import HttpContentSource
from debrid.debridlink import ERROR_CODES, KIND, DebridLink
from debrid.registry import provider_type
from store.sqlite import open_store
from tests.helpers import (
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    standalone_sandbox,
    wait_until,
)

TOKEN = "dl-client-test-token"
ACCOUNT = "^/api/v2/account/infos$"
# the HTTP status the fake gives each key (any other key: 400), see the dialect's docstring
STATUSES = {"badToken": 401, "hidedToken": 401, "expired_token": 401, "accountLocked": 403,
            "serverNotAllowed": 403, "floodDetected": 429, "unknowR": 404,
            "internalError": 500, "server_error": 500}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standalone_sandbox(
            tmp_path_factory.mktemp("dl-client"),
            "--dialect", "debridlink", "--token", TOKEN, "--download-seconds", "1") as origin:
        yield origin


@pytest.fixture
def admin(sandbox: str) -> Iterator[str]:
    url = f"{sandbox}/__admin"
    requests.post(f"{url}/reset", timeout=5).raise_for_status()
    requests.post(f"{url}/config", json={"max_active": 0, "rate_limit_per_minute": 0,
                                         "download_seconds": 1, "queue_seconds": 0.2,
                                         "conversion_seconds": 0,
                                         "link_lifetime_seconds": 86400}, timeout=5)
    yield url
    requests.delete(f"{url}/faults", timeout=5)


@pytest.fixture
def dl(sandbox: str, admin: str) -> DebridLink:
    return DebridLink(name="dl", api_key=TOKEN, base_url=f"{sandbox}/api/v2", timeout=5,
                      attempts=1)


def _fault(admin: str, **rule: object) -> None:
    requests.post(f"{admin}/faults", json=rule, timeout=5).raise_for_status()


def _refuse(admin: str, key: str, status: int | None = None, route: str = ACCOUNT,
            **rule: Any) -> None:
    """The next call to `route` answers Debrid-Link's error envelope for `key`."""
    _fault(admin, route=route, status=status or STATUSES.get(key, 400),
           body={"success": False, "error": key}, count=1, **rule)


def _requests(admin: str, path: str) -> list[dict[str, Any]]:
    log = requests.get(f"{admin}/requests", timeout=5).json()["requests"]
    return [entry for entry in log if entry["path"] == path]


def test_cached_magnet_is_ready_at_once_with_direct_links(dl: DebridLink) -> None:
    info_hash = random_hash()
    torrent_id = dl.add_magnet(magnet(info_hash, "Client.Show.S01E01.1080p", 2_000_000))
    torrent = dl.get_torrent(torrent_id)
    assert torrent.status is RemoteStatus.READY       # cached: the probe sees it ready
    assert (torrent.hash, torrent.progress, torrent.failure) == (info_hash, 1.0, None)
    assert [f.path for f in torrent.files] == [
        "Client.Show.S01E01.1080p.mkv", "Sample/Client.Show.S01E01.1080p.sample.mkv",
        "Client.Show.S01E01.1080p.nfo"]
    assert all(f.selected and f.link for f in torrent.files)   # no selection step
    main = torrent.files[0]
    assert main.size == 2_000_000
    direct = dl.resolve_link(main.link)
    assert (direct.filename, direct.size) == ("Client.Show.S01E01.1080p.mkv", 2_000_000)
    assert direct.expires_at is not None
    assert direct.expires_at > time.time() + 3600
    stream = HttpContentSource().open(direct.url, 1_000_000)
    data = b"".join(stream.chunks(1 << 16))
    stream.close()
    assert data == expected_bytes(info_hash, 1, 1_000_000, 1_000_000)
    assert [t.id for t in dl.list_torrents()] == [torrent_id]
    dl.delete_torrent(torrent_id)
    dl.delete_torrent(torrent_id)                  # badId the second time: still fine
    with pytest.raises(NotFound):
        dl.get_torrent(torrent_id)
    with pytest.raises(LinkUnavailable):           # its files are gone with it
        dl.resolve_link(main.link)


def test_uncached_torrent_queues_downloads_then_is_stored(dl: DebridLink,
                                                          admin: str) -> None:
    requests.post(f"{admin}/config", json={"queue_seconds": 5, "download_seconds": 60},
                  timeout=5)
    torrent_id = dl.add_magnet(magnet(random_hash(), "Slow.Movie.2020 [uncached]", 1000))
    seen = [dl.get_torrent(torrent_id)]
    for seconds in (10, 20, 40):                       # on the sandbox's clock
        requests.post(f"{admin}/clock", json={"advance": seconds}, timeout=5)
        seen.append(dl.get_torrent(torrent_id))
    assert [t.status for t in seen] == [RemoteStatus.QUEUED, RemoteStatus.DOWNLOADING,
                                        RemoteStatus.DOWNLOADING, RemoteStatus.READY]
    assert [t.raw_status for t in seen] == ["download queued", "downloading", "downloading",
                                            "stored"]
    progress = [t.progress for t in seen]
    assert progress == sorted(progress)
    assert 0 < progress[1] < progress[2] < 1 == progress[3]
    assert seen[1].seeders
    assert seen[1].speed > 0
    assert all(not f.link for t in seen[:3] for f in t.files)   # no URL before it is stored
    assert all(f.link for f in seen[3].files)


def test_metadata_is_awaited_after_an_async_add(dl: DebridLink, admin: str) -> None:
    requests.post(f"{admin}/config", json={"conversion_seconds": 30}, timeout=5)
    torrent_id = dl.add_magnet(magnet(random_hash(), "Fetching.mkv", 100))
    fetching = dl.get_torrent(torrent_id)
    assert (fetching.status, fetching.files, fetching.size) == (RemoteStatus.METADATA, (), 0)
    requests.post(f"{admin}/clock", json={"advance": 31}, timeout=5)
    assert dl.get_torrent(torrent_id).status is RemoteStatus.READY


def test_an_expired_url_is_replaced_when_resolved_again(dl: DebridLink, admin: str) -> None:
    info_hash = random_hash()
    torrent_id = dl.add_magnet(magnet(info_hash, "Expiring.mkv", 5000))
    link = dl.get_torrent(torrent_id).files[0].link
    first = dl.resolve_link(link)
    assert dl.resolve_link(link).url == first.url       # the same while it lives
    requests.post(f"{admin}/clock", json={"advance": 86400 + 60}, timeout=5)
    assert requests.get(first.url, timeout=5).status_code == 403
    fresh = dl.resolve_link(link)                        # the same reference, a new URL
    assert fresh.url != first.url
    body = requests.get(fresh.url, headers={"Range": "bytes=0-99"}, timeout=5)
    assert body.status_code == 206
    assert body.content == expected_bytes(info_hash, 1, 0, 100)


def test_torrent_file_upload(dl: DebridLink, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "E02.mkv": 2000})
    torrent = dl.get_torrent(dl.add_torrent_file(data))
    assert torrent.hash == info_hash
    assert [(f.path, f.size) for f in torrent.files] == [("E01.mkv", 1000), ("E02.mkv", 2000)]
    # numbered as the .torrent numbers them (Debridge pairs its files with them so); the
    # link keeps Debrid-Link's own file id
    assert [f.id for f in torrent.files] == ["1", "2"]
    assert [f.link for f in torrent.files] == [f"{torrent.id}/{torrent.id}-0",
                                               f"{torrent.id}/{torrent.id}-1"]
    assert dl.resolve_link(torrent.files[1].link).size == 2000
    with pytest.raises(InvalidTorrent) as caught:
        dl.add_torrent_file(b"not a torrent")
    assert (caught.value.native_code, caught.value.http_status) == ("notAddTorrent", 400)


def test_listing_walks_every_page_newest_first(dl: DebridLink, admin: str) -> None:
    created = requests.post(f"{admin}/torrents", json={"count": 45, "name": "Paged"},
                            timeout=10).json()["ids"]
    requests.delete(f"{admin}/requests", timeout=5)
    listed = [t.id for t in dl.list_torrents(page_size=20)]
    assert listed == list(reversed(created))
    pages = [entry["query"] for entry in _requests(admin, "/api/v2/seedbox/list")]
    assert pages == ["page=0&perPage=20", "page=1&perPage=20", "page=2&perPage=20"]
    # a page size under Debrid-Link's minimum is raised to it rather than refused
    assert len(list(dl.list_torrents(page_size=5))) == 45


def test_active_only_lists_what_the_provider_still_works_on(dl: DebridLink,
                                                            admin: str) -> None:
    requests.post(f"{admin}/config", json={"download_seconds": 60}, timeout=5)
    done = dl.add_magnet(magnet(random_hash(), "Done.mkv", 10))
    busy = dl.add_magnet(magnet(random_hash(), "Busy.mkv [uncached]", 10))
    assert [t.id for t in dl.list_torrents()] == [busy, done]
    assert [t.id for t in dl.list_torrents(active_only=True)] == [busy]


def test_account(dl: DebridLink, admin: str) -> None:
    account = dl.get_account()
    assert (account.username, account.premium) == ("sandbox", True)
    until = datetime.fromisoformat(account.expires_at).timestamp()
    assert until > time.time() + 300 * 86400        # premiumLeft is seconds left
    _fault(admin, route=ACCOUNT, status=200, count=1, body={"success": True, "value": {
        "username": "life", "accountType": 2, "premiumLeft": 0, "pts": 0}})
    lifetime = dl.get_account()
    assert (lifetime.premium, lifetime.expires_at, lifetime.notes) == \
        (True, "", ("lifetime account",))
    _fault(admin, route=ACCOUNT, status=200, count=1, body={"success": True, "value": {
        "username": "free", "accountType": 0, "premiumLeft": 0, "serverDetected": True}})
    free = dl.get_account()
    assert (free.premium, free.expires_at) == (False, "")
    assert "a server or VPN address was detected" in free.notes


def test_the_fakes_refusals_map_to_the_hierarchy(dl: DebridLink, admin: str) -> None:
    with pytest.raises(InvalidTorrent) as infringing:
        dl.add_magnet(magnet(random_hash(), "Bad.Film [infringing]"))
    assert (infringing.value.native_code, infringing.value.http_status) == \
        ("notAddTorrent", 400)
    with pytest.raises(InvalidTorrent):
        dl.add_magnet("magnet:?xt=urn:btih:nothex")
    with pytest.raises(Unsupported) as removed:     # the cache check is gone
        dl._call("GET", f"seedbox/cached?url={random_hash()}", idempotent=True)
    assert (removed.value.native_code, removed.value.http_status) == ("unknowR", 404)
    wrong = DebridLink(name="dl", api_key="wrong-token", base_url=dl.http.base_url,
                       attempts=1)
    with pytest.raises(AuthError) as auth:
        wrong.get_account()
    assert (auth.value.native_code, auth.value.http_status) == ("badToken", 401)
    assert not auth.value.retryable


def test_slots_full_is_max_torrent(dl: DebridLink, admin: str) -> None:
    requests.post(f"{admin}/config", json={"max_active": 1, "download_seconds": 30},
                  timeout=5).raise_for_status()
    dl.add_magnet(magnet(random_hash(), "One [uncached]", 100))
    with pytest.raises(SlotsFull) as caught:
        dl.add_magnet(magnet(random_hash(), "Two [uncached]", 100))
    assert (caught.value.native_code, caught.value.http_status) == ("maxTorrent", 400)
    assert caught.value.retryable


def test_failed_torrents_say_why(dl: DebridLink, admin: str) -> None:
    no_metadata = dl.get_torrent(dl.add_magnet(magnet(random_hash(), "Never [magnet_error]")))
    assert (no_metadata.status, no_metadata.failure) == \
        (RemoteStatus.FAILED, FailureCause.MAGNET_ERROR)
    assert "metadata" in no_metadata.message
    torrent_id = dl.add_magnet(magnet(random_hash(), "Gone.Soon.mkv", 100))
    link = dl.get_torrent(torrent_id).files[0].link
    requests.post(f"{admin}/torrents/{torrent_id}", json={"dead": True}, timeout=5)
    dead = dl.get_torrent(torrent_id)
    assert (dead.status, dead.failure) == (RemoteStatus.FAILED, FailureCause.DEAD)
    assert dead.raw_status == "stopped, error 3"
    with pytest.raises(LinkUnavailable):
        dl.resolve_link(link)


@pytest.mark.parametrize("key", sorted(ERROR_CODES))
def test_every_error_key_over_http(dl: DebridLink, admin: str, key: str) -> None:
    expected = ERROR_CODES[key]
    status = STATUSES.get(key, 400)
    _refuse(admin, key, status)
    with pytest.raises(expected) as caught:
        dl.get_account()
    assert type(caught.value) is expected
    assert (caught.value.native_code, caught.value.http_status) == (key, status)
    assert caught.value.provider == "dl"
    assert caught.value.message


@pytest.mark.parametrize(("key", "expected"), [
    ("badToken", AuthError), ("maxData", DebridError), ("floodDetected", RateLimited),
    ("badId", NotFound), ("internalError", ServiceUnavailable)])
def test_errors_carried_by_http_200_are_raised_too(dl: DebridLink, admin: str, key: str,
                                                   expected: type[DebridError]) -> None:
    _refuse(admin, key, 200)
    with pytest.raises(expected) as caught:
        dl.get_account()
    assert (caught.value.native_code, caught.value.http_status) == (key, 200)
    assert type(caught.value) is ERROR_CODES[key]


def test_unknown_keys_and_foreign_bodies_fall_back_on_the_status(dl: DebridLink,
                                                                 admin: str) -> None:
    for status, expected in ((404, NotFound), (503, ServiceUnavailable), (400, ProtocolError),
                             (401, AuthError), (429, RateLimited)):
        _refuse(admin, "somethingNew", status)
        with pytest.raises(expected) as caught:
            dl.get_account()
        assert caught.value.native_code == "somethingNew"
    _fault(admin, route=ACCOUNT, status=503, html=True, count=1)
    with pytest.raises(ServiceUnavailable):
        dl.get_account()
    _fault(admin, route=ACCOUNT, kind="malformed", count=1)
    with pytest.raises(ProtocolError):
        dl.get_account()
    _fault(admin, route=ACCOUNT, status=200, body={"username": "no envelope"}, count=1)
    with pytest.raises(ProtocolError):
        dl.get_account()


def test_a_flood_blocks_the_request_budget_whatever_its_status(sandbox: str, admin: str,
                                                               tmp_path: Path) -> None:
    client = DebridLink(name="dl", api_key=TOKEN, base_url=f"{sandbox}/api/v2", timeout=5,
                        attempts=1, per_minute=600, store=open_store(tmp_path))
    assert client.get_account().premium
    [budget] = client.budgets()
    assert (budget.blocked_for, budget.recent_rate_limits) == (0, 0)
    _refuse(admin, "floodDetected", 429)
    with pytest.raises(RateLimited):
        client.get_account()
    [budget] = client.budgets()
    assert budget.blocked_for > 0
    assert budget.recent_rate_limits == 1
    _refuse(admin, "floodDetected", 200)
    with pytest.raises(RateLimited) as caught:
        client.get_account()
    assert caught.value.http_status == 200
    [budget] = client.budgets()
    assert budget.blocked_for > 0
    assert budget.recent_rate_limits == 2


def test_the_fakes_own_rate_limit_is_a_flood(dl: DebridLink, admin: str) -> None:
    requests.post(f"{admin}/config", json={"rate_limit_per_minute": 3}, timeout=5)
    for _ in range(3):
        dl.get_account()
    with pytest.raises(RateLimited) as caught:
        dl.get_account()
    assert (caught.value.native_code, caught.value.http_status) == ("floodDetected", 429)


def test_a_refused_add_is_retried_and_an_ambiguous_one_is_not(sandbox: str,
                                                              admin: str) -> None:
    client = DebridLink(name="dl", api_key=TOKEN, base_url=f"{sandbox}/api/v2", timeout=0.5,
                        attempts=3)
    # a flood refusal (with 200 or 429) took no effect: the add is sent again, once
    _refuse(admin, "floodDetected", 200, route="seedbox/add", headers={"Retry-After": "0.1"})
    client.add_magnet(magnet(random_hash(), "Flooded.Then.Ok.mkv", 10))
    _refuse(admin, "floodDetected", 429, route="seedbox/add", headers={"Retry-After": "0.1"})
    client.add_magnet(magnet(random_hash(), "Flooded.Again.mkv", 10))
    assert len(list(client.list_torrents())) == 2
    # a timeout after sending may have taken effect: never blindly re-add
    _fault(admin, route="seedbox/add", kind="timeout", delay=1.5, count=1)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        client.add_magnet(magnet(random_hash(), "Ambiguous.mkv", 10))
    assert caught.value.ambiguous
    assert time.monotonic() - started < 1.4
    time.sleep(1.3)                 # the sandbox finishes the add after its delay
    assert len(list(client.list_torrents())) == 3


def test_registered_as_debridlink_and_its_sandbox() -> None:
    assert (KIND.type, KIND.per_minute, KIND.needs_key) == ("debridlink", 250, True)
    capabilities = KIND.capabilities
    assert (capabilities.file_selection, capabilities.link_step, capabilities.active_slots,
            capabilities.add_only_if_cached) == (False, False, False, False)
    assert capabilities.cache_check is CacheCheck.PROBE
    assert provider_type("debridlink").kind is KIND
    stand_in = provider_type("sandbox-debridlink")
    assert (stand_in.dialect, stand_in.kind.sandbox, stand_in.kind.needs_key) == \
        ("debridlink", True, False)


@pytest.mark.settings(providers=[{"name": "dl", "type": "sandbox-debridlink"}])
def test_debridge_completes_a_torrent_through_debrid_link(qbit: FlaskClient) -> None:
    """The whole path: the qBittorrent API, the engine, this client and the fake."""
    info_hash = random_hash()
    assert qbit.post("/api/v2/torrents/add", data={
        "urls": magnet(info_hash, "Through.DL.2024.mkv", 123_457)}).text == "Ok."
    entry = wait_until(lambda: [t for t in qbit.get("/api/v2/torrents/info").json
                                if t["state"] == "pausedUP"], timeout=30, what="pausedUP")[0]
    placed = Path(entry["content_path"]) / "Through.DL.2024.mkv"
    assert placed.read_bytes() == expected_bytes(info_hash, 1, 0, 123_457)
