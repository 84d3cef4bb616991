"""The AllDebrid client against the standalone sandbox (`python -m debrid.sandbox --dialect
alldebrid`) over HTTP: every error code and statusCode it maps, links, delayed links, pacing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from core.errors import ProviderErrorKind
from core.ports import FailureCause, RemoteStatus
from core.settings import ProviderSettings
from debrid.alldebrid import ACTIVE_LIMIT, KIND, AllDebrid, PacedBudget
from debrid.alldebrid_parse import ERROR_CODES, FAILURES, STATUSES
from debrid.base import (
    AuthError,
    DebridError,
    InvalidTorrent,
    LinkUnavailable,
    NotCached,
    NotFound,
    ProviderTimeout,
    RateLimited,
    ServiceUnavailable,
    SlotsFull,
    Unsupported,
)
from debrid.cdn import HttpContentSource
from debrid.registry import build_provider
from store.sqlite import open_store
from tests.helpers import (
    expected_bytes,
    magnet,
    make_torrent,
    random_hash,
    standalone_sandbox,
    wait_until,
)

TOKEN = "ad-client-token"
LINK_KEY = "ad-download-key"
PACED_KEY = "ad-paced-key"      # its own per-second window, untouched by the other tests
USER_ROUTE = "^/v4/user$"
STATUS_ROUTE = "^/v4.1/magnet/status$"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with standalone_sandbox(
            tmp_path_factory.mktemp("ad-client"),
            "--dialect", "alldebrid", "--token", TOKEN, "--token", LINK_KEY, "--token",
            PACED_KEY, "--download-seconds", "1") as origin:
        yield origin


@pytest.fixture
def admin(sandbox: str) -> Iterator[str]:
    url = f"{sandbox}/__admin"
    requests.post(f"{url}/reset", timeout=5).raise_for_status()
    yield url
    requests.delete(f"{url}/faults", timeout=5)
    requests.post(f"{url}/config", json={"max_active": 0, "download_seconds": 1,
                                         "delayed_link_seconds": 0, "exhausted_tokens": [],
                                         "rate_limit_per_second": 0}, timeout=5)


def _client(sandbox: str, **options: Any) -> AllDebrid:
    settings: dict[str, Any] = {"timeout": 5, "attempts": 1, "delayed_poll": 0.05,
                                "delayed_wait": 2.0, **options}
    settings.setdefault("api_key", TOKEN)
    return AllDebrid(name="ad", base_url=sandbox, **settings)


@pytest.fixture
def ad(sandbox: str, admin: str) -> AllDebrid:
    return _client(sandbox)


def _fault(admin: str, **rule: object) -> None:
    requests.post(f"{admin}/faults", json=rule, timeout=5).raise_for_status()


def _config(admin: str, **options: object) -> None:
    requests.post(f"{admin}/config", json=options, timeout=5).raise_for_status()


def _advance(admin: str, seconds: float) -> None:
    requests.post(f"{admin}/clock", json={"advance": seconds}, timeout=5).raise_for_status()


def _requests(admin: str, path: str) -> list[dict[str, Any]]:
    entries = requests.get(f"{admin}/requests", timeout=5).json()["requests"]
    return [e for e in entries if e["path"] == path]


def test_cached_magnet_is_ready_at_once_with_files_links_and_bytes(ad: AllDebrid,
                                                                   sandbox: str) -> None:
    info_hash = random_hash()
    torrent_id = ad.add_magnet(magnet(info_hash, "Client.Show.S01E01.1080p", 2_000_000))
    assert torrent_id.isdigit()                 # AllDebrid's ids are integers
    torrent = ad.get_torrent(torrent_id)
    assert (torrent.status, torrent.raw_status, torrent.message) == (
        RemoteStatus.READY, "4", "Ready")
    assert (torrent.hash, torrent.progress, torrent.failure) == (info_hash, 1.0, None)
    # the root folder is the torrent's: paths are relative to it, sorted, ids are the paths
    assert [(f.id, f.path) for f in torrent.files] == [
        ("Client.Show.S01E01.1080p.mkv",) * 2, ("Client.Show.S01E01.1080p.nfo",) * 2,
        ("Sample/Client.Show.S01E01.1080p.sample.mkv",) * 2]
    main = torrent.files[0]
    assert (main.size, main.selected) == (2_000_000, True)
    assert all(f.link.startswith(f"{sandbox}/f/") for f in torrent.files)
    assert torrent.size == sum(f.size for f in torrent.files)
    direct = ad.resolve_link(main.link)
    assert (direct.filename, direct.size) == ("Client.Show.S01E01.1080p.mkv", 2_000_000)
    assert direct.expires_at is not None
    assert direct.expires_at > time.time()
    stream = HttpContentSource().open(direct.url, 1_000_000)
    data = b"".join(stream.chunks(1 << 16))
    stream.close()
    assert data == expected_bytes(info_hash, 1, 1_000_000, 1_000_000)
    assert [t.id for t in ad.list_torrents()] == [torrent_id]
    ad.delete_torrent(torrent_id)
    ad.delete_torrent(torrent_id)               # idempotent
    with pytest.raises(NotFound) as caught:
        ad.get_torrent(torrent_id)
    assert (caught.value.native_code, caught.value.http_status) == ("MAGNET_INVALID_ID", 200)
    with pytest.raises(LinkUnavailable) as gone:
        ad.resolve_link(main.link)
    assert gone.value.native_code == "LINK_DOWN"


def test_file_ids_stay_put_while_the_order_changes(ad: AllDebrid) -> None:
    torrent_id = ad.add_magnet(magnet(random_hash(), "Order.Test.S02"))
    first = ad.get_torrent(torrent_id).files
    assert all(ad.get_torrent(torrent_id).files == first for _ in range(5))


def test_single_file_torrent_has_no_folder(ad: AllDebrid) -> None:
    torrent_id = ad.add_magnet(magnet(random_hash(), "Lone.Movie.2020.mkv", 4321))
    files = ad.get_torrent(torrent_id).files
    assert [(f.path, f.size) for f in files] == [("Lone.Movie.2020.mkv", 4321)]


def test_uncached_magnet_runs_queue_download_processing_ready(ad: AllDebrid,
                                                              admin: str) -> None:
    _config(admin, download_seconds=100, queue_seconds=0.5)
    torrent_id = ad.add_magnet(magnet(random_hash(), "Slow.Film.2021 [uncached]", 10_000))
    seen = [ad.get_torrent(torrent_id)]
    for step in (0.6 + 10, 70, 10, 10):        # 10 %, 80 %, 90 %, done (of 100 s)
        _advance(admin, step)
        seen.append(ad.get_torrent(torrent_id))
    assert [t.status for t in seen] == [RemoteStatus.QUEUED, RemoteStatus.DOWNLOADING,
                                        RemoteStatus.PROCESSING, RemoteStatus.PROCESSING,
                                        RemoteStatus.READY]
    assert [t.raw_status for t in seen] == ["0", "1", "2", "3", "4"]
    assert 0.1 < seen[1].progress < 0.2
    assert seen[1].speed > 0
    assert seen[1].seeders
    assert [t.progress for t in seen[2:]] == [1.0, 1.0, 1.0]
    assert not any(t.files for t in seen[:-1])
    assert seen[-1].files
    assert seen[-1].ended is not None
    assert seen[-1].added is not None


def test_torrent_file_upload_and_invalid_file(ad: AllDebrid, tmp_path: Path) -> None:
    data, info_hash = make_torrent(tmp_path, "Pack.S01", {"E01.mkv": 1000, "Sub/E02.mkv": 2000})
    torrent = ad.get_torrent(ad.add_torrent_file(data))
    assert torrent.hash == info_hash
    assert [(f.path, f.size) for f in torrent.files] == [("E01.mkv", 1000),
                                                         ("Sub/E02.mkv", 2000)]
    with pytest.raises(InvalidTorrent) as caught:
        ad.add_torrent_file(b"not a torrent")
    assert caught.value.native_code == "MAGNET_INVALID_FILE"


def test_listing_newest_first_active_only_and_active_count(ad: AllDebrid, admin: str) -> None:
    _config(admin, download_seconds=60)
    ids = [ad.add_magnet(magnet(random_hash(), f"List.{i}.mkv", 10)) for i in range(3)]
    slow = ad.add_magnet(magnet(random_hash(), "List.Slow [uncached]", 10))
    assert [t.id for t in ad.list_torrents()] == [slow, *reversed(ids)]
    assert [t.id for t in ad.list_torrents(active_only=True)] == [slow]
    assert not any(t.files for t in ad.list_torrents())
    assert ad.active_count() == (1, ACTIVE_LIMIT)


def test_account(ad: AllDebrid) -> None:
    account = ad.get_account()
    assert (account.username, account.premium) == ("sandbox", True)
    assert datetime.fromisoformat(account.expires_at) > datetime.now(UTC)
    assert account.notes == ("1000 fidelity points",)


def test_refusals_map_to_the_error_hierarchy(ad: AllDebrid, sandbox: str) -> None:
    with pytest.raises(InvalidTorrent) as invalid:
        ad.add_magnet("magnet:?xt=urn:btih:nothex")
    assert (invalid.value.native_code, invalid.value.http_status) == ("MAGNET_INVALID_URI", 200)
    with pytest.raises(InvalidTorrent) as refused:        # no infringing code at AllDebrid
        ad.add_magnet(magnet(random_hash(), "Bad.Film [infringing]"))
    assert refused.value.native_code == "MAGNET_PROCESSING_FAILED"
    with pytest.raises(Unsupported) as removed:           # the cache check is gone
        ad.http.request("POST", "v4/magnet/instant", idempotent=True,
                        data={"magnets[]": random_hash()})
    assert (removed.value.native_code, removed.value.http_status) == ("404", 404)
    with pytest.raises(Unsupported) as discontinued:
        ad.http.request("POST", "v4/magnet/status", idempotent=True)
    assert discontinued.value.native_code == "DISCONTINUED"
    with pytest.raises(Unsupported):
        ad.check_cached([random_hash()])
    wrong = AllDebrid(name="ad", api_key="wrong-key", base_url=sandbox, attempts=1)
    with pytest.raises(AuthError) as auth:
        wrong.get_account()
    assert (auth.value.native_code, auth.value.http_status) == ("AUTH_BAD_APIKEY", 401)
    assert auth.value.kind is ProviderErrorKind.AUTH


def test_slots_full_is_magnet_too_many_active(ad: AllDebrid, admin: str) -> None:
    _config(admin, max_active=1, download_seconds=30)
    ad.add_magnet(magnet(random_hash(), "One [uncached]", 100))
    with pytest.raises(SlotsFull) as caught:
        ad.add_magnet(magnet(random_hash(), "Two [uncached]", 100))
    assert caught.value.native_code == "MAGNET_TOO_MANY_ACTIVE"
    assert caught.value.retryable
    assert len(list(ad.list_torrents())) == 1


def test_only_if_cached_deletes_an_uncached_magnet(ad: AllDebrid, admin: str) -> None:
    _config(admin, download_seconds=30)
    with pytest.raises(NotCached):
        ad.add_magnet(magnet(random_hash(), "Maybe [uncached]", 100), only_if_cached=True)
    assert list(ad.list_torrents()) == []
    assert ad.add_magnet(magnet(random_hash(), "Cached.mkv", 100), only_if_cached=True)


def test_the_sandbox_failures_reach_their_causes(ad: AllDebrid, admin: str) -> None:
    info_hash = random_hash()
    dead = ad.add_magnet(magnet(info_hash, "Gone.Soon.mkv", 100))
    link = ad.get_torrent(dead).files[0].link
    requests.post(f"{admin}/torrents/{_admin_id(admin, info_hash)}", json={"dead": True},
                  timeout=5).raise_for_status()
    torrent = ad.get_torrent(dead)
    assert (torrent.status, torrent.raw_status, torrent.failure, torrent.message) == (
        RemoteStatus.FAILED, "11", FailureCause.DEAD, "Deleted on the hoster website")
    with pytest.raises(LinkUnavailable):
        ad.resolve_link(link)
    stuck = ad.add_magnet(magnet(random_hash(), "No.Peers [magnet_error]"))
    assert ad.get_torrent(stuck).status is RemoteStatus.QUEUED
    _advance(admin, 20 * 60)
    assert (ad.get_torrent(stuck).raw_status, ad.get_torrent(stuck).failure) == (
        "7", FailureCause.TIMEOUT)
    huge = ad.add_magnet(magnet(random_hash(), "Huge.Dump.mkv", 2 << 40))
    assert ad.get_torrent(huge).failure is FailureCause.TOO_LARGE


def _admin_id(admin: str, info_hash: str) -> str:
    """The sandbox's own id of the torrent with this hash (the admin API speaks in those)."""
    torrents = requests.get(f"{admin}/torrents", timeout=5).json()
    return str(next(t["id"] for t in torrents if t["hash"] == info_hash))


@pytest.mark.parametrize("code", range(16))
def test_each_status_code(ad: AllDebrid, admin: str, code: int) -> None:
    status = {"id": 7, "filename": "X", "size": 100, "hash": "ab" * 20, "status": f"text {code}",
              "statusCode": code, "downloaded": 50, "seeders": 3, "downloadSpeed": 10,
              "uploadDate": 1_700_000_000, "completionDate": 0}
    _fault(admin, route=STATUS_ROUTE, status=200, count=1,
           body={"status": "success", "data": {"magnets": status}})
    _fault(admin, route="^/v4/magnet/files$", status=200, count=1, body={
        "status": "success", "data": {"magnets": [{"id": 7, "files": [
            {"n": "X.mkv", "s": 100, "l": "https://alldebrid.com/f/ABC"}]}]}})
    torrent = ad.get_torrent("7")
    if code >= 5:
        assert (torrent.status, torrent.failure) == (RemoteStatus.FAILED, FAILURES[code])
    else:
        assert (torrent.status, torrent.failure) == (STATUSES[code], None)
    assert (torrent.raw_status, torrent.message) == (str(code), f"text {code}")
    assert torrent.progress == (1.0 if code == 4 else 0.5)
    assert [f.path for f in torrent.files] == (["X.mkv"] if code == 4 else [])


def _http_status(code: str) -> int:
    return 401 if code.startswith("AUTH_") else 404 if code == "404" else 200


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_each_error_code_over_http(ad: AllDebrid, admin: str, code: str) -> None:
    status = _http_status(code)
    _fault(admin, route=USER_ROUTE, status=status, count=1,
           body={"status": "error", "error": {"code": code, "message": f"says {code}"}})
    with pytest.raises(ERROR_CODES[code]) as caught:
        ad.get_account()
    assert (caught.value.native_code, caught.value.http_status) == (code, status)
    assert caught.value.provider == "ad"


def test_a_magnet_error_inside_a_successful_upload(ad: AllDebrid, admin: str) -> None:
    _fault(admin, route="^/v4/magnet/upload$", status=200, count=1, body={
        "status": "success", "data": {"magnets": [{"magnet": "m", "error": {
            "code": "MAGNET_TOO_LARGE", "message": "too large"}}]}})
    with pytest.raises(InvalidTorrent) as caught:
        ad.add_magnet(magnet(random_hash(), "Too.Large"))
    assert caught.value.native_code == "MAGNET_TOO_LARGE"
    assert caught.value.provider == "ad"


def test_html_503_rate_limits_and_malformed_bodies(sandbox: str, admin: str,
                                                   tmp_path: Path) -> None:
    client = _client(sandbox, attempts=3, store=open_store(tmp_path), per_minute=600)
    _fault(admin, route=USER_ROUTE, status=503, html=True, count=1)
    assert client.get_account().premium          # an idempotent call is retried
    _fault(admin, route=USER_ROUTE, status=429, count=1, body={
        "status": "error", "error": {"code": "TOO_MANY_REQUESTS", "message": "slow down"}})
    assert client.get_account().premium          # after the budget's block
    assert client.budgets()[0].recent_rate_limits == 1
    single = _client(sandbox)
    _fault(admin, route=USER_ROUTE, status=429, count=1)
    with pytest.raises(RateLimited):
        single.get_account()
    _fault(admin, route=USER_ROUTE, kind="malformed", count=1)
    with pytest.raises(DebridError) as caught:
        single.get_account()
    assert caught.value.kind is ProviderErrorKind.PROTOCOL


def test_errors_answered_with_200_go_through_the_retry_loop(sandbox: str, admin: str) -> None:
    client = _client(sandbox, attempts=3)
    _fault(admin, route=USER_ROUTE, status=200, count=1,
           body={"status": "error", "error": {"code": "MAINTENANCE", "message": "later"}})
    assert client.get_account().premium
    # a refusal answered 200 took no effect: even an add is sent again
    _fault(admin, route="^/v4/magnet/upload$", status=200, count=1,
           body={"status": "error", "error": {"code": "NO_SERVER", "message": "vpn"}})
    client.add_magnet(magnet(random_hash(), "Refused.Then.Ok.mkv", 10))
    assert len(list(client.list_torrents())) == 1


def test_an_add_is_not_resent_after_an_ambiguous_failure(sandbox: str, admin: str) -> None:
    client = _client(sandbox, attempts=3, timeout=0.5)
    _fault(admin, route="^/v4/magnet/upload$", kind="timeout", delay=1.5, count=1)
    with pytest.raises(ProviderTimeout) as caught:
        client.add_magnet(magnet(random_hash(), "Ambiguous.mkv", 10))
    assert caught.value.ambiguous
    wait_until(lambda: len(list(client.list_torrents())) == 1, timeout=5, interval=0.1)
    _fault(admin, route="^/v4/magnet/upload$", status=503, html=True, count=1)
    with pytest.raises(ServiceUnavailable) as html:
        client.add_magnet(magnet(random_hash(), "Maybe.Added.mkv", 10))
    assert html.value.ambiguous
    assert len(_requests(admin, "/v4/magnet/upload")) == 2     # neither was sent again


def test_delayed_links_are_polled_until_ready(ad: AllDebrid, admin: str) -> None:
    link = ad.get_torrent(ad.add_magnet(magnet(random_hash(), "Delayed.mkv", 500))).files[0].link
    _config(admin, delayed_link_seconds=0.3)
    direct = ad.resolve_link(link)
    assert direct.size == 500
    assert "/cdn/" in direct.url
    assert len(_requests(admin, "/v4/link/delayed")) >= 2       # status 1, then 2
    _config(admin, delayed_link_seconds=3600)
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as waiting:
        _client(ad.http.base_url, delayed_wait=0.3).resolve_link(link)
    assert waiting.value.retryable
    assert time.monotonic() - started < 2


def test_a_delayed_link_that_fails(ad: AllDebrid, admin: str) -> None:
    torrent_id = ad.add_magnet(magnet(random_hash(), "Doomed.mkv", 500))
    link = ad.get_torrent(torrent_id).files[0].link
    _config(admin, delayed_link_seconds=0.5)
    polls: list[float] = []

    def sleep(seconds: float) -> None:       # the torrent is deleted while it is delayed
        if not polls:
            ad.delete_torrent(torrent_id)
        polls.append(seconds)
        time.sleep(seconds)

    client = _client(ad.http.base_url, delayed_poll=0.3, sleep=sleep)
    with pytest.raises(LinkUnavailable):
        client.resolve_link(link)
    assert polls[0] == 0.3


def test_download_keys_resolve_links_before_the_main_key(ad: AllDebrid, admin: str) -> None:
    link = ad.get_torrent(ad.add_magnet(magnet(random_hash(), "Keys.mkv", 100))).files[0].link
    client = _client(ad.http.base_url, download_api_keys=[LINK_KEY])
    assert client.resolve_link(link).size == 100
    _config(admin, exhausted_tokens=[LINK_KEY])     # that account's host limit is reached
    assert client.resolve_link(link).size == 100    # the main key steps in
    assert len(_requests(admin, "/v4/link/unlock")) == 3


def test_the_budget_keeps_under_twelve_a_second(sandbox: str, admin: str,
                                                tmp_path: Path) -> None:
    _config(admin, rate_limit_per_second=12)
    client = _client(sandbox, store=open_store(tmp_path), per_minute=600, api_key=PACED_KEY)
    for _ in range(25):
        client.get_account()            # one 429 would raise: attempts=1
    assert all(e["status"] == 200 for e in _requests(admin, "/v4/user"))


def test_paced_budget_never_exceeds_a_second_or_a_minute(tmp_path: Path) -> None:
    now = [1_000_000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = PacedBudget(open_store(tmp_path), "ad", 600, clock=lambda: now[0], sleep=sleep)
    times = []
    for _ in range(700):
        budget.acquire()
        times.append(now[0])
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) <= 12
    assert max(sum(1 for u in times if t <= u < t + 60.0) for t in times) <= 600


def _settings(**fields: Any) -> ProviderSettings:
    defaults: dict[str, Any] = {
        "api_key": "", "base_url": "", "timeout_seconds": 5.0, "rate_limit_per_minute": 0,
        "download_uncached": True, "keep_on_delete": False, "download_api_keys": (),
        "create_limit": 0, "create_window_seconds": 0.0, "allow_renew": True}
    return ProviderSettings(**{**defaults, **fields})


def test_registry_builds_it_for_both_types(sandbox: str, tmp_path: Path) -> None:
    real = build_provider(_settings(name="ad", type="alldebrid", api_key="k"))
    assert isinstance(real, AllDebrid)
    assert real.http.base_url == "https://api.alldebrid.com"
    fake = build_provider(_settings(name="adx", type="sandbox-alldebrid", base_url=sandbox))
    assert isinstance(fake, AllDebrid)
    assert fake.service == "the AllDebrid sandbox"
    limited = build_provider(_settings(name="adl", type="alldebrid", api_key="k",
                                       create_limit=1, create_window_seconds=60.0),
                             open_store(tmp_path))
    assert limited.add_wait() == 0.0           # a configured create limit counts adds
    assert limited.add_wait() > 0
    assert not KIND.capabilities.file_selection
    assert KIND.per_minute == 600
